// Command compaction measures what maintenance does for a lake fed with
// 1-second commits (issue 17): for each table format (hive, iceberg) it
// runs the pipeline twice, without and with `stocklake maintain --every
// 1m`, ingesting simulated ticks at -rate for -minutes, and samples every
// -sample the number of data files a reader opens and the time of a fixed
// query over them (DuckDB over exactly those files). At the end of the run
// with maintenance it makes a last pass with no age limit and compares the
// query with the same rows written as one file per partition.
//
//	go run ./bench/compaction [-rate 20000] [-minutes 30] [-formats hive,iceberg] [-out bench]
//
// It writes OUT/compaction.json (every sample), OUT/compaction.png (file
// count and query time over time; needs matplotlib, see scripts/pyenv) and
// the section between the compaction markers of OUT/RESULTS.md. Not run in
// CI: the full run takes 4 x -minutes plus the final passes.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/sqlite"
)

// query is the fixed query: a VWAP per symbol over the whole table.
const query = "SELECT symbol, count(*) AS trades, sum(price * size) / sum(size) AS vwap, max(ts) AS last FROM read_parquet(%s) GROUP BY symbol ORDER BY symbol"

// Sample is one measurement.
type Sample struct {
	Minute  float64 `json:"minute"`
	Files   int     `json:"files"`
	Bytes   int64   `json:"bytes"`
	QueryMS float64 `json:"query_ms"`
	Rows    int64   `json:"rows"`
}

// Run is one pipeline run.
type Run struct {
	Format   string   `json:"format"`
	Maintain bool     `json:"maintain"`
	Samples  []Sample `json:"samples"`
	// After the run with maintenance: the query after a last pass, and
	// over the same rows as one file per partition.
	FinalFiles    int     `json:"final_files,omitempty"`
	FinalQueryMS  float64 `json:"final_query_ms,omitempty"`
	OneFileFiles  int     `json:"one_file_files,omitempty"`
	OneFileMS     float64 `json:"one_file_query_ms,omitempty"`
	FinalVsOneMin float64 `json:"final_vs_one_file,omitempty"`
}

// Results is compaction.json.
type Results struct {
	Date    time.Time `json:"date"`
	Rate    int       `json:"rate"`
	Minutes float64   `json:"minutes"`
	Hive    string    `json:"hive_partitioning"`
	Speed   float64   `json:"speed"`
	Every   string    `json:"maintain_every"`
	Runs    []Run     `json:"runs"`
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
	if *bin == "" {
		*bin = filepath.Join(w, "stocklake")
		if out, err := exec.Command("go", "build", "-o", *bin, "./cmd/stocklake").CombinedOutput(); err != nil {
			log.Fatalf("go build: %v\n%s", err, out)
		}
	}
	res := Results{Date: time.Now().UTC(), Rate: *rate, Minutes: *minutes, Hive: *hiveParts, Speed: *speed, Every: every.String()}
	for _, f := range strings.Split(*formats, ",") {
		for _, m := range []bool{false, true} {
			r, err := run(filepath.Join(w, fmt.Sprintf("%s-%v", f, m)), f, m)
			if err != nil {
				log.Fatalf("%s (maintain %v): %v", f, m, err)
			}
			res.Runs = append(res.Runs, r)
		}
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

// run runs the pipeline once in dir.
func run(dir, format string, maintain bool) (Run, error) {
	r := Run{Format: format, Maintain: maintain}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	lakeDir, catPath := filepath.Join(dir, "lake"), filepath.Join(dir, "catalog.db")
	lake, cat := "file://"+lakeDir, "sqlite://"+catPath
	port := freePort()
	brokers := "127.0.0.1:" + strconv.Itoa(port)
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
	}()
	start := func(name string, args ...string) *exec.Cmd {
		f, _ := os.Create(filepath.Join(dir, name+".log"))
		c := exec.Command(*bin, args...)
		c.Stdout, c.Stderr = f, f
		if err := c.Start(); err != nil {
			log.Fatalf("%s: %v", name, err)
		}
		procs = append(procs, c)
		return c
	}
	stop := func(c *exec.Cmd) {
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
	start("broker", "broker", "--listen", brokers, "--data", filepath.Join(dir, "kafka"))
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", brokers); err == nil {
			c.Close()
			break
		}
		if i > 200 {
			return r, fmt.Errorf("broker on %s did not start", brokers)
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Printf("%s, maintain %v: ingesting %d ticks/s for %.1f minutes in %s", format, maintain, *rate, *minutes, dir)
	prod := start("produce", "produce", "--brokers", brokers, "--source", "sim", "--rate", strconv.Itoa(*rate), "--speed", strconv.FormatFloat(*speed, 'g', -1, 64))
	sinkArgs := []string{"sink", "--brokers", brokers, "--topic", "ticks", "--lake", lake, "--catalog", cat, "--flush-interval", "1s"}
	if format == "iceberg" {
		sinkArgs = append(sinkArgs, "--table-format", "iceberg")
	} else {
		sinkArgs = append(sinkArgs, "--partition-by", *hiveParts)
	}
	snk := start("sink", sinkArgs...)
	var mnt *exec.Cmd
	maintainArgs := []string{"maintain", "--lake", lake, "--catalog", cat, "--min-age", minAge.String(), "--grace", "1m", "--retain-snapshots", "10m", "--orphan-age", "1h"}
	if maintain {
		mnt = start("maintain", append(maintainArgs, "--every", every.String())...)
	}
	t0 := time.Now()
	end := t0.Add(time.Duration(*minutes * float64(time.Minute)))
	for next := t0.Add(*sample); ; next = next.Add(*sample) {
		if next.After(end.Add(time.Second)) {
			break
		}
		time.Sleep(time.Until(next))
		s, err := measure(format, lakeDir, catPath)
		if err != nil {
			log.Printf("sample: %v", err)
			continue
		}
		s.Minute = time.Since(t0).Minutes()
		r.Samples = append(r.Samples, s)
		log.Printf("  %5.1f min: %6d files, %8.1f ms, %d rows", s.Minute, s.Files, s.QueryMS, s.Rows)
	}
	stop(prod)
	time.Sleep(5 * time.Second) // the sink lands what was produced
	stop(snk)
	if mnt != nil {
		stop(mnt)
	}
	if !maintain {
		return r, nil
	}
	// A last pass with no age limit, then the same rows as one file per
	// partition.
	if b, err := exec.Command(*bin, append(maintainArgs[:len(maintainArgs):len(maintainArgs)], "--min-age", "1ns", "--grace", "0")...).CombinedOutput(); err != nil {
		return r, fmt.Errorf("final maintain: %v\n%s", err, b)
	}
	s, err := measure(format, lakeDir, catPath)
	if err != nil {
		return r, err
	}
	r.FinalFiles, r.FinalQueryMS = s.Files, s.QueryMS
	files, err := readerFiles(format, lakeDir, catPath)
	if err != nil {
		return r, err
	}
	one := filepath.Join(dir, "one-file-per-partition")
	n, err := onePerPartition(files, one)
	if err != nil {
		return r, err
	}
	oneFiles, _ := filepath.Glob(filepath.Join(one, "*", "*.parquet"))
	ms, _, err := timeQuery(oneFiles)
	if err != nil {
		return r, err
	}
	r.OneFileFiles, r.OneFileMS = n, ms
	if ms > 0 {
		r.FinalVsOneMin = r.FinalQueryMS / ms
	}
	log.Printf("  final: %d files %.1f ms; one file per partition: %d files %.1f ms", r.FinalFiles, r.FinalQueryMS, n, ms)
	return r, nil
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

func measure(format, lakeDir, catPath string) (Sample, error) {
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
	s.QueryMS, s.Rows, err = timeQuery(paths)
	return s, err
}

// timeQuery runs the fixed query over paths in a fresh DuckDB (no cache
// from an earlier sample) and returns its time and the rows it counted.
func timeQuery(paths []string) (float64, int64, error) {
	if len(paths) == 0 {
		return 0, 0, nil
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("SET TimeZone = 'UTC'"); err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	rows, err := db.Query(fmt.Sprintf(query, sqlList(paths)))
	if err != nil {
		return 0, 0, err
	}
	var n int64
	for rows.Next() {
		var sym string
		var trades int64
		var vwap float64
		var last time.Time
		if err := rows.Scan(&sym, &trades, &vwap, &last); err != nil {
			rows.Close()
			return 0, 0, err
		}
		n += trades
	}
	rows.Close()
	return float64(time.Since(t0).Microseconds()) / 1000, n, rows.Err()
}

func sqlList(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = "'" + strings.ReplaceAll(p, "'", "''") + "'"
	}
	return "[" + strings.Join(q, ",") + "]"
}

var partRe = regexp.MustCompile(`/((?:[a-z_]+=[^/]+/)+)[^/]+$`)

// onePerPartition writes the rows of files as one file per partition
// folder (sorted by symbol, ts) under dir and returns how many.
func onePerPartition(files []stocklake.ObjectInfo, dir string) (int, error) {
	byPart := map[string][]string{}
	for _, f := range files {
		p := "all"
		if m := partRe.FindStringSubmatch("/" + f.Key); m != nil {
			p = strings.NewReplacer("/", "_", "=", "-").Replace(strings.TrimSuffix(m[1], "/"))
		}
		byPart[p] = append(byPart[p], f.Key)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	db.Exec("SET threads = 1")
	for p, keys := range byPart {
		paths := make([]string, len(keys))
		for i, k := range keys {
			paths[i] = filepath.Join(filepath.Dir(dir), "lake", k)
		}
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			return 0, err
		}
		q := fmt.Sprintf("COPY (SELECT * FROM read_parquet(%s) ORDER BY symbol, ts) TO '%s' (FORMAT parquet, COMPRESSION zstd)",
			sqlList(paths), filepath.Join(dir, p, "data.parquet"))
		if _, err := db.Exec(q); err != nil {
			return 0, err
		}
	}
	return len(byPart), nil
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// markdown is the RESULTS.md section.
func markdown(res Results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Compaction and maintenance\n\n")
	fmt.Fprintf(&b, "`go run ./bench/compaction -rate %d -minutes %g -speed %g` (%s): simulated ticks at %d/s through the embedded broker, `stocklake sink --flush-interval 1s` (Hive runs partitioned by %s: a Hive partition is compacted once its time range has ended), with and without `stocklake maintain --every %s --min-age %s`. Every %s: the data files a reader opens (Iceberg: the current snapshot; Hive: the catalog partitions' locations) and the time of a VWAP-per-symbol query over exactly those files in a fresh DuckDB.\n\n",
		res.Rate, res.Minutes, res.Speed, res.Date.Format("2006-01-02 15:04 UTC"), res.Rate, res.Hive, *every, *minAge, *sample)
	fmt.Fprintf(&b, "![file count and query time per minute](compaction.png)\n\n")
	fmt.Fprintf(&b, "| format | maintain | minute | files | MiB | query ms | rows |\n|---|---|---|---|---|---|---|\n")
	for _, r := range res.Runs {
		for _, s := range r.Samples {
			fmt.Fprintf(&b, "| %s | %v | %.1f | %d | %.1f | %.1f | %d |\n", r.Format, r.Maintain, s.Minute, s.Files, float64(s.Bytes)/(1<<20), s.QueryMS, s.Rows)
		}
	}
	fmt.Fprintf(&b, "\nAfter the run with maintenance, a last `maintain --min-age 1ns` pass, then the same rows written as one file per partition (DuckDB COPY, sorted by symbol, ts):\n\n| format | files after the last pass | query ms | one file per partition: files | query ms | ratio |\n|---|---|---|---|---|---|\n")
	for _, r := range res.Runs {
		if r.Maintain {
			fmt.Fprintf(&b, "| %s | %d | %.1f | %d | %.1f | %.2fx |\n", r.Format, r.FinalFiles, r.FinalQueryMS, r.OneFileFiles, r.OneFileMS, r.FinalVsOneMin)
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
