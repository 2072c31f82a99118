package schemaregistry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/stocklake/stocklake"
)

// Protobuf schemas come in two forms, both compiled into descriptors
// with github.com/bufbuild/protocompile: .proto text, which Confluent's
// Java client registers and which every registry serves by default
// (Confluent, Apicurio's ccompat API, Karapace, Redpanda), and a
// serialized descriptor (a base64 FileDescriptorProto), which Confluent's
// Python client registers and a Confluent registry serves for
// ?format=serialized. Imports resolve among the schema's references
// (subject/version, as the registry names them) and the well-known types
// (google/protobuf/*.proto), which need no reference.

// errProtoText marks a .proto text that does not compile: Client.decoder
// then asks the registry for the serialized descriptor (?format=serialized),
// which a Confluent registry makes with its own parser.
var errProtoText = errors.New("protobuf schema is .proto text that does not compile")

// maxProtoSchema bounds the size of one Protobuf schema (the file or a
// reference, text or serialized): 1 MiB. Real schemas are a few KiB; a
// larger one is refused rather than compiled.
const maxProtoSchema = 1 << 20

// maxProtoColumns bounds the fields of one message's table schema, nested
// messages expanded (every level counts): 10,000. A few messages that each
// hold the next twice expand exponentially.
const maxProtoColumns = 10_000

// protoFile compiles schema s (text or serialized) with its references,
// refs in dependency order; id names the file in errors.
func protoFile(id int, s sr.Schema, refs []namedSchema) (protoreflect.FileDescriptor, error) {
	srcs := map[string]protoSrc{}
	for _, r := range refs {
		if r.schema.Type != sr.TypeProtobuf {
			return nil, fmt.Errorf("protobuf schema refers to %s, a %v schema", r.name, r.schema.Type)
		}
		if strings.HasPrefix(r.name, "google/protobuf/") {
			continue // a well-known type: the linked one is used
		}
		src, err := protoSource(r.name, r.schema.Schema)
		if err != nil {
			return nil, fmt.Errorf("referenced protobuf schema %s: %w", r.name, err)
		}
		srcs[r.name] = src
	}
	name := fmt.Sprintf("schema-%d.proto", id)
	main, err := protoSource(name, s.Schema)
	if err != nil {
		return nil, err
	}
	if main.Proto != nil {
		name = main.Proto.GetName()
	}
	srcs[name] = main
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
			src, ok := srcs[path]
			if !ok || strings.HasPrefix(path, "google/protobuf/") {
				return protocompile.SearchResult{}, fmt.Errorf("%s is neither a reference of the schema nor a well-known type: %w", path, fs.ErrNotExist)
			}
			return src.result(), nil
		})),
		MaxParallelism: 1,
	}
	files, err := c.Compile(context.Background(), name)
	if err != nil {
		if main.Proto == nil {
			return nil, fmt.Errorf("%w: %w", errProtoText, err)
		}
		return nil, err
	}
	return files[0], nil
}

// serializedProto is the decoder of schema id made from the serialized
// descriptor the registry gives for ?format=serialized, tried when its
// .proto text does not compile (textErr). A registry that ignores the
// parameter (Apicurio, Karapace) answers the same text again, and one that
// refuses it answers 4xx: then textErr stands. The error wraps
// stocklake.ErrUnavailable when the registry cannot be reached.
func (c *Client) serializedProto(ctx context.Context, id int, textErr error) (*decoder, error) {
	sctx := sr.WithParams(ctx, sr.Format("serialized"))
	s, err := c.cl.SchemaByID(sctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 {
			return nil, textErr
		}
		return nil, fmt.Errorf("fetch serialized protobuf schema %d from the registry: %v: %w", id, err, stocklake.ErrUnavailable)
	}
	refs, err := c.references(sctx, s, 0)
	if err != nil {
		return nil, err
	}
	d, err := newDecoder(id, s, refs)
	if errors.Is(err, errProtoText) {
		return nil, textErr // the same text again
	}
	return d, err
}

// protoSrc is one file for the compiler: text or a descriptor.
type protoSrc struct {
	Text  string
	Proto *descriptorpb.FileDescriptorProto
}

func (s protoSrc) result() protocompile.SearchResult {
	if s.Proto != nil {
		return protocompile.SearchResult{Proto: s.Proto}
	}
	return protocompile.SearchResult{Source: strings.NewReader(s.Text)}
}

// protoSource reads a schema: base64 is a serialized descriptor, anything
// else .proto text.
func protoSource(name, schema string) (protoSrc, error) {
	if len(schema) > maxProtoSchema {
		return protoSrc{}, fmt.Errorf("protobuf schema %s is %d bytes, more than the %d this sink compiles", name, len(schema), maxProtoSchema)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(schema))
	if err != nil {
		return protoSrc{Text: schema}, nil
	}
	var fdp descriptorpb.FileDescriptorProto
	if err := proto.Unmarshal(raw, &fdp); err != nil {
		return protoSrc{}, fmt.Errorf("protobuf schema %s is base64 but not a serialized FileDescriptorProto: %w", name, err)
	}
	if fdp.GetName() == "" {
		fdp.Name = proto.String(name)
	}
	// protocompile takes a field without json_name (Python's descriptors
	// have none) for one with the custom JSON name "", which then
	// conflicts with the next field's: fill in the default names, as
	// protodesc makes them.
	fd, err := protodesc.FileOptions{AllowUnresolvable: true}.New(&fdp, &protoregistry.Files{})
	if err != nil {
		return protoSrc{}, fmt.Errorf("protobuf schema %s: %w", name, err)
	}
	fillJSONNames(fdp.MessageType, fd.Messages())
	return protoSrc{Proto: &fdp}, nil
}

// fillJSONNames sets the json_name of the fields in ms (and their nested
// messages) that have none to that of the fields in mds.
func fillJSONNames(ms []*descriptorpb.DescriptorProto, mds protoreflect.MessageDescriptors) {
	for i, m := range ms {
		md := mds.Get(i)
		for j, f := range m.Field {
			if f.JsonName == nil {
				f.JsonName = proto.String(md.Fields().Get(j).JSONName())
			}
		}
		fillJSONNames(m.NestedType, md.Messages())
	}
}

func newProtoDecoder(id int, s sr.Schema, refs []namedSchema) (*decoder, error) {
	fd, err := protoFile(id, s, refs)
	if err != nil {
		return nil, err
	}
	if fd.Messages().Len() == 0 {
		return nil, fmt.Errorf("protobuf schema %s has no message", fd.Path())
	}
	// One table schema per message the frames' indexes name, made on
	// first use.
	msgs := map[string]*protoMessage{}
	first, err := newProtoMessage(id, fd.Messages().Get(0))
	if err != nil {
		return nil, err
	}
	msgs["0"] = first
	return &decoder{schema: first.schema, decode: func(b []byte) (*stocklake.RecordSchema, map[string]any, error) {
		var h sr.ConfluentHeader
		index, rest, err := h.DecodeIndex(b, maxIndexes)
		if err != nil {
			return nil, nil, fmt.Errorf("bad protobuf message indexes: %v", err)
		}
		key := fmt.Sprint(index)
		if len(index) == 1 && index[0] == 0 {
			key = "0"
		}
		pm := msgs[key]
		if pm == nil {
			md, err := messageAt(fd, index)
			if err != nil {
				return nil, nil, err
			}
			if pm, err = newProtoMessage(id, md); err != nil {
				return nil, nil, err
			}
			msgs[key] = pm
		}
		m := dynamicpb.NewMessage(pm.md)
		if err := proto.Unmarshal(rest, m); err != nil {
			return nil, nil, err
		}
		return pm.schema, protoRecord(m), nil
	}}, nil
}

// messageAt finds the message the indexes name: the first in the file's
// top-level messages, the next ones in nested messages.
func messageAt(fd protoreflect.FileDescriptor, index []int) (protoreflect.MessageDescriptor, error) {
	var md protoreflect.MessageDescriptor
	for i, x := range index {
		ms := fd.Messages()
		if i > 0 {
			ms = md.Messages()
		}
		if x < 0 || x >= ms.Len() {
			return nil, fmt.Errorf("protobuf message index %v names no message of %s", index, fd.Path())
		}
		md = ms.Get(x)
	}
	return md, nil
}

type protoMessage struct {
	md     protoreflect.MessageDescriptor
	schema *stocklake.RecordSchema
}

func newProtoMessage(id int, md protoreflect.MessageDescriptor) (*protoMessage, error) {
	t, err := (&protoWalk{in: map[protoreflect.FullName]bool{}}).message(md)
	if errors.Is(err, errTooManyFields) {
		return nil, fmt.Errorf("protobuf message %s has more than %d fields with its nested messages expanded, too many columns for a table", md.FullName(), maxProtoColumns)
	}
	if err != nil {
		return nil, err
	}
	return &protoMessage{md: md, schema: &stocklake.RecordSchema{ID: id, Format: FormatProtobuf, Name: string(md.FullName()), Fields: t.Fields}}, nil
}

const timestampName = "google.protobuf.Timestamp"

// errTooManyFields stops a protoWalk past maxProtoColumns fields.
var errTooManyFields = errors.New("too many fields")

// protoWalk makes the table schema of a message: in holds the messages
// being expanded (a message met again inside itself is recursive), n
// counts the fields made.
type protoWalk struct {
	in map[protoreflect.FullName]bool
	n  int
}

func (w *protoWalk) message(md protoreflect.MessageDescriptor) (*stocklake.FieldType, error) {
	if w.in[md.FullName()] {
		return nil, fmt.Errorf("protobuf message %s contains itself: a recursive message has no fixed set of columns; write it as bytes or a string (e.g. JSON) instead", md.FullName())
	}
	w.in[md.FullName()] = true
	defer delete(w.in, md.FullName())
	t := &stocklake.FieldType{Kind: stocklake.KindRecord}
	fs := md.Fields()
	for i := range fs.Len() {
		if w.n++; w.n > maxProtoColumns {
			return nil, errTooManyFields
		}
		fd := fs.Get(i)
		ft, err := w.field(fd)
		if err != nil {
			return nil, err
		}
		t.Fields = append(t.Fields, stocklake.Field{Name: string(fd.Name()), Type: ft})
	}
	return t, nil
}

func (w *protoWalk) field(fd protoreflect.FieldDescriptor) (*stocklake.FieldType, error) {
	switch {
	case fd.IsMap():
		v, err := w.scalar(fd.MapValue())
		if err != nil {
			return nil, err
		}
		return &stocklake.FieldType{Kind: stocklake.KindMap, Elem: v}, nil
	case fd.IsList():
		e, err := w.scalar(fd)
		if err != nil {
			return nil, err
		}
		return &stocklake.FieldType{Kind: stocklake.KindList, Elem: e}, nil
	}
	t, err := w.scalar(fd)
	if err != nil {
		return nil, err
	}
	t.Optional = fd.HasPresence()
	return t, nil
}

// scalar is the type of one value of fd (an element, for lists).
func (w *protoWalk) scalar(fd protoreflect.FieldDescriptor) (*stocklake.FieldType, error) {
	k := stocklake.KindString
	switch fd.Kind() {
	case protoreflect.BoolKind:
		k = stocklake.KindBool
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		k = stocklake.KindInt32
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind, protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		k = stocklake.KindInt64
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return &stocklake.FieldType{Kind: stocklake.KindDecimal, Precision: 20}, nil
	case protoreflect.FloatKind:
		k = stocklake.KindFloat32
	case protoreflect.DoubleKind:
		k = stocklake.KindFloat64
	case protoreflect.BytesKind:
		k = stocklake.KindBytes
	case protoreflect.StringKind, protoreflect.EnumKind:
		k = stocklake.KindString
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if fd.Message().FullName() == timestampName {
			return &stocklake.FieldType{Kind: stocklake.KindTimestampMicros}, nil
		}
		return w.message(fd.Message())
	}
	return &stocklake.FieldType{Kind: k}, nil
}

// protoRecord converts a message to its decoded record.
func protoRecord(m protoreflect.Message) map[string]any {
	fs := m.Descriptor().Fields()
	out := make(map[string]any, fs.Len())
	for i := range fs.Len() {
		fd := fs.Get(i)
		name := string(fd.Name())
		switch {
		case fd.IsMap():
			mm := map[string]any{}
			m.Get(fd).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				mm[k.String()] = protoValue(fd.MapValue(), v)
				return true
			})
			out[name] = mm
		case fd.IsList():
			l := m.Get(fd).List()
			a := make([]any, l.Len())
			for j := range l.Len() {
				a[j] = protoValue(fd, l.Get(j))
			}
			out[name] = a
		case fd.HasPresence() && !m.Has(fd):
			out[name] = nil
		default:
			out[name] = protoValue(fd, m.Get(fd))
		}
	}
	return out
}

func protoValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return int32(v.Int())
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return v.Int()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return int64(v.Uint())
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return twosComplement(new(big.Int).SetUint64(v.Uint()))
	case protoreflect.FloatKind:
		return float32(v.Float())
	case protoreflect.DoubleKind:
		return v.Float()
	case protoreflect.BytesKind:
		return v.Bytes()
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return fmt.Sprint(int32(v.Enum()))
	case protoreflect.MessageKind, protoreflect.GroupKind:
		m := v.Message()
		if fd.Message().FullName() == timestampName {
			fs := m.Descriptor().Fields()
			sec, nanos := m.Get(fs.ByName("seconds")).Int(), m.Get(fs.ByName("nanos")).Int()
			return sec*1_000_000 + nanos/1000
		}
		return protoRecord(m)
	}
	return nil
}
