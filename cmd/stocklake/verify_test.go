package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
)

// TestVerifyCommand runs `stocklake sink` into a Hive table over a kfake
// broker whose partition lost its first records to retention and whose
// records include a run of malformed ones (whole batches go to the
// dead-letter topic, so no object covers them), then `stocklake verify`:
// without --brokers the dead-letter gap fails it and the leading gap is
// reported unchecked; with --brokers both are explained and it passes; an
// object deleted from the lake fails it again.
func TestVerifyCommand(t *testing.T) {
	brokers, kc := fakeKafka(t, 1, kfake.AllowAutoTopicCreation())
	ctx := context.Background()
	p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	for i := range 400 {
		v := []byte("not a tick " + strconv.Itoa(i))
		if i < 200 || i >= 300 { // offsets 200..299 are malformed
			tk := stocklake.Tick{Symbol: "AAPL", Time: base.Add(time.Duration(i) * time.Second), Price: 1, Size: 1, Exchange: "X", TradeID: strconv.Itoa(i), Source: "test"}
			v = tk.AppendJSON(nil)
		}
		if err := p.Produce(ctx, stocklake.Record{Key: []byte("AAPL"), Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Retention: the first 40 records are gone before the sink starts.
	cl, err := kc.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	dr, err := kadm.NewClient(cl).DeleteRecords(ctx, kadm.Offsets{"ticks": {0: {Topic: "ticks", Partition: 0, At: 40}}})
	cl.Close()
	if err != nil || dr.Error() != nil {
		t.Fatalf("delete records: %v %v", err, dr.Error())
	}
	lakeDir := filepath.Join(t.TempDir(), "lake")
	lake := "file://" + lakeDir
	if err := runCommand(t, "sink", "--brokers", brokers, "--topic", "ticks", "--lake", lake, "--catalog", "", "--table-format", "hive", "--exit-when-idle",
		"--flush-interval", "100ms", "--max-rows", "50"); err != nil {
		t.Fatal(err)
	}
	verify := func(extra ...string) error {
		return runCommand(t, append([]string{"verify", "--table", "ticks", "--lake", lake, "--catalog", "sqlite://" + filepath.Join(t.TempDir(), "none.db")}, extra...)...)
	}
	if err := verify(); !errors.Is(err, errIncomplete) {
		t.Fatalf("verify without brokers over a dead-letter gap: %v, want %v", err, errIncomplete)
	}
	if err := verify("--brokers", brokers); err != nil {
		t.Fatalf("verify with brokers: %v, want the retention and dead-letter gaps explained", err)
	}
	if err := verify("--brokers", brokers, "--json"); err != nil {
		t.Fatal(err)
	}
	// Lose the second object (batches start at 40, 90, ...): no
	// explanation covers its offsets.
	victim := filepath.Join(lakeDir, "ticks", "dt=2026-11-26", "hour=14", "ticks+"+topicIDOf(t, kc)+"+0+0000000000000000090.parquet")
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	out, err := captureStdout(t, func() error { return verify("--brokers", brokers) })
	if !errors.Is(err, errIncomplete) {
		t.Fatalf("verify after losing %s: %v, want %v", victim, err, errIncomplete)
	}
	if !strings.Contains(out, "gap      "+topicIDOf(t, kc)+":0 [90, 140): 50 offsets, NOT explained") {
		t.Errorf("verify output does not name the gap [90, 140):\n%s", out)
	}
}

func topicIDOf(t *testing.T, kc kafka.Config) string {
	t.Helper()
	cl, err := kc.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	id, err := kafka.TopicID(context.Background(), cl, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// captureStdout runs f with os.Stdout going to a pipe and returns what it
// printed and its error.
func captureStdout(t *testing.T, f func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	ferr := f()
	os.Stdout = old
	w.Close()
	return string(<-done), ferr
}
