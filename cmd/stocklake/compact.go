package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/compact"
)

func compactCommand() *ffcli.Command {
	fs := flag.NewFlagSet("compact", flag.ContinueOnError)
	var lf logFlags
	lf.register(fs)
	lake := fs.String("lake", defaultLake, "lake URL: file://DIR or s3://BUCKET/PREFIX")
	catalogURL := fs.String("catalog", defaultCatalog, "catalog URL: sqlite://PATH or glue://REGION")
	database := fs.String("database", stocklake.DefaultDatabase, "catalog database whose tables are compacted")
	table := fs.String("table", "", "compact only this table (default: every partitioned Parquet table of --database)")
	minAge := fs.Duration("min-age", compact.DefaultMinAge, "compact a partition only when its time range has ended and every object is older than this")
	target := byteSize(compact.DefaultTargetFileSize)
	fs.Var(&target, "target-file-size", "size merged files are packed to; merging holds about one file's rows in memory")
	grace := fs.Duration("grace", compact.DefaultGrace, "keep superseded objects this long after a swap, for queries already planned, then a later pass deletes them (0: in the same pass)")
	staleAfter := fs.Duration("stale-after", compact.DefaultStaleAfter, "undo a compaction left pending (not swapped in) by a killed compactor once it is this old; until then its partition waits")
	every := fs.Duration("every", 0, "compact again at this interval until Ctrl-C (0: one pass)")
	var mf metricsFlags
	mf.register(fs, "127.0.0.1:9466")
	return newCommand("compact", "stocklake compact --catalog URL --lake URL [--database D] [--table T] [--min-age 10m] [--target-file-size 128MiB] [--every D]",
		"merge the small files of closed Hive-table partitions",
		`Merges the small Parquet objects of each closed partition (its dt/hour/...
time range has ended and every object is older than --min-age) into files
near --target-file-size, sorted by (symbol, ts), in a new folder
<table>/_stocklake_compacted/<run>/<partition>/, then points the catalog
partition at it in one update: readers through the catalog never see a row
twice or miss one. The replaced objects are deleted by a pass --grace
later. Objects a sink has not committed yet are left alone; a record that
arrives late for a compacted partition becomes visible at the next pass.
Run one compactor per table at a time. Iceberg tables are not compacted
here.`,
		fs, func(ctx context.Context, args []string) error {
			if err := noArgs("compact", args); err != nil {
				return err
			}
			log, err := lf.logger()
			if err != nil {
				return err
			}
			store, err := openStore(ctx, *lake)
			if err != nil {
				return err
			}
			cat, err := openCatalog(ctx, *catalogURL, store)
			if err != nil {
				return err
			}
			defer cat.Close()
			g := *grace
			if g == 0 {
				g = -1 // delete in the same pass
			}
			hold, err := faultCompactDelay(log)
			if err != nil {
				return err
			}
			c, err := compact.New(store, cat, compact.Config{Database: *database, Table: *table, MinAge: *minAge,
				TargetFileSize: int64(target), Grace: g, StaleAfter: *staleAfter, Log: log, AfterStep: hold})
			if err != nil {
				return err
			}
			stop, err := mf.serve(log, c.RegisterMetrics)
			if err != nil {
				return err
			}
			defer stop()
			return runEvery(ctx, *every, log, "compaction", func() error {
				res, err := c.Run(ctx)
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stdout, "compacted %d partitions of %d tables: %d files (%d bytes) into %d; %d superseded objects deleted; %d interrupted compactions recovered; %d partitions left alone\n",
					res.PartitionsCompacted, res.Tables, res.FilesRewritten, res.BytesRewritten, res.FilesWritten, res.ObjectsDeleted, res.Recovered, len(res.Skipped))
				for _, s := range res.Skipped {
					log.Debug("partition left alone", "why", s)
				}
				return nil
			})
		})
}

// faultCompactDelayEnv holds every step of a compaction for a while: the
// fault suite (TestFaultCompactKillIntegration) sets it so that its
// SIGKILLs land inside compactions. Never set it in production. Unset or
// 0: no delay.
const faultCompactDelayEnv = "STOCKLAKE_FAULT_COMPACT_DELAY"

// faultCompactDelay returns the compactor's AfterStep hook for
// STOCKLAKE_FAULT_COMPACT_DELAY, or nil when it is unset.
func faultCompactDelay(log *slog.Logger) (func(ctx context.Context, step string), error) {
	hold, err := faultHold(log, faultCompactDelayEnv, "every compaction step is held", "compaction step held")
	if hold == nil || err != nil {
		return nil, err
	}
	return func(ctx context.Context, step string) { hold(ctx, "step", step) }, nil
}
