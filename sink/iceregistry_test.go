package sink_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/duckdb"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/sink"
	"github.com/stocklake/stocklake/sqlite"
)

// iceRegistrySink runs a sink with a registry decoder into the Iceberg
// table market.NAME of the catalog at dbPath (created by the sink, as
// `sink --table-format iceberg` does) until it is idle, through a catalog
// handle of its own (a new process).
func iceRegistrySink(t *testing.T, ctx context.Context, kc kafka.Config, lake stocklake.ObjectStore, dbPath string, reg *srfake.Registry, topic string) *sink.Sink {
	t.Helper()
	cat, err := iceberg.Open(ctx, iceberg.Config{SQLitePath: dbPath, Warehouse: lake.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	lt, err := cat.LazyTable("market", topic)
	if err != nil {
		t.Fatal(err)
	}
	return runRegistrySink(t, ctx, reg, sink.Config{Kafka: kc, Topic: topic, Store: lake, Committer: lt})
}

// iceColumns returns the table's columns as NAME:GLUETYPE and its rows'
// values of columns, keyed as iceberg.Table.KeyCounts keys them.
func iceColumns(t *testing.T, ctx context.Context, lake stocklake.ObjectStore, dbPath, name string, columns ...string) (map[string]string, map[string]int) {
	t.Helper()
	cat, err := iceberg.Open(ctx, iceberg.Config{SQLitePath: dbPath, Warehouse: lake.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	tbl, err := cat.OpenTable(ctx, "market", name)
	if err != nil {
		t.Fatal(err)
	}
	def, err := tbl.Definition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, c := range def.Columns {
		types[c.Name] = c.Type
	}
	keys, err := tbl.KeyCounts(ctx, columns...)
	if err != nil {
		t.Fatal(err)
	}
	return types, keys
}

// engineRows runs sql with stocklake's DuckDB engine over the Iceberg
// catalog at dbPath (database market) and returns the rows as text.
func engineRows(t *testing.T, ctx context.Context, lake stocklake.ObjectStore, dbPath, sql string) string {
	t.Helper()
	cat, err := sqlite.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	ic, err := iceberg.Open(ctx, iceberg.Config{SQLitePath: dbPath, Warehouse: lake.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	e, err := duckdb.New(ctx, duckdb.Config{Catalog: cat, Store: lake, Iceberg: ic, Database: "market", CacheDir: t.TempDir(), Threads: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rows, err := e.Query(ctx, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var vs []string
		for _, v := range rows.Values() {
			vs = append(vs, fmt.Sprint(v))
		}
		out = append(out, strings.Join(vs, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return strings.Join(out, "|")
}

const iceOrderV1 = `{"type":"record","name":"Order","fields":[
 {"name":"id","type":"long"},
 {"name":"sym","type":"string"},
 {"name":"qty","type":"int"},
 {"name":"f","type":"float"},
 {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":4}},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-micros"}},
 {"name":"ms","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"attrs","type":{"type":"map","values":"long"}},
 {"name":"venue","type":{"type":"record","name":"Venue","fields":[{"name":"mic","type":"string"},{"name":"lat","type":["null","double"]}]}},
 {"name":"meta","type":{"type":"record","name":"Meta","fields":[]}}
]}`

// iceOrderV2 is compatible with v1: a new optional field, a new optional
// field of the nested record, int to long and float to double.
const iceOrderV2 = `{"type":"record","name":"Order","fields":[
 {"name":"id","type":"long"},
 {"name":"sym","type":"string"},
 {"name":"qty","type":"long"},
 {"name":"f","type":"double"},
 {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":4}},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-micros"}},
 {"name":"ms","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"attrs","type":{"type":"map","values":"long"}},
 {"name":"venue","type":{"type":"record","name":"Venue","fields":[{"name":"mic","type":"string"},{"name":"lat","type":["null","double"]},{"name":"lane","type":["null","int"],"default":null}]}},
 {"name":"meta","type":{"type":"record","name":"Meta","fields":[]}},
 {"name":"note","type":["null","string"],"default":null}
]}`

// iceOrderBad does not fit: sym becomes a long.
const iceOrderBad = `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"sym","type":"long"}]}`

func iceOrder(id int64, at time.Time, v2 bool) map[string]any {
	r := map[string]any{"id": id, "sym": "AAPL", "qty": 7, "f": float32(1.5), "price": big.NewRat(1234567, 100),
		"ts": at, "ms": at, "day": time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC),
		"tags": []any{"a", "b"}, "attrs": map[string]any{"x": int64(id)},
		"venue": map[string]any{"mic": "XNAS", "lat": nil}, "meta": map[string]any{}}
	if v2 {
		note, lane := "rush", 3
		r["qty"], r["f"], r["note"] = int64(1)<<40, 2.25, &note
		r["venue"] = map[string]any{"mic": "XNAS", "lat": nil, "lane": &lane}
	}
	return r
}

// TestIcebergSinkRegistryEvolution: Avro records land in an Iceberg table
// the sink creates with the right Iceberg types (decimal, µs timestamps —
// millis converted —, date, list, map, struct), partitioned by day(ts); a
// compatible new writer schema widens the table's schema (new column, new
// nested field, int to long, float to double) in a new schema version
// before its rows are committed, and the old rows read null in the new
// columns; an incompatible writer schema's records are dead-lettered with
// the reason; and after a restart, a record of the old writer schema
// still lands (the table's schema is the union the sink checks against).
func TestIcebergSinkRegistryEvolution(t *testing.T) {
	ctx, kc, lake, reg := newRegistryLake(t, "orders", "orders.dlq")
	dbPath := filepath.Join(t.TempDir(), "catalog.db")
	id1 := registerAvro(t, reg, "orders-value", iceOrderV1)
	at := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC).Add(123456 * time.Microsecond).Truncate(time.Millisecond)
	produceRecords(t, kc, "orders", [][]byte{[]byte("k"), []byte("k")},
		[][]byte{frame(t, iceOrderV1, id1, iceOrder(1, at, false)), frame(t, iceOrderV1, id1, iceOrder(2, at.Add(24*time.Hour), false))})
	snk := iceRegistrySink(t, ctx, kc, lake, dbPath, reg, "orders")
	if n := snk.Stats().DeadLetters.Load(); n != 0 {
		t.Fatalf("%d dead letters, want none", n)
	}
	types, rows := iceColumns(t, ctx, lake, dbPath, "orders", "id", "ts", "ms", "meta")
	want := map[string]string{"id": "bigint", "sym": "string", "qty": "int", "f": "float", "price": "decimal(12,4)", "ts": "timestamp", "ms": "timestamp",
		"day": "date", "tags": "array<string>", "attrs": "map<string,bigint>", "venue": "struct<mic:string,lat:double>", "meta": "string"}
	if !reflect.DeepEqual(types, want) {
		t.Errorf("table columns\n got %v\nwant %v", types, want)
	}
	if len(rows) != 2 {
		t.Errorf("rows %v: want ids 1 and 2", rows)
	}
	for k := range rows {
		// timestamp-millis values land as the same instant as the µs ones.
		if f := strings.Split(k, "\x00"); f[1] != f[2] || f[3] != "{}" {
			t.Errorf("row %q: ms %s differs from ts %s, or meta is not {}", k, f[2], f[1])
		}
	}

	id2 := registerAvro(t, reg, "orders-value", iceOrderV2)
	idBad := registerAvro(t, reg, "other-value", iceOrderBad)
	produceRecords(t, kc, "orders", [][]byte{[]byte("k"), []byte("k"), []byte("k")}, [][]byte{
		frame(t, iceOrderV2, id2, iceOrder(3, at, true)),
		frame(t, iceOrderBad, idBad, map[string]any{"id": int64(4), "sym": int64(5)}),
		frame(t, iceOrderV1, id1, iceOrder(5, at, false)),
	})
	snk = iceRegistrySink(t, ctx, kc, lake, dbPath, reg, "orders")
	if n := snk.Stats().DeadLetters.Load(); n != 1 {
		t.Errorf("%d dead letters, want 1 (the incompatible record)", n)
	}
	types, rows = iceColumns(t, ctx, lake, dbPath, "orders", "id", "qty", "f", "note", "venue")
	want["qty"], want["f"], want["note"], want["venue"] = "bigint", "double", "string", "struct<mic:string,lat:double,lane:int>"
	if !reflect.DeepEqual(types, want) {
		t.Errorf("widened table columns\n got %v\nwant %v", types, want)
	}
	wantRows := []string{
		"1\x007\x001.5\x00(null)\x00{\"lane\":null,\"lat\":null,\"mic\":\"XNAS\"}",
		"2\x007\x001.5\x00(null)\x00{\"lane\":null,\"lat\":null,\"mic\":\"XNAS\"}",
		"3\x001099511627776\x002.25\x00rush\x00{\"lane\":3,\"lat\":null,\"mic\":\"XNAS\"}",
		"5\x007\x001.5\x00(null)\x00{\"lane\":null,\"lat\":null,\"mic\":\"XNAS\"}",
	}
	var gotRows []string
	for k, n := range rows {
		for range n {
			gotRows = append(gotRows, k)
		}
	}
	slices.Sort(gotRows)
	if !slices.Equal(gotRows, wantRows) {
		t.Errorf("rows\n got %q\nwant %q", gotRows, wantRows)
	}

	// stocklake's DuckDB engine reads the old files' missing columns as
	// null too.
	if got := engineRows(t, ctx, lake, dbPath, "SELECT id, qty, note, venue.lane FROM orders ORDER BY id"); got != "1 7 <nil> <nil>|2 7 <nil> <nil>|3 1099511627776 rush 3|5 7 <nil> <nil>" {
		t.Errorf("DuckDB engine rows %q", got)
	}

	// A restart: the old writer schema still lands, the table stays wide,
	// the incompatible one is still refused.
	produceRecords(t, kc, "orders", [][]byte{[]byte("k"), []byte("k")}, [][]byte{
		frame(t, iceOrderBad, idBad, map[string]any{"id": int64(6), "sym": int64(7)}),
		frame(t, iceOrderV1, id1, iceOrder(8, at, false)),
	})
	snk = iceRegistrySink(t, ctx, kc, lake, dbPath, reg, "orders")
	if n := snk.Stats().DeadLetters.Load(); n != 1 {
		t.Errorf("after a restart: %d dead letters, want 1 (the incompatible record)", n)
	}
	types, rows = iceColumns(t, ctx, lake, dbPath, "orders", "id")
	if !reflect.DeepEqual(types, want) {
		t.Errorf("after a restart, table columns\n got %v\nwant %v", types, want)
	}
	if rows["8"] != 1 || len(rows) != 5 {
		t.Errorf("after a restart, ids %v: want 1, 2, 3, 5, 8 once", rows)
	}
}

// TestSinkRegistryUnionSurvivesRestart (Hive tables): the union of the
// writer schemas a sink met is kept with the table, so that after a
// restart an incompatible writer schema is still refused though the
// restarted sink met no other schema first, and a record of the old
// writer schema lands without narrowing the catalog's table. (A restarted
// sink used to start from an empty union and admit the incompatible
// schema.)
func TestSinkRegistryUnionSurvivesRestart(t *testing.T) {
	ctx, kc, lake, reg := newRegistryLake(t, "fills", "fills.dlq")
	v1 := `{"type":"record","name":"Fill","fields":[{"name":"id","type":"long"},{"name":"sym","type":"string"}]}`
	v2 := `{"type":"record","name":"Fill","fields":[{"name":"id","type":"long"},{"name":"sym","type":"string"},{"name":"qty","type":["null","long"],"default":null}]}`
	bad := `{"type":"record","name":"Fill","fields":[{"name":"id","type":"long"},{"name":"qty","type":"string"}]}`
	id1 := registerAvro(t, reg, "fills-value", v1)
	id2 := registerAvro(t, reg, "fills-value", v2)
	idBad := registerAvro(t, reg, "other-value", bad)
	qty := int64(3)
	cat := memCatalog(t)
	produceRecords(t, kc, "fills", [][]byte{[]byte("k"), []byte("k")}, [][]byte{
		frame(t, v1, id1, map[string]any{"id": int64(1), "sym": "A"}),
		frame(t, v2, id2, map[string]any{"id": int64(2), "sym": "B", "qty": &qty}),
	})
	registrySink(t, ctx, kc, lake, reg, "fills", cat)

	produceRecords(t, kc, "fills", [][]byte{[]byte("k"), []byte("k")}, [][]byte{
		frame(t, bad, idBad, map[string]any{"id": int64(3), "qty": "many"}),
		frame(t, v1, id1, map[string]any{"id": int64(4), "sym": "C"}),
	})
	snk := registrySink(t, ctx, kc, lake, reg, "fills", cat)
	if n := snk.Stats().DeadLetters.Load(); n != 1 {
		t.Errorf("after a restart: %d dead letters, want 1 (qty string does not fit the table's bigint)", n)
	}
	assertCatalogColumn(t, ctx, cat, "fills", "qty", "bigint")
	rows, _ := readParquet(t, ctx, lake, "fills")
	ids := map[int64]bool{}
	for _, r := range rows {
		ids[r["id"].(int64)] = true
	}
	if len(ids) != 3 || !ids[1] || !ids[2] || !ids[4] || ids[3] {
		t.Errorf("landed ids %v, want 1, 2 and 4", ids)
	}
}
