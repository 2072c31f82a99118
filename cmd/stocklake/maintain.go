package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/dustin/go-humanize"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/stocklake/stocklake/compact"
	"github.com/stocklake/stocklake/iceberg"
)

// maintainFlags are maintain's flags beyond compact's.
type maintainFlags struct {
	compactFlags
	mc compact.MaintainConfig
}

func (f *maintainFlags) register(fs *flag.FlagSet) {
	f.compactFlags.register(fs, "127.0.0.1:9467")
	fs.DurationVar(&f.mc.RetainSnapshots, "retain-snapshots", compact.DefaultRetainSnapshots, "Iceberg: expire snapshots older than this (the newest --retain-last and those the Kafka offsets need are always kept)")
	fs.IntVar(&f.mc.RetainLast, "retain-last", compact.DefaultRetainLastSnapshots, "Iceberg: always keep at least this many of the newest snapshots")
	fs.DurationVar(&f.mc.OrphanAge, "orphan-age", compact.DefaultOrphanAge, "Iceberg: remove files under the table's data/ and metadata/ that no snapshot references once they are this old; keep it far above any writer's write-to-commit time")
	fs.IntVar(&f.mc.ManifestsToRewrite, "rewrite-manifests-at", compact.DefaultManifestsToRewrite, "Iceberg: merge the current snapshot's manifests when there are at least this many")
}

func maintainCommand() *ffcli.Command {
	fs := flag.NewFlagSet("maintain", flag.ContinueOnError)
	var f maintainFlags
	f.register(fs)
	return newCommand("maintain", "stocklake maintain --catalog URL --lake URL [--database D] [--table T] [--every D] [--retain-snapshots 24h] [--orphan-age 24h]",
		"keep the lake fast: compaction, snapshot expiry, orphan cleanup",
		`One pass over every table of --database (or --table), again every
--every until Ctrl-C or SIGTERM (a pass in progress is cut short safely:
each step commits atomically or not at all).

Iceberg tables (in a sqlite:// catalog), in order:
  1. compaction, as 'stocklake compact' does it: files below 3/4 of
     --target-file-size committed more than --min-age ago; in a partition
     still being written, by size tiers (a file merged only into one 4x
     its size, or 2x when that fills 3/4 of the target), so each row is
     rewritten a few times, not at every pass; once the partition has
     had no commit for --min-age, everything left bin-packed;
  2. snapshot expiry: snapshots older than --retain-snapshots beyond the
     newest --retain-last; never the snapshots the Kafka offsets need.
     Data and metadata files only expired snapshots referenced are deleted;
  3. a manifest rewrite when the current snapshot has
     --rewrite-manifests-at manifests or more (iceberg-go's
     RewriteManifests: metadata only);
  4. orphan removal: files under the table's data/ and metadata/ folders
     that no retained snapshot references (batches of crashed or fenced
     sinks, files of killed compactors) and older than --orphan-age;
  5. the time of the pass, in the table property stocklake.last-maintenance
     ('stocklake catalog table T' shows it).

Hive tables: compaction of closed partitions and deletion of superseded
objects after --grace, as 'stocklake compact' does it (the last run is in
the table's compaction state).

Metrics (--metrics-addr): stocklake_compact_* (files and bytes rewritten,
snapshots expired, manifests rewritten, orphans removed).`,
		fs, func(ctx context.Context, args []string) error {
			if err := noArgs("maintain", args); err != nil {
				return err
			}
			return f.runPasses(ctx, "maintenance", func(r *compactRun, t *iceberg.Table) error {
				res, err := r.c.Maintain(ctx, t, f.mc)
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stdout, "maintained Iceberg table %s.%s: %d partitions compacted, %d files (%s) into %d; %d snapshots expired; %d manifests rewritten; %d orphan files (%s) removed\n",
					t.Database(), t.Name(), res.PartitionsCompacted, res.FilesRewritten, humanize.IBytes(uint64(res.BytesRewritten)), res.FilesWritten,
					res.SnapshotsExpired, res.ManifestsRewritten, res.OrphansRemoved, humanize.IBytes(uint64(res.OrphanBytes)))
				return nil
			})
		})
}
