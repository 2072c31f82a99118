package iceberg

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"
	"github.com/stocklake/stocklake"
)

// BenchmarkCommit measures one sink flush on a file:// lake: a commit of one
// 1,000-tick file for one partition, on a table that grows by a snapshot per
// op (no history bound: run with -benchtime=Nx to see the cost grow with
// the snapshot count).
// It reports the metadata file's size at the end.
func BenchmarkCommit(b *testing.B) { benchCommit(b, 0) }

// BenchmarkCommitExpiring is BenchmarkCommit with ExpireSnapshots(0, 100)
// after every 100 commits, as a sink or maintenance loop would run it.
func BenchmarkCommitExpiring(b *testing.B) { benchCommit(b, 100) }

// BenchmarkCommitAged measures the same commit on a table that already has
// 60, 3,600 or 20,000 snapshots (a minute, an hour, 5.5 hours of 1 s
// commits; the history is made in one metadata change, not in real time,
// all of it sharing the first commit's manifest list). It reports the CPU
// time of the process per commit (cpu-ms/op, less noisy than wall time on
// a shared machine) and the metadata file's size.
func BenchmarkCommitAged(b *testing.B) {
	for _, n := range []int{60, 3600, 20000} {
		b.Run(fmt.Sprint("snapshots=", n), func(b *testing.B) { benchCommitAged(b, n, "0") })
	}
}

// BenchmarkCommitBounded is BenchmarkCommitAged from a new table with the
// default history bound (PropertyMaxSnapshots): run it with
// -benchtime=1000x to see the steady cost, expiries included.
func BenchmarkCommitBounded(b *testing.B) {
	benchCommitAged(b, 1, strconv.Itoa(DefaultMaxSnapshots))
}

// benchCommitAged times commits on a table with history snapshots and
// PropertyMaxSnapshots maxSnapshots.
func benchCommitAged(b *testing.B, history int, maxSnapshots string) {
	ctx := context.Background()
	tbl, files := benchTable(b, maxSnapshots, b.N+1)
	if _, err := tbl.Commit(ctx, files[:1], []stocklake.OffsetRange{rng("T", 0, 0, 1000)}); err != nil {
		b.Fatal(err)
	}
	growHistory(b, tbl, history-1)
	b.ResetTimer()
	cpu0 := processCPU()
	for i := range b.N {
		if _, err := tbl.Commit(ctx, files[i+1:i+2], []stocklake.OffsetRange{rng("T", 0, int64(i+1)*1000, int64(i+2)*1000)}); err != nil {
			b.Fatal(err)
		}
	}
	cpu := processCPU() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	it, _ := tbl.refresh(ctx)
	if st, err := os.Stat(strings.TrimPrefix(it.MetadataLocation(), "file://")); err == nil {
		b.ReportMetric(float64(st.Size()), "metadata-bytes")
	}
	b.ReportMetric(float64(len(it.Metadata().Snapshots())), "snapshots")
}

// benchTable creates a tick table with PropertyMaxSnapshots maxSnapshots
// in a new lake, and n files of 1,000 ticks in its data folder, the i-th
// named for the offsets [1000i, 1000i+1000) of T:0 (not committed).
func benchTable(b *testing.B, maxSnapshots string, n int) (*Table, []stocklake.LakeFile) {
	ctx := context.Background()
	dir := b.TempDir()
	c, err := Open(ctx, Config{SQLitePath: filepath.Join(dir, "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "lake")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	tbl, err := c.CreateTickTable(ctx, "market", "ticks", TableOptions{Properties: map[string]string{PropertyMaxSnapshots: maxSnapshots}})
	if err != nil {
		b.Fatal(err)
	}
	body := encodeTicks(&testing.T{}, ticks(1000, 0, "x"))
	data := filepath.Join(strings.TrimPrefix(tbl.Location(), "file://"), "data", "ts_day=2026-11-26")
	if err := os.MkdirAll(data, 0o755); err != nil {
		b.Fatal(err)
	}
	files := make([]stocklake.LakeFile, n)
	for i := range files {
		p := filepath.Join(data, fmt.Sprintf("ticks+T+0+%d.parquet", i*1000))
		if err := os.WriteFile(p, body, 0o644); err != nil {
			b.Fatal(err)
		}
		files[i] = stocklake.LakeFile{URL: "file://" + p}
	}
	return tbl, files
}

// growHistory adds n snapshots on top of the table's head in one metadata
// change, each a copy of the head (same manifest list and summary) with
// its own ID, as if n commits had landed.
func growHistory(b *testing.B, tbl *Table, n int) {
	ctx := context.Background()
	it, err := tbl.refresh(ctx)
	if err != nil {
		b.Fatal(err)
	}
	head := it.CurrentSnapshot()
	var updates []table.Update
	parent, seq := head.SnapshotID, head.SequenceNumber
	for i := range n {
		s := *head
		id := head.SnapshotID + int64(i) + 1
		p := parent
		s.SnapshotID, s.ParentSnapshotID, s.SequenceNumber = id, &p, seq+int64(i)+1
		sum := *head.Summary
		sum.Properties = maps.Clone(head.Summary.Properties)
		s.Summary = &sum
		updates = append(updates, table.NewAddSnapshotUpdate(&s), table.NewSetSnapshotRefUpdate(table.MainBranch, id, table.BranchRef, -1, -1, -1))
		parent = id
	}
	if len(updates) == 0 {
		return
	}
	if _, _, err := tbl.committer(it).CommitTable(ctx, tbl.ident, nil, updates); err != nil {
		b.Fatal(err)
	}
	if it, err = tbl.refresh(ctx); err != nil || len(it.Metadata().Snapshots()) != n+1 {
		b.Fatalf("history: %v, %d snapshots, want %d", err, len(it.Metadata().Snapshots()), n+1)
	}
}

// processCPU is the CPU time (user+system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchCommit(b *testing.B, expireEvery int) {
	ctx := context.Background()
	tbl, files := benchTable(b, "0", b.N)
	b.ResetTimer()
	var worst time.Duration
	for i := range b.N {
		t0 := time.Now()
		if _, err := tbl.Commit(ctx, files[i:i+1], []stocklake.OffsetRange{rng("T", 0, int64(i*1000), int64(i*1000+1000))}); err != nil {
			b.Fatal(err)
		}
		worst = max(worst, time.Since(t0))
		if expireEvery > 0 && (i+1)%expireEvery == 0 {
			if _, err := tbl.ExpireSnapshots(ctx, 0, expireEvery); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	it, _ := tbl.refresh(ctx)
	st, err := os.Stat(strings.TrimPrefix(it.MetadataLocation(), "file://"))
	if err == nil {
		b.ReportMetric(float64(st.Size()), "metadata-bytes")
	}
	b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
}
