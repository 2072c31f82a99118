package dashboard

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
)

// TestHealthLagAfterRetention: the health page's lag counts from the log
// start offset, not from 0, once retention (here DeleteRecords) removed
// the oldest records: they are not there to read. Before, a group that had
// committed nothing showed the end offset as its lag, and one whose commit
// was before the log start showed records that no longer exist.
func TestHealthLagAfterRetention(t *testing.T) {
	kc := testBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kc.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kafka.EnsureTopic(ctx, cl, kafka.TopicSpec{Name: "ticks", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if err := p.Produce(ctx, stocklake.Record{Key: []byte("k"), Value: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// All records went to one partition (one key); the group commits on
	// the other, empty one, so that it exists.
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	part := int32(0)
	if o, _ := ends.Lookup("ticks", 1); o.Offset == 10 {
		part = 1
	}
	commit := func(p int32, at int64) {
		t.Helper()
		var o kadm.Offsets
		o.Add(kadm.Offset{Topic: "ticks", Partition: p, At: at, LeaderEpoch: -1})
		if err := adm.CommitAllOffsets(ctx, "g", o); err != nil {
			t.Fatal(err)
		}
	}
	commit(1-part, 0)
	var trim kadm.Offsets
	trim.Add(kadm.Offset{Topic: "ticks", Partition: part, At: 7})
	if res, err := adm.DeleteRecords(ctx, trim); err != nil || res.Error() != nil {
		t.Fatalf("delete records: %v %v", err, res.Error())
	}
	pr := newProber(cl, "ticks", "ticks.dlq", "g")
	lag := func() PartitionLag {
		t.Helper()
		var h Health
		if err := pr.probe(ctx, &h); err != nil {
			t.Fatal(err)
		}
		for _, pl := range h.Partitions {
			if pl.Partition == part {
				return pl
			}
		}
		t.Fatalf("partitions = %+v, want partition %d", h.Partitions, part)
		return PartitionLag{}
	}
	if got := lag(); got.End != 10 || got.Committed != -1 || got.Lag != 3 {
		t.Errorf("nothing committed, records 0-6 deleted: %+v, want end 10, committed -1, lag 3", got)
	}
	for _, c := range []struct{ at, want int64 }{{2, 3}, {8, 2}, {10, 0}} {
		commit(part, c.at)
		if got := lag(); got.Committed != c.at || got.Lag != c.want {
			t.Errorf("committed %d, log start 7, end 10: %+v, want lag %d", c.at, got, c.want)
		}
	}
}

// testBroker starts an embedded broker for the test.
func testBroker(t *testing.T) kafka.Config {
	t.Helper()
	br, err := kafka.StartBroker(kafka.BrokerConfig{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	return kafka.Config{Brokers: []string{br.Addr()}}
}
