package compact

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stocklake/stocklake/internal/metrics"
)

// RegisterMetrics registers the compactor's counters into reg as
// stocklake_compact_* metrics, read at scrape time.
func (c *Compactor) RegisterMetrics(reg prometheus.Registerer) error {
	st, ms := c.Stats(), c.MaintainStats()
	m := metrics.Funcs{Prefix: "stocklake_compact_"}
	return metrics.Register(reg,
		m.Counter("passes_total", "Compaction passes over a table.", st.Passes.Load),
		m.Counter("partitions_total", "Partitions swapped to merged files.", st.PartitionsCompacted.Load),
		m.Counter("files_rewritten_total", "Small objects merged.", st.FilesRewritten.Load),
		m.Counter("bytes_rewritten_total", "Bytes of small objects merged.", st.BytesRewritten.Load),
		m.Counter("files_written_total", "Merged files written.", st.FilesWritten.Load),
		m.Counter("bytes_written_total", "Bytes of merged files written.", st.BytesWritten.Load),
		m.Counter("objects_deleted_total", "Superseded objects deleted after the grace.", st.ObjectsDeleted.Load),
		m.Counter("snapshots_expired_total", "Table snapshots expired (Iceberg).", ms.SnapshotsExpired.Load),
		m.Counter("manifests_rewritten_total", "Manifests merged into fewer (Iceberg).", ms.ManifestsRewritten.Load),
		m.Counter("orphans_removed_total", "Unreferenced files removed by orphan cleanup (Iceberg).", ms.OrphansRemoved.Load),
		m.Counter("orphan_bytes_removed_total", "Bytes of unreferenced files removed (Iceberg).", ms.OrphanBytes.Load),
		m.Counter("maintenance_passes_total", "Maintenance passes finished over a table (Iceberg).", ms.Maintained.Load),
		m.Counter("partitions_skipped_total", "Partitions left alone: open, too young, or holding a sink batch not yet committed.", st.Skipped.Load),
	)
}
