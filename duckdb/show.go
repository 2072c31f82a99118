package duckdb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
	"github.com/stocklake/stocklake/sqltext"
)

// show answers metadata statements from the catalog, with Trino's column
// names:
//
//	SHOW SCHEMAS | SHOW DATABASES [LIKE 'pattern']
//	SHOW TABLES [FROM|IN database] [LIKE 'pattern']
//	SHOW COLUMNS FROM|IN table | DESCRIBE table
//	SHOW PARTITIONS table                        (Athena)
func (e *Engine) show(ctx context.Context, toks []sqltext.Token, start time.Time) (stocklake.Rows, error) {
	words := toks[1:]
	if toks[0].Is("DESCRIBE") || toks[0].Is("DESC") {
		return e.describe(ctx, words, start)
	}
	if len(words) == 0 {
		return nil, showUsage()
	}
	switch {
	case words[0].Is("SCHEMAS") || words[0].Is("DATABASES"):
		like, err := likePattern(words[1:])
		if err != nil {
			return nil, err
		}
		dbs, err := e.cfg.Catalog.ListDatabases(ctx)
		if err != nil {
			return nil, err
		}
		r := newMemRows(start, stocklake.ResultColumn{Name: "Schema", Type: "varchar"})
		for _, d := range dbs {
			if like == "" || matchLike(like, d.Name) {
				r.add(d.Name)
			}
		}
		return r, nil
	case words[0].Is("TABLES"):
		db := e.cfg.Database
		rest := words[1:]
		if len(rest) >= 2 && (rest[0].Is("FROM") || rest[0].Is("IN")) {
			db = strings.ToLower(rest[1].Value())
			rest = rest[2:]
			if len(rest) >= 2 && rest[0].IsSymbol(".") { // catalog.schema
				db = strings.ToLower(rest[1].Value())
				rest = rest[2:]
			}
		}
		like, err := likePattern(rest)
		if err != nil {
			return nil, err
		}
		var names []string
		if e.cfg.Iceberg != nil {
			if names, err = e.cfg.Iceberg.ListTables(ctx, db); err != nil {
				return nil, err
			}
		}
		if _, err := e.cfg.Catalog.GetDatabase(ctx, db); err != nil && (len(names) == 0 || !errors.Is(err, stocklake.ErrNotFound)) {
			return nil, fmt.Errorf("database %s: %w", db, err)
		} else if err == nil {
			tables, err := e.cfg.Catalog.ListTables(ctx, db)
			if err != nil {
				return nil, err
			}
			for _, t := range tables {
				names = append(names, t.Name)
			}
		}
		slices.Sort(names)
		r := newMemRows(start, stocklake.ResultColumn{Name: "Table", Type: "varchar"})
		for _, n := range slices.Compact(names) {
			if like == "" || matchLike(like, n) {
				r.add(n)
			}
		}
		return r, nil
	case words[0].Is("COLUMNS"):
		if len(words) < 2 || !(words[1].Is("FROM") || words[1].Is("IN")) {
			return nil, showUsage()
		}
		return e.describe(ctx, words[2:], start)
	case words[0].Is("PARTITIONS"):
		t, err := e.tableNamed(ctx, words[1:])
		if err != nil {
			return nil, err
		}
		parts, err := e.cfg.Catalog.ListPartitions(ctx, t.Database, t.Name)
		if err != nil {
			return nil, err
		}
		r := newMemRows(start, stocklake.ResultColumn{Name: "partition", Type: "varchar"})
		keys := make([]string, len(t.PartitionKeys))
		for i, k := range t.PartitionKeys {
			keys[i] = k.Name
		}
		for _, p := range parts {
			// Hive's partition names: values escaped as in folder names.
			r.add(hive.PartitionPath(keys, p.Values))
		}
		return r, nil
	}
	return nil, showUsage()
}

func showUsage() error {
	return fmt.Errorf("supported: SHOW SCHEMAS, SHOW TABLES [FROM db] [LIKE 'p'], SHOW COLUMNS FROM table, DESCRIBE table, SHOW PARTITIONS table: %w", stocklake.ErrInvalid)
}

// describe lists a table's columns, partition keys last, as Trino does.
func (e *Engine) describe(ctx context.Context, words []sqltext.Token, start time.Time) (stocklake.Rows, error) {
	t, err := e.tableNamed(ctx, words)
	if err != nil {
		return nil, err
	}
	r := newMemRows(start,
		stocklake.ResultColumn{Name: "Column", Type: "varchar"},
		stocklake.ResultColumn{Name: "Type", Type: "varchar"},
		stocklake.ResultColumn{Name: "Extra", Type: "varchar"},
		stocklake.ResultColumn{Name: "Comment", Type: "varchar"})
	add := func(c stocklake.Column, extra string) {
		typ := c.Type
		if ht, err := hive.ParseType(c.Type); err == nil {
			if dt, err := duckType(ht); err == nil {
				typ = trinoType(dt)
			}
		}
		r.add(strings.ToLower(c.Name), typ, extra, c.Comment)
	}
	keys := map[string]bool{}
	for _, k := range t.PartitionKeys {
		keys[strings.ToLower(k.Name)] = true
	}
	for _, c := range t.Columns {
		if !keys[strings.ToLower(c.Name)] {
			add(c, "")
		}
	}
	for _, k := range t.PartitionKeys {
		add(k, "partition key")
	}
	return r, nil
}

// tableNamed resolves "[catalog.][db.]table" tokens to a catalog table.
func (e *Engine) tableNamed(ctx context.Context, words []sqltext.Token) (stocklake.Table, error) {
	var parts []string
	for i, w := range words {
		if i%2 == 1 {
			if !w.IsSymbol(".") {
				return stocklake.Table{}, fmt.Errorf("unexpected %q after the table name: %w", w.Text, stocklake.ErrInvalid)
			}
			continue
		}
		if !w.Name() {
			return stocklake.Table{}, fmt.Errorf("expected a table name, got %q: %w", w.Text, stocklake.ErrInvalid)
		}
		parts = append(parts, w.Value())
	}
	if len(parts) == 0 || len(parts) > 3 {
		return stocklake.Table{}, fmt.Errorf("name a table: database.table: %w", stocklake.ErrInvalid)
	}
	ref := &tableRef{name: parts[len(parts)-1]}
	if len(parts) >= 2 {
		ref.schema = parts[len(parts)-2]
	}
	if len(parts) == 3 {
		ref.catalog = parts[0]
	}
	t, ok, err := e.resolve(ctx, ref)
	if err == nil && !ok {
		err = fmt.Errorf("%s is not a catalog table: %w", strings.Join(parts, "."), stocklake.ErrNotFound)
	}
	return t, err
}

// likePattern reads an optional "LIKE 'pattern'" clause.
func likePattern(words []sqltext.Token) (string, error) {
	switch {
	case len(words) == 0:
		return "", nil
	case len(words) == 2 && words[0].Is("LIKE") && words[1].Kind == sqltext.String:
		return words[1].Value(), nil
	}
	return "", fmt.Errorf("expected LIKE 'pattern': %w", stocklake.ErrInvalid)
}

// matchLike matches SQL LIKE patterns (% and _), case-insensitively.
func matchLike(pattern, s string) bool {
	p, v := []rune(strings.ToLower(pattern)), []rune(strings.ToLower(s))
	var match func(i, j int) bool
	match = func(i, j int) bool {
		for i < len(p) {
			switch p[i] {
			case '%':
				for k := j; k <= len(v); k++ {
					if match(i+1, k) {
						return true
					}
				}
				return false
			case '_':
				if j >= len(v) {
					return false
				}
			default:
				if j >= len(v) || v[j] != p[i] {
					return false
				}
			}
			i++
			j++
		}
		return j == len(v)
	}
	return match(0, 0)
}

// memRows is a result held in memory.
type memRows struct {
	cols  []stocklake.ResultColumn
	data  [][]any
	i     int
	start time.Time
	stats stocklake.QueryStats
}

func newMemRows(start time.Time, cols ...stocklake.ResultColumn) *memRows {
	return &memRows{cols: cols, i: -1, start: start}
}

func (r *memRows) add(vals ...any) { r.data = append(r.data, vals) }

func (r *memRows) Columns() []stocklake.ResultColumn { return r.cols }

func (r *memRows) Next() bool {
	if r.i+1 >= len(r.data) {
		if r.stats.Duration == 0 {
			r.stats.Duration = time.Since(r.start)
		}
		r.i = len(r.data)
		return false
	}
	r.i++
	return true
}

func (r *memRows) Values() []any { return r.data[r.i] }

func (r *memRows) Err() error { return nil }

func (r *memRows) Stats() stocklake.QueryStats { return r.stats }

func (r *memRows) Close() error { return nil }
