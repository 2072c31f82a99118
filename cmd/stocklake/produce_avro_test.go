package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/stocklake/stocklake"
)

// TestProduceAvroTicks: produce --format avro registers the tick schema
// under <topic>-value and writes Avro ticks framed with its ID; they read
// as ticks (ParseTick: the analyzer, the dashboard), and the sink lands
// them as the tick table, without a registry.
func TestProduceAvroTicks(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "avroticks"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	reg := srfake.New()
	defer reg.Close()
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	bin := stocklakeBinary(t)
	if out, err := exec.Command(bin, "produce", "--brokers", brokers, "--topic", "avroticks", "--count", "300", "--format", "avro",
		"--registry", reg.URL()).CombinedOutput(); err != nil {
		t.Fatalf("produce: %v\n%s", err, out)
	}
	ss, ok := reg.GetSchema("avroticks-value", 1)
	if !ok || ss.Schema.Schema != stocklake.TickAvroSchema {
		t.Fatalf("registered schema under avroticks-value: %v %+v, want the tick schema", ok, ss)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics("avroticks"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := 0
	for n < 300 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			n++
			if len(r.Value) < 5 || r.Value[0] != 0 || int(r.Value[4]) != ss.ID {
				t.Fatalf("record %x is not framed with schema ID %d", r.Value, ss.ID)
			}
			if _, err := stocklake.ParseTick(r.Value); err != nil {
				t.Fatalf("Avro tick does not parse: %v", err)
			}
			for _, h := range r.Headers {
				if h.Key == "content-type" && string(h.Value) != stocklake.TickAvroContentType {
					t.Fatalf("content-type %q, want %q", h.Value, stocklake.TickAvroContentType)
				}
			}
		})
	}
	if n != 300 {
		t.Fatalf("read %d records, want 300", n)
	}

	dir := t.TempDir()
	common := []string{"--lake", "file://" + filepath.Join(dir, "lake"), "--catalog", "sqlite://" + filepath.Join(dir, "catalog.db")}
	if out, err := exec.Command(bin, append([]string{"sink", "--brokers", brokers, "--topic", "avroticks", "--table-format", "hive", "--exit-when-idle", "--flush-interval", "200ms"}, common...)...).CombinedOutput(); err != nil {
		t.Fatalf("sink: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "query", "--catalog", common[3], "--lake", common[1], "--format", "csv",
		"SELECT count(*), count(DISTINCT symbol), min(price) > 0 FROM avroticks").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"300",`) || !strings.Contains(string(out), `"true"`) {
		t.Fatalf("query of the landed Avro ticks: %v\n%s", err, out)
	}
}
