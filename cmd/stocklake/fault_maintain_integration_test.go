package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/iceberg"
)

// TestFaultIcebergMaintainKillIntegration SIGKILLs `stocklake maintain` 10
// times at random moments (every compaction step is held 200 ms so that
// kills land between writing merged files and committing them) while a
// sink lands live ticks from Apache Kafka into an Iceberg table, day
// partitions filling every 4 s. A reader loop scans the table with
// iceberg-go throughout and must never see more rows than were sent,
// fewer than it saw before, or a trade twice. At the end a last maintain
// compacts, expires and removes the killed compactors' orphan files, and
// pyiceberg finds every (symbol, trade_id) exactly once.
func TestFaultIcebergMaintainKillIntegration(t *testing.T) {
	brokers := requireEnv(t, "STOCKLAKE_KAFKA_BROKERS")["STOCKLAKE_KAFKA_BROKERS"]
	py := pythonWithPyarrow(t)
	if out, err := exec.Command(py, "-P", "-c", "import pyiceberg.catalog.sql").CombinedOutput(); err != nil {
		t.Fatalf("%s has no pyiceberg: run scripts/pyenv again to install it: %v\n%s", py, err, out)
	}
	const kills = 10
	fc := newFaultCase(t, "Iceberg maintain SIGKILLed at random moments")
	fc.Detail = fmt.Sprintf("stocklake maintain SIGKILLed %d times while a sink lands 1,500 ticks/s into an Iceberg table (day partitions filling every 4 s); reader loop through iceberg-go; pyiceberg at the end", kills)
	ctx := context.Background()
	topic, group := uniqueName("fault-maintain-"), uniqueName("fault-maintain-sink-")
	dir := t.TempDir()
	lakeDir, dbPath := filepath.Join(dir, "lake"), filepath.Join(dir, "catalog.db")
	lake, cat := "file://"+lakeDir, "sqlite://"+dbPath

	// Ticks 6,000 per day of 2026-10-01 onwards, 1,500 a second: each day
	// partition fills in 4 s.
	const rate, perDay = 1500, 6000
	n := faultLength(60_000, 300_000)
	feed := startLiveTicks(t, ctx, brokers, topic, n, rate, 24*time.Hour/perDay)
	defer feed.prod.Close(ctx)

	sinkArgs := []string{"sink", "--brokers", brokers, "--topic", topic, "--group", group, "--lake", lake, "--catalog", cat,
		"--database", "market", "--table", "ticks", "--table-format", "iceberg", "--flush-interval", "500ms", "--log-level", "info"}
	sinker := startProc(t, "sink", true, envWith(), sinkArgs...)
	waitMetric(t, sinker, "stocklake_sink_rows_total", 0, time.Minute)

	// The reader loop, in this process: iceberg-go scans of the current
	// snapshot through its own catalog handle.
	store, err := file.New(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	icat, err := iceberg.Open(ctx, iceberg.Config{SQLitePath: dbPath, Warehouse: store.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer icat.Close()
	tbl, err := icat.OpenTable(ctx, "market", "ticks")
	if err != nil {
		t.Fatal(err)
	}
	judge := &countJudge{sent: &feed.sent}
	read := func() (rows int64, bad string) {
		rows, bad, err := judge.read(func() (rows, distinct int64, err error) {
			keys, err := tbl.TickKeys(ctx)
			for _, c := range keys {
				rows += int64(c)
			}
			return rows, int64(len(keys)), err
		})
		if err != nil {
			return 0, "scan: " + err.Error()
		}
		return rows, bad
	}
	reader := startReaderLoop(100*time.Millisecond, func() (string, bool) {
		_, bad := read()
		return bad, true
	})

	// The kill loop: each maintain process is killed at a random moment
	// after it started holding a compaction step (every other one aimed
	// into the hold after writing merged files). A kill whose last held
	// step is "written" came between writing merged files and committing
	// them.
	env := envWith(faultCompactDelayEnv + "=200ms")
	maintainArgs := []string{"maintain", "--lake", lake, "--catalog", cat, "--database", "market", "--min-age", "2s", "--every", "300ms",
		"--retain-snapshots", "1h", "--orphan-age", "1h", "--log-level", "info"}
	held := regexp.MustCompile(`compaction step held.*step=(\w+)`)
	for k := range kills {
		c := startHeldCompactor(t, fmt.Sprintf("maintain-%d", k), env, maintainArgs...)
		lastHeld := func() []byte {
			if m := held.FindAllSubmatch(c.log(), -1); len(m) > 0 {
				return m[len(m)-1][1]
			}
			return nil
		}
		if k%2 == 1 {
			// Every other kill is aimed into the write-to-commit window:
			// once merged files are written (the step is held 200ms),
			// within the hold; a pass that compacts nothing is killed
			// after a few seconds anyway.
			for until := time.Now().Add(5 * time.Second); !bytes.Equal(lastHeld(), []byte("written")) && c.running() && time.Now().Before(until); {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond)
		} else {
			time.Sleep(time.Duration(rand.IntN(1000)) * time.Millisecond)
		}
		c.kill()
		fc.Kills++
		if bytes.Equal(lastHeld(), []byte("written")) {
			fc.KillsInCompaction++
		}
	}
	t.Logf("%d kills, %d between writing merged files and committing them", fc.Kills, fc.KillsInCompaction)
	if fc.KillsInCompaction == 0 {
		t.Fatalf("none of the %d kills landed between a compaction's write and its commit", kills)
	}
	if err := <-feed.done; err != nil {
		t.Fatal(err)
	}
	final := startProc(t, "maintain-final", false, envWith(), maintainArgs...)
	waitCaughtUp(t, ctx, brokers, group, topic, 3*time.Minute, sinker)
	sinker.terminate()
	// One whole pass, so that SIGTERM finds it running (and must stop it
	// cleanly), not starting up.
	for deadline := time.Now().Add(time.Minute); !final.logContains("maintained Iceberg table"); time.Sleep(50 * time.Millisecond) {
		if !final.running() || time.Now().After(deadline) {
			t.Fatalf("the last maintain made no pass (running %v)", final.running())
		}
	}
	final.terminate()
	reader.stop(t, "scans")
	filesBefore, err := tbl.DataFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(stocklakeBinary(t), "maintain", "--lake", lake, "--catalog", cat, "--database", "market", "--min-age", "1ns",
		"--retain-snapshots", "1ms", "--retain-last", "1", "--orphan-age", "1ms").CombinedOutput()
	if err != nil {
		t.Fatalf("final maintain: %v\n%s", err, out)
	}
	t.Logf("final maintain: %s", strings.TrimSpace(string(out)))
	m := regexp.MustCompile(`(\d+) orphan files`).FindSubmatch(out)
	if orphans, _ := strconv.Atoi(string(m[1])); m == nil || orphans == 0 {
		t.Errorf("the final maintain removed no orphan files, but %d kills came between a write and its commit", fc.KillsInCompaction)
	}
	filesAfter, err := tbl.DataFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("data files: %d before the final maintain, %d after", len(filesBefore), len(filesAfter))
	if len(filesAfter) >= len(filesBefore) && len(filesBefore) > 11 {
		t.Errorf("the final maintain left %d files of %d", len(filesAfter), len(filesBefore))
	}
	// No file under data/ is left that the table does not reference.
	objs, err := store.List(ctx, "market.db/ticks/data/")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != len(filesAfter) {
		t.Errorf("%d files under data/, the table references %d: orphans were left", len(objs), len(filesAfter))
	}
	total := int64(n)
	if rows, bad := read(); bad != "" || rows != total {
		t.Fatalf("iceberg-go after the final maintain: %d rows (%s), want the %d ticks sent", rows, bad, total)
	}
	got := readWithPyicebergCmd(t, py, dbPath, store.URL(), "market.ticks")
	fc.Produced, fc.Landed, fc.Distinct, fc.Duplicates = total, int64(got.Rows), int64(got.Distinct), int64(got.Rows-got.Distinct)
	if int64(got.Rows) != total || int64(got.Distinct) != total {
		t.Fatalf("pyiceberg counts %d rows, %d distinct (symbol, trade_id); want each of the %d ticks once", got.Rows, got.Distinct, total)
	}
	var sum int64
	for _, o := range got.Offsets {
		sum += o
	}
	if sum != total {
		t.Errorf("the table's offsets %v sum to %d, want %d", got.Offsets, sum, total)
	}
}
