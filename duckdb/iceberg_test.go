package duckdb_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	icego "github.com/apache/iceberg-go"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	"github.com/apache/iceberg-go/table"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/duckdb"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/s3"
	"github.com/stocklake/stocklake/sink"
	"github.com/stocklake/stocklake/sqlite"
)

// icebergLake is a sqlite catalog file holding Iceberg tables, a file://
// lake (the warehouse) and an engine reading both.
type icebergLake struct {
	dir    string
	cat    *sqlite.Catalog
	ice    *iceberg.Catalog
	store  stocklake.ObjectStore
	engine *duckdb.Engine
}

func newIcebergLake(t *testing.T) *icebergLake {
	t.Helper()
	dir := t.TempDir()
	store, err := file.New(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	return newIcebergLakeOn(t, dir, store, iceberg.Config{})
}

// newIcebergLakeOn makes the catalog file under dir and an engine over
// store, the warehouse (cfg adds S3 settings).
func newIcebergLakeOn(t *testing.T, dir string, store stocklake.ObjectStore, cfg iceberg.Config) *icebergLake {
	t.Helper()
	ctx := context.Background()
	cat, err := sqlite.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	cfg.SQLitePath, cfg.Warehouse = filepath.Join(dir, "catalog.db"), store.URL()
	ic, err := iceberg.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ic.Close() })
	e, err := duckdb.New(ctx, duckdb.Config{Catalog: cat, Store: store, Iceberg: ic, Database: "market", CacheDir: t.TempDir(), Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return &icebergLake{dir: dir, cat: cat, ice: ic, store: store, engine: e}
}

// icebergTicks are n ticks of one symbol on one UTC day (day 0 =
// 2026-12-01), spread over the day.
func icebergTicks(sym string, day, n int) []stocklake.Tick {
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, day)
	out := make([]stocklake.Tick, n)
	for i := range out {
		out[i] = stocklake.Tick{Symbol: sym, Time: base.Add(time.Duration(i) * 24 * time.Hour / time.Duration(n+1)).Add(7 * time.Microsecond),
			Price: 100 + float64(i%50)/4, Size: float64(i%9 + 1), Exchange: "XNYS", TradeID: fmt.Sprintf("%s-%d-%d", sym, day, i),
			Conditions: []string{"@"}, Source: "test"}
	}
	return out
}

// writeIcebergFile writes ticks (one partition) as the sink does
// (sink.TickRow, zstd) where the table wants them and returns the file.
func writeIcebergFile(t *testing.T, l *icebergLake, tbl *iceberg.Table, name string, ts []stocklake.Tick) stocklake.LakeFile {
	t.Helper()
	codec, err := sink.ParseCodec("zstd")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[sink.TickRow](&buf, parquet.Compression(codec))
	for _, tk := range ts {
		if _, err := w.Write([]sink.TickRow{{Symbol: tk.Symbol, TS: tk.Time.UnixMicro(), Price: tk.Price, Size: tk.Size,
			Exchange: tk.Exchange, TradeID: tk.TradeID, Conditions: tk.Conditions, Source: tk.Source}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	key, ok := tbl.DataFileKey(&ts[0], name)
	if !ok {
		t.Fatalf("table %s is outside the lake", tbl.Location())
	}
	if err := l.store.Put(context.Background(), key, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	return stocklake.LakeFile{URL: tbl.DataFileURL(&ts[0], name)}
}

// icebergFixture is market.ticks: snapshot 1 adds day 0 (AAPL 300 ticks,
// MSFT 200), snapshot 2 adds day 1 (AAPL 100, MSFT 400), one file each.
type icebergFixture struct {
	l            *icebergLake
	snap1, snap2 stocklake.TableSnapshot
	ticks        [][]stocklake.Tick // per file
}

func newIcebergFixture(t *testing.T) *icebergFixture {
	t.Helper()
	return newIcebergFixtureOn(t, newIcebergLake(t))
}

func newIcebergFixtureOn(t *testing.T, l *icebergLake) *icebergFixture {
	t.Helper()
	ctx := context.Background()
	tbl, err := l.ice.CreateTickTable(ctx, "market", "ticks", iceberg.TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := &icebergFixture{l: l}
	commit := func(day int, counts map[string]int, start int64) stocklake.TableSnapshot {
		var files []stocklake.LakeFile
		n := int64(0)
		for _, sym := range []string{"AAPL", "MSFT"} {
			ts := icebergTicks(sym, day, counts[sym])
			f.ticks = append(f.ticks, ts)
			files = append(files, writeIcebergFile(t, l, tbl, fmt.Sprintf("ticks+T+0+%d-%s.parquet", start, sym), ts))
			n += int64(len(ts))
		}
		snap, err := tbl.Commit(ctx, files, []stocklake.OffsetRange{{TopicPartition: stocklake.TopicPartition{TopicID: "T", Partition: 0}, Start: start, End: start + n}})
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	f.snap1 = commit(0, map[string]int{"AAPL": 300, "MSFT": 200}, 0)
	// Snapshot times are milliseconds: the second must be later.
	for time.Now().UnixMilli() <= f.snap1.Time.UnixMilli() {
		time.Sleep(time.Millisecond)
	}
	f.snap2 = commit(1, map[string]int{"AAPL": 100, "MSFT": 400}, 500)
	return f
}

// TestIcebergQuery: the engine reads an Iceberg table committed by
// iceberg.Table.Commit: counts and aggregates per symbol equal the ticks
// written, and predicates on ts and symbol prune files (the files scanned
// are counted).
func TestIcebergQuery(t *testing.T) {
	f := newIcebergFixture(t)
	e := f.l.engine
	type agg struct {
		n    int64
		size float64
	}
	want := map[string]agg{}
	for _, ts := range f.ticks {
		for _, tk := range ts {
			a := want[tk.Symbol]
			a.n++
			a.size += tk.Size
			want[tk.Symbol] = a
		}
	}
	r, st := query(t, e, "SELECT symbol, count(*), sum(size) FROM ticks GROUP BY symbol ORDER BY symbol")
	if len(r.Rows) != 2 || st.FilesScanned != 4 {
		t.Fatalf("got %v reading %d files, want 2 symbols from 4 files", r.Rows, st.FilesScanned)
	}
	for _, row := range r.Rows {
		w := want[row[0].(string)]
		if row[1] != w.n || row[2] != w.size {
			t.Errorf("%s: count %v sum(size) %v, want %d %v", row[0], row[1], row[2], w.n, w.size)
		}
	}
	r, _ = query(t, e, "SELECT * FROM market.ticks LIMIT 1")
	if got := strings.Join(r.Columns, ","); got != "symbol,ts,price,size,exchange,trade_id,conditions,source" {
		t.Errorf("columns %s", got)
	}

	for _, c := range []struct {
		where string
		files int64
	}{
		{"ts >= TIMESTAMP '2026-12-02 00:00:00'", 2},
		{"ts < TIMESTAMP '2026-12-02 00:00:00 UTC'", 2},
		{"ts >= '2026-12-02'", 2},
		{"symbol = 'AAPL'", 2},
		{"'MSFT' = symbol AND ts BETWEEN TIMESTAMP '2026-12-02 00:00:00' AND TIMESTAMP '2026-12-02 23:59:59'", 1},
		{"symbol IN ('AAPL', 'NONE') AND ts > TIMESTAMP '2026-12-01 12:00:00'", 2},
		{"symbol = 'NONE'", 0},
		{"t.symbol = 'AAPL' OR t.symbol = 'MSFT'", 4}, // OR: not pushed down
		{"lower(symbol) = 'aapl'", 4},                 // a function of the column: not pushed down
		{"size > 8.5 AND symbol = 'MSFT'", 2},
		{"ts >= TIMESTAMP '2026-12-02 00:00:00' - INTERVAL 1 HOUR", 4}, // day 0's last hour too
	} {
		sql := "SELECT count(*) FROM market.ticks AS t WHERE " + c.where
		r, st := query(t, e, sql)
		var wantCount int64
		for _, ts := range f.ticks {
			for _, tk := range ts {
				if icebergMatch(c.where, tk) {
					wantCount++
				}
			}
		}
		if r.Rows[0][0] != wantCount {
			t.Errorf("%s: count %v, want %d", c.where, r.Rows[0][0], wantCount)
		}
		if st.FilesScanned != c.files {
			t.Errorf("%s: %d files scanned, want %d", c.where, st.FilesScanned, c.files)
		}
	}
}

// icebergMatch evaluates TestIcebergQuery's WHERE clauses in Go.
func icebergMatch(where string, tk stocklake.Tick) bool {
	day2 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	switch where {
	case "ts >= TIMESTAMP '2026-12-02 00:00:00'", "ts >= '2026-12-02'":
		return !tk.Time.Before(day2)
	case "ts < TIMESTAMP '2026-12-02 00:00:00 UTC'":
		return tk.Time.Before(day2)
	case "symbol = 'AAPL'", "lower(symbol) = 'aapl'":
		return tk.Symbol == "AAPL"
	case "'MSFT' = symbol AND ts BETWEEN TIMESTAMP '2026-12-02 00:00:00' AND TIMESTAMP '2026-12-02 23:59:59'":
		return tk.Symbol == "MSFT" && !tk.Time.Before(day2) && !tk.Time.After(day2.Add(24*time.Hour-time.Second))
	case "symbol IN ('AAPL', 'NONE') AND ts > TIMESTAMP '2026-12-01 12:00:00'":
		return tk.Symbol == "AAPL" && tk.Time.After(day2.Add(-12*time.Hour))
	case "symbol = 'NONE'":
		return false
	case "t.symbol = 'AAPL' OR t.symbol = 'MSFT'":
		return true
	case "size > 8.5 AND symbol = 'MSFT'":
		return tk.Size > 8.5 && tk.Symbol == "MSFT"
	case "ts >= TIMESTAMP '2026-12-02 00:00:00' - INTERVAL 1 HOUR":
		return !tk.Time.Before(day2.Add(-time.Hour))
	}
	panic(where)
}

// TestIcebergTimeTravel: FOR VERSION AS OF and FOR TIMESTAMP AS OF read
// older snapshots; a time before the first snapshot, an unknown snapshot
// and time travel on a Hive table are clear errors.
func TestIcebergTimeTravel(t *testing.T) {
	f := newIcebergFixture(t)
	e := f.l.engine
	at := func(ts time.Time) string {
		return "TIMESTAMP '" + ts.UTC().Format("2006-01-02 15:04:05.000") + " UTC'"
	}
	for _, c := range []struct {
		sql  string
		want int64
	}{
		{"SELECT count(*) FROM ticks", 1000},
		{fmt.Sprintf("SELECT count(*) FROM ticks FOR VERSION AS OF %d", f.snap1.ID), 500},
		{fmt.Sprintf("SELECT count(*) FROM market.ticks FOR VERSION AS OF %d AS x WHERE x.symbol = 'AAPL'", f.snap1.ID), 300},
		{fmt.Sprintf("SELECT count(*) FROM ticks FOR VERSION AS OF %d", f.snap2.ID), 1000},
		{"SELECT count(*) FROM ticks FOR TIMESTAMP AS OF " + at(f.snap1.Time), 500},
		{"SELECT count(*) FROM ticks FOR TIMESTAMP AS OF " + at(f.snap2.Time.Add(-time.Millisecond)), 500},
		{"SELECT count(*) FROM ticks FOR TIMESTAMP AS OF " + at(f.snap2.Time), 1000},
		{"SELECT count(*) FROM ticks FOR TIMESTAMP AS OF current_timestamp", 1000},
		// Both versions in one statement: the difference is snapshot 2.
		{fmt.Sprintf("SELECT (SELECT count(*) FROM ticks) - (SELECT count(*) FROM ticks FOR VERSION AS OF %d)", f.snap1.ID), 500},
		// The words inside a string are not a clause.
		{"SELECT count(*) FROM ticks WHERE symbol <> 'FOR VERSION AS OF 1'", 1000},
	} {
		r, _ := query(t, e, c.sql)
		if r.Rows[0][0] != c.want {
			t.Errorf("%s: %v, want %d", c.sql, r.Rows[0][0], c.want)
		}
	}
	if err := f.l.cat.CreateDatabase(context.Background(), stocklake.Database{Name: "market"}); err != nil {
		t.Fatal(err)
	}
	if err := f.l.cat.CreateTable(context.Background(), stocklake.Table{Database: "market", Name: "hive", Columns: []stocklake.Column{{Name: "a", Type: "int"}},
		Location: f.l.store.URL() + "/hive/", Format: stocklake.FormatParquet}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ sql, msg string }{
		{"SELECT count(*) FROM ticks FOR TIMESTAMP AS OF TIMESTAMP '2000-01-01 00:00:00 UTC'", "no snapshot as of 2000-01-01T00:00:00Z"},
		{"SELECT count(*) FROM ticks FOR VERSION AS OF 12345", "has no snapshot 12345"},
		{"SELECT count(*) FROM hive FOR VERSION AS OF 12345", "is a Hive table"},
		{"WITH c AS (SELECT 1) SELECT * FROM c FOR VERSION AS OF 1", "not an Iceberg table"},
		{"SELECT count(*) FROM ticks FOR VERSION AS OF x", "snapshot ID"},
		{"SELECT count(*) FROM ticks FOR TIMESTAMP AS OF 'soon'", "not a timestamp"},
		{"SELECT count(*) FROM ticks FOR TIMESTAMP AS OF (now()); CREATE TABLE x AS SELECT 1; SELECT (now())", "only queries"},
		{"SELECT count(*) FROM ticks FOR TIMESTAMP AS OF (now(); CREATE TABLE x AS SELECT 1; SELECT now())", "not an expression"},
	} {
		_, err := e.Query(context.Background(), c.sql)
		if !errors.Is(err, stocklake.ErrInvalid) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want ErrInvalid saying %q", c.sql, err, c.msg)
		}
	}
}

// TestIcebergEmptyTable: a table without snapshots reads as zero rows with
// its columns.
func TestIcebergEmptyTable(t *testing.T) {
	l := newIcebergLake(t)
	if _, err := l.ice.CreateTickTable(context.Background(), "market", "empty", iceberg.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	r, _ := query(t, l.engine, "SELECT * FROM empty")
	if len(r.Rows) != 0 || len(r.Columns) != 8 {
		t.Errorf("got %d rows, columns %v; want none and the 8 tick columns", len(r.Rows), r.Columns)
	}
	r, _ = query(t, l.engine, "SELECT count(*), max(ts) FROM empty WHERE symbol = 'A'")
	if r.Rows[0][0] != int64(0) || r.Rows[0][1] != nil {
		t.Errorf("got %v", r.Rows)
	}
	r, _ = query(t, l.engine, "DESCRIBE empty")
	if len(r.Rows) != 8 {
		t.Errorf("DESCRIBE: %v", r.Rows)
	}
	r, _ = query(t, l.engine, "SHOW TABLES")
	if len(r.Rows) != 1 || r.Rows[0][0] != "empty" {
		t.Errorf("SHOW TABLES: %v, want the Iceberg table empty", r.Rows)
	}
}

// TestIcebergPyicebergIntegration: pyiceberg (PyPI) and the engine read
// the same rows from a table committed by iceberg.Table.Commit: per symbol
// the row count, sum(size), min(ts) and max(ts), for the whole table, a ts
// range and an older snapshot. Runs when STOCKLAKE_PYTHON is set (`eval
// "$(scripts/pyenv)"`).
func TestIcebergPyicebergIntegration(t *testing.T) {
	py := os.Getenv("STOCKLAKE_PYTHON")
	if py == "" {
		t.Skip("STOCKLAKE_PYTHON is not set: run `eval \"$(scripts/pyenv)\"` for a Python with pyiceberg")
	}
	f := newIcebergFixture(t)
	script, err := filepath.Abs("testdata/iceberg_aggregates.py")
	if err != nil {
		t.Fatal(err)
	}
	const from = "2026-12-01 18:00:00"
	cmd := exec.Command(py, "-P", script, filepath.Join(f.l.dir, "catalog.db"), f.l.store.URL(), "market.ticks",
		strconv.FormatInt(f.snap1.ID, 10), strings.Replace(from, " ", "T", 1)+"+00:00")
	cmd.Dir = t.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyiceberg: %v\n%s", err, stderr.String())
	}
	t.Logf("pyiceberg: %s", bytes.TrimSpace(out))
	var py3 map[string]map[string][4]float64
	if err := json.Unmarshal(out, &py3); err != nil {
		t.Fatalf("pyiceberg printed %s: %v", out, err)
	}
	const agg = "SELECT symbol, count(*), sum(size), epoch_us(min(ts)), epoch_us(max(ts)) FROM ticks%s GROUP BY symbol ORDER BY symbol"
	for name, sql := range map[string]string{
		"all":      fmt.Sprintf(agg, ""),
		"from":     fmt.Sprintf(agg, " WHERE ts >= TIMESTAMP '"+from+"'"),
		"snapshot": fmt.Sprintf(agg, fmt.Sprintf(" FOR VERSION AS OF %d", f.snap1.ID)),
	} {
		r, _ := query(t, f.l.engine, sql)
		got := map[string][4]float64{}
		for _, row := range r.Rows {
			got[row[0].(string)] = [4]float64{float64(row[1].(int64)), row[2].(float64), float64(row[3].(int64)), float64(row[4].(int64))}
		}
		if len(got) != len(py3[name]) || len(got) == 0 {
			t.Errorf("%s: engine %v, pyiceberg %v", name, got, py3[name])
		}
		for sym, w := range py3[name] {
			if got[sym] != w {
				t.Errorf("%s %s: engine %v, pyiceberg %v", name, sym, got[sym], w)
			}
		}
	}
}

// TestIcebergRenamedColumn: after another writer (iceberg-go) renames size
// to qty, the files still name the column size; the table's name mapping
// maps it, so qty reads the old files' values, older snapshots read size.
func TestIcebergRenamedColumn(t *testing.T) {
	ctx := context.Background()
	f := newIcebergFixture(t)
	db, err := sql.Open("sqlite", filepath.Join(f.l.dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cat, err := sqlcat.NewCatalog(iceberg.DefaultCatalogName, db, sqlcat.SQLite, icego.Properties{"warehouse": f.l.store.URL()})
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.LoadTable(ctx, table.Identifier{"market", "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	txn := tbl.NewTransaction()
	if err := txn.UpdateSchema(true, false).RenameColumn([]string{"size"}, "qty").Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var want float64
	for _, ts := range f.ticks {
		for _, tk := range ts {
			want += tk.Size
		}
	}
	r, _ := query(t, f.l.engine, "SELECT sum(qty), count(qty) FROM ticks")
	if r.Rows[0][0] != want || r.Rows[0][1] != int64(1000) {
		t.Errorf("sum(qty), count(qty) = %v, want %v over 1000 rows", r.Rows[0], want)
	}
	var big int64
	for _, ts := range f.ticks {
		for _, tk := range ts {
			if tk.Size > 8.5 && tk.Symbol == "MSFT" {
				big++
			}
		}
	}
	r, st := query(t, f.l.engine, "SELECT count(*) FROM ticks WHERE qty > 8.5 AND symbol = 'MSFT'")
	if r.Rows[0][0] != big || st.FilesScanned != 2 {
		t.Errorf("qty > 8.5 AND symbol = 'MSFT': %v rows from %d files, want %d from 2", r.Rows[0][0], st.FilesScanned, big)
	}
	r, _ = query(t, f.l.engine, fmt.Sprintf("SELECT sum(size) FROM ticks FOR VERSION AS OF %d", f.snap2.ID))
	if r.Rows[0][0] != want {
		t.Errorf("sum(size) at the snapshot before the rename = %v, want %v", r.Rows[0][0], want)
	}
}

// TestIcebergQueryS3: an Iceberg table on an s3:// lake (gofakes3): the
// engine plans with iceberg-go's S3 IO and downloads only the planned files.
func TestIcebergQueryS3(t *testing.T) {
	srv := httptest.NewUnstartedServer(gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	ctx := context.Background()
	store, err := s3.New(ctx, s3.Config{Bucket: "lake", Prefix: "data", Endpoint: srv.URL, AccessKey: "k", SecretKey: "s", Region: "us-east-1", MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	region, endpoint := store.Endpoint()
	f := newIcebergFixtureOn(t, newIcebergLakeOn(t, t.TempDir(), store, iceberg.Config{S3Region: region, S3Endpoint: endpoint, S3AccessKey: "k", S3SecretKey: "s"}))
	r, st := query(t, f.l.engine, "SELECT count(*), count(DISTINCT trade_id) FROM ticks WHERE symbol = 'AAPL'")
	if r.Rows[0][0] != int64(400) || r.Rows[0][1] != int64(400) || st.FilesScanned != 2 {
		t.Errorf("AAPL on S3: %v from %d files, want 400 distinct from 2", r.Rows[0], st.FilesScanned)
	}
	r, _ = query(t, f.l.engine, fmt.Sprintf("SELECT count(*) FROM ticks FOR VERSION AS OF %d", f.snap1.ID))
	if r.Rows[0][0] != int64(500) {
		t.Errorf("snapshot 1 on S3: %v rows, want 500", r.Rows[0][0])
	}
}
