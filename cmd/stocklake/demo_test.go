package main

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/iceberg"
)

// TestDemoIcebergTable runs `stocklake demo --table-format iceberg` with
// background maintenance every second (compacting while the sink appends)
// and reads the table with iceberg-go: every tick the demo consumed is in
// it once (the snapshot offsets count the records, the rows are distinct
// (symbol, trade_id) pairs), and maintenance ran on it.
func TestDemoIcebergTable(t *testing.T) {
	dir := t.TempDir()
	if err := runCommand(t, "demo", "--data", dir, "--http", "", "--duration", "6s", "--rate", "400", "--flush-interval", "300ms",
		"--table-format", "iceberg", "--maintain-every", "1s", "--maintain-min-age", "1ms", "--log-level", "warn"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cat, err := iceberg.Open(ctx, iceberg.Config{SQLitePath: filepath.Join(dir, "catalog.db"), Warehouse: "file://" + filepath.Join(dir, "lake")})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	tbl, err := cat.OpenTable(ctx, stocklake.DefaultDatabase, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	rows, _, offs, consumed := readTickTable(t, tbl)
	if rows < 1000 || int64(rows) != consumed {
		t.Errorf("the table holds %d rows for %d consumed records (offsets %v), want every record once and at least 1000", rows, consumed, offs)
	}
	// Compaction merged appended files while the sink kept appending.
	files, err := tbl.DataFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := tbl.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	appended := 0
	for _, sn := range snaps {
		if sn.Operation == "append" {
			n, _ := strconv.Atoi(sn.Summary["added-data-files"])
			appended += n
		}
	}
	if len(files) >= appended {
		t.Errorf("the table has %d data files after %d were appended: background maintenance compacted nothing", len(files), appended)
	}
	last, err := tbl.LastMaintenance(ctx)
	if err != nil || last.IsZero() {
		t.Errorf("last maintenance %v, %v: background maintenance never finished a pass on the table", last, err)
	}
}
