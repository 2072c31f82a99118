package sink

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/source"
)

// BenchmarkSink measures the sink end to end against an in-process broker:
// b.N simulated ticks consumed, encoded as Parquet and written to a local
// lake. bench/sink.sh measures the same with the broker in its own process.
func BenchmarkSink(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "ticks"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	kc := kafka.Config{Brokers: c.ListenAddrs()}
	sim, err := source.NewSimulator(source.SimulatorConfig{Count: int64(b.N), Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: "ticks"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := sim.Run(ctx, func(r stocklake.Record) error { return p.Produce(ctx, r) }); err != nil {
		b.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		b.Fatal(err)
	}
	st, err := file.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Config{Kafka: kc, Topic: "ticks", Store: st, FlushInterval: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	for s.Stats().Records.Load() < int64(b.N) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if got := s.Stats().Rows.Load(); got != int64(b.N) {
		b.Fatalf("rows %d, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ticks/s")
}

// simulatedTicks returns n simulated ticks as the sink decodes them.
func simulatedTicks(tb testing.TB, n int) (values [][]byte, ticks []stocklake.Tick) {
	tb.Helper()
	sim, err := source.NewSimulator(source.SimulatorConfig{Count: int64(n), Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	err = sim.Run(context.Background(), func(r stocklake.Record) error {
		t, err := stocklake.ParseTick(r.Value)
		if err != nil {
			return err
		}
		values = append(values, r.Value)
		ticks = append(ticks, t)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return values, ticks
}

// cpuTime returns the process's user and system CPU time.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTickWriter measures Parquet encoding and compression of
// simulated ticks (one file of 500,000 rows per op) as the sink does it;
// cpu-ns/row counts the CPU time of every goroutine (the encoding runs in
// the background) and B/row the file size.
func BenchmarkTickWriter(b *testing.B) {
	_, ticks := simulatedTicks(b, 500_000)
	codec, err := ParseCodec("zstd")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	var size int
	for b.Loop() {
		tw := newTickWriter(codec, DefaultRowGroupRows)
		for i := range ticks {
			if err := tw.add(newTickRow(&ticks[i])); err != nil {
				b.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if err := tw.finish(&buf, "[]"); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	rows := float64(b.N) * float64(len(ticks))
	b.ReportMetric(float64(cpuTime(b)-cpu0)/rows, "cpu-ns/row")
	b.ReportMetric(float64(size)/float64(len(ticks)), "B/row")
}

// BenchmarkParseTick measures decoding simulated ticks.
func BenchmarkParseTick(b *testing.B) {
	values, _ := simulatedTicks(b, 100_000)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for b.Loop() {
		for _, v := range values {
			if _, err := stocklake.ParseTick(v); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N*len(values)), "cpu-ns/tick")
}
