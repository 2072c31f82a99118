package crawler

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
)

func runCrawl(t *testing.T, l *lake, cat stocklake.Catalog, cfg Config) stocklake.CrawlRun {
	t.Helper()
	if cfg.Database == "" {
		cfg.Database = "lake"
	}
	c, err := New(l.store, cat, cfg)
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.Run(context.Background())
	if err != nil {
		t.Fatalf("crawl: %v (messages %q)", err, run.Messages)
	}
	return run
}

// onlyTable crawls the lake with the default Config and returns the one
// table it finds, which must be named name, and the run.
func onlyTable(t *testing.T, l *lake, cat stocklake.Catalog, name string) (stocklake.Table, stocklake.CrawlRun) {
	t.Helper()
	run := runCrawl(t, l, cat, Config{})
	got := tables(t, cat)
	tb, ok := got[name]
	if !ok || len(got) != 1 {
		t.Fatalf("tables %v, want only %s (messages %q)", keysOf(got), name, run.Messages)
	}
	return tb, run
}

func tables(t *testing.T, cat stocklake.Catalog) map[string]stocklake.Table {
	t.Helper()
	list, err := cat.ListTables(context.Background(), "lake")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]stocklake.Table{}
	for _, tb := range list {
		out[tb.Name] = tb
	}
	return out
}

func partitions(t *testing.T, cat stocklake.Catalog, table string) []stocklake.Partition {
	t.Helper()
	parts, err := cat.ListPartitions(context.Background(), "lake", table)
	if err != nil {
		t.Fatal(err)
	}
	return parts
}

func cols(cs ...string) []stocklake.Column {
	var out []stocklake.Column
	for _, c := range cs {
		n, typ, _ := strings.Cut(c, " ")
		out = append(out, stocklake.Column{Name: n, Type: typ})
	}
	return out
}

func keysOf[M ~map[string]V, V any](m M) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	slices.Sort(k)
	return k
}

// The seed's consumer writes one JSON object per object in a flat prefix:
// all of them are one table with the seed's columns, not one per file.
func TestSeedLakeIsOneTable(t *testing.T) {
	l := newLake(t)
	const n = 300
	for i := range n {
		l.put(fmt.Sprintf("seed/%d.json", i), seedRecord(i))
	}
	// Things every crawl skips.
	l.put("seed/_SUCCESS", []byte("x"))
	l.put("seed/.tmp-123", []byte(`{"a":1}`))
	l.put("seed/part.crc", []byte("x"))
	l.put("_stocklake/sink/ticks/0.json", []byte(`{"a":1}`))
	l.put("query-results/q1.csv", []byte("a,b\n1,2\n"))
	cat := newCatalog(t)

	tb, run := onlyTable(t, l, cat, "seed")
	want := cols("index string", "date date", "open double", "high double", "low double", "close double",
		"adj_close double", "volume double", "closeusd double")
	if !reflect.DeepEqual(tb.Columns, want) {
		t.Errorf("columns\n%v\nwant\n%v", tb.Columns, want)
	}
	if len(tb.PartitionKeys) != 0 {
		t.Errorf("partition keys %v, want none", tb.PartitionKeys)
	}
	if tb.Format != stocklake.FormatJSON || tb.InputFormat != hive.TextInputFormat || tb.OutputFormat != hive.TextOutputFormat || tb.SerDe != hive.OpenXJSONSerDe {
		t.Errorf("format %s %s %s %s", tb.Format, tb.InputFormat, tb.OutputFormat, tb.SerDe)
	}
	if tb.SerDeParams["mapping.adj_close"] != "adj close" {
		t.Errorf("SerDe parameters %v, want mapping.adj_close = adj close", tb.SerDeParams)
	}
	if tb.Location != l.url("seed/") {
		t.Errorf("location %s, want %s", tb.Location, l.url("seed/"))
	}
	for k, v := range map[string]string{"classification": "json", "compressionType": "none", "typeOfData": "file", "UPDATED_BY_CRAWLER": "stocklake"} {
		if tb.Parameters[k] != v {
			t.Errorf("parameter %s = %q, want %q", k, tb.Parameters[k], v)
		}
	}
	if run.FilesRead != n || !reflect.DeepEqual(run.TablesCreated, []string{"seed"}) || run.FilesListed != n+5 || run.FilesSkipped != 5 {
		t.Errorf("run: read %d listed %d skipped %d created %v", run.FilesRead, run.FilesListed, run.FilesSkipped, run.TablesCreated)
	}

	// The same lake crawled at the prefix itself gives the same table.
	cat2 := newCatalog(t)
	runCrawl(t, l, cat2, Config{Prefix: "seed/"})
	got2 := tables(t, cat2)
	if tb2, ok := got2["seed"]; !ok || len(got2) != 1 || !reflect.DeepEqual(tb2.Columns, want) || tb2.Location != l.url("seed/") {
		t.Errorf("crawl of prefix seed/: tables %v", got2)
	}
}

// Our sink's Parquet lake is one table partitioned by dt and hour, with every
// partition, read from the footers only.
func TestParquetLake(t *testing.T) {
	l := newLake(t)
	days := []string{"2026-11-25", "2026-11-26"}
	hours := []int{13, 14, 23}
	var offset int64
	for _, d := range days {
		for _, h := range hours {
			for p := range 2 {
				start, _ := time.Parse(time.DateOnly, d)
				l.put(tickKey(d, h, p, offset), tickParquet(t, 50, start.Add(time.Duration(h)*time.Hour)))
				offset += 50
			}
		}
	}
	cat := newCatalog(t)
	tb, run := onlyTable(t, l, cat, "ticks")
	want := cols("symbol string", "ts timestamp", "price double", "size double", "exchange string",
		"trade_id string", "conditions array<string>", "source string")
	if !reflect.DeepEqual(tb.Columns, want) {
		t.Errorf("columns\n%v\nwant\n%v", tb.Columns, want)
	}
	if !reflect.DeepEqual(tb.PartitionKeys, cols("dt string", "hour string")) {
		t.Errorf("partition keys %v", tb.PartitionKeys)
	}
	if tb.Format != stocklake.FormatParquet || tb.InputFormat != hive.ParquetInputFormat || tb.OutputFormat != hive.ParquetOutputFormat || tb.SerDe != hive.ParquetSerDe {
		t.Errorf("format %s %s %s %s", tb.Format, tb.InputFormat, tb.OutputFormat, tb.SerDe)
	}
	if tb.Parameters["classification"] != "parquet" || tb.Location != l.url("ticks/") {
		t.Errorf("parameters %v location %s", tb.Parameters, tb.Location)
	}
	parts := partitions(t, cat, "ticks")
	var vals []string
	for _, p := range parts {
		vals = append(vals, strings.Join(p.Values, "/"))
		if want := l.url(fmt.Sprintf("ticks/dt=%s/hour=%s/", p.Values[0], p.Values[1])); p.Location != want {
			t.Errorf("partition location %s, want %s", p.Location, want)
		}
	}
	wantVals := []string{"2026-11-25/13", "2026-11-25/14", "2026-11-25/23", "2026-11-26/13", "2026-11-26/14", "2026-11-26/23"}
	if !reflect.DeepEqual(vals, wantVals) {
		t.Errorf("partitions %v, want %v", vals, wantVals)
	}
	if run.PartitionsAdded != 6 || run.FilesRead != 12 {
		t.Errorf("run: %d partitions added, %d files read", run.PartitionsAdded, run.FilesRead)
	}
	if g := l.store.gets.Load(); g != 0 {
		t.Errorf("%d whole-object reads of Parquet files, want footers only", g)
	}
	if s := run.Summary(); !strings.Contains(s, "tables 1 created") || !strings.Contains(s, "partitions 6 added") || !strings.Contains(s, "files 12 read of 12 listed") {
		t.Errorf("summary %q", s)
	}
}

// A large Parquet file is read by its footer alone.
func TestParquetFooterOnly(t *testing.T) {
	l := newLake(t)
	data := tickParquet(t, 40000, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	if len(data) < 4*parquetTail {
		t.Fatalf("fixture too small: %d bytes", len(data))
	}
	l.put("big/ticks.parquet", data)
	l.put("big/noext", data) // recognised by its magic number
	cat := newCatalog(t)
	runCrawl(t, l, cat, Config{})
	tb := tables(t, cat)["big"]
	if len(tb.Columns) != 8 || tb.Format != stocklake.FormatParquet {
		t.Fatalf("table big: %+v", tb)
	}
	if b := l.store.rangeBytes.Load(); b > 2*parquetTail {
		t.Errorf("read %d bytes by range from two %d-byte files, want the footers only", b, len(data))
	}
}

// Sibling folders with compatible schemas are one table with the widened
// schema and plain-folder partitions.
func TestCompatibleSchemasWiden(t *testing.T) {
	l := newLake(t)
	l.put("events/a/1.json", jsonLines(
		`{"id":1,"v":1,"name":"x","flag":true,"tags":[1,2],"nested":{"a":1},"when":"2026-11-26 14:00:00"}`,
		`{"id":2,"v":2,"name":"y","flag":false,"tags":[],"nested":{"a":2},"when":"2026-11-26T14:00:01Z"}`))
	l.put("events/b/2.json", jsonLines(
		`{"id":3000000000,"v":1.5,"name":"z","flag":true,"tags":[1.5],"nested":{"B":"q"},"when":"2026-11-26 14:00:02.5","extra":null}`))
	l.put("events/c/3.json.gz", gzipped(t, jsonLines(`{"id":4,"v":3,"name":5,"flag":true,"tags":[3],"nested":{"a":3},"when":"2026-11-26 14:00:03"}`)))
	cat := newCatalog(t)
	tb, _ := onlyTable(t, l, cat, "events")
	want := cols("id bigint", "v double", "name string", "flag boolean", "tags array<double>",
		"nested struct<a:int,b:string>", "when timestamp", "extra string")
	if !reflect.DeepEqual(tb.Columns, want) {
		t.Errorf("columns\n%v\nwant\n%v", tb.Columns, want)
	}
	if !reflect.DeepEqual(tb.PartitionKeys, cols("partition_0 string")) {
		t.Errorf("partition keys %v", tb.PartitionKeys)
	}
	if n := len(partitions(t, cat, "events")); n != 3 {
		t.Errorf("%d partitions, want 3", n)
	}
}

// Folders whose schemas do not fit together become separate tables named
// after their folders.
func TestIncompatibleSchemasSplit(t *testing.T) {
	l := newLake(t)
	l.put("raw/clicks/1.json", jsonLines(`{"user":"u1","url":"/a","ts":"2026-11-26 14:00:00"}`))
	l.put("raw/clicks/2.json", jsonLines(`{"user":"u2","url":"/b","ts":"2026-11-26 14:00:01"}`))
	l.put("raw/orders/1.json", jsonLines(`{"order_id":1,"amount":9.5,"currency":"USD","sku":"x"}`))
	l.put("raw/prices/1.csv", []byte("symbol,price\nAAPL,1.5\n"))
	l.put("raw/ticks/1.parquet", tickParquet(t, 10, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)))
	cat := newCatalog(t)
	run := runCrawl(t, l, cat, Config{})
	got := tables(t, cat)
	if want := []string{"clicks", "orders", "prices", "ticks"}; !reflect.DeepEqual(keysOf(got), want) {
		t.Fatalf("tables %v, want %v (messages %q)", keysOf(got), want, run.Messages)
	}
	if got["clicks"].Location != l.url("raw/clicks/") || got["orders"].Format != stocklake.FormatJSON ||
		got["prices"].Format != stocklake.FormatCSV || got["ticks"].Format != stocklake.FormatParquet {
		t.Errorf("tables %+v", got)
	}
	if !reflect.DeepEqual(got["clicks"].Columns, cols("user string", "url string", "ts timestamp")) {
		t.Errorf("clicks columns %v", got["clicks"].Columns)
	}
	if len(run.TablesCreated) != 4 {
		t.Errorf("created %v", run.TablesCreated)
	}
}

func putDay(t *testing.T, l *lake, day string, hours ...int) {
	start, _ := time.Parse(time.DateOnly, day)
	for _, h := range hours {
		l.put(tickKey(day, h, 0, int64(h)*100), tickParquet(t, 20, start.Add(time.Duration(h)*time.Hour)))
	}
}

// A re-crawl after a new day of data adds only the new partitions and reads
// only the new folders.
func TestIncrementalNewDay(t *testing.T) {
	for _, withLog := range []bool{true, false} {
		t.Run(fmt.Sprintf("crawl-log=%t", withLog), func(t *testing.T) {
			l := newLake(t)
			putDay(t, l, "2026-11-25", 0, 1, 2)
			var cat stocklake.Catalog = newCatalog(t)
			if !withLog {
				cat = struct{ stocklake.Catalog }{cat} // hides the CrawlLog methods
			}
			first := runCrawl(t, l, cat, Config{Incremental: true})
			if first.PartitionsAdded != 3 || len(first.TablesCreated) != 1 {
				t.Fatalf("first crawl: %+v", first)
			}
			putDay(t, l, "2026-11-26", 0, 1)
			l.store.reset()
			run := runCrawl(t, l, cat, Config{Incremental: true})
			if run.PartitionsAdded != 2 || run.FilesRead != 2 || run.FilesSkipped != 3 || len(run.TablesCreated)+len(run.TablesUpdated) != 0 {
				t.Errorf("re-crawl: added %d, read %d, skipped %d, created %v, updated %v (messages %q)",
					run.PartitionsAdded, run.FilesRead, run.FilesSkipped, run.TablesCreated, run.TablesUpdated, run.Messages)
			}
			for k := range l.store.touched() {
				if strings.Contains(k, "2026-11-25") {
					t.Errorf("incremental crawl read %s from a folder crawled before", k)
				}
			}
			if n := len(partitions(t, cat, "ticks")); n != 5 {
				t.Errorf("%d partitions, want 5", n)
			}
			// Nothing new: nothing read, nothing added.
			l.store.reset()
			run = runCrawl(t, l, cat, Config{Incremental: true})
			if run.PartitionsAdded != 0 || run.FilesRead != 0 || l.store.gets.Load()+l.store.ranges.Load() != 0 {
				t.Errorf("third crawl: added %d, read %d", run.PartitionsAdded, run.FilesRead)
			}
			// A table deleted from the catalog is rebuilt from every folder.
			if err := cat.DeleteTable(context.Background(), "lake", "ticks"); err != nil {
				t.Fatal(err)
			}
			run = runCrawl(t, l, cat, Config{Incremental: true})
			if run.FilesRead != 5 || run.PartitionsAdded != 5 || !slices.Equal(run.TablesCreated, []string{"ticks"}) {
				t.Errorf("crawl after deleting the table: read %d, added %d, created %v", run.FilesRead, run.PartitionsAdded, run.TablesCreated)
			}
		})
	}
}

// A full (not incremental) re-crawl also adds only the new partitions.
func TestRecrawlAddsOnlyNewPartition(t *testing.T) {
	l := newLake(t)
	putDay(t, l, "2026-11-25", 9)
	cat := newCatalog(t)
	runCrawl(t, l, cat, Config{})
	putDay(t, l, "2026-11-26", 9)
	run := runCrawl(t, l, cat, Config{})
	if run.PartitionsAdded != 1 || len(run.TablesUpdated) != 0 || len(run.TablesCreated) != 0 {
		t.Errorf("re-crawl: %+v", run)
	}
	if v, _ := cat.TableVersions(context.Background(), "lake", "ticks"); len(v) != 1 {
		t.Errorf("%d table versions after a crawl without schema change, want 1", len(v))
	}
}

func TestSchemaChangePolicy(t *testing.T) {
	ctx := context.Background()
	l := newLake(t)
	l.put("quotes/dt=2026-11-25/1.json", jsonLines(`{"symbol":"A","bid":1,"ask":2}`))
	cat := newCatalog(t)
	runCrawl(t, l, cat, Config{})
	l.put("quotes/dt=2026-11-26/1.json", jsonLines(`{"symbol":"A","bid":1.5,"ask":2,"venue":"X"}`))

	run := runCrawl(t, l, cat, Config{SchemaChangePolicy: LogSchema})
	tb := tables(t, cat)["quotes"]
	if tb.Version != 1 || !reflect.DeepEqual(tb.Columns, cols("symbol string", "bid int", "ask int")) {
		t.Errorf("policy log changed the table: version %d columns %v", tb.Version, tb.Columns)
	}
	if len(run.TablesUpdated) != 0 || !slices.ContainsFunc(run.Messages, func(m string) bool {
		return strings.Contains(m, "not updated") && strings.Contains(m, "venue")
	}) {
		t.Errorf("policy log: updated %v, messages %q", run.TablesUpdated, run.Messages)
	}
	if run.PartitionsAdded != 1 {
		t.Errorf("policy log: %d partitions added, want 1 (new partitions are still registered)", run.PartitionsAdded)
	}

	run = runCrawl(t, l, cat, Config{SchemaChangePolicy: UpdateSchema})
	tb = tables(t, cat)["quotes"]
	if tb.Version != 2 || !reflect.DeepEqual(tb.Columns, cols("symbol string", "bid double", "ask int", "venue string")) {
		t.Errorf("policy update: version %d columns %v", tb.Version, tb.Columns)
	}
	if !reflect.DeepEqual(run.TablesUpdated, []string{"quotes"}) {
		t.Errorf("updated %v", run.TablesUpdated)
	}
	versions, err := cat.TableVersions(ctx, "lake", "quotes")
	if err != nil || len(versions) != 2 || len(versions[0].Columns) != 3 {
		t.Errorf("versions %+v %v", versions, err)
	}
	// A column that disappears from the data stays in the table.
	l.remove("quotes/dt=2026-11-26")
	l.put("quotes/dt=2026-11-27/1.json", jsonLines(`{"symbol":"A","bid":1,"ask":2}`))
	runCrawl(t, l, cat, Config{DeletePolicy: DeleteMissing})
	if tb := tables(t, cat)["quotes"]; len(tb.Columns) != 4 || tb.Version != 2 {
		t.Errorf("after a column vanished: version %d columns %v", tb.Version, tb.Columns)
	}
}

func TestDeletePolicy(t *testing.T) {
	ctx := context.Background()
	l := newLake(t)
	putDay(t, l, "2026-11-25", 0, 1)
	cat := newCatalog(t)
	runCrawl(t, l, cat, Config{})
	l.remove("ticks/dt=2026-11-25/hour=01")
	l.put("ticks/dt=2026-11-25/hour=02/_SUCCESS", []byte("x")) // a folder with no data

	run := runCrawl(t, l, cat, Config{DeletePolicy: LogMissing})
	if n := len(partitions(t, cat, "ticks")); n != 2 || run.PartitionsRemoved != 0 ||
		!slices.ContainsFunc(run.Messages, func(m string) bool { return strings.Contains(m, "delete policy log") }) {
		t.Errorf("log: %d partitions, removed %d, messages %q", n, run.PartitionsRemoved, run.Messages)
	}

	run = runCrawl(t, l, cat, Config{DeletePolicy: MarkMissing})
	parts := partitions(t, cat, "ticks")
	if len(parts) != 2 || run.PartitionsRemoved != 1 || parts[1].Parameters[stocklake.ParamDeprecatedByCrawler] != run.ID ||
		parts[0].Parameters[stocklake.ParamDeprecatedByCrawler] != "" {
		t.Errorf("mark: removed %d, partitions %+v", run.PartitionsRemoved, parts)
	}
	if run = runCrawl(t, l, cat, Config{DeletePolicy: MarkMissing}); run.PartitionsRemoved != 0 {
		t.Errorf("marking again counted %d partitions", run.PartitionsRemoved)
	}
	// The folder comes back: the mark is cleared.
	putDay(t, l, "2026-11-25", 1)
	runCrawl(t, l, cat, Config{DeletePolicy: MarkMissing})
	for _, p := range partitions(t, cat, "ticks") {
		if p.Parameters[stocklake.ParamDeprecatedByCrawler] != "" {
			t.Errorf("partition %v still marked after its data came back", p.Values)
		}
	}

	l.remove("ticks/dt=2026-11-25/hour=00")
	run = runCrawl(t, l, cat, Config{DeletePolicy: DeleteMissing})
	parts = partitions(t, cat, "ticks")
	if len(parts) != 1 || parts[0].Values[1] != "01" || run.PartitionsRemoved != 1 {
		t.Errorf("delete: removed %d, partitions %+v", run.PartitionsRemoved, parts)
	}

	// A table whose folder is gone is deleted under the same policy ...
	l.put("other/1.json", jsonLines(`{"a":1}`))
	l.remove("ticks")
	run = runCrawl(t, l, cat, Config{DeletePolicy: DeleteMissing})
	if _, err := cat.GetTable(ctx, "lake", "ticks"); !errors.Is(err, stocklake.ErrNotFound) || !slices.Equal(run.TablesDeleted, []string{"ticks"}) {
		t.Errorf("table ticks after its folder went: %v, deleted %v", err, run.TablesDeleted)
	}
	// ... but an empty listing (a wrong URL?) deletes nothing.
	l.remove("other")
	run = runCrawl(t, l, cat, Config{DeletePolicy: DeleteMissing})
	if _, err := cat.GetTable(ctx, "lake", "other"); err != nil || len(run.TablesDeleted) != 0 {
		t.Errorf("empty lake: table other %v, deleted %v", err, run.TablesDeleted)
	}
}

func TestCSVAndCompression(t *testing.T) {
	l := newLake(t)
	csv := "Symbol,Date,Price,Volume,Time\nAAPL,2024-01-02,185.5,100,2024-01-02 09:30:00\nMSFT,2024-01-03,370,200,2024-01-02 09:30:01.5\n"
	l.put("prices/a.csv.gz", gzipped(t, []byte(csv)))
	l.put("prices/b.csv", []byte(csv))
	l.put("trades/x.tsv", []byte("AAPL\t1\t2.5\nMSFT\t2\t3\n"))
	l.put("quoted/x.csv", []byte("name,amount\n\"Smith, J\",1\n\"Doe\",2\n"))
	l.put("zjson/x.json.zst", zstded(t, jsonLines(`{"a":1,"b":"x"}`, `{"a":2,"b":"y"}`)))
	cat := newCatalog(t)
	run := runCrawl(t, l, cat, Config{})
	got := tables(t, cat)
	if want := []string{"prices", "quoted", "trades", "zjson"}; !reflect.DeepEqual(keysOf(got), want) {
		t.Fatalf("tables %v, want %v (messages %q)", keysOf(got), want, run.Messages)
	}
	p := got["prices"]
	if !reflect.DeepEqual(p.Columns, cols("symbol string", "date date", "price double", "volume int", "time timestamp")) {
		t.Errorf("prices columns %v", p.Columns)
	}
	if p.SerDe != hive.LazySimpleSerDe || p.InputFormat != hive.TextInputFormat || p.OutputFormat != hive.TextOutputFormat ||
		p.SerDeParams["field.delim"] != "," || p.Parameters["skip.header.line.count"] != "1" || p.Parameters["classification"] != "csv" {
		t.Errorf("prices: %+v", p)
	}
	if c := p.Parameters["compressionType"]; c != "gzip" && c != "none" {
		t.Errorf("compressionType %q", c)
	}
	tr := got["trades"]
	if !reflect.DeepEqual(tr.Columns, cols("col0 string", "col1 int", "col2 double")) || tr.SerDeParams["field.delim"] != "\t" ||
		tr.Parameters["skip.header.line.count"] != "" {
		t.Errorf("trades: %+v", tr)
	}
	q := got["quoted"]
	if q.SerDe != hive.OpenCSVSerDe || !reflect.DeepEqual(q.Columns, cols("name string", "amount string")) || q.SerDeParams["separatorChar"] != "," {
		t.Errorf("quoted: %+v", q)
	}
	z := got["zjson"]
	if z.Format != stocklake.FormatJSON || z.Parameters["compressionType"] != "zstd" || !reflect.DeepEqual(z.Columns, cols("a int", "b string")) {
		t.Errorf("zjson: %+v", z)
	}
}

func TestTableLevelAndPrefix(t *testing.T) {
	l := newLake(t)
	l.put("a/1.json", jsonLines(`{"x":1,"y":2}`))
	l.put("b/1.json", jsonLines(`{"x":1,"y":2}`))
	cat := newCatalog(t)
	runCrawl(t, l, cat, Config{})
	if got := keysOf(tables(t, cat)); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("auto: tables %v, want a and b (top-level folders)", got)
	}
	cat = newCatalog(t)
	runCrawl(t, l, cat, Config{TableLevel: 1, TablePrefix: "raw_"})
	got := tables(t, cat)
	root := "raw_" + identifier(l.store.URL()[strings.LastIndexByte(l.store.URL(), '/')+1:], 0)
	if tb, ok := got[root]; !ok || len(got) != 1 || !reflect.DeepEqual(tb.PartitionKeys, cols("partition_0 string")) {
		t.Errorf("table level 1: tables %v, want one table %s partitioned by partition_0", keysOf(got), root)
	}
}

// Two folders with the same name in different places get distinct tables.
func TestNameCollision(t *testing.T) {
	l := newLake(t)
	l.put("a/data/1.json", jsonLines(`{"x":1}`))
	l.put("a/other/1.csv", []byte("p,q\n1,2\n"))
	l.put("b/data/1.csv", []byte("p,q\n1,2\n"))
	l.put("b/more/1.json", jsonLines(`{"x":1}`))
	cat := newCatalog(t)
	runCrawl(t, l, cat, Config{})
	got := tables(t, cat)
	if len(got) != 4 {
		t.Fatalf("tables %v, want 4", keysOf(got))
	}
	data := 0
	for n, tb := range got {
		if strings.HasPrefix(n, "data") {
			data++
			if !strings.HasSuffix(tb.Location, "/data/") {
				t.Errorf("table %s at %s", n, tb.Location)
			}
		}
	}
	if data != 2 {
		t.Errorf("tables %v, want data and data_<hash>", keysOf(got))
	}
	// Names are stable across crawls.
	runCrawl(t, l, cat, Config{})
	if again := tables(t, cat); !reflect.DeepEqual(keysOf(again), keysOf(got)) {
		t.Errorf("second crawl: tables %v, want %v", keysOf(again), keysOf(got))
	}
}

func TestCrawlHistoryAndProgress(t *testing.T) {
	l := newLake(t)
	for i := range 20 {
		l.put(fmt.Sprintf("seed/%d.json", i), seedRecord(i))
	}
	l.put("junk/blob.bin", []byte{0, 1, 2, 3, 0, 0, 0})
	cat := newCatalog(t)
	var last Progress
	calls := 0
	run := runCrawl(t, l, cat, Config{Progress: func(p Progress) { last = p; calls++ }})
	if last.Read != 21 || last.ToRead != 21 || last.Listed != 21 || calls < 21 {
		t.Errorf("progress %+v after %d calls", last, calls)
	}
	if run.FilesSkipped != 1 || !slices.ContainsFunc(run.Messages, func(m string) bool { return strings.Contains(m, "junk/blob.bin") }) {
		t.Errorf("unknown file: skipped %d, messages %q", run.FilesSkipped, run.Messages)
	}
	runs, err := cat.ListCrawls(context.Background(), "lake", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].ID != run.ID || runs[0].FilesRead != 20 || !slices.Equal(runs[0].TablesCreated, []string{"seed"}) ||
		runs[0].End.Before(runs[0].Start) || runs[0].LakeURL != l.store.URL() {
		t.Errorf("history %+v, want the run %+v", runs, run)
	}
}

func TestConfigErrors(t *testing.T) {
	l := newLake(t)
	cat := newCatalog(t)
	for _, cfg := range []Config{
		{},
		{Database: "x", SchemaChangePolicy: "maybe"},
		{Database: "x", DeletePolicy: "shred"},
		{Database: "x", TableLevel: -1},
		{Database: "x", Exclude: []string{"[unclosed"}},
	} {
		if _, err := New(l.store, cat, cfg); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("New(%+v): %v, want ErrConfig", cfg, err)
		}
	}
}

// A cancelled crawl returns the context's error and records the failure.
func TestCancel(t *testing.T) {
	l := newLake(t)
	for i := range 50 {
		l.put(fmt.Sprintf("seed/%d.json", i), seedRecord(i))
	}
	cat := newCatalog(t)
	c, err := New(l.store, cat, Config{Database: "lake"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	run, err := c.Run(ctx)
	if !errors.Is(err, context.Canceled) || run.Error == "" {
		t.Errorf("cancelled crawl: %v, run error %q", err, run.Error)
	}
	if runs, _ := cat.ListCrawls(context.Background(), "lake", 1); len(runs) != 1 || runs[0].Error == "" {
		t.Errorf("history of a cancelled crawl: %+v", runs)
	}
}

// The table starts at the folder above the first key=value folder, however
// deep; files that do not fit its layout are left out and reported.
func TestHiveLayoutEdges(t *testing.T) {
	l := newLake(t)
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	l.put("raw/ticks/dt=2026-11-26/hour=01/a.parquet", tickParquet(t, 5, day))
	l.put("raw/ticks/dt=2026-11-26/hour=02/a.parquet", tickParquet(t, 5, day))
	l.put("raw/ticks/dt=2026-11-26/hour=02/b.json", jsonLines(`{"x":1}`))  // another format
	l.put("raw/ticks/dt=2026-11-26/stray.parquet", tickParquet(t, 5, day)) // another depth
	l.put("raw/ticks/DT=2026-11-27/Hour=03/a.parquet", tickParquet(t, 5, day))
	cat := newCatalog(t)
	tb, run := onlyTable(t, l, cat, "ticks")
	if tb.Location != l.url("raw/ticks/") || !reflect.DeepEqual(tb.PartitionKeys, cols("dt string", "hour string")) {
		t.Errorf("ticks: location %s keys %v", tb.Location, tb.PartitionKeys)
	}
	if n := len(partitions(t, cat, "ticks")); n != 3 {
		t.Errorf("%d partitions, want 3", n)
	}
	if !slices.ContainsFunc(run.Messages, func(m string) bool { return strings.Contains(m, "2 files") && strings.Contains(m, "left out") }) {
		t.Errorf("messages %q, want a note on the 2 files left out", run.Messages)
	}
}

// Files directly under the crawled location are a table named after it; a
// data column named like a partition key gives way to the key.
func TestRootFilesAndKeyCollision(t *testing.T) {
	l := newLake(t)
	l.put("1.json", jsonLines(`{"a":1}`))
	l.put("2.json", jsonLines(`{"a":2}`))
	l.put("events/dt=2026-11-26/1.json", jsonLines(`{"dt":"2026-11-26","v":1}`))
	cat := newCatalog(t)
	run := runCrawl(t, l, cat, Config{TablePrefix: "x_"})
	got := tables(t, cat)
	root := identifier("x_"+l.store.URL()[strings.LastIndexByte(l.store.URL(), '/')+1:], 0)
	if tb, ok := got[root]; !ok || tb.Location != l.url("") || len(tb.PartitionKeys) != 0 {
		t.Errorf("tables %v, want %s at the root (messages %q)", keysOf(got), root, run.Messages)
	}
	ev := got["x_events"]
	if !reflect.DeepEqual(ev.Columns, cols("v int")) || !reflect.DeepEqual(ev.PartitionKeys, cols("dt string")) {
		t.Errorf("events: columns %v keys %v", ev.Columns, ev.PartitionKeys)
	}
}

// An incremental crawl widens an existing table from new folders and finds
// new tables in new places.
func TestIncrementalSchemaAndNewTable(t *testing.T) {
	l := newLake(t)
	l.put("quotes/dt=1/a.json", jsonLines(`{"s":"A","p":1}`))
	cat := newCatalog(t)
	runCrawl(t, l, cat, Config{Incremental: true})
	l.put("quotes/dt=2/a.json", jsonLines(`{"s":"A","p":1.5,"q":2}`))
	l.put("quotes/dt=1/b.json", jsonLines(`{"s":"A","p":"not read: dt=1 was crawled"}`))
	l.put("bars/x.csv", []byte("s,o,c\nA,1,2\n"))
	run := runCrawl(t, l, cat, Config{Incremental: true})
	got := tables(t, cat)
	if !reflect.DeepEqual(got["quotes"].Columns, cols("s string", "p double", "q int")) || got["quotes"].Version != 2 {
		t.Errorf("quotes: version %d columns %v", got["quotes"].Version, got["quotes"].Columns)
	}
	if got["bars"].Format != stocklake.FormatCSV || !slices.Equal(run.TablesCreated, []string{"bars"}) ||
		!slices.Equal(run.TablesUpdated, []string{"quotes"}) || run.PartitionsAdded != 1 || run.FilesRead != 2 {
		t.Errorf("run: %+v", run)
	}
}

// When the folder depth of a table changes, its partition keys follow and
// the old partitions are replaced.
func TestPartitionKeysChange(t *testing.T) {
	l := newLake(t)
	l.put("data/a/1.json", jsonLines(`{"x":1}`))
	l.put("data/b/1.json", jsonLines(`{"x":1}`))
	cat := newCatalog(t)
	runCrawl(t, l, cat, Config{})
	l.remove("data")
	l.put("data/a/1/1.json", jsonLines(`{"x":1}`))
	l.put("data/b/2/1.json", jsonLines(`{"x":1}`))
	run := runCrawl(t, l, cat, Config{})
	tb := tables(t, cat)["data"]
	if !reflect.DeepEqual(tb.PartitionKeys, cols("partition_0 string", "partition_1 string")) || tb.Version != 2 {
		t.Fatalf("keys %v version %d (messages %q)", tb.PartitionKeys, tb.Version, run.Messages)
	}
	var vals []string
	for _, p := range partitions(t, cat, "data") {
		vals = append(vals, strings.Join(p.Values, "/"))
	}
	if !reflect.DeepEqual(vals, []string{"a/1", "b/2"}) {
		t.Errorf("partitions %v", vals)
	}
}

// TestPartitionFolderEscaping pins that partition folder names are
// unescaped with Hive's rule (hive.Unescape): a stray '%' leaves the rest
// decoded (url.PathUnescape failed on the whole name and kept "%2F"), and
// escaped key names are decoded too.
func TestPartitionFolderEscaping(t *testing.T) {
	l := newLake(t)
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	l.put("ticks/ex=NYA%2FX/a.parquet", tickParquet(t, 5, day))
	l.put("ticks/ex=5%zz%2F/a.parquet", tickParquet(t, 5, day))
	l.put("ticks/ex="+"__HIVE_DEFAULT_PARTITION__"+"/a.parquet", tickParquet(t, 5, day))
	cat := newCatalog(t)
	runCrawl(t, l, cat, Config{})
	var got []string
	for _, p := range partitions(t, cat, "ticks") {
		got = append(got, p.Values...)
	}
	slices.Sort(got)
	if want := []string{"5%zz/", "NYA/X", "__HIVE_DEFAULT_PARTITION__"}; !slices.Equal(got, want) {
		t.Errorf("partition values %q, want %q", got, want)
	}
}
