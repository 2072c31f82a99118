// Command analyze benchmarks `stocklake analyze` end to end through Kafka.
//
//	go run ./bench/analyze -mode throughput [-ticks 5000000] [-compression zstd]
//	go run ./bench/analyze -mode latency [-rate 100000] [-duration 30s]
//
// Both modes build the stocklake binary (unless -bin names one) and, unless -brokers is given, start
// `stocklake broker` (the embedded kfake broker, in memory) in its own
// process. The analyzer runs as its own process too, so its CPU time is
// measured alone (from the kernel's accounting of that process).
//
// Throughput: fills a topic with -ticks simulated ticks (`stocklake
// produce`, 50 symbols, 3 partitions), then runs `stocklake analyze
// --windows 1s,1m --exit-when-idle` (-windows) over it and reports ticks per
// CPU-second of the analyzer (user+sys; "per core") and ticks per
// wall-second from start until every tick was consumed (from its metrics).
//
// Latency: starts the analyzer (--windows 1s, --delay 0, --lateness 0) on an
// empty topic, then produces live ticks at -rate per second for -duration,
// event time = the wall clock, round-robin over -symbols symbols, symbol i
// on partition i mod -partitions, while a read_committed consumer reads
// bars.1s. Definitions:
//
//   - a window [s, e) of a symbol closes when its partition's watermark
//     reaches e + lateness (here e): the closing tick is the first tick
//     produced to that partition with event time >= e + delay + lateness;
//   - its produce time is the wall clock just before the Produce call;
//   - a bar's consume time is the wall clock when the consumer's poll
//     returns it (visible only after the analyzer's transaction committed);
//   - latency = consume time - produce time of the window's closing tick.
//
// It reports p50, p90, p99 and max over all bars after a warm-up, the rate
// achieved and the analyzer's CPU use.
//
// With -json FILE either mode also writes its figures as a JSON object.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/bench/internal/measure"
	"github.com/stocklake/stocklake/kafka"
)

func main() {
	mode := flag.String("mode", "latency", "throughput or latency")
	brokers := flag.String("brokers", "", "Kafka brokers (default: start `stocklake broker` in memory)")
	ticks := flag.Int("ticks", 5_000_000, "throughput: ticks to fill the topic with")
	rate := flag.Float64("rate", 100_000, "latency: ticks per second")
	duration := flag.Duration("duration", 30*time.Second, "latency: how long to produce")
	warmup := flag.Duration("warmup", 3*time.Second, "latency: bars of windows ending before this are not counted")
	symbols := flag.Int("symbols", 50, "latency: symbols")
	partitions := flag.Int("partitions", 3, "partitions of the input topic")
	compression := flag.String("compression", "zstd", "throughput: batch compression of the input ticks (none, lz4, zstd, ...)")
	windows := flag.String("windows", "1s,1m", "throughput: analyzer --windows (it exits when the longest has closed, up to that long after the last tick)")
	binFlag := flag.String("bin", "", "stocklake binary (default: build ./cmd/stocklake)")
	jsonOut := flag.String("json", "", "also write the figures as a JSON object to this file")
	flag.Parse()
	log.SetFlags(0)

	work, err := os.MkdirTemp("", "stocklake-bench-analyze-")
	check(err)
	defer os.RemoveAll(work)
	bin, err := measure.Stocklake(*binFlag, work)
	check(err)

	if *brokers == "" {
		broker, addr, err := measure.StartBroker(bin)
		check(err)
		defer broker.Process.Kill()
		*brokers = addr
		log.Printf("started stocklake broker (kfake, in memory) on %s", *brokers)
	}
	switch *mode {
	case "throughput":
		throughput(bin, *brokers, *ticks, *partitions, *compression, *windows)
	case "latency":
		latency(bin, *brokers, *rate, *duration, *warmup, *symbols, *partitions)
	default:
		log.Fatalf("-mode %q: want throughput or latency", *mode)
	}
	if *jsonOut != "" {
		res["bench"] = "analyze-" + *mode
		b, _ := json.MarshalIndent(res, "", "  ")
		check(os.WriteFile(*jsonOut, append(b, '\n'), 0o644))
	}
}

// res collects the figures for -json.
var res = map[string]any{}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func suffix() string { return strconv.FormatUint(rand.Uint64()%1e9, 36) }

func cpuOf(ps *os.ProcessState) (cpu time.Duration, rssMiB int64) {
	ru := ps.SysUsage().(*syscall.Rusage)
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return cpu, ru.Maxrss / 1024
}

func throughput(bin, brokers string, n, partitions int, compression, windows string) {
	topic := "bench-ticks-" + suffix()
	start := time.Now()
	prod := exec.Command(bin, "produce", "--brokers", brokers, "--topic", topic, "--source", "sim", "--count", strconv.Itoa(n),
		"--seed", "1", "--partitions", strconv.Itoa(partitions), "--compression", compression, "--out-of-order", "0.01", "--out-of-order-max", "500ms", "--log-level", "warn")
	prod.Stderr = io.Discard
	check(prod.Run())
	log.Printf("filled %s with %d ticks in %v", topic, n, time.Since(start).Round(time.Millisecond))

	maddr, err := measure.FreeAddr()
	check(err)
	group := "bench-" + suffix()
	cmd := exec.Command(bin, "analyze", "--brokers", brokers, "--in", topic, "--group", group, "--out-prefix", group,
		"--windows", windows, "--delay", "1s", "--idle-timeout", "500ms", "--exit-when-idle", "--metrics-addr", maddr, "--log-level", "warn")
	cmd.Stderr = os.Stderr
	t0 := time.Now()
	check(cmd.Start())
	var consumed time.Duration
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var firstTick time.Time
wait:
	for {
		select {
		case err := <-done:
			check(err)
			break wait
		case <-tick.C:
			if consumed > 0 {
				continue
			}
			v, ok := measure.Metric(maddr, "stocklake_analyze_ticks_total")
			if ok && v > 0 && firstTick.IsZero() {
				firstTick = time.Now()
			}
			if ok && v >= float64(n) {
				consumed = time.Since(t0)
			}
		}
	}
	wall := time.Since(t0)
	cpu, rss := cpuOf(cmd.ProcessState)
	fmt.Printf("analyze throughput: %d ticks (%s batches), %d partitions, windows %s, through %s, GOGC=%q\n", n, compression, partitions, windows, brokers, os.Getenv("GOGC"))
	fmt.Printf("  analyzer CPU (user+sys):   %.2fs  -> %s ticks per CPU-second (per core)\n", cpu.Seconds(), measure.Commas(float64(n)/cpu.Seconds()))
	if consumed > 0 {
		fmt.Printf("  wall, start to all ticks consumed: %.2fs -> %s ticks/s (first tick after %.2fs)\n",
			consumed.Seconds(), measure.Commas(float64(n)/consumed.Seconds()), firstTick.Sub(t0).Seconds())
	}
	fmt.Printf("  wall, start to exit (all windows closed and committed): %.2fs; peak RSS %d MiB\n", wall.Seconds(), rss)
	res["ticks"] = n
	res["partitions"] = partitions
	res["compression"] = compression
	res["windows"] = windows
	res["cpu_seconds"] = cpu.Seconds()
	res["ticks_per_cpu_second"] = float64(n) / cpu.Seconds()
	if consumed > 0 {
		res["consumed_seconds"] = consumed.Seconds()
		res["ticks_per_second"] = float64(n) / consumed.Seconds()
	}
	res["wall_seconds"] = wall.Seconds()
	res["peak_rss_mib"] = rss
}

type barID struct {
	sym   string
	start int64
}

func latency(bin, brokers string, rate float64, duration, warmup time.Duration, nsym, partitions int) {
	kc := kafka.Config{Brokers: strings.Split(brokers, ",")}
	topic := "bench-live-" + suffix()
	group := "bench-" + suffix()
	ctx := context.Background()
	admin, err := kc.NewClient()
	check(err)
	_, err = kafka.EnsureTopic(ctx, admin, kafka.TopicSpec{Name: topic, Partitions: int32(partitions)})
	check(err)
	admin.Close()

	maddr, err := measure.FreeAddr()
	check(err)
	cmd := exec.Command(bin, "analyze", "--brokers", brokers, "--in", topic, "--group", group, "--out-prefix", group,
		"--windows", "1s", "--delay", "0s", "--lateness", "0s", "--idle-timeout", "5s", "--metrics-addr", maddr, "--log-level", "warn")
	cmd.Stderr = os.Stderr
	check(cmd.Start())
	defer cmd.Process.Kill()
	barTopic := group + ".1s"

	// The consumer of bars, read_committed.
	cons, err := kc.NewClient(kgo.ConsumeTopics(barTopic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	check(err)
	defer cons.Close()
	var mu sync.Mutex
	consumedAt := map[barID]time.Time{}
	cctx, stopCons := context.WithCancel(ctx)
	consDone := make(chan struct{})
	go func() {
		defer close(consDone)
		for cctx.Err() == nil {
			fs := cons.PollFetches(cctx)
			now := time.Now()
			mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				b, _, err := stocklake.ParseBar(r.Value)
				if err == nil && b.Final {
					consumedAt[barID{b.Symbol, b.Start.UnixMicro()}] = now
				}
			})
			mu.Unlock()
		}
	}()
	time.Sleep(3 * time.Second) // let the analyzer join its group

	prod, err := kc.NewClient(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(time.Millisecond),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.MaxBufferedRecords(1<<20))
	check(err)
	defer prod.Close()
	syms := make([]string, nsym)
	prices := make([]float64, nsym)
	for i := range syms {
		syms[i] = fmt.Sprintf("S%03d", i)
		prices[i] = 100 + float64(i)
	}
	// closeAt[p][end] = wall time of the first tick of partition p with event time >= end.
	closeAt := make([]map[int64]time.Time, partitions)
	nextEnd := make([]int64, partitions)
	for p := range closeAt {
		closeAt[p] = map[int64]time.Time{}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Now()
	cpu0 := measure.ProcessCPU(cmd.Process.Pid)
	var sent int64
	var seq int64
	buf := make([]byte, 0, 256)
	for {
		el := time.Since(t0)
		if el >= duration {
			break
		}
		due := int64(el.Seconds() * rate)
		if due <= sent {
			time.Sleep(200 * time.Microsecond)
			continue
		}
		for ; sent < due; sent++ {
			i := int(seq % int64(nsym))
			seq++
			prices[i] *= math.Exp(rng.NormFloat64() * 1e-4)
			now := time.Now()
			t := stocklake.Tick{Symbol: syms[i], Time: now.Truncate(time.Microsecond).UTC(), Price: math.Round(prices[i]*100) / 100,
				Size: float64(1 + rng.IntN(300)), TradeID: strconv.FormatInt(seq, 10)}
			p := i % partitions
			ts := t.Time.UnixMicro()
			if nextEnd[p] == 0 {
				nextEnd[p] = ts - ts%1_000_000 + 1_000_000
			}
			for ts >= nextEnd[p] {
				closeAt[p][nextEnd[p]] = now
				nextEnd[p] += 1_000_000
			}
			buf = t.AppendJSON(buf[:0])
			prod.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(p), Key: []byte(t.Symbol), Value: slices.Clone(buf)}, nil)
		}
	}
	check(prod.Flush(ctx))
	elapsed := time.Since(t0)
	cpu := measure.ProcessCPU(cmd.Process.Pid) - cpu0
	time.Sleep(2 * time.Second) // last committed bars reach the consumer
	stopCons()
	<-consDone

	var lats []time.Duration
	var missing int
	type slowWindow struct {
		partition int
		end       time.Duration // after the start
		latency   time.Duration
	}
	var slowest slowWindow
	warmEnd := t0.Add(warmup).UnixMicro()
	lastEnd := t0.Add(duration).UnixMicro() - 1_000_000
	mu.Lock()
	for p := range closeAt {
		for end, produced := range closeAt[p] {
			if end < warmEnd || end > lastEnd {
				continue
			}
			for i := p; i < nsym; i += partitions {
				at, ok := consumedAt[barID{syms[i], end - 1_000_000}]
				if !ok {
					missing++
					continue
				}
				lats = append(lats, at.Sub(produced))
				if at.Sub(produced) > slowest.latency {
					slowest = slowWindow{p, time.Duration(end-t0.UnixMicro()) * time.Microsecond, at.Sub(produced)}
				}
			}
		}
	}
	mu.Unlock()
	slices.Sort(lats)
	q := func(f float64) time.Duration {
		if len(lats) == 0 {
			return 0
		}
		return lats[min(len(lats)-1, int(f*float64(len(lats))))]
	}
	fmt.Printf("analyze latency: %s ticks/s for %v (achieved %s ticks/s), %d symbols, %d partitions, 1s windows, through %s\n",
		measure.Commas(rate), duration, measure.Commas(float64(sent)/elapsed.Seconds()), nsym, partitions, brokers)
	fmt.Printf("  bars measured: %d (missing %d)\n", len(lats), missing)
	fmt.Printf("  slowest: partition %d's window ending %v after the start, %v\n", slowest.partition, slowest.end.Round(time.Millisecond), slowest.latency.Round(100*time.Microsecond))
	fmt.Printf("  tick-to-bar latency after window close: p50 %v  p90 %v  p99 %v  max %v\n",
		q(0.50).Round(10*time.Microsecond), q(0.90).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond), q(1).Round(10*time.Microsecond))
	fmt.Printf("  analyzer CPU while producing: %.2fs over %.1fs (%.0f%% of one core)\n", cpu.Seconds(), elapsed.Seconds(), 100*cpu.Seconds()/elapsed.Seconds())
	commits, _ := measure.Metric(maddr, "stocklake_analyze_commits_total")
	commitSecs, _ := measure.Metric(maddr, "stocklake_analyze_commit_seconds_total")
	if commits > 0 {
		fmt.Printf("  transactions: %.0f, mean time to end one %.1fms\n", commits, 1000*commitSecs/commits)
		res["transactions"] = commits
		res["commit_mean_ms"] = 1000 * commitSecs / commits
	}
	msOf := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	res["rate_target"] = rate
	res["rate_achieved"] = float64(sent) / elapsed.Seconds()
	res["duration"] = duration.String()
	res["symbols"] = nsym
	res["partitions"] = partitions
	res["windows"] = "1s"
	res["bars"] = len(lats)
	res["slowest_window_partition"] = slowest.partition
	res["slowest_window_end_s"] = slowest.end.Seconds()
	res["bars_missing"] = missing
	res["latency_p50_ms"] = msOf(q(0.50))
	res["latency_p90_ms"] = msOf(q(0.90))
	res["latency_p99_ms"] = msOf(q(0.99))
	res["latency_max_ms"] = msOf(q(1))
	res["analyzer_cores"] = cpu.Seconds() / elapsed.Seconds()
}
