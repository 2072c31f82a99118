package compact

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/sink"
)

// heapInUse is the heap in use after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// heapPeak runs f and returns the most heap its live objects took at once
// above what they took before: the peak of runtime/metrics
// /gc/heap/live:bytes (what each collection found reachable), sampled
// every millisecond while f runs with collections at 25% growth
// (GOGC=25) on one P, so that a buffer held for a while is seen and
// garbage is not counted. With profile set it also writes a heap profile (in use at the
// collection where the live heap was highest) there.
func heapPeak(f func(), profile string) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	// One P: parquet-go compresses columns concurrently, and each zstd
	// encoder at work holds 16 MiB of history; one at a time keeps the
	// figure steady.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	base := s[0].Value.Uint64()
	var (
		peak = base
		prof bytes.Buffer
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak {
				peak = v
				if profile != "" {
					prof.Reset()
					pprof.Lookup("heap").WriteTo(&prof, 0)
				}
			}
		}
	}()
	f()
	close(done)
	wg.Wait()
	if profile != "" {
		os.WriteFile(profile, prof.Bytes(), 0o644)
	}
	return peak - base
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// wideRows are n tick rows of day 2026-11-26 whose trade IDs (first,
// first+1, ... then 2,000 hex digits) barely compress: about 1 KB a row in
// a zstd file, so a test file is megabytes without many rows.
func wideRows(rng *rand.Rand, first int64, n int) []sink.TickRow {
	base := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	rows := make([]sink.TickRow, n)
	pad := make([]byte, 1000)
	for i := range rows {
		for j := 0; j < len(pad); j += 8 {
			binary.LittleEndian.PutUint64(pad[j:], rng.Uint64())
		}
		rows[i] = sink.TickRow{Symbol: fmt.Sprintf("SYM%d", rng.IntN(20)), TS: base.Add(time.Duration(rng.IntN(86_400_000_000))).UnixMicro(),
			Price: float64(rng.IntN(100000)) / 100, Size: 1, Exchange: "X", TradeID: fmt.Sprintf("%d-%x", first+int64(i), pad), Source: "test"}
	}
	return rows
}

// TestHiveMergeHoldsOneInput: a Hive merge reads one input at a time. It
// used to open every input of a bin before merging them, holding the bin
// (up to --target-file-size of Parquet) in memory at once.
func TestHiveMergeHoldsOneInput(t *testing.T) {
	ctx := context.Background()
	store, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var inputs []stocklake.ObjectInfo
	var inBytes, rows int64
	for i := range 24 {
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[sink.TickRow](&buf, parquet.Compression(&parquet.Zstd))
		if _, err := w.Write(wideRows(rng, rows, 2000)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("ticks/dt=2026-11-26/part-%02d.parquet", i)
		inputs = append(inputs, stocklake.ObjectInfo{Key: key, Size: int64(buf.Len())})
		inBytes += int64(buf.Len())
		rows += 2000
		if err := store.Put(ctx, key, &buf); err != nil {
			t.Fatal(err)
		}
	}
	c, err := New(store, noCatalog{}, Config{Database: "market", SortRunRows: 2000, RowGroupRows: 1000, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	peak := heapPeak(func() {
		if n, _, err = c.merge(ctx, inputs, "ticks/_stocklake_compacted/run/dt=2026-11-26/"); err != nil {
			t.Fatal(err)
		}
	}, os.Getenv("STOCKLAKE_HEAP_PROFILE"))
	if n != 1 {
		t.Fatalf("%d merged objects, want 1", n)
	}
	merged, err := store.Get(ctx, "ticks/_stocklake_compacted/run/dt=2026-11-26/part-00000.parquet")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(merged)
	merged.Close()
	pf, err := parquet.OpenFile(bytes.NewReader(body), int64(len(body)))
	if err != nil || pf.NumRows() != rows {
		t.Fatalf("merged object: %d rows (%v), want %d", pf.NumRows(), err, rows)
	}
	t.Logf("merged %d inputs (%.1f MiB): peak heap +%.1f MiB", len(inputs), mib(uint64(inBytes)), mib(peak))
	// Holding every input (the old merge) peaked at 99-121 MiB here, above
	// the inputs' 90 MiB; one input at a time, at 9-46 MiB (the live heap
	// a collection finds varies with what other goroutines allocate
	// meanwhile, as in a CI run of all packages at once).
	if peak > uint64(inBytes)*3/4 {
		t.Errorf("merging %d inputs of %.1f MiB took %.1f MiB of heap at its peak: want well under the inputs' size (one input at a time)",
			len(inputs), mib(uint64(inBytes)), mib(peak))
	}
}

// TestIcebergMergeLargeInput: an input larger than inputInMemory (an
// earlier merged file) is read from a temporary file, and, being sorted,
// merged as a run in place. Its bytes used to be read into memory (and the
// buffer grown by doubling, to up to twice the file), and its rows sorted
// again.
func TestIcebergMergeLargeInput(t *testing.T) {
	ctx := context.Background()
	l := newIceLake(t)
	rng := rand.New(rand.NewPCG(5, 6))
	for range 6 {
		l.commitRows(0, wideRows(rng, l.next, 3500))
	}
	// The first pass merges them into one sorted file above inputInMemory.
	c := l.compactor(Config{SortRunRows: 2000, RowGroupRows: 1000})
	if res, err := c.Table(ctx, l.tbl); err != nil || res.FilesWritten != 1 {
		t.Fatalf("first pass: %+v, %v", res, err)
	}
	big := l.files()[0]
	if big.Size <= inputInMemory {
		t.Fatalf("merged file of %d bytes: want more than %d", big.Size, inputInMemory)
	}
	l.commitRows(0, wideRows(rng, l.next, 300))
	var res Result
	peak := heapPeak(func() {
		var err error
		if res, err = c.Table(ctx, l.tbl); err != nil {
			t.Fatal(err)
		}
	}, os.Getenv("STOCKLAKE_HEAP_PROFILE"))
	if res.FilesRewritten != 2 || res.FilesWritten != 1 {
		t.Fatalf("second pass: %+v: want the merged file and the new one merged", res)
	}
	l.checkOnce()
	t.Logf("merged a %.1f MiB file and a small one: peak heap +%.1f MiB", mib(uint64(big.Size)), mib(peak))
	if peak > uint64(big.Size)/2 {
		t.Errorf("merging a %.1f MiB file took %.1f MiB of heap at its peak: want it read from disk, not memory", mib(uint64(big.Size)), mib(peak))
	}
	// Still sorted by (symbol, ts).
	f := l.files()[0]
	rc, err := l.store.Get(ctx, strings.TrimPrefix(f.URL, l.store.URL()+"/"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	got, err := parquet.Read[sink.TickRow](bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"symbol", "exchange", "source"} {
		if enc := columnEncodings(t, pf, c); !slices.Contains(enc, format.RLEDictionary) {
			t.Errorf("merged column %s encodings %v: want RLE_DICTIONARY", c, enc)
		}
	}
	if int64(len(got)) != l.next || !slices.IsSortedFunc(got, func(a, b sink.TickRow) int {
		return cmp.Or(strings.Compare(a.Symbol, b.Symbol), cmp.Compare(a.TS, b.TS))
	}) {
		t.Errorf("merged file: %d rows (want %d), sorted by (symbol, ts): %v", len(got), l.next, slices.IsSortedFunc(got, func(a, b sink.TickRow) int {
			return cmp.Or(strings.Compare(a.Symbol, b.Symbol), cmp.Compare(a.TS, b.TS))
		}))
	}
}

// TestMaintainMemoryFlat: `maintain --every` on a table a sink keeps
// appending to holds nothing from one pass to the next: the heap after 2N
// passes is where it was after N (the maintainer's table handle stays
// open across the passes, each of which compacts, expires snapshots,
// rewrites manifests and removes orphans).
func TestMaintainMemoryFlat(t *testing.T) {
	ctx := context.Background()
	l := newIceLake(t)
	mt, err := l.cat.OpenTable(ctx, "market", "ticks") // the maintainer's own handle
	if err != nil {
		t.Fatal(err)
	}
	c := l.compactor(Config{TargetFileSize: 256 << 10})
	pass := func() {
		for range 5 {
			l.commit(0, 500)
		}
		if _, err := c.Maintain(ctx, mt, MaintainConfig{RetainSnapshots: time.Nanosecond, RetainLast: 1, OrphanAge: time.Hour, ManifestsToRewrite: 4}); err != nil {
			t.Fatal(err)
		}
	}
	const n = 15
	for range n {
		pass()
	}
	before := heapInUse()
	for range n {
		pass()
	}
	after := heapInUse()
	runtime.KeepAlive(mt)
	t.Logf("heap in use: %.1f MiB after %d passes, %.1f MiB after %d", mib(before), n, mib(after), 2*n)
	const margin = 8 << 20
	if after > before+margin {
		t.Errorf("heap in use grew from %.1f MiB after %d passes to %.1f MiB after %d: want at most %d MiB more (table states or merge buffers retained?)",
			mib(before), n, mib(after), 2*n, margin>>20)
	}
	l.checkOnce()
}
