package sink

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/kafka"
)

// TestRegisterMetrics: the sink's metrics read its Stats at scrape time,
// labelled with the table, with the names and help texts dashboards and
// bench/ read; registering the same sink twice is an error.
func TestRegisterMetrics(t *testing.T) {
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Kafka: kafka.Config{Brokers: []string{"127.0.0.1:1"}}, Topic: "Ticks.v2", Store: st})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := s.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterMetrics(reg); err == nil {
		t.Error("second RegisterMetrics: no error")
	}
	for _, name := range []string{"records_total", "rows_total", "objects_total", "bytes_total", "dead_letters_total",
		"commits_total", "retries_total", "buffered_bytes", "lag_records", "dead_letters_truncated_total", "open_partitions",
		"commit_failures_total", "fenced_batches_total", "partitions", "last_commit_timestamp_seconds"} {
		if n, err := testutil.GatherAndCount(reg, "stocklake_sink_"+name); n != 1 || err != nil {
			t.Errorf("stocklake_sink_%s: %d samples (%v), want 1", name, n, err)
		}
	}
	s.Stats().Rows.Store(1234)
	s.Stats().Lag.Store(56)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP stocklake_sink_lag_records Records in the topic not yet consumed.
# TYPE stocklake_sink_lag_records gauge
stocklake_sink_lag_records{table="ticks_v2"} 56
# HELP stocklake_sink_rows_total Rows written to the lake and committed.
# TYPE stocklake_sink_rows_total counter
stocklake_sink_rows_total{table="ticks_v2"} 1234
`), "stocklake_sink_rows_total", "stocklake_sink_lag_records"); err != nil {
		t.Error(err)
	}
}
