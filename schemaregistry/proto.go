package schemaregistry

import (
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	// Well-known types a registered .proto may import without a reference.
	_ "google.golang.org/protobuf/types/known/anypb"
	_ "google.golang.org/protobuf/types/known/durationpb"
	_ "google.golang.org/protobuf/types/known/structpb"
	_ "google.golang.org/protobuf/types/known/timestamppb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/stocklake/stocklake"
)

// Protobuf schemas are read in their serialized form: a base64
// FileDescriptorProto, which Confluent's clients register and which a
// Confluent registry serves for ?format=serialized (Client.decoder asks
// for it). A schema only in .proto text is refused: decoding it would
// need a .proto parser.

// errProtoText marks a Protobuf schema given as .proto text.
var errProtoText = fmt.Errorf("protobuf schema is .proto text, not a serialized descriptor (the registry did not answer ?format=serialized)")

// protoFile builds the file descriptor of a serialized schema, resolving
// its imports among files (references, then the well-known types).
func protoFile(text string, files *protoregistry.Files) (protoreflect.FileDescriptor, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return nil, errProtoText
	}
	var fdp descriptorpb.FileDescriptorProto
	if err := proto.Unmarshal(raw, &fdp); err != nil {
		return nil, fmt.Errorf("protobuf schema is not a FileDescriptorProto: %w", err)
	}
	return protodesc.NewFile(&fdp, resolver{files})
}

// resolver finds imports among the referenced files, then the linked
// well-known types.
type resolver struct{ files *protoregistry.Files }

func (r resolver) FindFileByPath(p string) (protoreflect.FileDescriptor, error) {
	if fd, err := r.files.FindFileByPath(p); err == nil {
		return fd, nil
	}
	return protoregistry.GlobalFiles.FindFileByPath(p)
}

func (r resolver) FindDescriptorByName(n protoreflect.FullName) (protoreflect.Descriptor, error) {
	if d, err := r.files.FindDescriptorByName(n); err == nil {
		return d, nil
	}
	return protoregistry.GlobalFiles.FindDescriptorByName(n)
}

func newProtoDecoder(id int, s sr.Schema, refs []namedSchema) (*decoder, error) {
	files := &protoregistry.Files{}
	for _, r := range refs {
		if r.schema.Type != sr.TypeProtobuf {
			return nil, fmt.Errorf("protobuf schema refers to %s, a %v schema", r.name, r.schema.Type)
		}
		if _, err := protoregistry.GlobalFiles.FindFileByPath(r.name); err == nil {
			continue // a well-known type, already linked
		}
		fd, err := protoFile(r.schema.Schema, files)
		if err != nil {
			return nil, fmt.Errorf("referenced protobuf schema %s: %w", r.name, err)
		}
		if err := files.RegisterFile(fd); err != nil {
			return nil, fmt.Errorf("referenced protobuf schema %s: %w", r.name, err)
		}
	}
	fd, err := protoFile(s.Schema, files)
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
	t, err := protoMessageType(md, map[protoreflect.FullName]bool{})
	if err != nil {
		return nil, err
	}
	return &protoMessage{md: md, schema: &stocklake.RecordSchema{ID: id, Format: FormatProtobuf, Name: string(md.FullName()), Fields: t.Fields}}, nil
}

const timestampName = "google.protobuf.Timestamp"

func protoMessageType(md protoreflect.MessageDescriptor, in map[protoreflect.FullName]bool) (*stocklake.FieldType, error) {
	if in[md.FullName()] {
		return nil, fmt.Errorf("protobuf message %s contains itself; recursive types cannot be columns", md.FullName())
	}
	in[md.FullName()] = true
	defer delete(in, md.FullName())
	t := &stocklake.FieldType{Kind: stocklake.KindRecord}
	fs := md.Fields()
	for i := range fs.Len() {
		fd := fs.Get(i)
		ft, err := protoFieldType(fd, in)
		if err != nil {
			return nil, err
		}
		t.Fields = append(t.Fields, stocklake.Field{Name: string(fd.Name()), Type: ft})
	}
	return t, nil
}

func protoFieldType(fd protoreflect.FieldDescriptor, in map[protoreflect.FullName]bool) (*stocklake.FieldType, error) {
	switch {
	case fd.IsMap():
		v, err := protoScalar(fd.MapValue(), in)
		if err != nil {
			return nil, err
		}
		return &stocklake.FieldType{Kind: stocklake.KindMap, Elem: v}, nil
	case fd.IsList():
		e, err := protoScalar(fd, in)
		if err != nil {
			return nil, err
		}
		return &stocklake.FieldType{Kind: stocklake.KindList, Elem: e}, nil
	}
	t, err := protoScalar(fd, in)
	if err != nil {
		return nil, err
	}
	t.Optional = fd.HasPresence()
	return t, nil
}

// protoScalar is the type of one value of fd (an element, for lists).
func protoScalar(fd protoreflect.FieldDescriptor, in map[protoreflect.FullName]bool) (*stocklake.FieldType, error) {
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
		return protoMessageType(fd.Message(), in)
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
