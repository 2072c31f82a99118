package analyze

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/stream"
)

// TestRegisterMetrics: the analyzer's metrics carry its input and group,
// read Stats at scrape time, and include the webhook's when it has one.
func TestRegisterMetrics(t *testing.T) {
	for _, withWebhook := range []bool{false, true} {
		cfg := Config{Kafka: kafka.Config{Brokers: []string{"127.0.0.1:1"}}, In: "ticks", Group: "g1",
			Stream: stream.Config{Windows: []time.Duration{time.Minute}}}
		if withWebhook {
			wh, err := NewWebhook(WebhookConfig{URL: "http://127.0.0.1:1/hook"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { wh.Close(context.Background()) })
			cfg.Webhook = wh
		}
		a, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		if err := a.RegisterMetrics(reg); err != nil {
			t.Fatal(err)
		}
		if err := a.RegisterMetrics(reg); err == nil {
			t.Error("second RegisterMetrics: no error")
		}
		a.Stats().Bars.Store(7)
		a.Stats().Watermark.Store(1_500_000)
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, f := range fams {
			for _, m := range f.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if len(labels) != 2 || labels["input"] != "ticks" || labels["group"] != "g1" {
					t.Errorf("%s labels %v, want input=ticks group=g1", f.GetName(), labels)
				}
				got[f.GetName()] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
		want := 16
		if withWebhook {
			want = 19
		}
		_, hasWebhook := got["stocklake_analyze_webhook_sent_total"]
		if len(got) != want || hasWebhook != withWebhook || got["stocklake_analyze_bars_total"] != 7 || got["stocklake_analyze_watermark_seconds"] != 1.5 {
			t.Errorf("webhook %v: metrics = %v, want %d with bars_total 7 and watermark_seconds 1.5", withWebhook, got, want)
		}
	}
}
