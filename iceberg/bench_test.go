package iceberg

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

// BenchmarkCommit measures one sink flush on a file:// lake: a commit of one
// 1,000-tick file for one partition, on a table that grows by a snapshot per
// op (run with -benchtime=Nx to see the cost grow with the snapshot count).
// It reports the metadata file's size at the end.
func BenchmarkCommit(b *testing.B) { benchCommit(b, 0) }

// BenchmarkCommitExpiring is BenchmarkCommit with ExpireSnapshots(0, 100)
// after every 100 commits, as a sink or maintenance loop would run it.
func BenchmarkCommitExpiring(b *testing.B) { benchCommit(b, 100) }

func benchCommit(b *testing.B, expireEvery int) {
	ctx := context.Background()
	t := &testing.T{}
	dir := b.TempDir()
	c, err := Open(ctx, Config{SQLitePath: filepath.Join(dir, "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "lake")})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	tbl, err := c.CreateTickTable(ctx, "market", "ticks", TableOptions{})
	if err != nil {
		b.Fatal(err)
	}
	body := encodeTicks(t, ticks(1000, 0, "x"))
	data := filepath.Join(strings.TrimPrefix(tbl.Location(), "file://"), "data", "ts_day=2026-11-26")
	if err := os.MkdirAll(data, 0o755); err != nil {
		b.Fatal(err)
	}
	files := make([]stocklake.LakeFile, b.N)
	for i := range files {
		p := filepath.Join(data, fmt.Sprintf("ticks+T+0+%d.parquet", i*1000))
		if err := os.WriteFile(p, body, 0o644); err != nil {
			b.Fatal(err)
		}
		files[i] = stocklake.LakeFile{URL: "file://" + p}
	}
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
