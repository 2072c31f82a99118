package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/iceberg"
)

func catalogCommand() *ffcli.Command {
	fs := flag.NewFlagSet("catalog", flag.ContinueOnError)
	catURL := fs.String("catalog", defaultCatalog, "catalog URL: sqlite://PATH or glue://REGION")
	lakeURL := fs.String("lake", "", "lake URL, needed for the crawl history of a glue:// catalog (kept in the lake); with it, table NAME also shows file counts and the last compaction")
	database := fs.String("database", stocklake.DefaultDatabase, "catalog database")
	format := fs.String("format", "table", "output format: table or json")
	limit := fs.Int("limit", 20, "crawls: how many recent runs to show")
	var lf logFlags
	lf.register(fs)
	return newCommand("catalog", "stocklake catalog databases|tables|table NAME|partitions NAME|versions NAME|snapshots NAME|crawls --catalog URL [--format table|json]",
		"list databases, tables, columns, partitions and crawl history",
		`Shows what the catalog holds:
  databases          every database
  tables             the tables of --database
  table NAME         one table: location, format, SerDe, columns, partition keys
                     (with --lake: files read, average file size, last compaction)
  partitions NAME    the partitions of a table
  versions NAME      the schema versions of a table
  snapshots NAME     the snapshots of an Iceberg table, newest first: time,
                     operation, files and records added, and the Kafka offsets
                     (next offset per topic-id:partition) stocklake recorded
  crawls             the crawl history of --database

Iceberg tables (in a sqlite:// catalog's file) are listed by tables with
format iceberg; table NAME shows their partitioning and current snapshot.`,
		fs, func(ctx context.Context, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("catalog needs a listing: databases, tables, table NAME, partitions NAME, versions NAME, snapshots NAME or crawls: %w", errUsage)
			}
			if _, err := lf.logger(); err != nil {
				return err
			}
			var err error
			if *format != "table" && *format != "json" {
				return fmt.Errorf("--format %q: want table or json: %w", *format, stocklake.ErrConfig)
			}
			var lake stocklake.ObjectStore
			if *lakeURL != "" {
				if lake, err = openStore(ctx, *lakeURL); err != nil {
					return err
				}
			}
			cat, err := openCatalog(ctx, *catURL, lake)
			if err != nil {
				return err
			}
			defer cat.Close()
			ice, closeIce, err := sqliteIceberg(ctx, cat, lake)
			if err != nil {
				return err
			}
			defer closeIce()
			needName := func() (string, error) {
				if len(args) != 2 {
					return "", fmt.Errorf("catalog %s needs a table name, e.g. catalog %s ticks: %w", args[0], args[0], errUsage)
				}
				return args[1], nil
			}
			out := listing{w: os.Stdout, json: *format == "json"}
			switch args[0] {
			case "databases":
				dbs, err := cat.ListDatabases(ctx)
				if err != nil {
					return err
				}
				rows := [][]string{}
				for _, d := range dbs {
					rows = append(rows, []string{d.Name, d.LocationURI, d.Description})
				}
				return out.print(dbs, []string{"DATABASE", "LOCATION", "DESCRIPTION"}, rows)
			case "tables":
				its, err := icebergTables(ctx, ice, *database)
				if err != nil {
					return err
				}
				ts, err := cat.ListTables(ctx, *database)
				if err != nil && (len(its) == 0 || !errors.Is(err, stocklake.ErrNotFound)) {
					return err
				}
				rows := [][]string{}
				for _, t := range ts {
					rows = append(rows, []string{t.Name, t.Format, fmt.Sprint(len(t.Columns)), keyNames(t.PartitionKeys), t.Location, fmt.Sprint(t.Version)})
				}
				for _, t := range its {
					rows = append(rows, []string{t.Name, iceberg.Type, fmt.Sprint(len(t.Columns)), t.Parameters["partitioning"], t.Location, "snapshot " + cmp.Or(t.Parameters["current-snapshot-id"], "none")})
				}
				return out.print(append(ts, its...), []string{"TABLE", "FORMAT", "COLUMNS", "PARTITION KEYS", "LOCATION", "VERSION"}, rows)
			case "table":
				name, err := needName()
				if err != nil {
					return err
				}
				t, err := cat.GetTable(ctx, *database, name)
				if errors.Is(err, stocklake.ErrNotFound) && ice != nil {
					if tbl, ierr := ice.OpenTable(ctx, *database, name); ierr == nil {
						return printIcebergTable(ctx, out, tbl)
					}
				}
				if err != nil {
					return err
				}
				if out.json {
					return out.print(t, nil, nil)
				}
				fmt.Fprintf(os.Stdout, "table     %s.%s (version %d)\nlocation  %s\nformat    %s\ninput     %s\noutput    %s\nserde     %s\nupdated   %s\n",
					t.Database, t.Name, t.Version, t.Location, t.Format, t.InputFormat, t.OutputFormat, t.SerDe, t.UpdateTime.Format(time.RFC3339))
				if lake != nil {
					if err := printTableFiles(ctx, lake, cat, t); err != nil {
						return err
					}
				}
				fmt.Fprintln(os.Stdout)
				rows := [][]string{}
				for _, c := range t.Columns {
					rows = append(rows, []string{c.Name, c.Type, ""})
				}
				for _, c := range t.PartitionKeys {
					rows = append(rows, []string{c.Name, c.Type, "partition key"})
				}
				return out.print(nil, []string{"COLUMN", "TYPE", ""}, rows)
			case "partitions":
				name, err := needName()
				if err != nil {
					return err
				}
				ps, err := cat.ListPartitions(ctx, *database, name)
				if err != nil {
					return err
				}
				rows := [][]string{}
				for _, p := range ps {
					rows = append(rows, []string{strings.Join(p.Values, "/"), p.Location})
				}
				return out.print(ps, []string{"VALUES", "LOCATION"}, rows)
			case "versions":
				name, err := needName()
				if err != nil {
					return err
				}
				vs, err := cat.TableVersions(ctx, *database, name)
				if err != nil {
					return err
				}
				rows := [][]string{}
				for _, t := range vs {
					cols := []string{}
					for _, c := range t.Columns {
						cols = append(cols, c.Name+" "+c.Type)
					}
					rows = append(rows, []string{fmt.Sprint(t.Version), t.UpdateTime.Format(time.RFC3339), strings.Join(cols, ", ")})
				}
				return out.print(vs, []string{"VERSION", "UPDATED", "COLUMNS"}, rows)
			case "snapshots":
				name, err := needName()
				if err != nil {
					return err
				}
				if ice == nil {
					return fmt.Errorf("catalog %s holds no Iceberg tables (only sqlite:// catalogs do yet): %w", *catURL, stocklake.ErrConfig)
				}
				tbl, err := ice.OpenTable(ctx, *database, name)
				if err != nil {
					return fmt.Errorf("%w (snapshots lists Iceberg tables only)", err)
				}
				snaps, err := tbl.Snapshots(ctx)
				if err != nil {
					return err
				}
				rows := [][]string{}
				for _, sn := range snaps {
					rows = append(rows, []string{fmt.Sprint(sn.ID), sn.Time.Format(time.RFC3339Nano), sn.Operation,
						cmp.Or(sn.Summary["added-data-files"], "0"), cmp.Or(sn.Summary["added-records"], "0"), offsetList(sn.Offsets)})
				}
				return out.print(snaps, []string{"SNAPSHOT", "TIME", "OPERATION", "ADDED FILES", "ADDED RECORDS", "OFFSETS"}, rows)
			case "crawls":
				cl, ok := cat.(stocklake.CrawlLog)
				if !ok {
					return fmt.Errorf("catalog %s keeps no crawl history: %w", *catURL, stocklake.ErrConfig)
				}
				runs, err := cl.ListCrawls(ctx, *database, *limit)
				if err != nil {
					return err
				}
				rows := [][]string{}
				for _, r := range runs {
					rows = append(rows, []string{r.ID, r.Start.Format(time.RFC3339), r.Duration().Round(time.Millisecond).String(),
						fmt.Sprintf("%d/%d", len(r.TablesCreated), len(r.TablesUpdated)), fmt.Sprintf("+%d -%d", r.PartitionsAdded, r.PartitionsRemoved),
						fmt.Sprint(r.FilesRead), r.Error})
				}
				return out.print(runs, []string{"RUN", "START", "TIME", "TABLES NEW/UPD", "PARTITIONS", "FILES READ", "ERROR"}, rows)
			}
			return fmt.Errorf("unknown listing %q; want databases, tables, table, partitions, versions, snapshots or crawls: %w", args[0], errUsage)
		})
}

// printTableFiles prints how many data files readers of table t open
// (those in its partitions' current locations), their average size, and
// its last compaction: one listing of the table's folder.
func printTableFiles(ctx context.Context, lake stocklake.ObjectStore, cat stocklake.Catalog, t stocklake.Table) error {
	n, size, st, err := hiveTableFiles(ctx, lake, cat, t)
	if errors.Is(err, errOutsideLake) {
		fmt.Fprintf(os.Stdout, "files     (the table is outside the lake %s)\n", lake.URL())
		return nil
	}
	if err != nil {
		return err
	}
	avg := int64(0)
	if n > 0 {
		avg = size / n
	}
	fmt.Fprintf(os.Stdout, "files     %d, %s on average\n", n, humanize.IBytes(uint64(avg)))
	if st.LastRun.IsZero() {
		fmt.Fprintln(os.Stdout, "compacted never")
	} else {
		fmt.Fprintf(os.Stdout, "compacted %s (%d partitions compacted; %d files, %s merged in all)\n",
			st.LastRun.Format(time.RFC3339), len(st.Partitions), st.FilesRewritten, humanize.IBytes(uint64(st.BytesRewritten)))
	}
	return nil
}

var errOutsideLake = errors.New("the table is outside the lake")

// hiveTableFiles counts the data files readers of Hive table t open (those
// in its partitions' current locations) and their bytes, and reads its
// compaction state (whose LastRun is its last maintenance): one listing of
// the table's folder.
func hiveTableFiles(ctx context.Context, lake stocklake.ObjectStore, cat stocklake.Catalog, t stocklake.Table) (n, size int64, st *stocklake.CompactionState, err error) {
	base := strings.TrimSuffix(lake.URL(), "/") + "/"
	folder, ok := strings.CutPrefix(strings.TrimSuffix(t.Location, "/")+"/", base)
	if !ok {
		return 0, 0, nil, errOutsideLake
	}
	read := map[string]bool{folder: len(t.PartitionKeys) == 0}
	if len(t.PartitionKeys) > 0 {
		ps, err := cat.ListPartitions(ctx, t.Database, t.Name)
		if err != nil {
			return 0, 0, nil, err
		}
		for _, p := range ps {
			if f, ok := strings.CutPrefix(strings.TrimSuffix(p.Location, "/")+"/", base); ok {
				read[f] = true
			}
		}
	}
	objs, err := lake.List(ctx, folder)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("listing the files of %s: %w", t.Name, err)
	}
	for _, o := range objs {
		i := strings.LastIndexByte(o.Key, '/')
		name := o.Key[i+1:]
		if read[o.Key[:i+1]] && o.Size > 0 && !strings.HasPrefix(name, "_") && !strings.HasPrefix(name, ".") {
			n++
			size += o.Size
		}
	}
	st, _, err = stocklake.ReadCompactionState(ctx, lake, folder)
	return n, size, st, err
}

func keyNames(cs []stocklake.Column) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return strings.Join(names, ",")
}

// listing prints either aligned text rows or the value as indented JSON.
type listing struct {
	w    io.Writer
	json bool
}

func (l listing) print(v any, header []string, rows [][]string) error {
	if l.json {
		enc := json.NewEncoder(l.w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(l.w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// icebergTables describes the Iceberg tables of database (none without an
// Iceberg catalog).
func icebergTables(ctx context.Context, ice *iceberg.Catalog, database string) ([]stocklake.Table, error) {
	if ice == nil {
		return nil, nil
	}
	names, err := ice.ListTables(ctx, database)
	if err != nil {
		return nil, err
	}
	var out []stocklake.Table
	for _, n := range names {
		tbl, err := ice.OpenTable(ctx, database, n)
		if err != nil {
			return nil, err
		}
		def, err := tbl.Definition(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, def)
	}
	return out, nil
}

// printIcebergTable shows an Iceberg table: location, metadata file,
// partitioning, current snapshot, its data files (count, average size,
// rows), the last maintenance and the columns.
func printIcebergTable(ctx context.Context, out listing, tbl *iceberg.Table) error {
	def, err := tbl.Definition(ctx)
	if err != nil {
		return err
	}
	snaps, err := tbl.Snapshots(ctx)
	if err != nil {
		return err
	}
	files, err := tbl.DataFiles(ctx)
	if err != nil {
		return err
	}
	last, err := tbl.LastMaintenance(ctx)
	if err != nil {
		return err
	}
	var size, rows int64
	for _, f := range files {
		size += f.Size
		rows += f.Rows
	}
	avg := int64(0)
	if len(files) > 0 {
		avg = size / int64(len(files))
	}
	if out.json {
		return out.print(struct {
			stocklake.Table
			Snapshots       []stocklake.TableSnapshot
			Files           int       `json:"files"`
			Rows            int64     `json:"rows"`
			Bytes           int64     `json:"bytes"`
			AvgFileBytes    int64     `json:"avg_file_bytes"`
			LastMaintenance time.Time `json:"last_maintenance,omitzero"`
		}{def, snaps, len(files), rows, size, avg, last}, nil, nil)
	}
	current := "none (empty table)"
	if len(snaps) > 0 {
		s := snaps[0]
		current = fmt.Sprintf("%d at %s (%s)", s.ID, s.Time.Format(time.RFC3339Nano), s.Operation)
	}
	fmt.Fprintf(out.w, "table     %s.%s\nformat    iceberg (Parquet data files)\nlocation  %s\nmetadata  %s\npartition %s\nsnapshot  %s\nsnapshots %d\nrows      %d\nfiles     %d, %s on average\n",
		def.Database, def.Name, def.Location, def.Parameters["metadata_location"], def.Parameters["partitioning"], current,
		len(snaps), rows, len(files), humanize.IBytes(uint64(avg)))
	if last.IsZero() {
		fmt.Fprintln(out.w, "maintained never")
	} else {
		fmt.Fprintf(out.w, "maintained %s\n", last.Format(time.RFC3339))
	}
	if len(snaps) > 0 && snaps[0].Offsets != nil {
		fmt.Fprintf(out.w, "offsets   %s\n", offsetList(snaps[0].Offsets))
	}
	fmt.Fprintln(out.w)
	cols := [][]string{}
	for _, c := range def.Columns {
		cols = append(cols, []string{c.Name, c.Type})
	}
	return out.print(nil, []string{"COLUMN", "TYPE"}, cols)
}

// offsetList formats offsets as "topic-id:partition=next ...", sorted.
func offsetList(offs map[stocklake.TopicPartition]int64) string {
	parts := make([]string, 0, len(offs))
	for tp, o := range offs {
		parts = append(parts, fmt.Sprintf("%s=%d", tp, o))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
