package analyze

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/stream"
)

// TestRegisterMetrics: the analyzer's metrics carry its input and group,
// read Stats at scrape time, and include the webhook's when it has one;
// registering the same analyzer twice is an error.
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
		want := 16
		if withWebhook {
			want = 19
		}
		if n, err := testutil.GatherAndCount(reg); n != want || err != nil {
			t.Errorf("webhook %v: %d samples (%v), want %d", withWebhook, n, err, want)
		}
		a.Stats().Bars.Store(7)
		a.Stats().Watermark.Store(1_500_000)
		if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP stocklake_analyze_bars_total Final bars produced.
# TYPE stocklake_analyze_bars_total counter
stocklake_analyze_bars_total{group="g1",input="ticks"} 7
# HELP stocklake_analyze_watermark_seconds Least watermark over assigned partitions, Unix seconds (0 before data).
# TYPE stocklake_analyze_watermark_seconds gauge
stocklake_analyze_watermark_seconds{group="g1",input="ticks"} 1.5
`), "stocklake_analyze_bars_total", "stocklake_analyze_watermark_seconds"); err != nil {
			t.Errorf("webhook %v: %v", withWebhook, err)
		}
	}
}
