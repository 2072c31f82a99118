package iceberg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	ice "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/stocklake/stocklake"
)

// Table properties that record a table's shape (stocklake.TableShape):
// tick tables carry neither (or schema "tick").
const (
	PropSchema    = "stocklake.schema"
	PropTimeField = "stocklake.time-field"
)

// jsonTypes maps the sink's Glue/Hive column types to Iceberg types.
var jsonTypes = map[string]ice.Type{
	"boolean":   ice.PrimitiveTypes.Bool,
	"bigint":    ice.PrimitiveTypes.Int64,
	"double":    ice.PrimitiveTypes.Float64,
	"string":    ice.PrimitiveTypes.String,
	"timestamp": ice.PrimitiveTypes.TimestampTz,
}

// jsonSchema is the Iceberg schema of a JSON table: one optional column per
// column of cols, in that order; the time field is a timestamp with time
// zone (INT64 TIMESTAMP(MICROS, UTC) in the sink's files).
func jsonSchema(cols []stocklake.Column, timeField string) (*ice.Schema, error) {
	if len(cols) == 0 {
		return nil, fmt.Errorf("iceberg: a JSON table needs at least one column: %w", stocklake.ErrInvalid)
	}
	fields := make([]ice.NestedField, len(cols))
	seen := map[string]bool{}
	for i, c := range cols {
		typ, ok := jsonTypes[c.Type]
		if c.Name == timeField {
			typ, ok = ice.PrimitiveTypes.TimestampTz, true
		}
		if !ok {
			return nil, fmt.Errorf("iceberg: column %q has type %q: want boolean, bigint, double, string or timestamp: %w", c.Name, c.Type, stocklake.ErrInvalid)
		}
		if c.Name == "" || seen[c.Name] {
			return nil, fmt.Errorf("iceberg: column name %q is empty or repeated: %w", c.Name, stocklake.ErrInvalid)
		}
		seen[c.Name] = true
		fields[i] = ice.NestedField{ID: i + 1, Name: c.Name, Type: typ, Doc: c.Comment}
	}
	if timeField != "" && !seen[timeField] {
		return nil, fmt.Errorf("iceberg: the time field %q is not a column: %w", timeField, stocklake.ErrInvalid)
	}
	return ice.AssignFreshSchemaIDs(ice.NewSchema(0, fields...), nil)
}

// CreateJSONTable creates a format-v2 table for JSON records named
// database.name, shaped as shape (Schema "json"): optional columns of the
// shape's types, hidden partitioning day(TimeField) (none without a time
// field), a name mapping (the sink's files carry no field IDs), and the
// shape in the table properties PropSchema and PropTimeField, so every
// later sink reads the same decision (Table.Shape). An existing table
// wraps stocklake.ErrExists.
func (c *Catalog) CreateJSONTable(ctx context.Context, database, name string, shape stocklake.TableShape) (*Table, error) {
	return c.createJSONTable(ctx, database, name, shape, "")
}

// createJSONTable is CreateJSONTable partitioned by partitioning
// (ParsePartitioning; its time items apply to the time field).
func (c *Catalog) createJSONTable(ctx context.Context, database, name string, shape stocklake.TableShape, partitioning string) (*Table, error) {
	if err := checkName(database, name); err != nil {
		return nil, err
	}
	sc, err := jsonSchema(shape.Columns, shape.TimeField)
	if err != nil {
		return nil, err
	}
	spec, err := partitionSpec(partitioning, sc, shape.TimeField)
	if err != nil {
		return nil, err
	}
	return c.createTable(ctx, database, name, sc, spec, map[string]string{PropSchema: "json", PropTimeField: shape.TimeField})
}

// daySpec partitions sc by day(timeField); unpartitioned without a time
// field. The partition field is named <time field>_day as avroName writes
// it (a JSON Schema record's time field may be "event-time"), with "_"
// added while a column has that name (Iceberg refuses the clash).
func daySpec(sc *ice.Schema, timeField string) (ice.PartitionSpec, error) {
	if timeField == "" {
		return *ice.UnpartitionedSpec, nil
	}
	pname := avroName(timeField + "_day")
	for {
		if _, clash := sc.FindFieldByName(pname); !clash {
			break
		}
		pname += "_"
	}
	spec, err := ice.NewPartitionSpecOpts(ice.AddPartitionFieldByName(timeField, pname, ice.DayTransform{}, sc, nil))
	if err != nil {
		return ice.PartitionSpec{}, fmt.Errorf("iceberg: partitioning by day(%s): %v: %w", timeField, err, stocklake.ErrInvalid)
	}
	return spec, nil
}

// createTable creates database.name with schema sc (fresh IDs assigned),
// spec, the default properties, extra properties and a name mapping.
func (c *Catalog) createTable(ctx context.Context, database, name string, sc *ice.Schema, spec ice.PartitionSpec, extra map[string]string) (*Table, error) {
	if err := c.ensureNamespace(ctx, database); err != nil {
		return nil, err
	}
	props := ice.Properties{}
	for k, v := range tableDefaults {
		props[k] = v
	}
	for k, v := range extra {
		props[k] = v
	}
	// Parquet files written by the sink carry no Iceberg field IDs: readers
	// map their columns by name.
	nm, err := json.Marshal(sc.NameMapping())
	if err != nil {
		return nil, fmt.Errorf("iceberg: name mapping: %w", err)
	}
	props[table.DefaultNameMappingKey] = string(nm)
	ident := table.Identifier{database, name}
	tbl, err := c.cat.CreateTable(ctx, ident, sc,
		catalog.WithLocation(c.TableLocation(database, name)),
		catalog.WithPartitionSpec(&spec),
		catalog.WithProperties(props))
	if err != nil {
		return nil, fail(fmt.Sprintf("creating table %s.%s", database, name), err)
	}
	if got, _ := json.Marshal(tbl.Schema().NameMapping()); string(got) != string(nm) {
		return nil, fmt.Errorf("iceberg: table %s.%s was created with field IDs other than expected (name mapping %s, want %s): report this bug", database, name, got, nm)
	}
	return c.newTable(database, name, tbl), nil
}

// Shape is the table's shape as its properties and schema record it: a
// table without PropSchema (or with "tick") is a tick table.
func (t *Table) Shape() (stocklake.TableShape, error) {
	t.mu.Lock()
	props, sc := t.tbl.Properties(), t.tbl.Schema()
	t.mu.Unlock()
	switch props[PropSchema] {
	case "", "tick":
		return stocklake.TableShape{Schema: "tick"}, nil
	case "json":
	case "registry":
		return registryShape(props, sc, t.database, t.name)
	default:
		return stocklake.TableShape{}, fmt.Errorf("iceberg: table %s.%s has %s=%q: want tick, json or registry: %w", t.database, t.name, PropSchema, props[PropSchema], stocklake.ErrInvalid)
	}
	shape := stocklake.TableShape{Schema: "json", TimeField: props[PropTimeField]}
	for _, f := range sc.Fields() {
		typ := ""
		for k, v := range jsonTypes {
			if v.Equals(f.Type) {
				typ = k
			}
		}
		if typ == "" {
			return stocklake.TableShape{}, fmt.Errorf("iceberg: JSON table %s.%s has column %q of type %s, which the sink cannot write (it writes boolean, long, double, string, timestamptz): %w",
				t.database, t.name, f.Name, f.Type, stocklake.ErrInvalid)
		}
		shape.Columns = append(shape.Columns, stocklake.Column{Name: f.Name, Type: typ, Comment: f.Doc})
	}
	return shape, nil
}

// WidenColumns adds to a JSON table the columns of cols it does not have
// (names match exactly: columns are case-sensitive, so "Price" is another
// column than "price"), optional and of their types (boolean, bigint,
// double, string; the time field's timestamp), in one schema update that
// also extends the name mapping: rows written before read null in them.
// Columns the table has keep their types whatever cols says (Iceberg
// cannot change bigint to string): the sink sends values that do not fit
// them to the dead-letter topic. A conflict with another writer (a sink
// widening the same table at once) is retried on the fresh table, so both
// sinks' columns land. It returns the table's shape after.
func (t *Table) WidenColumns(ctx context.Context, cols []stocklake.Column) (stocklake.TableShape, error) {
	shape, err := t.Shape()
	if err != nil {
		return shape, err
	}
	if shape.Schema != "json" {
		return stocklake.TableShape{}, fmt.Errorf("iceberg: table %s.%s is a %s table, not a JSON table: its columns are not widened by JSON fields: %w", t.database, t.name, shape.Schema, stocklake.ErrInvalid)
	}
	_, err = t.widen(ctx, "new JSON fields", func(current *ice.Schema) (*ice.Schema, error) {
		var add []stocklake.Column
		for _, c := range cols {
			has := func(n string) bool { return n == c.Name }
			if !slices.ContainsFunc(current.Fields(), func(f ice.NestedField) bool { return has(f.Name) }) &&
				!slices.ContainsFunc(add, func(a stocklake.Column) bool { return has(a.Name) }) {
				add = append(add, c)
			}
		}
		if len(add) == 0 {
			return nil, nil
		}
		return jsonSchema(add, "")
	})
	if err != nil {
		return stocklake.TableShape{}, err
	}
	return t.Shape()
}

// LazyTable is the table database.name of a sink that may not exist yet:
// its shape (tick or JSON columns) is decided by the first records the
// sink reads, while the sink reads its start offsets at assignment. Until
// Decide creates (or finds) the table, Offsets reports none and Shape
// reports ok false. It implements the sink's TableCommitter; Commit,
// PartitionPath, DataFileKey and DataFileURL need the table (after Shape
// found it or Decide).
type LazyTable struct {
	cat            *Catalog
	database, name string

	// Partitioning is the partitioning (ParsePartitioning) Decide creates
	// the table with: "" is day of the event time. Set it before use; Check
	// tells whether an existing table's agrees.
	Partitioning string
	// Schema is the schema of the records when known before any is read
	// ("tick" or "json"; "" when the first records decide): Check then
	// refuses a partitioning a new table of it cannot have (identity of
	// a field other than symbol, exchange and source of ticks) at once.
	Schema string

	mu  sync.Mutex
	tbl *Table
}

// LazyTable returns the lazily created table database.name.
func (c *Catalog) LazyTable(database, name string) (*LazyTable, error) {
	if err := checkName(database, name); err != nil {
		return nil, err
	}
	return &LazyTable{cat: c, database: database, name: name}, nil
}

// Table returns the table, opening it if it exists; nil when it does not
// exist yet.
func (l *LazyTable) Table(ctx context.Context) (*Table, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tbl != nil {
		return l.tbl, nil
	}
	t, err := l.cat.OpenTable(ctx, l.database, l.name)
	if errors.Is(err, stocklake.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	l.tbl = t
	return t, nil
}

// Shape returns the existing table's shape; ok is false when the table
// does not exist yet.
func (l *LazyTable) Shape(ctx context.Context) (shape stocklake.TableShape, ok bool, err error) {
	t, err := l.Table(ctx)
	if err != nil || t == nil {
		return shape, false, err
	}
	shape, err = t.Shape()
	return shape, err == nil, err
}

// Decide creates the table with shape (a tick table for Schema "tick", a
// JSON table for "json", both partitioned by l.Partitioning; a registry
// table, partitioned by day of its time field, for "registry") unless it
// exists, also when another process creates it at the same time, and
// returns the shape the table has: the first decision wins.
func (l *LazyTable) Decide(ctx context.Context, shape stocklake.TableShape) (stocklake.TableShape, error) {
	if got, ok, err := l.Shape(ctx); ok || err != nil {
		return got, err
	}
	var err error
	var t *Table
	if err := l.checkNew(shape); err != nil {
		return stocklake.TableShape{}, err
	}
	switch shape.Schema {
	case "tick":
		t, err = l.cat.CreateTickTable(ctx, l.database, l.name, TableOptions{Partitioning: l.Partitioning})
	case "registry":
		t, err = l.cat.CreateRegistryTable(ctx, l.database, l.name, shape)
	default:
		t, err = l.cat.createJSONTable(ctx, l.database, l.name, shape, l.Partitioning)
	}
	switch {
	case errors.Is(err, stocklake.ErrExists):
		got, _, err := l.Shape(ctx)
		return got, err
	case err != nil:
		return stocklake.TableShape{}, err
	}
	l.mu.Lock()
	l.tbl = t
	l.mu.Unlock()
	return t.Shape()
}

func (l *LazyTable) table() *Table {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tbl
}

// Offsets returns the table's offsets; none when the table does not exist
// yet.
func (l *LazyTable) Offsets(ctx context.Context) (map[stocklake.TopicPartition]int64, error) {
	t, err := l.Table(ctx)
	if err != nil || t == nil {
		return map[stocklake.TopicPartition]int64{}, err
	}
	return t.Offsets(ctx)
}

// Commit commits to the table; it fails when the table does not exist yet
// (Decide first).
func (l *LazyTable) Commit(ctx context.Context, files []stocklake.LakeFile, ranges []stocklake.OffsetRange) (stocklake.TableSnapshot, error) {
	t, err := l.Table(ctx)
	if err != nil {
		return stocklake.TableSnapshot{}, err
	}
	if t == nil {
		return stocklake.TableSnapshot{}, fmt.Errorf("iceberg: table %s.%s does not exist: decide its shape first: %w", l.database, l.name, stocklake.ErrNotFound)
	}
	return t.Commit(ctx, files, ranges)
}

// PartitionPath is Table.PartitionPath; it panics before the table exists.
func (l *LazyTable) PartitionPath(tk *stocklake.Tick) string { return l.table().PartitionPath(tk) }

// DataFileURL is Table.DataFileURL; it panics before the table exists.
func (l *LazyTable) DataFileURL(tk *stocklake.Tick, name string) string {
	return l.table().DataFileURL(tk, name)
}

// DataFileKey is Table.DataFileKey; it panics before the table exists.
func (l *LazyTable) DataFileKey(tk *stocklake.Tick, name string) (string, bool) {
	return l.table().DataFileKey(tk, name)
}

// WidenColumns is Table.WidenColumns; it fails when the table does not
// exist yet (Decide first).
func (l *LazyTable) WidenColumns(ctx context.Context, cols []stocklake.Column) (stocklake.TableShape, error) {
	t, err := l.Table(ctx)
	if err != nil {
		return stocklake.TableShape{}, err
	}
	if t == nil {
		return stocklake.TableShape{}, fmt.Errorf("iceberg: table %s.%s does not exist: decide its shape first: %w", l.database, l.name, stocklake.ErrNotFound)
	}
	return t.WidenColumns(ctx, cols)
}

// RowPartitionPath is Table.RowPartitionPath; it panics before the table
// exists.
func (l *LazyTable) RowPartitionPath(at time.Time, vals []any) string {
	return l.table().RowPartitionPath(at, vals)
}

// PartitionFileURL is Table.PartitionFileURL; it panics before the table
// exists.
func (l *LazyTable) PartitionFileURL(partition, name string) string {
	return l.table().PartitionFileURL(partition, name)
}

// PartitionFileKey is Table.PartitionFileKey; it panics before the table
// exists.
func (l *LazyTable) PartitionFileKey(partition, name string) (string, bool) {
	return l.table().PartitionFileKey(partition, name)
}
