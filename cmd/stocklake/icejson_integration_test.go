package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
)

// TestIcebergSinkJSONPyicebergIntegration lands a real Kafka topic of JSON
// order events (no ticks; the default --schema auto) with the real binary,
// `stocklake sink --table-format iceberg`: two sink processes of one group
// at once, before the table exists (they must agree on its schema), then,
// after more records, ten with fields the table does not have yet (it is
// widened: a late nested object, a name that differs from a column only
// in case) and one that does not fit the table, one more sink in another
// group (it resumes from the table's offsets and follows the table's
// schema). pyiceberg (PyPI), not stocklake, reads the table: its column
// types (the new ones too, null in older rows), day(event_time)
// partitioning, every order once, a day's rows through a filter on
// event_time, and offsets covering every record.
// Some field names are awkward: a dot, non-ASCII, and the name the
// partition field would have (event_time_day).
func TestIcebergSinkJSONPyicebergIntegration(t *testing.T) {
	env := requireEnv(t, "STOCKLAKE_KAFKA_BROKERS")
	brokers := env["STOCKLAKE_KAFKA_BROKERS"]
	py := pythonWithPyarrow(t)
	dir := t.TempDir()
	lake, dbPath := "file://"+filepath.Join(dir, "lake"), filepath.Join(dir, "catalog.db")
	ctx := context.Background()
	topic := uniqueName("icejson-")
	kc := kafka.Config{Brokers: strings.Split(brokers, ",")}
	p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	if _, err := kafka.EnsureTopic(ctx, p.Client(), kafka.TopicSpec{Name: topic, Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 26, 23, 58, 0, 0, time.UTC)
	records := 0
	produce := func(values ...[]byte) {
		for _, v := range values {
			if err := p.Produce(ctx, stocklake.Record{Key: fmt.Appendf(nil, "k%d", records%17), Value: v}); err != nil {
				t.Fatal(err)
			}
			records++
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	orders := func(from, n int) (out [][]byte) {
		for i := from; i < from+n; i++ {
			note := "null"
			if i%4 == 0 {
				note = `"rush"`
			}
			out = append(out, fmt.Appendf(nil, `{"order_id":"o%d","event_time":%q,"qty":%d,"price":%d.5,"filled":%t,"venue":{"mic":"XNAS"},"note":%s,"a.b":%d,"ünï":"u","event_time_day":"d"}`,
				i, base.Add(time.Duration(i)*30*time.Millisecond).Format(time.RFC3339Nano), i%9+1, 10+i%40, i%2 == 0, note, i))
		}
		return out
	}
	sinkArgs := func(group string) []string {
		return []string{"sink", "--brokers", brokers, "--topic", topic, "--group", group, "--lake", lake,
			"--catalog", "sqlite://" + dbPath, "--database", "market", "--table-format", "iceberg",
			"--exit-when-idle", "--flush-interval", "200ms", "--max-rows", "500"}
	}
	produce(orders(0, 6000)...)
	g1 := uniqueName("g1-")
	a, b := startProc(t, "sink-a", false, envWith(), sinkArgs(g1)...), startProc(t, "sink-b", false, envWith(), sinkArgs(g1)...)
	for _, s := range []*proc{a, b} {
		s.wait(3 * time.Minute)
		if s.err != nil {
			t.Fatalf("%s: %v", s.name, s.err)
		}
	}
	misfits := [][]byte{
		fmt.Appendf(nil, `{"order_id":"bad1","event_time":%q,"qty":"nine","never":1}`, base.Format(time.RFC3339)),
	}
	for i := range 10 {
		misfits = append(misfits, fmt.Appendf(nil, `{"order_id":"w%d","event_time":%q,"side":"buy","Qty":"%d lots","meta":{"k":[%d]}}`, i, base.Format(time.RFC3339), i, i))
	}
	produce(append(orders(6000, 2000), misfits...)...)
	c := startProc(t, "sink-c", false, envWith(), sinkArgs(uniqueName("g2-"))...)
	c.wait(3 * time.Minute)
	if c.err != nil {
		t.Fatalf("sink-c: %v", c.err)
	}

	script := filepath.Join(repoRoot(t), "iceberg", "testdata", "read_json_pyiceberg.py")
	table := "market." + strings.ReplaceAll(topic, "-", "_")
	cmd := exec.Command(py, "-P", script, dbPath, lake, table, "order_id", "event_time", "2026-11-27T00:00:00+00:00", "2026-11-28T00:00:00+00:00")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyiceberg: %v\n%s", err, stderr.String())
	}
	t.Logf("pyiceberg: %s", bytes.TrimSpace(out))
	var got struct {
		Rows, Distinct int
		Types          map[string]string
		Required       []string
		Spec           string
		Offsets        map[string]int64
		DayRows        int `json:"day_rows"`
		Nulls          map[string]int
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("pyiceberg printed %s: %v", out, err)
	}
	if got.Rows != 8010 || got.Distinct != 8010 {
		t.Errorf("pyiceberg counts %d rows, %d distinct order_id; want 8010, 8010", got.Rows, got.Distinct)
	}
	wantTypes := map[string]string{"order_id": "string", "event_time": "timestamptz", "qty": "long", "price": "double",
		"filled": "boolean", "venue": "string", "note": "string", "a.b": "long", "ünï": "string", "event_time_day": "string",
		"side": "string", "Qty": "string", "meta": "string"}
	if fmt.Sprint(got.Types) != fmt.Sprint(wantTypes) || len(got.Required) != 0 {
		t.Errorf("pyiceberg reads columns %v (required %v), want %v, all optional", got.Types, got.Required, wantTypes)
	}
	if !strings.Contains(got.Spec, "day(") || !strings.Contains(got.Spec, "event_time_day_:") {
		t.Errorf("partition spec %s, want day(event_time)", got.Spec)
	}
	if got.Nulls["note"] != 6010 || got.Nulls["side"] != 8000 || got.Nulls["Qty"] != 8000 || got.Nulls["qty"] != 10 {
		t.Errorf("nulls %v: want note 6010, side and Qty 8000 (rows before the table was widened), qty 10", got.Nulls)
	}
	if got.DayRows <= 0 || got.DayRows >= 8000 {
		t.Errorf("pyiceberg counts %d rows on 2026-11-27, want some but not all 8010", got.DayRows)
	}
	var sum int64
	for _, o := range got.Offsets {
		sum += o
	}
	if len(got.Offsets) != 3 || sum != int64(records) {
		t.Errorf("pyiceberg reads offsets %v: want 3 partitions summing to %d", got.Offsets, records)
	}
	dlq, err := kafka.ReadCommitted(ctx, kc, stocklake.DeadLetterTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	if len(dlq) != 1 {
		t.Errorf("%d dead letters, want the misfit", len(dlq))
	}
}
