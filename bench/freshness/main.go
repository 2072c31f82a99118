// Command freshness measures how long a tick takes from being produced to
// Kafka to being returned by `stocklake query`, while the sink lands a
// steady background load.
//
//	go run ./bench/freshness [-rate 100000] [-duration 60s] [-json FILE]
//
// Unless -brokers is given it starts `stocklake broker` (kfake, in memory)
// in its own process. It creates a topic of -partitions partitions and
// starts, each as its own process:
//
//   - the sink: `stocklake sink --table ticks --lake file://DIR/lake
//     --catalog sqlite://DIR/catalog.db --flush-interval 1s` (so a batch is
//     written at most about -flush-interval after its first record, and each
//     new partition folder is registered in the catalog as it is written);
//   - the background load: `stocklake produce --source sim --rate R
//     --symbols N` (simulated ticks, event time from the simulator's session);
//   - back to back, one after the other, fresh `stocklake query` processes
//     running SELECT count(*), max(CAST(trade_id AS BIGINT)) FROM ticks
//     WHERE symbol = 'ZZPROBE'.
//
// Meanwhile this program produces a probe tick every -probe-interval to the
// same topic: symbol ZZPROBE, trade_id 1, 2, 3, ..., event time = the wall
// clock, keyed by symbol and so all on one partition, one at a time
// (synchronously, acks=all). Definitions:
//
//   - a probe's produce time is the wall clock just before the Produce call
//     (its acknowledgement time is recorded too; the gap is reported);
//   - a query returning count c shows probes 1..c (one partition, written
//     in offset order; the max(trade_id) = c check catches anything else);
//     its return time is when its process has exited with the result;
//   - a probe's freshness = the return time of the first query that counts
//     it - its produce time. It includes the sink's batching (up to
//     -flush-interval plus the sink's roll check, a quarter of it, at most
//     1s), writing the Parquet object, and one query (start-up of the
//     process, catalog lookup, file listing and scan), so its resolution
//     is one query's run time.
//
// Probes produced in the first -warmup are not counted (the sink joins its
// group and the first partition is registered then); after -duration of
// measured probes, it stops probing and waits up to -drain for the last
// ones to be seen. The achieved ingest rate is the growth of the topic's end
// offsets over the measured window (minus probes); the sink's is the growth
// of its rows_total metric. Each flush writes one object per Kafka
// partition (and a second for the probes' partition folder), so the lake
// grows by about four small files per second at --flush-interval 1s and
// each query lists and opens more of them: the query run time in the
// window's first and last 10s shows by how much. It prints a summary and,
// with -json FILE, writes the figures as a JSON object.
package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/bench/internal/measure"
	"github.com/stocklake/stocklake/kafka"
)

const probeSymbol = "ZZPROBE"

var (
	cleanups    []func()
	cleanupOnce sync.Once
	exiting     atomic.Bool // no new query processes once set
)

// cleanup stops child processes and removes the work directory, once.
func cleanup() {
	exiting.Store(true)
	cleanupOnce.Do(func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	})
}

// fatal logs, cleans up and exits 1.
func fatal(format string, args ...any) {
	log.Printf(format, args...)
	cleanup()
	os.Exit(1)
}

func check(err error) {
	if err != nil {
		fatal("%v", err)
	}
}

func main() {
	bin := flag.String("bin", "", "stocklake binary (default: build ./cmd/stocklake into the work directory)")
	brokers := flag.String("brokers", "", "Kafka brokers (default: start `stocklake broker` in memory)")
	rate := flag.Float64("rate", 100_000, "background ticks per second (stocklake produce --rate)")
	symbols := flag.Int("symbols", 50, "background symbols")
	partitions := flag.Int("partitions", 3, "partitions of the topic")
	duration := flag.Duration("duration", 60*time.Second, "how long to measure (probes produced in this window count)")
	warmup := flag.Duration("warmup", 10*time.Second, "probes produced before this are not counted")
	drain := flag.Duration("drain", 30*time.Second, "after the window, wait at most this long for the last probes to be seen")
	probeEvery := flag.Duration("probe-interval", 250*time.Millisecond, "time between probe ticks")
	flushInterval := flag.Duration("flush-interval", time.Second, "sink --flush-interval")
	dir := flag.String("dir", "", "work directory for the lake and catalog (default: a temporary one, removed at exit)")
	jsonOut := flag.String("json", "", "also write the figures as a JSON object to this file")
	tableFormat := flag.String("table-format", "hive", "sink --table-format: hive (Parquet objects, partitions registered in the catalog) or iceberg (an Iceberg table in the catalog file, one snapshot per flush)")
	flag.Parse()
	if *tableFormat != "hive" && *tableFormat != "iceberg" {
		fatal("-table-format %q: want hive or iceberg", *tableFormat)
	}
	log.SetFlags(log.Ltime)

	ctx := context.Background()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() { fatal("%v", <-sig) }()

	work := *dir
	if work == "" {
		var err error
		work, err = os.MkdirTemp("", "stocklake-bench-freshness-")
		check(err)
		cleanups = append(cleanups, func() {
			// A query process may still be writing its result; retry.
			for range 5 {
				if os.RemoveAll(work) == nil {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	} else {
		check(os.MkdirAll(work, 0o755))
	}
	if *bin == "" {
		log.Printf("building stocklake in %s", work)
	}
	var err error
	*bin, err = measure.Stocklake(*bin, work)
	check(err)
	if *brokers == "" {
		*brokers = mustFreeAddr()
		broker := startProc("broker", *bin, "broker", "--listen", *brokers, "--data", "", "--log-level", "warn")
		mustWaitPort(*brokers)
		log.Printf("started stocklake broker (kfake, in memory) on %s, pid %d", *brokers, broker.Process.Pid)
	}
	procs := map[string]*proc{}
	if p := started["broker"]; p != nil {
		procs["broker"] = p
	}

	kc := kafka.Config{Brokers: strings.Split(*brokers, ","), ClientID: "bench-freshness"}
	topic := "bench-fresh-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	admin, err := kc.NewClient()
	check(err)
	cleanups = append(cleanups, admin.Close)
	_, err = kafka.EnsureTopic(ctx, admin, kafka.TopicSpec{Name: topic, Partitions: int32(*partitions)})
	check(err)
	adm := kadm.NewClient(admin)

	lake := "file://" + filepath.Join(work, "lake")
	catalog := "sqlite://" + filepath.Join(work, "catalog.db")
	sinkMetrics := mustFreeAddr()
	sinkArgs := []string{"sink", "--brokers", *brokers, "--topic", topic, "--table", "ticks", "--group", topic,
		"--lake", lake, "--catalog", catalog, "--flush-interval", flushInterval.String(),
		"--metrics-addr", sinkMetrics, "--log-level", "warn", "--table-format", *tableFormat}
	procs["sink"] = startProc("sink", *bin, sinkArgs...)
	mustWaitPort(sinkMetrics)

	prodArgs := []string{"produce", "--brokers", *brokers, "--topic", topic, "--source", "sim",
		"--rate", strconv.FormatFloat(*rate, 'f', -1, 64), "--symbols", strconv.Itoa(*symbols), "--seed", "1", "--log-level", "warn"}
	procs["producer"] = startProc("producer", *bin, prodArgs...)
	t0 := time.Now()
	log.Printf("sink (pid %d) and background producer at %s ticks/s (pid %d) started; topic %s, work dir %s",
		procs["sink"].Process.Pid, measure.Commas(*rate), procs["producer"].Process.Pid, topic, work)

	// Probes.
	probeCl, err := kc.NewClient(kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	check(err)
	cleanups = append(cleanups, probeCl.Close)
	var mu sync.Mutex
	var probes []probe
	winStart, winEnd := t0.Add(*warmup), t0.Add(*warmup+*duration)
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		tk := time.NewTicker(*probeEvery)
		defer tk.Stop()
		buf := make([]byte, 0, 128)
		for n := 1; ; n++ {
			now := time.Now()
			if !now.Before(winEnd) {
				return
			}
			t := stocklake.Tick{Symbol: probeSymbol, Time: now.Truncate(time.Microsecond).UTC(), Price: 1, Size: 1,
				TradeID: strconv.Itoa(n), Source: "probe"}
			buf = t.AppendJSON(buf[:0])
			rec := &kgo.Record{Key: []byte(probeSymbol), Value: slices.Clone(buf),
				Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte(stocklake.TickContentType)}}}
			mu.Lock()
			probes = append(probes, probe{sent: now})
			mu.Unlock()
			res := probeCl.ProduceSync(ctx, rec)
			acked := time.Now()
			if err := res.FirstErr(); err != nil {
				fatal("produce probe %d: %v", n, err)
			}
			mu.Lock()
			probes[n-1].acked = acked
			probes[n-1].partition = res[0].Record.Partition
			mu.Unlock()
			<-tk.C
		}
	}()

	// Samplers: topic end offsets, sink metrics and CPU at the window's edges.
	type snap struct {
		at       time.Time
		offsets  int64
		sinkRows float64
		cpu      map[string]time.Duration
		machine  measure.CPUStat
	}
	take := func() snap {
		s := snap{at: time.Now(), cpu: map[string]time.Duration{}, machine: measure.MachineCPU()}
		ends, err := adm.ListEndOffsets(ctx, topic)
		check(err)
		ends.Each(func(o kadm.ListedOffset) { s.offsets += o.Offset })
		s.sinkRows, _ = measure.Metric(sinkMetrics, "stocklake_sink_rows_total")
		for name, p := range procs {
			s.cpu[name] = measure.ProcessCPU(p.Process.Pid)
		}
		s.cpu["bench"] = measure.ProcessCPU(os.Getpid())
		return s
	}
	var start, end snap
	var queryCPUInWindow time.Duration
	var maxLag float64
	sampleDone := make(chan struct{})
	go func() {
		defer close(sampleDone)
		time.Sleep(time.Until(winStart))
		start = take()
		for time.Now().Before(winEnd) {
			if v, ok := measure.Metric(sinkMetrics, "stocklake_sink_lag_records"); ok {
				maxLag = max(maxLag, v)
			}
			time.Sleep(500 * time.Millisecond)
		}
		end = take()
	}()

	// Queries, back to back.
	var queries []queryRun
	var errs []string
	seen := 0 // probes 1..seen have been returned
	var lats []time.Duration
	var nonPrefix, overCount int
	sql := "SELECT count(*), max(CAST(trade_id AS BIGINT)) FROM ticks WHERE symbol = '" + probeSymbol + "'"
	deadline := winEnd.Add(*drain)
loop:
	for {
		mu.Lock()
		lastSeen, total := seen, len(probes)
		mu.Unlock()
		select {
		case <-probeDone:
			if lastSeen >= total {
				break loop
			}
		default:
		}
		if time.Now().After(deadline) {
			log.Printf("gave up waiting for probes %d..%d after -drain %v", lastSeen+1, total, *drain)
			break loop
		}
		if exiting.Load() {
			select {} // fatal is cleaning up and exits
		}
		q := runQuery(*bin, lake, catalog, sql)
		if q.started.After(winStart) && q.started.Before(winEnd) {
			queryCPUInWindow += q.cpu
		}
		if q.err != nil {
			if q.started.After(winStart) {
				errs = append(errs, q.err.Error())
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		queries = append(queries, q)
		mu.Lock()
		if q.count > 0 && q.max != q.count {
			nonPrefix++
		}
		if q.count > int64(len(probes)) {
			overCount++
		}
		for ; seen < int(min(q.count, int64(len(probes)))); seen++ {
			p := &probes[seen]
			p.seen = q.returned
			if !p.sent.Before(winStart) && p.sent.Before(winEnd) {
				lats = append(lats, q.returned.Sub(p.sent))
			}
		}
		mu.Unlock()
	}
	<-sampleDone
	stopProc(procs["producer"])
	stopProc(procs["sink"])
	sinkRSS := procs["sink"].ProcessState.SysUsage().(*syscall.Rusage).Maxrss / 1024

	// Figures.
	mu.Lock()
	var measured, unseen int
	var ackGaps []time.Duration
	partsUsed := map[int32]bool{}
	for _, p := range probes {
		partsUsed[p.partition] = true
		if p.sent.Before(winStart) || !p.sent.Before(winEnd) {
			continue
		}
		measured++
		if p.seen.IsZero() {
			unseen++
		}
		ackGaps = append(ackGaps, p.acked.Sub(p.sent))
	}
	mu.Unlock()
	if len(partsUsed) != 1 {
		log.Printf("warning: probes went to %d partitions; count c no longer means probes 1..c", len(partsUsed))
	}
	win := end.at.Sub(start.at).Seconds()
	achieved := (float64(end.offsets-start.offsets) - float64(measured)) / win
	sinkRate := (end.sinkRows - start.sinkRows) / win
	cores := func(name string) float64 { return (end.cpu[name] - start.cpu[name]).Seconds() / win }
	var qTimes, engTimes, qFirst, qLast []time.Duration
	edge := min(10*time.Second, *duration/4)
	for _, q := range queries {
		if q.started.After(winStart) && q.started.Before(winEnd) {
			d := q.returned.Sub(q.started)
			qTimes = append(qTimes, d)
			if q.engine > 0 {
				engTimes = append(engTimes, q.engine)
			}
			if q.started.Before(winStart.Add(edge)) {
				qFirst = append(qFirst, d)
			}
			if !q.started.Before(winEnd.Add(-edge)) {
				qLast = append(qLast, d)
			}
		}
	}
	slices.Sort(qFirst)
	slices.Sort(qLast)
	var lakeFiles int
	filepath.WalkDir(filepath.Join(work, "lake") /* Hive: lake/ticks/..., Iceberg: lake/stocklake.db/ticks/data/... */, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".parquet") {
			lakeFiles++
		}
		return nil
	})
	slices.Sort(lats)
	slices.Sort(qTimes)
	slices.Sort(engTimes)
	slices.Sort(ackGaps)

	r := result{
		Bench: "freshness", TableFormat: *tableFormat, RateTarget: *rate, RateAchieved: achieved, SinkRowsPerSec: sinkRate, SinkMaxLag: maxLag,
		SinkPeakRSSMiB: sinkRSS, Symbols: *symbols, Partitions: *partitions,
		Duration: duration.String(), Warmup: warmup.String(), FlushInterval: flushInterval.String(), ProbeInterval: probeEvery.String(),
		Probes: measured, ProbesUnseen: unseen, NonPrefix: nonPrefix, OverCount: overCount,
		P50: ms(quantile(lats, .5)), P90: ms(quantile(lats, .9)), P99: ms(quantile(lats, .99)), Max: ms(quantile(lats, 1)), Min: ms(quantile(lats, 0)),
		Queries: len(qTimes), QueryErrors: len(errs), QueryP50: ms(quantile(qTimes, .5)), QueryP99: ms(quantile(qTimes, .99)),
		EngineP50: ms(quantile(engTimes, .5)), AckP50: ms(quantile(ackGaps, .5)),
		QueryFirstP50: ms(quantile(qFirst, .5)), QueryLastP50: ms(quantile(qLast, .5)), QueryEdge: edge.String(), LakeFiles: lakeFiles,
		SinkCores: cores("sink"), ProducerCores: cores("producer"), BrokerCores: cores("broker"),
		QueryCores: queryCPUInWindow.Seconds() / win, BenchCores: cores("bench"), MachineBusy: end.machine.BusySince(start.machine), CPUs: runtime.NumCPU(),
		Definition: "freshness = return time of the first `stocklake query` (fresh process) whose count includes the probe - wall clock just before producing the probe",
		Sink:       "stocklake sink " + strings.Join(redact(sinkArgs[1:], *brokers, topic, work), " "),
		Producer:   "stocklake produce " + strings.Join(redact(prodArgs[1:], *brokers, topic, work), " "),
		Query:      "stocklake query --lake file://DIR/lake --catalog sqlite://DIR/catalog.db --format csv \"" + sql + "\"",
	}
	if len(errs) > 0 {
		r.FirstError = errs[0]
	}
	fmt.Printf("freshness (%s table): produce -> visible in `stocklake query`, %s background ticks/s (achieved %s/s into Kafka, sink landed %s rows/s, max sink lag %s records), %d symbols, %d partitions, sink --flush-interval %v\n",
		*tableFormat, measure.Commas(*rate), measure.Commas(achieved), measure.Commas(sinkRate), measure.Commas(maxLag), *symbols, *partitions, *flushInterval)
	fmt.Printf("  probes: %d measured over %v after %v warm-up, one every %v (%d never seen)\n", measured, *duration, *warmup, *probeEvery, unseen)
	fmt.Printf("  freshness: p50 %.0fms  p90 %.0fms  p99 %.0fms  max %.0fms  (min %.0fms)\n", r.P50, r.P90, r.P99, r.Max, r.Min)
	fmt.Printf("  queries: %d in the window (%d failed), process run time p50 %.0fms p99 %.0fms, engine time p50 %.0fms; probe ack p50 %.1fms\n",
		r.Queries, r.QueryErrors, r.QueryP50, r.QueryP99, r.EngineP50, r.AckP50)
	fmt.Printf("  query run time p50 in the window's first %v %.0fms, last %v %.0fms; the lake held %d Parquet files at the end\n",
		edge, r.QueryFirstP50, edge, r.QueryLastP50, lakeFiles)
	fmt.Printf("  CPU (cores): sink %.2f, producer %.2f, broker %.2f, queries %.2f, this program %.2f; machine %.0f%% busy of %d CPUs; sink peak RSS %d MiB\n",
		r.SinkCores, r.ProducerCores, r.BrokerCores, r.QueryCores, r.BenchCores, 100*r.MachineBusy, r.CPUs, r.SinkPeakRSSMiB)
	if nonPrefix > 0 || overCount > 0 {
		fmt.Printf("  ANOMALY: %d query results were not a prefix of the probes (max(trade_id) != count), %d counted more probes than produced\n", nonPrefix, overCount)
	}
	if r.FirstError != "" {
		fmt.Printf("  first query error in the window: %s\n", r.FirstError)
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(r, "", "  ")
		check(os.WriteFile(*jsonOut, append(b, '\n'), 0o644))
	}
	cleanup()
	if measured == 0 || unseen > 0 || nonPrefix > 0 || overCount > 0 {
		os.Exit(1)
	}
}

type probe struct {
	sent, acked, seen time.Time
	partition         int32
}

// result is the JSON output.
type result struct {
	Bench          string  `json:"bench"`
	TableFormat    string  `json:"table_format"`
	RateTarget     float64 `json:"rate_target"`
	RateAchieved   float64 `json:"rate_achieved"`
	SinkRowsPerSec float64 `json:"sink_rows_per_sec"`
	SinkMaxLag     float64 `json:"sink_max_lag_records"`
	SinkPeakRSSMiB int64   `json:"sink_peak_rss_mib"`
	Symbols        int     `json:"symbols"`
	Partitions     int     `json:"partitions"`
	Duration       string  `json:"duration"`
	Warmup         string  `json:"warmup"`
	FlushInterval  string  `json:"flush_interval"`
	ProbeInterval  string  `json:"probe_interval"`
	Probes         int     `json:"probes"`
	ProbesUnseen   int     `json:"probes_unseen"`
	NonPrefix      int     `json:"non_prefix_results"`
	OverCount      int     `json:"over_count_results"`
	P50            float64 `json:"freshness_p50_ms"`
	P90            float64 `json:"freshness_p90_ms"`
	P99            float64 `json:"freshness_p99_ms"`
	Max            float64 `json:"freshness_max_ms"`
	Min            float64 `json:"freshness_min_ms"`
	Queries        int     `json:"queries"`
	QueryErrors    int     `json:"query_errors"`
	FirstError     string  `json:"first_query_error,omitempty"`
	QueryP50       float64 `json:"query_p50_ms"`
	QueryP99       float64 `json:"query_p99_ms"`
	EngineP50      float64 `json:"query_engine_p50_ms"`
	QueryEdge      string  `json:"query_edge"`
	QueryFirstP50  float64 `json:"query_first_p50_ms"` // queries started in the window's first QueryEdge
	QueryLastP50   float64 `json:"query_last_p50_ms"`  // and in its last
	LakeFiles      int     `json:"lake_parquet_files"` // at the end
	AckP50         float64 `json:"probe_ack_p50_ms"`
	SinkCores      float64 `json:"sink_cores"`
	ProducerCores  float64 `json:"producer_cores"`
	BrokerCores    float64 `json:"broker_cores"`
	QueryCores     float64 `json:"query_cores"`
	BenchCores     float64 `json:"bench_cores"`
	MachineBusy    float64 `json:"machine_busy"`
	CPUs           int     `json:"cpus"`
	Definition     string  `json:"definition"`
	Sink           string  `json:"sink_command"`
	Producer       string  `json:"producer_command"`
	Query          string  `json:"query_command"`
}

// redact replaces run-specific values in a command line with placeholders.
func redact(args []string, brokers, topic, work string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		a = strings.ReplaceAll(a, work, "DIR")
		a = strings.ReplaceAll(a, brokers, "BROKERS")
		a = strings.ReplaceAll(a, topic, "TOPIC")
		if i > 0 && args[i-1] == "--metrics-addr" {
			a = "ADDR"
		}
		out[i] = a
	}
	return out
}

type queryRun struct {
	started, returned time.Time
	count, max        int64
	engine, cpu       time.Duration
	err               error
}

var engineTime = regexp.MustCompile(`SUCCEEDED in ([0-9.]+[µmn]?s)`)

// runQuery runs one `stocklake query` process and parses its CSV result.
func runQuery(bin, lake, catalog, sql string) queryRun {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "query", "--lake", lake, "--catalog", catalog, "--format", "csv", "--log-level", "warn", sql)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	q := queryRun{started: time.Now()}
	err := cmd.Run()
	q.returned = time.Now()
	if cmd.ProcessState != nil {
		q.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		q.err = fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
		return q
	}
	if m := engineTime.FindStringSubmatch(stderr.String()); m != nil {
		q.engine, _ = time.ParseDuration(m[1])
	}
	recs, err := csv.NewReader(&stdout).ReadAll()
	if err != nil || len(recs) != 2 || len(recs[1]) != 2 {
		q.err = fmt.Errorf("unexpected query output %q (%v)", stdout.String(), err)
		return q
	}
	if q.count, err = strconv.ParseInt(recs[1][0], 10, 64); err != nil {
		q.err = fmt.Errorf("count %q: %v", recs[1][0], err)
		return q
	}
	if recs[1][1] != "" {
		if q.max, err = strconv.ParseInt(recs[1][1], 10, 64); err != nil {
			q.err = fmt.Errorf("max %q: %v", recs[1][1], err)
		}
	}
	return q
}

func quantile(s []time.Duration, f float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(f*float64(len(s))))]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// proc is a child process: the broker, the sink or the producer.
type proc struct {
	*exec.Cmd
	name     string
	done     chan struct{} // closed when it has exited
	stopping atomic.Bool
}

var started = map[string]*proc{}

// startProc starts a child process whose output goes to stderr. It is
// stopped by the cleanups; exiting before stopProc is fatal.
func startProc(name, bin string, args ...string) *proc {
	p := &proc{Cmd: exec.Command(bin, args...), name: name, done: make(chan struct{})}
	p.Stdout, p.Stderr = os.Stderr, os.Stderr
	check(p.Start())
	go func() {
		err := p.Wait()
		close(p.done)
		if !p.stopping.Load() {
			go fatal("%s (pid %d) exited before the benchmark ended: %v", name, p.Process.Pid, err)
		}
	}()
	started[name] = p
	cleanups = append(cleanups, func() { stopProc(p) })
	return p
}

// stopProc sends SIGTERM, waits up to 20s, then kills.
func stopProc(p *proc) {
	if p == nil {
		return
	}
	if p.stopping.Swap(true) {
		<-p.done
		return
	}
	p.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		log.Printf("%s did not stop within 20s of SIGTERM; killing it", p.name)
		p.Process.Kill()
		<-p.done
	}
}

func mustFreeAddr() string {
	addr, err := measure.FreeAddr()
	if err != nil {
		fatal("%v", err)
	}
	return addr
}

func mustWaitPort(addr string) {
	if err := measure.WaitPort(addr); err != nil {
		fatal("%v", err)
	}
}
