package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/sink"
	"github.com/stocklake/stocklake/sqlite"
)

// TestTableHealth: the health page's table list has an Iceberg table's
// data files, bytes and last maintenance, and is reused for
// tableHealthEvery rather than listed on every request.
func TestTableHealth(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := file.New(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := sqlite.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	ice, err := iceberg.Open(ctx, iceberg.Config{SQLitePath: filepath.Join(dir, "catalog.db"), Warehouse: store.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer ice.Close()
	tbl, err := ice.CreateTickTable(ctx, stocklake.DefaultDatabase, "ticks", iceberg.TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	commit := func(i int) {
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[sink.TickRow](&buf)
		ts := time.Date(2026, 11, 26, 10, 0, i, 0, time.UTC)
		w.Write([]sink.TickRow{{Symbol: "AAPL", TS: ts.UnixMicro(), Price: 1, Size: 1, TradeID: fmt.Sprint(i)}})
		w.Close()
		tk := stocklake.Tick{Time: ts}
		name := fmt.Sprintf("f%d.parquet", i)
		key, _ := tbl.DataFileKey(&tk, name)
		if err := store.Put(ctx, key, &buf); err != nil {
			t.Fatal(err)
		}
		r := stocklake.OffsetRange{TopicPartition: stocklake.TopicPartition{TopicID: "T"}, Start: int64(i), End: int64(i + 1)}
		if _, err := tbl.Commit(ctx, []stocklake.LakeFile{{URL: tbl.DataFileURL(&tk, name)}}, []stocklake.OffsetRange{r}); err != nil {
			t.Fatal(err)
		}
	}
	commit(0)
	commit(1)
	at := time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)
	if err := tbl.SetLastMaintenance(ctx, at); err != nil {
		t.Fatal(err)
	}
	health := tableHealth(store, cat, ice, stocklake.DefaultDatabase)
	got, err := health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "ticks" || got[0].Format != "iceberg" || got[0].Files != 2 || got[0].Bytes <= 0 ||
		got[0].LastMaintenance == nil || !got[0].LastMaintenance.Equal(at) {
		t.Fatalf("table health %+v, want ticks (iceberg) with 2 files and the last maintenance %v", got, at)
	}
	commit(2)
	if again, err := health(ctx); err != nil || again[0].Files != 2 {
		t.Errorf("asked again at once: %+v, %v; want the cached answer (2 files)", again, err)
	}
}
