package trino

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
	"github.com/stocklake/stocklake/sqlite"
)

func TestHiveToTrino(t *testing.T) {
	for hive, want := range map[string]string{
		"string":                         "varchar",
		"int":                            "integer",
		"bigint":                         "bigint",
		"float":                          "real",
		"double":                         "double",
		"boolean":                        "boolean",
		"date":                           "date",
		"timestamp":                      "timestamp(6)",
		"decimal(10,2)":                  "decimal(10,2)",
		"decimal":                        "decimal(10,0)",
		"varchar(12)":                    "varchar(12)",
		"binary":                         "varbinary",
		"array<string>":                  "array(varchar)",
		"map<string,array<int>>":         "map(varchar, array(integer))",
		"struct<mic:string,lit:boolean>": `row("mic" varchar, "lit" boolean)`,
		"array<struct<a:int,b:struct<c:double>>>": `array(row("a" integer, "b" row("c" double)))`,
		// Since the one Hive grammar (hive.ParseType): field names as
		// Glue allows them, quoted or not.
		"struct<a-b:int,`c d`:string>": `row("a-b" integer, "c d" varchar)`,
	} {
		got, err := hiveToTrino(hive, 6)
		if err != nil || got != want {
			t.Errorf("hiveToTrino(%q) = %q, %v; want %q", hive, got, err, want)
		}
	}
	for _, bad := range []string{"", "array<string", "struct<a>", "uniontype<int,string>", "map<string>", "geometry",
		"decimal(p,s)"} { // type parameters are whole numbers (this copy took any word)
		if got, err := hiveToTrino(bad, 6); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("hiveToTrino(%q) = %q, %v; want ErrInvalid", bad, got, err)
		}
	}
	if got, _ := hiveToTrino("timestamp", 3); got != "timestamp(3)" {
		t.Errorf("timestamp at millisecond precision: %s", got)
	}
}

func TestResultType(t *testing.T) {
	for sig, want := range map[string]string{
		"varchar(3)":                         "varchar",
		"bigint":                             "bigint",
		"timestamp(6)":                       "timestamp(6)",
		"timestamp(3) with time zone":        "timestamp(3) with time zone",
		"decimal(4,2)":                       "decimal(4,2)",
		"map(varchar(1), decimal(2,1))":      "map(varchar, decimal(2,1))",
		"row(i bigint, s varchar(5))":        "row(i bigint, s varchar)",
		`row("with space" bigint)`:           "row(with space bigint)",
		"array(row(a integer, b double))":    "array(row(a integer, b double))",
		"interval day to second":             "interval day to second",
		"double precision":                   "double",
		"array(timestamp(6) with time zone)": "array(timestamp(6) with time zone)",
	} {
		tp, err := parseTrinoType(sig)
		if err != nil {
			t.Errorf("parseTrinoType(%q): %v", sig, err)
			continue
		}
		if got := tp.resultType(); got != want {
			t.Errorf("resultType(%q) = %q, want %q", sig, got, want)
		}
	}
}

func TestConvertNested(t *testing.T) {
	tp, err := parseTrinoType("row(a array(bigint), m map(varchar, double), t timestamp(6), b varbinary, d decimal(4,2), r row(x real))")
	if err != nil {
		t.Fatal(err)
	}
	// As the client hands a row still in JSON form.
	v, err := convert(tp, []any{
		[]any{jsonNumber("1"), jsonNumber("2")},
		map[string]any{"k": "NaN", "j": jsonNumber("2.5")},
		"2026-11-26 14:00:00.123456",
		"AQI=",
		jsonNumber("12.50"),
		[]any{jsonNumber("1.25")},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	if fmt.Sprint(m["a"]) != "[1 2]" || fmt.Sprintf("%T", m["a"].([]any)[0]) != "int64" {
		t.Errorf("array(bigint) = %#v", m["a"])
	}
	mm := m["m"].(map[string]any)
	if !math.IsNaN(mm["k"].(float64)) || mm["j"] != 2.5 {
		t.Errorf("map(varchar, double) = %#v", mm)
	}
	if ts := m["t"].(time.Time); !ts.Equal(time.Date(2026, 11, 26, 14, 0, 0, 123456000, time.UTC)) {
		t.Errorf("timestamp = %v", ts)
	}
	if b := m["b"].([]byte); string(b) != "\x01\x02" {
		t.Errorf("varbinary = %#v", b)
	}
	if m["d"] != "12.50" {
		t.Errorf("decimal = %#v", m["d"])
	}
	if r := m["r"].(map[string]any); r["x"] != 1.25 {
		t.Errorf("nested row = %#v", r)
	}
}

func jsonNumber(s string) json.Number { return json.Number(s) }

func TestLocation(t *testing.T) {
	e := &Engine{localRoot: "/"}
	for in, want := range map[string]string{
		"file:///data/lake/ticks/":        "local:///data/lake/ticks/",
		"file:///data/my%20lake/t":        "local:///data/my lake/t",
		"s3://bucket/lake/ticks/":         "s3://bucket/lake/ticks/",
		"s3a://bucket/x":                  "s3a://bucket/x",
		"file://localhost/data/lake/":     "local:///data/lake/",
		"file:///data/lake/dt=2026-11-26": "local:///data/lake/dt=2026-11-26",
	} {
		if got, err := e.location(in); err != nil || got != want {
			t.Errorf("location(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	e.localRoot = "/srv/trino"
	if got, err := e.location("file:///srv/trino/lake/ticks/"); err != nil || got != "local:///lake/ticks/" {
		t.Errorf("under a local root: %q, %v", got, err)
	}
	for _, out := range []string{"file:///srv/trinox/lake/", "file:///data/lake/"} {
		if _, err := e.location(out); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("location(%q) outside the root: %v, want ErrConfig", out, err)
		}
	}
	for _, bad := range []string{"/data/lake", "http://host/lake", "file://otherhost/lake"} {
		if _, err := e.location(bad); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("location(%q): %v, want ErrInvalid", bad, err)
		}
	}
	// Partition folders are Hive-escaped names, not URL escapes: the
	// folder of NYA/X is exchange=NYA%2FX (it was read as exchange=NYA/X).
	e.localRoot = "/"
	for _, tc := range [][3]string{
		{"file:///data/my%20lake/t/", "file:///data/my%20lake/t/exchange=NYA%2FX/", "local:///data/my lake/t/exchange=NYA%2FX/"},
		{"file:///data/lake/t", "file:///data/lake/t/exchange=UP%2510/dt=x/", "local:///data/lake/t/exchange=UP%2510/dt=x/"},
		{"file:///data/lake/t/", "file:///elsewhere/my%20p/", "local:///elsewhere/my p/"},
		{"s3://b/t/", "s3://b/t/exchange=NYA%2FX/", "s3://b/t/exchange=NYA%2FX/"},
	} {
		if got, err := e.partitionLocation(tc[0], tc[1]); err != nil || got != tc[2] {
			t.Errorf("partitionLocation(%q, %q) = %q, %v; want %q", tc[0], tc[1], got, err, tc[2])
		}
	}
}

func parquetTable(db, name, loc string, keys ...string) stocklake.Table {
	t := stocklake.Table{
		Database: db, Name: name, Location: loc, Format: stocklake.FormatParquet,
		Columns: []stocklake.Column{{Name: "symbol", Type: "string"}, {Name: "ts", Type: "timestamp"}, {Name: "price", Type: "double"},
			{Name: "conditions", Type: "array<string>", Comment: "trade conditions"}},
		SerDe: hive.ParquetSerDe,
	}
	for _, k := range keys {
		t.PartitionKeys = append(t.PartitionKeys, stocklake.Column{Name: k, Type: "string"})
	}
	return t
}

func TestTableDDL(t *testing.T) {
	e := &Engine{localRoot: "/", tsPrecision: 6, cfg: Config{TrinoCatalog: "lake"}}
	tb := parquetTable("market", "ticks", "file:///lake/ticks/", "dt", "hour")
	ddl, fp, err := e.tableDDL(tb)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`CREATE TABLE "lake"."market"."ticks" (`,
		`"symbol" varchar,`, `"ts" timestamp(6),`, `"conditions" array(varchar) COMMENT 'trade conditions',`,
		`"dt" varchar,`, `"hour" varchar`,
		`external_location = 'local:///lake/ticks/'`, `format = 'PARQUET'`, `partitioned_by = ARRAY['dt', 'hour']`,
		`extra_properties = MAP(ARRAY['stocklake.fingerprint'], ARRAY['` + fp + `'])`,
	} {
		if !strings.Contains(ddl, want) {
			t.Errorf("DDL lacks %s:\n%s", want, ddl)
		}
	}
	if _, fp2, _ := e.tableDDL(tb); fp2 != fp {
		t.Errorf("fingerprint not stable: %s, %s", fp, fp2)
	}
	tb.Columns = tb.Columns[:3]
	if _, fp3, _ := e.tableDDL(tb); fp3 == fp {
		t.Error("fingerprint unchanged after a column was dropped")
	}

	csv := stocklake.Table{Database: "market", Name: "seed", Location: "s3://b/seed/", Format: stocklake.FormatCSV,
		Columns: []stocklake.Column{{Name: "index", Type: "string"}, {Name: "close", Type: "string"}},
		SerDe:   hive.OpenCSVSerDe, SerDeParams: map[string]string{"separatorChar": ";", "quoteChar": `"`, "escapeChar": `\`},
		Parameters: map[string]string{"skip.header.line.count": "1"}}
	ddl, _, err = e.tableDDL(csv)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`format = 'CSV'`, `csv_separator = ';'`, `csv_quote = '"'`, `csv_escape = '\'`, `skip_header_line_count = 1`} {
		if !strings.Contains(ddl, want) {
			t.Errorf("CSV DDL lacks %s:\n%s", want, ddl)
		}
	}
	csv.Columns[1].Type = "double"
	if _, _, err := e.tableDDL(csv); !errors.Is(err, stocklake.ErrInvalid) || !isTableError(err) {
		t.Errorf("OpenCSVSerde with a double column: %v, want a table error wrapping ErrInvalid", err)
	}
	csv.SerDe, csv.SerDeParams = hive.LazySimpleSerDe, map[string]string{"field.delim": "\t"}
	ddl, _, _ = e.tableDDL(csv)
	if !strings.Contains(ddl, "format = 'TEXTFILE'") || !strings.Contains(ddl, "textfile_field_separator = '\t'") || !strings.Contains(ddl, `"close" double`) {
		t.Errorf("LazySimpleSerDe DDL:\n%s", ddl)
	}
	js := stocklake.Table{Database: "market", Name: "trades", Location: "s3://b/trades/", Format: stocklake.FormatJSON, SerDe: hive.OpenXJSONSerDe,
		Columns: []stocklake.Column{{Name: "venue", Type: "struct<mic:string>"}}}
	if ddl, _, _ := e.tableDDL(js); !strings.Contains(ddl, "format = 'OPENX_JSON'") {
		t.Errorf("JSON DDL:\n%s", ddl)
	}
	js.Format, js.SerDe = "avrox", "com.example.Serde"
	if _, _, err := e.tableDDL(js); !isTableError(err) {
		t.Errorf("unknown SerDe: %v", err)
	}
}

// catalogFixture is a SQLite catalog with a partitioned Parquet table.
func catalogFixture(t *testing.T) *sqlite.Catalog {
	t.Helper()
	cat, err := sqlite.Open(filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	ctx := context.Background()
	if err := cat.CreateDatabase(ctx, stocklake.Database{Name: "market"}); err != nil {
		t.Fatal(err)
	}
	if err := cat.CreateTable(ctx, parquetTable("market", "ticks", "file:///lake/ticks/", "dt")); err != nil {
		t.Fatal(err)
	}
	var parts []stocklake.Partition
	for _, d := range []string{"2026-11-23", "2026-11-24"} {
		parts = append(parts, stocklake.Partition{Values: []string{d}, Location: "file:///lake/ticks/dt=" + d + "/"})
	}
	if err := cat.AddPartitions(ctx, "market", "ticks", parts); err != nil {
		t.Fatal(err)
	}
	return cat
}

func kinds(stmts []string) []string {
	var out []string
	for _, s := range stmts {
		w := strings.Fields(s)
		k := strings.Join(w[:min(2, len(w))], " ")
		if w[0] == "CALL" {
			k = "CALL " + strings.TrimPrefix(strings.Split(w[1], "(")[0], `"lake".system.`)
		}
		out = append(out, k)
	}
	return out
}

func TestSync(t *testing.T) {
	ctx := context.Background()
	f := newFakeTrino(t)
	cat := catalogFixture(t)
	e, err := New(ctx, Config{URL: f.srv.URL, Catalog: cat, Register: RegisterOnce})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	got := kinds(f.statements())
	if !slices.Equal(got[:5], []string{"SELECT 1", "SHOW SCHEMAS", "CREATE SCHEMA", "DROP TABLE", "CREATE TABLE"}) ||
		slices.Index(got, "CALL register_partition") < 0 {
		t.Errorf("statements of the first sync: %v", got)
	}
	if p := f.partitions("market.ticks"); fmt.Sprint(p) != "[2026-11-23 2026-11-24]" {
		t.Errorf("partitions in Trino: %v", p)
	}
	f.mu.Lock()
	loc := f.tables["market.ticks"].locs["2026-11-23"]
	f.mu.Unlock()
	if loc != "local:///lake/ticks/dt=2026-11-23/" {
		t.Errorf("partition location %q", loc)
	}

	// Nothing changed: nothing to do.
	f.reset()
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if s := f.statements(); len(s) != 0 {
		t.Errorf("a sync without changes sent %v", s)
	}

	// A partition added and one removed.
	if err := cat.AddPartitions(ctx, "market", "ticks", []stocklake.Partition{{Values: []string{"2026-11-25"}, Location: "file:///lake/ticks/dt=2026-11-25/"}}); err != nil {
		t.Fatal(err)
	}
	if err := cat.DeletePartitions(ctx, "market", "ticks", [][]string{{"2026-11-23"}}); err != nil {
		t.Fatal(err)
	}
	f.reset()
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kinds(f.statements()); !slices.Equal(got, []string{"CALL unregister_partition", "CALL register_partition"}) {
		t.Errorf("statements for one partition in, one out: %v", got)
	}
	if p := f.partitions("market.ticks"); fmt.Sprint(p) != "[2026-11-24 2026-11-25]" {
		t.Errorf("partitions in Trino: %v", p)
	}

	// Many partitions in key=value folders: Trino finds them in one call,
	// and a folder the catalog does not list is taken out again.
	var parts []stocklake.Partition
	var folders [][]string
	for d := 1; d <= 10; d++ {
		day := fmt.Sprintf("2026-10-%02d", d)
		parts = append(parts, stocklake.Partition{Values: []string{day}, Location: "file:///lake/ticks/dt=" + day + "/"})
		folders = append(folders, []string{day})
	}
	f.mu.Lock()
	f.folders["market.ticks"] = append(folders, []string{"2026-09-30"}) // not crawled yet
	f.mu.Unlock()
	if err := cat.AddPartitions(ctx, "market", "ticks", parts); err != nil {
		t.Fatal(err)
	}
	f.reset()
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	got = kinds(f.statements())
	if !slices.Equal(got, []string{"CALL sync_partition_metadata", `SELECT CAST("dt"`, "CALL unregister_partition"}) {
		t.Errorf("statements for 10 new partitions: %v", got)
	}
	if p := f.partitions("market.ticks"); len(p) != 12 || slices.Contains(p, "2026-09-30") {
		t.Errorf("partitions in Trino: %v", p)
	}

	// A changed definition: dropped and created again, partitions with it.
	tb, err := cat.GetTable(ctx, "market", "ticks")
	if err != nil {
		t.Fatal(err)
	}
	tb.Columns = append(tb.Columns, stocklake.Column{Name: "venue", Type: "string"})
	if err := cat.UpdateTable(ctx, tb); err != nil {
		t.Fatal(err)
	}
	f.reset()
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	got = kinds(f.statements())
	if !slices.Equal(got[:3], []string{"DROP TABLE", "CREATE TABLE", "CALL sync_partition_metadata"}) {
		t.Errorf("statements for a changed table: %v", got)
	}
	if p := f.partitions("market.ticks"); len(p) != 12 {
		t.Errorf("partitions after re-creation: %v", p)
	}

	// A second engine finds the registration current from its fingerprint.
	f.reset()
	e2, err := New(ctx, Config{URL: f.srv.URL, Catalog: cat, Register: RegisterOnce})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	for _, k := range kinds(f.statements()) {
		if k == "CREATE TABLE" || k == "DROP TABLE" || strings.HasPrefix(k, "CALL") {
			t.Errorf("a new engine over a current registration sent %v", f.statements())
			break
		}
	}

	// A deleted table is dropped.
	if err := cat.DeleteTable(ctx, "market", "ticks"); err != nil {
		t.Fatal(err)
	}
	f.reset()
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kinds(f.statements()); !slices.Equal(got, []string{"DROP TABLE"}) {
		t.Errorf("statements for a deleted table: %v", got)
	}
}

func TestSyncSkipsBadTable(t *testing.T) {
	ctx := context.Background()
	f := newFakeTrino(t)
	cat := catalogFixture(t)
	bad := parquetTable("market", "odd", "file:///lake/odd/")
	bad.Columns[0].Type = "geometry"
	if err := cat.CreateTable(ctx, bad); err != nil {
		t.Fatal(err)
	}
	e, err := New(ctx, Config{URL: f.srv.URL, Catalog: cat})
	if err != nil {
		t.Fatalf("New with one table Trino cannot read: %v", err)
	}
	defer e.Close()
	if err := e.Sync(ctx); err == nil || !strings.Contains(err.Error(), "market.odd") || !errors.Is(err, stocklake.ErrInvalid) {
		t.Errorf("Sync: %v, want an error naming market.odd", err)
	}
	if p := f.partitions("market.ticks"); len(p) != 2 {
		t.Errorf("the good table was not registered: %v", p)
	}
	f.answerWith("SELECT * FROM market.odd", notFound("line 1:15: Table 'lake.market.odd' does not exist"))
	_, err = e.Query(ctx, "SELECT * FROM market.odd")
	if !errors.Is(err, stocklake.ErrNotFound) || !strings.Contains(err.Error(), "geometry") {
		t.Errorf("query of the skipped table: %v, want ErrNotFound with the reason it was skipped", err)
	}
}

func TestQueryValuesAndStats(t *testing.T) {
	ctx := context.Background()
	f := newFakeTrino(t)
	e, err := New(ctx, Config{URL: f.srv.URL, Register: RegisterNone})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	f.answerWith("SELECT everything", fakeResult{
		cols: [][2]string{{"s", "varchar(3)"}, {"n", "bigint"}, {"x", "double"}, {"ok", "boolean"}, {"d", "date"},
			{"ts", "timestamp(6)"}, {"dec", "decimal(4,2)"}, {"a", "array(bigint)"}, {"r", "row(i bigint, s varchar)"}, {"nul", "varchar"}},
		rows:  [][]any{{"abc", 42, "Infinity", true, "2026-11-26", "2026-11-26 14:00:00.123456", "12.50", []any{1, 2}, []any{7, "x"}, nil}},
		bytes: 4242,
	})
	r, err := e.Query(ctx, "SELECT everything")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := fmt.Sprint(r.Columns()); got != "[{s varchar} {n bigint} {x double} {ok boolean} {d date} {ts timestamp(6)} {dec decimal(4,2)} {a array(bigint)} {r row(i bigint, s varchar)} {nul varchar}]" {
		t.Errorf("columns %s", got)
	}
	if !r.Next() {
		t.Fatal(r.Err())
	}
	v := r.Values()
	if v[0] != "abc" || v[1] != int64(42) || !math.IsInf(v[2].(float64), 1) || v[3] != true || v[6] != "12.50" || v[9] != nil {
		t.Errorf("scalars %#v", v)
	}
	if d := v[4].(time.Time); !d.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date %v", d)
	}
	if ts := v[5].(time.Time); !ts.Equal(time.Date(2026, 11, 26, 14, 0, 0, 123456000, time.UTC)) {
		t.Errorf("timestamp %v", ts)
	}
	if a := v[7].([]any); len(a) != 2 || a[0] != int64(1) {
		t.Errorf("array %#v", v[7])
	}
	if m := v[8].(map[string]any); m["i"] != int64(7) || m["s"] != "x" {
		t.Errorf("row %#v", v[8])
	}
	if r.Next() {
		t.Error("a second row")
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.BytesScanned != 4242 || st.Duration != 7*time.Millisecond {
		t.Errorf("stats %+v, want 4242 bytes in 7ms", st)
	}
	if id := r.(*rows).QueryID(); id == "" {
		t.Error("no query ID")
	}
}

func TestQueryErrors(t *testing.T) {
	ctx := context.Background()
	f := newFakeTrino(t)
	e, err := New(ctx, Config{URL: f.srv.URL, Register: RegisterNone, RetryTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	f.answerWith("SELEC 1", fakeResult{err: &fakeError{name: "SYNTAX_ERROR", typ: "USER_ERROR", msg: "line 1:1: mismatched input 'SELEC'"}})
	f.answerWith("SELECT * FROM nope", notFound("line 1:15: Table 'lake.default.nope' does not exist"))
	f.answerWith("SELECT boom", fakeResult{err: &fakeError{name: "GENERIC_INTERNAL_ERROR", typ: "INTERNAL_ERROR", msg: "boom"}})
	for sql, want := range map[string]error{"SELEC 1": stocklake.ErrInvalid, "SELECT * FROM nope": stocklake.ErrNotFound} {
		_, err := e.Query(ctx, sql)
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", sql, err, want)
		}
	}
	_, err = e.Query(ctx, "SELECT boom")
	if err == nil || !strings.Contains(err.Error(), "boom (GENERIC_INTERNAL_ERROR)") {
		t.Errorf("internal error: %v", err)
	}

	f.srv.Close()
	e2, err := New(ctx, Config{URL: f.srv.URL, Register: RegisterNone, RetryTimeout: 50 * time.Millisecond})
	if !errors.Is(err, stocklake.ErrUnavailable) || !strings.Contains(err.Error(), "scripts/trino start") {
		t.Errorf("New with the server gone: %v, want ErrUnavailable", err)
	}
	if e2 != nil {
		e2.Close()
	}
	if _, err := e.Query(ctx, "SELECT 1"); !errors.Is(err, stocklake.ErrUnavailable) {
		t.Errorf("server gone: %v, want ErrUnavailable", err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []Config{
		{},
		{URL: "127.0.0.1:8081", Register: RegisterNone},
		{URL: "http://127.0.0.1:8081"}, // no catalog to register
		{URL: "http://127.0.0.1:8081", Register: "sometimes"},
		{URL: "http://127.0.0.1:8081", Register: RegisterNone, LocalRoot: "lake"},
	} {
		if _, err := New(ctx, cfg); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("New(%+v): %v, want ErrConfig", cfg, err)
		}
	}
}

func TestParseAirlift(t *testing.T) {
	for in, want := range map[string]int64{"1234B": 1234, "1.50kB": 1536, "2MB": 2 << 20} {
		if got, err := parseDataSize(in); err != nil || got != want {
			t.Errorf("parseDataSize(%q) = %d, %v", in, got, err)
		}
	}
	for in, want := range map[string]time.Duration{"450.00ms": 450 * time.Millisecond, "1.50s": 1500 * time.Millisecond, "2.00m": 2 * time.Minute} {
		if got, err := parseAirliftDuration(in); err != nil || got != want {
			t.Errorf("parseAirliftDuration(%q) = %v, %v", in, got, err)
		}
	}
}

// TestStatsFromQueryInfo covers a query whose progress updates were all
// dropped: its ID comes from the URLs the client followed, its stats from
// the coordinator's query info.
func TestStatsFromQueryInfo(t *testing.T) {
	ctx := context.Background()
	f := newFakeTrino(t)
	e, err := New(ctx, Config{URL: f.srv.URL, Register: RegisterNone})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	f.mu.Lock()
	f.results["q42"] = fakeResult{bytes: 99}
	f.mu.Unlock()
	st := e.finalStats(ctx, &progress{id: "q42", state: "RUNNING"}, time.Second)
	if st.BytesScanned != 99 || st.Duration != 7*time.Millisecond {
		t.Errorf("stats %+v, want 99 bytes in 7ms", st)
	}
	if id := statementID("/v1/statement/executing/20261126_102754_00001_abcde/y1/2"); id != "20261126_102754_00001_abcde" {
		t.Errorf("statementID = %q", id)
	}
	if id := statementID("/v1/query/x"); id != "" {
		t.Errorf("statementID of a query-info URL = %q", id)
	}
}

// TestCanonical checks when sync_partition_metadata may find the missing
// partitions itself: each sits in the folder hive.PartitionPath names and
// no value needs escaping. '}' needs none in Hive (this check refused it
// before it used hive.Escape).
func TestCanonical(t *testing.T) {
	tb := stocklake.Table{Location: "s3://lake/ticks/", PartitionKeys: []stocklake.Column{{Name: "DT"}, {Name: "ex"}}}
	for _, tc := range []struct {
		values []string
		loc    string
		want   bool
	}{
		{[]string{"2026-11-26", "NYSE"}, "s3://lake/ticks/dt=2026-11-26/ex=NYSE/", true},
		{[]string{"2026-11-26", "a}b"}, "s3://lake/ticks/dt=2026-11-26/ex=a}b", true},
		{[]string{"2026-11-26", "NYSE"}, "s3://lake/other/dt=2026-11-26/ex=NYSE/", false},
		{[]string{"2026-11-26", "NYA/X"}, "s3://lake/ticks/dt=2026-11-26/ex=NYA%2FX/", false},
		{[]string{"2026-11-26", ""}, "s3://lake/ticks/dt=2026-11-26/ex=__HIVE_DEFAULT_PARTITION__/", false},
	} {
		want := map[string]stocklake.Partition{"k": {Values: tc.values, Location: tc.loc}}
		if got := canonical(tb, want, []string{"k"}); got != tc.want {
			t.Errorf("canonical(%q at %s) = %v, want %v", tc.values, tc.loc, got, tc.want)
		}
	}
}

// TestConvertZoneName reads timestamps with a time zone named by a Trino
// zone ID. Trino 476 writes CET, PRC, WET and the like, which Go's "MST"
// layout (tried first before sqltext.ParseTime) read as zones at UTC.
func TestConvertZoneName(t *testing.T) {
	tp, err := parseTrinoType("array(timestamp(3) with time zone)")
	if err != nil {
		t.Fatal(err)
	}
	v, err := convert(tp, []any{"2026-11-26 14:05:01.000 CET", "2026-11-26 14:05:01.000 PRC", "2026-11-26 14:05:01.000 UTC",
		"2026-11-26 14:05:01.000 US/Eastern", "2026-11-26 14:05:01.000 -05:00"})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{
		time.Date(2026, 11, 26, 13, 5, 1, 0, time.UTC), time.Date(2026, 11, 26, 6, 5, 1, 0, time.UTC), time.Date(2026, 11, 26, 14, 5, 1, 0, time.UTC),
		time.Date(2026, 11, 26, 19, 5, 1, 0, time.UTC), time.Date(2026, 11, 26, 19, 5, 1, 0, time.UTC),
	}
	got := v.([]any)
	for i := range want {
		if ts, ok := got[i].(time.Time); !ok || !ts.Equal(want[i]) {
			t.Errorf("value %d = %v, want %v", i, got[i], want[i])
		}
	}
}

// TestSyncLeavesIcebergTables: an Iceberg table of the catalog
// (table_type=ICEBERG) is not registered in the Hive catalog, and Sync
// reports no error for it; a query that looks for it there is told to use
// the Iceberg catalog.
func TestSyncLeavesIcebergTables(t *testing.T) {
	ctx := context.Background()
	f := newFakeTrino(t)
	cat := catalogFixture(t)
	ice := parquetTable("market", "iceticks", "s3://bucket/lake/market.db/iceticks")
	ice.PartitionKeys = nil
	ice.Parameters = map[string]string{"table_type": "ICEBERG", "metadata_location": "s3://bucket/lake/market.db/iceticks/metadata/00001-a.metadata.json"}
	if err := cat.CreateTable(ctx, ice); err != nil {
		t.Fatal(err)
	}
	e, err := New(ctx, Config{URL: f.srv.URL, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Sync(ctx); err != nil {
		t.Errorf("Sync with an Iceberg table: %v", err)
	}
	for _, s := range f.statements() {
		if strings.Contains(s, "iceticks") {
			t.Errorf("statement about the Iceberg table sent to Trino: %s", s)
		}
	}
	if p := f.partitions("market.ticks"); len(p) != 2 {
		t.Errorf("the Hive table was not registered: %v", p)
	}
	f.answerWith("SELECT * FROM market.iceticks", notFound("line 1:15: Table 'lake.market.iceticks' does not exist"))
	_, err = e.Query(ctx, "SELECT * FROM market.iceticks")
	if !errors.Is(err, stocklake.ErrNotFound) || !strings.Contains(err.Error(), `"iceberg"."market"."iceticks"`) {
		t.Errorf("query of the Iceberg table in the Hive catalog: %v, want ErrNotFound naming iceberg.market.iceticks", err)
	}
	// A database of Iceberg tables only has no schema in the Hive catalog.
	f.answerWith("SELECT * FROM icedb.iceticks", fakeResult{err: &fakeError{name: "SCHEMA_NOT_FOUND", typ: "USER_ERROR", msg: "line 1:15: Schema 'icedb' does not exist"}})
	_, err = e.Query(ctx, "SELECT * FROM icedb.iceticks")
	if !strings.Contains(err.Error(), `"iceberg"."market"."iceticks"`) {
		t.Errorf("query in a schema Trino does not have: %v, want the Iceberg tables named", err)
	}
}
