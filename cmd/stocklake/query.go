package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/query"
)

func queryCommand() *ffcli.Command {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	catURL := fs.String("catalog", defaultCatalog, "catalog URL: sqlite://PATH or glue://REGION")
	lakeURL := fs.String("lake", defaultLake, "lake URL the catalog's tables live in; results are written to its query-results/ folder")
	engineURL := fs.String("engine", defaultEngine, "SQL engine: duckdb://, athena://WORKGROUP or trino://HOST:PORT")
	database := fs.String("database", "stocklake", "database (schema) of unqualified table names")
	format := fs.String("format", "table", "output format: "+strings.Join(formatNames(), ", "))
	id := fs.String("id", "", "print the result of a past query by its ID instead of running one")
	history := fs.Int("history", 0, "list this many recent queries with their states instead of running one")
	timeout := fs.Duration("timeout", 30*time.Minute, "fail a query that runs longer")
	var maxScan byteSize
	fs.Var(&maxScan, "max-bytes-scanned", "fail a query that would read more from the lake, e.g. 10GB (default 0: no limit)")
	var lf logFlags
	lf.register(fs)
	return newCommand("query", `stocklake query --catalog URL [--engine URL] [--format table|csv|json|parquet] "SQL"`,
		"run SQL over catalog tables, like Athena",
		`Runs one SQL statement (Trino SQL, as Athena users write it) over the
catalog's tables: databases are schemas, tables are relations over their
files, and filters on partition keys read only the matching partitions.
Each query gets an ID and moves through QUEUED, RUNNING and SUCCEEDED,
FAILED or CANCELLED (Ctrl-C); its result is kept in the lake as
query-results/<id>.csv with metadata, and --id prints it again later.
The summary (state, rows, bytes scanned, time) goes to stderr.`,
		fs, func(ctx context.Context, args []string) error {
			log, err := lf.logger()
			if err != nil {
				return err
			}
			f, err := query.ParseFormat(*format)
			if err != nil {
				return err
			}
			lake, err := openStore(ctx, *lakeURL)
			if err != nil {
				return err
			}
			cat, err := openCatalog(ctx, *catURL, lake)
			if err != nil {
				return err
			}
			defer cat.Close()
			newRunner := func(eng stocklake.Engine, name string) (*query.Runner, error) {
				return query.New(query.Config{Engine: eng, EngineName: name, Store: lake, Timeout: *timeout,
					MaxBytesScanned: int64(maxScan), Logger: log})
			}
			switch {
			case *history > 0:
				r, err := newRunner(nil, "")
				if err != nil {
					return err
				}
				exs, err := r.List(ctx, *history)
				if err != nil {
					return err
				}
				for _, ex := range exs {
					fmt.Println(ex.Summary())
				}
				return nil
			case *id != "":
				r, err := newRunner(nil, "")
				if err != nil {
					return err
				}
				rows, err := r.Results(ctx, *id)
				if err != nil {
					return err
				}
				defer rows.Close()
				_, err = query.Write(os.Stdout, rows, f)
				return err
			}
			if len(args) != 1 {
				return fmt.Errorf(`query takes one SQL statement as its argument, e.g. stocklake query "SELECT * FROM ticks LIMIT 10": %w`, errUsage)
			}
			eng, name, err := openEngine(ctx, *engineURL, cat, lake, *database)
			if err != nil {
				return err
			}
			defer eng.Close()
			r, err := newRunner(eng, name)
			if err != nil {
				return err
			}
			ex, err := r.Run(ctx, args[0])
			if err != nil {
				if ex.ID != "" {
					fmt.Fprintln(os.Stderr, ex.Summary())
				}
				return err
			}
			rows, err := r.Results(ctx, ex.ID)
			if err != nil {
				return err
			}
			defer rows.Close()
			if _, err := query.Write(os.Stdout, rows, f); err != nil {
				return err
			}
			fmt.Fprintln(os.Stderr, ex.Summary())
			return nil
		})
}

func formatNames() []string {
	var out []string
	for _, f := range query.Formats {
		out = append(out, string(f))
	}
	return out
}
