package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/peterbourgon/ff/v3/ffcli"
	"golang.org/x/sync/errgroup"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/analyze"
	"github.com/stocklake/stocklake/compact"
	"github.com/stocklake/stocklake/crawler"
	"github.com/stocklake/stocklake/dashboard"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/sink"
	"github.com/stocklake/stocklake/source"
	"github.com/stocklake/stocklake/sqlite"
	"github.com/stocklake/stocklake/stream"
)

func demoCommand() *ffcli.Command {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	dataDir := fs.String("data", defaultDataDir, "directory for the embedded broker's log, the lake and the catalog")
	httpAddr := fs.String("http", dashboard.DefaultAddr, `address of the dashboard, API, metrics and health checks ("" disables)`)
	duration := fs.Duration("duration", 0, "run this long, then shut down cleanly and exit 0 (0: until Ctrl-C)")
	rate := fs.Float64("rate", 5000, "simulated ticks per second")
	symbols := fs.Int("symbols", source.DefaultSymbols, "number of simulated symbols")
	seed := fs.Int64("seed", defaultSeed, "simulator seed")
	flushInterval := fs.Duration("flush-interval", 5*time.Second, "how often the sink writes lake objects")
	maintainEvery := fs.Duration("maintain-every", time.Minute, "run maintenance (compaction of closed hour partitions, deletion of superseded objects) in the background at this interval (0: never)")
	maintainMinAge := fs.Duration("maintain-min-age", time.Minute, "background maintenance: compact a closed partition once every object in it is this old")
	tableFormat := fs.String("table-format", tableFormatAuto, "table format of the ticks table: auto (default: the table under --data keeps its format, a new one is iceberg), hive (Parquet objects in Hive-style folders, partitions registered in the catalog) or iceberg (an Apache Iceberg table in the catalog file whose snapshots carry the Kafka offsets; see docs/iceberg.md)")
	var lf logFlags
	lf.register(fs)
	var df dashboardFlags
	df.register(fs)
	return newCommand("demo", "stocklake demo [--data DIR] [--http ADDR] [--duration D] [--rate N] [--symbols N] [--token T]",
		"run the whole pipeline in one process on embedded defaults",
		`Runs the pipeline in one process with no setup: an embedded Kafka-protocol
broker, the market simulator producing ticks, the sink landing them in a
local lake under --data, and the analyzer writing 10s and 1m bars to
bars.10s and bars.1m. A status line shows ticks/s, files, rows and
consumer lag; the dashboard on --http shows the live market, a SQL console,
the catalog and the pipeline's health.

The ticks land in an Apache Iceberg table (stocklake.ticks in the catalog
file, one snapshot per flush carrying the Kafka offsets) when --data holds
no ticks table yet: --table-format auto, the default, makes new tables
Iceberg and keeps an existing table's format, so a --data a Hive demo
filled stays Hive. --table-format hive lands them as Parquet objects in
Hive-style folders, partitions registered in the embedded catalog (the
seed's layout, still supported); an explicit format that contradicts the
existing table is refused.

Maintenance runs in the background every --maintain-every: as 'stocklake
maintain' does, it merges the small objects of each hour partition once the
hour has ended (Iceberg: also expires snapshots and removes orphan files),
and the health page shows file counts and when it last ran. Ctrl-C (or
--duration) shuts down cleanly: the sink writes what it buffered and
commits before exiting.

The dashboard binds loopback; another --http address needs --token, as for
serve (see docs/security.md).`,
		fs, func(ctx context.Context, args []string) error {
			if err := noArgs("demo", args); err != nil {
				return err
			}
			log, err := lf.logger()
			if err != nil {
				return err
			}
			if *httpAddr != "" {
				if err := dashboard.CheckAddr(*httpAddr, df.token); err != nil {
					return err
				}
			}
			if *rate <= 0 {
				return fmt.Errorf("--rate %v: want a positive number of ticks per second: %w", *rate, stocklake.ErrConfig)
			}
			if err := checkTableFormat(*tableFormat); err != nil {
				return err
			}
			if *duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, *duration)
				defer cancel()
			}
			if err := os.MkdirAll(*dataDir, 0o755); err != nil {
				return fmt.Errorf("create --data %s: %w: %w", *dataDir, err, stocklake.ErrConfig)
			}
			broker, err := kafka.StartBroker(kafka.BrokerConfig{Listen: "127.0.0.1:0", DataDir: filepath.Join(*dataDir, "kafka")})
			if err != nil {
				return err
			}
			defer broker.Close()
			kc := kafka.Config{Brokers: []string{broker.Addr()}}
			lakeDir := filepath.Join(*dataDir, "lake")
			store, err := file.New(lakeDir)
			if err != nil {
				return err
			}
			// The session starts at 11:00 New York: from there on the
			// simulator's event time keeps up with the wall clock (near the
			// open, trading is denser and event time runs at half speed),
			// so 10-second bars close every 10 seconds.
			sim, err := source.NewSimulator(source.SimulatorConfig{Symbols: *symbols, Seed: *seed, Rate: *rate,
				Start: source.DefaultStart.Add(90 * time.Minute)})
			if err != nil {
				return err
			}
			catPath := filepath.Join(*dataDir, "catalog.db")
			ticksTable := sink.TableName(stocklake.TopicTicks)
			existing, err := detectTableFormat(ctx, store, "sqlite://"+catPath, store.URL(), stocklake.DefaultDatabase, ticksTable)
			if err != nil {
				return err
			}
			if *tableFormat, err = resolveTableFormat(log, *tableFormat, existing, stocklake.DefaultDatabase, ticksTable, ""); err != nil {
				return err
			}
			cat, err := sqlite.Open(catPath)
			if err != nil {
				return err
			}
			defer cat.Close()
			scfg := sink.Config{Kafka: kc, Topic: stocklake.TopicTicks, Store: store, FlushInterval: *flushInterval, Logger: log}
			var ice *iceberg.Catalog
			var iceTable *iceberg.LazyTable
			if *tableFormat == stocklake.TableFormatIceberg {
				ic, closeIce, err := catalogIceberg(ctx, cat, store)
				if err != nil {
					return err
				}
				defer closeIce()
				if iceTable, err = ic.LazyTable(stocklake.DefaultDatabase, ticksTable); err != nil {
					return err
				}
				ice, scfg.Committer = ic, iceTable
			} else if scfg.Registrar, err = crawler.NewRegistrar(store, cat, stocklake.DefaultDatabase); err != nil {
				return err
			}
			snk, err := sink.New(scfg)
			if err != nil {
				return err
			}
			an, err := analyze.New(analyze.Config{Kafka: kc, In: stocklake.TopicTicks, Group: analyze.DefaultGroup,
				Stream:    stream.Config{Windows: []time.Duration{10 * time.Second, time.Minute}, Delay: 2 * time.Second},
				MaxFuture: stocklake.DefaultMaxFuture, Logger: log}) // far-future ticks go to stocklake-analyze.dlq
			if err != nil {
				return err
			}
			maint, err := compact.New(store, cat, compact.Config{Database: stocklake.DefaultDatabase, MinAge: *maintainMinAge, Grace: 10 * time.Minute, Log: log})
			if err != nil {
				return err
			}
			if *httpAddr != "" {
				stop, err := startDemoDashboard(ctx, *httpAddr, &df, kc, store, cat, ice, snk, an, log, maint.RegisterMetrics)
				if err != nil {
					return fmt.Errorf("%w; pick another address with --http, or --http '' to disable", err)
				}
				defer stop()
			}
			fmt.Fprintf(os.Stderr, "stocklake demo: broker %s, lake %s, catalog sqlite://%s, %s table %s.%s\n", broker.Addr(), store.URL(), catPath, *tableFormat, stocklake.DefaultDatabase, ticksTable)
			if *duration > 0 {
				fmt.Fprintf(os.Stderr, "running for %s; Ctrl-C stops earlier\n", *duration)
			} else {
				fmt.Fprintf(os.Stderr, "running until Ctrl-C\n")
			}

			prodCtx, stopProducing := context.WithCancel(ctx)
			defer stopProducing()
			p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: stocklake.TopicTicks})
			if err != nil {
				return err
			}
			defer closeProducer(p)
			if _, err := kafka.EnsureTopic(ctx, p.Client(), kafka.TopicSpec{Name: stocklake.TopicTicks, Partitions: kafka.DefaultPartitions}); err != nil {
				return err
			}
			produced := p.Acked

			stopStatus := startProgress(func(elapsed time.Duration) string {
				st := snk.Stats()
				return fmt.Sprintf("ticks %s (%s/s) | lake: %s files, %s rows, %s | lag %s | dead letters %d | bars %s   ",
					humanize.Comma(produced()), humanize.Comma(int64(float64(produced())/elapsed.Seconds())),
					humanize.Comma(st.Objects.Load()), humanize.Comma(st.Rows.Load()), humanize.IBytes(uint64(st.Bytes.Load())),
					humanize.Comma(st.Lag.Load()), st.DeadLetters.Load(), humanize.Comma(an.Stats().Bars.Load()))
			})
			// Shutdown order: stop producing, flush, let the sink drain what
			// was produced, then stop the sink (it writes and commits).
			sinkCtx, stopSink := context.WithCancel(context.Background())
			defer stopSink()
			g := new(errgroup.Group)
			g.Go(func() error {
				defer stopSink()
				err := sim.Run(prodCtx, func(r stocklake.Record) error { return p.Produce(prodCtx, r) })
				if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
					err = nil
				}
				// After --duration, let the sink land everything produced;
				// after Ctrl-C or SIGTERM, stop within seconds (the next run
				// lands the rest).
				signalled := !errors.Is(ctx.Err(), context.DeadlineExceeded)
				drain := 30 * time.Second
				if signalled {
					drain = 0
				}
				fctx, cancel := context.WithTimeout(context.Background(), min(drain, 5*time.Second)+time.Second)
				defer cancel()
				if ferr := p.Flush(fctx); err == nil && !signalled {
					err = ferr
				}
				drainUntil := time.Now().Add(drain)
				for snk.Stats().Records.Load() < p.Acked() && time.Now().Before(drainUntil) && sinkCtx.Err() == nil {
					time.Sleep(50 * time.Millisecond)
				}
				return err
			})
			g.Go(func() error {
				err := snk.Run(sinkCtx)
				stopProducing() // a failed sink stops the demo
				return err
			})
			if *maintainEvery > 0 {
				g.Go(func() error {
					// Failures are logged and tried again: maintenance
					// never stops the demo.
					return runEvery(sinkCtx, *maintainEvery, log, "background maintenance", func() error {
						if iceTable != nil {
							tbl, err := iceTable.Table(sinkCtx)
							if err != nil || tbl == nil {
								return err // nil: no table before the first flush
							}
							res, err := maint.Maintain(sinkCtx, tbl, compact.MaintainConfig{})
							if err == nil && res.FilesRewritten+res.SnapshotsExpired+res.OrphansRemoved > 0 {
								log.Info("background maintenance", "table", tbl.Name(), "files", res.FilesRewritten, "merged_into", res.FilesWritten,
									"snapshots_expired", res.SnapshotsExpired, "orphans_removed", res.OrphansRemoved)
							}
							return err
						}
						res, err := maint.Run(sinkCtx)
						if err == nil && res.PartitionsCompacted > 0 {
							log.Info("background maintenance", "partitions_compacted", res.PartitionsCompacted, "files", res.FilesRewritten, "merged_into", res.FilesWritten)
						}
						if errors.Is(err, stocklake.ErrNotFound) {
							return nil // nothing registered yet
						}
						return err
					})
				})
			}
			g.Go(func() error {
				err := an.Run(sinkCtx) // bars.10s, bars.1m and alerts, exactly once
				if err != nil && sinkCtx.Err() == nil {
					stopProducing()
					return err
				}
				return nil
			})
			err = g.Wait()
			stopStatus()
			if err != nil {
				return err
			}
			st := snk.Stats()
			fmt.Fprintf(os.Stderr, "demo finished: %d ticks produced, %d rows in %d Parquet files under %s\n",
				produced(), st.Rows.Load(), st.Objects.Load(), lakeDir)
			fmt.Fprintf(os.Stderr, "next: stocklake catalog tables --catalog sqlite://%s\n", catPath)
			return nil
		})
}
