package analyze

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stocklake/stocklake/internal/metrics"
)

// RegisterMetrics registers the analyzer's metrics into reg: its Stats as
// stocklake_analyze_* counters and gauges, labelled with the input topic
// and the group ({input="ticks",group="stocklake-analyze"}), plus the
// webhook's stocklake_analyze_webhook_* counters when Config.Webhook is
// set; all read at scrape time. It fails if reg already holds them.
func (a *Analyzer) RegisterMetrics(reg prometheus.Registerer) error {
	st := a.Stats()
	m := metrics.Funcs{Prefix: "stocklake_analyze_", Labels: prometheus.Labels{"input": a.cfg.In, "group": a.cfg.Group}}
	counter, gauge := m.Counter, m.Gauge
	cs := []prometheus.Collector{
		counter("ticks_total", "Input records consumed.", st.Ticks.Load),
		counter("rejected_total", "Input records refused and sent to the dead-letter topic.", st.Rejected.Load),
		counter("future_ticks_total", "Ticks refused for an event time beyond --max-future (included in rejected_total).", st.Future.Load),
		counter("ignored_checkpoints_total", "Checkpoints ignored for an event time beyond --max-future.", st.Ignored.Load),
		counter("late_ticks_total", "Late ticks sent to the late topic.", st.Late.Load),
		counter("bars_total", "Final bars produced.", st.Bars.Load),
		counter("provisional_bars_total", "Provisional bars produced.", st.Provisional.Load),
		counter("alerts_total", "Alerts produced.", st.Alerts.Load),
		counter("commits_total", "Transactions committed.", st.Commits.Load),
		counter("aborts_total", "Transactions aborted.", st.Aborts.Load),
		m.CounterFloat("commit_seconds_total", "Time spent ending transactions.", func() float64 { return float64(st.CommitNanos.Load()) / 1e9 }),
		counter("checkpoints_total", "Partition state checkpoints committed.", st.Checkpoints.Load),
		counter("state_bytes_total", "Compressed checkpoint bytes produced.", st.StateBytes.Load),
		counter("restores_total", "Partitions restored from checkpoints.", st.Restores.Load),
		gauge("watermark_seconds", "Least watermark over assigned partitions, Unix seconds (0 before data).",
			func() float64 { return float64(st.Watermark.Load()) / 1e6 }),
		gauge("partitions", "Input partitions assigned.", func() float64 { return float64(st.Partitions.Load()) }),
	}
	if wh := a.cfg.Webhook; wh != nil {
		cs = append(cs,
			counter("webhook_sent_total", "Alerts delivered to the webhook.", func() int64 { return wh.Stats().Sent }),
			counter("webhook_failed_total", "Alerts the webhook did not take.", func() int64 { return wh.Stats().Failed }),
			counter("webhook_dropped_total", "Alerts dropped because the webhook queue was full.", func() int64 { return wh.Stats().Dropped }),
		)
	}
	return metrics.Register(reg, cs...)
}
