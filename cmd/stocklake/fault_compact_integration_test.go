package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
)

// TestFaultCompactKillIntegration SIGKILLs the compactor 10 times, each
// time inside a compaction (every step is held 200 ms so the kills land
// between its steps), while a sink lands live ticks from Apache Kafka into
// hour partitions that close every two seconds (the ticks' event times
// march through past hours). A reader loop runs `stocklake query`
// throughout and must never see more rows than were sent, fewer rows than
// it saw before, or a trade twice. At the end pyarrow, reading the
// catalog's partition locations, finds every (symbol, trade_id) once.
func TestFaultCompactKillIntegration(t *testing.T) {
	brokers := requireEnv(t, "STOCKLAKE_KAFKA_BROKERS")["STOCKLAKE_KAFKA_BROKERS"]
	py := pythonWithPyarrow(t)
	const kills = 10
	fc := newFaultCase(t, "compactor SIGKILLed inside compactions")
	fc.Detail = fmt.Sprintf("stocklake compact SIGKILLed %d times inside compactions while a sink lands 1,500 ticks/s into hour partitions closing every 2 s; reader loop through stocklake query; pyarrow over the catalog's partition locations", kills)
	ctx := context.Background()
	topic, group := uniqueName("fault-compact-"), uniqueName("fault-compact-sink-")
	dir := t.TempDir()
	lakeDir := filepath.Join(dir, "lake")
	lake, cat := "file://"+lakeDir, "sqlite://"+filepath.Join(dir, "catalog.db")
	store, err := file.New(lakeDir)
	if err != nil {
		t.Fatal(err)
	}

	// Ticks 3,000 per hour of 2026-10-01 onwards, 1,500 a second: each hour
	// partition fills in 2 s and is then closed.
	const rate, perHour = 1500, 3000
	n := faultLength(120_000, 300_000)
	feed := startLiveTicks(t, ctx, brokers, topic, n, rate, time.Hour/perHour)
	prod := feed.prod

	sinker := startProc(t, "sink", true, envWith(), "sink", "--brokers", brokers, "--topic", topic, "--group", group, "--lake", lake,
		"--catalog", cat, "--database", "market", "--table", "ticks", "--table-format", "hive", "--flush-interval", "500ms", "--log-level", "info")
	waitMetric(t, sinker, "stocklake_sink_rows_total", 0, time.Minute)

	// The reader loop. Every tick produced, the 90 at the end too, is
	// counted in sent before it is produced, so a count above sent once
	// the query has returned is a row read twice (countJudge).
	judge := &countJudge{sent: &feed.sent}
	errNoTable := errors.New("the table is not registered yet")
	// read runs one count through stocklake query and judges it; ok is
	// false when the table is not registered yet (a "not found" before any
	// row was read; after that, e.g. a file deleted under a query, it is a
	// bad answer). At debug level the engine logs the files it read, so a
	// bad answer explains itself (explainRead).
	read := func() (rows int64, bad string, ok bool) {
		var log string
		rows, bad, err := judge.read(func() (int64, int64, error) {
			var stdout, stderr bytes.Buffer
			q := exec.Command(stocklakeBinary(t), "query", "--catalog", cat, "--lake", lake, "--format", "csv", "--log-level", "debug",
				"SELECT count(*), count(DISTINCT trade_id) FROM market.ticks")
			q.Stdout, q.Stderr = &stdout, &stderr
			err := q.Run()
			log = stderr.String()
			if err != nil {
				out := stdout.String() + log
				if judge.last == 0 && (strings.Contains(out, "does not exist") || strings.Contains(out, "not found")) {
					return 0, 0, errNoTable
				}
				return 0, 0, fmt.Errorf("query: %v: %s", err, out)
			}
			var rows, distinct int64
			if _, err := fmt.Sscanf(strings.Split(stdout.String(), "\n")[1], "\"%d\",\"%d\"", &rows, &distinct); err != nil {
				return 0, 0, fmt.Errorf("query answer %q", stdout.String())
			}
			return rows, distinct, nil
		})
		switch {
		case errors.Is(err, errNoTable):
			return 0, "", false
		case err != nil:
			return 0, err.Error(), true
		case bad != "":
			t.Logf("bad answer: %s\n%s", bad, explainRead(ctx, store, log))
		}
		return rows, bad, true
	}
	reader := startReaderLoop(0, func() (string, bool) {
		_, bad, ok := read()
		return bad, ok
	})

	// The kill loop: each compactor is killed at a random moment after it
	// has started holding a compaction step.
	env := envWith(faultCompactDelayEnv + "=200ms")
	compactArgs := []string{"compact", "--lake", lake, "--catalog", cat, "--database", "market", "--min-age", "3s", "--grace", "10s", "--every", "300ms", "--stale-after", "2s"}
	pendingKills := 0
	for k := range kills {
		c := startHeldCompactor(t, fmt.Sprintf("compact-%d", k), env, compactArgs...)
		time.Sleep(time.Duration(rand.IntN(1000)) * time.Millisecond)
		c.kill()
		fc.Kills++
		st, _, err := stocklake.ReadCompactionState(ctx, store, "ticks/")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range st.Partitions {
			if p.Next != nil {
				pendingKills++
				break
			}
		}
	}
	fc.KillsInCompaction = pendingKills
	t.Logf("%d kills, %d left a compaction pending", fc.Kills, pendingKills)
	if pendingKills == 0 {
		t.Fatalf("none of the %d kills landed inside a compaction", kills)
	}
	if err := <-feed.done; err != nil {
		t.Fatal(err)
	}
	// A last compactor runs unharmed alongside the sink, finishing what the
	// killed ones left.
	final := startProc(t, "compact-final", false, envWith(), compactArgs...)
	waitCaughtUp(t, ctx, brokers, group, topic, 3*time.Minute, sinker)
	sinker.terminate()

	// A few ticks of the current hour make the sinks' last batches (which
	// their manifests keep) land in an open partition, so every past one
	// can be compacted; then one more pass with no age limit.
	extra := 90
	now := time.Now().UTC()
	for i := range extra {
		tk := faultTick(n+i, now)
		feed.sent.Add(1)
		if err := prod.Produce(ctx, stocklake.Record{Key: []byte(tk.Symbol), Value: tk.AppendJSON(nil)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	prod.Close(ctx)
	sinker = startProc(t, "sink-2", false, envWith(), "sink", "--brokers", brokers, "--topic", topic, "--group", group, "--lake", lake,
		"--catalog", cat, "--database", "market", "--table", "ticks", "--table-format", "hive", "--exit-when-idle", "--log-level", "info")
	sinker.wait(2 * time.Minute)
	final.terminate()
	reader.stop(t, "answers")
	out, err := exec.Command(stocklakeBinary(t), "compact", "--lake", lake, "--catalog", cat, "--database", "market", "--min-age", "1ns", "--grace", "0", "--stale-after", "1ns").CombinedOutput()
	if err != nil {
		t.Fatalf("final compaction: %v\n%s", err, out)
	}
	t.Logf("final compaction: %s", strings.TrimSpace(string(out)))
	// One more read, now that every tick has landed and been compacted:
	// exactly the ticks sent (the 90 late ones too), each once.
	total := int64(n + extra)
	if rows, bad, ok := read(); !ok || bad != "" || rows != total {
		t.Fatalf("reader after the final compaction: %d rows (%s), want the %d ticks sent", rows, bad, total)
	}

	parts, err := exec.Command(stocklakeBinary(t), "catalog", "partitions", "ticks", "--catalog", cat, "--database", "market", "--format", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	pf := filepath.Join(dir, "partitions.json")
	os.WriteFile(pf, parts, 0o644)
	var locs []stocklake.Partition
	json.Unmarshal(parts, &locs)
	compacted := 0
	for _, p := range locs {
		if strings.Contains(p.Location, stocklake.CompactedFolder) {
			compacted++
		}
	}
	vout, verr := exec.Command(py, filepath.Join(repoRoot(t), "scripts", "verify_partitions.py"), pf, strconv.FormatInt(total, 10)).CombinedOutput()
	t.Logf("pyarrow over %d catalog partitions (%d compacted): %s", len(locs), compacted, strings.TrimSpace(string(vout)))
	var c lakeCount
	json.Unmarshal(vout, &c)
	fc.Produced, fc.Landed, fc.Distinct, fc.Duplicates = total, c.Rows, c.Distinct, c.Duplicated
	if verr != nil {
		t.Fatalf("the catalog's partitions do not hold each of the %d ticks once: %v", total, verr)
	}
	if compacted < len(locs)/2 {
		t.Errorf("only %d of %d partitions were compacted", compacted, len(locs))
	}
}

// explainRead tells which files a query read, from its debug log (the
// engine's "files to read"): per folder, its files and their rows, and
// what the table's compaction state says of the folder now.
func explainRead(ctx context.Context, store *file.ObjectStore, log string) string {
	_, rest, ok := strings.Cut(log, `files="[`)
	if !ok {
		return "(the query logged no files to read)"
	}
	list, _, _ := strings.Cut(rest, `]"`)
	st, _, err := stocklake.ReadCompactionState(ctx, store, "ticks/")
	if err != nil {
		return err.Error()
	}
	superseded := map[string]bool{}
	state := map[string]string{} // folder -> what the state says
	for path, p := range st.Partitions {
		for _, s := range p.Superseded {
			for _, k := range s.Keys {
				superseded[k] = true
			}
		}
		state["ticks/"+path] = "own folder of a compacted partition"
		if p.Location != "" {
			state[p.Location] = "current merged folder of " + path
		}
		if p.Next != nil {
			state[p.Next.Location] = "pending merged folder of " + path
		}
	}
	type folder struct {
		files, rows, superseded int
		keys                    []string
	}
	folders := map[string]*folder{}
	var order []string
	for _, k := range strings.Fields(list) {
		dir := k[:strings.LastIndexByte(k, '/')+1]
		f := folders[dir]
		if f == nil {
			f = &folder{}
			folders[dir] = f
			order = append(order, dir)
		}
		f.files++
		f.keys = append(f.keys, k[len(dir):])
		if superseded[k] {
			f.superseded++
		}
		rc, err := store.Get(ctx, k)
		if err != nil {
			f.rows = -1 << 40
			continue
		}
		body, _ := io.ReadAll(rc)
		rc.Close()
		if pf, err := parquet.OpenFile(bytes.NewReader(body), int64(len(body))); err == nil {
			f.rows += int(pf.NumRows())
		}
	}
	var b strings.Builder
	for _, dir := range order {
		f := folders[dir]
		fmt.Fprintf(&b, "  %s: %d files (%d superseded now), %d rows; %s; %v\n", dir, f.files, f.superseded, f.rows, state[dir], f.keys)
	}
	return b.String()
}
