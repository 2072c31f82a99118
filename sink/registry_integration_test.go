package sink_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/crawler"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/schemaregistry"
	"github.com/stocklake/stocklake/sink"
)

// TestRegistryIntegration: Avro, Protobuf and JSON Schema topics written
// by Confluent's Python client (confluent-kafka with fastavro) through a
// real registry process (scripts/registry) into Apache Kafka land with
// the right types, as pyarrow reads them; a compatible evolution adds a
// column (and a table version in the catalog), and the record of an
// incompatible writer schema is dead-lettered. The Avro topic also lands
// in an Iceberg table (--table-format iceberg), which pyiceberg reads: the
// evolution widens its schema (old rows null in the new column) and the
// incompatible record is dead-lettered there too. Runs when
// STOCKLAKE_KAFKA_BROKERS, STOCKLAKE_REGISTRY_URL and STOCKLAKE_PYTHON are
// set (scripts/kafka, scripts/registry, scripts/pyenv).
func TestRegistryIntegration(t *testing.T) {
	brokers, registry, py := os.Getenv("STOCKLAKE_KAFKA_BROKERS"), os.Getenv("STOCKLAKE_REGISTRY_URL"), os.Getenv("STOCKLAKE_PYTHON")
	if brokers == "" || registry == "" || py == "" {
		t.Skip("STOCKLAKE_KAFKA_BROKERS, STOCKLAKE_REGISTRY_URL and STOCKLAKE_PYTHON are not all set: run scripts/kafka, scripts/registry and scripts/pyenv")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	prefix := fmt.Sprintf("reg%d", time.Now().UnixNano())
	var ids struct {
		BadRefused  bool   `json:"bad_refused"`
		Proto       int    `json:"proto"`
		ProtoSchema string `json:"proto_schema"`
	}
	produce := func(phase string) {
		t.Helper()
		out, err := exec.CommandContext(ctx, py, "-P", "testdata/registry_produce.py", brokers, registry, prefix, phase).CombinedOutput()
		if err != nil {
			t.Fatalf("python producer: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &ids); err != nil {
			t.Fatalf("producer output %q: %v", out, err)
		}
	}
	produce("1")

	kc := kafka.Config{Brokers: strings.Split(brokers, ",")}
	dir := t.TempDir()
	lake, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	cat := memCatalog(t)
	reg, err := crawler.NewRegistrar(lake, cat, "stocklake")
	if err != nil {
		t.Fatal(err)
	}
	dec, err := schemaregistry.New(schemaregistry.Config{URL: registry})
	if err != nil {
		t.Fatal(err)
	}
	land := func(topic string) *sink.Sink {
		t.Helper()
		snk, err := sink.New(sink.Config{Kafka: kc, Topic: topic, Store: lake, Decoder: dec, Registrar: reg, FlushInterval: 100 * time.Millisecond,
			ExitWhenIdle: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := snk.Run(ctx); err != nil {
			t.Fatalf("sink %s: %v", topic, err)
		}
		return snk
	}
	// The same Avro topic into an Iceberg table, by sinks of their own
	// (group, dead-letter topic).
	icePath := filepath.Join(t.TempDir(), "catalog.db")
	iceTable := sink.TableName(prefix+"-avro") + "_ice"
	landIce := func(topic, iceTable string) *sink.Sink {
		t.Helper()
		ic, err := iceberg.Open(ctx, iceberg.Config{SQLitePath: icePath, Warehouse: lake.URL()})
		if err != nil {
			t.Fatal(err)
		}
		defer ic.Close()
		lt, err := ic.LazyTable("market", iceTable)
		if err != nil {
			t.Fatal(err)
		}
		snk, err := sink.New(sink.Config{Kafka: kc, Topic: topic, Table: iceTable, Group: prefix + "-ice", DLQTopic: topic + ".ice.dlq", Store: lake, Decoder: dec,
			Committer: lt, FlushInterval: 100 * time.Millisecond, ExitWhenIdle: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := snk.Run(ctx); err != nil {
			t.Fatalf("iceberg sink %s: %v", topic, err)
		}
		return snk
	}
	type iceTableRead struct {
		Types   map[string]string `json:"types"`
		Arrow   map[string]string `json:"arrow"`
		Rows    int               `json:"rows"`
		Records []map[string]any  `json:"records"`
		Schemas int               `json:"schemas"`
	}
	readIce := func(name string) iceTableRead {
		t.Helper()
		out, err := exec.CommandContext(ctx, py, "-P", "testdata/registry_read_iceberg.py", icePath, lake.URL(), "market."+name).Output()
		if err != nil {
			t.Fatalf("pyiceberg read of %s: %v", name, err)
		}
		var tb iceTableRead
		if err := json.Unmarshal(out, &tb); err != nil {
			t.Fatalf("pyiceberg output %q: %v", out, err)
		}
		return tb
	}
	type table struct {
		Types   map[string]string `json:"types"`
		Rows    int               `json:"rows"`
		Records []map[string]any  `json:"records"`
	}
	read := func(name string) table {
		t.Helper()
		out, err := exec.CommandContext(ctx, py, "-P", "testdata/registry_read.py", filepath.Join(dir, name)).Output()
		if err != nil {
			t.Fatalf("pyarrow read of %s: %v", name, err)
		}
		var tb table
		if err := json.Unmarshal(out, &tb); err != nil {
			t.Fatalf("pyarrow output %q: %v", out, err)
		}
		return tb
	}
	checkTypes := func(name string, got, want map[string]string) {
		t.Helper()
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: column %s has pyarrow type %q, want %q", name, k, got[k], w)
			}
		}
	}

	// Phase 1: Avro v1 records land and make the table; phase 2 evolves
	// it and writes the other topics.
	avroTopic := prefix + "-avro"
	land(avroTopic)
	landIce(avroTopic, iceTable)
	v1, err := cat.TableVersions(ctx, "stocklake", sink.TableName(avroTopic))
	if err != nil {
		t.Fatal(err)
	}
	produce("2")
	if !ids.BadRefused {
		t.Errorf("the registry accepted the incompatible Avro schema under BACKWARD compatibility")
	}

	t.Run("avro", func(t *testing.T) {
		topic := avroTopic
		snk := land(topic)
		if n := snk.Stats().DeadLetters.Load(); n != 1 {
			t.Errorf("%d dead letters, want 1 (the incompatible record)", n)
		}
		tb := read(sink.TableName(topic))
		if tb.Rows != 5 {
			t.Errorf("%d rows landed, want 5", tb.Rows)
		}
		checkTypes(topic, tb.Types, map[string]string{
			"id": "int64", "qty": "int32", "sym": "string", "px": "double", "side": "string", "note": "string",
			"price": "decimal128(12, 4)", "ts": "timestamp[us, tz=UTC]", "day": "date32[day]", "tags": "list<element: string not null>",
			"attrs": "map<string, int64 ('attrs')>", "venue": "struct<lat: double, mic: string not null>", "trader": "string",
		})
		traders := 0
		for _, r := range tb.Records {
			if r["trader"] == "t1" {
				traders++
			}
			if r["price"] == nil || !strings.HasPrefix(fmt.Sprint(r["price"]), "123") {
				t.Errorf("price %v, want 123x.5678", r["price"])
			}
		}
		if traders != 2 {
			t.Errorf("%d rows have the new column trader set, want the 2 written with v2", traders)
		}
		vs, err := cat.TableVersions(ctx, "stocklake", sink.TableName(topic))
		if err != nil {
			t.Fatal(err)
		}
		tbl, _ := cat.GetTable(ctx, "stocklake", sink.TableName(topic))
		if !slices.ContainsFunc(tbl.Columns, func(c stocklake.Column) bool { return c.Name == "trader" }) {
			t.Errorf("catalog columns %v lack the evolved column trader", tbl.Columns)
		}
		if len(vs) <= len(v1) {
			t.Errorf("catalog table versions %d after the evolution, %d before: want a new version", len(vs), len(v1))
		}
		reason := deadLetterReason(t, ctx, kc, topic+".dlq")
		if !strings.Contains(reason, "incompatible") || !strings.Contains(reason, "field sym") {
			t.Errorf("dead letter reason %q, want the incompatible field sym", reason)
		}
	})
	t.Run("avro-iceberg", func(t *testing.T) {
		topic := avroTopic
		snk := landIce(topic, iceTable)
		if n := snk.Stats().DeadLetters.Load(); n != 1 {
			t.Errorf("%d dead letters, want 1 (the incompatible record)", n)
		}
		tb := readIce(iceTable)
		if tb.Rows != 5 {
			t.Errorf("pyiceberg reads %d rows, want 5", tb.Rows)
		}
		if tb.Schemas < 2 {
			t.Errorf("the table has %d schema versions, want a new one for the evolution", tb.Schemas)
		}
		checkTypes(topic, tb.Types, map[string]string{
			"id": "long", "qty": "int", "sym": "string", "px": "double", "side": "string", "note": "string",
			"price": "decimal(12, 4)", "ts": "timestamptz", "day": "date", "tags": "list<string>",
			"attrs": "map<string, long>", "venue": "struct<16: mic: required string, 17: lat: optional double>", "trader": "string",
		})
		checkTypes(topic, tb.Arrow, map[string]string{"ts": "timestamp[us, tz=UTC]", "price": "decimal128(12, 4)", "trader": "large_string"})
		traders, nulls := 0, 0
		for _, r := range tb.Records {
			switch r["trader"] {
			case "t1":
				traders++
			case nil:
				nulls++
			}
		}
		if traders != 2 || nulls != 3 {
			t.Errorf("trader is t1 in %d rows and null in %d, want 2 (v2) and 3 (v1, written before the column existed)", traders, nulls)
		}
		reason := deadLetterReason(t, ctx, kc, topic+".ice.dlq")
		if !strings.Contains(reason, "incompatible") || !strings.Contains(reason, "field sym") {
			t.Errorf("dead letter reason %q, want the incompatible field sym", reason)
		}
	})
	t.Run("json", func(t *testing.T) {
		topic := prefix + "-json"
		if snk := land(topic); snk.Stats().DeadLetters.Load() != 0 {
			t.Errorf("%d dead letters, want none", snk.Stats().DeadLetters.Load())
		}
		tb := read(sink.TableName(topic))
		if tb.Rows != 3 {
			t.Errorf("%d rows, want 3", tb.Rows)
		}
		checkTypes(topic, tb.Types, map[string]string{"id": "int64", "sym": "string", "bid": "double", "ok": "bool",
			"ts": "timestamp[us, tz=UTC]", "levels": "list<element: double>", "book": "struct<depth: int64, venue: string>"})
		if snk := landIce(topic, sink.TableName(topic)+"_ice"); snk.Stats().DeadLetters.Load() != 0 {
			t.Errorf("iceberg: %d dead letters, want none", snk.Stats().DeadLetters.Load())
		}
		ti := readIce(sink.TableName(topic) + "_ice")
		if ti.Rows != 3 {
			t.Errorf("iceberg: pyiceberg reads %d rows, want 3", ti.Rows)
		}
		checkTypes(topic+" (iceberg)", ti.Types, map[string]string{"id": "long", "sym": "string", "bid": "double", "ok": "boolean",
			"ts": "timestamptz", "levels": "list<double>"})
	})
	t.Run("protobuf", func(t *testing.T) {
		// The Python client registered serialized descriptors; a
		// Confluent registry (and the stand-in) serves the schema as
		// .proto text, which the sink compiles; Apicurio serves it as
		// registered, which the sink decodes. A record naming a message
		// the file lacks is dead-lettered.
		topic := prefix + "-proto"
		if form := protoSchemaForm(ids.ProtoSchema); form == "" {
			t.Errorf("the registry serves the Protobuf schema as %q, want .proto text or a serialized descriptor of it/order.proto", ids.ProtoSchema)
		} else {
			t.Logf("the registry serves the Protobuf schema as %s", form)
		}
		pc, err := kc.NewClient()
		if err != nil {
			t.Fatal(err)
		}
		bad := append(binary.BigEndian.AppendUint32([]byte{0}, uint32(ids.Proto)), 2, 14) // message index [7]
		err = pc.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: append(bad, 8, 1)}).FirstErr()
		pc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if snk := land(topic); snk.Stats().DeadLetters.Load() != 1 {
			t.Errorf("%d dead letters, want 1 (the record of message index [7])", snk.Stats().DeadLetters.Load())
		}
		tb := read(sink.TableName(topic))
		if tb.Rows != 3 {
			t.Errorf("%d rows, want 3", tb.Rows)
		}
		checkTypes(topic, tb.Types, map[string]string{"id": "int64", "sym": "string", "qty": "int32", "px": "double", "kind": "string",
			"fills": "list<element: double not null>", "ts": "timestamp[us, tz=UTC]",
			"legs": "list<element: struct<qty: double not null, sym: string not null> not null>", "venue": "struct<lat: double not null, mic: string not null>"})
		if snk := landIce(topic, sink.TableName(topic)+"_ice"); snk.Stats().DeadLetters.Load() != 1 {
			t.Errorf("iceberg: %d dead letters, want 1 (the record of message index [7])", snk.Stats().DeadLetters.Load())
		}
		ti := readIce(sink.TableName(topic) + "_ice")
		if ti.Rows != 3 {
			t.Errorf("iceberg: pyiceberg reads %d rows, want 3", ti.Rows)
		}
		checkTypes(topic+" (iceberg)", ti.Types, map[string]string{"id": "long", "sym": "string", "qty": "int", "px": "double", "kind": "string",
			"fills": "list<double>", "ts": "timestamptz"})
		for _, r := range tb.Records {
			if r["kind"] != "LIMIT" {
				t.Errorf("kind %v, want the enum name LIMIT", r["kind"])
			}
			if id, _ := r["id"].(float64); id < 1<<40 {
				t.Errorf("id %v, want i<<40", r["id"])
			}
			if v, _ := r["venue"].(map[string]any); v["mic"] != "XNAS" {
				t.Errorf("venue %v, want mic XNAS", r["venue"])
			}
			if legs, _ := r["legs"].([]any); len(legs) != 1 {
				t.Errorf("legs %v, want one leg", r["legs"])
			}
		}
		reason := deadLetterReason(t, ctx, kc, topic+".dlq")
		if !strings.Contains(reason, "message index [7] names no message") {
			t.Errorf("dead letter reason %q, want the unknown message index", reason)
		}
	})
}

// deadLetterReason reads the first dead letter of topic and returns its
// reason header.
func deadLetterReason(t *testing.T, ctx context.Context, kc kafka.Config, topic string) string {
	t.Helper()
	cl, err := kc.NewClient(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for ctx.Err() == nil {
		for _, r := range cl.PollFetches(ctx).Records() {
			for _, h := range r.Headers {
				if h.Key == stocklake.HeaderError {
					return string(h.Value)
				}
			}
		}
	}
	t.Fatalf("no dead letter in %s", topic)
	return ""
}

// protoSchemaForm tells how a registry served it/order.proto: ".proto text"
// or "a serialized descriptor" (base64 FileDescriptorProto), "" if neither
// names the Order message.
func protoSchemaForm(schema string) string {
	if strings.Contains(schema, "message Order") {
		return ".proto text"
	}
	raw, err := base64.StdEncoding.DecodeString(schema)
	if err != nil {
		return ""
	}
	var fd descriptorpb.FileDescriptorProto
	if proto.Unmarshal(raw, &fd) != nil || fd.GetName() != "it/order.proto" {
		return ""
	}
	for _, m := range fd.GetMessageType() {
		if m.GetName() == "Order" {
			return "a serialized descriptor"
		}
	}
	return ""
}
