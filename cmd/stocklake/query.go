package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/query"
)

// queryFlags are the flags of `stocklake query` and `stocklake sql`.
type queryFlags struct {
	catalog, lake, engine, database, format string
	timeout                                 time.Duration
	maxScan                                 byteSize
	maxRows                                 int64
}

func (f *queryFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.catalog, "catalog", defaultCatalog, "catalog URL: sqlite://PATH or glue://REGION")
	fs.StringVar(&f.lake, "lake", "", "lake URL the catalog's tables live in; results are written to its query-results/ folder (default: the folder holding the locations of the database's tables, or "+defaultLake+" when the catalog has none)")
	fs.StringVar(&f.engine, "engine", defaultEngine, "SQL engine: duckdb://, athena://WORKGROUP or trino://HOST:PORT")
	fs.StringVar(&f.database, "database", stocklake.DefaultDatabase, "database (schema) of unqualified table names")
	fs.StringVar(&f.format, "format", "table", "output format: "+strings.Join(formatNames(), ", "))
	fs.DurationVar(&f.timeout, "timeout", query.DefaultTimeout, "fail a query that runs longer")
	fs.Var(&f.maxScan, "max-bytes-scanned", "fail a query that would read more from the lake, e.g. 10GB (default 0: no limit)")
	fs.Int64Var(&f.maxRows, "max-rows", 0, "keep at most this many rows of a result; the summary says when rows were cut (0: no limit)")
}

// querySession is an open lake, catalog, engine and query runner.
type querySession struct {
	runner  *query.Runner
	format  query.Format
	closers []func() error
}

// open connects to the backends; withEngine false opens no engine (for
// reading past results).
func (f *queryFlags) open(ctx context.Context, log *slog.Logger, withEngine bool) (*querySession, error) {
	format, err := query.ParseFormat(f.format)
	if err != nil {
		return nil, err
	}
	s := &querySession{format: format}
	var lake stocklake.ObjectStore
	if f.lake != "" {
		if lake, err = openStore(ctx, f.lake); err != nil {
			return nil, err
		}
	}
	cat, err := openCatalog(ctx, f.catalog, lake)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, cat.Close)
	if lake == nil {
		raw, err := catalogLake(ctx, cat, f.database)
		if err != nil {
			s.Close()
			return nil, err
		}
		log.Debug("query: the lake is where the catalog's tables are", "lake", raw)
		if lake, err = openStore(ctx, raw); err != nil {
			s.Close()
			return nil, err
		}
	}
	var eng stocklake.Engine
	var name string
	if withEngine {
		if eng, name, err = openEngine(ctx, f.engine, cat, lake, f.database); err != nil {
			s.Close()
			return nil, err
		}
		s.closers = append(s.closers, eng.Close)
	}
	s.runner, err = query.New(query.Config{Engine: eng, EngineName: name, Store: lake, Timeout: f.timeout,
		MaxBytesScanned: int64(f.maxScan), MaxRows: f.maxRows, Logger: log})
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// catalogLake is the lake of a query given without --lake: the folder
// holding the locations of database's tables (of every database's when it
// has none), or defaultLake for an empty catalog. Tables under several
// roots are refused, naming them: the engine reads one lake.
func catalogLake(ctx context.Context, cat stocklake.Catalog, database string) (string, error) {
	tables, err := cat.ListTables(ctx, database)
	if err != nil && !errors.Is(err, stocklake.ErrNotFound) {
		return "", fmt.Errorf("find the lake from the catalog's tables: %w", err)
	}
	whose := fmt.Sprintf("database %s's tables", database)
	if len(tables) == 0 {
		whose = "the catalog's tables"
		dbs, err := cat.ListDatabases(ctx)
		if err != nil {
			return "", fmt.Errorf("find the lake from the catalog's tables: %w", err)
		}
		for _, db := range dbs {
			ts, err := cat.ListTables(ctx, db.Name)
			if err != nil {
				return "", fmt.Errorf("find the lake from the catalog's tables: %w", err)
			}
			tables = append(tables, ts...)
		}
	}
	if len(tables) == 0 {
		return defaultLake, nil
	}
	var locs []string
	for _, t := range tables {
		locs = append(locs, t.Location)
	}
	roots := lakeRoots(locs)
	switch len(roots) {
	case 0:
		return defaultLake, nil
	case 1:
		return roots[0], nil
	}
	slices.Sort(roots)
	return "", fmt.Errorf("%s live under %d lakes (%s) and a query reads one; pass --lake with the one that holds the tables you query: %w",
		whose, len(roots), strings.Join(roots, ", "), stocklake.ErrConfig)
}

// lakeRoots returns the folders holding table locations: the parent
// folders of the tables, without those inside another one, e.g. just
// file:///x/lake for file:///x/lake/ticks/ and file:///x/lake/bars/1m/.
// Locations that are not URLs are ignored.
func lakeRoots(locations []string) []string {
	var parents []string
	for _, loc := range locations {
		loc = strings.TrimRight(loc, "/")
		scheme, rest, ok := strings.Cut(loc, "://")
		if !ok || scheme == "" || !strings.Contains(rest, "/") {
			continue
		}
		p := loc[:strings.LastIndex(loc, "/")]
		if strings.HasSuffix(p, "://") {
			p += "/" // a table at the root of a file system or bucket
		}
		if !slices.Contains(parents, p) {
			parents = append(parents, p)
		}
	}
	var roots []string
	for _, p := range parents {
		inside := slices.ContainsFunc(parents, func(q string) bool { return strings.HasPrefix(p, q+"/") })
		if !inside {
			roots = append(roots, p)
		}
	}
	return roots
}

// Close releases the engine and the catalog.
func (s *querySession) Close() error {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	return nil
}

// runAndPrint runs one statement, writes its result to w and its summary
// to stderr.
func (s *querySession) runAndPrint(ctx context.Context, w io.Writer, sql string, f query.Format) error {
	ex, err := s.runner.Run(ctx, sql)
	if err != nil {
		if ex.ID != "" {
			fmt.Fprintln(os.Stderr, ex.Summary())
		}
		return err
	}
	if err := s.printResult(ctx, w, ex.ID, f); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, ex.Summary())
	return nil
}

// printResult writes a stored result.
func (s *querySession) printResult(ctx context.Context, w io.Writer, id string, f query.Format) error {
	rows, err := s.runner.Results(ctx, id)
	if err != nil {
		return err
	}
	defer rows.Close()
	_, err = query.Write(w, rows, f)
	return err
}

func queryCommand() *ffcli.Command {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	var qf queryFlags
	qf.register(fs)
	id := fs.String("id", "", "print the result of a past query by its ID instead of running one")
	history := fs.Int("history", 0, "list this many recent queries with their states instead of running one")
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
Without --lake the lake is the folder holding the catalog's tables.
The summary (state, rows, bytes scanned, time) goes to stderr.
'stocklake sql' is the interactive shell.

With duckdb:// and a sqlite:// catalog, the Iceberg tables kept in the
catalog file are tables too: filters on their columns (ts ranges, symbol =,
IN, BETWEEN) skip files by partition and column statistics, and
"FROM t FOR VERSION AS OF <snapshot-id>" or "FROM t FOR TIMESTAMP AS OF
TIMESTAMP '2026-12-01 10:00:00 UTC'" read an older snapshot
('stocklake catalog snapshots t' lists them).`,
		fs, func(ctx context.Context, args []string) error {
			log, err := lf.logger()
			if err != nil {
				return err
			}
			runs := *id == "" && *history == 0
			if runs && len(args) != 1 {
				return fmt.Errorf(`query takes one SQL statement as its argument, e.g. stocklake query "SELECT * FROM ticks LIMIT 10": %w`, errUsage)
			}
			s, err := qf.open(ctx, log, runs)
			if err != nil {
				return err
			}
			defer s.Close()
			switch {
			case *history > 0:
				exs, err := s.runner.List(ctx, *history)
				if err != nil {
					return err
				}
				for _, ex := range exs {
					fmt.Println(ex.Summary())
				}
				return nil
			case *id != "":
				err := s.printResult(ctx, os.Stdout, *id, s.format)
				if errors.Is(err, stocklake.ErrNotFound) {
					return fmt.Errorf("--id: %w (list past queries with --history)", err)
				}
				return err
			}
			return s.runAndPrint(ctx, os.Stdout, args[0], s.format)
		})
}

func formatNames() []string {
	var out []string
	for _, f := range query.Formats {
		out = append(out, string(f))
	}
	return out
}
