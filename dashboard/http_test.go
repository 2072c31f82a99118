package dashboard

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/sqlite"
)

// fakeEngine answers every SELECT with n rows (i bigint, s varchar) and
// fails statements mentioning "nosuchtable" with ErrInvalid.
type fakeEngine struct{ n int }

func (e *fakeEngine) Query(ctx context.Context, sql string) (stocklake.Rows, error) {
	if strings.Contains(sql, "nosuchtable") {
		return nil, fmt.Errorf("table nosuchtable does not exist: %w", stocklake.ErrInvalid)
	}
	return &fakeRows{n: e.n, i: -1}, nil
}
func (e *fakeEngine) Close() error { return nil }

type fakeRows struct{ n, i int }

func (r *fakeRows) Columns() []stocklake.ResultColumn {
	return []stocklake.ResultColumn{{Name: "i", Type: "bigint"}, {Name: "s", Type: "varchar"}}
}
func (r *fakeRows) Next() bool    { r.i++; return r.i < r.n }
func (r *fakeRows) Values() []any { return []any{int64(r.i), fmt.Sprintf("row %d", r.i)} }
func (r *fakeRows) Err() error    { return nil }
func (r *fakeRows) Stats() stocklake.QueryStats {
	return stocklake.QueryStats{BytesScanned: 10, FilesScanned: 1}
}
func (r *fakeRows) Close() error { return nil }

var t0 = time.Date(2026, 11, 23, 14, 30, 0, 0, time.UTC)

func testBar(sym string, i int, final bool) stocklake.Bar {
	p := 100 + float64(i)
	return stocklake.Bar{Symbol: sym, Window: time.Minute, Start: t0.Add(time.Duration(i) * time.Minute),
		Open: p, High: p + 1, Low: p - 1, Close: p + 0.5, Volume: 1000, VWAP: p, Trades: 10,
		FirstTime: t0.Add(time.Duration(i) * time.Minute), LastTime: t0.Add(time.Duration(i)*time.Minute + 59*time.Second), Final: final}
}

type fixture struct {
	srv    *Server
	ts     *httptest.Server
	cat    *sqlite.Catalog
	crawls int
}

// newFixture serves a board with AAPL and MSFT bars and an alert, a SQLite
// catalog with one partitioned table, a fake engine and a file lake.
func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := file.New(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := sqlite.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	if err := cat.CreateDatabase(ctx, stocklake.Database{Name: "stocklake"}); err != nil {
		t.Fatal(err)
	}
	tbl := stocklake.Table{Database: "stocklake", Name: "ticks", Format: stocklake.FormatParquet, Location: store.URL() + "/ticks/",
		Columns:       []stocklake.Column{{Name: "symbol", Type: "string"}, {Name: "price", Type: "double"}},
		PartitionKeys: []stocklake.Column{{Name: "dt", Type: "string"}, {Name: "hour", Type: "string"}}}
	if err := cat.CreateTable(ctx, tbl); err != nil {
		t.Fatal(err)
	}
	if err := cat.AddPartitions(ctx, "stocklake", "ticks", []stocklake.Partition{
		{Values: []string{"2026-11-23", "14"}, Location: tbl.Location + "dt=2026-11-23/hour=14/"},
		{Values: []string{"2026-11-23", "15"}, Location: tbl.Location + "dt=2026-11-23/hour=15/"},
	}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{cat: cat}
	board := NewBoard(0, 0)
	for i := range 3 {
		board.AddBar(testBar("AAPL", i, true), stocklake.Indicators{Bars: int64(i + 1), SMA: 101, EMAFast: math.NaN(), EMASlow: math.NaN(), Volatility: math.NaN(), ZClose: math.NaN(), ZVolume: math.NaN()})
		board.AddBar(testBar("MSFT", i, true), stocklake.Indicators{})
	}
	board.AddAlert(stocklake.Alert{Rule: "aapl-move", Symbol: "AAPL", Kind: stocklake.AlertMove, Message: "AAPL moved 2%", Value: 2, Threshold: 1, Time: t0, Window: time.Minute})
	cfg := Config{Board: board, Catalog: cat, Store: store, Engine: &fakeEngine{n: 250}, EngineName: "fake", MaxRows: 200,
		Crawl: func(ctx context.Context) (stocklake.CrawlRun, error) {
			f.crawls++
			run := stocklake.CrawlRun{ID: fmt.Sprintf("run-%d", f.crawls), Database: "stocklake", LakeURL: store.URL(), Start: time.Now(), End: time.Now(), PartitionsAdded: 2}
			return run, cat.RecordCrawl(ctx, run)
		},
		Sink: func() SinkStats { return SinkStats{Rows: 7, Files: 2, Bytes: 4096, DeadLetters: 1, LastError: ""} },
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	f.srv = srv
	f.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(f.ts.Close)
	return f
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (f *fixture) do(t *testing.T, method, path, token, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := nethttp.NewRequest(method, f.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method == "POST" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 && strings.HasPrefix(path, "/api/") {
		var e apiError
		if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
			t.Errorf("%s %s: error answer %d is not JSON {\"error\":...}: %s", method, path, resp.StatusCode, b)
		}
		if strings.Contains(string(b), "goroutine ") {
			t.Errorf("%s %s: answer carries a stack trace: %s", method, path, b)
		}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

func TestAuth(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Token = testToken })
	for _, p := range []string{"/api/symbols", "/api/health", "/api/queries", "/api/catalog/databases", "/metrics"} {
		if got := f.do(t, "GET", p, "", "", nil); got != 401 {
			t.Errorf("GET %s without token: %d, want 401", p, got)
		}
		if got := f.do(t, "GET", p, "wrong", "", nil); got != 401 {
			t.Errorf("GET %s with a wrong token: %d, want 401", p, got)
		}
		if got := f.do(t, "GET", p, testToken, "", nil); got != 200 {
			t.Errorf("GET %s with the token: %d, want 200", p, got)
		}
	}
	if got := f.do(t, "POST", "/api/query", "", `{"sql":"SELECT 1"}`, nil); got != 401 {
		t.Errorf("POST /api/query without token: %d, want 401", got)
	}
	if got := f.do(t, "POST", "/api/crawl", "wrong", "", nil); got != 401 {
		t.Errorf("POST /api/crawl with a wrong token: %d, want 401", got)
	}
	if f.crawls != 0 {
		t.Errorf("an unauthorized crawl ran")
	}
	// A token in the URL ends up in browser history and proxy logs.
	if got := f.do(t, "GET", "/api/symbols?access_token="+testToken, "", "", nil); got != 401 {
		t.Errorf("access_token in the query: %d, want 401", got)
	}
	for _, p := range []string{"/healthz", "/readyz", "/", "/api/config"} {
		want := 200
		if p == "/readyz" {
			want = 503 // Run not called yet
		}
		if got := f.do(t, "GET", p, "", "", nil); got != want {
			t.Errorf("GET %s without token: %d, want %d", p, got, want)
		}
	}
	var cfg map[string]any
	f.do(t, "GET", "/api/config", "", "", &cfg)
	if cfg["token_required"] != true {
		t.Errorf("/api/config token_required = %v, want true", cfg["token_required"])
	}
}

func TestCheckAddr(t *testing.T) {
	for _, c := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8080", "", true}, {"localhost:8080", "", true}, {"[::1]:8080", "", true}, {"127.0.0.2:0", "", true},
		{"0.0.0.0:8080", "", false}, {":8080", "", false}, {"10.1.2.3:80", "", false}, {"[::]:8080", "", false},
		{"0.0.0.0:8080", testToken, true}, {"nonsense", testToken, false}, {"0.0.0.0:8080", "short", false}, {"127.0.0.1:8080", "short", false},
	} {
		err := CheckAddr(c.addr, c.token)
		if (err == nil) != c.ok {
			t.Errorf("CheckAddr(%q, %q) = %v, want ok=%v", c.addr, c.token, err, c.ok)
		}
	}
	srv, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = srv.Listen("0.0.0.0:0")
	var se *stocklake.SettingError
	if !errors.As(err, &se) || !slices.Equal(se.Settings, []string{"dashboard.Config.Token"}) || !strings.Contains(err.Error(), "without a token") {
		t.Errorf("Listen on 0.0.0.0 without token: %v, want a SettingError naming dashboard.Config.Token", err)
	}
}

func TestSymbolsBarsAlerts(t *testing.T) {
	f := newFixture(t, nil)
	var syms struct{ Symbols []SymbolSummary }
	if got := f.do(t, "GET", "/api/symbols", "", "", &syms); got != 200 {
		t.Fatalf("symbols: %d", got)
	}
	if len(syms.Symbols) != 2 || syms.Symbols[0].Symbol != "AAPL" || syms.Symbols[1].Symbol != "MSFT" {
		t.Fatalf("symbols = %+v", syms.Symbols)
	}
	a := syms.Symbols[0]
	if a.Last != 102.5 || a.Open != 100 || a.Change != 2.5 || a.Volume != 3000 || a.Trades != 30 || len(a.Spark) != 3 {
		t.Errorf("AAPL summary = %+v, want last 102.5, open 100, change 2.5, volume 3000, 30 trades, 3 spark points", a)
	}

	var bars struct {
		Symbol, Window string
		Bars           []map[string]any
	}
	if got := f.do(t, "GET", "/api/bars?symbol=AAPL&window=1m", "", "", &bars); got != 200 {
		t.Fatalf("bars: %d", got)
	}
	if len(bars.Bars) != 3 || bars.Window != "1m" || bars.Bars[2]["close"] != 102.5 || bars.Bars[2]["sma"] != 101.0 || bars.Bars[2]["bars"] != 3.0 {
		t.Errorf("bars = %+v", bars)
	}
	if _, ok := bars.Bars[2]["ema_fast"]; ok {
		t.Errorf("NaN indicator ema_fast was written: %v", bars.Bars[2])
	}
	f.do(t, "GET", "/api/bars?symbol=AAPL&limit=1", "", "", &bars)
	if len(bars.Bars) != 1 || bars.Bars[0]["close"] != 102.5 {
		t.Errorf("limit=1 with the default window: %+v", bars.Bars)
	}
	for _, c := range []struct {
		q    string
		want int
	}{
		{"", 400}, {"?symbol=NOPE&window=1m", 404}, {"?symbol=AAPL&window=banana", 400}, {"?symbol=AAPL&window=-1m", 400},
		{"?symbol=AAPL&limit=-3", 400}, {"?symbol=AAPL&limit=x", 400}, {"?symbol=AAPL&limit=99999999", 400},
	} {
		if got := f.do(t, "GET", "/api/bars"+c.q, "", "", nil); got != c.want {
			t.Errorf("GET /api/bars%s: %d, want %d", c.q, got, c.want)
		}
	}

	var al struct{ Alerts []map[string]any }
	f.do(t, "GET", "/api/alerts", "", "", &al)
	if len(al.Alerts) != 1 || al.Alerts[0]["rule"] != "aapl-move" || al.Alerts[0]["window"] != "1m" {
		t.Errorf("alerts = %+v", al.Alerts)
	}
	f.do(t, "GET", "/api/alerts?symbol=MSFT", "", "", &al)
	if len(al.Alerts) != 0 {
		t.Errorf("MSFT alerts = %+v, want none", al.Alerts)
	}
	if got := f.do(t, "GET", "/api/alerts?limit=abc", "", "", nil); got != 400 {
		t.Errorf("alerts limit=abc: %d, want 400", got)
	}
}

func TestBoardReplacesProvisionalBars(t *testing.T) {
	b := NewBoard(2, 0)
	p := testBar("X", 0, false)
	p.Volume, p.Trades = 100, 1
	b.AddBar(p, stocklake.Indicators{})
	next := testBar("X", 1, false)
	next.Volume, next.Trades = 50, 1
	b.AddBar(next, stocklake.Indicators{})
	final := testBar("X", 0, true) // the final bar of the first window arrives after the next window opened
	b.AddBar(final, stocklake.Indicators{})
	s := b.Symbols()[0]
	if s.Volume != 1050 || s.Trades != 11 {
		t.Errorf("volume %v trades %d, want 1050 and 11 (final bar replaces its provisional one)", s.Volume, s.Trades)
	}
	b.AddBar(testBar("X", 2, true), stocklake.Indicators{})
	bars := b.Bars("X", time.Minute, 0)
	if len(bars) != 2 {
		t.Fatalf("kept %d bars, want 2 (maxBars)", len(bars))
	}
	got, _, err := stocklake.ParseBar(bars[0])
	if err != nil || !got.Start.Equal(t0.Add(time.Minute)) {
		t.Errorf("oldest kept bar starts %v (%v), want %v", got.Start, err, t0.Add(time.Minute))
	}
}

func TestStream(t *testing.T) {
	f := newFixture(t, nil)
	resp, err := nethttp.Get(f.ts.URL + "/api/stream?symbol=AAPL")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	done := make(chan struct{})
	defer close(done)
	go func() { // publish until the client has seen what it waits for
		for i := 3; ; i++ {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			f.srv.board.AddBar(testBar("MSFT", i, false), stocklake.Indicators{})
			f.srv.board.AddBar(testBar("AAPL", i, false), stocklake.Indicators{})
			f.srv.board.AddAlert(stocklake.Alert{Rule: "r", Symbol: "AAPL", Kind: stocklake.AlertCross, Time: t0})
		}
	}()
	seen := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	var kind string
	for sc.Scan() && !(seen["bar"] && seen["alert"] && seen["symbol"]) {
		line := sc.Text()
		if k, ok := strings.CutPrefix(line, "event: "); ok {
			kind = k
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			seen[kind] = true
			if kind == "bar" {
				b, _, err := stocklake.ParseBar([]byte(d))
				if err != nil || b.Symbol != "AAPL" {
					t.Fatalf("bar event %s: %v (want only AAPL bars)", d, err)
				}
			}
		}
	}
	if !(seen["bar"] && seen["alert"] && seen["symbol"]) {
		t.Errorf("events seen %v, want bar, alert and symbol (%v)", seen, sc.Err())
	}
}

type queryAnswer struct {
	Query struct {
		ID, State, Error string
		Rows             int64
		Truncated        bool
	}
	Columns []columnView
	Rows    [][]*string
}

func (f *fixture) wait(t *testing.T, id string) queryAnswer {
	t.Helper()
	var a queryAnswer
	for range 500 {
		a = queryAnswer{}
		if got := f.do(t, "GET", "/api/query/"+id, "", "", &a); got != 200 {
			t.Fatalf("GET query: %d", got)
		}
		if a.Query.State != "QUEUED" && a.Query.State != "RUNNING" {
			return a
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("query %s did not finish: %+v", id, a)
	return a
}

func TestQuery(t *testing.T) {
	f := newFixture(t, nil)
	var started struct{ ID, State string }
	if got := f.do(t, "POST", "/api/query", "", `{"sql":"SELECT * FROM ticks"}`, &started); got != 202 || started.ID == "" {
		t.Fatalf("POST /api/query: %d %+v", got, started)
	}
	a := f.wait(t, started.ID)
	if a.Query.State != "SUCCEEDED" || a.Query.Rows != 200 || !a.Query.Truncated {
		t.Errorf("query = %+v, want SUCCEEDED with 200 rows (the row limit) and truncated", a.Query)
	}
	if len(a.Columns) != 2 || a.Columns[0].Name != "i" || a.Columns[0].Type != "bigint" || len(a.Rows) != DefaultPageSize || *a.Rows[0][1] != "row 0" {
		t.Errorf("first page: %d columns, %d rows, first %v", len(a.Columns), len(a.Rows), a.Rows[0])
	}
	f.do(t, "GET", "/api/query/"+started.ID+"?offset=150&limit=100", "", "", &a)
	if len(a.Rows) != 50 || *a.Rows[0][0] != "150" {
		t.Errorf("page at 150: %d rows, first %v; want 50 rows from 150", len(a.Rows), a.Rows)
	}
	for _, q := range []string{"?offset=-1", "?limit=abc", "?limit=1001", "?offset=1000000"} {
		if got := f.do(t, "GET", "/api/query/"+started.ID+q, "", "", nil); got != 400 {
			t.Errorf("GET query%s: %d, want 400", q, got)
		}
	}

	resp, err := nethttp.Get(f.ts.URL + "/api/query/" + started.ID + "/csv")
	if err != nil {
		t.Fatal(err)
	}
	csv, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) != 201 || !strings.Contains(lines[0], "i") {
		t.Errorf("CSV has %d lines (want header + 200): %.80q", len(lines), csv)
	}

	for _, c := range []struct{ body, want string }{
		{`{"sql":"DROP TABLE ticks"}`, "DROP"},
		{`{"sql":"SELECT 1; DELETE FROM ticks"}`, ""},
		{`{"sql":"INSERT INTO ticks VALUES (1)"}`, "INSERT"},
		{`{"sql":"  "}`, "empty"},
		{`not json`, "JSON"},
		{`{"sql": 42}`, "JSON"},
	} {
		var e apiError
		if got := f.do(t, "POST", "/api/query", "", c.body, &e); got != 400 || !strings.Contains(e.Error, c.want) {
			t.Errorf("POST %s: %d %q, want 400 mentioning %q", c.body, got, e.Error, c.want)
		}
	}
	// Bad SQL fails as a query, with the engine's message.
	f.do(t, "POST", "/api/query", "", `{"sql":"SELECT * FROM nosuchtable"}`, &started)
	if a := f.wait(t, started.ID); a.Query.State != "FAILED" || !strings.Contains(a.Query.Error, "nosuchtable") || a.Rows != nil {
		t.Errorf("bad SQL: %+v, want FAILED naming the table and no rows", a.Query)
	}
	if got := f.do(t, "GET", "/api/query/01a2175b-1469-7c6c-a6e0-df025cb3280d", "", "", nil); got != 404 {
		t.Errorf("unknown query: %d, want 404", got)
	}
	if got := f.do(t, "GET", "/api/query/..%2f..%2fetc", "", "", nil); got != 400 && got != 404 {
		t.Errorf("bad query ID: %d, want 400 or 404", got)
	}
	if got := f.do(t, "GET", "/api/query/not-an-id!/csv", "", "", nil); got != 400 {
		t.Errorf("bad query ID for CSV: %d, want 400", got)
	}
	if got := f.do(t, "DELETE", "/api/query/01a2175b-1469-7c6c-a6e0-df025cb3280d", "", "", nil); got != 404 {
		t.Errorf("cancel of a query not running: %d, want 404", got)
	}

	var hist struct {
		Queries []struct{ ID, State, SQL string }
	}
	f.do(t, "GET", "/api/queries", "", "", &hist)
	if len(hist.Queries) != 2 || hist.Queries[0].State != "FAILED" || hist.Queries[1].State != "SUCCEEDED" {
		t.Errorf("history = %+v, want the failed then the succeeded query", hist.Queries)
	}
	if got := f.do(t, "GET", "/api/queries?limit=-5", "", "", nil); got != 400 {
		t.Errorf("queries limit=-5: %d, want 400", got)
	}
}

func TestCatalogAndCrawl(t *testing.T) {
	f := newFixture(t, nil)
	var dbs struct{ Databases []struct{ Name string } }
	f.do(t, "GET", "/api/catalog/databases", "", "", &dbs)
	if len(dbs.Databases) != 1 || dbs.Databases[0].Name != "stocklake" {
		t.Errorf("databases = %+v", dbs)
	}
	var tables struct{ Tables []tableView }
	f.do(t, "GET", "/api/catalog/tables?database=stocklake", "", "", &tables)
	if len(tables.Tables) != 1 || tables.Tables[0].Name != "ticks" || len(tables.Tables[0].Columns) != 2 {
		t.Errorf("tables = %+v", tables)
	}
	var tbl struct {
		Name           string
		Columns        []columnView
		PartitionKeys  []columnView `json:"partition_keys"`
		Partitions     []partitionView
		PartitionCount int `json:"partition_count"`
	}
	if got := f.do(t, "GET", "/api/catalog/tables/stocklake/ticks", "", "", &tbl); got != 200 {
		t.Fatalf("table: %d", got)
	}
	if tbl.PartitionCount != 2 || len(tbl.Partitions) != 2 || len(tbl.PartitionKeys) != 2 || tbl.Columns[1].Type != "double" {
		t.Errorf("table = %+v", tbl)
	}
	f.do(t, "GET", "/api/catalog/tables/stocklake/ticks?partitions=1", "", "", &tbl)
	if len(tbl.Partitions) != 1 || tbl.PartitionCount != 2 {
		t.Errorf("partitions=1: %d partitions of %d", len(tbl.Partitions), tbl.PartitionCount)
	}
	for _, c := range []struct {
		path string
		want int
	}{
		{"/api/catalog/tables/stocklake/nope", 404}, {"/api/catalog/tables/nodb/ticks", 404},
		{"/api/catalog/tables?database=nodb", 404}, {"/api/catalog/tables/stocklake/ticks?partitions=-1", 400},
		{"/api/crawls?limit=x", 400}, {"/api/nothing", 404},
	} {
		if got := f.do(t, "GET", c.path, "", "", nil); got != c.want {
			t.Errorf("GET %s: %d, want %d", c.path, got, c.want)
		}
	}

	var run crawlView
	if got := f.do(t, "POST", "/api/crawl", "", "", &run); got != 200 || run.ID != "run-1" || !strings.Contains(run.Summary, "2 added") {
		t.Errorf("crawl: %d %+v", got, run)
	}
	var crawls struct{ Crawls []crawlView }
	f.do(t, "GET", "/api/crawls", "", "", &crawls)
	if len(crawls.Crawls) != 1 || crawls.Crawls[0].ID != "run-1" {
		t.Errorf("crawls = %+v", crawls)
	}
}

func TestNotConfigured(t *testing.T) {
	srv, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv, ts: httptest.NewServer(srv.Handler())}
	defer f.ts.Close()
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/query"}, {"GET", "/api/queries"}, {"GET", "/api/catalog/databases"}, {"GET", "/api/crawls"}, {"POST", "/api/crawl"},
	} {
		if got := f.do(t, c.method, c.path, "", `{"sql":"SELECT 1"}`, nil); got != 503 {
			t.Errorf("%s %s without backends: %d, want 503", c.method, c.path, got)
		}
	}
	var h Health
	if got := f.do(t, "GET", "/api/health", "", "", &h); got != 200 || h.Status != "ok" || h.Sink != nil {
		t.Errorf("health without backends: %d %+v", got, h)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Sink = func() SinkStats { return SinkStats{Rows: 7, Files: 2, Bytes: 4096, LastError: "lake unreachable"} }
	})
	var h Health
	f.do(t, "GET", "/api/health", "", "", &h)
	if h.Sink == nil || h.Sink.Files != 2 || h.Sink.Bytes != 4096 || h.Feed.Bars != 6 || h.Feed.Symbols != 2 {
		t.Errorf("health = %+v", h)
	}
	if h.Status != "degraded" || !strings.Contains(h.LastError, "lake unreachable") {
		t.Errorf("status %q last error %q, want degraded with the sink's error", h.Status, h.LastError)
	}
	resp, err := nethttp.Get(f.ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"stocklake_board_bars_total 6", "stocklake_http_requests_total{code=\"200\",route=\"GET /api/health\"} 1", "go_goroutines"} {
		if !strings.Contains(string(b), m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}
}

func TestReady(t *testing.T) {
	f := newFixture(t, nil)
	if got := f.do(t, "GET", "/readyz", "", "", nil); got != 503 {
		t.Errorf("readyz before Run: %d, want 503", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.srv.Run(ctx) }()
	for range 200 {
		if f.do(t, "GET", "/readyz", "", "", nil) == 200 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := f.do(t, "GET", "/readyz", "", "", nil); got != 200 {
		t.Errorf("readyz after Run: %d, want 200", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestStatic(t *testing.T) {
	f := newFixture(t, nil)
	for _, p := range []string{"/", "/index.html", "/some/app/route"} {
		resp, err := nethttp.Get(f.ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `<script type="module" src="/app.js">`) {
			t.Errorf("GET %s: %d %.100s, want the app's index.html", p, resp.StatusCode, b)
		}
	}
	resp, err := nethttp.Get(f.ts.URL + "/app.js")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(resp.Header.Get("Content-Type"), "javascript") || len(b) < 10000 || strings.Contains(string(b), "https://unpkg") {
		t.Errorf("app.js: %s, %d bytes", resp.Header.Get("Content-Type"), len(b))
	}
	if got := f.do(t, "POST", "/", "", "x", nil); got != 405 {
		t.Errorf("POST /: %d, want 405", got)
	}
}

// TestOpenAPICoversRoutes checks that openapi.yaml documents every API route.
func TestOpenAPICoversRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openapiYAML, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	src, err := os.ReadFile("http.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(src), "\n") {
		_, rest, ok := strings.Cut(line, `s.handle("`)
		if !ok {
			continue
		}
		pattern, _, _ := strings.Cut(rest, `"`)
		method, path, ok := strings.Cut(pattern, " ")
		if !ok || path == "/api/openapi.yaml" {
			continue
		}
		n++
		ops, found := doc.Paths[path]
		if !found {
			t.Errorf("openapi.yaml lacks path %s", path)
			continue
		}
		if _, found := ops[strings.ToLower(method)]; !found {
			t.Errorf("openapi.yaml lacks %s %s", method, path)
		}
	}
	if n < 18 {
		t.Errorf("found %d routes in http.go; the scan is broken", n)
	}
}

// sourceHash is build.mjs's sourceHash.
func sourceHash(t *testing.T) string {
	files := []string{"build.mjs", "package.json", "package-lock.json"}
	ents, err := os.ReadDir("web/src")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		files = append(files, "src/"+e.Name())
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("web", f))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(h, "%s\n%s\n", f, hex.EncodeToString(sum[:]))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestDistUpToDate fails when web/ sources changed without a rebuild of
// web/dist (cd dashboard/web && npm ci && npm run build).
func TestDistUpToDate(t *testing.T) {
	got, err := os.ReadFile("web/dist/SOURCE_HASH")
	if err != nil {
		t.Fatal(err)
	}
	if want := sourceHash(t); strings.TrimSpace(string(got)) != want {
		t.Errorf("web/dist is stale: SOURCE_HASH %s, sources hash to %s; run: cd dashboard/web && npm ci && npm run build", strings.TrimSpace(string(got)), want)
	}
	for _, f := range []string{"index.html", "app.js", "style.css"} {
		if _, err := distFS.Open("web/dist/" + f); err != nil {
			t.Errorf("embedded dist lacks %s", f)
		}
	}
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	b, _ := os.ReadFile("web/package-lock.json")
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatal(err)
	}
	if v := lock.Packages["node_modules/lightweight-charts"].Version; v == "" || !slices.Contains([]string{"5.2.1"}, v) {
		t.Errorf("package-lock pins lightweight-charts %q, want 5.2.1", v)
	}
}

// TestQueryExactlyMaxRows: a result of exactly MaxRows rows is whole, not
// "cut at the row limit" (the console used to mark every result of
// MaxRows rows truncated; the runner now knows whether more rows came).
func TestQueryExactlyMaxRows(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Engine = &fakeEngine{n: 200} })
	var started struct{ ID, State string }
	if got := f.do(t, "POST", "/api/query", "", `{"sql":"SELECT * FROM ticks"}`, &started); got != 202 {
		t.Fatalf("POST /api/query: %d", got)
	}
	a := f.wait(t, started.ID)
	if a.Query.State != "SUCCEEDED" || a.Query.Rows != 200 || a.Query.Truncated {
		t.Errorf("query = %+v, want SUCCEEDED with 200 rows, not truncated", a.Query)
	}
}

// TestHealthTables: the health page lists the lake's tables with their
// file counts and last maintenance, as Config.Tables reports them; an
// error there makes the pipeline degraded.
func TestHealthTables(t *testing.T) {
	at := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	fail := false
	f := newFixture(t, func(c *Config) {
		c.Tables = func(context.Context) ([]TableHealth, error) {
			if fail {
				return nil, errors.New("catalog locked")
			}
			return []TableHealth{{Database: "stocklake", Name: "ticks", Format: "iceberg", Files: 3, Bytes: 3 << 20, LastMaintenance: &at},
				{Database: "stocklake", Name: "quotes", Format: "hive", Files: 40000, Bytes: 1 << 30}}, nil
		}
	})
	var raw map[string]any
	f.do(t, "GET", "/api/health", "", "", &raw)
	ts, _ := raw["tables"].([]any)
	if len(ts) != 2 {
		t.Fatalf("health tables = %v, want two", raw["tables"])
	}
	ice, hive := ts[0].(map[string]any), ts[1].(map[string]any)
	if ice["files"] != float64(3) || ice["last_maintenance"] != "2026-12-06T05:00:00Z" || hive["files"] != float64(40000) {
		t.Errorf("health tables = %v", ts)
	}
	if _, ok := hive["last_maintenance"]; ok {
		t.Errorf("a table never maintained has last_maintenance %v, want it absent", hive["last_maintenance"])
	}
	fail = true
	var h Health
	f.do(t, "GET", "/api/health", "", "", &h)
	if h.Status != "degraded" || !strings.Contains(h.LastError, "catalog locked") {
		t.Errorf("status %q, last error %q: want degraded with the tables' error", h.Status, h.LastError)
	}
}
