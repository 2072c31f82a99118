package iceberg

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"

	"github.com/stocklake/stocklake"
)

// heapInUse is the heap in use after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// smallCommits makes a tick table with the default properties on a
// file:// lake; its commit function commits a new 100-tick file (a sink
// flush) for the i-th batch of partition T:0.
func smallCommits(tb testing.TB) (*Table, func(i int)) {
	ctx := context.Background()
	dir := tb.TempDir()
	c, err := Open(ctx, Config{SQLitePath: filepath.Join(dir, "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "lake")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	tbl, err := c.CreateTickTable(ctx, "market", "ticks", TableOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	body := encodeTicks(&testing.T{}, ticks(100, 0, "x"))
	data := filepath.Join(strings.TrimPrefix(tbl.Location(), "file://"), "data", "ts_day=2026-11-26")
	if err := os.MkdirAll(data, 0o755); err != nil {
		tb.Fatal(err)
	}
	return tbl, func(i int) {
		p := filepath.Join(data, fmt.Sprintf("ticks+T+0+%d.parquet", i*100))
		if err := os.WriteFile(p, body, 0o644); err != nil {
			tb.Fatal(err)
		}
		if _, err := tbl.Commit(ctx, []stocklake.LakeFile{{URL: "file://" + p}}, []stocklake.OffsetRange{rng("T", 0, int64(i*100), int64(i*100+100))}); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestCommitMemoryFlat: a sink that commits for months must not hold on to
// the table states it committed. Each table state used to keep its
// predecessor alive (adopt took the state's FS, a method value holding the
// state), about 0.3 MB a commit with the default history of 100 snapshots:
// 250 commits held some 75 MB more. Now the heap stays where it was.
func TestCommitMemoryFlat(t *testing.T) {
	tbl, commit := smallCommits(t)
	const warm, n = 50, 300
	for i := range warm {
		commit(i)
	}
	before := heapInUse()
	for i := warm; i < n; i++ {
		commit(i)
	}
	after := heapInUse()
	runtime.KeepAlive(tbl)
	const margin = 25 << 20
	if after > before+margin {
		t.Errorf("heap in use grew from %.1f MB after %d commits to %.1f MB after %d: want at most %d MB more (table states retained?)",
			float64(before)/(1<<20), warm, float64(after)/(1<<20), n, margin>>20)
	}
	t.Logf("heap in use: %.1f MB after %d commits, %.1f MB after %d", float64(before)/(1<<20), warm, float64(after)/(1<<20), n)
}

// BenchmarkCommitMemory commits b.N one-file appends (a sink flush each,
// default table properties) and logs the heap in use, the CPU per commit
// and the current snapshot's manifest count every 200 commits; with
// STOCKLAKE_HEAP_PROFILE=FILE it writes a heap profile at the end, while
// the table is still open (-memprofile is written after it is closed).
// Run it with -benchtime=2000x.
func BenchmarkCommitMemory(b *testing.B) {
	ctx := context.Background()
	tbl, commit := smallCommits(b)
	b.ResetTimer()
	cpu0 := processCPU()
	for i := range b.N {
		commit(i)
		if (i+1)%200 == 0 {
			cpu := processCPU() - cpu0
			b.StopTimer()
			it, err := tbl.refresh(ctx)
			if err != nil {
				b.Fatal(err)
			}
			fs, err := it.FS(ctx)
			if err != nil {
				b.Fatal(err)
			}
			ms, err := it.CurrentSnapshot().Manifests(fs)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("commits=%d heap-inuse=%.1fMB cpu-ms/commit=%.2f manifests=%d", i+1, float64(heapInUse())/1e6, float64(cpu.Microseconds())/1000/200, len(ms))
			b.StartTimer()
			cpu0 = processCPU()
		}
	}
	if out := os.Getenv("STOCKLAKE_HEAP_PROFILE"); out != "" {
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	runtime.KeepAlive(tbl)
}
