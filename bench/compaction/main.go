// Command compaction measures what maintenance does for a lake fed with
// 1-second commits (issue 17): for each table format (hive, iceberg) it
// runs the pipeline twice, without and with `stocklake maintain --every
// 1m`, ingesting simulated ticks at -rate for -minutes, and samples every
// -sample the number of data files a reader opens and the wall-clock and
// CPU time of a fixed query over them (DuckDB, in this process, over
// exactly those files). At the end of the run
// with maintenance it makes a last pass with no age limit and compares the
// query with the same rows written as one file per partition.
//
// By default (-parallel) the four runs ingest at the same time, each with
// its own embedded broker on a free port and its own folders, sampled in
// turn on one clock; the final passes and comparisons run after all ingest
// has stopped, one at a time. The producers' achieved rates (ticks the
// broker acknowledged against -rate) are reported per run.
//
//	go run ./bench/compaction [-rate 20000] [-minutes 30] [-formats hive,iceberg] [-parallel=true] [-out bench]
//
// It writes OUT/compaction.json (every sample), OUT/compaction.png (file
// count and query times over time; needs matplotlib, see scripts/pyenv) and
// the section between the compaction markers of OUT/RESULTS.md. Not run in
// CI: the full run takes -minutes (4 x -minutes with -parallel=false) plus
// the final passes.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/bench/internal/measure"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/sqlite"
)

// query is the fixed query: a VWAP per symbol over the whole table.
const query = "SELECT symbol, count(*) AS trades, sum(price * size) / sum(size) AS vwap, max(ts) AS last FROM read_parquet(%s, hive_partitioning = false) GROUP BY symbol ORDER BY symbol"

// Sample is one measurement.
type Sample struct {
	Minute  float64 `json:"minute"`
	Files   int     `json:"files"`
	Bytes   int64   `json:"bytes"`
	QueryMS float64 `json:"query_ms"`
	// QueryCPUMS is the CPU time the query took in this process (DuckDB
	// runs in it): steadier than QueryMS on a busy machine.
	QueryCPUMS float64 `json:"query_cpu_ms"`
	Rows       int64   `json:"rows"`
}

// Run is one pipeline run.
type Run struct {
	Format   string   `json:"format"`
	Maintain bool     `json:"maintain"`
	Samples  []Sample `json:"samples"`
	// IngestSeconds is how long the producer ran; Expected is -rate times
	// that, Produced what the broker acknowledged (the producer's log) and
	// Landed the rows in the table once the sink had caught up.
	IngestSeconds float64 `json:"ingest_seconds"`
	Expected      int64   `json:"expected_ticks"`
	Produced      int64   `json:"produced_ticks"`
	Landed        int64   `json:"landed_rows"`
	// SinkBytes is what the sink wrote (its "sink stopped" log line);
	// RewrittenBytes the bytes of the files the maintainer merged during
	// ingest and FinalRewrittenBytes those the last pass merged (the
	// "partition compacted" log lines): over SinkBytes, the write
	// amplification of compaction.
	SinkBytes           int64 `json:"sink_bytes,omitempty"`
	RewrittenBytes      int64 `json:"rewritten_bytes,omitempty"`
	FinalRewrittenBytes int64 `json:"final_rewritten_bytes,omitempty"`
	// SinkPeakMiB and MaintainPeakMiB are the processes' peak resident
	// memory (VmHWM), read as they are stopped.
	SinkPeakMiB     float64 `json:"sink_peak_mib"`
	MaintainPeakMiB float64 `json:"maintain_peak_mib,omitempty"`
	// After the run with maintenance: the query after a last pass, and
	// over the same rows as one file per partition (wall and CPU time).
	FinalFiles   int      `json:"final_files,omitempty"`
	OneFileFiles int      `json:"one_file_files,omitempty"`
	Final        *compare `json:"final,omitempty"`
	// Hive partitions the last pass could not compact (the one holding
	// a Kafka partition's last sink batch stays open to the sink), and
	// the comparison over the compacted partitions only.
	OpenPartitions int      `json:"open_partitions,omitempty"`
	OpenFiles      int      `json:"open_files,omitempty"`
	Compacted      *compare `json:"compacted,omitempty"`
}

// Results is compaction.json.
type Results struct {
	Date    time.Time `json:"date"`
	Rate    int       `json:"rate"`
	Minutes float64   `json:"minutes"`
	Hive    string    `json:"hive_partitioning"`
	Speed   float64   `json:"speed"`
	Every   string    `json:"maintain_every"`
	// Parallel is whether the runs ingested at the same time.
	Parallel bool  `json:"parallel"`
	Runs     []Run `json:"runs"`
}

var (
	rate      = flag.Int("rate", 20000, "ticks per second produced")
	minutes   = flag.Float64("minutes", 30, "minutes of ingest per run")
	formats   = flag.String("formats", "hive,iceberg", "table formats to run")
	sample    = flag.Duration("sample", time.Minute, "sampling interval")
	every     = flag.Duration("every", time.Minute, "maintain --every")
	minAge    = flag.Duration("min-age", 2*time.Minute, "maintain --min-age")
	speed     = flag.Float64("speed", 1, "produce --speed: event-time seconds per wall-clock second (near the simulated open, trading is denser and event time runs at half this)")
	hiveParts = flag.String("hive-partition-by", "dt,hour,minute", "sink --partition-by of the Hive runs (partitions close as the simulator's event time moves on)")
	out       = flag.String("out", "bench", "folder of RESULTS.md, compaction.json and compaction.png")
	bin       = flag.String("bin", "", "stocklake binary (default: go build ./cmd/stocklake)")
	parallel  = flag.Bool("parallel", true, "run the pipelines at the same time, each with its own broker and folders (the final comparison still runs one at a time after all ingest has stopped); false runs them one after another")
	work      = flag.String("work", "", "working folder (default: a new temp folder, removed at the end)")
)

func main() {
	flag.Parse()
	log.SetFlags(log.Ltime)
	w := *work
	if w == "" {
		var err error
		if w, err = os.MkdirTemp("", "stocklake-bench-compaction-*"); err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(w)
	}
	var err error
	if *bin, err = measure.Stocklake(*bin, w); err != nil {
		log.Fatal(err)
	}
	res := Results{Date: time.Now().UTC(), Rate: *rate, Minutes: *minutes, Hive: *hiveParts, Speed: *speed, Every: every.String(), Parallel: *parallel}
	var pipes []*pipeline
	for _, f := range strings.Split(*formats, ",") {
		for _, m := range []bool{false, true} {
			pipes = append(pipes, &pipeline{dir: filepath.Join(w, fmt.Sprintf("%s-%v", f, m)), run: Run{Format: f, Maintain: m}})
		}
	}
	// fail stops every process the bench started and exits, keeping the
	// working folder with the processes' logs.
	fail := func(err error) {
		for _, p := range pipes {
			p.kill()
		}
		log.Fatalf("%v (the runs' logs are in %s)", err, w)
	}
	if *parallel {
		if err := ingest(pipes); err != nil {
			fail(err)
		}
	} else {
		for _, p := range pipes {
			if err := ingest([]*pipeline{p}); err != nil {
				fail(err)
			}
		}
	}
	// The final comparison runs after all ingest has stopped, one run at a
	// time, so its timings are taken on a quiet machine.
	for _, p := range pipes {
		if !p.run.Maintain {
			continue
		}
		if err := p.final(); err != nil {
			fail(fmt.Errorf("%s: %w", p.name(), err))
		}
	}
	for _, p := range pipes {
		res.Runs = append(res.Runs, p.run)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	js, _ := json.MarshalIndent(res, "", "  ")
	jsonPath := filepath.Join(*out, "compaction.json")
	if err := os.WriteFile(jsonPath, js, 0o644); err != nil {
		log.Fatal(err)
	}
	png := filepath.Join(*out, "compaction.png")
	py := os.Getenv("STOCKLAKE_PYTHON")
	if py == "" {
		py = "python3"
	}
	if b, err := exec.Command(py, "bench/compaction/plot.py", jsonPath, png).CombinedOutput(); err != nil {
		log.Printf("plot: %v\n%s (eval \"$(scripts/pyenv)\" gives a Python with matplotlib)", err, b)
	}
	if err := writeSection(filepath.Join(*out, "RESULTS.md"), markdown(res)); err != nil {
		log.Fatal(err)
	}
	fmt.Print(markdown(res))
}

// pipeline is one run's broker, producer, sink and (with maintenance)
// maintainer, each a stocklake process with its own folder and port.
type pipeline struct {
	dir              string
	run              Run
	lakeDir, catPath string
	procs            []*exec.Cmd
	prod, snk, mnt   *exec.Cmd
	produceStart     time.Time
}

func (p *pipeline) name() string {
	return fmt.Sprintf("%s, maintain %v", p.run.Format, p.run.Maintain)
}

func (p *pipeline) lake() string    { return "file://" + p.lakeDir }
func (p *pipeline) catalog() string { return "sqlite://" + p.catPath }

func (p *pipeline) maintainArgs() []string {
	return []string{"maintain", "--lake", p.lake(), "--catalog", p.catalog(), "--min-age", minAge.String(), "--grace", "1m", "--retain-snapshots", "10m", "--orphan-age", "1h"}
}

func (p *pipeline) start(name string, args ...string) (*exec.Cmd, error) {
	f, err := os.Create(filepath.Join(p.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	c := exec.Command(*bin, args...)
	c.Stdout, c.Stderr = f, f
	if err := c.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p.procs = append(p.procs, c)
	return c, nil
}

// stop stops c with SIGTERM, killing it after two minutes.
func stop(c *exec.Cmd) {
	if c == nil || c.ProcessState != nil {
		return
	}
	c.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		c.Process.Kill()
		<-done
	}
}

// kill kills whatever of the pipeline still runs.
func (p *pipeline) kill() {
	for _, c := range p.procs {
		if c.ProcessState == nil {
			c.Process.Kill()
			c.Wait()
		}
	}
}

// launch starts the broker and waits for it, then the producer, the sink
// and the maintainer.
func (p *pipeline) launch() error {
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	p.lakeDir, p.catPath = filepath.Join(p.dir, "lake"), filepath.Join(p.dir, "catalog.db")
	brokers, err := measure.FreeAddr()
	if err != nil {
		return err
	}
	if _, err := p.start("broker", "broker", "--listen", brokers, "--data", filepath.Join(p.dir, "kafka")); err != nil {
		return err
	}
	if err := measure.WaitPort(brokers); err != nil {
		return fmt.Errorf("broker on %s did not start (see %s): %w", brokers, filepath.Join(p.dir, "broker.log"), err)
	}
	log.Printf("%s: ingesting %d ticks/s for %.1f minutes in %s (broker %s)", p.name(), *rate, *minutes, p.dir, brokers)
	p.produceStart = time.Now()
	if p.prod, err = p.start("produce", "produce", "--brokers", brokers, "--source", "sim", "--rate", strconv.Itoa(*rate), "--speed", strconv.FormatFloat(*speed, 'g', -1, 64)); err != nil {
		return err
	}
	sinkArgs := []string{"sink", "--brokers", brokers, "--topic", "ticks", "--lake", p.lake(), "--catalog", p.catalog(), "--flush-interval", "1s"}
	if p.run.Format == "iceberg" {
		sinkArgs = append(sinkArgs, "--table-format", "iceberg")
	} else {
		sinkArgs = append(sinkArgs, "--table-format", "hive", "--partition-by", *hiveParts)
	}
	if p.snk, err = p.start("sink", sinkArgs...); err != nil {
		return err
	}
	if p.run.Maintain {
		if p.mnt, err = p.start("maintain", append(p.maintainArgs(), "--every", every.String())...); err != nil {
			return err
		}
	}
	return nil
}

var (
	producedRe  = regexp.MustCompile(`produce finished.* records=(\d+)`)
	sinkBytesRe = regexp.MustCompile(`msg="sink stopped".* bytes=(\d+)`)
	compactedRe = regexp.MustCompile(`msg="partition compacted".*? bytes=(\d+)`)
)

// rewrittenBytes sums the input bytes of the compactions a maintain log
// records.
func rewrittenBytes(logText []byte) int64 {
	var n int64
	for _, m := range compactedRe.FindAllSubmatch(logText, -1) {
		b, _ := strconv.ParseInt(string(m[1]), 10, 64)
		n += b
	}
	return n
}

// stopProducing stops the producer and reads from its log how many
// records the broker acknowledged.
func (p *pipeline) stopProducing() {
	ingest := time.Since(p.produceStart)
	stop(p.prod)
	p.run.IngestSeconds = ingest.Seconds()
	p.run.Expected = int64(float64(*rate) * ingest.Seconds())
	b, _ := os.ReadFile(filepath.Join(p.dir, "produce.log"))
	if m := producedRe.FindAllSubmatch(b, -1); len(m) > 0 {
		p.run.Produced, _ = strconv.ParseInt(string(m[len(m)-1][1]), 10, 64)
	} else {
		log.Printf("%s: no record count in %s", p.name(), filepath.Join(p.dir, "produce.log"))
	}
}

// drain waits (at most five minutes) until the table holds every record
// produced, then stops the sink and the maintainer and counts the rows.
func (p *pipeline) drain() error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		files, err := readerFiles(p.run.Format, p.lakeDir, p.catPath)
		if err != nil {
			return err
		}
		n, err := countRows(p.lakeDir, files)
		if err != nil {
			return err
		}
		if n >= p.run.Produced || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	p.run.SinkPeakMiB, p.run.MaintainPeakMiB = peakMiB(p.snk), peakMiB(p.mnt)
	stop(p.snk)
	stop(p.mnt)
	b, _ := os.ReadFile(filepath.Join(p.dir, "sink.log"))
	if m := sinkBytesRe.FindAllSubmatch(b, -1); len(m) > 0 {
		p.run.SinkBytes, _ = strconv.ParseInt(string(m[len(m)-1][1]), 10, 64)
	} else {
		log.Printf("%s: no byte count in %s", p.name(), filepath.Join(p.dir, "sink.log"))
	}
	if p.run.Maintain {
		b, _ := os.ReadFile(filepath.Join(p.dir, "maintain.log"))
		p.run.RewrittenBytes = rewrittenBytes(b)
	}
	files, err := readerFiles(p.run.Format, p.lakeDir, p.catPath)
	if err != nil {
		return err
	}
	if p.run.Landed, err = countRows(p.lakeDir, files); err != nil {
		return err
	}
	log.Printf("%s: produced %d of %d expected ticks (%.0f/s, %.1f%% of -rate), %d rows in the table; peak memory: sink %.0f MiB, maintain %.0f MiB",
		p.name(), p.run.Produced, p.run.Expected, float64(p.run.Produced)/p.run.IngestSeconds, 100*float64(p.run.Produced)/float64(max(p.run.Expected, 1)), p.run.Landed, p.run.SinkPeakMiB, p.run.MaintainPeakMiB)
	return nil
}

// peakMiB reads c's peak resident memory from /proc (0 when it cannot).
func peakMiB(c *exec.Cmd) float64 {
	if c == nil || c.Process == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Process.Pid))
	if err != nil {
		return 0
	}
	var kb float64
	if m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b); m != nil {
		kb, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	return kb / 1024
}

// ingest runs pipes at once for -minutes, sampling each in turn on one
// clock every -sample, then stops the producers and waits for the sinks
// to land what was produced.
func ingest(pipes []*pipeline) error {
	for _, p := range pipes {
		if err := p.launch(); err != nil {
			return fmt.Errorf("%s: %w", p.name(), err)
		}
	}
	t0 := time.Now()
	end := t0.Add(time.Duration(*minutes * float64(time.Minute)))
	for next := t0.Add(*sample); !next.After(end.Add(time.Second)); next = next.Add(*sample) {
		time.Sleep(time.Until(next))
		for _, p := range pipes {
			if err := p.failed(); err != nil {
				return err
			}
			s, err := measureLake(p.run.Format, p.lakeDir, p.catPath)
			if err != nil {
				log.Printf("%s: sample: %v", p.name(), err)
				continue
			}
			s.Minute = time.Since(t0).Minutes()
			p.run.Samples = append(p.run.Samples, s)
			log.Printf("%-24s %5.1f min: %6d files, %8.1f ms (CPU %8.1f ms), %d rows", p.name(), s.Minute, s.Files, s.QueryMS, s.QueryCPUMS, s.Rows)
		}
	}
	for _, p := range pipes {
		p.stopProducing()
	}
	for _, p := range pipes {
		if err := p.drain(); err != nil {
			return fmt.Errorf("%s: %w", p.name(), err)
		}
	}
	// The brokers go too: the final comparisons want a quiet machine.
	for _, p := range pipes {
		for _, c := range p.procs {
			stop(c)
		}
	}
	return nil
}

// failed reports a process of the pipeline that exited early.
func (p *pipeline) failed() error {
	for _, c := range p.procs {
		if c.ProcessState != nil {
			return fmt.Errorf("%s: %s exited: %s (see the logs in %s)", p.name(), c.Args[1], c.ProcessState, p.dir)
		}
	}
	return nil
}

// final makes a last maintain pass with no age limit (undoing at once a
// compaction the stopped maintainer left pending), then writes the same
// rows as one file per partition and times the query over both (best of
// three fresh DuckDBs each, alternating). When Hive partitions were left
// uncompacted it times the compacted partitions alone too.
func (p *pipeline) final() error {
	args := p.maintainArgs()
	b, err := exec.Command(*bin, append(args, "--min-age", "1ns", "--grace", "0", "--stale-after", "1ns")...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("final maintain: %v\n%s", err, b)
	}
	p.run.FinalRewrittenBytes = rewrittenBytes(b)
	files, err := readerFiles(p.run.Format, p.lakeDir, p.catPath)
	if err != nil {
		return err
	}
	one := filepath.Join(p.dir, "one-file-per-partition")
	oneFiles, err := onePerPartition(files, filepath.Join(p.dir, "lake"), one)
	if err != nil {
		return err
	}
	var all, allOne, merged, mergedOne []string
	open := map[string]bool{}
	for _, f := range files {
		part := partitionOf(f.Key)
		path := filepath.Join(p.lakeDir, f.Key)
		all = append(all, path)
		if p.run.Format == "hive" && !strings.Contains(f.Key, "/"+stocklake.CompactedFolder+"/") {
			open[part] = true
			p.run.OpenFiles++
		}
	}
	for _, f := range files {
		if part := partitionOf(f.Key); !open[part] {
			merged = append(merged, filepath.Join(p.lakeDir, f.Key))
		}
	}
	for part, f := range oneFiles {
		allOne = append(allOne, f)
		if !open[part] {
			mergedOne = append(mergedOne, f)
		}
	}
	p.run.FinalFiles, p.run.OneFileFiles, p.run.OpenPartitions = len(files), len(oneFiles), len(open)
	if p.run.Final, err = bestOf3(all, allOne); err != nil {
		return err
	}
	log.Printf("%s: final: %s", p.name(), p.run.Final)
	if len(open) > 0 && len(mergedOne) > 0 {
		if p.run.Compacted, err = bestOf3(merged, mergedOne); err != nil {
			return err
		}
		log.Printf("%s: %d partitions (%d files) left open; the %d compacted partitions alone: %s", p.name(), len(open), p.run.OpenFiles, len(mergedOne), p.run.Compacted)
	}
	return nil
}

// compare is the query's time over the lake's files and over one file per
// partition: the best of three runs each, wall and CPU time.
type compare struct {
	MS       float64 `json:"query_ms"`
	CPUMS    float64 `json:"query_cpu_ms"`
	OneMS    float64 `json:"one_file_query_ms"`
	OneCPUMS float64 `json:"one_file_query_cpu_ms"`
	Ratio    float64 `json:"ratio"`
	CPURatio float64 `json:"cpu_ratio"`
	Files    int     `json:"files"`
	OneFiles int     `json:"one_files"`
}

// bestOf3 times the query over lake and over one three times each,
// alternating, and returns the best times.
func bestOf3(lake, one []string) (*compare, error) {
	c := &compare{Files: len(lake), OneFiles: len(one)}
	best := func(v *float64, x float64) {
		if *v == 0 || x < *v {
			*v = x
		}
	}
	for range 3 {
		ms, cpu, _, err := timeQuery(lake)
		if err != nil {
			return nil, err
		}
		best(&c.MS, ms)
		best(&c.CPUMS, cpu)
		if ms, cpu, _, err = timeQuery(one); err != nil {
			return nil, err
		}
		best(&c.OneMS, ms)
		best(&c.OneCPUMS, cpu)
	}
	c.Ratio, c.CPURatio = c.MS/max(c.OneMS, 0.001), c.CPUMS/max(c.OneCPUMS, 0.001)
	return c, nil
}

func (c *compare) String() string {
	return fmt.Sprintf("%d files %.1f ms (CPU %.1f ms); one file per partition: %d files %.1f ms (CPU %.1f ms): %.2fx (CPU %.2fx)",
		c.Files, c.MS, c.CPUMS, c.OneFiles, c.OneMS, c.OneCPUMS, c.Ratio, c.CPURatio)
}

// countRows counts the rows of files from their footers.
func countRows(lakeDir string, files []stocklake.ObjectInfo) (int64, error) {
	if len(files) == 0 {
		return 0, nil
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = filepath.Join(lakeDir, f.Key)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n sql.NullInt64
	err = db.QueryRow(fmt.Sprintf("SELECT sum(num_rows) FROM (SELECT DISTINCT file_name, num_rows FROM parquet_file_metadata(%s))", sqlList(paths))).Scan(&n)
	return n.Int64, err
}

// readerFiles lists the data files a reader of the table opens now: the
// Iceberg table's current snapshot, or the Hive table's files in its
// catalog partitions' locations.
func readerFiles(format, lakeDir, catPath string) ([]stocklake.ObjectInfo, error) {
	ctx := context.Background()
	store, err := file.New(lakeDir)
	if err != nil {
		return nil, err
	}
	base := store.URL() + "/"
	var out []stocklake.ObjectInfo
	if format == "iceberg" {
		c, err := iceberg.Open(ctx, iceberg.Config{SQLitePath: catPath, Warehouse: store.URL()})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		t, err := c.OpenTable(ctx, stocklake.DefaultDatabase, "ticks")
		if err != nil {
			return nil, err
		}
		fs, err := t.DataFiles(ctx)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			out = append(out, stocklake.ObjectInfo{Key: strings.TrimPrefix(f.URL, base), Size: f.Size})
		}
		return out, nil
	}
	cat, err := sqlite.Open(catPath)
	if err != nil {
		return nil, err
	}
	defer cat.Close()
	parts, err := cat.ListPartitions(ctx, stocklake.DefaultDatabase, "ticks")
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		folder := strings.TrimSuffix(strings.TrimPrefix(p.Location, base), "/") + "/"
		objs, err := store.List(ctx, folder)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			rest := strings.TrimPrefix(o.Key, folder)
			if o.Size > 0 && !strings.Contains(rest, "/") && strings.HasSuffix(rest, ".parquet") && !strings.HasPrefix(rest, "_") && !strings.HasPrefix(rest, ".") {
				out = append(out, o)
			}
		}
	}
	return out, nil
}

func measureLake(format, lakeDir, catPath string) (Sample, error) {
	files, err := readerFiles(format, lakeDir, catPath)
	if err != nil {
		return Sample{}, err
	}
	s := Sample{Files: len(files)}
	paths := make([]string, len(files))
	for i, f := range files {
		s.Bytes += f.Size
		paths[i] = filepath.Join(lakeDir, f.Key)
	}
	s.QueryMS, s.QueryCPUMS, s.Rows, err = timeQuery(paths)
	return s, err
}

// timeQuery runs the fixed query over paths in a fresh DuckDB (no cache
// from an earlier sample) and returns its wall and CPU time (this
// process's, where DuckDB runs: nothing else in it works meanwhile) and
// the rows it counted.
func timeQuery(paths []string) (wallMS, cpuMS float64, rows int64, err error) {
	if len(paths) == 0 {
		return 0, 0, 0, nil
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return 0, 0, 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("SET TimeZone = 'UTC'"); err != nil {
		return 0, 0, 0, err
	}
	cpu0 := cpuTime()
	t0 := time.Now()
	rs, err := db.Query(fmt.Sprintf(query, sqlList(paths)))
	if err != nil {
		return 0, 0, 0, err
	}
	for rs.Next() {
		var sym string
		var trades int64
		var vwap float64
		var last time.Time
		if err := rs.Scan(&sym, &trades, &vwap, &last); err != nil {
			rs.Close()
			return 0, 0, 0, err
		}
		rows += trades
	}
	rs.Close()
	wall := time.Since(t0)
	return float64(wall.Microseconds()) / 1000, float64((cpuTime() - cpu0).Microseconds()) / 1000, rows, rs.Err()
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var r syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

func sqlList(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = "'" + strings.ReplaceAll(p, "'", "''") + "'"
	}
	return "[" + strings.Join(q, ",") + "]"
}

var partRe = regexp.MustCompile(`/((?:[a-z_]+=[^/]+/)+)[^/]+$`)

// partitionOf names the partition of a data file from the key=value
// folders above it ("all" for none).
func partitionOf(key string) string {
	if m := partRe.FindStringSubmatch("/" + key); m != nil {
		return strings.NewReplacer("/", "_", "=", "-").Replace(strings.TrimSuffix(m[1], "/"))
	}
	return "all"
}

// onePerPartition writes the rows of files (keys under lakeDir) as one
// file per partition (sorted by symbol, ts) under dir and returns each
// partition's file.
func onePerPartition(files []stocklake.ObjectInfo, lakeDir, dir string) (map[string]string, error) {
	byPart := map[string][]string{}
	for _, f := range files {
		p := partitionOf(f.Key)
		byPart[p] = append(byPart[p], filepath.Join(lakeDir, f.Key))
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	out := map[string]string{}
	for p, paths := range byPart {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			return nil, err
		}
		out[p] = filepath.Join(dir, p, "data.parquet")
		q := fmt.Sprintf("COPY (SELECT * FROM read_parquet(%s, hive_partitioning = false) ORDER BY symbol, ts) TO '%s' (FORMAT parquet, COMPRESSION zstd)",
			sqlList(paths), out[p])
		if _, err := db.Exec(q); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// markdown is the RESULTS.md section.
func markdown(res Results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Compaction and maintenance\n\n")
	fmt.Fprintf(&b, "`go run ./bench/compaction -rate %d -minutes %g -speed %g -sample %s -every %s -min-age %s -parallel=%v` (%s): simulated ticks at %d/s through an embedded broker, `stocklake sink --flush-interval 1s` (Hive runs partitioned by %s: a Hive partition is compacted once its time range has ended), with and without `stocklake maintain --every %s --min-age %s`. Every %s: the data files a reader opens (Iceberg: the current snapshot; Hive: the catalog partitions' locations) and the time of a VWAP-per-symbol query over exactly those files in a fresh DuckDB.\n\n",
		res.Rate, res.Minutes, res.Speed, *sample, res.Every, *minAge, res.Parallel, res.Date.Format("2006-01-02 15:04 UTC"), res.Rate, res.Hive, res.Every, *minAge, *sample)
	if res.Parallel {
		fmt.Fprintf(&b, "The %d runs ingested **concurrently** on one machine (%d CPUs), each with its own broker, producer, sink and maintainer, sampled in turn on one clock: their query times during ingest share the CPU with the other runs' ingest and are comparable with each other, not with a run alone. The final comparison below ran after all ingest had stopped, one run at a time.\n\n", len(res.Runs), runtime.NumCPU())
	}
	fmt.Fprintf(&b, "![file count and query time per minute](compaction.png)\n\n")
	fmt.Fprintf(&b, "The query reads the whole table, which grows by %.1f million rows a minute, so its time grows with the data in every run; the fourth panel divides its CPU time by the rows it read, which shows what the layout costs per row.\n\n", float64(res.Rate)*60/1e6)
	fmt.Fprintf(&b, "What the producer achieved (expected: -rate times the seconds it ran; produced: acknowledged by the broker; landed: rows in the table after the sink caught up), and the peak memory of the sink and the maintainer:\n\n| format | maintain | seconds | expected | produced | produced/s | of -rate | landed | sink MiB | maintain MiB |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range res.Runs {
		fmt.Fprintf(&b, "| %s | %v | %.0f | %d | %d | %.0f | %.1f%% | %d | %.0f | %.0f |\n", r.Format, r.Maintain, r.IngestSeconds, r.Expected, r.Produced, float64(r.Produced)/max(r.IngestSeconds, 1), 100*float64(r.Produced)/float64(max(r.Expected, 1)), r.Landed, r.SinkPeakMiB, r.MaintainPeakMiB)
	}
	fmt.Fprintf(&b, "\nWrite amplification of compaction: the bytes of the files `maintain` merged (inputs), during ingest and in the last pass, against the bytes the sink wrote:\n\n| format | sink wrote MiB | merged during ingest MiB | x the data | last pass MiB | x the data in all |\n|---|---|---|---|---|---|\n")
	for _, r := range res.Runs {
		if r.Maintain && r.SinkBytes > 0 {
			d := float64(r.SinkBytes)
			fmt.Fprintf(&b, "| %s | %.1f | %.1f | %.2f | %.1f | %.2f |\n", r.Format, d/(1<<20), float64(r.RewrittenBytes)/(1<<20), float64(r.RewrittenBytes)/d,
				float64(r.FinalRewrittenBytes)/(1<<20), float64(r.RewrittenBytes+r.FinalRewrittenBytes)/d)
		}
	}
	fmt.Fprintf(&b, "\n| format | maintain | minute | files | MiB | query ms | CPU ms | rows |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range res.Runs {
		for _, s := range r.Samples {
			fmt.Fprintf(&b, "| %s | %v | %.1f | %d | %.1f | %.1f | %.1f | %d |\n", r.Format, r.Maintain, s.Minute, s.Files, float64(s.Bytes)/(1<<20), s.QueryMS, s.QueryCPUMS, s.Rows)
		}
	}
	fmt.Fprintf(&b, "\nAfter all ingest had stopped, per run with maintenance, one run at a time: a last `maintain --min-age 1ns --stale-after 1ns` pass, then the same rows written as one file per partition (DuckDB COPY, sorted by symbol, ts). Query times are the best of three fresh DuckDBs each, wall clock and CPU (the CPU time is the steadier figure when the machine is not quiet). A Hive partition holding a Kafka partition's last sink batch stays open to the sink and is not compacted; where there is one, the second row compares the compacted partitions alone:\n\n")
	fmt.Fprintf(&b, "| format | files read | after the last pass: files | ms | CPU ms | one file per partition: files | ms | CPU ms | ratio | CPU ratio |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range res.Runs {
		if r.Final != nil {
			c := r.Final
			fmt.Fprintf(&b, "| %s | all (%d partitions left open, %d files) | %d | %.1f | %.1f | %d | %.1f | %.1f | %.2fx | %.2fx |\n", r.Format, r.OpenPartitions, r.OpenFiles, c.Files, c.MS, c.CPUMS, c.OneFiles, c.OneMS, c.OneCPUMS, c.Ratio, c.CPURatio)
		}
		if c := r.Compacted; c != nil {
			fmt.Fprintf(&b, "| %s | compacted partitions | %d | %.1f | %.1f | %d | %.1f | %.1f | %.2fx | %.2fx |\n", r.Format, c.Files, c.MS, c.CPUMS, c.OneFiles, c.OneMS, c.OneCPUMS, c.Ratio, c.CPURatio)
		}
	}
	return b.String()
}

const (
	beginMark = "<!-- bench/compaction: begin -->"
	endMark   = "<!-- bench/compaction: end -->"
)

// writeSection replaces the compaction section of path (between the
// markers), or appends it.
func writeSection(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	block := beginMark + "\n" + section + endMark + "\n"
	if i, j := strings.Index(s, beginMark), strings.Index(s, endMark); i >= 0 && j > i {
		s = s[:i] + block + s[j+len(endMark):]
		s = strings.Replace(s, endMark+"\n\n", endMark+"\n", 1)
	} else {
		if s != "" && !strings.HasSuffix(s, "\n\n") {
			s += "\n"
		}
		s += block
	}
	return os.WriteFile(path, []byte(s), 0o644)
}
