package iceberg

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
)

// TestOpenNewCatalogConcurrently: processes that open a new catalog file
// at the same moment (two sinks started together) all open it; SQLite
// answers the one that loses the race to set it up "database is locked"
// at once, without its busy timeout (CI saw a sink exit on that).
func TestOpenNewCatalogConcurrently(t *testing.T) {
	ctx := context.Background()
	for round := range 80 {
		dir := t.TempDir()
		path := filepath.Join(dir, "catalog.db")
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				c, err := Open(ctx, Config{SQLitePath: path, Warehouse: "file://" + dir})
				if err != nil {
					t.Errorf("round %d: %v", round, err)
					return
				}
				c.Close()
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
	}
}
