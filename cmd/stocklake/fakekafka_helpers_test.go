package main

import (
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
)

// fakeKafka starts an in-process Kafka cluster (kfake) of one broker with
// the topic "ticks" of the given partitions, and more options, closed when
// the test ends. It returns the brokers as a --brokers value and as client
// settings.
func fakeKafka(t *testing.T, partitions int32, opts ...kfake.Opt) (string, kafka.Config) {
	t.Helper()
	cluster, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, "ticks")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	return strings.Join(cluster.ListenAddrs(), ","), kafka.Config{Brokers: cluster.ListenAddrs()}
}

// produceTicks produces n ticks, tick(0) to tick(n-1), to the topic
// "ticks" as JSON records keyed by symbol, returns once every one is
// written, and returns them.
func produceTicks(t *testing.T, kc kafka.Config, n int, tick func(i int) stocklake.Tick) []stocklake.Tick {
	t.Helper()
	ctx := context.Background()
	p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]stocklake.Tick, n)
	for i := range out {
		out[i] = tick(i)
		if err := p.Produce(ctx, stocklake.Record{Key: []byte(out[i].Symbol), Value: out[i].AppendJSON(nil)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return out
}
