package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"

	"github.com/stocklake/stocklake"
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
// live in is not asked.
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
	case err == nil:
		return existingTable{stocklake.TableFormatHive, fmt.Sprintf("the Hive table %s.%s in %s", database, name, catURL)}, nil
	case !errors.Is(err, stocklake.ErrNotFound):
		return existingTable{}, err
	case !sqliteFile:
		return existingTable{}, nil
	}
	cat, err := openIcebergCatalog(ctx, "--table-format auto", catURL, lakeURL, store)
	if err != nil {
		return existingTable{}, err
	}
	names, err := cat.ListTables(ctx, database)
	cat.Close()
	if err != nil || !slices.Contains(names, name) {
		return existingTable{}, err
	}
	return existingTable{stocklake.TableFormatIceberg, fmt.Sprintf("the Iceberg table %s.%s in %s", database, name, catURL)}, nil
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
