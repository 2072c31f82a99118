package sink_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/crawler"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/schemaregistry"
	"github.com/stocklake/stocklake/sink"
)

// allTypes is an Avro schema with every type the sink maps.
const allTypes = `{"type":"record","name":"Trade","namespace":"t","fields":[
 {"name":"id","type":"long"},
 {"name":"qty","type":"int"},
 {"name":"ok","type":"boolean"},
 {"name":"f32","type":"float"},
 {"name":"f64","type":"double"},
 {"name":"name","type":"string"},
 {"name":"raw","type":"bytes"},
 {"name":"side","type":{"type":"enum","name":"Side","symbols":["BUY","SELL"]}},
 {"name":"note","type":["null","string"],"default":null},
 {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":4}},
 {"name":"big","type":{"type":"fixed","name":"Big","size":16,"logicalType":"decimal","precision":30,"scale":2}},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-micros"}},
 {"name":"ms","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"attrs","type":{"type":"map","values":"long"}},
 {"name":"venue","type":{"type":"record","name":"Venue","fields":[{"name":"mic","type":"string"},{"name":"lat","type":["null","double"]}]}},
 {"name":"legs","type":{"type":"array","items":{"type":"record","name":"Leg","fields":[{"name":"q","type":"int"},{"name":"p","type":"double"}]}}},
 {"name":"mixed","type":["null","string","long"]}
]}`

// frame encodes v with schema in the Confluent wire format with id.
func frame(t *testing.T, schema string, id int, v any) []byte {
	t.Helper()
	s := avro.MustParse(schema)
	b, err := avro.Marshal(s, v)
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id)), b...)
}

// newRegistryLake is newLake with a fake Schema Registry, closed when t
// ends, and a context that ends after 2 minutes.
func newRegistryLake(t *testing.T, topics ...string) (context.Context, kafka.Config, stocklake.ObjectStore, *srfake.Registry) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	kc, lake := newLake(t, topics...)
	reg := srfake.New()
	t.Cleanup(reg.Close)
	return ctx, kc, lake, reg
}

// registerAvro registers the Avro schema under subject in reg and returns
// its ID.
func registerAvro(t *testing.T, reg *srfake.Registry, subject, schema string) int {
	t.Helper()
	id, _, err := reg.RegisterSchema(subject, sr.Schema{Schema: schema, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// assertCatalogColumn checks that the catalog table stocklake.table has
// the column name of type typ.
func assertCatalogColumn(t *testing.T, ctx context.Context, cat stocklake.Catalog, table, name, typ string) {
	t.Helper()
	tbl, err := cat.GetTable(ctx, "stocklake", table)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(tbl.Columns, func(c stocklake.Column) bool { return c.Name == name && c.Type == typ }) {
		t.Errorf("table %s columns %v lack %s %s", table, tbl.Columns, name, typ)
	}
}

// registrySink runs a sink with a registry decoder and a catalog
// registrar over topic until it is idle.
func registrySink(t *testing.T, ctx context.Context, kc kafka.Config, lake stocklake.ObjectStore, reg *srfake.Registry, topic string, cat stocklake.Catalog) *sink.Sink {
	t.Helper()
	r, err := crawler.NewRegistrar(lake, cat, "stocklake")
	if err != nil {
		t.Fatal(err)
	}
	return runRegistrySink(t, ctx, reg, sink.Config{Kafka: kc, Topic: topic, Store: lake, Registrar: r})
}

// runRegistrySink runs a sink of cfg with a decoder of reg until it is
// idle.
func runRegistrySink(t *testing.T, ctx context.Context, reg *srfake.Registry, cfg sink.Config) *sink.Sink {
	t.Helper()
	dec, err := schemaregistry.New(schemaregistry.Config{URL: reg.URL()})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Decoder, cfg.FlushInterval, cfg.ExitWhenIdle = dec, 50*time.Millisecond, true
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	snk, err := sink.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := snk.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return snk
}

// readParquet reads every Parquet object of a table as rows.
func readParquet(t *testing.T, ctx context.Context, lake stocklake.ObjectStore, table string) ([]map[string]any, *parquet.Schema) {
	t.Helper()
	objs, err := lake.List(ctx, table+"/")
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	var schema *parquet.Schema
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, ".parquet") {
			continue
		}
		rc, err := lake.Get(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		schema = f.Schema()
		r := parquet.NewReader(f)
		for {
			m := map[string]any{}
			if err := r.Read(&m); err != nil {
				if err == io.EOF {
					break
				}
				t.Fatalf("read %s: %v", o.Key, err)
			}
			rows = append(rows, m)
		}
	}
	return rows, schema
}

// TestSinkRegistryAvroTypes: every Avro type lands as its column type
// (records as structs, arrays as lists, maps, enums as strings, unions
// with null as optional columns, decimals with their precision and scale,
// timestamps and dates as such), the values come back, and the table the
// sink registers is the one a crawl of the Parquet footers defines.
func TestSinkRegistryAvroTypes(t *testing.T) {
	ctx, kc, lake, reg := newRegistryLake(t, "trades")
	id := registerAvro(t, reg, "trades-value", allTypes)
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	note := "n1"
	rec := map[string]any{
		"id": int64(1) << 40, "qty": 7, "ok": true, "f32": float32(1.5), "f64": 2.25, "name": "AAPL", "raw": []byte{0, 1, 2},
		"side": "SELL", "note": &note, "price": big.NewRat(1234567, 100),
		"ts": at, "ms": at, "day": time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC),
		"tags": []any{"a", "b"}, "attrs": map[string]any{"x": int64(1), "y": int64(-2)},
		"venue": map[string]any{"mic": "XNAS", "lat": nil}, "legs": []any{map[string]any{"q": 1, "p": 1.5}, map[string]any{"q": 2, "p": 2.5}},
		"mixed": map[string]any{"long": int64(5)},
	}
	bigv, _ := new(big.Rat).SetString("-12345678901234567890123.45")
	rec["big"] = bigv
	produceRecords(t, kc, "trades", [][]byte{[]byte("k")}, [][]byte{frame(t, allTypes, id, rec)})
	cat := memCatalog(t)
	snk := registrySink(t, ctx, kc, lake, reg, "trades", cat)
	if n := snk.Stats().DeadLetters.Load(); n != 0 {
		t.Fatalf("%d dead letters, want none", n)
	}
	got, err := cat.GetTable(ctx, "stocklake", "trades")
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, c := range got.Columns {
		types[c.Name] = c.Type
	}
	want := map[string]string{"id": "bigint", "qty": "int", "ok": "boolean", "f32": "float", "f64": "double", "name": "string", "raw": "binary",
		"side": "string", "note": "string", "price": "decimal(12,4)", "big": "decimal(30,2)", "ts": "timestamp", "ms": "timestamp", "day": "date",
		"tags": "array<string>", "attrs": "map<string,bigint>", "venue": "struct<lat:double,mic:string>", "legs": "array<struct<p:double,q:int>>",
		"mixed": "string"}
	if !reflect.DeepEqual(types, want) {
		t.Errorf("registered columns\n got %v\nwant %v", types, want)
	}

	// The Parquet footer says the same: a crawl defines the same table.
	crawlCat := memCatalog(t)
	cr, err := crawler.New(lake, crawlCat, crawler.Config{Database: "stocklake", Prefix: "trades/", TableLevel: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cr.Run(ctx); err != nil {
		t.Fatal(err)
	}
	crawled, err := crawlCat.GetTable(ctx, "stocklake", "trades")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(crawled.Columns, got.Columns) {
		t.Errorf("crawled columns differ from the registered ones:\n got %v\nwant %v", crawled.Columns, got.Columns)
	}

	rows, schema := readParquet(t, ctx, lake, "trades")
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rows))
	}
	for _, c := range []struct{ path, logical string }{{"ts", "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)"}, {"ms", "TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS)"},
		{"price", "DECIMAL(12,4)"}, {"big", "DECIMAL(30,2)"}, {"day", "DATE"}} {
		col, ok := schema.Lookup(c.path)
		if !ok || col.Node.Type().LogicalType() == nil || col.Node.Type().LogicalType().String() != c.logical {
			t.Errorf("column %s: logical type %v, want %s", c.path, col.Node.Type().LogicalType(), c.logical)
		}
	}
	r := rows[0]
	checks := map[string]any{"id": int64(1) << 40, "qty": int32(7), "ok": true, "name": "AAPL", "side": "SELL", "note": "n1", "mixed": "5",
		"price": 12345.67, "ts": at.UnixMicro(), "ms": at.UnixMilli(), "day": int32(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC).Unix() / 86400)}
	for k, v := range checks {
		if g := r[k]; !reflect.DeepEqual(g, v) && !reflect.DeepEqual(toInt64(g), toInt64(v)) {
			t.Errorf("%s = %#v (%T), want %#v", k, g, g, v)
		}
	}
	if got := strings.Join(strSlice(r["tags"]), ","); got != "a,b" {
		t.Errorf("tags = %#v, want [a b]", r["tags"])
	}
	if v, ok := r["venue"].(map[string]any); !ok || v["mic"] != "XNAS" || v["lat"] != nil {
		t.Errorf("venue = %#v", r["venue"])
	}
	if legs, ok := r["legs"].([]any); !ok || len(legs) != 2 {
		t.Errorf("legs = %#v, want two", r["legs"])
	}
}

func toInt64(v any) any {
	switch x := v.(type) {
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case time.Time:
		return x.UnixMicro()
	}
	return v
}

func strSlice(v any) []string {
	var out []string
	if a, ok := v.([]any); ok {
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// TestSinkRegistryEvolutionAndDeadLetters: a compatible writer schema
// (a new optional field) widens the table, a new version in the catalog,
// and the older records read null there; records with an unknown schema
// ID, a bad magic byte, a truncated frame, data that does not match the
// schema, or an incompatible writer schema (a field changing from string
// to long) go to the dead-letter topic with the reason.
func TestSinkRegistryEvolutionAndDeadLetters(t *testing.T) {
	ctx, kc, lake, reg := newRegistryLake(t, "orders", "orders.dlq")
	v1 := `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"sym","type":"string"}]}`
	v2 := `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"sym","type":"string"},{"name":"venue","type":["null","string"],"default":null}]}`
	bad := `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"sym","type":"long"}]}`
	id1 := registerAvro(t, reg, "orders-value", v1)
	cat := memCatalog(t)
	produceRecords(t, kc, "orders", [][]byte{[]byte("a")}, [][]byte{frame(t, v1, id1, map[string]any{"id": int64(1), "sym": "AAPL"})})
	registrySink(t, ctx, kc, lake, reg, "orders", cat)
	before, err := cat.TableVersions(ctx, "stocklake", "orders")
	if err != nil {
		t.Fatal(err)
	}

	id2 := registerAvro(t, reg, "orders-value", v2)
	idBad := registerAvro(t, reg, "other-value", bad)
	venue := "XNAS"
	values := [][]byte{
		frame(t, v2, id2, map[string]any{"id": int64(2), "sym": "MSFT", "venue": &venue}),
		frame(t, v1, 4242, map[string]any{"id": int64(3), "sym": "X"}), // unknown schema ID
		[]byte(`{"id":4}`), // bad magic byte
		{0, 0, 0},          // truncated frame
		append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id1)), 0xff, 0xff), // data that does not match
		frame(t, bad, idBad, map[string]any{"id": int64(5), "sym": int64(6)}),     // incompatible
	}
	keys := make([][]byte, len(values))
	for i := range keys {
		keys[i] = []byte("k")
	}
	produceRecords(t, kc, "orders", keys, values)
	snk := registrySink(t, ctx, kc, lake, reg, "orders", cat)
	if n := snk.Stats().DeadLetters.Load(); n != 5 {
		t.Errorf("%d dead letters, want 5", n)
	}
	after, err := cat.TableVersions(ctx, "stocklake", "orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) <= len(before) {
		t.Errorf("table versions %d -> %d: the new writer schema made no new version", len(before), len(after))
	}
	assertCatalogColumn(t, ctx, cat, "orders", "venue", "string")
	rows, _ := readParquet(t, ctx, lake, "orders")
	venues := map[int64]any{}
	for _, r := range rows {
		venues[r["id"].(int64)] = r["venue"]
	}
	if len(venues) != 2 || venues[2] != "XNAS" || venues[1] != nil {
		t.Errorf("landed ids and venues %v, want 1 (null) and 2 (XNAS)", venues)
	}

	cl, err := kc.NewClient(kgo.ConsumeTopics("orders.dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var reasons []string
	for len(reasons) < 5 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == stocklake.HeaderError {
					reasons = append(reasons, string(h.Value))
				}
			}
		})
	}
	all := strings.Join(reasons, "\n")
	for _, want := range []string{"schema ID 4242 is not in the registry", "not the schema registry magic byte", "shorter than the schema registry header",
		"does not match its writer schema", "incompatible with table orders: field sym"} {
		if !strings.Contains(all, want) {
			t.Errorf("dead-letter reasons lack %q:\n%s", want, all)
		}
	}
}

func produceRecords(t *testing.T, kc kafka.Config, topic string, keys, values [][]byte) {
	t.Helper()
	ctx := context.Background()
	p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	for i := range values {
		if err := p.Produce(ctx, stocklake.Record{Key: keys[i], Value: values[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSinkRegistryWidensWithinOneRun: a sink that meets a wider writer
// schema widens the catalog table with its next object (TableWidener),
// though it registered that partition folder before, so the catalog
// learns the new column without a restart.
func TestSinkRegistryWidensWithinOneRun(t *testing.T) {
	ctx, kc, lake, reg := newRegistryLake(t, "fills")
	v1 := `{"type":"record","name":"Fill","fields":[{"name":"id","type":"long"}]}`
	v2 := `{"type":"record","name":"Fill","fields":[{"name":"id","type":"long"},{"name":"qty","type":["null","int"],"default":null}]}`
	id1 := registerAvro(t, reg, "fills-value", v1)
	id2 := registerAvro(t, reg, "fills-value", v2)
	qty := 3
	produceRecords(t, kc, "fills", [][]byte{[]byte("k"), []byte("k")},
		[][]byte{frame(t, v1, id1, map[string]any{"id": int64(1)}), frame(t, v2, id2, map[string]any{"id": int64(2), "qty": &qty})})
	dec, err := schemaregistry.New(schemaregistry.Config{URL: reg.URL()})
	if err != nil {
		t.Fatal(err)
	}
	cat := memCatalog(t)
	r, err := crawler.NewRegistrar(lake, cat, "stocklake")
	if err != nil {
		t.Fatal(err)
	}
	snk, err := sink.New(sink.Config{Kafka: kc, Topic: "fills", Store: lake, Decoder: dec, Registrar: r, MaxRows: 1, FlushInterval: 50 * time.Millisecond,
		ExitWhenIdle: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := snk.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if n := snk.Stats().Objects.Load(); n != 2 {
		t.Fatalf("%d objects written, want one per record", n)
	}
	assertCatalogColumn(t, ctx, cat, "fills", "qty", "int")
}
