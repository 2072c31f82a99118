package sink

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stocklake/stocklake/internal/metrics"
)

// RegisterMetrics registers the sink's metrics into reg: its Stats as
// stocklake_sink_* counters and gauges, labelled with the lake table
// ({table="ticks"}), read at scrape time. It fails if reg already holds
// them (the same sink, or another sink of the same table, registered
// twice).
func (s *Sink) RegisterMetrics(reg prometheus.Registerer) error {
	st := s.Stats()
	m := metrics.Funcs{Prefix: "stocklake_sink_", Labels: prometheus.Labels{"table": s.Table()}}
	return metrics.Register(reg,
		m.Counter("records_total", "Records consumed from Kafka.", st.Records.Load),
		m.Counter("rows_total", "Rows written to the lake and committed.", st.Rows.Load),
		m.Counter("objects_total", "Objects written to the lake.", st.Objects.Load),
		m.Counter("bytes_total", "Bytes written to the lake.", st.Bytes.Load),
		m.Counter("dead_letters_total", "Records sent to the dead-letter topic.", st.DeadLetters.Load),
		m.Counter("dead_letters_truncated_total", "Dead letters too large for the dead-letter topic, sent as a truncated copy.", st.DeadLettersTruncated.Load),
		m.GaugeInt("open_partitions", "Lake partitions (Parquet writers) open now.", st.OpenPartitions.Load),
		m.Counter("commits_total", "Offset commits.", st.Commits.Load),
		m.Gauge("last_commit_timestamp_seconds", "Wall clock of the last offset commit, Unix seconds (0 before the first).",
			func() float64 { return float64(st.LastCommit.Load()) / 1e9 }),
		m.Counter("retries_total", "Writes or commits that failed and were retried.", st.Retries.Load),
		m.Counter("commit_failures_total", "Offset commits that failed; their batches stay in the manifest and the commit is retried.", st.CommitFailures.Load),
		m.Counter("fenced_batches_total", "Batches refused because another sink had taken the partition over (this sink was paused past its session); nothing of them was written.", st.Fenced.Load),
		m.GaugeInt("partitions", "Kafka partitions the sink owns.", st.Partitions.Load),
		m.GaugeInt("buffered_bytes", "Bytes of records buffered, not yet written.", st.Buffered.Load),
		m.GaugeInt("lag_records", "Records in the topic not yet consumed.", st.Lag.Load),
	)
}
