package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/internal/gluefake"
	"github.com/stocklake/stocklake/s3"
	"github.com/stocklake/stocklake/sqlite"
)

// readTickTable reads a tick table with iceberg-go, failing t for each
// tick it holds more than once: its rows, its distinct ticks (symbol,
// trade_id), its offsets and their sum (the records it accounts for).
func readTickTable(t *testing.T, tbl *iceberg.Table) (rows, distinct int, offs map[stocklake.TopicPartition]int64, sum int64) {
	t.Helper()
	keys, err := tbl.TickKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for k, n := range keys {
		rows += n
		if n != 1 {
			t.Errorf("%q is in the table %d times", k, n)
		}
	}
	offs, err = tbl.Offsets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range offs {
		sum += o
	}
	return rows, len(keys), offs, sum
}

// runCommand runs a command line in this process and returns its error.
func runCommand(t *testing.T, args ...string) error {
	t.Helper()
	root := rootCommand()
	if err := root.Parse(interspersed(root, args)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return root.Run(ctx)
}

// TestSinkTableFormatIceberg runs `stocklake sink --table-format iceberg`
// twice over a kfake broker (more ticks between the runs) and reads the
// table with iceberg-go: every tick once, offsets in the table. The catalog
// is a sqlite:// file, then glue:// (an in-process Glue API).
func TestSinkTableFormatIceberg(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		dbPath := filepath.Join(t.TempDir(), "catalog.db")
		testSinkTableFormatIceberg(t, "sqlite://"+dbPath, iceberg.Config{SQLitePath: dbPath})
	})
	t.Run("glue", func(t *testing.T) {
		f := gluefake.New(t)
		t.Setenv("AWS_ACCESS_KEY_ID", "key")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
		testSinkTableFormatIceberg(t, "glue://us-east-1?endpoint="+f.URL,
			iceberg.Config{Glue: &iceberg.GlueConfig{Region: "us-east-1", Endpoint: f.URL}})
	})
}

func testSinkTableFormatIceberg(t *testing.T, catURL string, catCfg iceberg.Config) {
	brokers, kc := fakeKafka(t, 2)
	dir := t.TempDir()
	lakeDir := filepath.Join(dir, "lake")
	args := []string{"sink", "--brokers", brokers, "--lake", "file://" + lakeDir,
		"--catalog", catURL, "--table-format", "iceberg", "--exit-when-idle", "--flush-interval", "100ms", "--max-rows", "300"}
	produce := func(prefix string, n int) []stocklake.Tick {
		base := time.Date(2026, 11, 26, 23, 59, 0, 0, time.UTC)
		return produceTicks(t, kc, n, func(i int) stocklake.Tick {
			return stocklake.Tick{Symbol: []string{"AAPL", "MSFT", "NVDA", "TSLA"}[i%4], Time: base.Add(time.Duration(i) * 100 * time.Millisecond),
				Price: 100 + float64(i%10), Size: 1, Exchange: "XNAS", TradeID: prefix + strconv.Itoa(i), Source: "test"}
		})
	}
	want := produce("a", 1000)
	if err := runCommand(t, args...); err != nil {
		t.Fatal(err)
	}
	want = append(want, produce("b", 500)...)
	if err := runCommand(t, args...); err != nil {
		t.Fatal(err)
	}
	st, err := file.New(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	catCfg.Warehouse = st.URL()
	cat, err := iceberg.Open(context.Background(), catCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	tbl, err := cat.OpenTable(context.Background(), stocklake.DefaultDatabase, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	rows, distinct, offs, sum := readTickTable(t, tbl)
	if rows != len(want) || distinct != len(want) {
		t.Errorf("table has %d rows, %d distinct ticks; want %d", rows, distinct, len(want))
	}
	if sum != int64(len(want)) {
		t.Errorf("table offsets %v sum to %d, want %d", offs, sum, len(want))
	}
	if catCfg.SQLitePath == "" {
		return // the rest reads the sqlite catalog's file
	}
	dbPath := catCfg.SQLitePath
	t.Run("serve --iceberg-rest", func(t *testing.T) { checkIcebergREST(t, dbPath, "file://"+lakeDir, len(want)) })

	// `stocklake query` reads the table with the embedded engine (its
	// result is kept as CSV in the lake's query-results/ folder).
	perSymbol := map[string]int{}
	for _, tk := range want {
		perSymbol[tk.Symbol]++
	}
	if err := runCommand(t, "query", "--catalog", "sqlite://"+dbPath, "--lake", "file://"+lakeDir, "--format", "csv",
		"SELECT symbol, count(*) AS n, count(DISTINCT trade_id) AS d FROM ticks WHERE ts >= TIMESTAMP '2026-11-26 00:00:00 UTC' GROUP BY symbol ORDER BY symbol"); err != nil {
		t.Fatal(err)
	}
	results, _ := filepath.Glob(filepath.Join(lakeDir, "query-results", "*.csv"))
	if len(results) != 1 {
		t.Fatalf("query results %v, want one CSV", results)
	}
	got, err := os.ReadFile(results[0])
	if err != nil {
		t.Fatal(err)
	}
	wantCSV := "\"symbol\",\"n\",\"d\"\n"
	for _, sym := range []string{"AAPL", "MSFT", "NVDA", "TSLA"} {
		wantCSV += fmt.Sprintf("\"%s\",\"%d\",\"%d\"\n", sym, perSymbol[sym], perSymbol[sym])
	}
	if string(got) != wantCSV {
		t.Errorf("stocklake query over the Iceberg table wrote\n%s\nwant\n%s", got, wantCSV)
	}

	// Before any crawl the database exists only as the sink's Iceberg
	// namespace: catalog tables lists the table all the same.
	var before []stocklake.Table
	stdoutJSON(t, &before, "catalog", "tables", "--catalog", "sqlite://"+dbPath, "--format", "json")
	if len(before) != 1 || before[0].Name != "ticks" {
		t.Errorf("catalog tables before a crawl: %+v", before)
	}

	// A crawl of the lake finds the table's folder, sees it is the
	// registered Iceberg table, and crawls none of its files as Hive.
	if err := runCommand(t, "crawl", "--lake", "file://"+lakeDir, "--catalog", "sqlite://"+dbPath, "--database", stocklake.DefaultDatabase); err != nil {
		t.Fatal(err)
	}
	sc, err := sqlite.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if hive, err := sc.ListTables(context.Background(), stocklake.DefaultDatabase); err != nil || len(hive) != 0 {
		t.Errorf("Hive tables after the crawl: %v, %v; want none", hive, err)
	}
	// `stocklake catalog` shows the table and its snapshots with offsets.
	catArgs := []string{"--catalog", "sqlite://" + dbPath, "--format", "json"}
	var listed []stocklake.Table
	stdoutJSON(t, &listed, append([]string{"catalog", "tables"}, catArgs...)...)
	if len(listed) != 1 || listed[0].Name != "ticks" || listed[0].Parameters["table_type"] != "ICEBERG" || listed[0].Parameters["partitioning"] != "day(ts)" {
		t.Errorf("catalog tables: %+v, want the Iceberg table ticks partitioned by day(ts)", listed)
	}
	var snaps []stocklake.TableSnapshot
	stdoutJSON(t, &snaps, append([]string{"catalog", "snapshots", "ticks"}, catArgs...)...)
	var added int
	for _, sn := range snaps {
		n, _ := strconv.Atoi(sn.Summary["added-records"])
		added += n
	}
	if len(snaps) < 2 || added != len(want) || snaps[0].Operation != "append" {
		t.Errorf("catalog snapshots: %d snapshots adding %d records (newest %q), want at least 2 appends adding %d", len(snaps), added, snaps[0].Operation, len(want))
	}
	if sum := func() (s int64) {
		for _, o := range snaps[0].Offsets {
			s += o
		}
		return s
	}(); sum != int64(len(want)) {
		t.Errorf("catalog snapshots: newest offsets %v, want them to sum to %d", snaps[0].Offsets, len(want))
	}
	var one struct {
		stocklake.Table
		Snapshots []stocklake.TableSnapshot
	}
	stdoutJSON(t, &one, append([]string{"catalog", "table", "ticks"}, catArgs...)...)
	if len(one.Columns) != 8 || len(one.Snapshots) != len(snaps) || one.Parameters["current-snapshot-id"] != strconv.FormatInt(snaps[0].ID, 10) {
		t.Errorf("catalog table ticks: %+v", one)
	}

	// Time travel through `stocklake query` (the read-only guard lets the
	// clause through): the oldest snapshot has fewer rows than the table.
	oldest := snaps[len(snaps)-1]
	if err := runCommand(t, "query", "--catalog", "sqlite://"+dbPath, "--lake", "file://"+lakeDir, "--format", "csv",
		fmt.Sprintf("SELECT count(*) AS n FROM ticks FOR VERSION AS OF %d", oldest.ID)); err != nil {
		t.Fatal(err)
	}
	results, _ = filepath.Glob(filepath.Join(lakeDir, "query-results", "*.csv"))
	var counts []string
	for _, r := range results {
		b, err := os.ReadFile(r)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(string(b), "\"n\"\n") {
			counts = append(counts, strings.TrimSpace(strings.TrimPrefix(string(b), "\"n\"\n")))
		}
	}
	if want := fmt.Sprintf("%q", oldest.Summary["added-records"]); len(counts) != 1 || counts[0] != want {
		t.Errorf("FOR VERSION AS OF the oldest snapshot counted %v, want [%s]", counts, want)
	}

}

// checkIcebergREST runs `stocklake serve --iceberg-rest --token T` over a
// catalog holding stocklake.ticks with rows rows, and reads the table with
// iceberg-go's REST client at http://ADDR/iceberg (given the token as its
// OAuth credential): every row, and the dashboard beside it still answers.
// Without the token: 401.
func checkIcebergREST(t *testing.T, dbPath, lakeURL string, rows int) {
	const token = "serve-iceberg-rest-token-0123456789"
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t, false))
	root := rootCommand()
	args := []string{"serve", "--brokers", "127.0.0.1:1", "--http", addr, "--catalog", "sqlite://" + dbPath, "--lake", lakeURL,
		"--iceberg-rest", "--token", token, "--log-level", "warn"}
	if err := root.Parse(interspersed(root, args)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("serve: %v", err)
		}
	}()
	uri := "http://" + addr + "/iceberg"
	var resp *nethttp.Response
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err = nethttp.Get(uri + "/v1/config"); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve does not answer on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp.Body.Close()
	if resp.StatusCode != nethttp.StatusUnauthorized {
		t.Errorf("GET /iceberg/v1/config without the token: %d, want 401", resp.StatusCode)
	}
	// credential=ID:TOKEN: a POST of a form to the OAuth endpoint, through
	// the dashboard's guards, then the token as a bearer token.
	cat, err := rest.NewCatalog(ctx, "stocklake", uri, rest.WithCredential("spark:"+token))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	tbl, err := cat.LoadTable(ctx, table.Identifier{stocklake.DefaultDatabase, "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	arrow, err := tbl.Scan().ToArrowTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer arrow.Release()
	if int(arrow.NumRows()) != rows {
		t.Errorf("a scan through serve --iceberg-rest reads %d rows, want %d", arrow.NumRows(), rows)
	}
	req, _ := nethttp.NewRequest(nethttp.MethodGet, "http://"+addr+"/api/catalog/databases", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := nethttp.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("the dashboard API beside the REST catalog: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// TestSinkTableFormatErrors: a bad --table-format, iceberg without a
// catalog or with a bad Glue URL, iceberg with JSON lines (--format
// json; JSON objects land as Parquet, --schema json), and a partitioning
// ticks cannot have are configuration errors that say what to do. (With
// --schema auto or json, day,price may partition a JSON table: the first
// records decide.)
func TestSinkTableFormatErrors(t *testing.T) {
	dir := t.TempDir()
	base := []string{"sink", "--brokers", "127.0.0.1:1", "--lake", "file://" + filepath.Join(dir, "lake")}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--table-format", "delta"}, "want auto, hive or iceberg"},
		{[]string{"--table-format", "iceberg"}, "needs --catalog sqlite://"},
		{[]string{"--table-format", "iceberg", "--catalog", "glue://us-east-1?max_retries=x"}, "max_retries"},
		{[]string{"--table-format", "iceberg", "--catalog", "glue://us-east-1?endpoint=ftp://x"}, "endpoint"},
		{[]string{"--table-format", "iceberg", "--catalog", "mysql://x"}, "sqlite://PATH or glue://REGION"},
		{[]string{"--table-format", "iceberg", "--catalog", "sqlite://" + filepath.Join(dir, "c.db"), "--format", "json"}, "records in Parquet"},
		{[]string{"--table-format", "iceberg", "--catalog", "sqlite://" + filepath.Join(dir, "c.db"), "--partition-by", "dt,hour"}, "hour alone"},
		{[]string{"--table-format", "iceberg", "--catalog", "sqlite://" + filepath.Join(dir, "c.db"), "--partition-by", "minute"}, "no minute transform"},
		{[]string{"--table-format", "iceberg", "--catalog", "sqlite://" + filepath.Join(dir, "c.db"), "--schema", "tick", "--partition-by", "day,price"}, "symbol, exchange, source"},
	} {
		err := runCommand(t, append(base, tc.args...)...)
		if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want a configuration error containing %q", tc.args, err, tc.want)
		}
	}
}

// stdoutJSON runs a command line in this process and decodes what it
// printed to stdout as JSON into v.
func stdoutJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stdout
	os.Stdout = f
	err = runCommand(t, args...)
	os.Stdout = saved
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	out, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%v printed %s: %v", args, out, err)
	}
}

// TestServeIcebergRESTErrors: --iceberg-rest without a sqlite catalog, or
// vending credentials of a lake that is not on S3, is a configuration error
// that says what to do, before anything listens.
func TestServeIcebergRESTErrors(t *testing.T) {
	dir := t.TempDir()
	base := []string{"serve", "--brokers", "127.0.0.1:1", "--http", "127.0.0.1:0", "--lake", "file://" + filepath.Join(dir, "lake"), "--iceberg-rest"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--catalog", ""}, "--iceberg-rest needs --catalog sqlite://"},
		{[]string{"--catalog", "sqlite://" + filepath.Join(dir, "c.db"), "--iceberg-rest-vend-credentials"}, "is not on s3://"},
	} {
		err := runCommand(t, append(base, tc.args...)...)
		if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want a configuration error containing %q", tc.args, err, tc.want)
		}
	}
}

// TestServeIcebergRESTS3Config: serve's REST catalog over an s3:// lake
// tells clients the lake URL's endpoint and region with path-style access,
// and the server's S3 keys only with --iceberg-rest-vend-credentials.
func TestServeIcebergRESTS3Config(t *testing.T) {
	ctx := context.Background()
	s3srv := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	defer s3srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "serve-key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "serve-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	lakeURL := "s3://rest-bucket/lake?endpoint=" + s3srv.URL + "&region=eu-west-3"
	store, err := openStore(ctx, lakeURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.(*s3.ObjectStore).CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	catURL := "sqlite://" + filepath.Join(t.TempDir(), "catalog.db")
	lazy, closeTbl, err := openIcebergTable(ctx, catURL, lakeURL, store, "market", "ticks", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer closeTbl()
	if _, err := lazy.Decide(ctx, stocklake.TableShape{Schema: "tick"}); err != nil {
		t.Fatal(err)
	}
	tbl, err := lazy.Table(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tbl.Location(), "s3://rest-bucket/lake/") {
		t.Fatalf("table at %s", tbl.Location())
	}
	for _, vend := range []bool{false, true} {
		rf := icebergRESTFlags{enabled: true, vend: vend}
		h, closeRest, err := rf.handler(ctx, catURL, lakeURL, store, "", slog.Default())
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(nethttp.MethodGet, "/v1/namespaces/market/tables/ticks", nil))
		closeRest()
		var res struct {
			MetadataLocation string `json:"metadata-location"`
			Config           map[string]string
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &res); rec.Code != 200 || err != nil {
			t.Fatalf("load table (vend %v): %d %s %v", vend, rec.Code, rec.Body, err)
		}
		c := res.Config
		if c["s3.endpoint"] != s3srv.URL || c["client.region"] != "eu-west-3" || c["s3.path-style-access"] != "true" {
			t.Errorf("table config (vend %v) %v: want the lake URL's endpoint, region and path-style", vend, c)
		}
		if vend != (c["s3.access-key-id"] == "serve-key" && c["s3.secret-access-key"] == "serve-secret") {
			t.Errorf("table config with vend %v: keys %q/%q", vend, c["s3.access-key-id"], c["s3.secret-access-key"])
		}
		if !vend && strings.Contains(rec.Body.String(), "serve-secret") {
			t.Errorf("the secret key is in the answer without --iceberg-rest-vend-credentials")
		}
	}
}
