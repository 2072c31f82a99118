package iceberg

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"strings"
	"time"

	"github.com/stocklake/stocklake"

	ice "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

var _ stocklake.MaintainedTable = (*Table)(nil)

// PropertyLastMaintenance is the table property where `stocklake maintain`
// records when it last finished a pass over the table (RFC 3339, UTC).
const PropertyLastMaintenance = "stocklake.last-maintenance"

// DefaultManifestsToRewrite is how many data manifests the current
// snapshot must have before RewriteManifests merges them: 16.
const DefaultManifestsToRewrite = 16 // keep equal to compact.DefaultManifestsToRewrite

// DataFiles lists the data files of the table's current snapshot, with the
// commit time of the snapshot that added each.
func (t *Table) DataFiles(ctx context.Context) ([]stocklake.TableDataFile, error) {
	tbl, err := t.refresh(ctx)
	if err != nil {
		return nil, err
	}
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return nil, nil
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, fail("opening the table's file system", err)
	}
	manifests, err := snap.Manifests(fs)
	if err != nil {
		return nil, fail(fmt.Sprintf("reading the manifests of %s.%s", t.database, t.name), err)
	}
	meta := tbl.Metadata()
	sc := tbl.Schema()
	var out []stocklake.TableDataFile
	for _, m := range manifests {
		if m.ManifestContent() != ice.ManifestContentData {
			continue
		}
		for e, err := range m.Entries(fs, true) {
			if err != nil {
				return nil, fail(fmt.Sprintf("reading manifest %s of %s.%s", m.FilePath(), t.database, t.name), err)
			}
			df := e.DataFile()
			spec := meta.PartitionSpecByID(int(df.SpecID()))
			if spec == nil {
				return nil, fmt.Errorf("iceberg: %s.%s: file %s has partition spec %d, which the table does not have: %w", t.database, t.name, df.FilePath(), df.SpecID(), stocklake.ErrInvalid)
			}
			f := stocklake.TableDataFile{URL: df.FilePath(), Size: df.FileSizeBytes(), Rows: df.Count(),
				Partition: fmt.Sprintf("spec%d/", df.SpecID()) + partitionPath(*spec, sc, df.Partition())}
			if cur := tbl.Spec(); spec.ID() == cur.ID() {
				f.Partition = partitionPath(*spec, sc, df.Partition())
			}
			if s := meta.SnapshotByID(e.SnapshotID()); s != nil {
				f.Added = time.UnixMilli(s.TimestampMs).UTC()
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// partitionPath is the folder of a partition's values (by partition field
// ID), escaped as PartitionPath escapes them.
func partitionPath(spec ice.PartitionSpec, sc *ice.Schema, vals map[int]any) string {
	if spec.IsUnpartitioned() {
		return ""
	}
	rec := make(partitionRecord, 0, spec.NumFields())
	for _, f := range spec.Fields() {
		rec = append(rec, vals[f.FieldID])
	}
	return escapePath(spec.PartitionToPath(rec, sc))
}

// PartitionFileKey is the key, relative to the warehouse (the lake root),
// of a new data file named name holding rows of partition (a
// TableDataFile.Partition of the current spec): Location()/data/partition/name.
func (t *Table) PartitionFileKey(partition, name string) (string, bool) {
	return strings.CutPrefix(t.PartitionFileURL(partition, name), t.cat.warehouse+"/")
}

// errNoChange ends a metadata change that has nothing to do.
var errNoChange = errors.New("no change")

// changeMetadata commits a change without offsets (snapshot expiry,
// properties, a manifest rewrite) with the branch head pinned, staging it
// again on the refreshed table when another writer got in first, up to
// DefaultMaxAttempts times. stage returning errNoChange commits nothing.
func (t *Table) changeMetadata(ctx context.Context, what string, stage func(tbl *table.Table, txn *table.Transaction) error) (before, after *table.Table, err error) {
	var lastErr error
	for attempt := 1; attempt <= DefaultMaxAttempts; attempt++ {
		tbl, err := t.refresh(ctx)
		if err != nil {
			return nil, nil, err
		}
		meta := tbl.Metadata()
		txn := t.adopt(tbl).NewTransaction() // (again: a test may have set wrapCatalog since)
		if err := txn.AssertRefSnapshotID(table.MainBranch); err != nil {
			return nil, nil, fail("preparing "+what, err)
		}
		if err := stage(tbl, txn); err != nil {
			if errors.Is(err, errNoChange) {
				return tbl, tbl, nil
			}
			return nil, nil, fail(fmt.Sprintf("%s of %s.%s", what, t.database, t.name), err)
		}
		newTbl, err := t.commitTxn(ctx, txn)
		if err != nil && newTbl != nil && onlyMissingFiles(err) {
			// The change landed; its cleanup found files already gone:
			// iceberg-go's snapshot expiry deletes the files an expired
			// snapshot's manifests name, DELETED entries included, so a
			// rewrite's snapshot expiring after the snapshots that added
			// the files it replaced names files deleted with those.
			err = nil
		}
		if err == nil {
			t.mu.Lock()
			t.tbl = t.adopt(newTbl)
			t.mu.Unlock()
			return tbl, newTbl, nil
		}
		lastErr = err
		fresh, rerr := t.refresh(ctx)
		if rerr != nil || (headID(fresh.Metadata()) == headID(meta) && !errors.Is(err, table.ErrCommitFailed)) {
			return nil, nil, fail(fmt.Sprintf("%s of %s.%s", what, t.database, t.name), err)
		}
		if err := sleep(ctx, attempt); err != nil {
			return nil, nil, fmt.Errorf("iceberg: %s of %s.%s: %w", what, t.database, t.name, err)
		}
	}
	return nil, nil, fmt.Errorf("iceberg: %s of %s.%s gave up, other writers kept changing the table (last: %v): retry later: %w",
		what, t.database, t.name, lastErr, stocklake.ErrUnavailable)
}

// onlyMissingFiles reports whether err, perhaps several joined, is only
// about files that do not exist.
func onlyMissingFiles(err error) bool {
	if errs, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range errs.Unwrap() {
			if !onlyMissingFiles(e) {
				return false
			}
		}
		return len(errs.Unwrap()) > 0
	}
	return errors.Is(err, iofs.ErrNotExist)
}

// RewriteManifests merges the data manifests of the current snapshot into
// fewer, target-sized ones (iceberg-go's Transaction.RewriteManifests, a
// replace snapshot that reads and writes metadata only) when there are at
// least minManifests of them (default DefaultManifestsToRewrite). It
// returns how many manifests were replaced, 0 when there was nothing to do.
func (t *Table) RewriteManifests(ctx context.Context, minManifests int) (int, error) {
	if minManifests <= 0 {
		minManifests = DefaultManifestsToRewrite
	}
	replaced := 0
	_, _, err := t.changeMetadata(ctx, "rewriting manifests", func(tbl *table.Table, txn *table.Transaction) error {
		snap := tbl.CurrentSnapshot()
		if snap == nil {
			return errNoChange
		}
		fs, err := tbl.FS(ctx)
		if err != nil {
			return err
		}
		ms, err := snap.Manifests(fs)
		if err != nil {
			return err
		}
		data := 0
		for _, m := range ms {
			if m.ManifestContent() == ice.ManifestContentData {
				data++
			}
		}
		if data < minManifests {
			return errNoChange
		}
		res, err := txn.RewriteManifests(ctx)
		if err != nil {
			return err
		}
		if res.IsNoOp() {
			return errNoChange
		}
		replaced = len(res.RewrittenManifests)
		return nil
	})
	return replaced, err
}

// RemoveOrphans deletes the files under the table's data/ and metadata/
// folders that no snapshot of the table references (nor its current or
// previous metadata files) and that are older than olderThan: files of
// sink batches that were never committed (a crashed or fenced sink, a
// killed compactor). Give olderThan well above the longest write-to-commit
// time of any writer: a file younger than that may be about to be
// committed. It returns the files deleted.
func (t *Table) RemoveOrphans(ctx context.Context, olderThan time.Duration) ([]stocklake.OrphanFile, error) {
	if olderThan <= 0 {
		return nil, fmt.Errorf("iceberg: orphan age %s: give a positive age, well above any writer's write-to-commit time: %w", olderThan, stocklake.ErrConfig)
	}
	tbl, err := t.refresh(ctx)
	if err != nil {
		return nil, err
	}
	var out []stocklake.OrphanFile
	for _, dir := range []string{"data", "metadata"} {
		loc := strings.TrimRight(tbl.Location(), "/") + "/" + dir
		res, err := tbl.DeleteOrphanFiles(ctx, table.WithLocation(loc), table.WithFilesOlderThan(olderThan))
		if err != nil {
			if errors.Is(err, iofs.ErrNotExist) || errors.Is(err, os.ErrNotExist) {
				continue // nothing written there yet
			}
			return out, fail(fmt.Sprintf("removing orphan files under %s", loc), err)
		}
		for _, f := range res.OrphanFiles {
			out = append(out, stocklake.OrphanFile{URL: f.Path, Size: f.SizeBytes})
		}
	}
	return out, nil
}

// SetLastMaintenance records at in the table property
// PropertyLastMaintenance.
func (t *Table) SetLastMaintenance(ctx context.Context, at time.Time) error {
	_, _, err := t.changeMetadata(ctx, "recording the last maintenance", func(_ *table.Table, txn *table.Transaction) error {
		return txn.SetProperties(ice.Properties{PropertyLastMaintenance: at.UTC().Format(time.RFC3339)})
	})
	return err
}

// LastMaintenance is when `stocklake maintain` last finished a pass over
// the table (PropertyLastMaintenance); zero when never.
func (t *Table) LastMaintenance(ctx context.Context) (time.Time, error) {
	tbl, err := t.refresh(ctx)
	if err != nil {
		return time.Time{}, err
	}
	v := tbl.Properties()[PropertyLastMaintenance]
	if v == "" {
		return time.Time{}, nil
	}
	at, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("iceberg: %s.%s has a malformed %s %q: %w", t.database, t.name, PropertyLastMaintenance, v, stocklake.ErrInvalid)
	}
	return at, nil
}
