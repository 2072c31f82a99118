package schemaregistry_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/schemaregistry"
)

// commonProto is a file other schemas import through a reference.
const commonProto = `syntax = "proto3";
package it.common;
message Venue { string mic = 1; double lat = 2; }
`

// tradeProto is .proto text as Confluent's Java client registers it: two
// top-level messages (records name the second), a nested message, an
// enum, a repeated field, a map, a well-known type imported without a
// reference and a message from a referenced file.
const tradeProto = `syntax = "proto3";
package it;

import "google/protobuf/timestamp.proto";
import "it/common.proto";

message Header { string source = 1; }

// Trade is the record.
message Trade {
  enum Side { SIDE_UNSPECIFIED = 0; BUY = 1; SELL = 2; }
  message Leg { double qty = 1; string sym = 2; }
  int64 id = 1;
  Side side = 2;
  repeated Leg legs = 3;
  map<string, int64> attrs = 4;
  google.protobuf.Timestamp ts = 5;
  it.common.Venue venue = 6;
  repeated double fills = 7;
  optional string note = 8;
}
`

// protoIndex is the message-index prefix of a frame (zigzag varints, a
// count first; [0] is the single byte 0).
func protoIndex(index ...int) []byte {
	if len(index) == 1 && index[0] == 0 {
		return []byte{0}
	}
	b := binary.AppendVarint(nil, int64(len(index)))
	for _, x := range index {
		b = binary.AppendVarint(b, int64(x))
	}
	return b
}

// Wire-format field writers (written by hand, not by the library under
// test).
func pbVarint(b []byte, n protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(b, n, protowire.VarintType), v)
}

func pbBytes(b []byte, n protowire.Number, v []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(b, n, protowire.BytesType), v)
}

func pbDouble(b []byte, n protowire.Number, v float64) []byte {
	return protowire.AppendFixed64(protowire.AppendTag(b, n, protowire.Fixed64Type), math.Float64bits(v))
}

// textRegistry serves tradeProto as text under ID 10 (referring to
// commonProto, subject it-common version 1, ID 9), as Apicurio's ccompat
// API or a Confluent registry without ?format=serialized do.
func textRegistry(t *testing.T) (*srfake.Registry, *schemaregistry.Client) {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	reg.SeedSchema("it-common", 1, 9, sr.Schema{Schema: commonProto, Type: sr.TypeProtobuf})
	reg.SeedSchema("trades-value", 1, 10, sr.Schema{Schema: tradeProto, Type: sr.TypeProtobuf,
		References: []sr.SchemaReference{{Name: "it/common.proto", Subject: "it-common", Version: 1}}})
	cl, err := schemaregistry.New(schemaregistry.Config{URL: reg.URL()})
	if err != nil {
		t.Fatal(err)
	}
	return reg, cl
}

// TestDecodeProtobufText: a schema registered as .proto text is compiled
// with its reference and the well-known types, and the frame's message
// indexes pick the second top-level message and a nested one.
func TestDecodeProtobufText(t *testing.T) {
	_, cl := textRegistry(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 8, 30, 0, 123456789, time.UTC)

	var leg []byte
	leg = pbDouble(leg, 1, 2.5)
	leg = pbBytes(leg, 2, []byte("AAPL"))
	var ts []byte
	ts = pbVarint(ts, 1, uint64(at.Unix()))
	ts = pbVarint(ts, 2, uint64(at.Nanosecond()))
	var entry []byte
	entry = pbBytes(entry, 1, []byte("k"))
	entry = pbVarint(entry, 2, uint64(1<<64-3)) // -3
	var venue []byte
	venue = pbBytes(venue, 1, []byte("XNAS"))
	var trade []byte
	trade = pbVarint(trade, 1, 1<<40)
	trade = pbVarint(trade, 2, 2)
	trade = pbBytes(trade, 3, leg)
	trade = pbBytes(trade, 4, entry)
	trade = pbBytes(trade, 5, ts)
	trade = pbBytes(trade, 6, venue)
	trade = pbBytes(trade, 7, binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, math.Float64bits(1)), math.Float64bits(2)))

	rs, rec, err := cl.Decode(ctx, append(append(header(10), protoIndex(1)...), trade...))
	if err != nil {
		t.Fatal(err)
	}
	if rs.Name != "it.Trade" || rs.Format != schemaregistry.FormatProtobuf {
		t.Errorf("schema %s (%s), want it.Trade (protobuf)", rs.Name, rs.Format)
	}
	types := map[string]string{}
	for _, f := range rs.Fields {
		types[f.Name] = typeString(f.Type)
	}
	wantTypes := map[string]string{"id": "int64", "side": "string", "legs": "list<record{qty:float64,sym:string}>", "attrs": "map<int64>",
		"ts": "timestamp-micros?", "venue": "record{mic:string,lat:float64}?", "fills": "list<float64>", "note": "string?"}
	if !reflect.DeepEqual(types, wantTypes) {
		t.Errorf("types\n got %v\nwant %v", types, wantTypes)
	}
	want := map[string]any{"id": int64(1 << 40), "side": "SELL", "legs": []any{map[string]any{"qty": 2.5, "sym": "AAPL"}},
		"attrs": map[string]any{"k": int64(-3)}, "ts": at.UnixMicro(), "venue": map[string]any{"mic": "XNAS", "lat": 0.0},
		"fills": []any{1.0, 2.0}, "note": nil}
	if !reflect.DeepEqual(rec, want) {
		t.Errorf("record\n got %#v\nwant %#v", rec, want)
	}

	// [1 0]: Trade.Leg, nested in the second message.
	rs, rec, err = cl.Decode(ctx, append(append(header(10), protoIndex(1, 0)...), leg...))
	if err != nil || rs.Name != "it.Trade.Leg" || !reflect.DeepEqual(rec, map[string]any{"qty": 2.5, "sym": "AAPL"}) {
		t.Errorf("nested Trade.Leg: %v %v %v", rs, rec, err)
	}
	// [0]: the first message, Header.
	rs, rec, err = cl.Decode(ctx, append(append(header(10), protoIndex(0)...), pbBytes(nil, 1, []byte("feed"))...))
	if err != nil || rs.Name != "it.Header" || rec["source"] != "feed" {
		t.Errorf("first message Header: %v %v %v", rs, rec, err)
	}
}

// typeString writes a field type compactly for comparisons.
func typeString(t *stocklake.FieldType) string {
	var s string
	switch t.Kind {
	case stocklake.KindRecord:
		var fs []string
		for _, f := range t.Fields {
			fs = append(fs, f.Name+":"+typeString(f.Type))
		}
		s = "record{" + strings.Join(fs, ",") + "}"
	case stocklake.KindList:
		s = "list<" + typeString(t.Elem) + ">"
	case stocklake.KindMap:
		s = "map<" + typeString(t.Elem) + ">"
	case stocklake.KindInt64:
		s = "int64"
	case stocklake.KindFloat64:
		s = "float64"
	case stocklake.KindString:
		s = "string"
	case stocklake.KindTimestampMicros:
		s = "timestamp-micros"
	default:
		s = fmt.Sprint(t.Kind)
	}
	if t.Optional {
		s += "?"
	}
	return s
}

// TestProtobufSerializedFallback: .proto text this sink cannot compile is
// read from the serialized descriptor a Confluent registry serves for
// ?format=serialized; a registry that ignores the parameter (answering
// the text again) or refuses it leaves the compile error as the reason.
func TestProtobufSerializedFallback(t *testing.T) {
	// Text with an import no reference names (a Confluent registry knows
	// some files of its own, e.g. confluent/meta.proto).
	const text = `syntax = "proto3"; package x; import "vendor/own.proto"; message M { int64 a = 1; }`
	raw, err := proto.Marshal(&descriptorpb.FileDescriptorProto{Name: proto.String("x.proto"), Package: proto.String("x"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("M"), Field: []*descriptorpb.FieldDescriptorProto{{Name: proto.String("a"), Number: proto.Int32(1),
			Type: descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()}}}}})
	if err != nil {
		t.Fatal(err)
	}
	fdp := base64.StdEncoding.EncodeToString(raw)
	for _, c := range []struct {
		name  string
		serve func(w http.ResponseWriter) // the answer to ?format=serialized; nil: ignore it
		want  string
	}{
		{"serialized served", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
			fmt.Fprintf(w, `{"schema":%q,"schemaType":"PROTOBUF"}`, fdp)
		}, ""},
		{"format ignored", nil, "vendor/own.proto"},
		{"format refused", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprint(w, `{"error_code":42201,"message":"invalid format"}`)
		}, "vendor/own.proto"},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := srfake.New()
			defer reg.Close()
			asked := false
			reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Query().Get("format") != "serialized" {
					return false
				}
				asked = true
				if c.serve == nil {
					return false
				}
				c.serve(w)
				return true
			})
			reg.SeedSchema("m-value", 1, 5, sr.Schema{Schema: text, Type: sr.TypeProtobuf})
			cl, err := schemaregistry.New(schemaregistry.Config{URL: reg.URL()})
			if err != nil {
				t.Fatal(err)
			}
			rs, rec, err := cl.Decode(context.Background(), append(append(header(5), 0), pbVarint(nil, 1, 7)...))
			if !asked {
				t.Error("the client did not ask for ?format=serialized")
			}
			if c.want == "" {
				if err != nil || rs.Name != "x.M" || rec["a"] != int64(7) {
					t.Errorf("Decode = %v %v %v, want x.M {a:7}", rs, rec, err)
				}
				return
			}
			if !errors.Is(err, stocklake.ErrInvalid) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "does not compile") {
				t.Errorf("Decode = %v, want ErrInvalid naming %q", err, c.want)
			}
		})
	}
}

// TestProtobufHostileSchemas: schemas that cannot make a table, or that
// would cost without bound, dead-letter their records with a reason
// (ErrInvalid naming what is wrong) and never panic or loop.
func TestProtobufHostileSchemas(t *testing.T) {
	var fanout strings.Builder // M0 holds M1 twice, M1 holds M2 twice...: 2^30 columns
	fanout.WriteString(`syntax = "proto3"; package f;`)
	for i := range 30 {
		fmt.Fprintf(&fanout, " message M%d { M%d a = 1; M%d b = 2; }", i, i+1, i+1)
	}
	fanout.WriteString(" message M30 { int64 x = 1; }")
	huge := `syntax = "proto3"; message H { int64 a = 1; }` + strings.Repeat("\n// padding", 1<<17)
	cases := []struct {
		name, schema string
		refs         []sr.SchemaReference
		index        []int
		want         string
	}{
		{"syntax error", `syntax = "proto3"; message M { int64 a = ; }`, nil, []int{0}, "schema-20.proto:1:42: syntax error"},
		{"unknown type", `syntax = "proto3"; message M { Nope a = 1; }`, nil, []int{0}, "unknown type Nope"},
		{"missing import", `syntax = "proto3"; import "not/there.proto"; message M { int64 a = 1; }`, nil, []int{0}, "not/there.proto"},
		{"missing reference", `syntax = "proto3"; import "gone.proto"; message M { int64 a = 1; }`,
			[]sr.SchemaReference{{Name: "gone.proto", Subject: "gone", Version: 3}}, []int{0}, "schema reference gone.proto (subject gone version 3) is not in the registry"},
		{"no message", `syntax = "proto3"; enum E { Z = 0; }`, nil, []int{0}, "has no message"},
		{"direct recursion", `syntax = "proto3"; package r; message Node { int64 v = 1; Node next = 2; }`, nil, []int{0}, "r.Node contains itself"},
		{"recursion through a list", `syntax = "proto3"; package r; message Tree { repeated Tree kids = 1; }`, nil, []int{0}, "r.Tree contains itself"},
		{"mutual recursion", `syntax = "proto3"; package r; message A { B b = 1; } message B { A a = 1; }`, nil, []int{0}, "r.A contains itself"},
		{"recursion in the second message", `syntax = "proto3"; package r; message Ok { int64 v = 1; } message Loop { map<string, Loop> m = 1; }`, nil, []int{1}, "r.Loop contains itself"},
		{"exponential fan-out", fanout.String(), nil, []int{0}, "message f.M0 has more than 10000 fields"},
		{"huge schema", huge, nil, []int{0}, "more than the 1048576 this sink compiles"},
		{"deep nesting", `syntax = "proto3";` + strings.Repeat(" message A {", 100) + " int64 x = 1;" + strings.Repeat("}", 100), nil, []int{0}, "nesting depth must be less than 32"},
		{"index past the messages", `syntax = "proto3"; message M { int64 a = 1; }`, nil, []int{3}, "message index [3] names no message"},
		{"nested index past the messages", `syntax = "proto3"; message M { message N {} }`, nil, []int{0, 1}, "message index [0 1] names no message"},
		{"base64 that is no descriptor", base64.StdEncoding.EncodeToString([]byte{0xff, 0xff, 0xff}), nil, []int{0}, "not a serialized FileDescriptorProto"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := srfake.New()
			defer reg.Close()
			id := 20 + i
			if c.refs != nil { // a reference deleted since
				reg.SeedSchema("gone", 3, 99, sr.Schema{Schema: "syntax = \"proto3\";", Type: sr.TypeProtobuf})
				reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
					if !strings.HasPrefix(r.URL.Path, "/subjects/gone/") {
						return false
					}
					w.WriteHeader(http.StatusNotFound)
					fmt.Fprint(w, `{"error_code":40402,"message":"Version 3 not found."}`)
					return true
				})
			}
			reg.SeedSchema("h-value", 1, id, sr.Schema{Schema: c.schema, Type: sr.TypeProtobuf, References: c.refs})
			cl, err := schemaregistry.New(schemaregistry.Config{URL: reg.URL()})
			if err != nil {
				t.Fatal(err)
			}
			c.want = strings.ReplaceAll(c.want, "schema-20.proto", fmt.Sprintf("schema-%d.proto", id))
			_, _, err = cl.Decode(context.Background(), append(append(header(id), protoIndex(c.index...)...), pbVarint(nil, 1, 1)...))
			if !errors.Is(err, stocklake.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Decode = %v, want ErrInvalid saying %q", err, c.want)
			}
			if testing.Verbose() {
				t.Log(err)
			}
		})
	}
}

// TestProtobufLargeSchemaCompiles: a large but legal schema (2,000
// messages, near the size limit) compiles, and only once for all its
// records.
func TestProtobufLargeSchemaCompiles(t *testing.T) {
	var b strings.Builder
	b.WriteString(`syntax = "proto3"; package big;`)
	for i := range 2000 {
		fmt.Fprintf(&b, "\nmessage M%d { int64 a = 1; string b = 2; repeated double c = 3; map<string, string> d = 4; }", i)
	}
	if b.Len() > 1<<20 {
		t.Fatalf("schema of %d bytes is over the limit", b.Len())
	}
	reg := srfake.New()
	defer reg.Close()
	reg.SeedSchema("big-value", 1, 30, sr.Schema{Schema: b.String(), Type: sr.TypeProtobuf})
	cl, err := schemaregistry.New(schemaregistry.Config{URL: reg.URL()})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1999, 0, 1234} {
		rs, rec, err := cl.Decode(context.Background(), append(append(header(30), protoIndex(i)...), pbVarint(nil, 1, uint64(i))...))
		if err != nil || rs.Name != fmt.Sprintf("big.M%d", i) || rec["a"] != int64(i) {
			t.Errorf("message %d: %v %v %v", i, rs, rec, err)
		}
	}
}

// TestProtobufSerializedWithoutJSONNames: a serialized descriptor whose
// fields have no json_name, as Confluent's Python client registers it,
// is read (protocompile alone takes each for the custom JSON name "" and
// refuses the file).
func TestProtobufSerializedWithoutJSONNames(t *testing.T) {
	field := func(name string, n int32) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n),
			Type: descriptorpb.FieldDescriptorProto_TYPE_INT64.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()}
	}
	raw, err := proto.Marshal(&descriptorpb.FileDescriptorProto{Name: proto.String("py/q.proto"), Package: proto.String("py"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Q"), Field: []*descriptorpb.FieldDescriptorProto{field("bid_px", 1), field("ask_px", 2)}}}})
	if err != nil {
		t.Fatal(err)
	}
	reg := srfake.New()
	defer reg.Close()
	reg.SeedSchema("q-value", 1, 40, sr.Schema{Schema: base64.StdEncoding.EncodeToString(raw), Type: sr.TypeProtobuf})
	cl, err := schemaregistry.New(schemaregistry.Config{URL: reg.URL()})
	if err != nil {
		t.Fatal(err)
	}
	rs, rec, err := cl.Decode(context.Background(), append(append(header(40), 0), pbVarint(pbVarint(nil, 1, 5), 2, 6)...))
	if err != nil || rs.Name != "py.Q" || rec["bid_px"] != int64(5) || rec["ask_px"] != int64(6) {
		t.Errorf("Decode = %v %v %v, want py.Q {bid_px:5 ask_px:6}", rs, rec, err)
	}
}
