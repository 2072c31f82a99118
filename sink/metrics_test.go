package sink

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/kafka"
)

// TestRegisterMetrics: the sink's metrics read its Stats at scrape time,
// labelled with the table; registering the same sink twice is an error.
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
	s.Stats().Rows.Store(1234)
	s.Stats().Lag.Store(56)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			if l := m.GetLabel(); len(l) != 1 || l[0].GetName() != "table" || l[0].GetValue() != "ticks_v2" {
				t.Errorf("%s labels %v, want table=ticks_v2", f.GetName(), l)
			}
			got[f.GetName()] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	for _, name := range []string{"records_total", "rows_total", "objects_total", "bytes_total", "dead_letters_total",
		"commits_total", "retries_total", "buffered_bytes", "lag_records"} {
		if _, ok := got["stocklake_sink_"+name]; !ok {
			t.Errorf("no stocklake_sink_%s", name)
		}
	}
	if got["stocklake_sink_rows_total"] != 1234 || got["stocklake_sink_lag_records"] != 56 || got["stocklake_sink_records_total"] != 0 {
		t.Errorf("metrics = %v, want rows_total 1234, lag_records 56, records_total 0", got)
	}
}
