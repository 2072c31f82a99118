package iceberg

import (
	"context"
	"errors"
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
