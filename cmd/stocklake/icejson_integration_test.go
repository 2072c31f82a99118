package main

import (
	"context"
	"fmt"
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
	r := newIcejsonRun(t)
	ctx, produce, sinkArgs := context.Background(), r.produce, r.sinkArgs
	base := time.Date(2026, 11, 26, 23, 58, 0, 0, time.UTC)
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
	r.sink("sink-c", uniqueName("g2-"))

	var got struct {
		Rows, Distinct int
		Types          map[string]string
		Required       []string
		Spec           string
		Offsets        map[string]int64
		DayRows        int `json:"day_rows"`
		Nulls          map[string]int
	}
	r.pyiceberg(&got, "order_id", "event_time", "2026-11-27T00:00:00+00:00", "2026-11-28T00:00:00+00:00")
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
	if len(got.Offsets) != 3 || sum != int64(r.records) {
		t.Errorf("pyiceberg reads offsets %v: want 3 partitions summing to %d", got.Offsets, r.records)
	}
	dlq, err := kafka.ReadCommitted(ctx, r.kc, stocklake.DeadLetterTopic(r.topic))
	if err != nil {
		t.Fatal(err)
	}
	if len(dlq) != 1 {
		t.Errorf("%d dead letters, want the misfit", len(dlq))
	}
}

// icejsonRun is a JSON topic of 3 partitions on the real Kafka of
// STOCKLAKE_KAFKA_BROKERS, landed by `stocklake sink --table-format
// iceberg` into a table of a sqlite catalog on a file:// lake, which
// pyiceberg reads (iceberg/testdata/read_json_pyiceberg.py).
type icejsonRun struct {
	t                *testing.T
	kc               kafka.Config
	brokers, topic   string
	lake, dbPath, py string
	p                *kafka.Producer
	records          int
}

func newIcejsonRun(t *testing.T) *icejsonRun {
	t.Helper()
	env := requireEnv(t, "STOCKLAKE_KAFKA_BROKERS")
	r := &icejsonRun{t: t, brokers: env["STOCKLAKE_KAFKA_BROKERS"], py: pythonWithPyarrow(t)}
	dir := t.TempDir()
	r.lake, r.dbPath = "file://"+filepath.Join(dir, "lake"), filepath.Join(dir, "catalog.db")
	r.topic, r.kc, r.p = newTopic(t, r.brokers, "icejson-")
	return r
}

// produce sends values to the topic, keyed over 17 keys, and waits.
func (r *icejsonRun) produce(values ...[]byte) {
	ctx := context.Background()
	for _, v := range values {
		if err := r.p.Produce(ctx, stocklake.Record{Key: fmt.Appendf(nil, "k%d", r.records%17), Value: v}); err != nil {
			r.t.Fatal(err)
		}
		r.records++
	}
	if err := r.p.Flush(ctx); err != nil {
		r.t.Fatal(err)
	}
}

// sinkArgs are the arguments of a sink of group on the topic, then extra.
func (r *icejsonRun) sinkArgs(group string, extra ...string) []string {
	return append([]string{"sink", "--brokers", r.brokers, "--topic", r.topic, "--group", group, "--lake", r.lake,
		"--catalog", "sqlite://" + r.dbPath, "--database", "market", "--table-format", "iceberg",
		"--exit-when-idle", "--flush-interval", "200ms", "--max-rows", "500"}, extra...)
}

// sink runs a sink of group to its end.
func (r *icejsonRun) sink(name, group string, extra ...string) {
	r.t.Helper()
	p := startProc(r.t, name, false, envWith(), r.sinkArgs(group, extra...)...)
	p.wait(3 * time.Minute)
	if p.err != nil {
		r.t.Fatalf("%s: %v", name, p.err)
	}
}

// pyiceberg runs read_json_pyiceberg.py on the table with args (KEY
// TIME_FIELD DAY_START DAY_END [PARTITION_COLUMN]) and decodes what it
// printed into v.
func (r *icejsonRun) pyiceberg(v any, args ...string) {
	r.t.Helper()
	table := "market." + strings.ReplaceAll(r.topic, "-", "_")
	pythonJSON(r.t, r.py, v, "iceberg/testdata/read_json_pyiceberg.py", append([]string{r.dbPath, r.lake, table}, args...)...)
}

// TestIcebergSinkJSONPartitionedPyicebergIntegration lands a real Kafka
// topic of JSON records into a new table partitioned by day of the event
// time and the values of a field (--partition-by day,region) with the
// real binary, then more records with a new field (the table widens)
// with a second sink that follows the table. The region values are
// awkward: '/', '..', a number in a text column, missing and null (the
// null partition). pyiceberg reads the table: its spec, its partitions
// (inspect.partitions: values and row counts from the table's metadata,
// not from folder names), rows through filters on region, and every
// order once.
func TestIcebergSinkJSONPartitionedPyicebergIntegration(t *testing.T) {
	r := newIcejsonRun(t)
	regions := []string{`"eu"`, `"a/b"`, `".."`, ``, `null`, `7`}
	orders := func(from, n int, extra string) (out [][]byte) {
		for i := from; i < from+n; i++ {
			v := fmt.Sprintf(`{"order_id":"o%d","event_time":"2026-11-%02dT12:00:%02dZ","qty":%d%s`, i, 26+i%2, i%60, i, extra)
			if rg := regions[i%6]; rg != "" {
				v += `,"region":` + rg
			}
			out = append(out, []byte(v+"}"))
		}
		return out
	}
	r.produce(orders(0, 3000, "")...)
	r.sink("sink-a", uniqueName("g1-"), "--partition-by", "day,region")
	r.produce(orders(3000, 60, `,"side":"buy"`)...)
	r.sink("sink-b", uniqueName("g2-"))
	var got struct {
		Rows, Distinct int
		Types          map[string]string
		Spec           string
		Nulls          map[string]int
		Partitions     map[string]int
		Filtered       map[string]int
	}
	r.pyiceberg(&got, "order_id", "event_time", "2026-11-27T00:00:00+00:00", "2026-11-28T00:00:00+00:00", "region")
	if got.Rows != 3060 || got.Distinct != 3060 {
		t.Errorf("pyiceberg counts %d rows, %d distinct order_id; want 3060, 3060", got.Rows, got.Distinct)
	}
	if got.Types["region"] != "string" || got.Types["side"] != "string" || got.Nulls["side"] != 3000 {
		t.Errorf("types %v, nulls %v: want region and side strings, side null in the 3000 rows before it appeared", got.Types, got.Nulls)
	}
	if !strings.Contains(got.Spec, "day(") || !strings.Contains(got.Spec, "region: identity(") {
		t.Errorf("partition spec %s, want day(event_time) and identity(region)", got.Spec)
	}
	want := map[string]int{"eu": 510, "a/b": 510, "..": 510, "7": 510, "null": 1020}
	if fmt.Sprint(got.Partitions) != fmt.Sprint(want) || fmt.Sprint(got.Filtered) != fmt.Sprint(want) {
		t.Errorf("pyiceberg reads rows per region value %v from the partitions, %v through filters; want %v", got.Partitions, got.Filtered, want)
	}
}
