package iceberg

import (
	"context"
	"fmt"
	"slices"
	"strings"

	ice "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/stocklake/stocklake"
)

// Registry tables (shape Schema "registry") hold records decoded with a
// schema registry: a column per field of the union of the writer schemas
// the sinks have met (stocklake.Field), with Iceberg types:
//
//	string, enum      string          bytes       binary
//	bool              boolean         decimal     decimal(p,s) (p <= 38)
//	int32             int             date        date
//	int64             long            timestamps  timestamptz (µs; the sink
//	float32           float                       writes millis as µs)
//	float64           double          record      struct (no fields: string)
//	list              list            map         map<string, …>
//
// The table's schema is where the union is kept: a sink resuming on the
// table reads it back (Shape) and checks new writer schemas against it, so
// a record of an old writer schema still lands after a restart. A wider
// union is added with WidenFields, a schema update of its own committed
// before the data files of the new shape.

// registrySchema is the Iceberg schema of fields, with IDs assigned fresh
// (depth-first, as the catalog assigns them).
func registrySchema(fields []stocklake.Field) (*ice.Schema, error) {
	id := 0
	next := func() int { id++; return id }
	nf := make([]ice.NestedField, 0, len(fields))
	for _, f := range fields {
		n, err := registryField(f, next)
		if err != nil {
			return nil, err
		}
		nf = append(nf, n)
	}
	if len(nf) == 0 {
		return nil, fmt.Errorf("iceberg: a registry table needs at least one field: %w", stocklake.ErrInvalid)
	}
	return ice.AssignFreshSchemaIDs(ice.NewSchema(0, nf...), nil)
}

func registryField(f stocklake.Field, next func() int) (ice.NestedField, error) {
	if f.Name == "" || f.Type == nil {
		return ice.NestedField{}, fmt.Errorf("iceberg: a field has no name or no type: %w", stocklake.ErrInvalid)
	}
	id := next()
	t, err := registryType(f.Type, next)
	if err != nil {
		return ice.NestedField{}, fmt.Errorf("field %s: %w", f.Name, err)
	}
	return ice.NestedField{ID: id, Name: f.Name, Type: t, Required: !f.Type.Optional}, nil
}

// registryType is the Iceberg type of t (see the table above).
func registryType(t *stocklake.FieldType, next func() int) (ice.Type, error) {
	switch t.Kind {
	case stocklake.KindString:
		return ice.PrimitiveTypes.String, nil
	case stocklake.KindBool:
		return ice.PrimitiveTypes.Bool, nil
	case stocklake.KindInt32:
		return ice.PrimitiveTypes.Int32, nil
	case stocklake.KindInt64:
		return ice.PrimitiveTypes.Int64, nil
	case stocklake.KindFloat32:
		return ice.PrimitiveTypes.Float32, nil
	case stocklake.KindFloat64:
		return ice.PrimitiveTypes.Float64, nil
	case stocklake.KindBytes:
		return ice.PrimitiveTypes.Binary, nil
	case stocklake.KindDecimal:
		if t.Precision < 1 || t.Precision > 38 || t.Scale < 0 || t.Scale > t.Precision {
			return nil, fmt.Errorf("decimal(%d,%d) is not an Iceberg decimal (precision 1 to 38, scale 0 to precision): %w", t.Precision, t.Scale, stocklake.ErrInvalid)
		}
		return ice.DecimalTypeOf(t.Precision, t.Scale), nil
	case stocklake.KindDate:
		return ice.PrimitiveTypes.Date, nil
	case stocklake.KindTimestampMillis, stocklake.KindTimestampMicros:
		return ice.PrimitiveTypes.TimestampTz, nil
	case stocklake.KindRecord:
		if len(t.Fields) == 0 {
			return ice.PrimitiveTypes.String, nil // written as "{}"
		}
		st := &ice.StructType{}
		for _, f := range t.Fields {
			n, err := registryField(f, next)
			if err != nil {
				return nil, err
			}
			st.FieldList = append(st.FieldList, n)
		}
		return st, nil
	case stocklake.KindList:
		eid := next()
		e, err := registryType(t.Elem, next)
		if err != nil {
			return nil, fmt.Errorf("element: %w", err)
		}
		return &ice.ListType{ElementID: eid, Element: e, ElementRequired: !t.Elem.Optional}, nil
	case stocklake.KindMap:
		kid, vid := next(), next()
		v, err := registryType(t.Elem, next)
		if err != nil {
			return nil, fmt.Errorf("value: %w", err)
		}
		return &ice.MapType{KeyID: kid, KeyType: ice.PrimitiveTypes.String, ValueID: vid, ValueType: v, ValueRequired: !t.Elem.Optional}, nil
	}
	return nil, fmt.Errorf("field kind %d has no Iceberg type: %w", t.Kind, stocklake.ErrInvalid)
}

// registryFields reads fields back from a registry table's schema.
func registryFields(sc *ice.Schema) ([]stocklake.Field, error) {
	out := make([]stocklake.Field, 0, len(sc.Fields()))
	for _, f := range sc.Fields() {
		t, err := fieldType(f.Type, !f.Required)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", f.Name, err)
		}
		out = append(out, stocklake.Field{Name: f.Name, Type: t})
	}
	return out, nil
}

func fieldType(t ice.Type, optional bool) (*stocklake.FieldType, error) {
	ft := &stocklake.FieldType{Optional: optional}
	switch t := t.(type) {
	case ice.StringType, ice.UUIDType:
		ft.Kind = stocklake.KindString
	case ice.BooleanType:
		ft.Kind = stocklake.KindBool
	case ice.Int32Type:
		ft.Kind = stocklake.KindInt32
	case ice.Int64Type:
		ft.Kind = stocklake.KindInt64
	case ice.Float32Type:
		ft.Kind = stocklake.KindFloat32
	case ice.Float64Type:
		ft.Kind = stocklake.KindFloat64
	case ice.BinaryType, ice.FixedType:
		ft.Kind = stocklake.KindBytes
	case ice.DecimalType:
		ft.Kind, ft.Precision, ft.Scale = stocklake.KindDecimal, t.Precision(), t.Scale()
	case ice.DateType:
		ft.Kind = stocklake.KindDate
	case ice.TimestampTzType, ice.TimestampType:
		ft.Kind = stocklake.KindTimestampMicros
	case *ice.StructType:
		ft.Kind = stocklake.KindRecord
		for _, f := range t.FieldList {
			c, err := fieldType(f.Type, !f.Required)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
			ft.Fields = append(ft.Fields, stocklake.Field{Name: f.Name, Type: c})
		}
	case *ice.ListType:
		e, err := fieldType(t.Element, !t.ElementRequired)
		if err != nil {
			return nil, fmt.Errorf("element: %w", err)
		}
		ft.Kind, ft.Elem = stocklake.KindList, e
	case *ice.MapType:
		if !t.KeyType.Equals(ice.PrimitiveTypes.String) {
			return nil, fmt.Errorf("map keys are %s: the sink writes string keys: %w", t.KeyType, stocklake.ErrInvalid)
		}
		v, err := fieldType(t.ValueType, !t.ValueRequired)
		if err != nil {
			return nil, fmt.Errorf("value: %w", err)
		}
		ft.Kind, ft.Elem = stocklake.KindMap, v
	default:
		return nil, fmt.Errorf("type %s is not one the sink writes: %w", t, stocklake.ErrInvalid)
	}
	return ft, nil
}

// CreateRegistryTable creates a format-v2 table for registry-decoded
// records named database.name, shaped as shape (Schema "registry"): a
// column per field of shape.Fields (see registryType), hidden partitioning
// day(TimeField) when the time field is a timestamp (else none), a name
// mapping, and the shape in the table properties PropSchema and
// PropTimeField. An existing table wraps stocklake.ErrExists.
func (c *Catalog) CreateRegistryTable(ctx context.Context, database, name string, shape stocklake.TableShape) (*Table, error) {
	database, name = c.names(database, name)
	if err := checkName(database, name); err != nil {
		return nil, err
	}
	sc, err := registrySchema(shape.Fields)
	if err != nil {
		return nil, err
	}
	timeField := shape.TimeField
	if f, ok := sc.FindFieldByName(timeField); !ok || !f.Type.Equals(ice.PrimitiveTypes.TimestampTz) {
		timeField = "" // not a timestamp: not partitioned
	}
	spec, err := daySpec(sc, timeField)
	if err != nil {
		return nil, err
	}
	return c.createTable(ctx, database, name, sc, spec, map[string]string{PropSchema: "registry", PropTimeField: shape.TimeField})
}

// WidenFields widens a registry table's schema to hold fields (a union of
// writer schemas that contains the table's fields, as the sink merges
// them): new columns, nested fields and optional ones are added, int
// promoted to long and float to double, in one schema update that also
// extends the name mapping. Nothing is committed when the table already
// holds fields. Conflicts with other writers are retried on the fresh
// table; a change Iceberg does not allow (another sink widened a column
// to an other type) wraps stocklake.ErrInvalid. It returns the table's
// fields after the update.
func (t *Table) WidenFields(ctx context.Context, fields []stocklake.Field) ([]stocklake.Field, error) {
	want, err := registrySchema(fields)
	if err != nil {
		return nil, err
	}
	sc, err := t.widen(ctx, "the writer schemas' fields", func(*ice.Schema) (*ice.Schema, error) { return want, nil })
	if err != nil {
		return nil, err
	}
	return registryFields(sc)
}

// widen unions the table's schema by name with the schema want returns
// for the current one (iceberg-go's UpdateSchema.UnionByNameWith: new
// columns and nested fields, allowed promotions), in one schema update
// that also extends the name mapping; nothing is committed when the table
// already holds want. A commit conflict with another writer (a sink
// widening the same table, a data commit) is retried on the fresh table,
// with want asked again. what names the change in errors. It returns the
// table's schema after.
func (t *Table) widen(ctx context.Context, what string, want func(current *ice.Schema) (*ice.Schema, error)) (*ice.Schema, error) {
	maxAttempts := t.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	var lastErr error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		tbl, err := t.refresh(ctx)
		if err != nil {
			return nil, err
		}
		w, err := want(tbl.Schema())
		if err != nil {
			return nil, err
		}
		if w == nil {
			return tbl.Schema(), nil
		}
		got, err := tbl.NewTransaction().UpdateSchema(true, false).UnionByNameWith(w).Apply()
		if err != nil {
			return nil, fmt.Errorf("iceberg: widening table %s.%s to %s: %v: %w", t.database, t.name, what, err, stocklake.ErrInvalid)
		}
		if got.Equals(tbl.Schema()) || sameFields(got, tbl.Schema()) {
			return tbl.Schema(), nil
		}
		txn := t.adopt(tbl).NewTransaction()
		if err := txn.UpdateSchema(true, false, table.WithNameMapping(tbl.NameMapping())).UnionByNameWith(w).Commit(); err != nil {
			return nil, fmt.Errorf("iceberg: widening table %s.%s to %s: %v: %w", t.database, t.name, what, err, stocklake.ErrInvalid)
		}
		newTbl, cerr := txn.Commit(ctx)
		if cerr == nil {
			t.mu.Lock()
			t.tbl = t.adopt(newTbl)
			t.mu.Unlock()
			return newTbl.Schema(), nil
		}
		lastErr = cerr
		if ctx.Err() != nil {
			return nil, fmt.Errorf("iceberg: widening table %s.%s: %w", t.database, t.name, context.Cause(ctx))
		}
		if err := sleep(ctx, attempt); err != nil {
			return nil, fmt.Errorf("iceberg: widening table %s.%s: %w", t.database, t.name, err)
		}
	}
	return nil, fmt.Errorf("iceberg: widening table %s.%s gave up after %d attempts (last: %v): retry later: %w",
		t.database, t.name, maxAttempts, lastErr, stocklake.ErrUnavailable)
}

// sameFields tells schemas whose fields are equal, whatever their schema
// IDs.
func sameFields(a, b *ice.Schema) bool {
	return slices.EqualFunc(a.Fields(), b.Fields(), func(x, y ice.NestedField) bool { return x.Equals(y) })
}

// registryShape is a registry table's shape.
func registryShape(props ice.Properties, sc *ice.Schema, database, name string) (stocklake.TableShape, error) {
	fields, err := registryFields(sc)
	if err != nil {
		return stocklake.TableShape{}, fmt.Errorf("iceberg: registry table %s.%s: %v: %w", database, name, strings.TrimPrefix(err.Error(), "iceberg: "), stocklake.ErrInvalid)
	}
	return stocklake.TableShape{Schema: "registry", TimeField: props[PropTimeField], Fields: fields}, nil
}

// WidenFields is Table.WidenFields; it fails when the table does not exist
// yet (Decide first).
func (l *LazyTable) WidenFields(ctx context.Context, fields []stocklake.Field) ([]stocklake.Field, error) {
	t, err := l.Table(ctx)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("iceberg: table %s.%s does not exist: decide its shape first: %w", l.database, l.name, stocklake.ErrNotFound)
	}
	return t.WidenFields(ctx, fields)
}
