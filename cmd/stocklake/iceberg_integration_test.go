package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

// TestIcebergSinkPyicebergIntegration runs the real binary, `stocklake
// sink --table-format iceberg`, on a real Kafka topic of three partitions
// into a file:// lake: first a sink SIGKILLed while it holds a written
// batch before its table commit (STOCKLAKE_FAULT_COMMIT_DELAY), then two
// runs to the end (more ticks between them; the second in another consumer
// group, so it can only resume from the table's offsets), and has pyiceberg (PyPI), not stocklake, count every (symbol,
// trade_id) exactly once and read the offsets from the snapshot summary.
func TestIcebergSinkPyicebergIntegration(t *testing.T) {
	env := requireEnv(t, "STOCKLAKE_KAFKA_BROKERS")
	dir := t.TempDir()
	lake := "file://" + filepath.Join(dir, "lake")
	runIcebergSinkPyiceberg(t, env["STOCKLAKE_KAFKA_BROKERS"], lake, lake, filepath.Join(dir, "catalog.db"))
}

// TestIcebergSinkPyicebergS3Integration is the same on an S3 lake.
func TestIcebergSinkPyicebergS3Integration(t *testing.T) {
	env := requireEnv(t, "STOCKLAKE_KAFKA_BROKERS", "STOCKLAKE_S3_ENDPOINT")
	bucket := uniqueName("icesink-")
	lake := fmt.Sprintf("s3://%s/lake?endpoint=%s&create_bucket=true", bucket, env["STOCKLAKE_S3_ENDPOINT"])
	runIcebergSinkPyiceberg(t, env["STOCKLAKE_KAFKA_BROKERS"], lake, "s3://"+bucket+"/lake", filepath.Join(t.TempDir(), "catalog.db"))
}

func runIcebergSinkPyiceberg(t *testing.T, brokers, lake, warehouse, dbPath string) {
	py := pythonWithPyarrow(t)
	if out, err := exec.Command(py, "-P", "-c", "import pyiceberg.catalog.sql").CombinedOutput(); err != nil {
		t.Fatalf("%s has no pyiceberg: run scripts/pyenv again to install it: %v\n%s", py, err, out)
	}
	ctx := context.Background()
	topic, _, p := newTopic(t, brokers, "icesink-")
	// Ticks over two UTC days: two table partitions.
	base := time.Date(2026, 11, 26, 23, 58, 0, 0, time.UTC)
	produced := 0
	produce := func(prefix string, n int) {
		for i := 0; i < n; i++ {
			tk := stocklake.Tick{Symbol: []string{"AAPL", "MSFT", "NVDA", "AMZN", "TSLA"}[i%5], Time: base.Add(time.Duration(produced) * 50 * time.Millisecond),
				Price: 100 + float64(i%100)/10, Size: float64(1 + i%9), Exchange: "XNAS", TradeID: prefix + strconv.Itoa(i), Source: "test"}
			if err := p.Produce(ctx, stocklake.Record{Key: []byte(tk.Symbol), Value: tk.AppendJSON(nil)}); err != nil {
				t.Fatal(err)
			}
			produced++
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sinkRun := func(group string) {
		args := []string{"sink", "--brokers", brokers, "--topic", topic, "--group", group, "--lake", lake,
			"--catalog", "sqlite://" + dbPath, "--database", "market", "--table-format", "iceberg",
			"--exit-when-idle", "--flush-interval", "200ms", "--max-rows", "1000", "--log-level", "warn"}
		cmd := exec.Command(stocklakeBinary(t), args...)
		cmd.Env = envWith()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("stocklake %s: %v\n%s", strings.Join(args, " "), err, out.String())
			}
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			t.Fatalf("stocklake sink did not catch up in 2 minutes\n%s", out.String())
		}
	}
	produce("a", 6000)
	// A sink killed between writing a batch's files and committing them:
	// its files are orphans, invisible to readers.
	g1 := uniqueName("g1-")
	killed := exec.Command(stocklakeBinary(t), "sink", "--brokers", brokers, "--topic", topic, "--group", g1, "--lake", lake,
		"--catalog", "sqlite://"+dbPath, "--database", "market", "--table-format", "iceberg", "--flush-interval", "200ms", "--max-rows", "1000")
	killed.Env = envWith(faultCommitDelayEnv + "=1h")
	var kout lockedBuffer
	killed.Stdout, killed.Stderr = &kout, &kout
	if err := killed.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(kout.String(), "fault injection: batch written, commit held") {
		if time.Now().After(deadline) {
			killed.Process.Kill()
			killed.Wait()
			t.Fatalf("the sink never held a written batch:\n%s", kout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := killed.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed.Wait()
	sinkRun(g1)
	produce("b", 4000)
	sinkRun(uniqueName("g2-")) // no group offsets: it must resume from the table's
	table := "market." + strings.ReplaceAll(topic, "-", "_")
	got := readWithPyicebergCmd(t, py, dbPath, warehouse, table)
	if got.Rows != produced || got.Distinct != produced {
		t.Errorf("pyiceberg counts %d rows, %d distinct (symbol, trade_id); want %d, %d", got.Rows, got.Distinct, produced, produced)
	}
	var sum int64
	for _, o := range got.Offsets {
		sum += o
	}
	if len(got.Offsets) < 2 || sum != int64(produced) {
		t.Errorf("pyiceberg reads offsets %v: want several partitions summing to %d", got.Offsets, produced)
	}
	if got.DayRows <= 0 || got.DayRows >= produced {
		t.Errorf("pyiceberg counts %d rows on 2026-11-27, want some but not all %d", got.DayRows, produced)
	}
}

// lockedBuffer is a bytes.Buffer safe for a process's output and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// icebergPyResult is what iceberg/testdata/read_pyiceberg.py prints.
type icebergPyResult struct {
	Rows, Distinct int
	DayRows        int `json:"day_rows"`
	Offsets        map[string]int64
}

// readWithPyicebergCmd runs iceberg/testdata/read_pyiceberg.py (S3 settings
// from the environment) and counts the rows of 2026-11-27 too.
func readWithPyicebergCmd(t *testing.T, py, dbPath, warehouse, table string) icebergPyResult {
	t.Helper()
	var got icebergPyResult
	pythonJSON(t, py, &got, "iceberg/testdata/read_pyiceberg.py", dbPath, warehouse, table, "2026-11-27T00:00:00+00:00", "2026-11-28T00:00:00+00:00")
	return got
}
