package crawler

import (
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

func TestWiden(t *testing.T) {
	for _, tc := range []struct{ a, b, want string }{
		{"int", "int", "int"},
		{"int", "bigint", "bigint"},
		{"bigint", "double", "double"},
		{"int", "string", "string"},
		{"boolean", "int", "string"},
		{"date", "date", "date"},
		{"date", "timestamp", "string"},
		{"timestamp", "int", "string"},
		{"tinyint", "smallint", "smallint"},
		{"smallint", "int", "int"},
		{"float", "int", "double"},
		{"float", "float", "float"},
		{"decimal(10,2)", "decimal(10,2)", "decimal(10,2)"},
		{"decimal(10,2)", "int", "double"},
		{"array<int>", "array<double>", "array<double>"},
		{"array<int>", "int", "string"},
		{"map<string,int>", "map<string,bigint>", "map<string,bigint>"},
		{"struct<a:int,b:string>", "struct<B:string,c:array<int>>", "struct<a:int,b:string,c:array<int>>"},
		{"struct<a:int>", "struct<a:struct<x:int>>", "struct<a:string>"},
		{"binary", "string", "string"},
	} {
		if got := widen(parseHive(tc.a), parseHive(tc.b)).hive(); got != tc.want {
			t.Errorf("widen(%s, %s) = %s, want %s", tc.a, tc.b, got, tc.want)
		}
		if got := widen(parseHive(tc.b), parseHive(tc.a)).hive(); strings.Count(got, ":") != strings.Count(tc.want, ":") || len(got) != len(tc.want) {
			t.Errorf("widen(%s, %s) = %s, want %s up to field order", tc.b, tc.a, got, tc.want)
		}
	}
	if got := widen(tNull, tNull).hive(); got != "string" {
		t.Errorf("all-null column = %s, want string", got)
	}
}

func TestParseHiveRoundTrip(t *testing.T) {
	for _, s := range []string{
		"int", "bigint", "string", "timestamp", "date", "boolean", "double", "float", "binary", "decimal(38,9)",
		"array<struct<a:int,b:array<string>>>", "map<string,struct<x:double>>", "varchar(10)",
	} {
		if got := parseHive(s).hive(); got != s {
			t.Errorf("parseHive(%q).hive() = %q", s, got)
		}
	}
	if got := parseHive("STRUCT< a : INT >").hive(); got != "struct<a:int>" {
		t.Errorf("spaces and case: %q", got)
	}
	// Malformed names are kept verbatim rather than rejected.
	if got := parseHive("array<int").hive(); got != "array<int" {
		t.Errorf("malformed: %q", got)
	}
}

func TestScalarTypes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"", "string"}, // null
		{"true", "boolean"}, {"FALSE", "boolean"}, {"t", "string"},
		{"0", "int"}, {"-2147483648", "int"}, {"2147483648", "bigint"}, {"+7", "int"},
		{"1.5", "double"}, {"-1e10", "double"}, {".5", "double"},
		{"NaN", "string"}, {"-Inf", "string"}, {"0x10", "string"}, {"1_000", "string"},
		{"2024-02-29", "date"}, {"2023-02-29", "string"}, {"2024-1-2", "string"},
		{"2024-01-02 09:30:00", "timestamp"}, {"2024-01-02 09:30:00.123456", "timestamp"},
		{"2024-01-02T09:30:00Z", "string"}, // LazySimpleSerDe does not read ISO 8601
		{"99999999999999999999", "double"},
		{"AAPL", "string"}, {"--5", "string"},
	} {
		if got := csvType(tc.in).hive(); got != tc.want {
			t.Errorf("csvType(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	for in, want := range map[string]string{
		"2024-01-02":                  "date",
		"2024-01-02T09:30:00Z":        "timestamp",
		"2024-01-02T09:30:00.5+01:00": "timestamp",
		"2024-01-02T09:30:00":         "timestamp",
		"2024-01-02 09:30:00":         "timestamp",
		"2024-13-02":                  "string",
		"1965-12-31 junk":             "string",
	} {
		if got := stringType(in).hive(); got != want {
			t.Errorf("stringType(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestInferJSON(t *testing.T) {
	lines := `{"a":1,"b":"x"}` + "\n" + `{"a":2.5,"c":[1,2],"B":null}` + "\n"
	js, err := inferJSON([]byte(lines), false, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if got := js.schema.hive(); got != "struct<a:double,b:string,c:array<int>>" || js.records != 2 || js.multiline || js.array {
		t.Errorf("lines: %s records %d multiline %t array %t", got, js.records, js.multiline, js.array)
	}
	// A sample cut in the middle of a record ignores the partial record.
	js, err = inferJSON([]byte(lines+`{"a":"str`), true, 1000)
	if err != nil || js.records != 2 || js.schema.hive() != "struct<a:double,b:string,c:array<int>>" {
		t.Errorf("truncated: %v %d %s", err, js.records, js.schema.hive())
	}
	// ... but an untruncated file with a broken record is not JSON.
	if _, err := inferJSON([]byte(lines+`{"a":"str`), false, 1000); err == nil {
		t.Error("broken JSON accepted")
	}
	js, err = inferJSON([]byte("{\n  \"a\": 1,\n  \"when\": \"2024-01-02\"\n}\n"), false, 1000)
	if err != nil || !js.multiline || js.schema.hive() != "struct<a:int,when:date>" {
		t.Errorf("pretty-printed: %v multiline %t %s", err, js.multiline, js.schema.hive())
	}
	js, err = inferJSON([]byte(`[{"a":1},{"a":3000000000,"b":{"c":true}}]`), false, 1000)
	if err != nil || !js.array || js.records != 2 || js.schema.hive() != "struct<a:bigint,b:struct<c:boolean>>" {
		t.Errorf("array: %v array %t records %d %s", err, js.array, js.records, js.schema.hive())
	}
	js, err = inferJSON([]byte(strings.Repeat(`{"a":1}`+"\n", 50)+`{"a":"x"}`+"\n"), false, 10)
	if err != nil || js.records != 10 || js.schema.hive() != "struct<a:int>" {
		t.Errorf("sample of 10 records: %v %d %s", err, js.records, js.schema.hive())
	}
	for _, bad := range []string{`[1,2,3]`, `42`, `"x"`, `{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "}"} {
		if _, err := inferJSON([]byte(bad), false, 1000); err == nil {
			t.Errorf("inferJSON(%.30q) accepted", bad)
		}
	}
}

func TestInferCSV(t *testing.T) {
	cs, err := inferCSV([]byte("sym|px|n\nA|1.5|3\nB|2|\n"), false, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if cs.delim != '|' || !cs.header || strings.Join(cs.names, ",") != "sym,px,n" || cs.records != 2 ||
		cs.types[1].hive() != "double" || cs.types[2].hive() != "int" {
		t.Errorf("pipe: %+v", cs)
	}
	// All strings: Glue's rule sees no header.
	cs, err = inferCSV([]byte("name,city\nalice,paris\nbob,london\n"), false, 0, 1000)
	if err != nil || cs.header || cs.names[0] != "col0" || cs.records != 3 {
		t.Errorf("all strings: %v %+v", err, cs)
	}
	// A truncated sample drops its partial last line.
	cs, err = inferCSV([]byte("a,b\n1,2\n3,x"), true, 0, 1000)
	if err != nil || cs.records != 1 || cs.types[1].hive() != "int" {
		t.Errorf("truncated: %v %+v", err, cs)
	}
	if _, err := inferCSV([]byte("just some words\nand more words\n"), false, 0, 1000); err == nil {
		t.Error("free text taken for CSV")
	}
	if _, err := inferCSV([]byte("a,b\x00\x01"), false, 0, 1000); err == nil {
		t.Error("binary taken for CSV")
	}
}

func el(name string, rep format.FieldRepetitionType, opts ...func(*format.SchemaElement)) format.SchemaElement {
	e := format.SchemaElement{Name: name}
	e.RepetitionType.Set(rep)
	for _, o := range opts {
		o(&e)
	}
	return e
}

func phys(t format.Type) func(*format.SchemaElement) {
	return func(e *format.SchemaElement) { e.Type.Set(t) }
}
func kids(n int32) func(*format.SchemaElement) {
	return func(e *format.SchemaElement) { e.NumChildren.Set(n) }
}
func conv(c deprecated.ConvertedType) func(*format.SchemaElement) {
	return func(e *format.SchemaElement) { e.ConvertedType.Set(c) }
}
func logical(v format.LogicalTypeValue) func(*format.SchemaElement) {
	return func(e *format.SchemaElement) { e.LogicalType.Value = v }
}

func TestParquetSchema(t *testing.T) {
	R, O, P := format.Required, format.Optional, format.Repeated
	elems := []format.SchemaElement{
		el("schema", R, kids(12)),
		el("Symbol", O, phys(format.ByteArray), logical(&format.StringType{})),
		el("ts", R, phys(format.Int64), logical(&format.TimestampType{IsAdjustedToUTC: true, Unit: format.TimeUnit{Value: &format.MicroSeconds{}}})),
		el("legacy_ts", O, phys(format.Int96)),
		el("day", O, phys(format.Int32), conv(deprecated.Date)),
		el("amount", O, phys(format.FixedLenByteArray), logical(&format.DecimalType{Precision: 18, Scale: 4})),
		el("blob", O, phys(format.ByteArray)),
		// Three-level list of strings.
		el("tags", O, kids(1), logical(&format.ListType{})),
		el("list", P, kids(1)),
		el("element", O, phys(format.ByteArray), conv(deprecated.UTF8)),
		// Two-level list whose repeated field is the element.
		el("nums", O, kids(1), conv(deprecated.List)),
		el("array", P, phys(format.Int32)),
		// Map of string to double.
		el("attrs", O, kids(1), logical(&format.MapType{})),
		el("key_value", P, kids(2)),
		el("key", R, phys(format.ByteArray), logical(&format.StringType{})),
		el("value", O, phys(format.Double)),
		// A plain group, and a bare repeated field.
		el("quote", O, kids(2)),
		el("Bid", O, phys(format.Float)),
		el("n", O, phys(format.Int32), logical(&format.IntType{BitWidth: 16, IsSigned: true})),
		el("ids", P, phys(format.Int64)),
		el("u32", O, phys(format.Int32), logical(&format.IntType{BitWidth: 32, IsSigned: false})),
	}
	st, err := parquetSchema(elems)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range lowerNames(st).fields {
		got = append(got, f.name+" "+f.t.hive())
	}
	want := []string{
		"symbol string", "ts timestamp", "legacy_ts timestamp", "day date", "amount decimal(18,4)", "blob binary",
		"tags array<string>", "nums array<int>", "attrs map<string,double>", "quote struct<bid:float,n:smallint>",
		"ids array<bigint>", "u32 bigint",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("schema\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := parquetSchema(elems[:5]); err == nil {
		t.Error("truncated schema accepted")
	}
}

func TestExclude(t *testing.T) {
	l := newLake(t)
	c, err := New(l.store, newCatalog(t), Config{Database: "x", Prefix: "lake", Exclude: []string{"**/*.bak"}})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{
		"_stocklake/sink/a.json":              true,
		"lake/_stocklake/x":                   true, // relative to the prefix too
		"query-results/q.csv":                 true,
		"ticks/dt=1/.tmp-123":                 true,
		"ticks/dt=1/_SUCCESS":                 true,
		"ticks/_temporary/0/part":             true,
		"ticks/dt=1/part-0.parquet.crc":       true,
		"ticks/dt=1/old.bak":                  true,
		"ticks/dt=1/ticks+abc+0+0000.parquet": false,
		"seed/1.json":                         false,
		"seed/my_file.json":                   false,
	} {
		if got := c.excluded(key); got != want {
			t.Errorf("excluded(%s) = %t, want %t", key, got, want)
		}
	}
}

// TestParseHiveSharedGrammar pins what the crawler reads differently since
// it parses catalog types with hive.ParseType: "double precision" is a
// double (it was kept verbatim, so widening it with a double gave string),
// and quoted struct field names parse (the whole type was kept verbatim).
func TestParseHiveSharedGrammar(t *testing.T) {
	if got := widen(parseHive("double precision"), tDouble).hive(); got != "double" {
		t.Errorf("widen(double precision, double) = %s, want double", got)
	}
	if got := widen(parseHive("struct<`Last Price`:int>"), parseHive("struct<`last price`:bigint>")).hive(); got != "struct<last_price:bigint>" {
		t.Errorf("widen(struct<`Last Price`:int>, struct<`last price`:bigint>) = %s, want struct<last_price:bigint>", got)
	}
}
