package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/sink"
)

// TestCompactCommand runs crawl, query, compact, crawl and query with the
// binary: `stocklake query` gives the same count and sum(price) before and
// after compaction and after a crawl of the compacted lake, and `catalog
// table` shows the file count falling to one per partition.
func TestCompactCommand(t *testing.T) {
	dir := t.TempDir()
	lakeDir := filepath.Join(dir, "lake")
	store, err := file.New(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	var (
		rows int
		sum  float64
		off  int64
	)
	for _, hour := range []string{"09", "10"} {
		for range 12 {
			var buf bytes.Buffer
			w := parquet.NewGenericWriter[sink.TickRow](&buf)
			batch := make([]sink.TickRow, 25)
			for i := range batch {
				p := float64(rows%997) + 0.25
				batch[i] = sink.TickRow{Symbol: fmt.Sprintf("S%d", rows%5), TS: time.Date(2026, 11, 20, 9, 0, rows%3600, 0, time.UTC).UnixMicro(),
					Price: p, Size: 1, TradeID: fmt.Sprint(rows)}
				rows++
				sum += p
			}
			w.Write(batch)
			w.Close()
			key := sink.ObjectKey("ticks", "dt=2026-11-20/hour="+hour, "T0PICID", 0, off, "parquet")
			off += 25
			if err := store.Put(context.Background(), key, &buf); err != nil {
				t.Fatal(err)
			}
		}
	}
	bin := stocklakeBinary(t)
	common := []string{"--lake", "file://" + lakeDir, "--catalog", "sqlite://" + filepath.Join(dir, "catalog.db"), "--database", "market"}
	sl := func(args ...string) string {
		t.Helper()
		all := append(args[:1:1], append(common, args[1:]...)...)
		out, err := exec.Command(bin, all...).CombinedOutput()
		if err != nil {
			t.Fatalf("stocklake %s: %v\n%s", strings.Join(all, " "), err, out)
		}
		return string(out)
	}
	query := func() string {
		t.Helper()
		out, err := exec.Command(bin, "query", "--catalog", "sqlite://"+filepath.Join(dir, "catalog.db"), "--lake", "file://"+lakeDir, "--format", "csv",
			"SELECT count(*), sum(price) FROM market.ticks").CombinedOutput()
		if err != nil {
			t.Fatalf("query: %v\n%s", err, out)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")[1]
	}
	want := fmt.Sprintf("\"%d\",\"%g\"", rows, sum)
	sl("crawl")
	if got := query(); !strings.HasSuffix(got, want) {
		t.Fatalf("before compaction: %q, want %q", got, want)
	}
	if out := sl("catalog", "table", "ticks"); !strings.Contains(out, "files     24,") || !strings.Contains(out, "compacted never") {
		t.Errorf("catalog table before compaction:\n%s", out)
	}
	out := sl("compact", "--min-age", "1ns", "--grace", "0")
	if !strings.Contains(out, "compacted 2 partitions of 1 tables: 24 files") {
		t.Fatalf("compact printed %q", out)
	}
	if got := query(); !strings.HasSuffix(got, want) {
		t.Fatalf("after compaction: %q, want %q", got, want)
	}
	sl("crawl", "--delete-behavior", "delete")
	if got := query(); !strings.HasSuffix(got, want) {
		t.Fatalf("after a crawl of the compacted lake: %q, want %q", got, want)
	}
	if out := sl("catalog", "table", "ticks"); !strings.Contains(out, "files     2,") || !strings.Contains(out, "(2 partitions compacted; 24 files") {
		t.Errorf("catalog table after compaction:\n%s", out)
	}
}
