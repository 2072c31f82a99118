package crawler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
)

// Registrar adds partitions to the catalog as a writer (the sink) creates
// them, so new data is queryable without waiting for a crawl. The first
// partition of a table that the catalog does not know yet creates the
// table: from the columns the writer says it wrote, defined as a crawl
// would define it (formats, SerDe, parameters, partition keys), or, when
// the writer does not know its columns, by crawling that table's folder.
// It implements the sink's PartitionRegistrar.
type Registrar struct {
	// Projection makes the tables it creates use Athena partition
	// projection (hive.ProjectionParameters, dates from the first
	// partition's day) and gives them to existing tables; default false.
	// Partitions of projected tables are never registered.
	Projection bool

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
// folder's key prefix in the store (e.g. "ticks/dt=2026-11-26/hour=14/");
// columns are those of the objects written there, in file order, with
// Glue/Hive types (nil when the writer does not know them, e.g. JSON
// lines).
func (r *Registrar) RegisterPartition(ctx context.Context, table, format string, columns []stocklake.Column, keys, values []string, location string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, err := r.cat.GetTable(ctx, r.database, table)
	if errors.Is(err, stocklake.ErrNotFound) {
		c, err := New(r.store, r.cat, Config{Database: r.database, Prefix: table + "/", TableLevel: 1, Projection: r.Projection})
		if err != nil {
			return err
		}
		if len(columns) > 0 {
			if t, err = r.createTable(ctx, c, table, format, columns, keys, values); err != nil {
				return err
			}
		} else {
			run, err := c.Run(ctx)
			if err != nil {
				return fmt.Errorf("create table %s.%s from its first objects: %w", r.database, table, err)
			}
			if len(run.TablesCreated) == 0 {
				return fmt.Errorf("crawl of %s created no table (%v): %w", table, run.Messages, stocklake.ErrInvalid)
			}
			return nil
		}
	} else if err != nil {
		return err
	}
	if t.IsIceberg() {
		return fmt.Errorf("table %s.%s is an Iceberg table, which has no Hive partitions: write it with the iceberg table format, or use another table name: %w",
			r.database, table, stocklake.ErrInvalid)
	}
	if hive.Projected(t.Parameters) {
		return nil // Athena (and stocklake's engine) compute the partitions
	}
	if r.Projection {
		return r.projectTable(ctx, t, keys, values)
	}
	if len(t.PartitionKeys) != len(values) {
		return fmt.Errorf("table %s.%s has partition keys %v, the writer uses %v; re-crawl or drop the table: %w",
			r.database, table, t.PartitionKeys, keys, stocklake.ErrInvalid)
	}
	return r.cat.AddPartitions(ctx, r.database, table, []stocklake.Partition{{Values: values, Location: r.base + "/" + location}})
}

// createTable creates table from the writer's columns, defined as a crawl of
// its folder would define it, without reading the objects back.
func (r *Registrar) createTable(ctx context.Context, c *Crawler, table, format string, columns []stocklake.Column, keys, values []string) (stocklake.Table, error) {
	cr := &crawl{Crawler: c, run: &stocklake.CrawlRun{}}
	if err := cr.ensureDatabase(ctx); err != nil {
		return stocklake.Table{}, err
	}
	schema := &dtype{kind: kStruct}
	for _, col := range columns {
		schema.fields = append(schema.fields, field{name: col.Name, t: parseHive(col.Type)})
	}
	def := cr.define(&candidate{folder: table + "/", name: table, keys: keys,
		files: []*fileInfo{{format: format, compression: compNone, schema: schema}}})
	if r.Projection {
		if err := setProjection(def, keys, firstDay(values)); err != nil {
			return stocklake.Table{}, err
		}
	}
	err := r.cat.CreateTable(ctx, *def)
	switch {
	case errors.Is(err, stocklake.ErrExists):
		return r.cat.GetTable(ctx, r.database, table)
	case err != nil:
		return stocklake.Table{}, fmt.Errorf("create table %s.%s: %w", r.database, table, err)
	}
	return *def, nil
}

// projectTable gives an existing table the projection properties.
func (r *Registrar) projectTable(ctx context.Context, t stocklake.Table, keys, values []string) error {
	if err := setProjection(&t, keys, firstDay(values)); err != nil {
		return err
	}
	if err := r.cat.UpdateTable(ctx, t); err != nil {
		return fmt.Errorf("set partition projection on %s.%s: %w", r.database, t.Name, err)
	}
	return nil
}

// WidenTable adds the writer's columns the table lacks and widens those
// whose types differ, as a crawl would merge them, in a new table version;
// nothing if they already fit, or if the table does not exist yet (its
// first RegisterPartition creates it with the columns). The sink calls it
// when a new writer schema of a schema registry widened its records
// (sink.TableWidener).
func (r *Registrar) WidenTable(ctx context.Context, table string, columns []stocklake.Column) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, err := r.cat.GetTable(ctx, r.database, table)
	if errors.Is(err, stocklake.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	cols, changed := widenColumns(t.Columns, t.PartitionKeys, columns)
	if !changed {
		return nil
	}
	t.Columns = cols
	if err := r.cat.UpdateTable(ctx, t); err != nil {
		return fmt.Errorf("widen table %s.%s to the writer's columns: %w", r.database, table, err)
	}
	return nil
}

// firstDay is the day of a partition's dt value (its first), or today.
func firstDay(values []string) time.Time {
	if len(values) > 0 {
		if d, err := time.Parse("2006-01-02", values[0]); err == nil {
			return d
		}
	}
	return time.Now().UTC()
}

// setProjection adds to t the projection properties for the sink's time
// keys, the dates starting at start's day.
func setProjection(t *stocklake.Table, keys []string, start time.Time) error {
	params, err := hive.ProjectionParameters(t.Location, keys, start)
	if err != nil {
		return fmt.Errorf("table %s.%s: %w", t.Database, t.Name, err)
	}
	t.Parameters = maps.Clone(t.Parameters)
	if t.Parameters == nil {
		t.Parameters = map[string]string{}
	}
	maps.Copy(t.Parameters, params)
	return nil
}

// widenColumns adds the writer's columns a table lacks and widens those
// whose types differ (as a crawl would merge them), matching names
// case-insensitively; columns that are partition keys stay out (the
// folder names hold them). It reports whether anything changed.
func widenColumns(table, keys, writer []stocklake.Column) ([]stocklake.Column, bool) {
	out, changed := table, false
	for _, wc := range writer {
		if slices.ContainsFunc(keys, func(k stocklake.Column) bool { return strings.EqualFold(k.Name, wc.Name) }) {
			continue
		}
		i := slices.IndexFunc(out, func(c stocklake.Column) bool { return strings.EqualFold(c.Name, wc.Name) })
		if i < 0 {
			out = append(slices.Clip(out), wc)
			changed = true
			continue
		}
		if t := widen(parseHive(out[i].Type), parseHive(wc.Type)).hive(); t != out[i].Type {
			if !changed {
				out = slices.Clone(out)
			}
			out[i].Type = t
			changed = true
		}
	}
	return out, changed
}
