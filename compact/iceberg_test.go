package compact

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/sink"
)

// iceLake is an Iceberg tick table in a temp dir, fed like the sink feeds
// it: one small file and one offset range per commit.
type iceLake struct {
	t     *testing.T
	store stocklake.ObjectStore
	cat   *iceberg.Catalog
	tbl   *iceberg.Table
	next  int64
	n     int
	// noise, when set, gives ticks random prices and trade IDs, which
	// compress about as well sorted as not: merged files then weigh what
	// their inputs did, as with a sink's files of real ticks.
	noise *rand.Rand
}

func newIceLake(t *testing.T) *iceLake {
	t.Helper()
	dir := t.TempDir()
	store, err := file.New(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := iceberg.Open(context.Background(), iceberg.Config{SQLitePath: filepath.Join(dir, "catalog.db"), Warehouse: store.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	tbl, err := cat.CreateTickTable(context.Background(), "market", "ticks", iceberg.TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &iceLake{t: t, store: store, cat: cat, tbl: tbl}
}

// commit writes n ticks of day (2026-11-26 + day), symbols and times
// shuffled, as one file and commits it with the next offset range.
func (l *iceLake) commit(day, n int) {
	l.t.Helper()
	base := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC).AddDate(0, 0, day)
	rows := make([]sink.TickRow, n)
	for i := range rows {
		k := (i*7919 + l.n) % n
		rows[i] = sink.TickRow{Symbol: fmt.Sprintf("SYM%d", k%5), TS: base.Add(time.Duration(k) * time.Second).UnixMicro(),
			Price: float64(k), Size: 1, Exchange: "X", TradeID: fmt.Sprint(l.next + int64(i)), Source: "test"}
		if l.noise != nil {
			rows[i].Price = l.noise.Float64() * 1000
			rows[i].TradeID += fmt.Sprintf("-%016x", l.noise.Uint64())
		}
	}
	l.commitRows(day, rows)
}

// commitRows writes rows, of day (2026-11-26 + day) and with the trade IDs
// TickKeys counts, as one file and commits it with the next offset range.
func (l *iceLake) commitRows(day int, rows []sink.TickRow) {
	l.t.Helper()
	base := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC).AddDate(0, 0, day)
	n := len(rows)
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[sink.TickRow](&buf, parquet.Compression(&parquet.Zstd))
	if _, err := w.Write(rows); err != nil {
		l.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		l.t.Fatal(err)
	}
	tk := stocklake.Tick{Time: base}
	name := fmt.Sprintf("ticks+T+0+%d.parquet", l.next)
	key, _ := l.tbl.DataFileKey(&tk, name)
	if err := l.store.Put(context.Background(), key, &buf); err != nil {
		l.t.Fatal(err)
	}
	r := stocklake.OffsetRange{TopicPartition: stocklake.TopicPartition{TopicID: "T", Partition: 0}, Start: l.next, End: l.next + int64(n)}
	if _, err := l.tbl.Commit(context.Background(), []stocklake.LakeFile{{URL: l.tbl.DataFileURL(&tk, name)}}, []stocklake.OffsetRange{r}); err != nil {
		l.t.Fatal(err)
	}
	l.next += int64(n)
	l.n++
}

func (l *iceLake) compactor(cfg Config) *Compactor {
	cfg.Database = "market"
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().Add(time.Hour) }
	}
	c, err := New(l.store, noCatalog{}, cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	return c
}

// noCatalog is a catalog the Iceberg compaction never uses.
type noCatalog struct{ stocklake.Catalog }

// checkOnce asserts every trade ID 0..next-1 is in the table exactly once.
func (l *iceLake) checkOnce() {
	l.t.Helper()
	keys, err := l.tbl.TickKeys(context.Background())
	if err != nil {
		l.t.Fatal(err)
	}
	if int64(len(keys)) != l.next {
		l.t.Fatalf("%d distinct ticks in the table, want %d", len(keys), l.next)
	}
	for k, n := range keys {
		if n != 1 {
			l.t.Fatalf("tick %q is in the table %d times", k, n)
		}
	}
}

func (l *iceLake) files() []stocklake.TableDataFile {
	l.t.Helper()
	fs, err := l.tbl.DataFiles(context.Background())
	if err != nil {
		l.t.Fatal(err)
	}
	return fs
}

func TestIcebergCompactBinPacks(t *testing.T) {
	l := newIceLake(t)
	for i := 0; i < 12; i++ {
		l.commit(i%2, 500) // two day partitions, six files each
	}
	if got := len(l.files()); got != 12 {
		t.Fatalf("%d files before compaction, want 12", got)
	}
	size := l.files()[0].Size
	// A target of about four input files: each partition's six files
	// become two merged ones.
	c := l.compactor(Config{TargetFileSize: 4*size + size/2, SortRunRows: 700})
	res, err := c.Table(context.Background(), l.tbl)
	if err != nil {
		t.Fatal(err)
	}
	if res.PartitionsCompacted != 2 || res.FilesRewritten != 12 || res.FilesWritten != 4 {
		t.Fatalf("result %+v: want 2 partitions, 12 files into 4", res)
	}
	files := l.files()
	if len(files) != 4 {
		t.Fatalf("%d files after compaction, want 4", len(files))
	}
	l.checkOnce()
	offs, err := l.tbl.Offsets(context.Background())
	if err != nil || offs[stocklake.TopicPartition{TopicID: "T"}] != l.next {
		t.Fatalf("offsets after compaction %v (%v), want %d", offs, err, l.next)
	}
	// Each merged file is sorted by (symbol, ts), in the sink's schema.
	for _, f := range files {
		if !strings.Contains(f.URL, "/data/ts_day=2026-11-2") || !strings.Contains(f.URL, "/compacted-") {
			t.Fatalf("merged file %s: want it under data/<partition>/ named compacted-...", f.URL)
		}
		key := strings.TrimPrefix(f.URL, l.store.URL()+"/")
		rc, err := l.store.Get(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(rc)
		rc.Close()
		rows, err := parquet.Read[sink.TickRow](bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(rows)) != f.Rows {
			t.Fatalf("%s has %d rows, the table says %d", f.URL, len(rows), f.Rows)
		}
		for i := 1; i < len(rows); i++ {
			a, b := rows[i-1], rows[i]
			if a.Symbol > b.Symbol || a.Symbol == b.Symbol && a.TS > b.TS {
				t.Fatalf("%s: row %d (%s %d) sorts before row %d (%s %d)", f.URL, i, b.Symbol, b.TS, i-1, a.Symbol, a.TS)
			}
		}
	}
	// Merged files compress better than their inputs, so they are still
	// small: a second pass merges each partition's two into one, and a
	// third has nothing left to do.
	if res, err = c.Table(context.Background(), l.tbl); err != nil || res.FilesWritten != 2 {
		t.Fatalf("second pass: %+v, %v; want each partition's files merged into one", res, err)
	}
	if res, err = c.Table(context.Background(), l.tbl); err != nil || res.FilesRewritten != 0 {
		t.Fatalf("third pass: %+v, %v; want nothing rewritten", res, err)
	}
	l.checkOnce()
}

func TestIcebergCompactMinAge(t *testing.T) {
	l := newIceLake(t)
	for i := 0; i < 4; i++ {
		l.commit(0, 100)
	}
	c := l.compactor(Config{MinAge: time.Hour, Now: time.Now})
	res, err := c.Table(context.Background(), l.tbl)
	if err != nil || res.FilesRewritten != 0 {
		t.Fatalf("%+v, %v: files committed just now were compacted despite a min age of 1h", res, err)
	}
}

// TestIcebergCompactConcurrentAppend commits a sink batch between the
// compaction's plan (files read and merged) and its commit: the append
// stays, the offsets are the append's, and no row is lost or doubled.
func TestIcebergCompactConcurrentAppend(t *testing.T) {
	l := newIceLake(t)
	for i := 0; i < 5; i++ {
		l.commit(0, 300)
	}
	appended := 0
	c := l.compactor(Config{AfterStep: func(_ context.Context, step string) {
		if step == "written" {
			l.commit(0, 300) // same partition as the files being compacted
			appended++
		}
	}})
	res, err := c.Table(context.Background(), l.tbl)
	if err != nil {
		t.Fatal(err)
	}
	if appended != 1 || res.FilesRewritten != 5 || res.FilesWritten != 1 {
		t.Fatalf("result %+v after %d appends: want 5 files into 1 with the append in between", res, appended)
	}
	if got := len(l.files()); got != 2 {
		t.Fatalf("%d files, want the merged one and the appended one", got)
	}
	l.checkOnce()
	offs, err := l.tbl.Offsets(context.Background())
	if err != nil || offs[stocklake.TopicPartition{TopicID: "T"}] != l.next {
		t.Fatalf("offsets %v (%v), want %d: the rewrite lost the append's offsets", offs, err, l.next)
	}
	snaps, err := l.tbl.Snapshots(context.Background())
	if err != nil || snaps[0].Operation != "replace" {
		t.Fatalf("head snapshot %+v (%v): want the rewrite's replace on top of the append", snaps[0], err)
	}
}

// TestIcebergCompactReplacedUnderIt: files another compactor replaced
// between plan and commit make this one drop its merged files.
func TestIcebergCompactReplacedUnderIt(t *testing.T) {
	l := newIceLake(t)
	for i := 0; i < 4; i++ {
		l.commit(0, 200)
	}
	other := l.compactor(Config{})
	c := l.compactor(Config{AfterStep: func(ctx context.Context, step string) {
		if step == "written" {
			if _, err := other.Table(ctx, l.tbl); err != nil {
				t.Error(err)
			}
		}
	}})
	res, err := c.Table(context.Background(), l.tbl)
	if err != nil || res.PartitionsCompacted != 0 {
		t.Fatalf("%+v, %v: want the pass to give way to the other compactor", res, err)
	}
	l.checkOnce()
	objs, err := l.store.List(context.Background(), "market.db/ticks/data/")
	if err != nil {
		t.Fatal(err)
	}
	merged := 0
	for _, o := range objs {
		if strings.Contains(o.Key, "/compacted-") {
			merged++
		}
	}
	if merged != 1 {
		t.Fatalf("%d merged files in the lake, want the other compactor's one (this one's dropped)", merged)
	}
}

func TestIcebergMaintain(t *testing.T) {
	ctx := context.Background()
	l := newIceLake(t)
	for i := 0; i < 20; i++ {
		l.commit(0, 50)
	}
	// A crashed writer's file, a day and a half old.
	tk := stocklake.Tick{Time: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}
	orphanKey, _ := l.tbl.DataFileKey(&tk, "crashed.parquet")
	if err := l.store.Put(ctx, orphanKey, strings.NewReader("PAR1 not committed")); err != nil {
		t.Fatal(err)
	}
	orphanPath := filepath.Join(strings.TrimPrefix(l.store.URL(), "file://"), orphanKey)
	old := time.Now().Add(-36 * time.Hour)
	if err := os.Chtimes(orphanPath, old, old); err != nil {
		t.Fatal(err)
	}
	// Now, an hour on: every file is older than the default --min-age.
	at := time.Now().UTC().Truncate(time.Second)
	c := l.compactor(Config{Now: func() time.Time { return at.Add(time.Hour) }})
	res, err := c.Maintain(ctx, l.tbl, MaintainConfig{RetainSnapshots: time.Nanosecond, RetainLast: 1})
	if err != nil {
		t.Fatal(err)
	}
	// 20 appends + 1 rewrite, the rewrite kept (it carries the offsets).
	if res.FilesRewritten != 20 || res.FilesWritten != 1 || res.SnapshotsExpired != 20 || res.OrphansRemoved != 1 {
		t.Fatalf("maintain: %+v; want 20 files into 1, 20 snapshots expired, 1 orphan removed", res)
	}
	if _, err := os.Stat(orphanPath); !os.IsNotExist(err) {
		t.Errorf("the orphan is still there: %v", err)
	}
	l.checkOnce()
	if offs, err := l.tbl.Offsets(ctx); err != nil || offs[stocklake.TopicPartition{TopicID: "T"}] != l.next {
		t.Errorf("offsets after maintenance %v (%v), want %d", offs, err, l.next)
	}
	if got, err := l.tbl.LastMaintenance(ctx); err != nil || !got.Equal(at.Add(time.Hour)) {
		t.Errorf("last maintenance %v (%v), want %v", got, err, at.Add(time.Hour))
	}
	// The compacted-away files went with the expired snapshots.
	objs, err := l.store.List(ctx, "market.db/ticks/data/")
	if err != nil || len(objs) != 1 {
		t.Errorf("data files left: %v (%v), want only the merged one", objs, err)
	}
	if ms := c.MaintainStats(); ms.SnapshotsExpired.Load() != 20 || ms.OrphansRemoved.Load() != 1 || ms.Maintained.Load() != 1 {
		t.Errorf("stats: expired %d, orphans %d, passes %d", ms.SnapshotsExpired.Load(), ms.OrphansRemoved.Load(), ms.Maintained.Load())
	}
}

// clockTable is an Iceberg table whose files' commit times come from a
// simulated clock: a file is stamped with the clock's time when the test
// first lists it (stamp, just after the commit that added it), so passes
// minutes apart run in milliseconds.
type clockTable struct {
	*iceberg.Table
	now   time.Time
	added map[string]time.Time
}

func (c *clockTable) DataFiles(ctx context.Context) ([]stocklake.TableDataFile, error) {
	fs, err := c.Table.DataFiles(ctx)
	for i, f := range fs {
		a, ok := c.added[f.URL]
		if !ok {
			a = c.now
			c.added[f.URL] = a
		}
		fs[i].Added = a
	}
	return fs, err
}

// stamp lists the files, stamping new ones with the clock's time.
func (c *clockTable) stamp(t *testing.T) []stocklake.TableDataFile {
	t.Helper()
	fs, err := c.DataFiles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestIcebergCompactTieredWriteAmplification runs 40 passes a minute apart
// (--min-age 90s) over a day partition that gets 6 new files a minute, as a
// sink with 1-second commits and `maintain --every 1m` would: the bytes the
// passes rewrite must stay under 4 times the data (with the settled pass's
// too), with a bounded file count, and a pass once the partition has
// settled must still merge what is left into one file. Merging every small
// file at each pass (the rule before size tiers: the growing merged file
// again with each minute's files) rewrote 8.8 times the data here, and
// more the longer the partition is written.
func TestIcebergCompactTieredWriteAmplification(t *testing.T) {
	ctx := context.Background()
	l := newIceLake(t)
	l.noise = rand.New(rand.NewPCG(1, 2))
	const passes, perPass, rows = 40, 6, 1000
	ct := &clockTable{Table: l.tbl, now: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), added: map[string]time.Time{}}
	var data int64 // bytes of the files the "sink" committed
	seen := map[string]bool{}
	land := func(n int) {
		for range n {
			l.commit(0, rows)
		}
		for _, f := range ct.stamp(t) {
			if !seen[f.URL] && strings.Contains(f.URL, "/ticks+") {
				data += f.Size
			}
			seen[f.URL] = true
		}
	}
	land(1)
	// The target holds all the data: the old rule's merged file never
	// reaches 3/4 of it and is merged again at every other pass, as in a
	// day partition written at a low rate.
	target := passes * perPass * data * 5 / 4
	c := l.compactor(Config{TargetFileSize: target, MinAge: 90 * time.Second, Now: func() time.Time { return ct.now }})
	var rewritten int64
	maxFiles := 0
	for p := range passes {
		if p == 0 {
			land(perPass - 1)
		} else {
			land(perPass)
		}
		res, err := c.Table(ctx, ct)
		if err != nil {
			t.Fatal(err)
		}
		rewritten += res.BytesRewritten
		// Files older than --min-age: what the passes have left (the last
		// two minutes' 12 files are too young to merge).
		settled := 0
		for _, f := range ct.stamp(t) {
			if ct.now.Sub(ct.added[f.URL]) >= c.cfg.MinAge {
				settled++
			}
		}
		maxFiles = max(maxFiles, settled)
		ct.now = ct.now.Add(time.Minute)
	}
	amp := float64(rewritten) / float64(data)
	t.Logf("%d passes over %d bytes landed in %d files: %d bytes rewritten (%.2fx the data); at most %d files older than --min-age after a pass",
		passes, data, passes*perPass, rewritten, amp, maxFiles)
	if amp >= 4 {
		t.Errorf("the passes rewrote %.2fx the data (%d of %d bytes), want under 4x", amp, rewritten, data)
	}
	if maxFiles > 15 {
		t.Errorf("up to %d files older than --min-age were left after a pass, want at most 15 (3 per size tier)", maxFiles)
	}
	l.checkOnce()

	// Writes stop; an hour on the partition has settled: one pass merges
	// every file into one.
	ct.now = ct.now.Add(time.Hour)
	res, err := c.Table(ctx, ct)
	if err != nil {
		t.Fatal(err)
	}
	if files := ct.stamp(t); len(files) != 1 {
		t.Fatalf("%d files after the pass over the settled partition (%+v), want 1", len(files), res)
	}
	all := float64(rewritten+res.BytesRewritten) / float64(data)
	t.Logf("the settled pass rewrote %d bytes; %.2fx the data in all", res.BytesRewritten, all)
	if all >= 4 {
		t.Errorf("%.2fx the data rewritten in all, with the settled pass, want under 4x", all)
	}
	l.checkOnce()
}

// TestIcebergMaintainExpiresRewrites: a pass that expires the snapshot of
// an earlier pass's rewrite succeeds. iceberg-go's expiry deletes the
// files an expired snapshot's manifests name, DELETED entries included:
// the rewrite's names the files it replaced, deleted when the snapshots
// that added them expired, and removing them again failed the pass
// ("remove ...: no such file or directory") before its manifest rewrite,
// orphan removal and last-maintenance record.
func TestIcebergMaintainExpiresRewrites(t *testing.T) {
	ctx := context.Background()
	l := newIceLake(t)
	c := l.compactor(Config{})
	mc := MaintainConfig{RetainSnapshots: time.Nanosecond, RetainLast: 1}
	for pass := range 3 {
		for range 4 {
			l.commit(0, 100)
		}
		res, err := c.Maintain(ctx, l.tbl, mc)
		if err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		if res.FilesWritten != 1 || res.SnapshotsExpired == 0 {
			t.Fatalf("pass %d: %+v: want the partition merged and snapshots expired", pass, res)
		}
	}
	l.checkOnce()
	if ms := c.MaintainStats(); ms.Maintained.Load() != 3 {
		t.Errorf("%d passes finished, want 3", ms.Maintained.Load())
	}
}
