package sink

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/iceberg"
)

// TestIcebergSinkJSONPartitionFieldNames lands JSON records into a new
// table partitioned by day of a time field and by fields whose names are no
// Avro names ("heure é", "région", "a-b"): every record lands once, in
// folders named by the partition fields' Avro-safe names. Iceberg-go
// refuses to write a manifest whose partition fields have other names
// ("invalid field name"), so every commit of such a table used to fail and
// was retried for ever: the sink was wedged at its first batch.
func TestIcebergSinkJSONPartitionFieldNames(t *testing.T) {
	kc := newCluster(t, "orders")
	var keys, values [][]byte
	var ids []string
	for i := range 60 {
		v := fmt.Sprintf(`{"order_id":"o%d","heure é":"2026-11-26T12:00:%02dZ","région":%q,"a-b":%d}`, i, i, []string{"eu", "us", "é/x"}[i%3], i%2)
		keys, values, ids = append(keys, []byte("k")), append(values, []byte(v)), append(ids, fmt.Sprint("o", i))
	}
	produceValues(t, kc, "orders", keys, values)
	l := newJSONLake(t)
	cfg := jsonIceConfig(Config{Kafka: kc, ExitWhenIdle: true, Schema: SchemaJSON, TimeField: "heure é"}, l, t)
	cfg.Committer.(*iceberg.LazyTable).Partitioning = "day,région,a-b"
	s, err := runSinkWith(t, cfg, nil, never)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().DeadLetters.Load(); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
	assertOrdersOnce(t, l, ids)
	var want []string
	for _, r := range []string{"eu", "us", "~C3~A9~2Fx"} {
		for ab := range 2 {
			want = append(want, fmt.Sprintf("heure_x20_xE9_day=2026-11-26/r_xE9gion=%s/a_x2Db=%d", r, ab))
		}
	}
	assertFilesInPartitions(t, l, "orders", want)
}

// TestIcebergSinkJSONDottedPartitionColumns: a partitioning by a column
// whose name has a dot ("a.b", or a time field "evt.ts") is refused with a
// config error saying so: iceberg-go reads a dotted name as a nested
// column, finds no statistics for it in the sink's files, and refused
// every commit ("no statistics for the partition field"), so the sink
// stopped at its first batch on every start. Unpartitioned, such a time
// field lands.
func TestIcebergSinkJSONDottedPartitionColumns(t *testing.T) {
	kc := newCluster(t, "orders")
	var keys, values [][]byte
	for i := range 20 {
		keys = append(keys, []byte("k"))
		values = append(values, fmt.Appendf(nil, `{"order_id":"o%d","evt.ts":"2026-11-26T12:00:%02dZ","a.b":%d}`, i, i, i%2))
	}
	produceValues(t, kc, "orders", keys, values)
	for _, c := range []struct{ partitioning, timeField string }{{"day,a.b", "ts"}, {"day", "evt.ts"}} {
		l := newJSONLake(t)
		cfg := jsonIceConfig(Config{Kafka: kc, ExitWhenIdle: true, Schema: SchemaJSON, TimeField: c.timeField}, l, t)
		cfg.Committer.(*iceberg.LazyTable).Partitioning = c.partitioning
		if c.timeField == "ts" {
			cfg.TimeField = "evt.ts"
		}
		_, err := runSinkWith(t, cfg, nil, never)
		if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), "dot") {
			t.Errorf("partitioning %q, time field %q: %v, want a config error about the dot", c.partitioning, cfg.TimeField, err)
		}
	}
	l := newJSONLake(t)
	cfg := jsonIceConfig(Config{Kafka: kc, ExitWhenIdle: true, Schema: SchemaJSON, TimeField: "evt.ts"}, l, t)
	cfg.Committer.(*iceberg.LazyTable).Partitioning = "none"
	if _, err := runSinkWith(t, cfg, nil, never); err != nil {
		t.Fatal(err)
	}
	assertOrdersOnce(t, l, orderIDs("o", 0, 20))
}

// TestIcebergSinkJSONColumnLimit: a feed whose keys are data (a new field
// per record) stops widening the table at MaxColumns: the first table
// takes the time field and the first fields by name up to the limit, a
// later batch widens it to the limit, and the records whose fields do not
// fit go to the dead-letter topic with the reason; every other record
// lands once. The table used to take every field, a schema version per
// flush, without end.
func TestIcebergSinkJSONColumnLimit(t *testing.T) {
	kc := newCluster(t, "orders")
	l := newJSONLake(t)
	produce := func(from, n int) {
		var keys, values [][]byte
		for i := from; i < from+n; i++ {
			keys = append(keys, []byte("k"))
			values = append(values, fmt.Appendf(nil, `{"order_id":"o%d","event_time":"2026-11-26T12:00:00Z","f%03d":%d}`, i, i, i))
		}
		produceValues(t, kc, "orders", keys, values)
	}
	var dead int64
	for _, run := range [][2]int{{0, 6}, {6, 6}} { // columns: event_time, order_id, then f000..
		produce(run[0], run[1])
		s, err := runSinkWith(t, jsonIceConfig(Config{Kafka: kc, ExitWhenIdle: true, MaxColumns: 5, MaxRows: 1000}, l, t), nil, never)
		if err != nil {
			t.Fatal(err)
		}
		dead += s.Stats().DeadLetters.Load()
	}
	_, shape, _ := l.shape(t, "orders")
	if len(shape.Columns) != 5 {
		t.Errorf("%d columns %v, want 5", len(shape.Columns), shape.Columns)
	}
	// f000..f002 fit (5 columns with event_time and order_id); the 9 others
	// records' fields do not.
	if dead != 9 {
		t.Errorf("%d dead letters, want 9", dead)
	}
	assertOrdersOnce(t, l, orderIDs("o", 0, 3))
	for _, r := range readDLQ(t, kc, stocklake.DeadLetterTopic("orders")) {
		if !strings.Contains(header(r, stocklake.HeaderError), "the most the sink adds") {
			t.Errorf("dead letter %s: %s", r.Value, header(r, stocklake.HeaderError))
		}
	}
}
