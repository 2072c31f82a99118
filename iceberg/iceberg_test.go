package iceberg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	ice "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/sqlite"
)

// scanCount reads the table's current snapshot with iceberg-go and returns
// the rows, the distinct (symbol, trade_id) pairs and the files planned;
// filter may be nil.
func scanCount(t *testing.T, tbl *Table, filter ice.BooleanExpression) (rows, distinct, files int) {
	t.Helper()
	ctx := context.Background()
	it, err := tbl.refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var opts []table.ScanOption
	if filter != nil {
		opts = append(opts, table.WithRowFilter(filter))
	}
	scan := it.Scan(opts...)
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, recs, err := scan.ToArrowRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for rec, err := range recs {
		if err != nil {
			t.Fatal(err)
		}
		sc := rec.Schema()
		sym := rec.Column(sc.FieldIndices("symbol")[0]).(*array.String)
		tid := rec.Column(sc.FieldIndices("trade_id")[0]).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			seen[sym.Value(i)+"\x00"+tid.Value(i)] = true
		}
		rows += int(rec.NumRows())
		rec.Release()
	}
	return rows, len(seen), len(tasks)
}

func TestCreateTickTable(t *testing.T) {
	ctx := context.Background()
	lake := newTestLake(t)
	c := lake.open(t)
	tbl, err := c.CreateTickTable(ctx, "market", "ticks", TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tbl.Location(), lake.warehouse+"/market.db/ticks"; got != want {
		t.Errorf("location = %s, want %s", got, want)
	}
	if got := tbl.Partitioning(); got != "day(ts)" {
		t.Errorf("partitioning = %q, want day(ts)", got)
	}
	it := tbl.tbl
	if v := it.Metadata().Version(); v != 2 {
		t.Errorf("format version = %d, want 2", v)
	}
	ts, _ := it.Schema().FindFieldByName("ts")
	if !ts.Type.Equals(ice.PrimitiveTypes.TimestampTz) || !ts.Required {
		t.Errorf("ts is %s required=%v, want required timestamptz", ts.Type, ts.Required)
	}
	if it.Properties()[table.DefaultNameMappingKey] == "" {
		t.Error("no name mapping: readers could not map the sink's Parquet columns (they carry no field IDs)")
	}
	if _, err := c.CreateTickTable(ctx, "market", "ticks", TableOptions{}); !errors.Is(err, stocklake.ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
	// Another process sees it, and OpenOrCreate opens it.
	c2 := lake.open(t)
	if _, err := c2.OpenTable(ctx, "market", "nope"); !errors.Is(err, stocklake.ErrNotFound) {
		t.Errorf("open missing table: %v, want ErrNotFound", err)
	}
	t2, err := c2.OpenOrCreateTickTable(ctx, "market", "ticks", TableOptions{Partitioning: "hour(ts)"})
	if err != nil || t2.Partitioning() != "day(ts)" {
		t.Errorf("OpenOrCreate of an existing table: %v, partitioning %q; want the existing day(ts)", err, t2.Partitioning())
	}
	names, err := c2.ListTables(ctx, "market")
	if err != nil || len(names) != 1 || names[0] != "ticks" {
		t.Errorf("ListTables = %v, %v", names, err)
	}

	for _, tc := range []struct{ in, want string }{
		{"hour(ts)", "hour(ts)"}, {"identity(symbol)", "identity(symbol)"}, {"month(ts)", "month(ts)"}, {"none", "none"},
	} {
		name := "t_" + strings.NewReplacer("(", "_", ")", "").Replace(tc.in)
		tt, err := c.CreateTickTable(ctx, "market", name, TableOptions{Partitioning: tc.in})
		if err != nil {
			t.Errorf("partitioning %s: %v", tc.in, err)
			continue
		}
		if got := tt.Partitioning(); got != tc.want {
			t.Errorf("partitioning %s: got %q", tc.in, got)
		}
	}
	for _, bad := range []string{"day(price2)", "bucket(ts)", "day ts", "identity(conditions)"} {
		if _, err := c.CreateTickTable(ctx, "market", "bad", TableOptions{Partitioning: bad}); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("partitioning %q: %v, want ErrConfig", bad, err)
		}
	}
	for _, bad := range []string{"a.b", "", "x y", "../up"} {
		if _, err := c.CreateTickTable(ctx, "market", bad, TableOptions{}); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("table name %q: %v, want ErrConfig", bad, err)
		}
	}
}

func TestOpenChecksConfig(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, cfg := range []Config{
		{SQLitePath: "", Warehouse: "file:///x"},
		{SQLitePath: dir + "/c.db", Warehouse: ""},
		{SQLitePath: dir + "/c.db", Warehouse: "relative/dir"},
		{SQLitePath: dir + "/c.db", Warehouse: "file://relative"},
		{SQLitePath: dir + "/c.db", Warehouse: "gs://bucket"},
		{SQLitePath: dir + "/c.db", Warehouse: "s3:///nobucket"},
		{SQLitePath: dir + "/c.db?mode=ro", Warehouse: "file:///x"},
		{SQLitePath: dir + "/c.db", Warehouse: "file:///my lake"},
		{SQLitePath: dir + "/c.db", Warehouse: "file:///lake%20x"},
	} {
		if c, err := Open(ctx, cfg); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("Open(%+v) = %v, want ErrConfig", cfg, err)
			if c != nil {
				c.Close()
			}
		}
	}
}

// TestCommitOffsets commits files with offsets and reads them back, from
// another handle too, and scans the rows with iceberg-go.
func TestCommitOffsets(t *testing.T) {
	ctx := context.Background()
	lake := newTestLake(t)
	tbl := lake.createTicks(t)
	if off, err := tbl.Offsets(ctx); err != nil || len(off) != 0 {
		t.Fatalf("offsets of a new table = %v, %v; want none", off, err)
	}
	day0 := writeTicks(t, tbl, "ts_day=2026-11-26/ticks+T1+0+0.parquet", ticks(100, 0, "a"))
	day1 := writeTicks(t, tbl, "ts_day=2026-11-27/ticks+T1+1+0.parquet", ticks(50, 1, "b"))
	s1, err := tbl.Commit(ctx, []stocklake.LakeFile{day0, day1}, []stocklake.OffsetRange{rng("T1", 0, 0, 100), rng("T1", 1, 0, 50)})
	if err != nil {
		t.Fatal(err)
	}
	if s1.Operation != "append" || s1.Summary["added-records"] != "150" || s1.Summary["added-data-files"] != "2" {
		t.Errorf("snapshot summary %v: want an append of 2 files, 150 records", s1.Summary)
	}
	if len(s1.Ranges) != 2 || s1.Ranges[0] != rng("T1", 0, 0, 100) || s1.Ranges[1] != rng("T1", 1, 0, 50) {
		t.Errorf("snapshot ranges = %v", s1.Ranges)
	}

	// A second commit for partition 0 only carries partition 1 forward.
	more := writeTicks(t, tbl, "ts_day=2026-11-26/ticks+T1+0+100.parquet", ticks(30, 0, "c"))
	s2, err := tbl.Commit(ctx, []stocklake.LakeFile{more}, []stocklake.OffsetRange{rng("T1", 0, 100, 130)})
	if err != nil {
		t.Fatal(err)
	}
	if s2.ParentID != s1.ID {
		t.Errorf("second snapshot's parent = %d, want %d", s2.ParentID, s1.ID)
	}
	want := map[stocklake.TopicPartition]int64{tp("T1", 0): 130, tp("T1", 1): 50}
	other, err := lake.open(t).OpenTable(ctx, "market", "ticks")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []*Table{tbl, other} {
		got, err := h.Offsets(ctx)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("offsets = %v, %v; want %v", got, err, want)
		}
	}
	if got := s2.Summary[SummaryOffsets]; got != `{"T1:0":130,"T1:1":50}` {
		t.Errorf("summary %s = %s", SummaryOffsets, got)
	}

	rows, distinct, files := scanCount(t, tbl, nil)
	if rows != 180 || distinct != 180 || files != 3 {
		t.Errorf("scan: %d rows, %d distinct, %d files; want 180, 180, 3", rows, distinct, files)
	}
	// Hidden partitioning and column statistics prune on ts.
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	f := ice.NewAnd(ice.GreaterThanEqual(ice.Reference("ts"), ice.Timestamp(day.UnixMicro())),
		ice.LessThan(ice.Reference("ts"), ice.Timestamp(day.Add(24*time.Hour).UnixMicro())))
	rows, _, files = scanCount(t, tbl, f)
	if rows != 50 || files != 1 {
		t.Errorf("scan of 2026-11-27: %d rows from %d files, want 50 from 1", rows, files)
	}

	snaps, err := tbl.Snapshots(ctx)
	if err != nil || len(snaps) != 2 || snaps[0].ID != s2.ID || snaps[1].ID != s1.ID {
		t.Fatalf("snapshots = %+v, %v", snaps, err)
	}
	if fmt.Sprint(snaps[1].Offsets) != fmt.Sprint(map[stocklake.TopicPartition]int64{tp("T1", 0): 100, tp("T1", 1): 50}) {
		t.Errorf("first snapshot's offsets = %v", snaps[1].Offsets)
	}
}

// TestCommitFenced: a batch whose start offsets disagree with the table is
// refused and changes nothing, also for a zombie whose cached view of the
// table is stale.
func TestCommitFenced(t *testing.T) {
	ctx := context.Background()
	lake := newTestLake(t)
	tbl := lake.createTicks(t)
	zombie, err := lake.open(t).OpenTable(ctx, "market", "ticks") // loads the empty table now
	if err != nil {
		t.Fatal(err)
	}
	f0 := writeTicks(t, tbl, "ts_day=2026-11-26/a.parquet", ticks(10, 0, "a"))
	if _, err := tbl.Commit(ctx, []stocklake.LakeFile{f0}, []stocklake.OffsetRange{rng("T1", 0, 0, 10)}); err != nil {
		t.Fatal(err)
	}
	before, _ := tbl.Snapshots(ctx)
	for _, bad := range []stocklake.OffsetRange{
		rng("T1", 0, 0, 10),  // the zombie re-commits the same batch
		rng("T1", 0, 5, 20),  // overlap
		rng("T1", 0, 11, 20), // gap
	} {
		f := writeTicks(t, tbl, fmt.Sprintf("ts_day=2026-11-26/z%d.parquet", bad.Start), ticks(3, 0, "z"))
		_, err := zombie.Commit(ctx, []stocklake.LakeFile{f}, []stocklake.OffsetRange{rng("T2", 0, 0, 1), bad})
		if !errors.Is(err, stocklake.ErrFenced) {
			t.Errorf("commit of %v: %v, want ErrFenced", bad, err)
		}
		// The error names the refused partition only, not T2 (new to the
		// table), so a writer can commit the others without it.
		var fe *stocklake.FencedError
		if !errors.As(err, &fe) || fmt.Sprint(fe.Partitions) != fmt.Sprint([]stocklake.TopicPartition{tp("T1", 0)}) {
			t.Errorf("commit of %v: %v, want a FencedError naming T1:0 only", bad, err)
		}
	}
	after, _ := tbl.Snapshots(ctx)
	off, _ := tbl.Offsets(ctx)
	if len(after) != len(before) || len(off) != 1 || off[tp("T1", 0)] != 10 {
		t.Errorf("a refused commit changed the table: %d -> %d snapshots, offsets %v", len(before), len(after), off)
	}
	if rows, _, _ := scanCount(t, tbl, nil); rows != 10 {
		t.Errorf("rows = %d, want 10", rows)
	}
	// The right start offset goes through.
	f := writeTicks(t, tbl, "ts_day=2026-11-26/b.parquet", ticks(4, 0, "b"))
	if _, err := zombie.Commit(ctx, []stocklake.LakeFile{f}, []stocklake.OffsetRange{rng("T1", 0, 10, 14)}); err != nil {
		t.Fatal(err)
	}
}

func TestCommitRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	lake := newTestLake(t)
	tbl := lake.createTicks(t)
	twoDays := append(ticks(5, 0, "a"), ticks(5, 1, "b")...)
	spans := writeTicks(t, tbl, "spans.parquet", twoDays)
	ok := writeTicks(t, tbl, "ok.parquet", ticks(5, 0, "c"))
	for name, tc := range map[string]struct {
		files  []stocklake.LakeFile
		ranges []stocklake.OffsetRange
	}{
		"nothing":             {},
		"file spans two days": {[]stocklake.LakeFile{spans}, []stocklake.OffsetRange{rng("T", 0, 0, 10)}},
		"missing file":        {[]stocklake.LakeFile{{URL: "file:///nonexistent/x.parquet"}}, nil},
		"same file twice":     {[]stocklake.LakeFile{ok, ok}, nil},
		"end before start":    {[]stocklake.LakeFile{ok}, []stocklake.OffsetRange{rng("T", 0, 10, 9)}},
		"negative offset":     {[]stocklake.LakeFile{ok}, []stocklake.OffsetRange{rng("T", 0, -1, 9)}},
		"partition twice":     {[]stocklake.LakeFile{ok}, []stocklake.OffsetRange{rng("T", 0, 0, 1), rng("T", 0, 1, 2)}},
		"colon in topic ID":   {[]stocklake.LakeFile{ok}, []stocklake.OffsetRange{rng("a:b", 0, 0, 1)}},
		"percent in the path": {[]stocklake.LakeFile{{URL: strings.Replace(ok.URL, "ok.parquet", "o%6B.parquet", 1)}}, nil},
		"space in the path":   {[]stocklake.LakeFile{{URL: strings.Replace(ok.URL, "ok.parquet", "o k.parquet", 1)}}, nil},
		"http URL":            {[]stocklake.LakeFile{{URL: "http://host/x.parquet"}}, nil},
		"empty topic ID":      {[]stocklake.LakeFile{ok}, []stocklake.OffsetRange{rng("", 0, 0, 1)}},
	} {
		if _, err := tbl.Commit(ctx, tc.files, tc.ranges); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if snaps, _ := tbl.Snapshots(ctx); len(snaps) != 0 {
		t.Errorf("rejected commits made %d snapshots", len(snaps))
	}
}

// TestCommitOffsetsOnly: a batch whose records all went to the dead-letter
// topic still advances the offsets, in a snapshot without files.
func TestCommitOffsetsOnly(t *testing.T) {
	ctx := context.Background()
	lake := newTestLake(t)
	tbl := lake.createTicks(t)
	s, err := tbl.Commit(ctx, nil, []stocklake.OffsetRange{rng("T", 3, 0, 7)})
	if err != nil {
		t.Fatal(err)
	}
	if s.Summary["total-data-files"] != "0" {
		t.Errorf("summary = %v", s.Summary)
	}
	if off, _ := tbl.Offsets(ctx); off[tp("T", 3)] != 7 {
		t.Errorf("offsets = %v", off)
	}
}

// TestOffsetsSurviveForeignSnapshots: a snapshot written by another program
// (a compaction, pyiceberg) carries no offsets; Offsets finds them in its
// ancestors and the next commit copies them forward.
func TestOffsetsSurviveForeignSnapshots(t *testing.T) {
	ctx := context.Background()
	lake := newTestLake(t)
	tbl := lake.createTicks(t)
	a := writeTicks(t, tbl, "ts_day=2026-11-26/a.parquet", ticks(10, 0, "a"))
	if _, err := tbl.Commit(ctx, []stocklake.LakeFile{a}, []stocklake.OffsetRange{rng("T", 0, 0, 10), rng("T", 1, 0, 4)}); err != nil {
		t.Fatal(err)
	}
	// A foreign writer: replace file a by a rewritten copy, no summary keys.
	it, err := tbl.refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := writeTicks(t, tbl, "ts_day=2026-11-26/compacted.parquet", ticks(10, 0, "a"))
	txn := it.NewTransaction()
	if err := txn.ReplaceDataFiles(ctx, []string{a.URL}, []string{b.URL}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	snaps, _ := tbl.Snapshots(ctx)
	if len(snaps) != 2 || snaps[0].Offsets != nil {
		t.Fatalf("want a foreign snapshot without offsets on top: %+v", snaps)
	}
	want := fmt.Sprint(map[stocklake.TopicPartition]int64{tp("T", 0): 10, tp("T", 1): 4})
	if off, err := tbl.Offsets(ctx); err != nil || fmt.Sprint(off) != want {
		t.Errorf("offsets under a foreign snapshot = %v, %v; want %s", off, err, want)
	}
	c := writeTicks(t, tbl, "ts_day=2026-11-26/c.parquet", ticks(5, 0, "c"))
	s, err := tbl.Commit(ctx, []stocklake.LakeFile{c}, []stocklake.OffsetRange{rng("T", 0, 10, 15)})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(s.Offsets); got != fmt.Sprint(map[stocklake.TopicPartition]int64{tp("T", 0): 15, tp("T", 1): 4}) {
		t.Errorf("offsets after the foreign snapshot = %s", got)
	}
	if rows, distinct, _ := scanCount(t, tbl, nil); rows != 15 || distinct != 15 {
		t.Errorf("rows = %d distinct %d, want 15", rows, distinct)
	}
}

// TestConcurrentCommitters: sinks in separate processes (separate database
// handles) commit to the same table at once, each for its own partition;
// every commit lands exactly once.
func TestConcurrentCommitters(t *testing.T) {
	ctx := context.Background()
	lake := newTestLake(t)
	if _, err := lake.open(t).CreateTickTable(ctx, "market", "ticks", TableOptions{}); err != nil {
		t.Fatal(err)
	}
	const writers, batches, per = 3, 6, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := range writers {
		tbl, err := lake.open(t).OpenTable(ctx, "market", "ticks")
		if err != nil {
			t.Fatal(err)
		}
		tbl.MaxAttempts = 100
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				f := writeTicks(t, tbl, fmt.Sprintf("ts_day=2026-11-26/w%d-%d.parquet", w, b), ticks(per, 0, fmt.Sprintf("w%d-%d", w, b)))
				_, err := tbl.Commit(ctx, []stocklake.LakeFile{f}, []stocklake.OffsetRange{rng("T", int32(w), int64(b*per), int64((b+1)*per))})
				if err != nil {
					errs <- fmt.Errorf("writer %d batch %d: %w", w, b, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	tbl, err := lake.open(t).OpenTable(ctx, "market", "ticks")
	if err != nil {
		t.Fatal(err)
	}
	off, _ := tbl.Offsets(ctx)
	for w := range writers {
		if off[tp("T", int32(w))] != batches*per {
			t.Errorf("partition %d at %d, want %d", w, off[tp("T", int32(w))], batches*per)
		}
	}
	snaps, _ := tbl.Snapshots(ctx)
	if len(snaps) != writers*batches {
		t.Errorf("%d snapshots, want %d", len(snaps), writers*batches)
	}
	if rows, distinct, _ := scanCount(t, tbl, nil); rows != writers*batches*per || distinct != rows {
		t.Errorf("rows = %d, distinct %d; want %d", rows, distinct, writers*batches*per)
	}
}

// TestRewriteAndExpireKeepOffsets: snapshot expiry never drops the newest
// snapshot with offsets, and a compaction (Rewrite) copies the offsets
// forward so the older snapshots can go.
func TestRewriteAndExpireKeepOffsets(t *testing.T) {
	ctx := context.Background()
	lake := newTestLake(t)
	tbl := lake.createTicks(t)
	small, _ := commitSmallFiles(t, tbl, "b", 3)
	// A foreign append on top (no offsets in its summary).
	it, _ := tbl.refresh(ctx)
	foreign := writeTicks(t, tbl, "ts_day=2026-11-26/foreign.parquet", ticks(5, 0, "f"))
	txn := it.NewTransaction()
	if err := txn.AddFiles(ctx, []string{foreign.URL}, nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wantOff := func(want int64) {
		t.Helper()
		if off, err := tbl.Offsets(ctx); err != nil || off[tp("T", 0)] != want {
			t.Errorf("offsets = %v, %v; want T:0 at %d", off, err, want)
		}
	}
	n, err := tbl.ExpireSnapshots(ctx, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	snaps, _ := tbl.Snapshots(ctx)
	if n != 2 || len(snaps) != 2 {
		t.Errorf("expired %d, %d left; want 2 expired and the foreign snapshot plus the newest with offsets kept", n, len(snaps))
	}
	wantOff(30)

	// Compact the three small files into one.
	var all []stocklake.Tick
	for i := range 3 {
		all = append(all, ticks(10, 0, fmt.Sprint("b", i))...)
	}
	big := writeTicks(t, tbl, "ts_day=2026-11-26/compacted.parquet", all)
	s, err := tbl.Rewrite(ctx, small, []stocklake.LakeFile{big})
	if err != nil {
		t.Fatal(err)
	}
	if s.Operation != "replace" || s.Offsets[tp("T", 0)] != 30 || s.Ranges != nil {
		t.Errorf("rewrite snapshot: %s, offsets %v, ranges %v; want replace with the offsets copied and no ranges", s.Operation, s.Offsets, s.Ranges)
	}
	if _, err := tbl.ExpireSnapshots(ctx, 0, 1); err != nil {
		t.Fatal(err)
	}
	if snaps, _ := tbl.Snapshots(ctx); len(snaps) != 1 {
		t.Errorf("%d snapshots after expiry, want 1", len(snaps))
	}
	wantOff(30)
	if rows, distinct, files := scanCount(t, tbl, nil); rows != 35 || distinct != 35 || files != 2 {
		t.Errorf("scan: %d rows, %d distinct, %d files; want 35, 35, 2", rows, distinct, files)
	}
	if _, err := os.Stat(strings.TrimPrefix(small[0].URL, "file://")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a compacted-away file is still there after expiry: %v", err)
	}
	f := writeTicks(t, tbl, "ts_day=2026-11-26/next.parquet", ticks(10, 0, "n"))
	if _, err := tbl.Commit(ctx, []stocklake.LakeFile{f}, []stocklake.OffsetRange{rng("T", 0, 30, 40)}); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.Rewrite(ctx, []stocklake.LakeFile{{URL: "file:///not/in/table.parquet"}}, []stocklake.LakeFile{f}); !errors.Is(err, stocklake.ErrInvalid) {
		t.Errorf("rewrite of a file not in the table: %v, want ErrInvalid", err)
	}
}

func TestPartitionPath(t *testing.T) {
	ctx := context.Background()
	c := newTestLake(t).open(t)
	tk := &stocklake.Tick{Symbol: "BRK.B/Ü x", Time: time.Date(2026, 11, 26, 14, 59, 59, 999999000, time.UTC), Price: 1, TradeID: "1",
		Size: 0.25, Exchange: "XN=AS", Source: "sim"}
	for _, tc := range []struct{ part, want string }{
		{"day(ts)", "ts_day=2026-11-26"},
		{"hour(ts)", "ts_hour=2026-11-26-14"},
		{"month(ts)", "ts_month=2026-11"},
		{"identity(symbol)", "symbol=BRK.B~2F~C3~9C~20x"},
		{"none", ""},
		// Every column a tick table can be partitioned by, each from its
		// own tick field.
		{"identity(price)", "price=1"},
		{"identity(size)", "size=0.25"},
		{"identity(exchange)", "exchange=XN~3DAS"},
		{"identity(trade_id)", "trade_id=1"},
		{"identity(source)", "source=sim"},
		{"year(ts),identity(source),identity(symbol),identity(size)", "ts_year=2026/source=sim/symbol=BRK.B~2F~C3~9C~20x/size=0.25"},
	} {
		name := "p_" + strings.NewReplacer("(", "_", ")", "", ",", "_").Replace(tc.part)
		tbl, err := c.CreateTickTable(ctx, "market", name, TableOptions{Partitioning: tc.part})
		if err != nil {
			t.Fatal(err)
		}
		if got := tbl.PartitionPath(tk); got != tc.want {
			t.Errorf("%s: PartitionPath = %q, want %q", tc.part, got, tc.want)
		}
		wantURL := tbl.Location() + "/data/" + tc.want + "/f.parquet"
		if tc.want == "" {
			wantURL = tbl.Location() + "/data/f.parquet"
		}
		if got := tbl.DataFileURL(tk, "f.parquet"); got != wantURL {
			t.Errorf("%s: DataFileURL = %q, want %q", tc.part, got, wantURL)
		}
		if key, ok := tbl.DataFileKey(tk, "f.parquet"); !ok || c.Warehouse()+"/"+key != wantURL || !strings.HasPrefix(key, "market.db/"+name+"/data/") {
			t.Errorf("%s: DataFileKey = %q, %v; want the URL relative to the warehouse", tc.part, key, ok)
		}
	}
}

// TestIdentityPartitioning: with identity(symbol) each file holds one
// symbol; its partition value comes from the footer's statistics.
func TestIdentityPartitioning(t *testing.T) {
	ctx := context.Background()
	tbl, err := newTestLake(t).open(t).CreateTickTable(ctx, "market", "by_symbol", TableOptions{Partitioning: "identity(symbol)"})
	if err != nil {
		t.Fatal(err)
	}
	bySym := map[string][]stocklake.Tick{}
	for _, tk := range ticks(40, 0, "s") {
		bySym[tk.Symbol] = append(bySym[tk.Symbol], tk)
	}
	var files []stocklake.LakeFile
	for sym, ts := range bySym {
		url := tbl.DataFileURL(&ts[0], "f.parquet")
		files = append(files, writeTicks(t, tbl, strings.TrimPrefix(url, tbl.Location()+"/data/"), ts))
		_ = sym
	}
	if _, err := tbl.Commit(ctx, files, []stocklake.OffsetRange{rng("T", 0, 0, 40)}); err != nil {
		t.Fatal(err)
	}
	rows, _, n := scanCount(t, tbl, ice.EqualTo(ice.Reference("symbol"), "BRK.B"))
	if rows != len(bySym["BRK.B"]) || n != 1 {
		t.Errorf("symbol = BRK.B: %d rows from %d files, want %d from 1", rows, n, len(bySym["BRK.B"]))
	}
	mixed := writeTicks(t, tbl, "mixed.parquet", ticks(8, 0, "m"))
	if _, err := tbl.Commit(ctx, []stocklake.LakeFile{mixed}, []stocklake.OffsetRange{rng("T", 0, 40, 48)}); !errors.Is(err, stocklake.ErrInvalid) {
		t.Errorf("a file of several symbols: %v, want ErrInvalid", err)
	}
}

// TestSharesSQLiteCatalogFile: the Iceberg catalog lives in the file of
// stocklake's sqlite catalog, opened in either order, without disturbing it.
func TestSharesSQLiteCatalogFile(t *testing.T) {
	ctx := context.Background()
	lake := newTestLake(t)
	tbl := lake.createTicks(t)
	sc, err := sqlite.Open(lake.dbPath)
	if err != nil {
		t.Fatalf("the sqlite catalog on a file with Iceberg tables: %v", err)
	}
	defer sc.Close()
	if err := sc.CreateDatabase(ctx, stocklake.Database{Name: "market"}); err != nil {
		t.Fatal(err)
	}
	if err := sc.CreateTable(ctx, stocklake.Table{Database: "market", Name: "hive_ticks", Location: "file:///x/", Format: stocklake.FormatParquet,
		Columns: []stocklake.Column{{Name: "symbol", Type: "string"}}}); err != nil {
		t.Fatal(err)
	}
	f := writeTicks(t, tbl, "ts_day=2026-11-26/a.parquet", ticks(5, 0, "a"))
	if _, err := tbl.Commit(ctx, []stocklake.LakeFile{f}, []stocklake.OffsetRange{rng("T", 0, 0, 5)}); err != nil {
		t.Fatal(err)
	}
	if ts, err := sc.ListTables(ctx, "market"); err != nil || len(ts) != 1 || ts[0].Name != "hive_ticks" {
		t.Errorf("sqlite catalog tables = %v, %v; want its own hive_ticks only", ts, err)
	}
	names, err := lake.open(t).ListTables(ctx, "market")
	if err != nil || len(names) != 1 || names[0] != "ticks" {
		t.Errorf("Iceberg tables = %v, %v; want [ticks]", names, err)
	}
}
