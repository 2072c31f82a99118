package crawler

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/iceberg"
)

// TestIcebergFolder: a folder with metadata/*.metadata.json is registered
// as an Iceberg table at its newest metadata file, its Parquet files are
// not crawled as a Hive table, and a Hive folder beside it stays Hive.
// Without a registrar the folder is skipped with a message.
func TestIcebergFolder(t *testing.T) {
	ctx := context.Background()
	l := newLake(t)
	// Another writer's table in the lake, with its own catalog: two
	// metadata files (create, then one commit).
	src, err := iceberg.Open(ctx, iceberg.Config{SQLitePath: filepath.Join(t.TempDir(), "other.db"), Warehouse: l.store.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	tbl, err := src.CreateTickTable(ctx, "src", "trades", iceberg.TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := tbl.Commit(ctx, nil, []stocklake.OffsetRange{{TopicPartition: stocklake.TopicPartition{TopicID: "T", Partition: 0}, Start: 0, End: 5}})
	if err != nil {
		t.Fatal(err)
	}
	l.put("src.db/trades/data/ts_day=2026-11-26/orphan.parquet", tickParquet(t, 10, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)))
	putDay(t, l, "2026-11-26", 0, 1)
	want, err := src.PlanScan(ctx, "src", "trades", stocklake.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}

	cat := newCatalog(t)
	ice, err := iceberg.Open(ctx, iceberg.Config{SQLitePath: cat.Path(), Warehouse: l.store.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer ice.Close()
	run := runCrawl(t, l, cat, Config{Iceberg: ice})
	if !slices.Contains(run.TablesCreated, "trades") || !slices.Contains(run.TablesCreated, "ticks") {
		t.Errorf("tables created %v, want ticks and trades", run.TablesCreated)
	}
	hive := tables(t, cat)
	if _, ok := hive["trades"]; ok || len(hive) != 1 {
		t.Errorf("Hive tables %v, want only ticks", keysOf(hive))
	}
	got, err := ice.PlanScan(ctx, "lake", "trades", stocklake.ScanOptions{})
	if err != nil {
		t.Fatalf("the Iceberg table: %v", err)
	}
	if got.Table.Parameters["metadata_location"] != want.Table.Parameters["metadata_location"] || got.SnapshotID != snap.ID {
		t.Errorf("registered at %s snapshot %d, want %s snapshot %d", got.Table.Parameters["metadata_location"], got.SnapshotID,
			want.Table.Parameters["metadata_location"], snap.ID)
	}
	// Crawling again changes nothing.
	run = runCrawl(t, l, cat, Config{Iceberg: ice})
	if slices.Contains(run.TablesCreated, "trades") {
		t.Errorf("second crawl created %v", run.TablesCreated)
	}

	// Into another database: not a second entry for the same table.
	run = runCrawl(t, l, cat, Config{Database: "other", Iceberg: ice})
	if slices.Contains(run.TablesCreated, "trades") || !strings.Contains(strings.Join(run.Messages, "\n"), "already registered as lake.trades") {
		t.Errorf("crawl into another database: created %v, messages %q", run.TablesCreated, run.Messages)
	}

	// Without a registrar: skipped, said so, not a Hive table.
	cat2 := newCatalog(t)
	run = runCrawl(t, l, cat2, Config{})
	if _, ok := tables(t, cat2)["trades"]; ok || !strings.Contains(strings.Join(run.Messages, "\n"), "src.db/trades/ is an Iceberg table") {
		t.Errorf("without a registrar: tables %v, messages %q", keysOf(tables(t, cat2)), run.Messages)
	}
}

func TestMetadataVersion(t *testing.T) {
	for key, want := range map[string]int64{
		"t/metadata/00042-0f1e.metadata.json":    42,
		"t/metadata/v7.metadata.json":            7,
		"t/metadata/00001-ab.gz.metadata.json":   1,
		"t/metadata/latest.metadata.json":        -1,
		"t/metadata/99999999999999999999-x.json": -1,
	} {
		if got := metadataVersion(key); got != want {
			t.Errorf("%s: %d, want %d", key, got, want)
		}
	}
	a := stocklake.ObjectInfo{Key: "t/metadata/00010-a.metadata.json"}
	b := stocklake.ObjectInfo{Key: "t/metadata/00009-b.metadata.json", ModTime: time.Now()}
	if !newerMetadata(a, b) || newerMetadata(b, a) {
		t.Error("version 10 is newer than version 9, whatever the times")
	}
}

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
