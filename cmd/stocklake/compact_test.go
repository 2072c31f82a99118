package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/compact"
	"github.com/stocklake/stocklake/crawler"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/sink"
	"github.com/stocklake/stocklake/sqlite"
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

// logProc is a stocklake subprocess whose output is kept.
type logProc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *logProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *logProc) count(s string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Count(p.out.String(), s)
}

func startLogProc(t *testing.T, env []string, args ...string) *logProc {
	t.Helper()
	p := &logProc{cmd: exec.Command(stocklakeBinary(t), args...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			p.mu.Lock()
			b := p.out.Bytes()
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("---- %s output (tail) ----\n%s", args[0], b)
			p.mu.Unlock()
		}
	})
	return p
}

// TestCompactSinkResume: a sink SIGKILLed with a batch written but not
// committed leaves its keys in its manifest; compaction leaves that
// partition alone, the sink resumes and rewrites those keys, and after the
// next compaction every tick is in the table once.
func TestCompactSinkResume(t *testing.T) {
	brokers, kc := fakeKafka(t, 1)
	const n = 2500 // 2000 in hour 14 (batches 1-4 of 500), 500 in hour 15
	produceTicks(t, kc, n, func(i int) stocklake.Tick {
		ts := time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC).Add(time.Duration(i) * 1800 * time.Millisecond)
		return stocklake.Tick{Symbol: fmt.Sprintf("S%d", i%7), Time: ts, Price: float64(i%1000) + 0.5, Size: 1, TradeID: fmt.Sprint(i), Source: "test"}
	})
	dir := t.TempDir()
	lake, cat := "file://"+filepath.Join(dir, "lake"), "sqlite://"+filepath.Join(dir, "catalog.db")
	sinkArgs := []string{"sink", "--brokers", brokers, "--topic", "ticks", "--lake", lake, "--table-format", "hive", "--max-rows", "500", "--flush-interval", "1h"}

	// The first sink holds each commit 300ms; it is killed while the third
	// batch (hour 14) is written but not committed.
	s1 := startLogProc(t, []string{faultCommitDelayEnv + "=300ms"}, sinkArgs...)
	for s1.count("commit held") < 3 {
		select {
		case <-s1.done:
			t.Fatal("the sink exited before its third batch")
		case <-time.After(5 * time.Millisecond):
		}
	}
	s1.cmd.Process.Signal(syscall.SIGKILL)
	<-s1.done

	run := func(args ...string) string {
		t.Helper()
		args = append(args, "--lake", lake, "--catalog", cat, "--database", "market")
		out, err := exec.Command(stocklakeBinary(t), args...).CombinedOutput()
		if err != nil {
			t.Fatalf("stocklake %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	count := func() string {
		t.Helper()
		out, err := exec.Command(stocklakeBinary(t), "query", "--catalog", cat, "--lake", lake, "--format", "csv",
			"SELECT count(*), count(DISTINCT trade_id) FROM market.ticks").CombinedOutput()
		if err != nil {
			t.Fatalf("query: %v\n%s", err, out)
		}
		return strings.Split(string(out), "\n")[1]
	}
	run("crawl")
	out := run("compact", "--min-age", "1ns", "--grace", "0", "--log-level", "debug")
	if !strings.Contains(out, "compacted 0 partitions") || !strings.Contains(out, "sink batch") {
		t.Fatalf("compaction with an uncommitted sink batch in the partition:\n%s", out)
	}

	// The sink resumes, rewrites the uncommitted batch's objects and lands
	// the rest.
	s2 := startLogProc(t, nil, append(sinkArgs, "--exit-when-idle")...)
	<-s2.done
	if s2.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("the resumed sink exited with %d", s2.cmd.ProcessState.ExitCode())
	}
	run("crawl")
	out = run("compact", "--min-age", "1ns", "--grace", "0")
	if !strings.Contains(out, "compacted 1 partitions") {
		t.Fatalf("compaction after the sink committed:\n%s", out)
	}
	if got, want := count(), fmt.Sprintf("\"%d\",\"%d\"", n, n); got != want {
		t.Fatalf("count, distinct trade IDs after compaction: %s, want %s", got, want)
	}
	run("crawl")
	if got, want := count(), fmt.Sprintf("\"%d\",\"%d\"", n, n); got != want {
		t.Fatalf("count, distinct trade IDs after a crawl of the compacted lake: %s, want %s", got, want)
	}
}

// TestCompactMetrics: the compactor's Prometheus counters register in one
// registry and count the files and bytes a pass rewrote.
func TestCompactMetrics(t *testing.T) {
	dir := t.TempDir()
	store, err := file.New(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[sink.TickRow](&buf)
		w.Write([]sink.TickRow{{Symbol: "A", TS: time.Date(2026, 11, 20, 9, i, 0, 0, time.UTC).UnixMicro(), Price: 1, TradeID: fmt.Sprint(i)}})
		w.Close()
		if err := store.Put(context.Background(), sink.ObjectKey("ticks", "dt=2026-11-20/hour=09", "T", 0, int64(i), "parquet"), &buf); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := sqlite.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	cr, err := crawler.New(store, cat, crawler.Config{Database: "market"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := compact.New(store, cat, compact.Config{Database: "market", MinAge: time.Nanosecond, Grace: -1})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := c.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf.GetMetric()[0].GetCounter().GetValue()
	}
	if got["stocklake_compact_files_rewritten_total"] != 3 || got["stocklake_compact_files_written_total"] != 1 ||
		got["stocklake_compact_bytes_rewritten_total"] == 0 || got["stocklake_compact_objects_deleted_total"] != 3 {
		t.Errorf("metrics after a pass merging 3 objects: %v", got)
	}
}
