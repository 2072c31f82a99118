package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/stream"
)

// analyzeCrashTicks is how many ticks the analyzer crash test uses;
// STOCKLAKE_ANALYZE_CRASH_TICKS overrides it.
func analyzeCrashTicks() int {
	if n, err := strconv.Atoi(os.Getenv("STOCKLAKE_ANALYZE_CRASH_TICKS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// TestAnalyzeCrashIntegration runs `stocklake analyze` against Apache Kafka
// over a deterministic simulator run with out-of-order ticks inside the
// lateness bound, kills it with SIGKILL at random moments five times,
// restarts it, and then reads the bar topics with a read_committed consumer:
// every bar must be there exactly once and equal, field for field and with
// its indicators, the bar the stream engine computes directly over the same
// ticks.
func TestAnalyzeCrashIntegration(t *testing.T) {
	env := requireEnv(t, "STOCKLAKE_KAFKA_BROKERS")
	brokers := env["STOCKLAKE_KAFKA_BROKERS"]
	bin := stocklakeBinary(t)
	n := analyzeCrashTicks()
	topic := uniqueName("acrash-ticks-")
	group := uniqueName("acrash-")
	prefix := uniqueName("acrash-bars-")
	lateTopic := prefix + ".late"
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	produce := exec.CommandContext(ctx, bin, "produce", "--brokers", brokers, "--topic", topic, "--source", "sim",
		"--count", strconv.Itoa(n), "--seed", "11", "--partitions", "3", "--out-of-order", "0.05", "--out-of-order-max", "700ms",
		"--log-level", "warn")
	produce.Env = envWith()
	if out, err := produce.CombinedOutput(); err != nil {
		t.Fatalf("produce: %v\n%s", err, out)
	}

	cfg := stream.Config{Windows: []time.Duration{time.Second, 5 * time.Second}, Delay: 500 * time.Millisecond, Lateness: 500 * time.Millisecond}
	args := []string{"analyze", "--brokers", brokers, "--in", topic, "--group", group, "--instance-id", group + "-0",
		"--windows", "1s,5s", "--delay", "500ms", "--lateness", "500ms", "--out-prefix", prefix,
		"--alerts-topic", prefix + ".alerts", "--late-topic", lateTopic,
		"--checkpoint-interval", "200ms", "--checkpoint-records", "5000", "--idle-timeout", "1s"}
	kc := kafka.Config{Brokers: strings.Split(brokers, ",")}
	adm, err := kc.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	committed := func() int64 {
		offs, err := kadm.NewClient(adm).FetchOffsets(ctx, group)
		if err != nil {
			if kerr.IsRetriable(err) { // e.g. a fresh broker still electing the group coordinator
				t.Logf("fetch offsets: %v (retrying later)", err)
				return 0
			}
			t.Fatal(err)
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) { sum += max(0, o.At) })
		return sum
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	midway := 0
	prev := int64(0)
	for kills := 1; kills <= 5; kills++ {
		cmd := exec.CommandContext(ctx, bin, append(args, "--log-level", "warn")...)
		cmd.Env = envWith()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// Kill at a random moment once this run has made progress, so kills
		// land part way through the input even on a slow, fresh broker.
		progressBy := time.Now().Add(60 * time.Second)
		for committed() <= prev && time.Now().Before(progressBy) {
			select {
			case err := <-done:
				t.Fatalf("analyze exited before it was killed: %v\n%s", err, stderr.String())
			case <-time.After(100 * time.Millisecond):
			}
		}
		wait := time.Duration(rng.IntN(400)) * time.Millisecond
		select {
		case err := <-done:
			t.Fatalf("analyze exited before it was killed: %v\n%s", err, stderr.String())
		case <-time.After(wait):
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-done
		c := committed()
		if c > 0 && c < int64(n) {
			midway++
		}
		prev = c
		t.Logf("killed the analyzer with SIGKILL after %v (%d/5); %d of %d ticks committed", wait, kills, c, n)
	}
	if midway < 2 {
		t.Errorf("only %d kills came while the analyzer was part way through the input; raise STOCKLAKE_ANALYZE_CRASH_TICKS", midway)
	}

	final := exec.CommandContext(ctx, bin, append(args, "--exit-when-idle", "--log-level", "info")...)
	final.Env = envWith()
	out, err := final.CombinedOutput()
	if err != nil {
		t.Fatalf("final analyze run: %v\n%s", err, out)
	}
	if m := regexp.MustCompile(`restored=(\d+)`).FindSubmatch(out); m == nil || string(m[1]) == "0" {
		t.Errorf("the final run restored no checkpoint:\n%s", out)
	}
	if m := regexp.MustCompile(`msg="analyzer stopped".*`).Find(out); m != nil {
		t.Logf("final run: %s", m)
	}

	parts := map[int32][]stocklake.Tick{}
	for _, r := range readCommitted(t, kc, topic) {
		tk, err := stocklake.ParseTick(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		parts[r.Partition] = append(parts[r.Partition], tk)
	}
	type key struct {
		w     time.Duration
		sym   string
		start int64
	}
	type val struct {
		b   stocklake.Bar
		ind stocklake.Indicators
	}
	want := map[key]val{}
	ticks := 0
	for p, ts := range parts {
		ticks += len(ts)
		e, err := stream.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var o stream.Output
		for i := range ts {
			if err := e.Process(p, &ts[i], &o); err != nil {
				t.Fatal(err)
			}
		}
		e.AdvanceTo(time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC), &o)
		if len(o.Late) > 0 {
			t.Fatalf("the simulated ticks have %d late ticks; keep --out-of-order-max within delay+lateness", len(o.Late))
		}
		for _, b := range o.Bars {
			want[key{b.Window, b.Symbol, b.Start.UnixMicro()}] = val{b.Bar, b.Indicators}
		}
	}
	if ticks != n {
		t.Fatalf("read %d ticks back, produced %d", ticks, n)
	}
	got := map[key]int{}
	bad := 0
	for _, w := range cfg.Windows {
		for _, r := range readCommitted(t, kc, prefix+"."+stocklake.WindowLabel(w)) {
			b, ind, err := stocklake.ParseBar(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			k := key{b.Window, b.Symbol, b.Start.UnixMicro()}
			got[k]++
			exp, ok := want[k]
			if !ok || b != exp.b || !sameIndicators(ind, exp.ind) {
				if bad++; bad <= 5 {
					t.Errorf("bar %v:\n got %+v %+v\nwant %+v %+v", k, b, ind, exp.b, exp.ind)
				}
			}
		}
	}
	missing, dups := 0, 0
	for k := range want {
		switch c := got[k]; {
		case c == 0:
			if missing++; missing <= 5 {
				t.Errorf("missing bar %v", k)
			}
		case c > 1:
			if dups++; dups <= 5 {
				t.Errorf("bar %v appears %d times", k, c)
			}
		}
	}
	if late := readCommitted(t, kc, lateTopic); len(late) > 0 {
		t.Errorf("%d late ticks in %s, want none", len(late), lateTopic)
	}
	t.Logf("%d ticks, %d bars expected: %d missing, %d duplicated, %d differ or unexpected", n, len(want), missing, dups, bad)
	if missing+dups+bad > 0 {
		t.Fatal("the bar topics do not hold every bar exactly once")
	}
}

func sameIndicators(a, b stocklake.Indicators) bool {
	eq := func(x, y float64) bool { return x == y || (x != x && y != y) }
	return a.Bars == b.Bars && eq(a.SMA, b.SMA) && eq(a.EMAFast, b.EMAFast) && eq(a.EMASlow, b.EMASlow) &&
		eq(a.Volatility, b.Volatility) && eq(a.ZClose, b.ZClose) && eq(a.ZVolume, b.ZVolume)
}

// readCommitted returns every committed record of topic with read_committed
// isolation, up to the last stable offsets.
func readCommitted(t *testing.T, kc kafka.Config, topic string) []stocklake.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	recs, err := kafka.ReadCommitted(ctx, kc, topic)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
