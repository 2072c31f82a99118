package main

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/iceberg"
)

// TestVerifyIcebergWithoutOffsets: `stocklake verify` of an Iceberg table
// no sink ever committed to (no snapshot records Kafka offsets) fails
// with what to check, as for a Hive table without objects. Its empty
// report used to pass as complete (exit 0), whatever the topic held.
func TestVerifyIcebergWithoutOffsets(t *testing.T) {
	dir := t.TempDir()
	lake, dbPath := "file://"+filepath.Join(dir, "lake"), filepath.Join(dir, "catalog.db")
	cat, err := iceberg.Open(context.Background(), iceberg.Config{SQLitePath: dbPath, Warehouse: lake})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cat.CreateTickTable(context.Background(), stocklake.DefaultDatabase, "ticks", iceberg.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	cat.Close()
	err = runCommand(t, "verify", "--table", "ticks", "--lake", lake, "--catalog", "sqlite://"+dbPath)
	if !errors.Is(err, stocklake.ErrNotFound) {
		t.Fatalf("verify of a table without offsets: %v, want a not-found error", err)
	}
}
