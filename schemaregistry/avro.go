package schemaregistry

import (
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/stocklake/stocklake"
)

// avroNode is an Avro schema with the field type it lands as.
type avroNode struct {
	t      *stocklake.FieldType
	logic  avro.LogicalType // of the Avro type, "" if none
	fields []avroField      // record
	elem   *avroNode        // array items, map values
	json   bool             // a union of several types: kept as JSON text
}

type avroField = field[*avroNode]

func newAvroDecoder(id int, s sr.Schema, refs []namedSchema) (*decoder, error) {
	// Referenced named types are parsed first into one cache, so the
	// writer schema can use them by name.
	cache := &avro.SchemaCache{}
	for _, r := range refs {
		if r.schema.Type != sr.TypeAvro {
			return nil, fmt.Errorf("avro schema refers to %s, a %v schema", r.name, r.schema.Type)
		}
		if _, err := avro.ParseWithCache(r.schema.Schema, "", cache); err != nil {
			return nil, fmt.Errorf("parse referenced avro schema %s: %w", r.name, err)
		}
	}
	as, err := avro.ParseWithCache(s.Schema, "", cache)
	if err != nil {
		return nil, fmt.Errorf("parse avro schema: %w", err)
	}
	rec, ok := deref(as).(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("avro schema is a %s, want a record: a table needs named fields", as.Type())
	}
	root, err := avroType(rec, map[string]bool{})
	if err != nil {
		return nil, err
	}
	rs := &stocklake.RecordSchema{ID: id, Format: FormatAvro, Name: rec.FullName(), Fields: root.t.Fields}
	return &decoder{schema: rs, decode: func(b []byte) (*stocklake.RecordSchema, map[string]any, error) {
		var v any
		if err := avro.Unmarshal(as, b, &v); err != nil {
			return nil, nil, err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, nil, fmt.Errorf("avro record decoded as %T", v)
		}
		out, err := root.value(m)
		if err != nil {
			return nil, nil, err
		}
		return rs, out.(map[string]any), nil
	}}, nil
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

// avroType maps an Avro schema to the type it lands as. inRecord holds
// the records being mapped, to refuse recursive types (Parquet has none).
func avroType(s avro.Schema, inRecord map[string]bool) (*avroNode, error) {
	s = deref(s)
	var logic avro.LogicalType
	if lt, ok := s.(avro.LogicalTypeSchema); ok && lt.Logical() != nil {
		logic = lt.Logical().Type()
	}
	n := &avroNode{t: &stocklake.FieldType{}, logic: logic}
	switch x := s.(type) {
	case *avro.RecordSchema:
		if inRecord[x.FullName()] {
			return nil, fmt.Errorf("avro record %s contains itself; recursive types cannot be columns", x.FullName())
		}
		inRecord[x.FullName()] = true
		defer delete(inRecord, x.FullName())
		n.t.Kind = stocklake.KindRecord
		for _, f := range x.Fields() {
			c, err := avroType(f.Type(), inRecord)
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, avroField{name: f.Name(), node: c})
			n.t.Fields = append(n.t.Fields, stocklake.Field{Name: f.Name(), Type: c.t})
		}
		return n, nil
	case *avro.ArraySchema:
		c, err := avroType(x.Items(), inRecord)
		if err != nil {
			return nil, err
		}
		n.t.Kind, n.t.Elem, n.elem = stocklake.KindList, c.t, c
		return n, nil
	case *avro.MapSchema:
		c, err := avroType(x.Values(), inRecord)
		if err != nil {
			return nil, err
		}
		n.t.Kind, n.t.Elem, n.elem = stocklake.KindMap, c.t, c
		return n, nil
	case *avro.UnionSchema:
		var rest []avro.Schema
		null := false
		for _, m := range x.Types() {
			if m.Type() == avro.Null {
				null = true
				continue
			}
			rest = append(rest, m)
		}
		if len(rest) == 1 {
			c, err := avroType(rest[0], inRecord)
			if err != nil {
				return nil, err
			}
			c.t.Optional = c.t.Optional || null
			return c, nil
		}
		// Several types: the value is kept as JSON text.
		n.t.Kind, n.t.Optional, n.json = stocklake.KindString, null || len(rest) == 0, true
		return n, nil
	case *avro.EnumSchema:
		n.t.Kind = stocklake.KindString
		return n, nil
	case *avro.FixedSchema:
		if d, ok := x.Logical().(*avro.DecimalLogicalSchema); ok && x.Logical() != nil {
			n.t.Kind, n.t.Precision, n.t.Scale = stocklake.KindDecimal, d.Precision(), d.Scale()
			return n, nil
		}
		n.t.Kind = stocklake.KindBytes
		return n, nil
	case *avro.PrimitiveSchema:
		switch x.Type() {
		case avro.Null:
			n.t.Kind, n.t.Optional = stocklake.KindString, true
		case avro.Boolean:
			n.t.Kind = stocklake.KindBool
		case avro.Int:
			n.t.Kind = stocklake.KindInt32
			if logic == avro.Date {
				n.t.Kind = stocklake.KindDate
			}
		case avro.Long:
			n.t.Kind = stocklake.KindInt64
			switch logic {
			case avro.TimestampMillis, avro.LocalTimestampMillis:
				n.t.Kind = stocklake.KindTimestampMillis
			case avro.TimestampMicros, avro.LocalTimestampMicros:
				n.t.Kind = stocklake.KindTimestampMicros
			}
		case avro.Float:
			n.t.Kind = stocklake.KindFloat32
		case avro.Double:
			n.t.Kind = stocklake.KindFloat64
		case avro.String:
			n.t.Kind = stocklake.KindString
		case avro.Bytes:
			n.t.Kind = stocklake.KindBytes
			if d, ok := x.Logical().(*avro.DecimalLogicalSchema); ok && x.Logical() != nil {
				n.t.Kind, n.t.Precision, n.t.Scale = stocklake.KindDecimal, d.Precision(), d.Scale()
			}
		default:
			return nil, fmt.Errorf("avro type %s is not supported", x.Type())
		}
		return n, nil
	}
	return nil, fmt.Errorf("avro type %s is not supported", s.Type())
}

// value converts a value hamba/avro decoded into the Go type of n's kind
// (see stocklake.FieldKind).
func (n *avroNode) value(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if n.json {
		b, err := json.Marshal(unionJSON(v))
		return string(b), err
	}
	if out, ok, err := nestedValue(n.t.Kind, v, n.fields, n.elem); ok {
		return out, err
	}
	switch n.t.Kind {
	case stocklake.KindInt32:
		switch x := v.(type) {
		case int:
			return int32(x), nil
		case time.Duration: // time-millis
			return int32(x / time.Millisecond), nil
		}
	case stocklake.KindInt64:
		switch x := v.(type) {
		case int64:
			return x, nil
		case time.Duration: // time-micros
			return int64(x / time.Microsecond), nil
		}
	case stocklake.KindDate:
		if t, ok := v.(time.Time); ok {
			return int32(t.Unix() / 86400), nil
		}
	case stocklake.KindTimestampMillis:
		if t, ok := v.(time.Time); ok {
			return t.UnixMilli(), nil
		}
	case stocklake.KindTimestampMicros:
		if t, ok := v.(time.Time); ok {
			return t.UnixMicro(), nil
		}
	case stocklake.KindDecimal:
		if r, ok := v.(*big.Rat); ok {
			return DecimalValue(r, n.t.Precision, n.t.Scale)
		}
	case stocklake.KindBytes:
		switch x := v.(type) {
		case []byte:
			return x, nil
		default:
			if rv := reflect.ValueOf(v); rv.Kind() == reflect.Array && rv.Type().Elem().Kind() == reflect.Uint8 {
				b := make([]byte, rv.Len())
				reflect.Copy(reflect.ValueOf(b), rv)
				return b, nil
			}
		}
	case stocklake.KindString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case stocklake.KindBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case stocklake.KindFloat32:
		if f, ok := v.(float32); ok {
			return f, nil
		}
	case stocklake.KindFloat64:
		if f, ok := v.(float64); ok {
			return f, nil
		}
	}
	return nil, fmt.Errorf("value %T does not fit kind %d", v, n.t.Kind)
}

// unionJSON makes a decoded union value encodable as JSON (byte arrays
// from fixed types as strings, rationals as decimal text).
func unionJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = unionJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = unionJSON(e)
		}
		return out
	case *big.Rat:
		return x.FloatString(10)
	case []byte:
		return string(x)
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Array && rv.Type().Elem().Kind() == reflect.Uint8 {
		b := make([]byte, rv.Len())
		reflect.Copy(reflect.ValueOf(b), rv)
		return string(b)
	}
	return v
}

// DecimalValue is the unscaled value of r at scale, as a KindDecimal
// value of that precision holds it: int64 up to precision 18, else
// big-endian two's complement bytes. A value with more digits than the
// precision allows is an error.
func DecimalValue(r *big.Rat, precision, scale int) (any, error) {
	u := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	if !u.IsInt() {
		return nil, fmt.Errorf("decimal %s has more than %d fraction digits", r.FloatString(scale+4), scale)
	}
	n := u.Num()
	if precision > 0 && len(new(big.Int).Abs(n).String()) > precision {
		return nil, fmt.Errorf("decimal %s has more than %d digits", r.FloatString(scale), precision)
	}
	if precision <= 18 {
		return n.Int64(), nil
	}
	return twosComplement(n), nil
}

// twosComplement encodes n big-endian in the fewest bytes that hold its
// sign.
func twosComplement(n *big.Int) []byte {
	if n.Sign() >= 0 {
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -n-1 in bytes, inverted.
	m := new(big.Int).Neg(n)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}
