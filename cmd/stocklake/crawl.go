package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/crawler"
)

// crawlFlags configure a crawl.
type crawlFlags struct {
	lake, catalog, database, prefix, tablePrefix, schemaChange, deleteBehavior, exclude string
	tableLevel                                                                          int
	incremental, projection                                                             bool
}

func (f *crawlFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.lake, "lake", defaultLake, "lake URL to crawl: file://DIR or s3://BUCKET/PREFIX")
	fs.StringVar(&f.catalog, "catalog", defaultCatalog, "catalog URL: sqlite://PATH or glue://REGION")
	fs.StringVar(&f.database, "database", stocklake.DefaultDatabase, "catalog database that receives the tables")
	fs.StringVar(&f.prefix, "prefix", "", "crawl only keys under this folder, e.g. ticks/")
	fs.IntVar(&f.tableLevel, "table-level", 0, "folder depth where tables start, as in Glue: 1 = the crawled location, 2 = its folders (0: from the layout)")
	fs.StringVar(&f.tablePrefix, "table-prefix", "", "prefix for the names of new tables")
	fs.StringVar(&f.schemaChange, "schema-change", string(crawler.UpdateSchema), "when a table's schema changed: update (keep the old as a version) or log")
	fs.StringVar(&f.deleteBehavior, "delete-behavior", string(crawler.MarkMissing), "partitions whose folders are gone: delete, mark or log")
	fs.BoolVar(&f.incremental, "incremental", false, "read only folders that earlier crawls have not read")
	fs.BoolVar(&f.projection, "projection", false, "give tables partitioned by dt or dt,hour Athena partition projection properties (dates from the earliest dt found to NOW) instead of registering their partitions; tables that already use projection are always left as they are")
	fs.StringVar(&f.exclude, "exclude", "", "comma-separated globs to skip, on top of the defaults (_stocklake/**, query-results/**, temp files)")
}

func (f *crawlFlags) config() (crawler.Config, error) {
	cfg := crawler.Config{Database: f.database, Prefix: f.prefix, TableLevel: f.tableLevel, TablePrefix: f.tablePrefix,
		Incremental: f.incremental, Projection: f.projection}
	switch p := crawler.SchemaChangePolicy(f.schemaChange); p {
	case crawler.UpdateSchema, crawler.LogSchema:
		cfg.SchemaChangePolicy = p
	default:
		return cfg, fmt.Errorf("--schema-change %q: want update or log: %w", f.schemaChange, stocklake.ErrConfig)
	}
	switch p := crawler.DeletePolicy(f.deleteBehavior); p {
	case crawler.DeleteMissing, crawler.MarkMissing, crawler.LogMissing:
		cfg.DeletePolicy = p
	default:
		return cfg, fmt.Errorf("--delete-behavior %q: want delete, mark or log: %w", f.deleteBehavior, stocklake.ErrConfig)
	}
	if f.exclude != "" {
		cfg.Exclude = strings.Split(f.exclude, ",")
	}
	return cfg, nil
}

func crawlCommand() *ffcli.Command {
	fs := flag.NewFlagSet("crawl", flag.ContinueOnError)
	var cf crawlFlags
	var lf logFlags
	cf.register(fs)
	lf.register(fs)
	every := fs.Duration("every", 0, "crawl again at this interval until Ctrl-C (0: crawl once)")
	return newCommand("crawl", "stocklake crawl --lake URL --catalog URL --database D [--every D]",
		"discover tables, schemas and partitions in the lake, like a Glue crawler",
		`Reads the lake the way an AWS Glue crawler does: classifies objects (Parquet,
JSON, CSV, compressed), infers schemas from Parquet footers and JSON/CSV
samples, finds Hive-style key=value and plain folder partitions, merges
compatible files into one table, and writes tables and partitions to the
catalog under the schema-change and delete policies. Each run prints a
summary and is kept in the catalog's crawl history.

A folder with metadata/*.metadata.json is an Apache Iceberg table: it is
registered as one (at its newest metadata file; an already registered
table is left alone) instead of having its Parquet files crawled as a Hive
table. A sqlite:// catalog keeps it in its Iceberg SQL catalog tables;
glue:// cannot register Iceberg tables yet and fails the crawl.`,
		fs, func(ctx context.Context, args []string) error {
			if err := noArgs("crawl", args); err != nil {
				return err
			}
			log, err := lf.logger()
			if err != nil {
				return err
			}
			cfg, err := cf.config()
			if err != nil {
				return err
			}
			store, err := openStore(ctx, cf.lake)
			if err != nil {
				return err
			}
			cat, err := openCatalog(ctx, cf.catalog, store)
			if err != nil {
				return err
			}
			defer cat.Close()
			ice, closeIce, err := crawlIceberg(ctx, cat, store)
			if err != nil {
				return err
			}
			defer closeIce()
			cfg.Iceberg = ice
			cfg.Progress = func(p crawler.Progress) {
				log.Debug("crawl progress", "phase", p.Phase, "listed", p.Listed, "read", p.Read, "to_read", p.ToRead)
			}
			c, err := crawler.New(store, cat, cfg)
			if err != nil {
				return err
			}
			return runEvery(ctx, *every, log, "crawl", func() error {
				run, err := c.Run(ctx)
				if err != nil {
					return err
				}
				fmt.Fprintln(os.Stdout, run.Summary())
				for _, m := range run.Messages {
					log.Info("crawl note", "msg", m)
				}
				return nil
			})
		})
}
