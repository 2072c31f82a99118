package sink

import (
	"context"
	"io"
	"log/slog"
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
