package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/source"
	"github.com/stocklake/stocklake/stream"
)

// TestAnalyzeFutureTicksIntegration runs `stocklake analyze` (default
// --max-future) against Apache Kafka over a simulator run with three ticks
// stamped 9999-12-31, one per partition, a third of the way in. The future
// ticks must land in the analyzer's dead-letter topic with the reason, and
// every bar of the other ticks must be there exactly once, equal to what
// the stream engine computes without them; none may be late. (Without the
// bound the watermark jumped to the year 9999 and the later ticks were all
// late.)
func TestAnalyzeFutureTicksIntegration(t *testing.T) {
	env := requireEnv(t, "STOCKLAKE_KAFKA_BROKERS")
	brokers := env["STOCKLAKE_KAFKA_BROKERS"]
	bin := stocklakeBinary(t)
	topic := uniqueName("afuture-ticks-")
	group := uniqueName("afuture-")
	prefix := uniqueName("afuture-bars-")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	kc := kafka.Config{Brokers: strings.Split(brokers, ",")}
	cl, err := kc.NewClient(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, -1, nil, topic); err != nil {
		t.Fatal(err)
	}

	sim, err := source.NewSimulator(source.SimulatorConfig{Symbols: 12, Seed: 5, Count: 60_000, TickInterval: 2 * time.Millisecond,
		OutOfOrderFraction: 0.05, OutOfOrderMax: 700 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var recs []stocklake.Record
	if err := sim.Run(ctx, func(r stocklake.Record) error { recs = append(recs, r); return nil }); err != nil {
		t.Fatal(err)
	}
	produce := func(rs []stocklake.Record) {
		p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: topic})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if err := p.Produce(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	future := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	produce(recs[:len(recs)/3])
	for p := range int32(3) {
		tk := stocklake.Tick{Symbol: "AAPL", Time: future, Price: 1, Size: 1, TradeID: fmt.Sprint("future-", p)}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Key: []byte(tk.Symbol), Value: tk.AppendJSON(nil)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(recs[len(recs)/3:])

	cfg := stream.Config{Windows: []time.Duration{time.Second, 5 * time.Second}, Delay: 500 * time.Millisecond, Lateness: 500 * time.Millisecond}
	run := exec.CommandContext(ctx, bin, "analyze", "--brokers", brokers, "--in", topic, "--group", group, "--instance-id", group+"-0",
		"--windows", "1s,5s", "--delay", "500ms", "--lateness", "500ms", "--out-prefix", prefix,
		"--alerts-topic", prefix+".alerts", "--late-topic", prefix+".late", "--idle-timeout", "1s", "--exit-when-idle", "--log-level", "warn")
	run.Env = envWith()
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("analyze: %v\n%s", err, out)
	}

	type key struct {
		w     time.Duration
		sym   string
		start int64
	}
	engines := map[int32]*stream.Engine{}
	var o stream.Output
	for _, r := range readCommitted(t, kc, topic) {
		tk, err := stocklake.ParseTick(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if tk.Time.Equal(future) {
			continue
		}
		e := engines[r.Partition]
		if e == nil {
			if e, err = stream.New(cfg); err != nil {
				t.Fatal(err)
			}
			engines[r.Partition] = e
		}
		if err := e.Process(r.Partition, &tk, &o); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range engines {
		e.AdvanceTo(time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC), &o)
	}
	if len(o.Late) > 0 {
		t.Fatalf("the simulated ticks have %d late ticks", len(o.Late))
	}
	want := map[key]stream.Bar{}
	for _, b := range o.Bars {
		want[key{b.Window, b.Symbol, b.Start.UnixMicro()}] = b
	}
	got, bad := map[key]int{}, 0
	for _, w := range cfg.Windows {
		for _, r := range readCommitted(t, kc, prefix+"."+stocklake.WindowLabel(w)) {
			b, ind, err := stocklake.ParseBar(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			k := key{b.Window, b.Symbol, b.Start.UnixMicro()}
			got[k]++
			if exp, ok := want[k]; !ok || b != exp.Bar || !sameIndicators(ind, exp.Indicators) {
				if bad++; bad <= 5 {
					t.Errorf("bar %v: got %+v, want %+v", k, b, exp.Bar)
				}
			}
		}
	}
	missing := 0
	for k := range want {
		if got[k] != 1 {
			if missing++; missing <= 5 {
				t.Errorf("bar %v appears %d times, want once", k, got[k])
			}
		}
	}
	if late := readCommitted(t, kc, prefix+".late"); len(late) > 0 {
		t.Errorf("%d late ticks, want none", len(late))
	}
	dlq := readCommitted(t, kc, group+".dlq")
	for _, r := range dlq {
		tk, err := stocklake.ParseTick(r.Value)
		reason := ""
		for _, h := range r.Headers {
			if h.Key == stocklake.HeaderError {
				reason = string(h.Value)
			}
		}
		if err != nil || !tk.Time.Equal(future) || !strings.Contains(reason, "ahead of the wall clock") {
			t.Errorf("dead letter %s with reason %q, want a future tick", r.Value, reason)
		}
	}
	t.Logf("%d ticks and 3 future ones: %d bars expected, %d missing or repeated, %d differ; %d dead letters",
		len(recs), len(want), missing, bad, len(dlq))
	if len(dlq) != 3 {
		t.Errorf("%d dead letters in %s.dlq, want the 3 future ticks", len(dlq), group)
	}
}
