package iceberg

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ice "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/stocklake/stocklake"
)

// TestPlanScanDeleteFiles: a snapshot with position delete files (a
// merge-on-read DELETE by another writer, here iceberg-go) is refused with
// ErrInvalid, never read without its deletes; the snapshot before it still
// plans.
func TestPlanScanDeleteFiles(t *testing.T) {
	ctx := context.Background()
	c := newTestLake(t).open(t)
	tbl, err := c.CreateTickTable(ctx, "market", "ticks", TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := writeTicks(t, tbl, "ts_day=2026-11-26/a.parquet", ticks(100, 0, "a"))
	before, err := tbl.Commit(ctx, []stocklake.LakeFile{f}, []stocklake.OffsetRange{rng("T", 0, 0, 100)})
	if err != nil {
		t.Fatal(err)
	}
	it, err := c.cat.LoadTable(ctx, table.Identifier{"market", "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	txn := it.NewTransaction()
	if err := txn.SetProperties(ice.Properties{table.WriteDeleteModeKey: table.WriteModeMergeOnRead}); err != nil {
		t.Fatal(err)
	}
	if err := txn.Delete(ctx, ice.EqualTo(ice.Reference("symbol"), "AAPL"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = c.PlanScan(ctx, "market", "ticks", stocklake.ScanOptions{})
	if !errors.Is(err, stocklake.ErrInvalid) || !strings.Contains(err.Error(), "delete files") {
		t.Fatalf("scan after a merge-on-read delete: %v, want ErrInvalid about delete files", err)
	}
	plan, err := c.PlanScan(ctx, "market", "ticks", stocklake.ScanOptions{SnapshotID: before.ID})
	if err != nil || len(plan.Files) != 1 {
		t.Errorf("the snapshot before the delete: %v files, %v", len(plan.Files), err)
	}
}

// TestRegisterPyicebergIntegration: a table registered by
// RegisterIcebergTable (its iceberg_tables row inserted by stocklake) is
// read by pyiceberg's SqlCatalog like any other. Runs when STOCKLAKE_PYTHON
// is set (`eval "$(scripts/pyenv)"`).
func TestRegisterPyicebergIntegration(t *testing.T) {
	py := os.Getenv("STOCKLAKE_PYTHON")
	if py == "" {
		t.Skip("STOCKLAKE_PYTHON is not set: run `eval \"$(scripts/pyenv)\"` for a Python with pyiceberg")
	}
	ctx := context.Background()
	src := newTestLake(t)
	tbl := src.createTicks(t)
	f := writeTicks(t, tbl, "ts_day=2026-11-26/a.parquet", ticks(300, 0, "a"))
	if _, err := tbl.Commit(ctx, []stocklake.LakeFile{f}, []stocklake.OffsetRange{rng("T", 0, 0, 300)}); err != nil {
		t.Fatal(err)
	}
	plan, err := src.open(t).PlanScan(ctx, "market", "ticks", stocklake.ScanOptions{ColumnsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	dst := testLake{dir: src.dir, dbPath: filepath.Join(t.TempDir(), "crawled.db"), warehouse: src.warehouse}
	created, err := dst.open(t).RegisterIcebergTable(ctx, "crawled", "ticks", plan.Table.Parameters["metadata_location"])
	if err != nil || !created {
		t.Fatalf("register: %v, %v", created, err)
	}
	got := readWithPyiceberg(t, py, dst.dbPath, dst.warehouse, "crawled.ticks", "2026-11-26")
	if got.Rows != 300 || got.DayRows != 300 || got.Offsets["T:0"] != 300 || len(got.Tables) != 1 || got.Tables[0] != "crawled.ticks" {
		t.Errorf("pyiceberg reads the registered table as %+v", got)
	}
}

// TestPlanScanRenameWithoutNameMapping: a table without a name mapping
// (its files carry field IDs, as other writers' do) whose column was renamed
// lists the column's older name for the files written before; once a name
// has belonged to two columns the table is refused, since reading by name
// would mix them up.
func TestPlanScanRenameWithoutNameMapping(t *testing.T) {
	ctx := context.Background()
	c := newTestLake(t).open(t)
	if _, err := c.CreateTickTable(ctx, "market", "ticks", TableOptions{}); err != nil {
		t.Fatal(err)
	}
	it, err := c.cat.LoadTable(ctx, table.Identifier{"market", "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	change := func(f func(*table.Transaction) error) {
		t.Helper()
		txn := it.NewTransaction()
		if err := f(txn); err != nil {
			t.Fatal(err)
		}
		if it, err = txn.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	change(func(txn *table.Transaction) error { return txn.RemoveProperties([]string{table.DefaultNameMappingKey}) })
	change(func(txn *table.Transaction) error {
		return txn.UpdateSchema(true, false).RenameColumn([]string{"size"}, "qty").Commit()
	})
	plan, err := c.PlanScan(ctx, "market", "ticks", stocklake.ScanOptions{ColumnsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for i, col := range plan.Table.Columns {
		got[col.Name] = plan.FileColumns[i]
	}
	if !slices.Equal(got["qty"], []string{"qty", "size"}) || !slices.Equal(got["price"], []string{"price"}) || len(got) != 8 {
		t.Errorf("file column names %v", got)
	}
	// price becomes size: old files' "size" is qty's.
	change(func(txn *table.Transaction) error {
		return txn.UpdateSchema(true, false).RenameColumn([]string{"price"}, "size").Commit()
	})
	if _, err := c.PlanScan(ctx, "market", "ticks", stocklake.ScanOptions{}); !errors.Is(err, stocklake.ErrInvalid) || !strings.Contains(err.Error(), "cannot tell them apart") {
		t.Errorf("a name reused by another column: %v, want ErrInvalid", err)
	}
}
