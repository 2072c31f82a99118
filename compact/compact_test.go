package compact

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/crawler"
	"github.com/stocklake/stocklake/duckdb"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/sink"
	"github.com/stocklake/stocklake/sqlite"
)

const topicID = "AAAAAAAAAAAAAAAAAAAAAA"

// lake is a test lake: a file:// store, a SQLite catalog and a DuckDB
// engine over them, with tick objects laid out as the sink writes them.
type lake struct {
	t     *testing.T
	store stocklake.ObjectStore
	cat   stocklake.Catalog
	db    string // catalog database
	eng   *duckdb.Engine
	now   time.Time // the compactor's clock: objects are written "an hour before"
	rows  int64     // rows written
	sum   float64   // sum of prices written
	rng   *rand.Rand
	next  int64 // next Kafka offset
}

func newLake(t *testing.T) *lake {
	t.Helper()
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
	return newLakeOn(t, store, cat, "market")
}

// newLakeOn makes a test lake of a store and a catalog database.
func newLakeOn(t *testing.T, store stocklake.ObjectStore, cat stocklake.Catalog, db string) *lake {
	l := &lake{t: t, store: store, cat: cat, db: db, now: time.Now().Add(time.Hour), rng: rand.New(rand.NewPCG(1, 2))}
	l.eng = l.engine(cat)
	return l
}

func (l *lake) engine(cat stocklake.Catalog) *duckdb.Engine {
	e, err := duckdb.New(context.Background(), duckdb.Config{Catalog: cat, Store: l.store, Database: l.db, CacheDir: l.t.TempDir()})
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { e.Close() })
	return e
}

// put writes one sink-style object of n ticks into partition path and
// returns its key. Symbols and times are shuffled, as a sink batch is.
func (l *lake) put(path string, n int) string {
	l.t.Helper()
	key := sink.ObjectKey("ticks", path, topicID, 0, l.next, "parquet")
	batch := stocklake.BatchPart{TopicID: topicID, Partition: 0, First: l.next, Last: l.next + int64(n) - 1, Objects: 1, Object: l.next}
	l.next += int64(n)
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[sink.TickRow](&buf, parquet.Compression(&parquet.Zstd),
		parquet.KeyValueMetadata(stocklake.ParquetKeyBatches, stocklake.EncodeBatchParts([]stocklake.BatchPart{batch})))
	day, _ := time.Parse("2006-01-02", strings.TrimPrefix(strings.Split(path, "/")[0], "dt="))
	rows := make([]sink.TickRow, n)
	for i := range rows {
		p := float64(l.rng.IntN(100000)) / 100
		rows[i] = sink.TickRow{
			Symbol: fmt.Sprintf("SYM%02d", l.rng.IntN(7)), TS: day.Add(time.Duration(l.rng.IntN(86400)) * time.Second).UnixMicro(),
			Price: p, Size: 1, Exchange: "X", TradeID: fmt.Sprint(l.next, "-", i), Source: "test",
		}
		l.rows++
		l.sum += p
	}
	if _, err := w.Write(rows); err != nil {
		l.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		l.t.Fatal(err)
	}
	if err := l.store.Put(context.Background(), key, &buf); err != nil {
		l.t.Fatal(err)
	}
	return key
}

// verify checks with stocklake verify's reader that the table accounts for
// every offset written, [0, next), once.
func (l *lake) verify(what string) {
	l.t.Helper()
	cov, _, err := sink.Coverage(context.Background(), l.store, "ticks", nil)
	if err != nil {
		l.t.Fatal(err)
	}
	rep := cov.Report(stocklake.CoverageFacts{})
	if !rep.OK || len(rep.Partitions) != 1 || fmt.Sprint(rep.Partitions[0].Covered) != fmt.Sprintf("[{0 %d}]", l.next) {
		l.t.Fatalf("%s: verify: %+v", what, rep)
	}
}

// crawl crawls the lake into cat (creating the table and partitions).
func (l *lake) crawl(cat stocklake.Catalog) stocklake.CrawlRun {
	l.t.Helper()
	c, err := crawler.New(l.store, cat, crawler.Config{Database: l.db, DeletePolicy: crawler.DeleteMissing})
	if err != nil {
		l.t.Fatal(err)
	}
	run, err := c.Run(context.Background())
	if err != nil {
		l.t.Fatal(err)
	}
	return run
}

// counts returns count(*) and sum(price) through the engine.
func counts(t *testing.T, e *duckdb.Engine) (int64, float64, error) {
	t.Helper()
	rows, err := e.Query(context.Background(), "SELECT count(*), sum(price) FROM ticks")
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	if !rows.Next() {
		return 0, 0, fmt.Errorf("no row: %v", rows.Err())
	}
	v := rows.Values()
	n, _ := v[0].(int64)
	s, _ := v[1].(float64)
	return n, s, rows.Err()
}

// check asserts the engine sees exactly the rows written.
func (l *lake) check(what string, e *duckdb.Engine) {
	l.t.Helper()
	n, s, err := counts(l.t, e)
	if err != nil {
		l.t.Fatalf("%s: query: %v", what, err)
	}
	if n != l.rows || !near(s, l.sum) {
		l.t.Fatalf("%s: count %d sum %.2f, want %d and %.2f", what, n, s, l.rows, l.sum)
	}
}

func near(a, b float64) bool { return a-b < 0.01 && b-a < 0.01 }

func (l *lake) compactor(cfg Config) *Compactor {
	l.t.Helper()
	cfg.Database = l.db
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return l.now }
	}
	c, err := New(l.store, l.cat, cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	return c
}

// data lists the data objects under prefix.
func (l *lake) data(prefix string) []stocklake.ObjectInfo {
	l.t.Helper()
	objs, err := l.store.List(context.Background(), prefix)
	if err != nil {
		l.t.Fatal(err)
	}
	return slices.DeleteFunc(objs, func(o stocklake.ObjectInfo) bool { return !strings.HasSuffix(o.Key, ".parquet") })
}

func (l *lake) partition(values ...string) stocklake.Partition {
	l.t.Helper()
	parts, err := l.cat.ListPartitions(context.Background(), l.db, "ticks")
	if err != nil {
		l.t.Fatal(err)
	}
	for _, p := range parts {
		if slices.Equal(p.Values, values) {
			return p
		}
	}
	l.t.Fatalf("no partition %v in %v", values, parts)
	return stocklake.Partition{}
}

const (
	closed  = "dt=2026-11-20/hour=14"
	closed2 = "dt=2026-11-20/hour=15"
)

// openPath is the partition of the compactor's current hour.
func (l *lake) openPath() string {
	return "dt=" + l.now.UTC().Format("2006-01-02") + "/hour=" + l.now.UTC().Format("15")
}

func TestCompactMergesClosedPartitions(t *testing.T) {
	l := newLake(t)
	for range 20 {
		l.put(closed, 50)
	}
	for range 3 {
		l.put(closed2, 10)
	}
	for range 4 {
		l.put(l.openPath(), 10)
	}
	l.crawl(l.cat)
	l.check("before compaction", l.eng)
	l.verify("before compaction")

	c := l.compactor(Config{Grace: -1})
	res, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.PartitionsCompacted != 2 || res.FilesRewritten != 23 || res.FilesWritten != 2 || res.ObjectsDeleted != 23 {
		t.Fatalf("result %+v: want 2 partitions, 23 files into 2, 23 deleted", res)
	}
	if c.Stats().FilesRewritten.Load() != 23 || c.Stats().BytesRewritten.Load() == 0 || c.Stats().BytesWritten.Load() == 0 {
		t.Errorf("stats: rewritten %d files %d bytes, written %d bytes", c.Stats().FilesRewritten.Load(), c.Stats().BytesRewritten.Load(), c.Stats().BytesWritten.Load())
	}
	l.check("after compaction", l.eng)
	l.verify("after compaction") // the merged objects carry the batch records

	// The closed partition now points at one merged object, sorted by
	// (symbol, ts), with microsecond timestamps; its own folder is empty.
	p := l.partition("2026-11-20", "14")
	if !strings.Contains(p.Location, "/ticks/"+stocklake.CompactedFolder+"/") || !strings.HasSuffix(p.Location, "/"+closed+"/") || p.Parameters[ParamCompactionRun] == "" {
		t.Fatalf("partition location %s parameters %v: want the merged folder", p.Location, p.Parameters)
	}
	if objs := l.data("ticks/" + closed + "/"); len(objs) != 0 {
		t.Errorf("%d superseded objects left after a pass with no grace", len(objs))
	}
	loc := strings.TrimPrefix(p.Location, l.store.URL()+"/")
	merged := l.data(loc)
	if len(merged) != 1 {
		t.Fatalf("%d merged objects in %s, want 1", len(merged), loc)
	}
	rc, err := l.store.Get(context.Background(), merged[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	got, err := parquet.Read[sink.TickRow](bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1000 || !slices.IsSortedFunc(got, func(a, b sink.TickRow) int {
		if c := strings.Compare(a.Symbol, b.Symbol); c != 0 {
			return c
		}
		return int(a.TS - b.TS)
	}) {
		t.Errorf("merged object has %d rows (want 1000), sorted by (symbol, ts): %t", len(got), false)
	}
	f, _ := parquet.OpenFile(bytes.NewReader(body), int64(len(body)))
	ts, ok := f.Schema().Lookup("ts")
	if lt := fmt.Sprint(ts.Node.Type().LogicalType()); !ok || !strings.Contains(lt, "TIMESTAMP") || !strings.Contains(lt, "MICROS") {
		t.Errorf("merged ts column is %s, want TIMESTAMP(MICROS)", lt)
	}
	if cc := f.Metadata().RowGroups[0].Columns[0].MetaData.Codec; cc.String() != "ZSTD" {
		t.Errorf("merged codec %v, want ZSTD", cc)
	}

	// The open partition is untouched.
	if p := l.partition(strings.Split(strings.TrimPrefix(l.openPath(), "dt="), "/hour=")...); strings.Contains(p.Location, stocklake.CompactedFolder) {
		t.Errorf("open partition compacted: %s", p.Location)
	}
	if n := len(l.data("ticks/" + l.openPath() + "/")); n != 4 {
		t.Errorf("open partition has %d objects, want its 4", n)
	}
	if !slices.ContainsFunc(res.Skipped, func(s string) bool { return strings.Contains(s, "open") }) {
		t.Errorf("skipped %q: want the open partition named", res.Skipped)
	}

	// Partition values still come from the catalog, and filters on them
	// prune to the merged folder.
	rows, err := l.eng.Query(context.Background(), "SELECT dt, hour, count(*) FROM ticks WHERE dt = '2026-11-20' AND hour = '14' GROUP BY dt, hour")
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() || fmt.Sprint(rows.Values()) != "[2026-11-20 14 1000]" {
		t.Errorf("filtered on the compacted partition: %v (%v)", rows.Values(), rows.Err())
	}
	for rows.Next() {
	}
	rows.Close()
	if st := rows.Stats(); st.FilesScanned != 1 {
		t.Errorf("the filtered query scanned %d files, want the 1 merged file", st.FilesScanned)
	}

	// A second pass has nothing to do.
	res, err = c.Run(context.Background())
	if err != nil || res.PartitionsCompacted != 0 {
		t.Fatalf("second pass: %+v, %v", res, err)
	}
	l.check("after a second pass", l.eng)
}

func TestCompactMinAge(t *testing.T) {
	l := newLake(t)
	for range 3 {
		l.put(closed, 10)
	}
	l.crawl(l.cat)
	c := l.compactor(Config{MinAge: 2 * time.Hour, Grace: -1}) // objects are an hour old
	res, err := c.Run(context.Background())
	if err != nil || res.PartitionsCompacted != 0 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "min age") {
		t.Fatalf("objects younger than min age: %+v, %v", res, err)
	}
}

// TestCompactLeavesSinkBatches: a partition holding an object that a sink
// manifest lists in a batch is not compacted (the sink may rewrite or
// delete it when it resumes) until the manifest no longer lists it.
func TestCompactLeavesSinkBatches(t *testing.T) {
	l := newLake(t)
	var keys []string
	for range 3 {
		keys = append(keys, l.put(closed, 10))
	}
	l.crawl(l.cat)
	// The sink's manifest format (sink/commit.go).
	manifest := fmt.Sprintf(`{"topic_id":%q,"partition":0,"epoch":3,"owner":"o","batches":[{"first_offset":20,"last_offset":29,"keys":[%q]}],"written":"2026-11-20T14:00:00Z"}`, topicID, keys[2])
	mkey := "_stocklake/sink/ticks/" + topicID + "/0.json"
	if err := l.store.Put(context.Background(), mkey, strings.NewReader(manifest)); err != nil {
		t.Fatal(err)
	}
	c := l.compactor(Config{Grace: -1})
	res, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.PartitionsCompacted != 0 || len(l.data("ticks/"+closed+"/")) != 3 || !strings.Contains(strings.Join(res.Skipped, ";"), "sink batch") {
		t.Fatalf("partition with an uncommitted sink object: %+v", res)
	}
	// The sink committed: its next manifest write drops the batch.
	if err := l.store.Put(context.Background(), mkey, strings.NewReader(`{"topic_id":"x","partition":0,"epoch":3,"batches":[]}`)); err != nil {
		t.Fatal(err)
	}
	if res, err = c.Run(context.Background()); err != nil || res.PartitionsCompacted != 1 {
		t.Fatalf("after the commit: %+v, %v", res, err)
	}
	l.check("after compaction", l.eng)
}

// TestCompactCrash kills the compactor (an error return with nothing
// cleaned up) after the merged objects are written and after the catalog
// swap: readers see every row once throughout, and a rerun finishes.
func TestCompactCrash(t *testing.T) {
	for _, step := range []string{"written", "swapped"} {
		t.Run(step, func(t *testing.T) {
			l := newLake(t)
			for range 10 {
				l.put(closed, 20)
			}
			l.crawl(l.cat)
			c := l.compactor(Config{Grace: -1})
			c.crashAt = step
			if _, err := c.Run(context.Background()); !errors.Is(err, errCrash) {
				t.Fatalf("run with a crash at %s: %v", step, err)
			}
			l.check("after the crash", l.eng)
			st, _, err := stocklake.ReadCompactionState(context.Background(), l.store, "ticks/")
			if err != nil || st.Partitions[closed+"/"] == nil || st.Partitions[closed+"/"].Next == nil {
				t.Fatalf("state after the crash: %+v, %v: want the compaction pending", st, err)
			}
			pending := st.Partitions[closed+"/"].Next.Location
			if len(l.data(pending)) != 1 {
				t.Fatalf("merged objects of the crashed run: %d, want 1", len(l.data(pending)))
			}
			// A crawl meanwhile counts every row once too.
			l.crawl(l.cat)
			l.check("crawl after the crash", l.eng)

			c.crashAt = ""
			if step == "written" {
				// Not yet: another compactor may still be writing it.
				res, err := c.Run(context.Background())
				if err != nil || res.PartitionsCompacted != 0 || len(l.data(pending)) != 1 {
					t.Fatalf("rerun before the pending compaction is stale: %+v, %v; want it left alone", res, err)
				}
				l.check("after a rerun before it is stale", l.eng)
				l.now = l.now.Add(DefaultStaleAfter)
			}
			res, err := c.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.Recovered != 1 || res.PartitionsCompacted != map[string]int{"written": 1, "swapped": 0}[step] {
				t.Fatalf("rerun: %+v", res)
			}
			l.check("after the rerun", l.eng)
			if n := len(l.data("ticks/" + closed + "/")); n != 0 {
				t.Errorf("%d superseded objects left", n)
			}
			p := l.partition("2026-11-20", "14")
			all := l.data("ticks/" + stocklake.CompactedFolder + "/")
			if len(all) != 1 || !strings.HasPrefix(all[0].Key, strings.TrimPrefix(p.Location, l.store.URL()+"/")) {
				t.Errorf("merged objects %v, want one, in the partition's location %s", all, p.Location)
			}
			if step == "written" && len(l.data(pending)) != 0 {
				t.Errorf("the crashed run's folder %s was not removed", pending)
			}
		})
	}
}

// TestCompactTwoCompactors: a second compactor that runs while the first
// is writing a partition's merged objects leaves that partition alone (it
// does not delete the objects the first is about to swap in); the first
// then stops at its next state write, and a later pass finishes its swap.
func TestCompactTwoCompactors(t *testing.T) {
	l := newLake(t)
	for range 5 {
		l.put(closed, 10)
	}
	l.crawl(l.cat)
	second := l.compactor(Config{Grace: -1})
	var res2 Result
	var err2 error
	first := l.compactor(Config{Grace: -1, AfterStep: func(_ context.Context, step string) {
		if step == "written" {
			res2, err2 = second.Run(context.Background())
		}
	}})
	_, err := first.Run(context.Background())
	if err2 != nil || res2.PartitionsCompacted != 0 || !strings.Contains(strings.Join(res2.Skipped, ";"), "pending") {
		t.Fatalf("second compactor: %+v, %v; want the partition left alone", res2, err2)
	}
	if err == nil || !strings.Contains(err.Error(), "another compactor") {
		t.Fatalf("first compactor: %v; want it stopped by the second's state write", err)
	}
	l.check("after both", l.eng)
	res, err := second.Run(context.Background())
	if err != nil || res.Recovered != 1 {
		t.Fatalf("a later pass: %+v, %v; want the swap finished", res, err)
	}
	l.check("after a later pass", l.eng)
	if n := len(l.data("ticks/" + closed + "/")); n != 0 {
		t.Errorf("%d superseded objects left", n)
	}
}

// TestCompactReaders: a reader never sees a row twice or misses one while
// compaction runs: queries at every step of it and in a loop throughout.
func TestCompactReaders(t *testing.T) {
	l := newLake(t)
	for h := range 6 {
		for range 8 {
			l.put(fmt.Sprintf("dt=2026-11-20/hour=%02d", h), 30)
		}
	}
	l.crawl(l.cat)
	l.check("before", l.eng)

	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg      sync.WaitGroup
		queries int
		bad     []string
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		last := int64(-1)
		for ctx.Err() == nil {
			n, _, err := counts(t, l.eng)
			queries++
			switch {
			case err != nil:
				bad = append(bad, err.Error())
			case n > l.rows:
				bad = append(bad, fmt.Sprintf("count %d above the %d rows written", n, l.rows))
			case n < last:
				bad = append(bad, fmt.Sprintf("count went down from %d to %d", last, n))
			}
			last = n
		}
	}()
	steps := 0
	c := l.compactor(Config{AfterStep: func(_ context.Context, step string) {
		steps++
		l.check("after step "+step, l.eng)
	}})
	res, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The grace has passed: the superseded objects go.
	l.now = l.now.Add(2 * time.Hour)
	res2, err := c.Run(context.Background())
	cancel()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.PartitionsCompacted != 6 || res.ObjectsDeleted != 0 || res2.ObjectsDeleted != 48 {
		t.Fatalf("passes: %+v then %+v", res, res2)
	}
	if len(bad) > 0 {
		t.Fatalf("reader loop (%d queries): %d bad answers, e.g. %s", queries, len(bad), bad[0])
	}
	if steps < 6*3 {
		t.Errorf("checked %d steps, want 3 per partition", steps)
	}
	t.Logf("reader loop ran %d queries; %d step checks", queries, steps)
	l.check("after", l.eng)
}

// TestCompactLateRecord: an object a sink writes into a compacted
// partition's own folder (a late record) becomes visible at the next pass,
// merged with the partition's merged objects, and is counted once.
func TestCompactLateRecord(t *testing.T) {
	l := newLake(t)
	for range 4 {
		l.put(closed, 10)
	}
	l.crawl(l.cat)
	c := l.compactor(Config{Grace: -1})
	if _, err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := l.rows
	l.put(closed, 7)
	n, _, err := counts(t, l.eng)
	if err != nil || n != before {
		t.Fatalf("late object before the next pass: count %d, %v; want %d (not visible yet)", n, err, before)
	}
	// A crawl now does not count it twice either.
	l.crawl(l.cat)
	if n, _, _ := counts(t, l.eng); n != before {
		t.Fatalf("crawl with a late object: count %d, want %d", n, before)
	}
	res, err := c.Run(context.Background())
	if err != nil || res.PartitionsCompacted != 1 || res.FilesRewritten != 2 {
		t.Fatalf("pass with a late object: %+v, %v: want the merged object and the late one merged", res, err)
	}
	l.check("after the late object is merged", l.eng)
	if all := l.data("ticks/"); len(all) != 1 {
		t.Errorf("objects left: %v, want the one merged object", all)
	}
}

// TestCrawlAfterCompaction: a crawl after compaction, into the same catalog
// or a new one, finds every row once, both while the superseded objects
// are still there (grace) and after they are deleted.
func TestCrawlAfterCompaction(t *testing.T) {
	l := newLake(t)
	for range 5 {
		l.put(closed, 10)
		l.put(closed2, 10)
	}
	l.crawl(l.cat)
	c := l.compactor(Config{})
	if res, err := c.Run(context.Background()); err != nil || res.PartitionsCompacted != 2 {
		t.Fatalf("%+v, %v", res, err)
	}
	recrawl := func(when string) {
		run := l.crawl(l.cat)
		l.check(when+": crawl into the same catalog", l.eng)
		if run.PartitionsRemoved != 0 || run.PartitionsAdded != 0 {
			t.Errorf("%s: crawl removed %d and added %d partitions", when, run.PartitionsRemoved, run.PartitionsAdded)
		}
		fresh, err := sqlite.Open(filepath.Join(t.TempDir(), "fresh.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer fresh.Close()
		l.crawl(fresh)
		l.check(when+": crawl into a new catalog", l.engine(fresh))
	}
	recrawl("during the grace")
	l.now = l.now.Add(2 * time.Hour)
	if res, err := c.Run(context.Background()); err != nil || res.ObjectsDeleted != 10 {
		t.Fatalf("%+v, %v", res, err)
	}
	recrawl("after deletion")
}

// TestCompactRepointsReaddedPartition: a compacted partition that the
// catalog points at its own folder again (re-added by an older crawler or
// by hand) is pointed back at its merged objects before the objects they
// replaced are deleted; with a late object there too, both are merged.
func TestCompactRepointsReaddedPartition(t *testing.T) {
	for _, late := range []bool{false, true} {
		t.Run(fmt.Sprintf("late=%t", late), func(t *testing.T) {
			l := newLake(t)
			for range 4 {
				l.put(closed, 10)
			}
			l.crawl(l.cat)
			c := l.compactor(Config{})
			if _, err := c.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			p := l.partition("2026-11-20", "14")
			p.Location = l.store.URL() + "/ticks/" + closed + "/"
			if err := l.cat.UpdatePartition(context.Background(), l.db, "ticks", p); err != nil {
				t.Fatal(err)
			}
			if late {
				l.put(closed, 5)
			}
			l.now = l.now.Add(2 * DefaultGrace) // the superseded objects go in this pass
			if _, err := c.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if p := l.partition("2026-11-20", "14"); !strings.Contains(p.Location, stocklake.CompactedFolder) {
				t.Fatalf("partition left at %s", p.Location)
			}
			l.check("after the pass", l.eng)
		})
	}
}

func TestTimeRangeEnd(t *testing.T) {
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	for _, tc := range []struct {
		keys, values []string
		end          time.Time
		ok           bool
	}{
		{[]string{"dt", "hour"}, []string{"2026-11-20", "14"}, at("2026-11-20T15:00:00Z"), true},
		{[]string{"dt", "hour"}, []string{"2026-11-20", "23"}, at("2026-11-21T00:00:00Z"), true},
		{[]string{"dt"}, []string{"2026-12-31"}, at("2027-01-01T00:00:00Z"), true},
		{[]string{"year", "month"}, []string{"2026", "12"}, at("2027-01-01T00:00:00Z"), true},
		{[]string{"year", "month", "day", "hour", "minute"}, []string{"2026", "02", "28", "23", "59"}, at("2026-03-01T00:00:00Z"), true},
		{[]string{"dt", "symbol", "hour"}, []string{"2026-11-20", "AAPL", "07"}, at("2026-11-20T08:00:00Z"), true},
		{[]string{"symbol"}, []string{"AAPL"}, time.Time{}, false},
		{[]string{"dt", "hour"}, []string{"2026-11-20", "24"}, time.Time{}, false},
		{[]string{"dt", "hour"}, []string{"2026-11-20", "-1"}, time.Time{}, false},
		{[]string{"dt"}, []string{"__HIVE_DEFAULT_PARTITION__"}, time.Time{}, false},
		{[]string{"hour"}, []string{"07"}, time.Time{}, false},
		{[]string{"year", "day"}, []string{"2026", "07"}, time.Time{}, false},
	} {
		end, ok := timeRangeEnd(tc.keys, tc.values)
		if ok != tc.ok || !end.Equal(tc.end) {
			t.Errorf("timeRangeEnd(%v, %v) = %v, %t; want %v, %t", tc.keys, tc.values, end, ok, tc.end, tc.ok)
		}
	}
}
