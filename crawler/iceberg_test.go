package crawler

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

// TestIcebergFoldersNotCrawled: beside a Hive tick table, the lake holds
// an Iceberg table the catalog knows (table_type=ICEBERG, in a folder
// without metadata yet) and an Iceberg table folder the catalog does not
// know (another database's: found by its metadata/*.metadata.json). The
// crawl reads neither as a Hive table, leaves the catalog's Iceberg table
// as it is, and says why; the registrar refuses to add a partition to it.
func TestIcebergFoldersNotCrawled(t *testing.T) {
	ctx := context.Background()
	l := newLake(t)
	day := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	l.put(tickKey("2026-11-26", 14, 0, 0), tickParquet(t, 50, day))
	// Known to the catalog: data files, some uncommitted, no metadata yet.
	l.put("known.db/iceticks/data/ts_day=2026-11-26/a.parquet", tickParquet(t, 20, day))
	l.put("known.db/iceticks/data/ts_day=2026-11-26/orphan.parquet", tickParquet(t, 20, day))
	// Unknown: metadata and data.
	l.put("other.db/trades/metadata/00001-x.metadata.json", []byte(`{"format-version":2}`))
	l.put("other.db/trades/metadata/snap-1.avro", []byte("avro"))
	l.put("other.db/trades/data/ts_day=2026-11-26/b.parquet", tickParquet(t, 30, day))

	cat := newCatalog(t)
	if err := cat.CreateDatabase(ctx, stocklake.Database{Name: "lake"}); err != nil {
		t.Fatal(err)
	}
	ice := stocklake.Table{Database: "lake", Name: "iceticks", Location: l.url("known.db/iceticks"),
		Columns:    cols("symbol string", "ts timestamp"),
		Parameters: map[string]string{"table_type": "ICEBERG", "metadata_location": l.url("known.db/iceticks/metadata/00000-a.metadata.json")}}
	if err := cat.CreateTable(ctx, ice); err != nil {
		t.Fatal(err)
	}
	before, err := cat.GetTable(ctx, "lake", "iceticks")
	if err != nil {
		t.Fatal(err)
	}
	run := runCrawl(t, l, cat, Config{})
	got := tables(t, cat)
	if !reflect.DeepEqual(keysOf(got), []string{"iceticks", "ticks"}) {
		t.Fatalf("tables %v, want iceticks and ticks only (messages %q)", keysOf(got), run.Messages)
	}
	if after := got["iceticks"]; !reflect.DeepEqual(after.Columns, before.Columns) || len(after.PartitionKeys) != 0 ||
		after.Version != before.Version || !after.IsIceberg() {
		t.Errorf("the Iceberg table changed: %+v, was %+v", after, before)
	}
	if run.FilesRead != 1 || run.FilesSkipped != 5 {
		t.Errorf("read %d, skipped %d; want 1 and the 5 Iceberg objects", run.FilesRead, run.FilesSkipped)
	}
	msgs := strings.Join(run.Messages, "\n")
	for _, f := range []string{"known.db/iceticks/", "other.db/trades/"} {
		if !strings.Contains(msgs, f+" is an Iceberg table") {
			t.Errorf("messages %q do not say %s is an Iceberg table", run.Messages, f)
		}
	}

	r, err := NewRegistrar(l.store, cat, "lake")
	if err != nil {
		t.Fatal(err)
	}
	err = r.RegisterPartition(ctx, "iceticks", stocklake.FormatParquet, cols("symbol string"), []string{"dt"}, []string{"2026-11-26"}, "known.db/iceticks/dt=2026-11-26/")
	if !errors.Is(err, stocklake.ErrInvalid) || !strings.Contains(err.Error(), "Iceberg") {
		t.Errorf("registering a partition of an Iceberg table: %v, want ErrInvalid", err)
	}
}
