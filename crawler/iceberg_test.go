package crawler

import (
	"context"
	"path/filepath"
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
