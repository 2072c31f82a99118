package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/compact"
	"github.com/stocklake/stocklake/iceberg"
)

// compactFlags are the flags compact and maintain share.
type compactFlags struct {
	lf         logFlags
	mf         metricsFlags
	lake       string
	catalog    string
	database   string
	table      string
	minAge     time.Duration
	target     byteSize
	grace      time.Duration
	staleAfter time.Duration
	every      time.Duration
	maxMemory  byteSize
}

func (f *compactFlags) register(fs *flag.FlagSet, metricsExample string) {
	f.lf.register(fs)
	fs.StringVar(&f.lake, "lake", defaultLake, "lake URL: file://DIR or s3://BUCKET/PREFIX")
	fs.StringVar(&f.catalog, "catalog", defaultCatalog, "catalog URL: sqlite://PATH or glue://REGION (Iceberg tables: sqlite:// only)")
	fs.StringVar(&f.database, "database", stocklake.DefaultDatabase, "catalog database whose tables are compacted")
	fs.StringVar(&f.table, "table", "", "only this table (default: every Hive table of --database with partitions, and every Iceberg table of --database)")
	fs.DurationVar(&f.minAge, "min-age", compact.DefaultMinAge, "Hive: compact a partition only when its time range has ended and every object is older than this; Iceberg: merge only files committed longer ago than this")
	f.target = byteSize(compact.DefaultTargetFileSize)
	fs.Var(&f.target, "target-file-size", "size merged files are packed to (in bytes of input files); merged rows are sorted with bounded memory, spilling to TMPDIR")
	fs.DurationVar(&f.grace, "grace", compact.DefaultGrace, "Hive: keep superseded objects this long after a swap, for queries already planned, then a later pass deletes them (0: in the same pass)")
	fs.DurationVar(&f.staleAfter, "stale-after", compact.DefaultStaleAfter, "Hive: undo a compaction left pending (not swapped in) by a killed compactor once it is this old; until then its partition waits")
	fs.DurationVar(&f.every, "every", 0, "run again at this interval until Ctrl-C or SIGTERM (0: one pass)")
	f.maxMemory = byteSize(compact.DefaultMaxMemory)
	fs.Var(&f.maxMemory, "max-memory", "memory a pass is sized for: a merge holds rows of up to 1/8 of it, spilling sorted runs to TMPDIR; Go's memory limit is it less the resident pages of the program's own code and 16 MiB of headroom (at least 128 MiB), unless GOMEMLIMIT is set")
	f.mf.register(fs, metricsExample)
}

// compactRun is what one compact or maintain process works with.
type compactRun struct {
	log   *slog.Logger
	c     *compact.Compactor
	cat   stocklake.Catalog
	ice   *iceberg.Catalog // nil when the catalog holds no Iceberg tables (glue://)
	f     *compactFlags
	close func()
}

// open opens the lake, the catalog and the Iceberg catalog in its file
// (sqlite:// only), and makes the compactor.
func (f *compactFlags) open(ctx context.Context) (*compactRun, error) {
	log, err := f.lf.logger()
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, f.lake)
	if err != nil {
		return nil, err
	}
	cat, err := openCatalog(ctx, f.catalog, store)
	if err != nil {
		return nil, err
	}
	r := &compactRun{log: log, cat: cat, f: f, close: func() { cat.Close() }}
	if ice, closeIce, err := catalogIceberg(ctx, cat, store); err != nil {
		// E.g. a lake path Iceberg cannot name files under: the Hive
		// tables are still compacted.
		log.Warn("Iceberg tables are left alone: their catalog does not open", "err", err)
	} else if ice != nil {
		r.ice = ice
		r.close = func() { closeIce(); cat.Close() }
	}
	g := f.grace
	if g == 0 {
		g = -1 // delete in the same pass
	}
	hold, err := faultCompactDelay(log)
	if err != nil {
		r.close()
		return nil, err
	}
	r.c, err = compact.New(store, cat, compact.Config{Database: f.database, Table: f.table, MinAge: f.minAge,
		TargetFileSize: int64(f.target), Grace: g, StaleAfter: f.staleAfter, MaxMemory: int64(f.maxMemory), Log: log, AfterStep: hold})
	if err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// icebergTables opens the Iceberg tables of --database (only --table when
// given).
func (r *compactRun) icebergTables(ctx context.Context) ([]*iceberg.Table, error) {
	if r.ice == nil {
		return nil, nil
	}
	names, err := r.ice.ListTables(ctx, r.f.database)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var out []*iceberg.Table
	for _, n := range names {
		if r.f.table != "" && !strings.EqualFold(n, r.f.table) {
			continue
		}
		t, err := r.ice.OpenTable(ctx, r.f.database, n)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// hive compacts the Hive tables, unless --table names an Iceberg table.
func (r *compactRun) hive(ctx context.Context, iceTables []*iceberg.Table) error {
	if r.f.table != "" && len(iceTables) > 0 {
		return nil
	}
	res, err := r.c.Run(ctx)
	if errors.Is(err, stocklake.ErrNotFound) && r.f.table == "" {
		return nil // no Hive database: Iceberg tables only
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "compacted %d partitions of %d tables: %d files (%d bytes) into %d; %d superseded objects deleted; %d interrupted compactions recovered; %d partitions left alone\n",
		res.PartitionsCompacted, res.Tables, res.FilesRewritten, res.BytesRewritten, res.FilesWritten, res.ObjectsDeleted, res.Recovered, len(res.Skipped))
	for _, s := range res.Skipped {
		r.log.Debug("partition left alone", "why", s)
	}
	return nil
}

func compactCommand() *ffcli.Command {
	fs := flag.NewFlagSet("compact", flag.ContinueOnError)
	var f compactFlags
	f.register(fs, "127.0.0.1:9466")
	return newCommand("compact", "stocklake compact --catalog URL --lake URL [--database D] [--table T] [--min-age 10m] [--target-file-size 128MiB] [--every D]",
		"merge the small files of Hive and Iceberg tables",
		`Hive tables: merges the small Parquet objects of each closed partition
(its dt/hour/... time range has ended and every object is older than
--min-age) into files near --target-file-size, sorted by (symbol, ts), in a
new folder <table>/_stocklake_compacted/<run>/<partition>/, then points the
catalog partition at it in one update: readers through the catalog never
see a row twice or miss one. The replaced objects are deleted by a pass
--grace later. Objects a sink has not committed yet are left alone; a
record that arrives late for a compacted partition becomes visible at the
next pass. Run one compactor per table at a time.

Iceberg tables (in a sqlite:// catalog): in each partition, the data files
below 3/4 of --target-file-size committed more than --min-age ago are
merged into files near --target-file-size, rows sorted by (symbol, ts),
and swapped in with one replace snapshot per partition that keeps the
Kafka offsets. A partition none of whose files was committed in the last
--min-age (settled) has all of them bin-packed, oldest first: it ends
with few files. A partition still being written is merged by size tiers,
so that its rows are not rewritten at every pass: a file is merged only
into a file at least 4 times its size (so 4 or more inputs), or twice its
size when that fills a file to 3/4 of --target-file-size, which is then
left alone. Each row is rewritten about log4(3/4 target / its first
file's size) times while the partition is written (3 or 4 for 1-second
files) and at most once more when it settles. A sink may append
meanwhile: its commits are kept (the rewrite retries on the refreshed
table). A compactor killed before its commit leaves orphan files no
reader sees; 'stocklake maintain' removes them. Snapshot expiry and
orphan cleanup are 'stocklake maintain'.`,
		fs, func(ctx context.Context, args []string) error {
			if err := noArgs("compact", args); err != nil {
				return err
			}
			return f.runPasses(ctx, "compaction", func(r *compactRun, t *iceberg.Table) error {
				res, err := r.c.Table(ctx, t)
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stdout, "compacted Iceberg table %s.%s: %d partitions, %d files (%s) into %d\n",
					t.Database(), t.Name(), res.PartitionsCompacted, res.FilesRewritten, humanize.IBytes(uint64(res.BytesRewritten)), res.FilesWritten)
				return nil
			})
		})
}

// runPasses opens the lake and the catalogs, serves the metrics, and runs
// a pass now and again every --every: the Hive tables' compaction, then
// perTable on each Iceberg table of --database (or --table). what names the
// pass in logs.
func (f *compactFlags) runPasses(ctx context.Context, what string, perTable func(r *compactRun, t *iceberg.Table) error) error {
	r, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer r.close()
	// The sink's rule (sinkMemoryLimit): the process stays near
	// --max-memory, the collector working harder rather than letting the
	// heap grow to twice what a merge holds.
	fileRSS := residentFileBytes()
	if limit, set := sinkMemoryLimit(int64(f.maxMemory), os.Getenv("GOMEMLIMIT"), fileRSS); set {
		debug.SetMemoryLimit(limit)
		r.log.Debug("Go memory limit set from --max-memory", "gomemlimit", limit, "resident_file_bytes", fileRSS)
	}
	debug.FreeOSMemory() // the garbage of package initialisation, as in sink
	stop, err := f.mf.serve(r.log, r.c.RegisterMetrics)
	if err != nil {
		return err
	}
	defer stop()
	return runEvery(ctx, f.every, r.log, what, func() error {
		tables, err := r.icebergTables(ctx)
		if err != nil {
			return err
		}
		if err := r.hive(ctx, tables); err != nil {
			return err
		}
		for _, t := range tables {
			if err := perTable(r, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// faultCompactDelayEnv holds every step of a compaction for a while: the
// fault suite (TestFaultCompactKillIntegration,
// TestFaultIcebergMaintainKillIntegration) sets it so that its SIGKILLs
// land inside compactions. Never set it in production. Unset or 0: no
// delay.
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
