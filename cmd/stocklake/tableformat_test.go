package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/sink"
	"github.com/stocklake/stocklake/sqlite"
)

// tableFormats tells which formats hold table in the lake at lakeDir
// with the catalog at dbPath: ice, the Iceberg catalog lists it; hive, the
// lake holds a Hive sink's state for it.
func tableFormats(t *testing.T, lakeDir, dbPath, table string) (ice, hive bool) {
	t.Helper()
	ctx := context.Background()
	store, err := file.New(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := iceberg.Open(ctx, iceberg.Config{SQLitePath: dbPath, Warehouse: store.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	names, err := cat.ListTables(ctx, stocklake.DefaultDatabase)
	if err != nil {
		t.Fatal(err)
	}
	key, err := sink.HiveTableKey(ctx, store, table)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(names, table), key != ""
}

// TestSinkTableFormatAuto runs `stocklake sink` without --table-format
// (auto) over a kfake broker into tables of one lake and sqlite catalog: a
// new table becomes Iceberg; a table a Hive sink landed stays Hive, whether
// the catalog holds it or only the lake's sink state shows it; an Iceberg
// table stays Iceberg; a new table with a Hive-only setting (--format json,
// --partition-by dt,hour, no --catalog) is Hive and the log says why; an
// explicit format that contradicts the existing table is refused with what
// to do.
func TestSinkTableFormatAuto(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "ticks"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	p, err := kafka.NewProducer(kafka.Config{Brokers: cluster.ListenAddrs()}, kafka.ProducerConfig{Topic: "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	for i := range 200 {
		tk := stocklake.Tick{Symbol: "AAPL", Time: base.Add(time.Duration(i) * time.Second), Price: 1, Size: 1, Exchange: "X", TradeID: strconv.Itoa(i), Source: "test"}
		if err := p.Produce(context.Background(), stocklake.Record{Key: []byte("AAPL"), Value: tk.AppendJSON(nil)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lakeDir, dbPath := filepath.Join(dir, "lake"), filepath.Join(dir, "catalog.db")
	bin := stocklakeBinary(t)
	// sinkRun lands the topic in table (its own consumer group), with
	// --catalog unless catalog is false, and returns the sink's output.
	sinkRun := func(catalog bool, table string, extra ...string) (string, error) {
		args := []string{"sink", "--brokers", brokers, "--topic", "ticks", "--group", "g-" + table, "--table", table,
			"--lake", "file://" + lakeDir, "--exit-when-idle", "--flush-interval", "100ms", "--log-level", "info"}
		if catalog {
			args = append(args, "--catalog", "sqlite://"+dbPath)
		}
		cmd := exec.Command(bin, append(args, extra...)...)
		cmd.Env = envWith()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// formatLine is the sink's log line of the format it chose.
	formatLine := func(out string) string {
		for l := range strings.SplitSeq(out, "\n") {
			if strings.Contains(l, `msg="table format"`) {
				return l
			}
		}
		return ""
	}
	// expect runs sinkRun, which must succeed and log the format it
	// chose for table and why.
	expect := func(catalog bool, wantFormat, wantWhy, table string, extra ...string) {
		t.Helper()
		out, err := sinkRun(catalog, table, extra...)
		if err != nil {
			t.Fatalf("sink %s %v (--catalog %v): %v\n%s", table, extra, catalog, err, out)
		}
		l := formatLine(out)
		if !strings.Contains(l, "table_format="+wantFormat) || !strings.Contains(l, wantWhy) {
			t.Errorf("sink %s %v (--catalog %v) logged %q, want table_format=%s and %q\n%s", table, extra, catalog, l, wantFormat, wantWhy, out)
		}
	}
	mustRun := func(wantFormat, wantWhy, table string, extra ...string) {
		t.Helper()
		expect(true, wantFormat, wantWhy, table, extra...)
	}
	check := func(table string, wantIce, wantHive bool) {
		t.Helper()
		if ice, hive := tableFormats(t, lakeDir, dbPath, table); ice != wantIce || hive != wantHive {
			t.Errorf("table %s: Iceberg %v, Hive sink state %v; want %v, %v", table, ice, hive, wantIce, wantHive)
		}
	}

	// refused runs a sink whose explicit format contradicts table: it must
	// fail fast and say what to do.
	refused := func(table, format string, want ...string) {
		t.Helper()
		out, err := sinkRun(true, table, "--table-format", format, "--group", "g-mismatch")
		if err == nil {
			t.Errorf("sink --table %s --table-format %s: no error\n%s", table, format, out)
			return
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("sink --table %s --table-format %s said\n%s\nwant %q", table, format, out, w)
			}
		}
	}

	// A new table is Iceberg; run again, it stays Iceberg.
	mustRun("iceberg", "new table", "fresh")
	check("fresh", true, false)
	mustRun("iceberg", "the table exists: the Iceberg table", "fresh")

	// A Hive table registered in the catalog stays Hive.
	mustRun("hive", "--table-format hive", "old", "--table-format", "hive")
	mustRun("hive", "the table exists: the Hive table stocklake.old in sqlite://", "old")
	check("old", false, true)

	// A Hive table only the lake knows (its sink had no --catalog) stays
	// Hive too.
	expect(false, "hive", "--table-format hive", "lakeonly", "--table-format", "hive")
	refused("lakeonly", "iceberg", "table lakeonly is already the Hive table lakeonly (sink state _stocklake/sink/lakeonly/", "--table-format hive, or auto")
	mustRun("hive", "sink state _stocklake/sink/lakeonly/", "lakeonly", "--group", "g-lakeonly2")
	check("lakeonly", false, true)

	// New tables whose settings only Hive has are Hive, and the log says
	// why.
	mustRun("hive", "new table, Hive because --format json", "jsonlines", "--format", "json")
	check("jsonlines", false, true)
	mustRun("hive", "new table, Hive because --partition-by dt,hour is a Hive partitioning", "dthour", "--partition-by", "dt,hour")
	check("dthour", false, true)
	expect(false, "hive", "no --catalog", "nocat")
	check("nocat", false, true)

	// An explicit format that contradicts the table is refused; nothing
	// is written.
	refused("old", "iceberg", "table old is already the Hive table stocklake.old", "--table-format hive, or auto", "another --table")
	refused("fresh", "hive", "table fresh is already the Iceberg table stocklake.fresh", "--table-format iceberg, or auto", "another --table or --database")
	check("old", false, true)
	check("lakeonly", false, true)
	check("fresh", true, false)
	if _, err := os.Stat(filepath.Join(lakeDir, "fresh")); err == nil {
		t.Errorf("the refused Hive sink wrote objects under %s", filepath.Join(lakeDir, "fresh"))
	}
}

// TestDemoTableFormatAuto runs `stocklake demo` without --table-format:
// on a fresh --data the ticks land in an Iceberg table, which the
// dashboard's catalog view lists with its partitions; a --data a Hive
// demo filled stays Hive, and an explicit --table-format iceberg on it is
// refused.
func TestDemoTableFormatAuto(t *testing.T) {
	demo := func(dir string, extra ...string) error {
		return runCommand(t, append([]string{"demo", "--data", dir, "--http", "", "--duration", "3s", "--rate", "200",
			"--flush-interval", "300ms", "--maintain-every", "0", "--log-level", "warn"}, extra...)...)
	}
	tables := func(dir string) (ice, hive bool) {
		t.Helper()
		return tableFormats(t, filepath.Join(dir, "lake"), filepath.Join(dir, "catalog.db"), "ticks")
	}

	fresh := t.TempDir()
	if err := demo(fresh); err != nil {
		t.Fatal(err)
	}
	if ice, hive := tables(fresh); !ice || hive {
		t.Errorf("demo on a fresh --data: Iceberg table %v, Hive sink state %v; want an Iceberg table only", ice, hive)
	}
	// The dashboard's catalog (withIcebergTables) shows the Iceberg table:
	// its database, the table, its columns and partitions.
	ctx := context.Background()
	store, err := file.New(filepath.Join(fresh, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	hc, err := sqlite.Open(filepath.Join(fresh, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	ic, closeIce, err := catalogIceberg(ctx, hc, store)
	if err != nil {
		t.Fatal(err)
	}
	defer closeIce()
	view := withIcebergTables(hc, ic)
	if _, ok := view.(stocklake.CrawlLog); !ok {
		t.Error("the dashboard's catalog view lost the sqlite catalog's crawl history")
	}
	dbs, err := view.ListDatabases(ctx)
	if err != nil || !slices.ContainsFunc(dbs, func(d stocklake.Database) bool { return d.Name == stocklake.DefaultDatabase }) {
		t.Errorf("dashboard catalog databases %v, %v: want %s", dbs, err, stocklake.DefaultDatabase)
	}
	ts, err := view.ListTables(ctx, stocklake.DefaultDatabase)
	if err != nil || len(ts) != 1 || ts[0].Name != "ticks" || len(ts[0].Columns) == 0 {
		t.Errorf("dashboard catalog tables %+v, %v: want the ticks table with its columns", ts, err)
	}
	if tb, err := view.GetTable(ctx, stocklake.DefaultDatabase, "ticks"); err != nil || !tb.IsIceberg() {
		t.Errorf("dashboard catalog table ticks: %+v, %v: want the Iceberg table", tb, err)
	}
	parts, err := view.ListPartitions(ctx, stocklake.DefaultDatabase, "ticks")
	if err != nil || len(parts) == 0 || !strings.HasPrefix(parts[0].Values[0], "ts_day=") {
		t.Errorf("dashboard catalog partitions of ticks: %+v, %v: want its day partitions", parts, err)
	}

	old := t.TempDir()
	if err := demo(old, "--table-format", "hive"); err != nil {
		t.Fatal(err)
	}
	if err := demo(old); err != nil {
		t.Fatal(err)
	}
	if ice, hive := tables(old); ice || !hive {
		t.Errorf("demo on a Hive demo's --data: Iceberg table %v, Hive sink state %v; want the Hive table only", ice, hive)
	}
	err = demo(old, "--table-format", "iceberg")
	if err == nil || !strings.Contains(err.Error(), "already the Hive table") || !strings.Contains(err.Error(), "--table-format hive, or auto") {
		t.Errorf("demo --table-format iceberg on a Hive demo's --data: %v, want it refused", err)
	}
}
