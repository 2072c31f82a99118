package stocklake

import "context"

// FieldKind is the type of a field of a decoded record (see FieldType).
type FieldKind uint8

// Field kinds, with the Go type of their values in a decoded record
// (RecordDecoder): nil stands for null in every kind.
const (
	KindString  FieldKind = iota // string (also Avro enums and uuids)
	KindBool                     // bool
	KindInt32                    // int32
	KindInt64                    // int64
	KindFloat32                  // float32
	KindFloat64                  // float64
	KindBytes                    // []byte
	// KindDecimal: int64 unscaled value when Precision <= 18, else
	// []byte, the unscaled value big-endian in two's complement.
	KindDecimal
	KindDate            // int32 days since 1970-01-01
	KindTimestampMillis // int64 milliseconds since the Unix epoch, UTC
	KindTimestampMicros // int64 microseconds since the Unix epoch, UTC
	KindRecord          // map[string]any keyed by field name
	KindList            // []any
	KindMap             // map[string]any (keys are strings)
)

// FieldType is the type of one field of a registry-encoded record, as the
// writer's schema declares it.
type FieldType struct {
	Kind     FieldKind
	Optional bool // null allowed (an Avro union with null, a proto3 optional, ...)
	// Precision and Scale of a KindDecimal.
	Precision, Scale int
	Fields           []Field    // of a KindRecord, in schema order
	Elem             *FieldType // element of a KindList, value of a KindMap
}

// Field is a named field of a record.
type Field struct {
	Name string
	Type *FieldType
}

// RecordSchema is a writer schema of registry-encoded records: its
// registry ID, format (avro, protobuf or json) and top-level fields.
type RecordSchema struct {
	ID     int
	Format string
	// Name is the record's full name (Avro), message name (Protobuf) or
	// title (JSON Schema); "" if it has none.
	Name   string
	Fields []Field
}

// RecordDecoder decodes records in the Confluent Schema Registry wire
// format with the writer's schema. Errors wrap ErrInvalid for a record
// that cannot be decoded (malformed frame, unknown schema ID, data that
// does not match its schema) and ErrUnavailable while the registry cannot
// be reached.
type RecordDecoder interface {
	Decode(ctx context.Context, value []byte) (*RecordSchema, map[string]any, error)
}
