package compact

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/stocklake/stocklake"
)

// Defaults of MaintainConfig.
const (
	DefaultRetainSnapshots     = 24 * time.Hour
	DefaultRetainLastSnapshots = 10
	DefaultOrphanAge           = 24 * time.Hour
	DefaultManifestsToRewrite  = 16
)

// MaintainConfig configures Maintain, beyond the compaction's Config.
type MaintainConfig struct {
	// RetainSnapshots is how long snapshots are kept (time travel, and
	// readers still planning on them); default 1 day.
	RetainSnapshots time.Duration
	// RetainLast is how many of the newest snapshots are kept whatever
	// their age; default 10.
	RetainLast int
	// OrphanAge is how old an unreferenced file must be before it is
	// removed; default 1 day. Keep it far above any writer's time from
	// writing a file to committing it.
	OrphanAge time.Duration
	// ManifestsToRewrite is how many manifests the current snapshot must
	// have before they are merged; default 16.
	ManifestsToRewrite int
}

// MaintainStats counts the maintenance work beyond compaction.
type MaintainStats struct {
	SnapshotsExpired   atomic.Int64
	ManifestsRewritten atomic.Int64
	OrphansRemoved     atomic.Int64
	OrphanBytes        atomic.Int64
	Maintained         atomic.Int64 // table passes finished
}

// MaintainResult summarizes one Maintain pass over a table.
type MaintainResult struct {
	Result
	SnapshotsExpired   int
	ManifestsRewritten int
	OrphansRemoved     int
	OrphanBytes        int64
}

// Maintain makes one maintenance pass over a table that keeps snapshots
// (an Iceberg table), in this order: compaction (Table), snapshot expiry
// (older than RetainSnapshots beyond the newest RetainLast; the snapshots
// the Kafka offsets need are never expired; files only expired snapshots
// referenced are deleted), a manifest rewrite when the manifests have
// multiplied, orphan file removal (older than OrphanAge), and finally the
// time of the pass recorded in the table. A step that fails ends the pass
// with its error; the next pass starts over.
func (c *Compactor) Maintain(ctx context.Context, t stocklake.MaintainedTable, mc MaintainConfig) (MaintainResult, error) {
	if mc.RetainSnapshots <= 0 {
		mc.RetainSnapshots = DefaultRetainSnapshots
	}
	if mc.RetainLast <= 0 {
		mc.RetainLast = DefaultRetainLastSnapshots
	}
	if mc.OrphanAge <= 0 {
		mc.OrphanAge = DefaultOrphanAge
	}
	if mc.ManifestsToRewrite <= 0 {
		mc.ManifestsToRewrite = DefaultManifestsToRewrite
	}
	var res MaintainResult
	var err error
	if res.Result, err = c.Table(ctx, t); err != nil {
		return res, err
	}
	if res.SnapshotsExpired, err = t.ExpireSnapshots(ctx, mc.RetainSnapshots, mc.RetainLast); err != nil {
		return res, fmt.Errorf("compact: expiring snapshots of %s: %w", t.Name(), err)
	}
	c.mstats.SnapshotsExpired.Add(int64(res.SnapshotsExpired))
	if err := c.step(ctx, "expired"); err != nil {
		return res, err
	}
	if res.ManifestsRewritten, err = t.RewriteManifests(ctx, mc.ManifestsToRewrite); err != nil {
		return res, fmt.Errorf("compact: rewriting the manifests of %s: %w", t.Name(), err)
	}
	c.mstats.ManifestsRewritten.Add(int64(res.ManifestsRewritten))
	orphans, err := t.RemoveOrphans(ctx, mc.OrphanAge)
	for _, o := range orphans {
		res.OrphanBytes += o.Size
		c.cfg.Log.Info("orphan file removed", "table", t.Name(), "file", o.URL, "bytes", o.Size)
	}
	res.OrphansRemoved = len(orphans)
	c.mstats.OrphansRemoved.Add(int64(len(orphans)))
	c.mstats.OrphanBytes.Add(res.OrphanBytes)
	if err != nil {
		return res, fmt.Errorf("compact: removing orphan files of %s: %w", t.Name(), err)
	}
	if err := t.SetLastMaintenance(ctx, c.cfg.Now()); err != nil {
		return res, fmt.Errorf("compact: recording the maintenance of %s: %w", t.Name(), err)
	}
	c.mstats.Maintained.Add(1)
	return res, nil
}

// MaintainStats returns the maintenance counters.
func (c *Compactor) MaintainStats() *MaintainStats { return &c.mstats }
