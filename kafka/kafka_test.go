package kafka

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
)

func TestParseBrokers(t *testing.T) {
	got, err := ParseBrokers(" a:1, b:2 ,")
	if err != nil || len(got) != 2 || got[0] != "a:1" || got[1] != "b:2" {
		t.Fatalf("ParseBrokers = %v, %v", got, err)
	}
	for _, bad := range []string{"", " , ", "hostonly"} {
		if _, err := ParseBrokers(bad); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("ParseBrokers(%q) = %v, want ErrConfig", bad, err)
		}
	}
	if _, err := ParseCompression("brotli"); !errors.Is(err, stocklake.ErrConfig) {
		t.Errorf("ParseCompression(brotli) = %v", err)
	}
	if _, err := (Config{Brokers: []string{"a:1"}, SASLMechanism: "GSSAPI"}).Opts(); !errors.Is(err, stocklake.ErrConfig) {
		t.Errorf("unsupported SASL accepted: %v", err)
	}
}

// TestBrokerKeepsDataAcrossRestart produces through the embedded broker,
// restarts it on the same data directory and reads everything back, with the
// same topic ID.
func TestBrokerKeepsDataAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := StartBroker(BrokerConfig{Listen: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	kc := Config{Brokers: []string{addr}}
	p, err := NewProducer(kc, ProducerConfig{Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	id1, err := EnsureTopic(ctx, p.Client(), TopicSpec{Name: "t", Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureTopic(ctx, p.Client(), TopicSpec{Name: "t", Partitions: 2}); err != nil {
		t.Fatalf("EnsureTopic on an existing topic: %v", err)
	}
	for i := 0; i < 100; i++ {
		if err := p.Produce(ctx, stocklake.Record{Key: []byte{byte(i % 7)}, Value: []byte(`{"i":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if p.Acked() != 100 || p.Failed() != 0 {
		t.Fatalf("acked %d failed %d", p.Acked(), p.Failed())
	}
	b.Close()

	b, err = StartBroker(BrokerConfig{Listen: addr, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err := kc.NewClient(kgo.ConsumeTopics("t"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	id2, err := TopicID(ctx, cl, "t")
	if err != nil {
		t.Fatal(err)
	}
	if id1 != id2 || id1 == "" || id1 == "0" {
		t.Fatalf("topic id changed across restart: %q -> %q", id1, id2)
	}
	n := 0
	for n < 100 && ctx.Err() == nil {
		n += cl.PollFetches(ctx).NumRecords()
	}
	if n != 100 {
		t.Fatalf("read %d records after restart, want 100", n)
	}
}

func TestPingReportsUnreachableBroker(t *testing.T) {
	kc := Config{Brokers: []string{"127.0.0.1:1"}}
	cl, err := kc.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := Ping(ctx, cl, kc.Brokers); !errors.Is(err, stocklake.ErrUnavailable) {
		t.Fatalf("Ping = %v, want ErrUnavailable", err)
	}
}

func TestLag(t *testing.T) {
	for _, c := range []struct{ start, next, end, want int64 }{
		{0, 0, 0, 0},
		{0, 0, 10, 10},
		{0, 4, 10, 6},
		{0, 10, 10, 0},
		{0, 12, 10, 0},  // ahead of a stale end: not negative
		{0, -1, 10, 10}, // nothing committed: from the start
		{7, -1, 10, 3},  // nothing committed, log trimmed to 7
		{7, 2, 10, 3},   // committed before the log start: records 2..6 are gone
		{7, 8, 10, 2},
		{-1, -1, 10, 10}, // start unknown
		{0, 0, -1, 0},    // end unknown
		{0, 1<<62 + 5, 1 << 62, 0},
		{0, 0, 1<<63 - 1, 1<<63 - 1},
	} {
		if got := Lag(c.start, c.next, c.end); got != c.want {
			t.Errorf("Lag(start %d, next %d, end %d) = %d, want %d", c.start, c.next, c.end, got, c.want)
		}
	}
}
