package trino_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/crawler"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/hive"
	"github.com/stocklake/stocklake/internal/querysuite"
	"github.com/stocklake/stocklake/sink"
	"github.com/stocklake/stocklake/sqlite"
	"github.com/stocklake/stocklake/trino"
)

// Environment of the integration tests, as printed by scripts/trino start:
//
//	STOCKLAKE_TRINO_URL       the coordinator, e.g. http://127.0.0.1:8081 (required)
//	STOCKLAKE_TRINO_LAKE_DIR  the folder the server reads file:// paths from
//	                          (TRINO_LAKE_DIR; default /). Test lakes are made
//	                          under it, so it must be writable by the tests.
func trinoEnv(t *testing.T) (url, root string) {
	t.Helper()
	url = os.Getenv("STOCKLAKE_TRINO_URL")
	if url == "" {
		t.Skip("STOCKLAKE_TRINO_URL not set; start Trino with: eval \"$(scripts/trino start)\"")
	}
	root = os.Getenv("STOCKLAKE_TRINO_LAKE_DIR")
	if root == "" {
		root = "/"
	}
	return url, root
}

// lakeDir returns a fresh folder for a test lake that the Trino server can
// read: under the server's lake dir.
func lakeDir(t *testing.T, root string) string {
	t.Helper()
	if root == "/" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp(root, "stocklake-trino-test-")
	if err != nil {
		t.Fatalf("making a test lake under STOCKLAKE_TRINO_LAKE_DIR=%s: %v", root, err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// testLake is a small lake with one table per format: Parquet ticks in
// dt= partitions, JSON trades and a CSV of daily index prices.
type testLake struct {
	dir   string
	store *file.ObjectStore
	cat   *sqlite.Catalog
	db    string
	days  []string
	ticks map[string]int // rows per day
}

var symbols = []string{"AAPL", "MSFT", "NVDA"}

func newTestLake(t *testing.T, root string) *testLake {
	t.Helper()
	dir := lakeDir(t, root)
	store, err := file.New(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := sqlite.Open(filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	l := &testLake{dir: dir, store: store, cat: cat, ticks: map[string]int{},
		db: fmt.Sprintf("it_%d", time.Now().UnixNano()%1e9)}
	for _, d := range []string{"2026-11-23", "2026-11-24", "2026-11-25"} {
		l.addDay(t, d)
	}
	// JSON lines, one object per trade, with a nested field.
	var js bytes.Buffer
	for i := range 20 {
		fmt.Fprintf(&js, `{"symbol":%q,"qty":%d,"price":%g,"venue":{"mic":"XNAS","lit":%t}}`+"\n",
			symbols[i%3], i+1, 100+float64(i)/4, i%2 == 0)
	}
	l.put(t, "trades/part-0.json", js.Bytes())
	// The seed's daily index prices (quoted-free CSV with a header).
	csv, err := os.ReadFile("../testdata/indexProcessed.csv")
	if err != nil {
		t.Fatal(err)
	}
	l.put(t, "index/indexProcessed.csv", csv)
	l.crawl(t)
	return l
}

func (l *testLake) put(t *testing.T, key string, data []byte) {
	t.Helper()
	if err := l.store.Put(context.Background(), key, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

// addDay writes two Parquet files of ticks for one day, as the sink does.
func (l *testLake) addDay(t *testing.T, day string) {
	t.Helper()
	start, err := time.Parse("2006-01-02 15:04", day+" 14:30")
	if err != nil {
		t.Fatal(err)
	}
	for f := range 2 {
		var rows []sink.TickRow
		for i := range 300 {
			n := f*300 + i
			ts := start.Add(time.Duration(n) * 997 * time.Millisecond).Add(time.Duration(n%1000) * time.Microsecond)
			rows = append(rows, sink.TickRow{
				Symbol: symbols[n%3], TS: ts.UnixMicro(), Price: 100 + float64(n%50)/8, Size: float64(1 + n%7),
				Exchange: "XNAS", TradeID: fmt.Sprint(n), Conditions: []string{"@", "I"}[:1+n%2], Source: "test",
			})
		}
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[sink.TickRow](&buf, parquet.Compression(&parquet.Zstd))
		if _, err := w.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		l.put(t, fmt.Sprintf("ticks/dt=%s/part-%d.parquet", day, f), buf.Bytes())
		l.ticks[day] += len(rows)
	}
	l.days = append(l.days, day)
}

func (l *testLake) crawl(t *testing.T) {
	t.Helper()
	c, err := crawler.New(l.store, l.cat, crawler.Config{Database: l.db, TableLevel: 2})
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Log(run.Summary())
}

func (l *testLake) total() int {
	n := 0
	for _, c := range l.ticks {
		n += c
	}
	return n
}

// collect reads all rows.
func collect(t *testing.T, r stocklake.Rows) [][]any {
	t.Helper()
	defer r.Close()
	var out [][]any
	for r.Next() {
		out = append(out, append([]any(nil), r.Values()...))
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func query(t *testing.T, e stocklake.Engine, sql string) ([]stocklake.ResultColumn, [][]any, stocklake.QueryStats) {
	t.Helper()
	r, err := e.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	rows := collect(t, r)
	return r.Columns(), rows, r.Stats()
}

func TestTrinoIntegration(t *testing.T) {
	url, root := trinoEnv(t)
	ctx := context.Background()
	l := newTestLake(t, root)
	e, err := trino.New(ctx, trino.Config{URL: url, Catalog: l.cat, LocalRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	t.Cleanup(func() {
		// Leave the server as it was: drop the tables (external: the files
		// stay) and the schema.
		tables, err := l.cat.ListTables(ctx, l.db)
		if err != nil {
			t.Error(err)
		}
		for _, tb := range tables {
			if err := l.cat.DeleteTable(ctx, l.db, tb.Name); err != nil {
				t.Error(err)
			}
		}
		if err := e.Sync(ctx); err != nil {
			t.Errorf("sync after deleting the tables: %v", err)
		}
		if r, err := e.Query(ctx, "DROP SCHEMA lake."+l.db); err != nil {
			t.Errorf("dropping the test schema: %v", err)
		} else {
			collect(t, r)
		}
	})

	t.Run("types", func(t *testing.T) {
		cols, rows, _ := query(t, e, fmt.Sprintf(`SELECT symbol, ts, price, size, conditions, dt, CAST(size AS bigint) AS isize,
			DATE '2026-11-26' AS d, DECIMAL '12.50' AS dec, true AS b, CAST(NULL AS varchar) AS n,
			MAP(ARRAY['a'], ARRAY[1.5]) AS m, CAST(ROW(1, 'x') AS ROW(i bigint, s varchar)) AS r
			FROM %s.ticks WHERE dt = '2026-11-24' AND trade_id = '7'`, l.db))
		want := []stocklake.ResultColumn{
			{Name: "symbol", Type: "varchar"}, {Name: "ts", Type: "timestamp(6)"}, {Name: "price", Type: "double"},
			{Name: "size", Type: "double"}, {Name: "conditions", Type: "array(varchar)"}, {Name: "dt", Type: "varchar"},
			{Name: "isize", Type: "bigint"}, {Name: "d", Type: "date"}, {Name: "dec", Type: "decimal(4,2)"},
			{Name: "b", Type: "boolean"}, {Name: "n", Type: "varchar"}, {Name: "m", Type: "map(varchar, decimal(2,1))"},
			{Name: "r", Type: "row(i bigint, s varchar)"},
		}
		if fmt.Sprint(cols) != fmt.Sprint(want) {
			t.Errorf("columns\n got %v\nwant %v", cols, want)
		}
		if len(rows) != 1 {
			t.Fatalf("got %d rows, want 1", len(rows))
		}
		r := rows[0]
		start := time.Date(2026, 11, 24, 14, 30, 0, 0, time.UTC)
		wantTS := start.Add(7 * 997 * time.Millisecond).Add(7 * time.Microsecond)
		if ts, ok := r[1].(time.Time); !ok || !ts.Equal(wantTS) {
			t.Errorf("ts = %v (%T), want %v", r[1], r[1], wantTS)
		}
		if r[0] != "MSFT" || r[2] != 100+7.0/8 || r[3] != 1.0 || r[5] != "2026-11-24" || r[6] != int64(1) {
			t.Errorf("row = %#v", r)
		}
		if c, ok := r[4].([]any); !ok || len(c) != 2 || c[0] != "@" || c[1] != "I" {
			t.Errorf("conditions = %#v, want [@ I]", r[4])
		}
		if d, ok := r[7].(time.Time); !ok || !d.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("date = %#v", r[7])
		}
		if r[8] != "12.50" || r[9] != true || r[10] != nil {
			t.Errorf("decimal, boolean, null = %#v, %#v, %#v", r[8], r[9], r[10])
		}
		if m, ok := r[11].(map[string]any); !ok || m["a"] != "1.5" {
			t.Errorf("map = %#v", r[11])
		}
		if m, ok := r[12].(map[string]any); !ok || m["i"] != int64(1) || m["s"] != "x" {
			t.Errorf("row = %#v", r[12])
		}
	})

	t.Run("formats", func(t *testing.T) {
		_, rows, _ := query(t, e, fmt.Sprintf(`SELECT count(*), sum(qty), max(price), count_if(venue.lit) FROM %s.trades`, l.db))
		if fmt.Sprint(rows) != "[[20 210 104.75 10]]" {
			t.Errorf("trades: %v", rows)
		}
		cols, rows, _ := query(t, e, fmt.Sprintf(`SELECT "index", count(*), round(avg(close), 2) FROM %s."index" GROUP BY 1 ORDER BY 1`, l.db))
		if len(rows) == 0 || len(cols) != 3 || cols[2].Type != "double" {
			t.Fatalf("index: %v %v", cols, rows)
		}
		n := int64(0)
		for _, r := range rows {
			n += r[1].(int64)
		}
		if n != 1250 {
			t.Errorf("index rows = %d, want 1250 (%v)", n, rows)
		}
	})

	t.Run("pruning", func(t *testing.T) {
		_, rows, all := query(t, e, fmt.Sprintf(`SELECT count(*), sum(size) FROM %s.ticks`, l.db))
		if rows[0][0] != int64(l.total()) {
			t.Errorf("count = %v, want %d", rows[0][0], l.total())
		}
		_, rows, one := query(t, e, fmt.Sprintf(`SELECT count(*), sum(size) FROM %s.ticks WHERE dt = '%s'`, l.db, l.days[0]))
		if rows[0][0] != int64(l.ticks[l.days[0]]) {
			t.Errorf("count of one day = %v, want %d", rows[0][0], l.ticks[l.days[0]])
		}
		t.Logf("bytes scanned: all days %d, one day %d; durations %v, %v", all.BytesScanned, one.BytesScanned, all.Duration, one.Duration)
		if all.BytesScanned <= 0 || one.BytesScanned <= 0 || one.BytesScanned*2 > all.BytesScanned {
			t.Errorf("bytes scanned: one day %d of %d for all days; want > 0 and at most half", one.BytesScanned, all.BytesScanned)
		}
		if all.Duration <= 0 {
			t.Errorf("duration %v, want > 0", all.Duration)
		}
	})

	t.Run("escaped partition values", func(t *testing.T) {
		// Folders as the sink names them (hive.PartitionPath); the catalog
		// holds the values, the empty one as Hive's default partition,
		// which Trino reads as NULL.
		values := []string{"NYA/X", "UP%10", "a}b", "with space", ""}
		for i, v := range values {
			var rows []sink.TickRow
			for n := range i + 1 {
				rows = append(rows, sink.TickRow{Symbol: "S", TS: int64(n), Price: 1, Size: 1, TradeID: fmt.Sprint(n), Source: "test"})
			}
			var buf bytes.Buffer
			w := parquet.NewGenericWriter[sink.TickRow](&buf)
			if _, err := w.Write(rows); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			l.put(t, "venues/"+hive.PartitionPath([]string{"exchange"}, []string{v})+"/part-0.parquet", buf.Bytes())
		}
		l.crawl(t)
		_, rows, _ := query(t, e, fmt.Sprintf(`SELECT exchange, count(*) FROM %s.venues GROUP BY exchange`, l.db))
		got := map[any]int64{}
		for _, r := range rows {
			got[r[0]] = r[1].(int64)
		}
		want := map[any]int64{"NYA/X": 1, "UP%10": 2, "a}b": 3, "with space": 4, nil: 5}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("rows per exchange = %v, want %v", got, want)
		}
		_, rows, _ = query(t, e, fmt.Sprintf(`SELECT count(*) FROM %s.venues WHERE exchange = 'NYA/X'`, l.db))
		if rows[0][0] != int64(1) {
			t.Errorf("WHERE exchange = 'NYA/X': count %v, want 1", rows[0][0])
		}
	})

	t.Run("catalog changes", func(t *testing.T) {
		// A new day, crawled: the next query sees it without a restart.
		l.addDay(t, "2026-11-26")
		l.crawl(t)
		_, rows, _ := query(t, e, fmt.Sprintf(`SELECT count(*) FROM %s.ticks`, l.db))
		if rows[0][0] != int64(l.total()) {
			t.Errorf("after a new partition: count = %v, want %d", rows[0][0], l.total())
		}
		// A partition removed from the catalog disappears from Trino.
		if err := l.cat.DeletePartitions(ctx, l.db, "ticks", [][]string{{l.days[0]}}); err != nil {
			t.Fatal(err)
		}
		_, rows, _ = query(t, e, fmt.Sprintf(`SELECT count(*) FROM %s.ticks`, l.db))
		if want := l.total() - l.ticks[l.days[0]]; rows[0][0] != int64(want) {
			t.Errorf("after removing a partition: count = %v, want %d", rows[0][0], want)
		}
		// A changed definition is re-registered: drop a column.
		tb, err := l.cat.GetTable(ctx, l.db, "trades")
		if err != nil {
			t.Fatal(err)
		}
		tb.Columns = tb.Columns[:len(tb.Columns)-1]
		if err := l.cat.UpdateTable(ctx, tb); err != nil {
			t.Fatal(err)
		}
		cols, _, _ := query(t, e, fmt.Sprintf(`SELECT * FROM %s.trades LIMIT 1`, l.db))
		if len(cols) != len(tb.Columns) {
			t.Errorf("after dropping a column: columns %v, want %d", cols, len(tb.Columns))
		}
		// A deleted table is dropped.
		if err := l.cat.DeleteTable(ctx, l.db, "trades"); err != nil {
			t.Fatal(err)
		}
		_, err = e.Query(ctx, fmt.Sprintf(`SELECT * FROM %s.trades`, l.db))
		if !errors.Is(err, stocklake.ErrNotFound) {
			t.Errorf("query of a deleted table: %v, want ErrNotFound", err)
		}
	})

	t.Run("new engine reuses registrations", func(t *testing.T) {
		e2, err := trino.New(ctx, trino.Config{URL: url, Catalog: l.cat, LocalRoot: root, Register: trino.RegisterOnce})
		if err != nil {
			t.Fatal(err)
		}
		defer e2.Close()
		_, rows, _ := query(t, e2, fmt.Sprintf(`SELECT count(*) FROM %s.ticks`, l.db))
		if want := l.total() - l.ticks[l.days[0]]; rows[0][0] != int64(want) {
			t.Errorf("count = %v, want %d", rows[0][0], want)
		}
	})

	t.Run("zone names", func(t *testing.T) {
		// Nested timestamps arrive as text with Trino's zone ID; CET and
		// PRC were read as zones at UTC before sqltext.ParseTime.
		_, rows, _ := query(t, e, `SELECT ARRAY[with_timezone(TIMESTAMP '2026-11-26 14:05:01.000', 'CET'),
			with_timezone(TIMESTAMP '2026-11-26 14:05:01.000', 'PRC'), with_timezone(TIMESTAMP '2026-11-26 14:05:01.000', 'Etc/GMT+5')]`)
		want := []time.Time{time.Date(2026, 11, 26, 13, 5, 1, 0, time.UTC), time.Date(2026, 11, 26, 6, 5, 1, 0, time.UTC), time.Date(2026, 11, 26, 19, 5, 1, 0, time.UTC)}
		got, _ := rows[0][0].([]any)
		if len(got) != len(want) {
			t.Fatalf("array = %#v", rows[0][0])
		}
		for i := range want {
			if ts, ok := got[i].(time.Time); !ok || !ts.Equal(want[i]) {
				t.Errorf("value %d = %v, want %v", i, got[i], want[i])
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := e.Query(ctx, "SELEC 1")
		if !errors.Is(err, stocklake.ErrInvalid) || !strings.Contains(err.Error(), "SYNTAX_ERROR") {
			t.Errorf("syntax error: %v", err)
		}
		r, err := e.Query(ctx, "SELECT 1 / (x - 2) FROM UNNEST(ARRAY[1, 2]) AS t(x)")
		if err == nil {
			collectErr := func() error {
				defer r.Close()
				for r.Next() {
				}
				return r.Err()
			}()
			err = collectErr
		}
		if err == nil || !strings.Contains(err.Error(), "DIVISION_BY_ZERO") {
			t.Errorf("division by zero: %v", err)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		tag := fmt.Sprint(time.Now().UnixNano())
		// Runs for hours on 2 cores unless cancelled. Query returns with
		// the first rows, here only at the end, so cancel in the meantime.
		time.AfterFunc(1500*time.Millisecond, cancel)
		start := time.Now()
		r, err := e.Query(cctx, `SELECT count(*) /* cancel-test-`+tag+` */ FROM UNNEST(sequence(1, 10000)) a(x)
			CROSS JOIN UNNEST(sequence(1, 10000)) b(y) CROSS JOIN UNNEST(sequence(1, 10000)) c(z) WHERE x + y + z < 0`)
		if err == nil {
			for r.Next() {
			}
			err = r.Err()
			r.Close()
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("after cancel: %v, want context.Canceled", err)
		}
		t.Logf("cancelled after %v", time.Since(start))
		// Trino marks the query failed (USER_CANCELED) soon after.
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, rows, _ := query(t, e, `SELECT query_id, state, error_code FROM system.runtime.queries
				WHERE strpos(query, 'cancel-test-' || '`+tag+`') > 0`)
			if len(rows) == 1 && rows[0][1] == "FAILED" {
				if rows[0][2] != "USER_CANCELED" {
					t.Errorf("cancelled query: %v", rows[0])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("query still %v 30s after cancel", rows)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}

// TestTrinoQuerySuiteIntegration runs the engine-independent query suite
// (testdata/queries, results computed in Go from the fixture) on Trino; the
// DuckDB engine runs the same suite against the same expected results.
func TestTrinoQuerySuiteIntegration(t *testing.T) {
	url, root := trinoEnv(t)
	ctx := context.Background()
	dir := lakeDir(t, root)
	store, err := file.New(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := sqlite.Open(filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	f, err := querysuite.Build(ctx, store, cat, querysuite.TickConfig{}, "../testdata/indexProcessed.csv")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	e, err := trino.New(ctx, trino.Config{URL: url, Catalog: cat, LocalRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	t.Logf("registered the fixture's tables in %v", time.Since(start))
	querysuite.Run(t, e, "../testdata/queries", f)
}
