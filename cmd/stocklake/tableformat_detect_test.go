package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/sqlite"
)

// TestDetectTableFormatOtherTables: --table-format auto (sink, demo,
// verify) refuses a catalog table that is neither Hive nor Iceberg (a Delta
// Lake or Hudi table, an Athena view, as Glue's parameters tell), and a name
// that is both a Hive table and an Iceberg table of the sqlite:// file,
// with a config error saying what it found. Both used to be taken for Hive:
// the Hive sink then registered its partitions into the Delta table or the
// view, or landed in a Hive table while readers of Iceberg tables (the
// dashboard) showed the Iceberg one.
func TestDetectTableFormatOtherTables(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := file.New(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "catalog.db")
	hc, err := sqlite.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := hc.CreateDatabase(ctx, stocklake.Database{Name: "default"}); err != nil {
		t.Fatal(err)
	}
	for name, params := range map[string]map[string]string{
		"delta": {"table_type": "DELTA"}, "view": {"presto_view": "true"}, "sparkdelta": {"spark.sql.sources.provider": "delta"},
		"both": nil, "hive": {"classification": "parquet"},
	} {
		tb := stocklake.Table{Database: "default", Name: name, Columns: []stocklake.Column{{Name: "x", Type: "string"}},
			Location: store.URL() + "/" + name + "/", Format: stocklake.FormatParquet, Parameters: params}
		if err := hc.CreateTable(ctx, tb); err != nil {
			t.Fatal(err)
		}
	}
	hc.Close()
	ic, err := iceberg.Open(ctx, iceberg.Config{SQLitePath: dbPath, Warehouse: store.URL()})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"both", "ice"} {
		if _, err := ic.CreateTickTable(ctx, "default", name, iceberg.TableOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ic.Close()
	catURL := "sqlite://" + dbPath
	for name, want := range map[string]string{"delta": "DELTA table", "view": "view", "sparkdelta": "delta table", "both": "both a Hive table and an Iceberg table"} {
		found, err := detectTableFormat(ctx, store, catURL, store.URL(), "default", name)
		if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %+v, %v: want a config error saying %q", name, found, err, want)
		}
	}
	for name, want := range map[string]string{"hive": stocklake.TableFormatHive, "ice": stocklake.TableFormatIceberg, "new": ""} {
		if found, err := detectTableFormat(ctx, store, catURL, store.URL(), "default", name); err != nil || found.format != want {
			t.Errorf("%s: %+v, %v: want format %q", name, found, err, want)
		}
	}
}
