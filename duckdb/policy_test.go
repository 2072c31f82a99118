package duckdb_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/duckdb"
	"github.com/stocklake/stocklake/internal/querysuite"
)

// TestCatalogOnly: under stocklake.WithCatalogOnly (the dashboard's
// console) table functions and configuration functions cannot get around
// the catalog and the scan limit; a plain context (the local CLI) keeps
// them.
func TestCatalogOnly(t *testing.T) {
	f := sharedFixture(t)
	e := newEngine(t, f)
	root := strings.TrimPrefix(f.Store.URL(), "file://")
	ctx := stocklake.WithCatalogOnly(context.Background())
	refused := []string{
		"SELECT * FROM read_parquet('" + root + "/**/*.parquet')",
		"SELECT count(*) FROM glob('" + root + "/**')",
		"SELECT * FROM read_blob('" + root + "/**')",
		"SELECT * FROM read_text('" + root + "/_stocklake/**')",
		"SELECT * FROM read_csv('" + filepath.Join(root, "query-results") + "/*.csv')",
		"SELECT * FROM parquet_metadata('" + root + "/**/*.parquet')",
		"SELECT current_setting('allowed_directories')",
		"SELECT upper(current_setting('temp_directory'))",
		"SELECT * FROM duckdb_settings()",
		"SELECT * FROM main.duckdb_settings",
		"SELECT * FROM pg_catalog.pg_settings",
		"SELECT * FROM information_schema.tables",
		"SELECT * FROM (SELECT 1) t, LATERAL (SELECT * FROM glob('/tmp/*'))",
		"WITH x AS (SELECT * FROM read_json_auto('" + root + "/x.json')) SELECT * FROM x",
		"SELECT * FROM query('SELECT 42')",
		"SELECT * FROM '" + root + "/any.parquet'",
		"SELECT getvariable('x')",
		"FROM glob('/tmp/*')",
		"SELECT 1 UNION ALL SELECT count(*) FROM glob('/tmp/*')",
		"SELECT (SELECT count(*) FROM read_text('/etc/hostname'))",
		"SELECT 1 WHERE EXISTS (FROM read_text('/etc/hostname'))",
		"EXPLAIN SELECT * FROM glob('/tmp/*')",
		"EXPLAIN ANALYZE SELECT count(*) FROM read_text('/etc/hostname')",
		"DESCRIBE SELECT * FROM glob('/tmp/*')",
		"SUMMARIZE SELECT * FROM glob('/tmp/*')",
		"SHOW SELECT * FROM glob('/tmp/*')",
		"SELECT * FROM (VALUES (1)) t(x) PIVOT (count(*) FOR x IN (SELECT 1 FROM glob('/tmp/*')))",
		"SELECT * FROM ticks AS t(a) JOIN LATERAL read_text('/etc/hostname') ON true",
		"SELECT * FROM " + querysuite.Database + ".ticks WHERE symbol IN (SELECT file FROM glob('/etc/*'))",
	}
	for _, sql := range refused {
		rows, err := e.Query(ctx, sql)
		if err == nil {
			rows.Close()
			t.Errorf("console query ran: %s", sql)
			continue
		}
		if !errors.Is(err, stocklake.ErrInvalid) && !errors.Is(err, stocklake.ErrNotFound) {
			t.Errorf("%s: %v, want ErrInvalid or ErrNotFound", sql, err)
		}
		if strings.Contains(err.Error(), root) && !strings.Contains(sql, root) {
			t.Errorf("%s: the error shows the lake's path: %v", sql, err)
		}
	}
	// Catalog tables, pure functions and the allowed table functions work.
	for _, sql := range []string{
		"SELECT count(*), max(upper(symbol)), round(avg(price), 2) FROM " + querysuite.Database + ".ticks",
		"SELECT sum(x) FROM range(10) t(x)",
		"SELECT * FROM generate_series(1, 3)",
		"SELECT unnest([1, 2, 3])",
		"WITH t AS (SELECT 1 AS a) SELECT a FROM t",
		"SELECT date_trunc('day', TIMESTAMP '2026-11-26 10:00:00'), regexp_replace('abc', 'b', 'x'), upper('abc')",
	} {
		rows, err := e.Query(ctx, sql)
		if err != nil {
			t.Errorf("%s: %v", sql, err)
			continue
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			t.Errorf("%s: %v", sql, err)
		}
		rows.Close()
	}
	// The local CLI keeps DuckDB's own functions.
	r, _ := query(t, e, "SELECT count(*) FROM glob('"+root+"/**')")
	if n, _ := r.Rows[0][0].(int64); n == 0 {
		t.Errorf("glob without WithCatalogOnly found no files: %v", r.Rows)
	}
}

// TestResourceDefaults: without settings the engine still bounds its
// threads, memory and what a query may spill to disk; a sort bigger than
// memory plus the spill limit fails instead of filling the disk.
func TestResourceDefaults(t *testing.T) {
	f := sharedFixture(t)
	e, err := duckdb.New(context.Background(), duckdb.Config{Catalog: f.Catalog, Store: f.Store, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	r, _ := query(t, e, "SELECT current_setting('threads'), current_setting('memory_limit'), current_setting('max_temp_directory_size')")
	threads, _ := r.Rows[0][0].(int64)
	if threads < 1 || threads > duckdb.DefaultMaxThreads {
		t.Errorf("threads = %v, want 1 to %d", r.Rows[0][0], duckdb.DefaultMaxThreads)
	}
	// DuckDB prints sizes in its own units (2GB is "1.8 GiB").
	if mem := fmt.Sprint(r.Rows[0][1]); mem != "1.8 GiB" {
		t.Errorf("memory_limit = %s, want 2GB (1.8 GiB)", mem)
	}
	if tmp := fmt.Sprint(r.Rows[0][2]); tmp != "9.3 GiB" {
		t.Errorf("max_temp_directory_size = %s, want 10GB (9.3 GiB)", tmp)
	}

	small, err := duckdb.New(context.Background(), duckdb.Config{Catalog: f.Catalog, Store: f.Store, CacheDir: t.TempDir(),
		Threads: 1, MemoryLimit: "64MB", MaxTempDirectorySize: "32MB"})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	rows, err := small.Query(context.Background(), "SELECT i FROM range(50000000) t(i) ORDER BY hash(i) LIMIT 1 OFFSET 49999990")
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "max_temp_directory_size") {
		t.Errorf("a sort over the spill limit: %v, want an error naming max_temp_directory_size", err)
	}
}
