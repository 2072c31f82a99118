package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/sink"
	"github.com/stocklake/stocklake/sqlite"
)

// writeTicks writes n ticks in one Parquet object of a dt/hour partition
// of table ticks in the lake at dir.
func writeTicks(t *testing.T, dir string, n int) {
	t.Helper()
	writeTicksAt(t, dir, "dt=2026-11-20/hour=09", 0, n)
}

// writeTicksAt writes n ticks, trade IDs and the object's offset from
// first, in one Parquet object of partition path of table ticks.
func writeTicksAt(t *testing.T, dir, path string, first, n int) {
	t.Helper()
	store, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[sink.TickRow](&buf)
	rows := make([]sink.TickRow, n)
	for i := range rows {
		rows[i] = sink.TickRow{Symbol: fmt.Sprintf("S%d", i%3), TS: time.Date(2026, 11, 20, 9, 0, i, 0, time.UTC).UnixMicro(),
			Price: float64(first+i) + 0.5, Size: 1, TradeID: fmt.Sprint(first + i)}
	}
	w.Write(rows)
	w.Close()
	if err := store.Put(context.Background(), sink.ObjectKey("ticks", path, "T0PICID", 0, int64(first), "parquet"), &buf); err != nil {
		t.Fatal(err)
	}
}

// TestQueryLakeFromCatalog: after `stocklake crawl --lake file:///x/lake`,
// `stocklake query` with only --catalog (run from another directory, so
// the default lake is not that lake) reads the rows and keeps its result
// under the crawled lake's query-results/; once the database also holds
// a table of another lake, a query without --lake is refused with both
// lakes and --lake named, and --lake picks one.
func TestQueryLakeFromCatalog(t *testing.T) {
	bin := stocklakeBinary(t)
	dir := t.TempDir()
	lake, other, cwd := filepath.Join(dir, "x", "lake"), filepath.Join(dir, "y", "lake"), filepath.Join(dir, "elsewhere")
	writeTicks(t, lake, 42)
	writeTicks(t, other, 7)
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		t.Fatal(err)
	}
	catURL := "sqlite://" + filepath.Join(dir, "catalog.db")
	sl := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = cwd
		cmd.Env = slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "STOCKLAKE_") })
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil {
			return stdout.String() + stderr.String(), fmt.Errorf("stocklake %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		return stdout.String(), nil
	}
	if _, err := sl("crawl", "--lake", "file://"+lake, "--catalog", catURL); err != nil {
		t.Fatal(err)
	}
	out, err := sl("query", "--catalog", catURL, "--format", "csv", "SELECT count(*) FROM ticks")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out); !strings.HasSuffix(got, `"42"`) {
		t.Fatalf("query printed %q, want a count of 42", got)
	}
	results, _ := filepath.Glob(filepath.Join(lake, "query-results", "*.csv"))
	if len(results) != 1 {
		t.Errorf("results under the crawled lake: %v, want one CSV", results)
	}
	if _, err := os.Stat(filepath.Join(cwd, "stocklake-data")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the default lake was created in the working directory: %v", err)
	}
	if out, err := sl("query", "--catalog", catURL, "--history", "5"); err != nil || !strings.Contains(out, "SUCCEEDED") {
		t.Errorf("--history without --lake: %v\n%s", err, out)
	}

	if _, err := sl("crawl", "--lake", "file://"+other, "--catalog", catURL, "--table-prefix", "y_"); err != nil {
		t.Fatal(err)
	}
	out, err = sl("query", "--catalog", catURL, "SELECT count(*) FROM ticks")
	if err == nil || !strings.Contains(out, "file://"+lake) || !strings.Contains(out, "file://"+other) || !strings.Contains(out, "--lake") {
		t.Fatalf("a database over two lakes without --lake: %v\n%s\nwant a refusal naming both lakes and --lake", err, out)
	}
	out, err = sl("query", "--catalog", catURL, "--lake", "file://"+other, "--format", "csv", "SELECT count(*) FROM y_ticks")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out); !strings.HasSuffix(got, `"7"`) {
		t.Fatalf("query --lake of the other lake printed %q, want a count of 7", got)
	}
}

// TestCatalogLake: the lake of a query without --lake is the folder
// holding the database's tables (tables deeper in it included), or the
// default lake for an empty catalog.
func TestCatalogLake(t *testing.T) {
	ctx := context.Background()
	cat, err := sqlite.Open(filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	if got, err := catalogLake(ctx, cat, "stocklake"); err != nil || got != defaultLake {
		t.Fatalf("empty catalog: %q, %v; want %s", got, err, defaultLake)
	}
	if err := cat.CreateDatabase(ctx, stocklake.Database{Name: "market"}); err != nil {
		t.Fatal(err)
	}
	for _, tb := range []stocklake.Table{
		{Name: "ticks", Location: "s3://bkt/data/lake/ticks/"},
		{Name: "bars_1m", Location: "s3://bkt/data/lake/bars/1m/"},
		{Name: "bars_5m", Location: "s3://bkt/data/lake/bars/5m/"},
	} {
		tb.Database, tb.Format = "market", stocklake.FormatParquet
		tb.Columns = []stocklake.Column{{Name: "x", Type: "bigint"}}
		if err := cat.CreateTable(ctx, tb); err != nil {
			t.Fatal(err)
		}
	}
	// The default database is empty: every database's tables say.
	if got, err := catalogLake(ctx, cat, "stocklake"); err != nil || got != "s3://bkt/data/lake" {
		t.Fatalf("got %q, %v; want s3://bkt/data/lake", got, err)
	}
	if got := lakeRoots([]string{"s3://bkt/bars/1m/", "s3://bkt/bars/5m/"}); !slices.Equal(got, []string{"s3://bkt/bars"}) {
		t.Errorf("two tables in one folder: %q", got)
	}
	if got := lakeRoots([]string{"file:///ticks/", "not a url"}); !slices.Equal(got, []string{"file:///"}) {
		t.Errorf("a table at the root: %q", got)
	}
	if err := cat.CreateTable(ctx, stocklake.Table{Database: "market", Name: "old", Location: "s3://other/lake/old/",
		Format: stocklake.FormatParquet, Columns: []stocklake.Column{{Name: "x", Type: "bigint"}}}); err != nil {
		t.Fatal(err)
	}
	_, err = catalogLake(ctx, cat, "market")
	if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), "s3://bkt/data/lake, s3://other/lake") {
		t.Fatalf("tables under two lakes: %v; want ErrConfig naming both", err)
	}
}
