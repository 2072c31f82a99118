package iceberg

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stocklake/stocklake"
)

func ft(k stocklake.FieldKind, optional bool) *stocklake.FieldType {
	return &stocklake.FieldType{Kind: k, Optional: optional}
}

// registryTestFields are the fields of a first writer schema, as the sink
// merges them (top-level fields optional).
func registryTestFields() []stocklake.Field {
	return []stocklake.Field{
		{Name: "id", Type: ft(stocklake.KindInt64, true)},
		{Name: "qty", Type: ft(stocklake.KindInt32, true)},
		{Name: "f", Type: ft(stocklake.KindFloat32, true)},
		{Name: "price", Type: &stocklake.FieldType{Kind: stocklake.KindDecimal, Optional: true, Precision: 30, Scale: 2}},
		{Name: "ts", Type: ft(stocklake.KindTimestampMicros, true)},
		{Name: "day", Type: ft(stocklake.KindDate, true)},
		{Name: "raw", Type: ft(stocklake.KindBytes, true)},
		{Name: "tags", Type: &stocklake.FieldType{Kind: stocklake.KindList, Optional: true, Elem: ft(stocklake.KindString, false)}},
		{Name: "attrs", Type: &stocklake.FieldType{Kind: stocklake.KindMap, Optional: true, Elem: ft(stocklake.KindInt64, true)}},
		{Name: "venue", Type: &stocklake.FieldType{Kind: stocklake.KindRecord, Optional: true, Fields: []stocklake.Field{
			{Name: "mic", Type: ft(stocklake.KindString, false)}}}},
	}
}

// TestRegistryTableWidens: a registry table keeps its writer schemas'
// fields in its schema (read back unchanged), is partitioned by day of its
// timestamp time field, and WidenFields adds columns and nested fields and
// promotes int to long and float to double in one new schema version
// with the name mapping extended, commits nothing when the table already
// holds the fields, and refuses what Iceberg cannot promote.
func TestRegistryTableWidens(t *testing.T) {
	l := newTestLake(t)
	ctx := context.Background()
	lt, err := l.open(t).LazyTable("market", "orders")
	if err != nil {
		t.Fatal(err)
	}
	fields := registryTestFields()
	shape, err := lt.Decide(ctx, stocklake.TableShape{Schema: "registry", TimeField: "ts", Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	if shape.Schema != "registry" || shape.TimeField != "ts" || !reflect.DeepEqual(shape.Fields, fields) {
		t.Fatalf("shape read back %+v, want the fields decided", shape)
	}
	tbl, _ := lt.Table(ctx)
	if p := tbl.Partitioning(); p != "day(ts)" {
		t.Errorf("partitioning %s, want day(ts)", p)
	}
	schemas := func() int {
		t.Helper()
		tb, err := l.open(t).OpenTable(ctx, "market", "orders")
		if err != nil {
			t.Fatal(err)
		}
		return len(tb.tbl.Metadata().Schemas())
	}
	if _, err := lt.WidenFields(ctx, fields); err != nil || schemas() != 1 {
		t.Fatalf("widening to the same fields: %v, %d schemas: want no new schema", err, schemas())
	}

	wide := registryTestFields()
	wide[1].Type = ft(stocklake.KindInt64, true)
	wide[2].Type = ft(stocklake.KindFloat64, true)
	wide[9].Type.Fields = append(wide[9].Type.Fields, stocklake.Field{Name: "lane", Type: ft(stocklake.KindInt32, true)})
	wide = append(wide, stocklake.Field{Name: "note", Type: ft(stocklake.KindString, true)})
	// Another process widens through a handle of its own.
	other, err := l.open(t).LazyTable("market", "orders")
	if err != nil {
		t.Fatal(err)
	}
	got, err := other.WidenFields(ctx, wide)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wide) {
		t.Errorf("widened fields\n got %v\nwant %v", got, wide)
	}
	if n := schemas(); n != 2 {
		t.Errorf("%d schemas after widening, want 2", n)
	}
	reopened, err := l.open(t).OpenTable(ctx, "market", "orders")
	if err != nil {
		t.Fatal(err)
	}
	nm := reopened.tbl.Properties()[table.DefaultNameMappingKey]
	for _, name := range []string{`"note"`, `"lane"`} {
		if !strings.Contains(nm, name) {
			t.Errorf("name mapping %s lacks %s", nm, name)
		}
	}
	// The first handle, behind, sees the widened table and changes nothing.
	if got, err := lt.WidenFields(ctx, fields); err != nil || !reflect.DeepEqual(got, wide) || schemas() != 2 {
		t.Errorf("widening to narrower fields: %v, %v, %d schemas: want the wide fields, no new schema", got, err, schemas())
	}

	for _, bad := range []struct {
		name string
		typ  *stocklake.FieldType
	}{
		{"qty", ft(stocklake.KindString, true)},
		{"id", ft(stocklake.KindFloat64, true)},
		{"price", &stocklake.FieldType{Kind: stocklake.KindDecimal, Optional: true, Precision: 30, Scale: 3}},
	} {
		fs := registryTestFields()
		for i := range fs {
			if fs[i].Name == bad.name {
				fs[i].Type = bad.typ
			}
		}
		if _, err := lt.WidenFields(ctx, fs); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("widening %s to kind %d: %v, want ErrInvalid", bad.name, bad.typ.Kind, err)
		}
	}
	if _, err := registrySchema([]stocklake.Field{{Name: "d", Type: &stocklake.FieldType{Kind: stocklake.KindDecimal, Precision: 40}}}); !errors.Is(err, stocklake.ErrInvalid) {
		t.Errorf("decimal(40,0): %v, want ErrInvalid (Iceberg decimals have at most 38 digits)", err)
	}
}

// TestGlueRegistryTableWidens: a registry table in the Glue catalog is
// created and widened the same way, and Glue's columns follow the schema
// (Athena reads them).
func TestGlueRegistryTableWidens(t *testing.T) {
	ctx := context.Background()
	lake := newGlueLake(t)
	fields := registryTestFields()
	tbl, err := lake.open(t).CreateRegistryTable(ctx, "Market", "Orders", stocklake.TableShape{Schema: "registry", TimeField: "ts", Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	wide := append(registryTestFields(), stocklake.Field{Name: "note", Type: ft(stocklake.KindString, true)})
	if _, err := tbl.WidenFields(ctx, wide); err != nil {
		t.Fatal(err)
	}
	reopened, err := lake.open(t).OpenTable(ctx, "market", "orders")
	if err != nil {
		t.Fatal(err)
	}
	shape, err := reopened.Shape()
	if err != nil || !reflect.DeepEqual(shape.Fields, wide) {
		t.Errorf("shape after widening: %+v, %v; want the wide fields", shape, err)
	}
	g := rawGlueTable(t, lake.glue, "market", "orders").Table
	var cols []string
	for _, c := range g.StorageDescriptor.Columns {
		cols = append(cols, aws.ToString(c.Name))
	}
	if !slices.Contains(cols, "note") {
		t.Errorf("Glue columns %v lack note", cols)
	}
}
