package iceberg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"

	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// baseCommitter is the table.CatalogIO of a table loaded from the SQLite
// catalog: its CommitTable applies a transaction to the metadata the
// transaction was built on (base, at loc) instead of loading and parsing
// the current metadata file again, as iceberg-go's SQL catalog does on
// every commit. At one commit per second that reload was about 40% of a
// commit's CPU, growing with the metadata file. The commit is the same
// compare-and-swap of iceberg_tables.metadata_location: it lands only if
// the catalog still points at loc, so a base another writer has moved past
// makes it fail with table.ErrCommitFailed (and commitLoop reads the table
// again), exactly as a lost race does in the SQL catalog.
//
// A committer belongs to one loaded table state: Table.adopt makes a new
// one for each. Tables whose metadata files are compressed
// (write.metadata.compression-codec) commit through the SQL catalog.
type baseCommitter struct {
	c        *Catalog
	database string
	name     string
	base     table.Metadata
	loc      string
	fs       func(context.Context) (iceio.IO, error)
}

// LoadTable loads the table's current state through the SQL catalog.
func (b *baseCommitter) LoadTable(ctx context.Context, ident table.Identifier) (*table.Table, error) {
	return b.c.cat.LoadTable(ctx, ident)
}

// CommitTable stages updates on the base metadata, writes the new metadata
// file and swaps the catalog's pointer to it if it still points at the
// base's file.
func (b *baseCommitter) CommitTable(ctx context.Context, ident table.Identifier, reqs []table.Requirement, updates []table.Update) (table.Metadata, string, error) {
	version, ok := metadataVersion(b.loc)
	if !ok || b.base.Properties().Get(table.MetadataCompressionKey, table.MetadataCompressionDefault) != table.MetadataCompressionCodecNone {
		return b.c.cat.CommitTable(ctx, ident, reqs, updates)
	}
	for _, r := range reqs {
		if err := r.Validate(b.base); err != nil {
			return nil, "", err
		}
	}
	updated, err := table.UpdateTableMetadata(b.base, updates, b.loc)
	if err != nil {
		return nil, "", err
	}
	provider, err := table.LoadLocationProvider(updated.Location(), updated.Properties())
	if err != nil {
		return nil, "", err
	}
	newLoc, err := provider.NewTableMetadataFileLocation(version + 1)
	if err != nil {
		return nil, "", err
	}
	fsys, err := b.fs(ctx)
	if err != nil {
		return nil, "", err
	}
	wfs, ok := fsys.(iceio.WriteFileIO)
	if !ok {
		return nil, "", errors.New("the table's file system cannot write metadata files")
	}
	if err := writeMetadata(wfs, newLoc, updated); err != nil {
		return nil, "", err
	}
	res, err := b.c.db.ExecContext(ctx,
		"UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND metadata_location = ?",
		newLoc, b.loc, b.c.name, b.database, b.name, b.loc)
	if err != nil {
		// The outcome is unknown: leave the file, the catalog may point at it.
		return nil, "", fmt.Errorf("updating the table's metadata location: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, "", fmt.Errorf("updating the table's metadata location: %w", err)
	}
	if n == 0 {
		_ = wfs.Remove(newLoc) // never referenced
		return nil, "", fmt.Errorf("%w: table %s.%s moved past %s underneath us", table.ErrCommitFailed, b.database, b.name, b.loc)
	}
	return updated, newLoc, nil
}

// writeMetadata writes meta as an uncompressed metadata file at loc, the
// JSON iceberg-go's catalogs write. It calls the metadata's MarshalJSON
// directly: through json.Marshal or an Encoder, encoding/json would
// validate and compact its output once more, a fifth of the cost of a
// commit.
func writeMetadata(wfs iceio.WriteFileIO, loc string, meta table.Metadata) (err error) {
	var b []byte
	if m, ok := meta.(json.Marshaler); ok {
		b, err = m.MarshalJSON()
	} else {
		b, err = json.Marshal(meta)
	}
	if err != nil {
		return err
	}
	out, err := wfs.Create(loc)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	_, err = out.Write(append(b, '\n'))
	return err
}

// metadataVersion parses the version of a metadata file named
// NNNNN-<uuid>.metadata.json or vN.metadata.json.
func metadataVersion(loc string) (int, bool) {
	name, ok := strings.CutSuffix(path.Base(loc), ".metadata.json")
	if !ok {
		return 0, false
	}
	digits, _, ok := strings.Cut(name, "-")
	if !ok {
		digits, ok = strings.CutPrefix(name, "v")
		if !ok {
			return 0, false
		}
	}
	v, err := strconv.Atoi(digits)
	if err != nil || v < 0 {
		return 0, false
	}
	return v, true
}

// adopt binds a loaded table state to a baseCommitter when the catalog is
// the SQLite one (and to the test hook wrapCatalog, if set).
func (t *Table) adopt(tbl *table.Table) *table.Table {
	cio := t.committer(tbl)
	if t.wrapCatalog != nil {
		cio = t.wrapCatalog(cio)
	} else if cio == t.cat.cat {
		return tbl
	}
	return table.New(t.ident, tbl.Metadata(), tbl.MetadataLocation(), t.fs, cio)
}

// committer is the catalog a transaction on tbl commits through: a
// baseCommitter on the SQLite catalog, else the catalog itself.
func (t *Table) committer(tbl *table.Table) table.CatalogIO {
	if t.cat.db == nil {
		return t.cat.cat
	}
	return &baseCommitter{c: t.cat, database: t.database, name: t.name, base: tbl.Metadata(), loc: tbl.MetadataLocation(), fs: t.fs}
}
