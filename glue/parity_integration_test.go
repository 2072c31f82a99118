package glue

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/crawler"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/sqlite"
)

// parityLake is a small lake with every kind of table the crawler makes:
// the seed's flat prefix of one-object JSON files (with a key that needs a
// SerDe mapping), our Hive-partitioned Parquet ticks, gzip-compressed CSV
// in plain date folders, and nested gzip JSON lines.
type parityLake struct {
	t     *testing.T
	store *file.ObjectStore
}

func (l parityLake) put(key string, data []byte) {
	l.t.Helper()
	if err := l.store.Put(context.Background(), key, bytes.NewReader(data)); err != nil {
		l.t.Fatal(err)
	}
}

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type parityTick struct {
	Symbol     string    `parquet:"symbol"`
	TS         time.Time `parquet:"ts,timestamp(microsecond:utc)"`
	Price      float64   `parquet:"price"`
	Size       float64   `parquet:"size"`
	Conditions []string  `parquet:"conditions,list"`
}

// day adds one day of data to the partitioned tables.
func (l parityLake) day(day string, hours ...int) {
	for _, h := range hours {
		for f := range 2 {
			rows := make([]parityTick, 20)
			for i := range rows {
				rows[i] = parityTick{Symbol: []string{"AAPL", "MSFT"}[i%2], TS: time.Date(2026, 11, 25, h, 0, i, 0, time.UTC),
					Price: 100 + float64(i), Size: float64(i * 10), Conditions: []string{"@"}}
			}
			var buf bytes.Buffer
			if err := parquet.Write(&buf, rows); err != nil {
				l.t.Fatal(err)
			}
			l.put(fmt.Sprintf("ticks/dt=%s/hour=%02d/ticks+Zm9v+%d+%019d.parquet", day, h, f, h*100), buf.Bytes())
		}
	}
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		l.t.Fatal(err)
	}
	l.put("trades/"+d.Format("2006/01/02")+"/part-0.csv.gz", gz(l.t, "symbol,price,qty\nAAPL,101.5,10\nMSFT,402.25,3\n"))
	l.put("events/dt="+day+"/events-0.json.gz", gz(l.t,
		`{"kind":"trade","user":{"id":1,"name":"ann"},"tags":["a","b"],"amount":1.5}`+"\n"+
			`{"kind":"quote","user":{"id":2,"name":"bob"},"tags":[],"amount":2}`+"\n"))
}

func newParityLake(t *testing.T) parityLake {
	t.Helper()
	l := parityLake{t: t, store: tempLake(t)}
	for i := range 30 {
		day := time.Date(1965, 12, 31, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format("2006-01-02")
		p := 500 + float64(i)
		l.put(fmt.Sprintf("seed/%d.json", i), fmt.Appendf(nil,
			`{"Index":"NYA","Date":%q,"Open":%.2f,"High":%.2f,"Low":%.2f,"Close":%.2f,"Adj Close":%.2f,"Volume":%d.0,"CloseUSD":%.2f}`,
			day, p, p+1, p-1, p, p, i*100, p))
	}
	l.day("2026-11-25", 13, 14)
	l.day("2026-11-26", 9)
	return l
}

// snapshot is what a catalog holds for one database, without what a
// backend necessarily sets on its own: times and version numbers (Glue
// numbers versions its own way; their count is kept).
type snapshot struct {
	Database   stocklake.Database
	Tables     []stocklake.Table
	Versions   map[string]int
	Partitions map[string][]stocklake.Partition
}

func emptyNil[M ~map[K]V, K comparable, V any](m M) M {
	if len(m) == 0 {
		return nil
	}
	return m
}

func takeSnapshot(t *testing.T, cat stocklake.Catalog, db string) snapshot {
	t.Helper()
	ctx := context.Background()
	d, err := cat.GetDatabase(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	d.CreateTime = time.Time{}
	d.Parameters = emptyNil(d.Parameters)
	s := snapshot{Database: d, Versions: map[string]int{}, Partitions: map[string][]stocklake.Partition{}}
	tables, err := cat.ListTables(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		tb.CreateTime, tb.UpdateTime, tb.Version = time.Time{}, time.Time{}, 0
		tb.Parameters, tb.SerDeParams = emptyNil(tb.Parameters), emptyNil(tb.SerDeParams)
		s.Tables = append(s.Tables, tb)
		vs, err := cat.TableVersions(ctx, db, tb.Name)
		if err != nil {
			t.Fatal(err)
		}
		s.Versions[tb.Name] = len(vs)
		parts, err := cat.ListPartitions(ctx, db, tb.Name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range parts {
			parts[i].CreateTime = time.Time{}
			parts[i].Parameters = emptyNil(parts[i].Parameters)
		}
		s.Partitions[tb.Name] = parts
	}
	return s
}

// compareSnapshots reports every difference, table by table.
func compareSnapshots(t *testing.T, sq, gl snapshot) {
	t.Helper()
	if !reflect.DeepEqual(sq.Database, gl.Database) {
		t.Errorf("database:\nsqlite %+v\nglue   %+v", sq.Database, gl.Database)
	}
	names := func(ts []stocklake.Table) []string {
		var n []string
		for _, tb := range ts {
			n = append(n, tb.Name)
		}
		return n
	}
	if !slices.Equal(names(sq.Tables), names(gl.Tables)) {
		t.Fatalf("tables: sqlite %v, glue %v", names(sq.Tables), names(gl.Tables))
	}
	for i := range sq.Tables {
		if !reflect.DeepEqual(sq.Tables[i], gl.Tables[i]) {
			t.Errorf("table %s:\nsqlite %+v\nglue   %+v", sq.Tables[i].Name, sq.Tables[i], gl.Tables[i])
		}
	}
	if !maps.Equal(sq.Versions, gl.Versions) {
		t.Errorf("number of table versions: sqlite %v, glue %v", sq.Versions, gl.Versions)
	}
	for n, p := range sq.Partitions {
		if !reflect.DeepEqual(p, gl.Partitions[n]) {
			t.Errorf("partitions of %s:\nsqlite %+v\nglue   %+v", n, p, gl.Partitions[n])
		}
	}
}

// compareRuns checks that two crawls did the same; objects listed differ,
// since the Glue catalog keeps its crawl log in the lake (and crawls skip it).
func compareRuns(t *testing.T, sq, gl stocklake.CrawlRun) {
	t.Helper()
	norm := func(r stocklake.CrawlRun) stocklake.CrawlRun {
		return stocklake.CrawlRun{
			Database: r.Database, LakeURL: r.LakeURL,
			TablesCreated: slices.Sorted(slices.Values(r.TablesCreated)), TablesUpdated: slices.Sorted(slices.Values(r.TablesUpdated)),
			TablesDeleted: slices.Sorted(slices.Values(r.TablesDeleted)), PartitionsAdded: r.PartitionsAdded,
			PartitionsRemoved: r.PartitionsRemoved, FilesRead: r.FilesRead, Messages: r.Messages, Error: r.Error,
		}
	}
	if a, b := norm(sq), norm(gl); !reflect.DeepEqual(a, b) {
		t.Errorf("crawl runs differ:\nsqlite %+v\nglue   %+v", a, b)
	}
}

func crawlInto(t *testing.T, l parityLake, cat stocklake.Catalog, db string) stocklake.CrawlRun {
	t.Helper()
	c, err := crawler.New(l.store, cat, crawler.Config{Database: db, Incremental: true})
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.Run(context.Background())
	if err != nil {
		t.Fatalf("crawl into %T: %v (messages %q)", cat, err, run.Messages)
	}
	return run
}

// The same crawls of the same lake give the same tables in SQLite and in
// Glue: a first crawl, then an incremental one after a new day of data.
func TestCrawlParityIntegration(t *testing.T) {
	integrationEndpoint(t)
	l := newParityLake(t)
	testCrawlParity(t, l, integrationCatalog(t, l.store))
}

func testCrawlParity(t *testing.T, l parityLake, gl *Catalog) {
	db := uniqueDatabase(t, gl, "sl_parity")
	sq, err := sqlite.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()

	runSQ, runGL := crawlInto(t, l, sq, db), crawlInto(t, l, gl, db)
	compareRuns(t, runSQ, runGL)
	if got := slices.Sorted(slices.Values(runGL.TablesCreated)); !slices.Equal(got, []string{"events", "seed", "ticks", "trades"}) {
		t.Fatalf("tables created %v, want events, seed, ticks, trades (messages %q)", got, runGL.Messages)
	}
	first := takeSnapshot(t, gl, db)
	compareSnapshots(t, takeSnapshot(t, sq, db), first)
	if n := len(first.Partitions["ticks"]); n != 3 {
		t.Errorf("ticks has %d partitions in Glue, want 3", n)
	}

	// A new day: each incremental crawl adds only the new partitions.
	l.day("2026-11-27", 0)
	runSQ, runGL = crawlInto(t, l, sq, db), crawlInto(t, l, gl, db)
	compareRuns(t, runSQ, runGL)
	if runGL.PartitionsAdded != 3 || len(runGL.TablesCreated)+len(runGL.TablesUpdated) != 0 || runGL.FilesRead != 4 {
		t.Errorf("second crawl into Glue: %s; want 3 partitions added, no table changes, 4 files read", runGL.Summary())
	}
	second := takeSnapshot(t, gl, db)
	compareSnapshots(t, takeSnapshot(t, sq, db), second)
	if n := len(second.Partitions["ticks"]); n != 4 {
		t.Errorf("ticks has %d partitions in Glue after the new day, want 4", n)
	}

	// Both keep the same history.
	ctx := context.Background()
	hSQ, err := sq.ListCrawls(ctx, db, 0)
	if err != nil {
		t.Fatal(err)
	}
	hGL, err := gl.ListCrawls(ctx, db, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hSQ) != 2 || len(hGL) != 2 || hGL[0].ID != runGL.ID {
		t.Errorf("crawl history: sqlite %d runs, glue %d runs (newest %v), want 2 each, newest %s", len(hSQ), len(hGL), hGL, runGL.ID)
	}
}
