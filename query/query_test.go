package query_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/query"
)

// fakeEngine returns a fixed result; a statement containing "sleep" blocks
// until its context ends, "boom" fails, "big" reports many bytes, and
// "limited" honours stocklake.ScanLimit as DuckDB does.
type fakeEngine struct {
	mu      sync.Mutex
	started chan string
}

var cols = []stocklake.ResultColumn{
	{Name: "symbol", Type: "varchar"}, {Name: "n", Type: "bigint"}, {Name: "price", Type: "double"},
	{Name: "ts", Type: "timestamp(6)"}, {Name: "day", Type: "date"}, {Name: "ok", Type: "boolean"},
	{Name: "tags", Type: "array(varchar)"}, {Name: "amount", Type: "decimal(10,2)"},
}

var ts = time.Date(2026, 11, 26, 14, 5, 1, 123456000, time.UTC)

var data = [][]any{
	{"AAPL", int64(1), 230.5, ts, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), true, []any{"a", "b"}, "12.50"},
	{`say "hi", ok`, int64(-2), 1e-9, ts.Add(time.Hour), nil, false, []any{}, "0.01"},
	{nil, nil, nil, nil, nil, nil, nil, nil},
	{"", int64(0), 0.0, ts, time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), true, nil, "-3.00"},
}

func (e *fakeEngine) Query(ctx context.Context, sql string) (stocklake.Rows, error) {
	if e.started != nil {
		e.started <- sql
	}
	switch {
	case strings.Contains(sql, "sleep"):
		<-ctx.Done()
		return nil, ctx.Err()
	case strings.Contains(sql, "boom"):
		return nil, errors.New("no such column boom: " + stocklake.ErrInvalid.Error())
	case strings.Contains(sql, "limited") && stocklake.ScanLimit(ctx) > 0 && stocklake.ScanLimit(ctx) < 1000:
		return nil, stocklake.ErrScanLimit
	}
	st := stocklake.QueryStats{BytesScanned: 100, FilesScanned: 2, Duration: time.Millisecond}
	if strings.Contains(sql, "big") {
		st.BytesScanned = 1 << 30
	}
	return &memRows{data: data, i: -1, stats: st}, nil
}

func (e *fakeEngine) Close() error { return nil }

type memRows struct {
	data  [][]any
	i     int
	stats stocklake.QueryStats
}

func (r *memRows) Columns() []stocklake.ResultColumn { return cols }
func (r *memRows) Next() bool                        { r.i++; return r.i < len(r.data) }
func (r *memRows) Values() []any                     { return r.data[r.i] }
func (r *memRows) Err() error                        { return nil }
func (r *memRows) Stats() stocklake.QueryStats       { return r.stats }
func (r *memRows) Close() error                      { return nil }

func newRunner(t *testing.T, cfg query.Config) (*query.Runner, stocklake.ObjectStore) {
	t.Helper()
	store, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Engine == nil {
		cfg.Engine = &fakeEngine{}
	}
	cfg.Store = store
	cfg.EngineName = "fake"
	r, err := query.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, store
}

func TestRunStoresResultAndHistory(t *testing.T) {
	r, store := newRunner(t, query.Config{})
	ctx := context.Background()
	ex, err := r.Run(ctx, "SELECT * FROM t;")
	if err != nil {
		t.Fatal(err)
	}
	if ex.State != stocklake.QuerySucceeded || ex.Rows != int64(len(data)) || ex.BytesScanned != 100 || ex.FilesScanned != 2 || ex.Engine != "fake" {
		t.Fatalf("execution %+v", ex)
	}
	if ex.Started.Before(ex.Submitted) || ex.Completed.Before(ex.Started) || ex.TotalTime <= 0 {
		t.Fatalf("times %v %v %v %v", ex.Submitted, ex.Started, ex.Completed, ex.TotalTime)
	}
	// Athena's layout: <id>.csv and <id>.csv.metadata.
	rc, err := store.Get(ctx, "query-results/"+ex.ID+".csv")
	if err != nil {
		t.Fatal(err)
	}
	csv, _ := io.ReadAll(rc)
	rc.Close()
	wantCSV := `"symbol","n","price","ts","day","ok","tags","amount"
"AAPL","1","230.5","2026-11-26 14:05:01.123456","2026-11-26","true","[""a"",""b""]","12.50"
"say ""hi"", ok","-2","1E-09","2026-11-26 15:05:01.123456",,"false","[]","0.01"
,,,,,,,
"","0","0","2026-11-26 14:05:01.123456","1969-12-31","true",,"-3.00"
`
	if string(csv) != wantCSV {
		t.Fatalf("result CSV:\n%s\nwant:\n%s", csv, wantCSV)
	}
	rc, err = store.Get(ctx, "query-results/"+ex.ID+".csv.metadata")
	if err != nil {
		t.Fatal(err)
	}
	var meta query.Execution
	if err := json.NewDecoder(rc).Decode(&meta); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if meta.State != stocklake.QuerySucceeded || meta.SQL != "SELECT * FROM t;" || len(meta.Columns) != len(cols) || !strings.HasSuffix(meta.ResultURL, ex.ID+".csv") {
		t.Fatalf("metadata %+v", meta)
	}

	// The stored result reads back with its types, NULLs and empty strings apart.
	rows, err := r.Results(ctx, ex.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got [][]any
	for rows.Next() {
		got = append(got, append([]any(nil), rows.Values()...))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(data) {
		t.Fatalf("%d rows back, want %d", len(got), len(data))
	}
	if got[0][0] != "AAPL" || got[0][1] != int64(1) || got[0][2] != 230.5 || !got[0][3].(time.Time).Equal(ts) || got[0][5] != true || got[0][7] != "12.50" {
		t.Fatalf("row 0 back: %#v", got[0])
	}
	if got[2][0] != nil || got[3][0] != "" || got[1][0] != `say "hi", ok` || got[1][4] != nil {
		t.Fatalf("NULLs and empty strings back: %#v / %#v / %#v", got[1], got[2], got[3])
	}
	if tags, ok := got[0][6].([]any); !ok || len(tags) != 2 || tags[1] != "b" {
		t.Fatalf("array back: %#v", got[0][6])
	}

	// History, newest first, visible to another Runner on the same lake.
	ex2, err := r.Run(ctx, "SELECT 2")
	if err != nil {
		t.Fatal(err)
	}
	other, err := query.New(query.Config{Engine: &fakeEngine{}, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	hist, err := other.List(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].ID != ex2.ID || hist[1].ID != ex.ID {
		t.Fatalf("history %v", hist)
	}
	if got, err := other.Get(ctx, ex.ID); err != nil || got.SQL != ex.SQL {
		t.Fatalf("Get from another runner: %+v, %v", got, err)
	}
	if _, err := other.Get(ctx, "0193b7c8-0000-7000-8000-000000000000"); !errors.Is(err, stocklake.ErrNotFound) {
		t.Fatalf("unknown ID: %v", err)
	}
	if _, err := other.Get(ctx, "../etc/passwd"); !errors.Is(err, stocklake.ErrInvalid) {
		t.Fatalf("bad ID: %v", err)
	}
}

func TestFailedQuery(t *testing.T) {
	r, store := newRunner(t, query.Config{})
	ex, err := r.Run(context.Background(), "SELECT boom")
	var qe *query.Error
	if !errors.As(err, &qe) || ex.State != stocklake.QueryFailed || !strings.Contains(ex.Error, "boom") {
		t.Fatalf("err %v, execution %+v", err, ex)
	}
	if _, err := store.Stat(context.Background(), "query-results/"+ex.ID+".csv"); !errors.Is(err, stocklake.ErrNotFound) {
		t.Fatalf("a failed query left a result: %v", err)
	}
	if _, err := r.Results(context.Background(), ex.ID); !errors.Is(err, stocklake.ErrNotFound) {
		t.Fatalf("Results of a failed query: %v", err)
	}
	got, err := r.Get(context.Background(), ex.ID)
	if err != nil || got.State != stocklake.QueryFailed {
		t.Fatalf("recorded %+v, %v", got, err)
	}
}

func TestReadOnlyRejected(t *testing.T) {
	r, store := newRunner(t, query.Config{})
	_, err := r.Run(context.Background(), "DROP TABLE t")
	if !errors.Is(err, stocklake.ErrInvalid) {
		t.Fatalf("err %v", err)
	}
	objs, _ := store.List(context.Background(), "")
	if len(objs) != 0 {
		t.Fatalf("a rejected statement left %v", objs)
	}
}

func TestTimeout(t *testing.T) {
	r, _ := newRunner(t, query.Config{Timeout: 50 * time.Millisecond})
	ex, err := r.Run(context.Background(), "SELECT sleep")
	if !errors.Is(err, context.DeadlineExceeded) || ex.State != stocklake.QueryFailed || !strings.Contains(ex.Error, "timed out") {
		t.Fatalf("err %v, execution %+v", err, ex)
	}
}

func TestCancel(t *testing.T) {
	eng := &fakeEngine{started: make(chan string, 1)}
	r, _ := newRunner(t, query.Config{Engine: eng})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-eng.started
		cancel() // Ctrl-C
	}()
	ex, err := r.Run(ctx, "SELECT sleep")
	if !errors.Is(err, context.Canceled) || ex.State != stocklake.QueryCancelled {
		t.Fatalf("err %v, execution %+v", err, ex)
	}
	got, err := r.Get(context.Background(), ex.ID)
	if err != nil || got.State != stocklake.QueryCancelled {
		t.Fatalf("recorded %+v, %v", got, err)
	}

	// Cancel by ID.
	ex, err = r.Start(context.Background(), "SELECT sleep")
	if err != nil {
		t.Fatal(err)
	}
	<-eng.started
	if !r.Cancel(ex.ID) {
		t.Fatal("Cancel found no running query")
	}
	ex, err = r.Wait(context.Background(), ex.ID)
	if !errors.Is(err, context.Canceled) || ex.State != stocklake.QueryCancelled {
		t.Fatalf("err %v, execution %+v", err, ex)
	}
}

func TestQueued(t *testing.T) {
	eng := &fakeEngine{started: make(chan string, 2)}
	r, _ := newRunner(t, query.Config{Engine: eng, Concurrency: 1})
	ctx := context.Background()
	first, err := r.Start(ctx, "SELECT sleep 1")
	if err != nil {
		t.Fatal(err)
	}
	<-eng.started
	second, err := r.Start(ctx, "SELECT 2")
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Get(ctx, second.ID)
	if err != nil || got.State != stocklake.QueryQueued {
		t.Fatalf("second query %+v, %v; want QUEUED while the first runs", got, err)
	}
	r.Cancel(first.ID)
	<-eng.started
	if ex, err := r.Wait(ctx, second.ID); err != nil || ex.State != stocklake.QuerySucceeded {
		t.Fatalf("second query %+v, %v", ex, err)
	}
}

func TestBytesScannedCutoff(t *testing.T) {
	r, store := newRunner(t, query.Config{MaxBytesScanned: 500})
	ctx := context.Background()
	// Known only afterwards: the result is discarded.
	ex, err := r.Run(ctx, "SELECT big")
	if !errors.Is(err, stocklake.ErrScanLimit) || ex.State != stocklake.QueryFailed || !strings.Contains(ex.Error, "1.0 GiB") {
		t.Fatalf("err %v, execution %+v", err, ex)
	}
	if _, err := store.Stat(ctx, "query-results/"+ex.ID+".csv"); !errors.Is(err, stocklake.ErrNotFound) {
		t.Fatalf("over-limit result kept: %v", err)
	}
	// Refused up front by an engine that reads the limit from the context.
	ex, err = r.Run(ctx, "SELECT limited")
	if !errors.Is(err, stocklake.ErrScanLimit) || ex.State != stocklake.QueryFailed {
		t.Fatalf("err %v, execution %+v", err, ex)
	}
	if ex, err := r.Run(ctx, "SELECT small"); err != nil || ex.State != stocklake.QuerySucceeded {
		t.Fatalf("within the limit: %+v, %v", ex, err)
	}
}

func TestWriteFormats(t *testing.T) {
	rows := func() stocklake.Rows { return &memRows{data: data, i: -1} }
	var b bytes.Buffer
	if n, err := query.Write(&b, rows(), query.FormatTable); err != nil || n != 4 {
		t.Fatal(n, err)
	}
	lines := strings.Split(b.String(), "\n")
	if !strings.HasPrefix(lines[0], " symbol       | n    | price ") || !strings.HasPrefix(lines[1], "--------------+------+") ||
		!strings.Contains(lines[2], "|    1 |") || !strings.Contains(lines[4], " NULL ") || lines[6] != "(4 rows)" {
		t.Fatalf("table:\n%s", b.String())
	}

	b.Reset()
	if _, err := query.Write(&b, rows(), query.FormatJSON); err != nil {
		t.Fatal(err)
	}
	first := strings.SplitN(b.String(), "\n", 2)[0]
	want := `{"symbol":"AAPL","n":1,"price":230.5,"ts":"2026-11-26 14:05:01.123456","day":"2026-11-26","ok":true,"tags":["a","b"],"amount":"12.50"}`
	if first != want {
		t.Fatalf("json line\n%s\nwant\n%s", first, want)
	}

	b.Reset()
	if n, err := query.Write(&b, rows(), query.FormatParquet); err != nil || n != 4 {
		t.Fatal(n, err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range f.Schema().Fields() {
		names = append(names, c.Name())
	}
	if strings.Join(names, ",") != "symbol,n,price,ts,day,ok,tags,amount" || f.NumRows() != 4 {
		t.Fatalf("parquet columns %v, rows %d", names, f.NumRows())
	}
	if _, err := query.ParseFormat("xml"); !errors.Is(err, stocklake.ErrConfig) {
		t.Fatalf("ParseFormat(xml): %v", err)
	}
}

func TestCheckReadOnly(t *testing.T) {
	ok := []string{
		"SELECT 1", "select 1;", "  -- comment\nSELECT 1 ; ;", "WITH a AS (SELECT 1) SELECT * FROM a",
		"WITH RECURSIVE a(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM a WHERE n < 3), b AS (SELECT 2) SELECT * FROM a, b",
		"VALUES (1), (2)", "SHOW TABLES FROM market", "DESCRIBE market.ticks", "EXPLAIN SELECT 1",
		"EXPLAIN ANALYZE SELECT 1", "EXPLAIN (TYPE DISTRIBUTED) SELECT 1", "(SELECT 1) UNION (SELECT 2)",
		"SELECT 'DROP TABLE x; DELETE' AS s", `SELECT "delete" FROM t`, "/* INSERT */ SELECT 1",
	}
	for _, s := range ok {
		if err := query.CheckReadOnly(s); err != nil {
			t.Errorf("%q rejected: %v", s, err)
		}
	}
	bad := []string{
		"", ";", "DROP TABLE t", "INSERT INTO t VALUES (1)", "SELECT 1; DROP TABLE t", "SELECT 1; SELECT 2",
		"WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a", "EXPLAIN ANALYZE INSERT INTO t VALUES (1)",
		"COPY t TO 'x.csv'", "ATTACH 'x.db'", "SET threads = 1", "PRAGMA version", "CREATE TABLE t AS SELECT 1",
		"UPDATE t SET a = 1", "DELETE FROM t", "CALL system.sync_partition_metadata('a', 'b', 'FULL')",
		"MSCK REPAIR TABLE t", "INSTALL httpfs", "LOAD httpfs", "\"SELECT\" 1",
	}
	for _, s := range bad {
		if err := query.CheckReadOnly(s); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("%q accepted (err %v)", s, err)
		}
	}
}
