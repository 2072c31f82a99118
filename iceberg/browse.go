package iceberg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stocklake/stocklake"

	ice "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// The catalog as the Iceberg REST catalog API sees it (package icebergrest
// serves it): namespaces, their tables and the tables' metadata, read
// through iceberg-go's SQL catalog, so tables written by pyiceberg or Java
// into the same file are served too.

var _ stocklake.IcebergCatalog = (*Catalog)(nil)

// Namespaces returns the namespaces directly under parent, sorted: the
// top-level ones for an empty parent. A namespace exists when it has
// properties or tables; a table in a.b.c makes a and a.b appear too. A
// missing parent wraps stocklake.ErrNotFound.
func (c *Catalog) Namespaces(ctx context.Context, parent []string) ([][]string, error) {
	all, err := c.cat.ListNamespaces(ctx, table.Identifier(parent))
	if err != nil {
		return nil, fail("listing namespaces under "+strings.Join(parent, "."), err)
	}
	var out [][]string
	for _, ns := range all {
		if len(ns) <= len(parent) || !slices.Equal(ns[:len(parent)], parent) {
			continue
		}
		child := slices.Clone(ns[:len(parent)+1])
		if !slices.ContainsFunc(out, func(o []string) bool { return slices.Equal(o, child) }) {
			out = append(out, child)
		}
	}
	slices.SortFunc(out, slices.Compare)
	return out, nil
}

// NamespaceProperties returns the properties of a namespace (empty when it
// has none); a missing namespace wraps stocklake.ErrNotFound.
func (c *Catalog) NamespaceProperties(ctx context.Context, namespace []string) (map[string]string, error) {
	if len(namespace) == 0 {
		return nil, fmt.Errorf("iceberg: empty namespace: %w", stocklake.ErrNotFound)
	}
	props, err := c.cat.LoadNamespaceProperties(ctx, table.Identifier(namespace))
	if err != nil {
		return nil, fail("loading namespace "+strings.Join(namespace, "."), err)
	}
	if props == nil {
		props = map[string]string{}
	}
	return props, nil
}

// Tables returns the names of the tables in a namespace, sorted; a missing
// namespace wraps stocklake.ErrNotFound.
func (c *Catalog) Tables(ctx context.Context, namespace []string) ([]string, error) {
	if len(namespace) == 0 {
		return nil, fmt.Errorf("iceberg: empty namespace: %w", stocklake.ErrNotFound)
	}
	var out []string
	for id, err := range c.cat.ListTables(ctx, table.Identifier(namespace)) {
		if err != nil {
			return nil, fail("listing the tables of "+strings.Join(namespace, "."), err)
		}
		out = append(out, id[len(id)-1])
	}
	slices.Sort(out)
	return out, nil
}

// TableMetadata returns a table's metadata location and its metadata as
// JSON; a missing table wraps stocklake.ErrNotFound.
func (c *Catalog) TableMetadata(ctx context.Context, namespace []string, name string) (stocklake.IcebergTableMetadata, error) {
	if len(namespace) == 0 || name == "" {
		return stocklake.IcebergTableMetadata{}, fmt.Errorf("iceberg: empty namespace or table name: %w", stocklake.ErrNotFound)
	}
	ident := append(slices.Clone(namespace), name)
	tbl, err := c.cat.LoadTable(ctx, ident)
	if err != nil {
		return stocklake.IcebergTableMetadata{}, fail("loading table "+strings.Join(ident, "."), err)
	}
	return tableMetadata(tbl.Metadata(), tbl.MetadataLocation())
}

func tableMetadata(meta table.Metadata, loc string) (stocklake.IcebergTableMetadata, error) {
	b, err := json.Marshal(meta)
	if err != nil {
		return stocklake.IcebergTableMetadata{}, fmt.Errorf("iceberg: encoding the metadata of %s: %w", loc, err)
	}
	return stocklake.IcebergTableMetadata{Location: loc, JSON: b}, nil
}

// CommitTableUpdates applies requirements and updates, JSON arrays as in an
// Iceberg REST CommitTableRequest, to an existing table through iceberg-go's
// SQL catalog: the requirements are checked against the current metadata,
// the new metadata file is written, and the catalog row is swapped only if
// it still points at the metadata the requirements were checked against.
// A failed requirement or a lost race wraps stocklake.ErrPrecondition (the
// client reloads the table and retries); a malformed or unknown requirement
// or update, or one the metadata refuses, wraps stocklake.ErrInvalid; a
// missing table ErrNotFound; any other failure ErrUnavailable (the commit
// may or may not have landed).
//
// Commits made this way carry no Kafka offsets: a client appending to a
// table the sink writes does not disturb the sink's fencing (Offsets skips
// snapshots without offsets). Updates that would reach outside the table's
// folder, forge offsets or change the sink's table shape are refused with
// ErrInvalid (see checkForeignUpdates).
func (c *Catalog) CommitTableUpdates(ctx context.Context, namespace []string, name string, requirements, updates []byte) (stocklake.IcebergTableMetadata, error) {
	var reqs table.Requirements
	var ups table.Updates
	if len(requirements) > 0 {
		if err := json.Unmarshal(requirements, &reqs); err != nil {
			return stocklake.IcebergTableMetadata{}, fmt.Errorf("iceberg: commit requirements: %v: %w", err, stocklake.ErrInvalid)
		}
	}
	if len(updates) > 0 {
		if err := json.Unmarshal(updates, &ups); err != nil {
			return stocklake.IcebergTableMetadata{}, fmt.Errorf("iceberg: commit updates: %v: %w", err, stocklake.ErrInvalid)
		}
	}
	for _, r := range reqs {
		if r.GetType() == "assert-create" {
			return stocklake.IcebergTableMetadata{}, fmt.Errorf("iceberg: assert-create: creating tables through a commit is not supported: %w", stocklake.ErrInvalid)
		}
	}
	if len(namespace) == 0 || name == "" {
		return stocklake.IcebergTableMetadata{}, fmt.Errorf("iceberg: empty namespace or table name: %w", stocklake.ErrNotFound)
	}
	ident := append(slices.Clone(namespace), name)
	op := "committing to table " + strings.Join(ident, ".")
	// The table must exist: iceberg-go would create a missing one.
	cur, err := c.cat.LoadTable(ctx, ident)
	if err != nil {
		return stocklake.IcebergTableMetadata{}, fail(op, err)
	}
	// Checked as iceberg-go read them: it also takes legacy field names
	// ("updated" for "updates") and any case of "action".
	canonical, err := json.Marshal(ups)
	if err != nil {
		return stocklake.IcebergTableMetadata{}, fmt.Errorf("iceberg: commit updates: %v: %w", err, stocklake.ErrInvalid)
	}
	if err := checkForeignUpdates(ctx, cur, canonical); err != nil {
		return stocklake.IcebergTableMetadata{}, fmt.Errorf("iceberg: %s refused: %w", op, err)
	}
	meta, loc, err := c.cat.CommitTable(ctx, ident, reqs, ups)
	switch {
	case err == nil:
		return tableMetadata(meta, loc)
	case errors.Is(err, table.ErrCommitFailed) || strings.HasPrefix(strings.ToLower(err.Error()), "requirement failed"):
		return stocklake.IcebergTableMetadata{}, fmt.Errorf("iceberg: %s: %v: %w", op, err, stocklake.ErrPrecondition)
	case errors.Is(err, ice.ErrInvalidArgument):
		return stocklake.IcebergTableMetadata{}, fmt.Errorf("iceberg: %s: %v: %w", op, err, stocklake.ErrInvalid)
	}
	// Anything else (the metadata file could not be written, the catalog
	// file failed) may or may not have landed: ErrUnavailable.
	return stocklake.IcebergTableMetadata{}, fail(op, err)
}
