// Command peers measures the stocklake sink beside a peer on the same
// ticks: Benthos v4.27.0 (MIT) running kafka_franz → parquet_encode → file.
//
//	go run ./bench/peers [-ticks 1000000] [-bin BIN] [-benthos BIN] [-json FILE]
//
// It builds the stocklake binary (unless -bin names one) and Benthos (unless
// -benthos names one): a small Benthos, a main package importing only
// public/components/{io,kafka,prometheus,pure,pure/extended} and
// public/service of module github.com/benthosdev/benthos/v4@v4.27.0 from the
// Go module proxy, built with -ldflags=-checklinkname=0 once and cached as
// ~/.cache/stocklake/benthos-v4.27.0/benthos (about 40 s and 57 MB).
//
// It starts `stocklake broker` (in memory) in its own process, fills topic
// "ticks" with -ticks simulated ticks as bench/sink.sh does (`stocklake
// produce --source sim --seed 1`), then lands the topic twice, each in a
// consumer group of its own, one after the other: with `stocklake sink`
// (default flags, a file:// lake) and with Benthos (batches of up to
// -benthos-batch records per partition or 5 s, parquet_encode with zstd,
// one file per batch). Each runs as its own process, so its CPU time
// (user+sys) and peak RSS are the kernel's accounting of that process. The
// time to the last record is, for Benthos, when its parquet_encode had
// received -ticks records and its output had written every file it made
// (its Prometheus metrics, polled every 50 ms; it fails if a record failed
// a processor, as parquet_encode's failures pass records on unencoded; it is then stopped, as it never ends
// by itself; its last batch waits up to the 5 s batch period), for the sink
// the time to its last commit less its idle polls, from its exit log line
// (as bench/sink.sh reports it; it exits by itself, --exit-when-idle). Benthos's figures are only trusted if
// its output_batch_sent is far below the record count (batches really
// formed: a Benthos whose batches did not form writes a file per record);
// the command fails otherwise. Benthos gets a mapping that makes sizes and
// prices floats first (parquet_encode refuses a JSON integer for a DOUBLE
// column) and writes ts as INT64 (microseconds; its parquet_encode has no
// timestamp type).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stocklake/stocklake/bench/internal/measure"
)

// benthosVersion is the Benthos release measured.
const benthosVersion = "v4.27.0"

// benthosMain is the small Benthos: only the components the pipeline needs.
const benthosMain = `package main

import (
	"context"

	_ "github.com/benthosdev/benthos/v4/public/components/io"
	_ "github.com/benthosdev/benthos/v4/public/components/kafka"
	_ "github.com/benthosdev/benthos/v4/public/components/prometheus"
	_ "github.com/benthosdev/benthos/v4/public/components/pure"
	_ "github.com/benthosdev/benthos/v4/public/components/pure/extended"
	"github.com/benthosdev/benthos/v4/public/service"
)

func main() { service.RunCLI(context.Background()) }
`

// benthosConfig is the pipeline; %s are the HTTP address, the brokers, the
// batch size twice (checkpoint_limit must allow a whole batch in flight, or
// batches never fill) and the output directory.
const benthosConfig = `http:
  enabled: true
  address: %s
logger:
  level: WARN
metrics:
  prometheus: {}
input:
  kafka_franz:
    seed_brokers: [%s]
    topics: [ticks]
    consumer_group: bench-benthos
    start_from_oldest: true
    checkpoint_limit: %d
    batching:
      count: %d
      period: 5s
pipeline:
  processors:
    # Sizes and prices of whole numbers are JSON integers; parquet_encode
    # refuses an integer for a DOUBLE column.
    - mapping: |
        root = this
        root.price = this.price.number()
        root.size = this.size.number()
    - parquet_encode:
        default_compression: zstd
        schema:
          - {name: v, type: INT64, optional: true}
          - {name: symbol, type: UTF8}
          - {name: ts, type: INT64}
          - {name: price, type: DOUBLE}
          - {name: size, type: DOUBLE}
          - {name: exchange, type: UTF8, optional: true}
          - {name: trade_id, type: UTF8}
          - {name: conditions, type: UTF8, repeated: true}
          - {name: source, type: UTF8, optional: true}
output:
  file:
    path: '%s/${! uuid_v4() }.parquet'
    codec: all-bytes
`

// Benthos's metrics for the pipeline above (the mapping is processor 0,
// parquet_encode processor 1).
const (
	benthosMapErrors       = `processor_error{label="",path="root.pipeline.processors.0"}`
	benthosEncodeIn        = `processor_received{label="",path="root.pipeline.processors.1"}`
	benthosEncodeBatchesIn = `processor_batch_received{label="",path="root.pipeline.processors.1"}`
	benthosEncodeOut       = `processor_batch_sent{label="",path="root.pipeline.processors.1"}`
	benthosEncodeErrors    = `processor_error{label="",path="root.pipeline.processors.1"}`
	benthosSent            = `output_batch_sent{label="",path="root.output"}`
)

func main() {
	ticks := flag.Int("ticks", 1_000_000, "ticks to fill the topic with")
	binFlag := flag.String("bin", "", "stocklake binary (default: build ./cmd/stocklake)")
	benthosFlag := flag.String("benthos", "", "Benthos binary (default: build "+benthosVersion+" once, cached under ~/.cache/stocklake)")
	batch := flag.Int("benthos-batch", 100_000, "Benthos batch size per partition (records)")
	jsonOut := flag.String("json", "", "also write the figures as a JSON object to this file")
	flag.Parse()
	log.SetFlags(0)

	work, err := os.MkdirTemp("", "stocklake-bench-peers-")
	check(err)
	defer os.RemoveAll(work)
	bin, err := measure.Stocklake(*binFlag, work)
	check(err)
	benthos := *benthosFlag
	if benthos == "" {
		benthos, err = buildBenthos()
		check(err)
	}

	broker, brokers, err := measure.StartBroker(bin)
	check(err)
	defer broker.Process.Kill()
	start := time.Now()
	prod := exec.Command(bin, "produce", "--brokers", brokers, "--topic", "ticks", "--source", "sim", "--count", strconv.Itoa(*ticks), "--seed", "1", "--log-level", "warn")
	prod.Stderr = io.Discard
	check(prod.Run())
	log.Printf("filled topic ticks with %d ticks in %v", *ticks, time.Since(start).Round(time.Millisecond))

	n := float64(*ticks)
	maddr := freeAddr()
	log.Printf("stocklake sink...")
	sl := measureRun(exec.Command(bin, "sink", "--brokers", brokers, "--topic", "ticks", "--group", "bench-stocklake",
		"--lake", "file://"+filepath.Join(work, "lake"), "--table-format", "hive", "--exit-when-idle", "--metrics-addr", maddr, "--log-level", "info", "--log-format", "json"),
		maddr, "stocklake_sink_rows_total", func(addr string) bool {
			v, ok := measure.Metric(addr, "stocklake_sink_rows_total")
			return ok && v >= n
		}, n, false)
	sl["files"] = countFiles(filepath.Join(work, "lake"))

	out := filepath.Join(work, "benthos-out")
	check(os.MkdirAll(out, 0o755))
	baddr := freeAddr()
	cfg := filepath.Join(work, "benthos.yaml")
	check(os.WriteFile(cfg, fmt.Appendf(nil, benthosConfig, baddr, brokers, 2**batch, *batch, out), 0o644))
	log.Printf("benthos %s...", benthosVersion)
	bt := measureRun(exec.Command(benthos, "-c", cfg), baddr, "parquet_encode's received records", func(addr string) bool {
		// Every record reached parquet_encode, and every Parquet file it
		// made was written.
		// (Read in the order records flow: each counter is at most the
		// one before it.)
		in, ok1 := measure.Metric(addr, benthosEncodeIn)
		taken, ok2 := measure.Metric(addr, benthosEncodeBatchesIn)
		made, ok3 := measure.Metric(addr, benthosEncodeOut)
		sent, ok4 := measure.Metric(addr, benthosSent)
		return ok1 && ok2 && ok3 && ok4 && in >= n && taken == made && sent == made
	}, n, true)
	bt["files"] = countFiles(out)

	fmt.Printf("peers: %s ticks from one topic (stocklake broker, in memory), each landed as Parquet on local disk\n", measure.Commas(n))
	fmt.Printf("  %-26s%16s%18s%20s\n", "", "stocklake sink", "benthos "+benthosVersion, "stocklake/benthos")
	row := func(label, key string, f func(float64) string) {
		fmt.Printf("  %-26s%16s%18s%20.2f\n", label, f(sl[key].(float64)), f(bt[key].(float64)), sl[key].(float64)/bt[key].(float64))
	}
	commas := measure.Commas
	secs := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	row("records per CPU-second", "records_per_cpu_second", commas)
	row("records/s to last record", "records_per_second", commas)
	row("CPU seconds (user+sys)", "cpu_seconds", secs)
	row("seconds to last record", "seconds_to_last_record", secs)
	row("peak RSS (MiB)", "peak_rss_mib", commas)
	row("Parquet files", "files", commas)
	fmt.Printf("  benthos output_batch_sent %s for %s records (batches formed)\n", commas(bt["output_batch_sent"].(float64)), commas(n))
	res := map[string]any{"bench": "peers", "ticks": *ticks, "peer": "benthos " + benthosVersion,
		"cpu_ratio":  sl["records_per_cpu_second"].(float64) / bt["records_per_cpu_second"].(float64),
		"wall_ratio": sl["records_per_second"].(float64) / bt["records_per_second"].(float64),
		"rss_ratio":  sl["peak_rss_mib"].(float64) / bt["peak_rss_mib"].(float64)}
	for k, v := range sl {
		res["stocklake_"+k] = v
	}
	for k, v := range bt {
		res["benthos_"+k] = v
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		check(os.WriteFile(*jsonOut, append(b, '\n'), 0o644))
	}
}

// measureRun starts cmd, polls counter on addr every 50 ms until it reaches
// n, then (stop) sends SIGTERM, or (!stop) waits for the process to exit,
// and returns its figures.
func measureRun(cmd *exec.Cmd, addr, counter string, finished func(addr string) bool, n float64, stop bool) map[string]any {
	var stderr lastLines
	cmd.Stderr = &stderr
	t0 := time.Now()
	check(cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var last time.Duration
	var batches float64
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Minute)
wait:
	for {
		select {
		case err := <-done:
			if err != nil {
				log.Fatalf("%s: %v\n%s", cmd.Path, err, stderr)
			}
			break wait
		case <-deadline:
			cmd.Process.Kill()
			log.Fatalf("%s: %s did not reach %.0f in 30 minutes", cmd.Path, counter, n)
		case <-tick.C:
			if last > 0 {
				continue
			}
			if finished(addr) {
				last = time.Since(t0)
				if stop {
					batches, _ = measure.Metric(addr, benthosSent)
					perr, _ := measure.Metric(addr, benthosEncodeErrors)
					merr, _ := measure.Metric(addr, benthosMapErrors)
					cmd.Process.Signal(syscall.SIGTERM)
					if perr+merr > 0 {
						log.Fatalf("benthos: %.0f records failed its processors (they would be written as JSON, unencoded)", perr+merr)
					}
				}
			}
		}
	}
	if last == 0 && !stop {
		last = sinkLastCommit(stderr.String(), t0)
	}
	if last == 0 {
		log.Fatalf("%s exited before %s reached %.0f\n%s", cmd.Path, counter, n, stderr)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	r := map[string]any{
		"cpu_seconds": cpu, "records_per_cpu_second": n / cpu,
		"seconds_to_last_record": last.Seconds(), "records_per_second": n / last.Seconds(),
		"wall_seconds": time.Since(t0).Seconds(), "peak_rss_mib": float64(ru.Maxrss) / 1024,
	}
	if stop {
		r["output_batch_sent"] = batches
		// Batches formed if there are far fewer than records; a file per
		// record (FACTS: ~13k records per CPU-second) is not Benthos's figure.
		if batches == 0 || batches > n/100 {
			log.Fatalf("benthos output_batch_sent = %.0f for %.0f records: batches did not form, the figures would not be Benthos's", batches, n)
		}
	}
	return r
}

// sinkLastCommit returns the time from t0 to the sink's last commit less
// the idle polls before its final flush, from the line `stocklake sink
// --exit-when-idle` logs as it exits (as bench/sink.sh does); 0 if absent.
func sinkLastCommit(logs string, t0 time.Time) time.Duration {
	for _, line := range strings.Split(logs, "\n") {
		var rec struct {
			LastCommit time.Time `json:"last_commit"`
			IdleWait   float64   `json:"idle_wait"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && !rec.LastCommit.IsZero() {
			return rec.LastCommit.Sub(t0) - time.Duration(rec.IdleWait*float64(time.Second))
		}
	}
	return 0
}

// buildBenthos returns the cached Benthos binary, building it first if it
// is not there.
func buildBenthos() (string, error) {
	cache, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, ".cache", "stocklake", "benthos-"+benthosVersion)
	bin := filepath.Join(dir, "benthos")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	src, err := os.MkdirTemp("", "benthos-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(src)
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(benthosMain), 0o644); err != nil {
		return "", err
	}
	log.Printf("building Benthos %s from the Go module proxy into %s (once; about a minute)", benthosVersion, bin)
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	for _, args := range [][]string{
		{"mod", "init", "benthospeer"},
		{"get", "github.com/benthosdev/benthos/v4@" + benthosVersion},
		{"mod", "tidy"},
		{"build", "-ldflags=-checklinkname=0", "-o", bin + ".tmp", "."},
	} {
		c := exec.Command("go", args...)
		c.Dir, c.Env = src, env
		if err := run(c); err != nil {
			return "", fmt.Errorf("build Benthos %s: go %v: %w (needs the Go module proxy; or pass -benthos BIN)", benthosVersion, args, err)
		}
	}
	return bin, os.Rename(bin+".tmp", bin)
}

func run(c *exec.Cmd) error {
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	return c.Run()
}

func freeAddr() string {
	addr, err := measure.FreeAddr()
	check(err)
	return addr
}

func countFiles(dir string) float64 {
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".parquet" {
			n++
		}
		return nil
	})
	return float64(n)
}

// lastLines keeps the last 4 KiB written to it, for error messages.
type lastLines struct{ b []byte }

func (l *lastLines) Write(p []byte) (int, error) {
	l.b = append(l.b, p...)
	if len(l.b) > 4096 {
		l.b = l.b[len(l.b)-4096:]
	}
	return len(p), nil
}

func (l *lastLines) String() string { return string(l.b) }

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
