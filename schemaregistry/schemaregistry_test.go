package schemaregistry_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/big"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/schemaregistry"
)

func header(id int) []byte { return binary.BigEndian.AppendUint32([]byte{0}, uint32(id)) }

// orderProto is a proto3 file with the shapes Protobuf adds: an enum,
// a repeated message, a map, uint64, an optional scalar, a oneof, a
// timestamp and a nested message.
func orderProto(t testing.TB) *descriptorpb.FileDescriptorProto {
	t.Helper()
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	f := func(name string, n int32, typ descriptorpb.FieldDescriptorProto_Type, label descriptorpb.FieldDescriptorProto_Label, tname string) *descriptorpb.FieldDescriptorProto {
		fd := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n), Type: typ.Enum(), Label: label.Enum(), JsonName: proto.String(name)}
		if tname != "" {
			fd.TypeName = proto.String(tname)
		}
		return fd
	}
	T := descriptorpb.FieldDescriptorProto_TYPE_INT64
	note := f("note", 5, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, "")
	note.Proto3Optional, note.OneofIndex = proto.Bool(true), proto.Int32(1)
	a := f("a", 9, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, "")
	a.OneofIndex = proto.Int32(0)
	return &descriptorpb.FileDescriptorProto{
		Name: proto.String("t/order.proto"), Package: proto.String("t"), Syntax: proto.String("proto3"),
		Dependency: []string{"google/protobuf/timestamp.proto"},
		EnumType: []*descriptorpb.EnumDescriptorProto{{Name: proto.String("Kind"), Value: []*descriptorpb.EnumValueDescriptorProto{
			{Name: proto.String("KIND_UNSPECIFIED"), Number: proto.Int32(0)}, {Name: proto.String("LIMIT"), Number: proto.Int32(1)}}}},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Order"),
			Field: []*descriptorpb.FieldDescriptorProto{
				f("id", 1, T, opt, ""),
				f("kind", 2, descriptorpb.FieldDescriptorProto_TYPE_ENUM, opt, ".t.Kind"),
				f("legs", 3, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, rep, ".t.Order.Leg"),
				f("attrs", 4, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, rep, ".t.Order.AttrsEntry"),
				note,
				f("big", 6, descriptorpb.FieldDescriptorProto_TYPE_UINT64, opt, ""),
				f("ts", 7, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, opt, ".google.protobuf.Timestamp"),
				f("qty", 8, descriptorpb.FieldDescriptorProto_TYPE_INT32, opt, ""),
				a,
			},
			OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: proto.String("choice")}, {Name: proto.String("_note")}},
			NestedType: []*descriptorpb.DescriptorProto{
				{Name: proto.String("Leg"), Field: []*descriptorpb.FieldDescriptorProto{f("q", 1, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, opt, "")}},
				{Name: proto.String("AttrsEntry"), Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
					Field: []*descriptorpb.FieldDescriptorProto{f("key", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, ""), f("value", 2, T, opt, "")}},
			},
		}},
	}
}

const avroSchema = `{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"b","type":["null","string"]}]}`
const jsonSchema = `{"type":"object","title":"Q","properties":{"n":{"type":"integer"},"when":{"type":"string","format":"date-time"},"xs":{"type":"array","items":{"type":"number"}},"m":{"type":"object","additionalProperties":{"type":"string"}},"any":{}}}`

// newRegistry serves an Avro (1), a JSON (2) and a Protobuf (3) schema.
func newRegistry(t testing.TB) (*srfake.Registry, *schemaregistry.Client) {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	raw, err := proto.Marshal(orderProto(t))
	if err != nil {
		t.Fatal(err)
	}
	reg.SeedSchema("a-value", 1, 1, sr.Schema{Schema: avroSchema, Type: sr.TypeAvro})
	reg.SeedSchema("j-value", 1, 2, sr.Schema{Schema: jsonSchema, Type: sr.TypeJSON})
	reg.SeedSchema("p-value", 1, 3, sr.Schema{Schema: base64.StdEncoding.EncodeToString(raw), Type: sr.TypeProtobuf})
	reg.SeedSchema("t-value", 1, 4, sr.Schema{Schema: "syntax = \"proto3\"; message M { int64 a = 1; }", Type: sr.TypeProtobuf})
	cl, err := schemaregistry.New(schemaregistry.Config{URL: reg.URL()})
	if err != nil {
		t.Fatal(err)
	}
	return reg, cl
}

func TestDecodeProtobuf(t *testing.T) {
	_, cl := newRegistry(t)
	fd, err := protodesc.NewFile(orderProto(t), protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	md := fd.Messages().Get(0)
	m := dynamicpb.NewMessage(md)
	fs := md.Fields()
	m.Set(fs.ByName("id"), protoreflect.ValueOfInt64(7))
	m.Set(fs.ByName("kind"), protoreflect.ValueOfEnum(1))
	legs := m.Mutable(fs.ByName("legs")).List()
	leg := legs.NewElement()
	leg.Message().Set(md.Messages().ByName("Leg").Fields().ByName("q"), protoreflect.ValueOfFloat64(1.5))
	legs.Append(leg)
	m.Mutable(fs.ByName("attrs")).Map().Set(protoreflect.ValueOfString("k").MapKey(), protoreflect.ValueOfInt64(-3))
	m.Set(fs.ByName("big"), protoreflect.ValueOfUint64(1<<63+5))
	at := time.Date(2026, 11, 26, 14, 0, 0, 123456000, time.UTC)
	m.Set(fs.ByName("ts"), protoreflect.ValueOfMessage(timestamppb.New(at).ProtoReflect()))
	body, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	rs, rec, err := cl.Decode(context.Background(), append(append(header(3), 0), body...))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]stocklake.FieldKind{}
	opt := map[string]bool{}
	for _, f := range rs.Fields {
		kinds[f.Name], opt[f.Name] = f.Type.Kind, f.Type.Optional
	}
	wantKinds := map[string]stocklake.FieldKind{"id": stocklake.KindInt64, "kind": stocklake.KindString, "legs": stocklake.KindList, "attrs": stocklake.KindMap,
		"note": stocklake.KindString, "big": stocklake.KindDecimal, "ts": stocklake.KindTimestampMicros, "qty": stocklake.KindInt32, "a": stocklake.KindString}
	if !reflect.DeepEqual(kinds, wantKinds) {
		t.Errorf("kinds %v, want %v", kinds, wantKinds)
	}
	if !opt["note"] || !opt["a"] || opt["id"] || !opt["ts"] {
		t.Errorf("optional fields %v: want note (proto3 optional), a (oneof) and ts (message) only", opt)
	}
	want := map[string]any{"id": int64(7), "kind": "LIMIT", "legs": []any{map[string]any{"q": 1.5}}, "attrs": map[string]any{"k": int64(-3)},
		"note": nil, "big": []byte{0, 0x80, 0, 0, 0, 0, 0, 0, 5}, "ts": at.UnixMicro(), "qty": int32(0), "a": nil}
	if !reflect.DeepEqual(rec, want) {
		t.Errorf("record\n got %#v\nwant %#v", rec, want)
	}
	// Message index [0 0]: the nested Leg.
	leg2 := dynamicpb.NewMessage(md.Messages().ByName("Leg"))
	leg2.Set(md.Messages().ByName("Leg").Fields().ByName("q"), protoreflect.ValueOfFloat64(2))
	b2, _ := proto.Marshal(leg2)
	idx := binary.AppendVarint(binary.AppendVarint(binary.AppendVarint(nil, 2), 0), 0)
	rs2, rec2, err := cl.Decode(context.Background(), append(append(header(3), idx...), b2...))
	if err != nil || rs2.Name != "t.Order.Leg" || rec2["q"] != 2.0 {
		t.Errorf("nested message: %v %v %v", rs2, rec2, err)
	}
}

// TestDecodeErrors: every malformed input is ErrInvalid with a reason,
// never a panic or a huge allocation.
func TestDecodeErrors(t *testing.T) {
	_, cl := newRegistry(t)
	huge := binary.AppendVarint(nil, 1<<40)
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "record is empty"},
		{"bad magic", []byte(`{"a":1}`), "not the schema registry magic byte"},
		{"truncated frame", []byte{0, 0, 0}, "shorter than the schema registry header"},
		{"unknown id", append(header(99), 2), "schema ID 99 is not in the registry"},
		{"truncated avro", append(header(1), 0x80), "does not match its writer schema 1"},
		{"huge avro string", append(append(header(1), 2, 2), huge...), "does not match"},
		{"json garbage", append(header(2), "{nope"...), "does not match its writer schema 2"},
		{"json wrong type", append(header(2), `{"n":"x"}`...), "n: value x does not fit"},
		{"huge protobuf index count", append(header(3), huge...), "message indexes"},
		{"protobuf index out of range", append(header(3), 2, 40), "names no message"},
		{"protobuf negative index count", append(header(3), 1), "message indexes"},
		{"protobuf garbage", append(header(3), 0, 0xff, 0xff), "does not match its writer schema 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := cl.Decode(context.Background(), c.in)
			if !errors.Is(err, stocklake.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Decode = %v, want ErrInvalid saying %q", err, c.want)
			}
		})
	}
}

// TestDecodeRegistryDown: a registry that cannot be reached is
// ErrUnavailable (the sink waits), not a reason to dead-letter.
func TestDecodeRegistryDown(t *testing.T) {
	reg := srfake.New()
	reg.Intercept(func(w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	defer reg.Close()
	cl, err := schemaregistry.New(schemaregistry.Config{URL: reg.URL()})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = cl.Decode(context.Background(), append(header(1), 2))
	if !errors.Is(err, stocklake.ErrUnavailable) || errors.Is(err, stocklake.ErrInvalid) {
		t.Errorf("Decode with the registry down = %v, want ErrUnavailable", err)
	}
}

// TestBasicAuth: the client sends the configured user and password.
func TestBasicAuth(t *testing.T) {
	reg := srfake.New(srfake.WithAuth("Basic " + base64.StdEncoding.EncodeToString([]byte("key:secret"))))
	defer reg.Close()
	reg.SeedSchema("a-value", 1, 1, sr.Schema{Schema: avroSchema, Type: sr.TypeAvro})
	in := append(header(1), 2, 0)
	for _, c := range []struct {
		user, pass string
		ok         bool
	}{{"key", "secret", true}, {"key", "wrong", false}} {
		cl, err := schemaregistry.New(schemaregistry.Config{URL: reg.URL(), User: c.user, Password: c.pass})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = cl.Decode(context.Background(), in)
		if (err == nil) != c.ok || (!c.ok && !errors.Is(err, stocklake.ErrConfig)) {
			t.Errorf("user %s password %s: Decode = %v", c.user, c.pass, err)
		}
	}
}

func TestJSONSchemaTypes(t *testing.T) {
	_, cl := newRegistry(t)
	rs, rec, err := cl.Decode(context.Background(), append(header(2), `{"n":5,"when":"2026-11-26T14:00:00.5Z","xs":[1,2.5],"m":{"k":"v"},"any":{"deep":[1]}}`...))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]stocklake.FieldKind{}
	for _, f := range rs.Fields {
		kinds[f.Name] = f.Type.Kind
	}
	if !reflect.DeepEqual(kinds, map[string]stocklake.FieldKind{"n": stocklake.KindInt64, "when": stocklake.KindTimestampMicros, "xs": stocklake.KindList,
		"m": stocklake.KindMap, "any": stocklake.KindString}) {
		t.Errorf("kinds %v", kinds)
	}
	want := map[string]any{"n": int64(5), "when": time.Date(2026, 11, 26, 14, 0, 0, 5e8, time.UTC).UnixMicro(), "xs": []any{1.0, 2.5},
		"m": map[string]any{"k": "v"}, "any": `{"deep":[1]}`}
	if !reflect.DeepEqual(rec, want) {
		t.Errorf("record\n got %#v\nwant %#v", rec, want)
	}
}

// TestAvroTicksMatchHamba: the hand-written Avro tick codec of the root
// package agrees with hamba/avro on stocklake.TickAvroSchema, both ways.
func TestAvroTicksMatchHamba(t *testing.T) {
	s := avro.MustParse(stocklake.TickAvroSchema)
	at := time.Date(2026, 11, 26, 14, 0, 0, 123456000, time.UTC)
	for _, tk := range []stocklake.Tick{
		{Symbol: "AAPL", Time: at, Price: 189.25, Size: 100, Exchange: "XNAS", TradeID: "42", Conditions: []string{"@", "I"}, Source: "sim"},
		{Symbol: "Zürich \"x\"", Time: at, Price: 1e-9, Size: 0, TradeID: strings.Repeat("t", 300)},
	} {
		ours := tk.AppendAvro(nil, 7)
		var got map[string]any
		if err := avro.Unmarshal(s, ours[5:], &got); err != nil {
			t.Fatalf("hamba cannot read our tick: %v", err)
		}
		if got["symbol"] != tk.Symbol || !got["ts"].(time.Time).Equal(at) || got["price"] != tk.Price || got["trade_id"] != tk.TradeID {
			t.Errorf("hamba read %v from %+v", got, tk)
		}
		conds := make([]any, len(tk.Conditions))
		for i, c := range tk.Conditions {
			conds[i] = c
		}
		theirs, err := avro.Marshal(s, map[string]any{"symbol": tk.Symbol, "ts": at, "price": tk.Price, "size": tk.Size, "exchange": tk.Exchange,
			"trade_id": tk.TradeID, "conditions": conds, "source": tk.Source})
		if err != nil {
			t.Fatal(err)
		}
		back, err := stocklake.ParseTick(append(header(7), theirs...))
		if err != nil || !reflect.DeepEqual(back.Conditions, tk.Conditions) && len(tk.Conditions) > 0 || back.Symbol != tk.Symbol || !back.Time.Equal(at) {
			t.Errorf("ParseTick of hamba's encoding = %+v, %v; want %+v", back, err, tk)
		}
	}
}

func TestDecimalValue(t *testing.T) {
	for _, c := range []struct {
		in        string
		p, s      int
		want      any
		wantError bool
	}{
		{"1234.5678", 12, 4, int64(12345678), false},
		{"-0.01", 10, 2, int64(-1), false},
		{"1.234", 10, 2, nil, true},          // too many fraction digits
		{"123456789012", 10, 2, nil, true},   // too many digits
		{"-128", 20, 0, []byte{0x80}, false}, // two's complement, fewest bytes
		{"-129", 20, 0, []byte{0xff, 0x7f}, false},
		{"128", 20, 0, []byte{0x00, 0x80}, false}, // sign byte kept
		{"99999999999999999999", 20, 0, []byte{0x05, 0x6b, 0xc7, 0x5e, 0x2d, 0x63, 0x0f, 0xff, 0xff}, false},
	} {
		r, _ := new(big.Rat).SetString(c.in)
		got, err := schemaregistry.DecimalValue(r, c.p, c.s)
		if (err != nil) != c.wantError || !reflect.DeepEqual(got, c.want) {
			t.Errorf("DecimalValue(%s, %d, %d) = %#v, %v; want %#v", c.in, c.p, c.s, got, err, c.want)
		}
	}
}

// FuzzDecode: no input panics or allocates without bound; every error is
// ErrInvalid (the registry is up).
func FuzzDecode(f *testing.F) {
	_, cl := newRegistry(f)
	for _, seed := range [][]byte{nil, {0}, {0, 0, 0, 0, 1, 2, 0}, append(header(2), `{"n":1}`...), append(header(3), 2, 0, 0), append(header(3), 0x80, 0x80, 0x80, 0x80, 0x10),
		append(header(1), 0xff, 0xff, 0xff, 0xff, 0x0f)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 5 && b[0] == 0 {
			b[1], b[2], b[3] = 0, 0, 0 // schema IDs 0-255: one lookup each
		}
		_, _, err := cl.Decode(context.Background(), b)
		if err != nil && !errors.Is(err, stocklake.ErrInvalid) {
			t.Fatalf("Decode(%x) = %v, want ErrInvalid", b, err)
		}
	})
}

// TestUnknownIDAskedAgain: an ID the registry did not know is asked for
// again once missingTTL has passed (a lagging registry follower), and not
// before.
func TestUnknownIDAskedAgain(t *testing.T) {
	reg, cl := newRegistry(t)
	in := append(header(50), 2, 0)
	if _, _, err := cl.Decode(context.Background(), in); !errors.Is(err, stocklake.ErrInvalid) {
		t.Fatalf("unknown ID: %v", err)
	}
	reg.SeedSchema("late-value", 1, 50, sr.Schema{Schema: avroSchema, Type: sr.TypeAvro})
	if _, _, err := cl.Decode(context.Background(), in); err == nil {
		t.Fatal("the unknown ID was asked again at once")
	}
	defer schemaregistry.SetMissingTTL(0)()
	if _, rec, err := cl.Decode(context.Background(), in); err != nil || rec["a"] != int64(1) {
		t.Fatalf("after the TTL: %v %v, want the record", rec, err)
	}
}
