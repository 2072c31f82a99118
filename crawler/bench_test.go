package crawler

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkCrawl10k crawls 10,000 small objects on a file:// lake: the
// seed's layout (one JSON object per object in a flat prefix) and our
// sink's (Parquet files under dt=/hour= folders, 100 partitions). It
// reports objects/s; run with
//
//	go test -run '^$' -bench Crawl10k -benchtime 3x ./crawler/
func BenchmarkCrawl10k(b *testing.B) {
	const n = 10000
	b.Run("seed-json", func(b *testing.B) {
		l := newLake(b)
		for i := range n {
			l.put(fmt.Sprintf("seed/%05d.json", i), seedRecord(i))
		}
		benchCrawl(b, l, n)
	})
	b.Run("parquet-partitioned", func(b *testing.B) {
		l := newLake(b)
		start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		for i := range n {
			h := start.Add(time.Duration(i%100) * time.Hour)
			l.put(tickKey(h.Format(time.DateOnly), h.Hour(), i/100, int64(i)), tickParquet(b, 20, h))
		}
		benchCrawl(b, l, n)
	})
}

func benchCrawl(b *testing.B, l *lake, n int) {
	b.ResetTimer()
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		cat := newCatalog(b)
		c, err := New(l.store, cat, Config{Database: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		run, err := c.Run(context.Background())
		elapsed += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if run.FilesRead != n || len(run.TablesCreated) != 1 {
			b.Fatalf("crawl read %d files, created %v", run.FilesRead, run.TablesCreated)
		}
	}
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "objects/s")
}
