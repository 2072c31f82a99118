package iceberg

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stocklake/stocklake"
)

// TestRegisterIcebergTable registers a table another catalog created (on
// the same warehouse) into each kind of catalog: the registered table reads
// as the source's current snapshot with its offsets, registering it again
// changes nothing, and another table's metadata under the taken name is
// refused.
func TestRegisterIcebergTable(t *testing.T) {
	eachCatalog(t, func(t *testing.T, lake testLake) {
		ctx := context.Background()
		src := testLake{dir: lake.dir, dbPath: filepath.Join(t.TempDir(), "src.db"), warehouse: lake.warehouse}
		sc := src.open(t)
		var metas []string
		for i, name := range []string{"ticks", "other"} {
			tbl, err := sc.CreateTickTable(ctx, "src", name, TableOptions{})
			if err != nil {
				t.Fatal(err)
			}
			f := writeTicks(t, tbl, "ts_day=2026-11-26/a.parquet", ticks(100*(i+1), 0, "a"))
			if _, err := tbl.Commit(ctx, []stocklake.LakeFile{f}, []stocklake.OffsetRange{rng("T", 0, 0, int64(100*(i+1)))}); err != nil {
				t.Fatal(err)
			}
			plan, err := sc.PlanScan(ctx, "src", name, stocklake.ScanOptions{ColumnsOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			metas = append(metas, plan.Table.Parameters["metadata_location"])
		}
		c := lake.open(t)
		created, err := c.RegisterIcebergTable(ctx, "crawled", "ticks", metas[0])
		if err != nil || !created {
			t.Fatalf("register: %v, %v", created, err)
		}
		tbl, err := c.OpenTable(ctx, "crawled", "ticks")
		if err != nil {
			t.Fatal(err)
		}
		offs, err := tbl.Offsets(ctx)
		if err != nil || offs[stocklake.TopicPartition{TopicID: "T", Partition: 0}] != 100 {
			t.Errorf("the registered table's offsets: %v, %v; want T:0 at 100", offs, err)
		}
		if created, err := c.RegisterIcebergTable(ctx, "crawled", "ticks", metas[0]); err != nil || created {
			t.Errorf("registering again: %v, %v; want nothing done", created, err)
		}
		if _, err := c.RegisterIcebergTable(ctx, "crawled", "ticks", metas[1]); !errors.Is(err, stocklake.ErrExists) {
			t.Errorf("another table under the taken name: %v, want ErrExists", err)
		}
		if _, err := c.RegisterIcebergTable(ctx, "crawled", "bad", lake.warehouse+"/nothing/metadata/00001-x.metadata.json"); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("a missing metadata file: %v, want ErrInvalid", err)
		}
	})
}
