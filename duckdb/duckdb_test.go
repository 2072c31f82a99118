package duckdb_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/crawler"
	"github.com/stocklake/stocklake/duckdb"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/hive"
	"github.com/stocklake/stocklake/internal/querysuite"
	"github.com/stocklake/stocklake/s3"
	"github.com/stocklake/stocklake/sqlite"
)

const queriesDir = "../testdata/queries"

// fixtureOnce builds one file:// fixture lake shared by the tests that only
// read it.
var (
	fixtureOnce sync.Once
	fixture     *querysuite.Fixture
	fixtureErr  error
	fixtureDir  string
)

func sharedFixture(t *testing.T) *querysuite.Fixture {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "stocklake-duckdb-test-")
		if fixtureErr != nil {
			return
		}
		fixture, fixtureErr = buildFixture(context.Background(), fixtureDir, nil)
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixture
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture != nil {
		fixture.Catalog.Close()
	}
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// buildFixture writes the suite's fixture into store (a file lake under dir
// when nil) with a SQLite catalog under dir.
// newFixture is buildFixture in a test's temporary folder, its catalog
// closed when the test ends.
func newFixture(t *testing.T) *querysuite.Fixture {
	t.Helper()
	f, err := buildFixture(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Catalog.Close() })
	return f
}

// crawlOther crawls the fixture's objects under prefix into tables of
// database "other", one per folder below it.
func crawlOther(t *testing.T, f *querysuite.Fixture, prefix string) {
	t.Helper()
	c, err := crawler.New(f.Store, f.Catalog, crawler.Config{Database: "other", Prefix: prefix, TableLevel: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func buildFixture(ctx context.Context, dir string, store stocklake.ObjectStore) (*querysuite.Fixture, error) {
	if store == nil {
		s, err := file.New(filepath.Join(dir, "lake"))
		if err != nil {
			return nil, err
		}
		store = s
	}
	cat, err := sqlite.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		return nil, err
	}
	return querysuite.Build(ctx, store, cat, querysuite.TickConfig{}, "../testdata/indexProcessed.csv")
}

func newEngine(t *testing.T, f *querysuite.Fixture) *duckdb.Engine {
	t.Helper()
	e, err := duckdb.New(context.Background(), duckdb.Config{Catalog: f.Catalog, Store: f.Store, CacheDir: t.TempDir(), Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func query(t *testing.T, e stocklake.Engine, sql string) (querysuite.Result, stocklake.QueryStats) {
	t.Helper()
	rows, err := e.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var r querysuite.Result
	for _, c := range rows.Columns() {
		r.Columns = append(r.Columns, c.Name)
	}
	for rows.Next() {
		r.Rows = append(r.Rows, append([]any(nil), rows.Values()...))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return r, rows.Stats()
}

func TestSuite(t *testing.T) {
	f := sharedFixture(t)
	querysuite.Run(t, newEngine(t, f), queriesDir, f)
}

// TestSuiteS3 runs the suite over an s3:// lake (an in-process S3 server),
// read through the cache.
func TestSuiteS3(t *testing.T) {
	srv := httptest.NewUnstartedServer(gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	ctx := context.Background()
	store, err := s3.New(ctx, s3.Config{Bucket: "lake", Prefix: "data", Endpoint: srv.URL, AccessKey: "k", SecretKey: "s", MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := buildFixture(ctx, t.TempDir(), store)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Catalog.Close()
	cacheDir := t.TempDir()
	e, err := duckdb.New(ctx, duckdb.Config{Catalog: f.Catalog, Store: f.Store, CacheDir: cacheDir, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	querysuite.Run(t, e, queriesDir, f)

	// Only the pruned partition was downloaded for a fresh engine's
	// pruned query.
	cacheDir2 := t.TempDir()
	e2, err := duckdb.New(ctx, duckdb.Config{Catalog: f.Catalog, Store: f.Store, CacheDir: cacheDir2, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	r, st := query(t, e2, "SELECT count(*) AS n FROM market.ticks WHERE dt = '2026-11-24' AND hour = '15'")
	if st.FilesScanned != 1 || r.Rows[0][0].(int64) != 900 {
		t.Fatalf("pruned S3 query: %v rows, stats %+v; want 900 rows from 1 file", r.Rows, st)
	}
	var cached []string
	filepath.WalkDir(filepath.Join(cacheDir2, "objects"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			cached = append(cached, p)
		}
		return nil
	})
	if len(cached) != 1 || !strings.Contains(cached[0], filepath.FromSlash("dt=2026-11-24/hour=15/")) {
		t.Fatalf("cache holds %v, want the one object of dt=2026-11-24/hour=15", cached)
	}
}

func TestPruning(t *testing.T) {
	f := sharedFixture(t)
	e := newEngine(t, f)
	var all int64
	objs, err := f.Store.List(context.Background(), "ticks/")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		all += o.Size
	}
	tests := []struct {
		where string
		files int64
	}{
		{"", 21},
		{"WHERE dt = '2026-11-24'", 7},
		{"WHERE dt = '2026-11-24' AND hour = '15'", 1},
		{"WHERE t.dt IN ('2026-11-23', '2026-11-25') AND hour >= '20'", 2},
		{"WHERE dt BETWEEN '2026-11-24' AND '2026-11-25' AND CAST(hour AS INTEGER) < 16", 4},
		{"WHERE (dt = '2026-11-23' AND hour = '14') OR (dt = '2026-11-25' AND hour = '20')", 2},
		{"WHERE date_parse(dt, '%Y-%m-%d') > TIMESTAMP '2026-11-24 12:00:00'", 7},
		{"WHERE dt = '2026-11-24' AND price > 0", 7},          // a data column does not stop pruning
		{"WHERE dt = '2026-11-24' OR price > 1000000", 21},    // but an OR with one does
		{"WHERE dt = (SELECT max(dt) FROM market.ticks)", 42}, // subqueries are not evaluated: both scans read all
	}
	for _, tc := range tests {
		sql := "SELECT count(*) AS n FROM market.ticks t " + tc.where
		r, st := query(t, e, sql)
		if st.FilesScanned != tc.files {
			t.Errorf("%s: scanned %d files, want %d", tc.where, st.FilesScanned, tc.files)
		}
		if st.BytesScanned <= 0 || st.BytesScanned > all && tc.files != 42 || tc.files == 21 && st.BytesScanned != all || tc.files == 42 && st.BytesScanned != 2*all {
			t.Errorf("%s: scanned %d bytes of %d", tc.where, st.BytesScanned, all)
		}
		// The count matches an unpruned computation.
		var want int64
		for _, tk := range f.Ticks {
			if matches(tc.where, tk) {
				want++
			}
		}
		if tc.where != "" && !strings.Contains(tc.where, "OR") && !strings.Contains(tc.where, "SELECT") && !strings.Contains(tc.where, "date_parse") && r.Rows[0][0].(int64) != want {
			t.Errorf("%s: count %v, want %d", tc.where, r.Rows[0][0], want)
		}
	}
}

// matches evaluates the simple WHERE clauses of TestPruning in Go.
func matches(where string, tk stocklake.Tick) bool {
	dt, hour := tk.Time.UTC().Format("2006-01-02"), tk.Time.UTC().Format("15")
	switch where {
	case "":
		return true
	case "WHERE dt = '2026-11-24'", "WHERE dt = '2026-11-24' AND price > 0":
		return dt == "2026-11-24"
	case "WHERE dt = '2026-11-24' AND hour = '15'":
		return dt == "2026-11-24" && hour == "15"
	case "WHERE t.dt IN ('2026-11-23', '2026-11-25') AND hour >= '20'":
		return (dt == "2026-11-23" || dt == "2026-11-25") && hour >= "20"
	case "WHERE dt BETWEEN '2026-11-24' AND '2026-11-25' AND CAST(hour AS INTEGER) < 16":
		return dt >= "2026-11-24" && dt <= "2026-11-25" && hour < "16"
	}
	return true
}

// TestOuterJoinNotPruned checks that a filter on the null-supplying side of
// a LEFT JOIN does not prune that side, which would change the result.
func TestOuterJoinNotPruned(t *testing.T) {
	f := sharedFixture(t)
	e := newEngine(t, f)
	sql := `SELECT count(*) AS n FROM (SELECT DISTINCT symbol FROM market.ticks WHERE dt = '2026-11-23') s
	        LEFT JOIN market.ticks t ON t.symbol = s.symbol AND t.hour = '14'
	        WHERE t.dt = '2026-11-24' OR t.dt IS NULL`
	r, st := query(t, e, sql)
	var want int64
	for _, tk := range f.Ticks {
		if tk.Time.UTC().Format("2006-01-02 15") == "2026-11-24 14" {
			want++
		}
	}
	if r.Rows[0][0].(int64) != want {
		t.Fatalf("count %v, want %d", r.Rows[0][0], want)
	}
	// The left side reads one day (7 files); the right side, restricted by
	// its ON clause to hour 14, reads 3.
	if st.FilesScanned != 10 {
		t.Fatalf("scanned %d files, want 10", st.FilesScanned)
	}
}

func TestScanLimit(t *testing.T) {
	f := sharedFixture(t)
	e := newEngine(t, f)
	_, st := query(t, e, "SELECT count(*) FROM market.ticks WHERE dt = '2026-11-24' AND hour = '15'")
	ctx := stocklake.WithScanLimit(context.Background(), st.BytesScanned)
	rows, err := e.Query(ctx, "SELECT count(*) FROM market.ticks WHERE dt = '2026-11-24' AND hour = '15'")
	if err != nil {
		t.Fatalf("query within the limit: %v", err)
	}
	rows.Close()
	_, err = e.Query(ctx, "SELECT count(*) FROM market.ticks WHERE dt = '2026-11-24'")
	if !errors.Is(err, stocklake.ErrScanLimit) {
		t.Fatalf("query over the limit: err %v, want ErrScanLimit", err)
	}
}

func TestResultColumns(t *testing.T) {
	f := sharedFixture(t)
	e := newEngine(t, f)
	rows, err := e.Query(context.Background(), "SELECT symbol, count(*), max(ts) AS last, CAST(1.5 AS DECIMAL(10,2)), [1, 2] FROM market.ticks GROUP BY symbol ORDER BY symbol LIMIT 1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := []stocklake.ResultColumn{
		{Name: "symbol", Type: "varchar"}, {Name: "_col1", Type: "bigint"}, {Name: "last", Type: "timestamp(6)"},
		{Name: "_col3", Type: "decimal(10,2)"}, {Name: "_col4", Type: "array(integer)"},
	}
	got := rows.Columns()
	if len(got) != len(want) {
		t.Fatalf("columns %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("column %d = %v, want %v", i, got[i], want[i])
		}
	}
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	v := rows.Values()
	if v[0] != "AAPL" || v[3] != "1.50" {
		t.Fatalf("values %v", v)
	}
	if ts, ok := v[2].(time.Time); !ok || ts.Location() != time.UTC {
		t.Fatalf("max(ts) = %#v, want a UTC time.Time", v[2])
	}
	if l, ok := v[4].([]any); !ok || len(l) != 2 || l[0] != int64(1) {
		t.Fatalf("array = %#v, want []any{int64(1), int64(2)}", v[4])
	}
}

func TestShow(t *testing.T) {
	f := sharedFixture(t)
	e := newEngine(t, f)
	r, _ := query(t, e, "SHOW SCHEMAS")
	if len(r.Rows) != 1 || r.Rows[0][0] != "market" {
		t.Fatalf("SHOW SCHEMAS = %v", r.Rows)
	}
	r, _ = query(t, e, "SHOW TABLES FROM market LIKE 'p%'")
	if len(r.Rows) != 1 || r.Rows[0][0] != "prices" {
		t.Fatalf("SHOW TABLES = %v", r.Rows)
	}
	r, _ = query(t, e, "DESCRIBE market.ticks")
	var cols []string
	for _, row := range r.Rows {
		cols = append(cols, row[0].(string)+" "+row[1].(string)+" "+row[2].(string))
	}
	got := strings.Join(cols, ", ")
	for _, want := range []string{"ts timestamp(6) ", "conditions array(varchar) ", "dt varchar partition key", "hour varchar partition key"} {
		if !strings.Contains(got, want) {
			t.Errorf("DESCRIBE = %s; missing %q", got, want)
		}
	}
	r, st := query(t, e, "EXPLAIN SELECT count(*) FROM market.ticks WHERE dt = '2026-11-24'")
	if len(r.Rows) == 0 || st.FilesScanned != 7 || !strings.Contains(fmt.Sprint(r.Rows), "READ_PARQUET") {
		t.Fatalf("EXPLAIN = %v, stats %+v", r.Rows, st)
	}
	r, _ = query(t, e, "SHOW PARTITIONS market.ticks")
	if len(r.Rows) != 21 || r.Rows[0][0] != "dt=2026-11-23/hour=14" {
		t.Fatalf("SHOW PARTITIONS = %d rows, first %v", len(r.Rows), r.Rows[0])
	}
}

func TestDialect(t *testing.T) {
	f := sharedFixture(t)
	e := newEngine(t, f)
	tests := []struct{ sql, want string }{
		{"SELECT from_unixtime(1764165901.5)", "2025-11-26 14:05:01.5 +0000 UTC"},
		{"SELECT to_unixtime(TIMESTAMP '2026-11-26 14:05:01')", "1.795701901e+09"},
		{"SELECT date_format(TIMESTAMP '2026-11-26 14:05:01', '%Y-%m-%d %H:%i:%s %W %M')", "2026-11-26 14:05:01 Thursday November"},
		{"SELECT date_parse('2026/11/26 14:05', '%Y/%m/%d %H:%i')", "2026-11-26 14:05:00 +0000 UTC"},
		{"SELECT date_trunc('hour', TIMESTAMP '2026-11-26 14:05:01')", "2026-11-26 14:00:00 +0000 UTC"},
		{"SELECT date_add('day', 2, TIMESTAMP '2026-11-26 14:05:01')", "2026-11-28 14:05:01 +0000 UTC"},
		{"SELECT date_diff('day', TIMESTAMP '2026-11-26 23:00:00', TIMESTAMP '2026-11-27 01:00:00')", "0"},
		{"SELECT day_of_week(DATE '2026-11-29')", "7"},
		{"SELECT approx_distinct(x) FROM (VALUES (1), (2), (2)) t(x)", "2"},
		{"SELECT approx_percentile(x, 0.5) FROM (VALUES (1), (2), (3)) t(x)", "2"},
		{"SELECT regexp_replace('a1b22', '[0-9]', '#')", "a#b##"},
		{"SELECT regexp_replace('abc', '(b)', '[$1]')", "a[b]c"},
		{"SELECT 7 / 2", "3"},
		{"SELECT try_cast('x' AS integer)", "<nil>"},
		{"SELECT CAST('2026-11-26' AS date)", "2026-11-26 00:00:00 +0000 UTC"},
		{"SELECT millisecond(TIMESTAMP '2026-11-26 14:05:01.123')", "123"},
		{"SELECT cardinality(ARRAY[1, 2, 3])", "3"},
		{"SELECT array_join(ARRAY['a', 'b'], '-')", "a-b"},
		{"SELECT typeof(current_timestamp) IS NOT NULL", "true"},
		{"SELECT format_datetime(TIMESTAMP '2026-11-26 14:05:01.250', 'yyyy-MM-dd''T''HH:mm:ss.SSS EEE')", "2026-11-26T14:05:01.250 Thu"},
		{"SELECT parse_datetime('26/11/2026 14', 'dd/MM/yyyy HH')", "2026-11-26 14:00:00 +0000 UTC"},
		{"SELECT json_extract_scalar('{\"a\": {\"b\": 7}}', '$.a.b')", "7"},
		{"SELECT json_array_length('[1, 2]')", "2"},
		{"SELECT element_at(ARRAY[1, 2, 3], -1) + slice(ARRAY[1, 2, 3], 2, 1)[1] + cardinality(sequence(1, 4))", "9"},
		{"SELECT array_join(array_sort(array_distinct(ARRAY['b', 'a', 'b'])), ',')", "a,b"},
		{"SELECT contains(ARRAY[1, 2], 2) AND array_position(ARRAY[5, 6], 6) = 2", "true"},
		{"SELECT if(quarter(DATE '2026-11-26') = 4, week(DATE '2026-11-26'), -1)", "48"},
		{"SELECT try(CAST('x' AS integer))", "<nil>"},
		{"SELECT approx_percentile(x, ARRAY[0.5])[1] FROM (VALUES (1), (2), (3)) t(x)", "2"},
		{"SELECT count_if(x > 1) + every(x > 0)::int FROM (VALUES (1), (2), (3)) t(x)", "3"},
		{"SELECT from_iso8601_timestamp('2026-11-26T14:05:01Z')", "2026-11-26 14:05:01 +0000 UTC"},
		{"SELECT to_iso8601(TIMESTAMP '2026-11-26 14:05:01.5')", "2026-11-26T14:05:01.500"},
		{"SELECT year_of_week(DATE '2027-01-01') * 100 + day_of_month(DATE '2027-01-01')", "202601"},
	}
	for _, tc := range tests {
		t.Run("", func(t *testing.T) {
			r, _ := query(t, e, tc.sql)
			if got := toString(r.Rows[0][0]); got != tc.want {
				t.Errorf("%s = %s, want %s", tc.sql, got, tc.want)
			}
		})
	}
}

func toString(v any) string {
	if v == nil {
		return "<nil>"
	}
	if t, ok := v.(time.Time); ok {
		return t.String()
	}
	return fmt.Sprint(v)
}

func TestErrors(t *testing.T) {
	f := sharedFixture(t)
	e := newEngine(t, f)
	tests := []struct {
		sql  string
		want error
	}{
		{"SELECT * FROM market.nope", stocklake.ErrNotFound},
		{"SELECT nope FROM market.ticks", stocklake.ErrInvalid},
		{"SELEC 1", stocklake.ErrInvalid},
		{"SELECT 1; SELECT 2", stocklake.ErrInvalid},
		{"CREATE TABLE x (a int)", stocklake.ErrInvalid},
		{"COPY (SELECT 1) TO '/tmp/x.csv'", stocklake.ErrInvalid},
		{"SELECT * FROM read_csv('/etc/passwd')", stocklake.ErrInvalid},
		{"", stocklake.ErrInvalid},
	}
	for _, tc := range tests {
		rows, err := e.Query(context.Background(), tc.sql)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%q: err %v, want %v", tc.sql, err, tc.want)
		}
	}
}

func TestCancel(t *testing.T) {
	f := sharedFixture(t)
	e := newEngine(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(200 * time.Millisecond)
		cancel()
	}()
	// DuckDB runs the whole query inside Query; this one takes minutes.
	rows, err := e.Query(ctx, "SELECT count(*) FROM range(1000000000000) a")
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// TestSchemaEvolution checks that a column added to the catalog reads as
// NULL from files written before it existed.
func TestSchemaEvolution(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	tbl, err := f.Catalog.GetTable(ctx, querysuite.Database, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	tbl.Columns = append(tbl.Columns, stocklake.Column{Name: "venue_id", Type: "bigint"})
	if err := f.Catalog.UpdateTable(ctx, tbl); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, f)
	r, _ := query(t, e, "SELECT count(*) AS n, count(venue_id) AS v FROM market.ticks WHERE dt = '2026-11-23'")
	if r.Rows[0][0].(int64) == 0 || r.Rows[0][1].(int64) != 0 {
		t.Fatalf("got %v, want rows with no venue_id", r.Rows)
	}
}

// TestPlainFolderPartitions reads a table whose partitions are plain
// folders (partition_0), which DuckDB's hive_partitioning cannot see: the
// engine links the files into key=value folders.
func TestPlainFolderPartitions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	objs, err := f.Store.List(ctx, "ticks/dt=2026-11-24/hour=15/")
	if err != nil || len(objs) != 1 {
		t.Fatalf("fixture object: %v %v", objs, err)
	}
	for _, day := range []string{"2026-11-23", "2026-11-24"} {
		rc, err := f.Store.Get(ctx, objs[0].Key)
		if err != nil {
			t.Fatal(err)
		}
		err = f.Store.Put(ctx, "plain/"+day+"/part.parquet", rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	crawlOther(t, f, "plain/")
	tbl, err := f.Catalog.GetTable(ctx, "other", "plain")
	if err != nil || len(tbl.PartitionKeys) != 1 {
		t.Fatalf("crawled table %+v, %v", tbl, err)
	}
	key := tbl.PartitionKeys[0].Name
	e := newEngine(t, f)
	r, st := query(t, e, "SELECT "+key+" AS p, count(*) AS n FROM other.plain WHERE "+key+" = '2026-11-24' GROUP BY 1")
	if len(r.Rows) != 1 || r.Rows[0][0] != "2026-11-24" || r.Rows[0][1].(int64) != 900 || st.FilesScanned != 1 {
		t.Fatalf("got %v, stats %+v", r.Rows, st)
	}
}

// TestLexedAsDuckDB runs statements whose table names or format literals
// only a lexer reading as DuckDB does (nested comments, -- comments ending
// at a carriage return, Unicode spaces, E-strings and $$ strings) finds. The
// engine's own lexer before sqltext could not locate these table names.
func TestLexedAsDuckDB(t *testing.T) {
	f := sharedFixture(t)
	e := newEngine(t, f)
	want, _ := query(t, e, "SELECT count(*) FROM market.ticks WHERE dt = '2026-11-24'")
	for _, sql := range []string{
		"SELECT count(*) FROM market /* a /* b */ c */ . ticks WHERE dt = '2026-11-24'",
		"SELECT count(*) FROM market -- x\r.ticks WHERE dt = '2026-11-24'",
		"SELECT count(*) FROM market.ticks\u00a0WHERE dt = '2026-11-24'",
		"SELECT count(*) FROM market.\"ticks\" WHERE dt = '2026-11-24';;",
	} {
		t.Run("", func(t *testing.T) {
			got, _ := query(t, e, sql)
			if fmt.Sprint(got.Rows) != fmt.Sprint(want.Rows) {
				t.Errorf("%q = %v, want %v", sql, got.Rows, want.Rows)
			}
		})
	}
	for _, tc := range []struct{ sql, want string }{
		{"SELECT date_format(TIMESTAMP '2026-11-26 14:05:01', E'%Y\\'%m')", "2026'11"},
		{"SELECT date_format(TIMESTAMP '2026-11-26 14:05:01', $$%Y-%m$$)", "2026-11"},
		{"SELECT date_format(TIMESTAMP '2026-11-26 14:05:01', /* c */ '%Y' -- d\r)", "2026"},
	} {
		t.Run("", func(t *testing.T) {
			r, _ := query(t, e, tc.sql)
			if got := toString(r.Rows[0][0]); got != tc.want {
				t.Errorf("%s = %s, want %s", tc.sql, got, tc.want)
			}
		})
	}
}

// TestDebugLogsFilesRead: at debug level a Hive table's scan logs the keys
// of exactly the files it reads, those of the pruned partitions only.
func TestDebugLogsFilesRead(t *testing.T) {
	f := sharedFixture(t)
	var logs strings.Builder
	e, err := duckdb.New(context.Background(), duckdb.Config{Catalog: f.Catalog, Store: f.Store, CacheDir: t.TempDir(), Threads: 2,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	want, err := f.Store.List(context.Background(), "ticks/dt=2026-11-24/hour=15/")
	if err != nil || len(want) != 1 {
		t.Fatalf("fixture objects %v, %v", want, err)
	}
	query(t, e, "SELECT count(*) FROM market.ticks WHERE dt = '2026-11-24' AND hour = '15'")
	if got := logs.String(); !strings.Contains(got, `msg="duckdb: files to read" table=market.ticks partitions=1 files="[`+want[0].Key+`]"`) {
		t.Fatalf("debug log does not name the one file read, %s:\n%s", want[0].Key, got)
	}
}

// writeParquet puts rows as one Parquet object at key.
func writeParquet[T any](t *testing.T, store stocklake.ObjectStore, key string, rows []T) {
	t.Helper()
	var buf bytes.Buffer
	if err := parquet.Write(&buf, rows); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(context.Background(), key, &buf); err != nil {
		t.Fatal(err)
	}
}

// TestMixedFileSchemas reads one scan over files of three schemas: a
// column only some files of a partition have reads as NULL from the others,
// and a column stored as INT32 in one file reads as the catalog's bigint.
func TestMixedFileSchemas(t *testing.T) {
	type oldRow struct {
		ID   int64  `parquet:"id"`
		Name string `parquet:"name"`
	}
	type newRow struct {
		Name  string `parquet:"Name"` // another case and order
		ID    int64  `parquet:"id"`
		Extra int64  `parquet:"extra"`
	}
	type narrowRow struct {
		ID    int32 `parquet:"id"`
		Extra int32 `parquet:"extra"`
	}
	ctx := context.Background()
	f := newFixture(t)
	writeParquet(t, f.Store, "mixed/part=1/a.parquet", []oldRow{{1, "a"}, {2, "b"}})
	writeParquet(t, f.Store, "mixed/part=1/b.parquet", []newRow{{"c", 3, 30}})
	writeParquet(t, f.Store, "mixed/part=2/c.parquet", []narrowRow{{4, 40}, {5, 50}})
	writeParquet(t, f.Store, "mixed/part=2/d.parquet", []oldRow{{6, "f"}})
	crawlOther(t, f, "mixed/")
	tbl, err := f.Catalog.GetTable(ctx, "other", "mixed")
	if err != nil {
		t.Fatal(err)
	}
	// The catalog's columns, whatever the crawler sampled.
	tbl.Columns = []stocklake.Column{{Name: "id", Type: "bigint"}, {Name: "name", Type: "string"}, {Name: "extra", Type: "bigint"}, {Name: "never", Type: "double"}}
	if err := f.Catalog.UpdateTable(ctx, tbl); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, f)
	r, st := query(t, e, "SELECT part, id, name, extra, never FROM other.mixed ORDER BY id")
	want := "[[1 1 a <nil> <nil>] [1 2 b <nil> <nil>] [1 3 c 30 <nil>] [2 4 <nil> 40 <nil>] [2 5 <nil> 50 <nil>] [2 6 f <nil> <nil>]]"
	if got := fmt.Sprint(r.Rows); got != want || st.FilesScanned != 4 {
		t.Fatalf("got %s from %d files, want %s from 4", got, st.FilesScanned, want)
	}
}

// TestCraftedPartitionValues reads partitions whose values need escaping
// in folder names, or look like NULL: each reads back as the catalog's
// value, and only Hive's default partition as NULL. The table also has a
// column named filename, the name of DuckDB's file path column.
func TestCraftedPartitionValues(t *testing.T) {
	type row struct {
		N        int64  `parquet:"n"`
		Filename string `parquet:"filename"`
	}
	f := newFixture(t)
	values := []string{"NULL", "null", "a/b=c", "50% off", "x+y", "ünï", "é%2F", "q?#[]", ""}
	for i, v := range values {
		writeParquet(t, f.Store, "crafted/"+hive.PartitionPath([]string{"venue"}, []string{v})+"/part.parquet", []row{{int64(i), "f" + strconv.Itoa(i)}})
	}
	crawlOther(t, f, "crafted/")
	e := newEngine(t, f)
	r, _ := query(t, e, "SELECT n, venue, filename FROM other.crafted ORDER BY n")
	if len(r.Rows) != len(values) {
		t.Fatalf("got %v, want %d rows", r.Rows, len(values))
	}
	for i, v := range values {
		var want any = v
		if v == "" {
			want = nil
		}
		if r.Rows[i][0].(int64) != int64(i) || r.Rows[i][1] != want || r.Rows[i][2] != "f"+strconv.Itoa(i) {
			t.Errorf("row %d: %v, want venue %q", i, r.Rows[i], want)
		}
	}
	// A filter on the partition value finds it, pruned or not.
	for _, sql := range []string{
		"SELECT n FROM other.crafted WHERE venue = 'NULL'",
		"SELECT n FROM (SELECT * FROM other.crafted) WHERE venue = 'NULL'",
	} {
		if r, _ := query(t, e, sql); fmt.Sprint(r.Rows) != "[[0]]" {
			t.Errorf("%s: %v, want [[0]]", sql, r.Rows)
		}
	}
}

// TestPlanningOpensNoFile: planning a scan opens none of its files (they
// are opened once, by the scan): EXPLAIN succeeds over a table with a file
// that is not Parquet, which only the query reading it reports. DuckDB's
// union_by_name opened every file while binding, and the engine bound each
// scan twice (its view, then the query).
func TestPlanningOpensNoFile(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	const bad = "ticks/dt=2026-11-24/hour=15/zz-not-parquet.parquet"
	if err := f.Store.Put(ctx, bad, strings.NewReader("this is not a Parquet file")); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, f)
	r, st := query(t, e, "EXPLAIN SELECT count(*) FROM market.ticks")
	if len(r.Rows) == 0 || st.FilesScanned != 22 {
		t.Fatalf("EXPLAIN: %v, %d files", r.Rows, st.FilesScanned)
	}
	rows, err := e.Query(ctx, "SELECT count(*) FROM market.ticks")
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "zz-not-parquet.parquet") {
		t.Fatalf("reading the table: err %v, want one naming the file that is not Parquet", err)
	}
}
