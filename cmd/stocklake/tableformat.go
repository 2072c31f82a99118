package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/sink"
)

// tableFormatAuto is the default --table-format of sink and demo (and of
// verify): an existing table keeps its format, a new table is Iceberg
// unless a setting only the Hive path has asks for Hive (see
// resolveTableFormat).
const tableFormatAuto = "auto"

// tableFormatRule is the --help text of the auto rule of sink and demo.
const tableFormatRule = "auto (default): an existing table keeps its format (hive when the lake holds the Hive sink's state for it, _stocklake/sink/<table>/, or the --catalog a non-Iceberg table of that name; iceberg when the --catalog holds an Iceberg table of that name), and a new table is iceberg, unless a setting only Hive tables have asks for hive (no --catalog, --format json, --projection, a Hive-only --partition-by): the sink logs the format it chose and why"

// existingTable is what detectTableFormat found of a table.
type existingTable struct {
	format string // "" when no table of that name exists
	where  string // what holds it, for messages
}

// detectTableFormat finds the table database.name of the lake store (at
// lakeURL) and the catalog catURL ("" for none): Iceberg when the catalog
// holds an Iceberg table of that name (in its sqlite:// file, or a Glue
// table with table_type=ICEBERG); Hive when the catalog holds a
// non-Iceberg table of that name or the lake holds the Hive sink's state
// for it (sink.HiveTableKey). A sqlite:// catalog file that does not exist
// holds nothing and is not created; a catalog URL Iceberg tables cannot
// live in is not asked. A catalog table of another type (Delta Lake, Hudi,
// a view: otherTableType), or a name that is both a Hive and an Iceberg
// table of a sqlite:// file, is an ErrConfig error: no format is right.
func detectTableFormat(ctx context.Context, store stocklake.ObjectStore, catURL, lakeURL, database, name string) (existingTable, error) {
	if name == "" {
		return existingTable{}, nil // the sink refuses it
	}
	if catURL != "" {
		if cfg, err := icebergCatalogConfig("--table-format auto", catURL, lakeURL, store); err == nil && !missingFile(cfg.SQLitePath) {
			found, err := catalogTableFormat(ctx, store, cfg.SQLitePath != "", catURL, lakeURL, database, name)
			if found.format != "" || err != nil {
				return found, err
			}
		}
	}
	key, err := sink.HiveTableKey(ctx, store, name)
	if err != nil || key == "" {
		return existingTable{}, err
	}
	return existingTable{stocklake.TableFormatHive, fmt.Sprintf("the Hive table %s (sink state %s in %s)", name, key, store.URL())}, nil
}

// missingFile reports whether path is set and no file is there.
func missingFile(path string) bool {
	if path == "" {
		return false
	}
	_, err := os.Stat(path)
	return errors.Is(err, os.ErrNotExist)
}

// catalogTableFormat finds the table in the catalog catURL: its tables
// (Glue's include its Iceberg tables, table_type=ICEBERG) and, for a
// sqlite:// file (sqliteFile), the Iceberg tables in the file.
func catalogTableFormat(ctx context.Context, store stocklake.ObjectStore, sqliteFile bool, catURL, lakeURL, database, name string) (existingTable, error) {
	hc, err := openCatalog(ctx, catURL, store)
	if err != nil {
		return existingTable{}, err
	}
	t, err := hc.GetTable(ctx, database, name)
	hc.Close()
	switch {
	case err == nil && t.IsIceberg():
		return existingTable{stocklake.TableFormatIceberg, fmt.Sprintf("the Iceberg table %s.%s in %s", database, name, catURL)}, nil
	case err == nil && otherTableType(t) != "":
		return existingTable{}, fmt.Errorf("table %s.%s in %s is a %s, neither a Hive nor an Iceberg table: the sink cannot land into it (nor verify it); choose another --table or --database: %w",
			database, name, catURL, otherTableType(t), stocklake.ErrConfig)
	case err == nil && !sqliteFile:
		return existingTable{stocklake.TableFormatHive, fmt.Sprintf("the Hive table %s.%s in %s", database, name, catURL)}, nil
	case err != nil && !errors.Is(err, stocklake.ErrNotFound):
		return existingTable{}, err
	case err != nil && !sqliteFile:
		return existingTable{}, nil
	}
	hive := err == nil
	cat, err := openIcebergCatalog(ctx, "--table-format auto", catURL, lakeURL, store)
	if err != nil {
		return existingTable{}, err
	}
	names, err := cat.ListTables(ctx, database)
	cat.Close()
	if err != nil {
		return existingTable{}, err
	}
	switch ice := slices.Contains(names, name); {
	case hive && ice:
		// Readers that list Iceberg tables (the dashboard) would show the
		// one, a Hive sink would land in the other.
		return existingTable{}, fmt.Errorf("%s.%s in %s is both a Hive table and an Iceberg table (of the catalog's Iceberg tables, e.g. registered by a crawl): which one a reader sees depends on the reader; drop one of them (stocklake catalog), or land under another --table or --database: %w",
			database, name, catURL, stocklake.ErrConfig)
	case hive:
		return existingTable{stocklake.TableFormatHive, fmt.Sprintf("the Hive table %s.%s in %s", database, name, catURL)}, nil
	case ice:
		return existingTable{stocklake.TableFormatIceberg, fmt.Sprintf("the Iceberg table %s.%s in %s", database, name, catURL)}, nil
	}
	return existingTable{}, nil
}

// otherTableType names what a catalog table is when it is neither Hive
// nor Iceberg, as Glue's parameters tell (a Delta Lake or Hudi table, an
// Athena view): "" for a Hive or Iceberg table.
func otherTableType(t stocklake.Table) string {
	if tt := t.Parameters[stocklake.ParamTableType]; tt != "" && !t.IsIceberg() {
		return tt + " table (table_type=" + tt + ")"
	}
	if strings.EqualFold(t.Parameters["presto_view"], "true") {
		return "view (presto_view=true)"
	}
	switch p := strings.ToLower(t.Parameters["spark.sql.sources.provider"]); p {
	case "delta", "hudi":
		return p + " table (spark.sql.sources.provider=" + p + ")"
	}
	return ""
}

// resolveTableFormat returns the table format a sink of table (database
// name) runs with for the --table-format requested: an explicit hive or
// iceberg must match the existing table's format (an error says what to
// do otherwise); auto follows the existing table, and makes a new one
// Iceberg unless hiveOnly names a setting only Hive tables have. It logs
// the format and why at Info.
func resolveTableFormat(log *slog.Logger, requested string, existing existingTable, database, name, hiveOnly string) (string, error) {
	if err := checkTableFormat(requested); err != nil {
		return "", err
	}
	format, why := requested, "--table-format "+requested
	switch {
	case existing.format != "" && requested != tableFormatAuto && requested != existing.format:
		other := "--table"
		if existing.format == stocklake.TableFormatIceberg {
			other = "--table or --database"
		}
		return "", fmt.Errorf("--table-format %s: table %s is already %s: keep its format (--table-format %s, or auto, the default), or land the topic as a new %s table under another %s: %w",
			requested, name, existing.where, existing.format, requested, other, stocklake.ErrConfig)
	case existing.format != "":
		format, why = existing.format, "the table exists: "+existing.where
	case requested != tableFormatAuto:
	case hiveOnly != "":
		format, why = stocklake.TableFormatHive, "new table, Hive because "+hiveOnly
	default:
		format, why = stocklake.TableFormatIceberg, "new table (Iceberg is the default for new tables)"
	}
	log.Info("table format", "table_format", format, "database", database, "table", name, "why", why)
	return format, nil
}

// checkTableFormat refuses a --table-format other than auto, hive or
// iceberg.
func checkTableFormat(v string) error {
	switch v {
	case tableFormatAuto, stocklake.TableFormatHive, stocklake.TableFormatIceberg:
		return nil
	}
	return fmt.Errorf("--table-format %q: want auto, hive or iceberg: %w", v, stocklake.ErrConfig)
}

// icebergView is a catalog as the dashboard shows it: cat's tables and the
// Iceberg tables of ice (the Iceberg catalog beside it, catalogIceberg),
// so a lake of Iceberg tables (the default for new tables) shows its
// databases, tables, columns and partitions. Everything else is cat's.
type icebergView struct {
	stocklake.Catalog
	ice *iceberg.Catalog
}

// icebergViewLog is an icebergView of a catalog that keeps crawl history.
type icebergViewLog struct {
	icebergView
	stocklake.CrawlLog
}

// withIcebergTables returns cat with ice's Iceberg tables in its listings
// (icebergView), still a stocklake.CrawlLog when cat is one; cat itself
// when ice is nil.
func withIcebergTables(cat stocklake.Catalog, ice *iceberg.Catalog) stocklake.Catalog {
	if ice == nil || cat == nil {
		return cat
	}
	if cl, ok := cat.(stocklake.CrawlLog); ok {
		return icebergViewLog{icebergView{cat, ice}, cl}
	}
	return icebergView{cat, ice}
}

// ListDatabases adds the Iceberg namespaces cat does not have.
func (v icebergView) ListDatabases(ctx context.Context) ([]stocklake.Database, error) {
	dbs, err := v.Catalog.ListDatabases(ctx)
	if err != nil {
		return nil, err
	}
	nss, err := v.ice.Namespaces(ctx, nil)
	if err != nil {
		return nil, err
	}
	for _, ns := range nss {
		name := strings.Join(ns, ".")
		if !slices.ContainsFunc(dbs, func(d stocklake.Database) bool { return d.Name == name }) {
			dbs = append(dbs, stocklake.Database{Name: name})
		}
	}
	slices.SortFunc(dbs, func(a, b stocklake.Database) int { return strings.Compare(a.Name, b.Name) })
	return dbs, nil
}

// ListTables lists cat's tables and the database's Iceberg tables (their
// definitions replace an entry cat keeps for the same Iceberg table).
func (v icebergView) ListTables(ctx context.Context, database string) ([]stocklake.Table, error) {
	ts, err := v.Catalog.ListTables(ctx, database)
	if err != nil && !errors.Is(err, stocklake.ErrNotFound) {
		return nil, err
	}
	its, ierr := icebergTables(ctx, v.ice, database)
	if ierr != nil {
		return nil, ierr
	}
	if err != nil && len(its) == 0 {
		return nil, err // the database exists in neither
	}
	ts = slices.DeleteFunc(ts, func(t stocklake.Table) bool {
		return slices.ContainsFunc(its, func(it stocklake.Table) bool { return it.Name == t.Name })
	})
	ts = append(ts, its...)
	slices.SortFunc(ts, func(a, b stocklake.Table) int { return strings.Compare(a.Name, b.Name) })
	return ts, nil
}

// icebergTable opens the Iceberg table database.name; nil when ice has no
// such table.
func (v icebergView) icebergTable(ctx context.Context, database, name string) (*iceberg.Table, error) {
	names, err := v.ice.ListTables(ctx, database)
	if err != nil || !slices.Contains(names, name) {
		return nil, err
	}
	return v.ice.OpenTable(ctx, database, name)
}

// GetTable returns an Iceberg table's definition, else cat's table.
func (v icebergView) GetTable(ctx context.Context, database, name string) (stocklake.Table, error) {
	tbl, err := v.icebergTable(ctx, database, name)
	if err != nil || tbl == nil {
		if err == nil {
			return v.Catalog.GetTable(ctx, database, name)
		}
		return stocklake.Table{}, err
	}
	return tbl.Definition(ctx)
}

// ListPartitions lists an Iceberg table's partitions (those its current
// data files are in, as paths such as ts_day=2026-11-23, under the table's
// data/ folder), else cat's partitions of the table.
func (v icebergView) ListPartitions(ctx context.Context, database, name string) ([]stocklake.Partition, error) {
	tbl, err := v.icebergTable(ctx, database, name)
	if err != nil || tbl == nil {
		if err == nil {
			return v.Catalog.ListPartitions(ctx, database, name)
		}
		return nil, err
	}
	files, err := tbl.DataFiles(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []stocklake.Partition
	for _, f := range files {
		if f.Partition == "" || seen[f.Partition] {
			continue
		}
		seen[f.Partition] = true
		out = append(out, stocklake.Partition{Values: []string{f.Partition}, Location: strings.TrimSuffix(tbl.Location(), "/") + "/data/" + f.Partition + "/"})
	}
	slices.SortFunc(out, func(a, b stocklake.Partition) int { return strings.Compare(a.Values[0], b.Values[0]) })
	return out, nil
}
