package crawler

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/stocklake/stocklake"
)

// Registrar adds partitions to the catalog as a writer (the sink) creates
// them, so new data is queryable without waiting for a crawl. The first
// partition of a table that the catalog does not know yet triggers a crawl
// of that table's folder, which creates the table with its inferred schema.
// It implements the sink's PartitionRegistrar.
type Registrar struct {
	store    stocklake.ObjectStore
	cat      stocklake.Catalog
	database string
	base     string
	mu       sync.Mutex
}

// NewRegistrar makes a Registrar for tables of database in the lake store.
func NewRegistrar(store stocklake.ObjectStore, cat stocklake.Catalog, database string) (*Registrar, error) {
	if database == "" {
		return nil, stocklake.SettingErr(fmt.Errorf("registrar needs a catalog database: %w", stocklake.ErrConfig), "crawler.Config.Database")
	}
	c, err := New(store, cat, Config{Database: database})
	if err != nil {
		return nil, err
	}
	return &Registrar{store: store, cat: cat, database: database, base: c.base}, nil
}

// RegisterPartition records one partition folder of table. location is the
// folder's key prefix in the store (e.g. "ticks/dt=2026-11-26/hour=14/").
func (r *Registrar) RegisterPartition(ctx context.Context, table, format string, keys, values []string, location string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, err := r.cat.GetTable(ctx, r.database, table)
	if errors.Is(err, stocklake.ErrNotFound) {
		c, err := New(r.store, r.cat, Config{Database: r.database, Prefix: table + "/", TableLevel: 1})
		if err != nil {
			return err
		}
		run, err := c.Run(ctx)
		if err != nil {
			return fmt.Errorf("create table %s.%s from its first objects: %w", r.database, table, err)
		}
		if len(run.TablesCreated) == 0 {
			return fmt.Errorf("crawl of %s created no table (%v): %w", table, run.Messages, stocklake.ErrInvalid)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if len(t.PartitionKeys) != len(values) {
		return fmt.Errorf("table %s.%s has partition keys %v, the writer uses %v; re-crawl or drop the table: %w",
			r.database, table, t.PartitionKeys, keys, stocklake.ErrInvalid)
	}
	return r.cat.AddPartitions(ctx, r.database, table, []stocklake.Partition{{Values: values, Location: r.base + "/" + location}})
}
