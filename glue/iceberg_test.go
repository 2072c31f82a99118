package glue

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/internal/gluefake"
)

// TestIcebergTableInGlue: an Iceberg table that package iceberg keeps in
// Glue is listed as one (IsIceberg, its metadata_location), and the Hive
// operations that would contradict its metadata are refused: UpdateTable,
// AddPartitions, UpdatePartition. Its metadata_location is unchanged.
func TestIcebergTableInGlue(t *testing.T) {
	ctx := context.Background()
	f := gluefake.New(t)
	ic, err := iceberg.Open(ctx, iceberg.Config{Warehouse: "file://" + filepath.Join(t.TempDir(), "lake"),
		Glue: &iceberg.GlueConfig{Region: "us-east-1", Endpoint: f.URL, AccessKey: "k", SecretKey: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if _, err := ic.CreateTickTable(ctx, "market", "ticks", iceberg.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	c := fakeCatalog(t, f, nil)
	list, err := c.ListTables(ctx, "market")
	if err != nil || len(list) != 1 {
		t.Fatalf("tables %v, %v; want the Iceberg table", list, err)
	}
	tb := list[0]
	loc := tb.Parameters[stocklake.ParamMetadataLocation]
	if !tb.IsIceberg() || loc == "" || tb.Format != "" || len(tb.PartitionKeys) != 0 || len(tb.Columns) != 8 {
		t.Errorf("listed as %+v; want an Iceberg table with its metadata_location, 8 columns, no format or partition keys", tb)
	}
	part := stocklake.Partition{Values: []string{"2026-11-26"}, Location: tb.Location + "/data/ts_day=2026-11-26/"}
	hive := tb
	hive.PartitionKeys = []stocklake.Column{{Name: "dt", Type: "string"}}
	hive.Format = stocklake.FormatParquet
	for what, err := range map[string]error{
		"UpdateTable":     c.UpdateTable(ctx, hive),
		"AddPartitions":   c.AddPartitions(ctx, "market", "ticks", []stocklake.Partition{part}),
		"UpdatePartition": c.UpdatePartition(ctx, "market", "ticks", part),
	} {
		if !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("%s on an Iceberg table: %v, want ErrInvalid", what, err)
		}
	}
	after, err := c.GetTable(ctx, "market", "ticks")
	if err != nil || after.Parameters[stocklake.ParamMetadataLocation] != loc || !after.IsIceberg() {
		t.Errorf("after the refused calls: %+v, %v; want metadata_location %s", after, err, loc)
	}
	if f.Count("BatchCreatePartition") != 0 || f.Count("UpdateTable") != 0 {
		t.Errorf("%d BatchCreatePartition, %d UpdateTable calls reached Glue, want 0", f.Count("BatchCreatePartition"), f.Count("UpdateTable"))
	}
}
