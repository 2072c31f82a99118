package schemaregistry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/stocklake/stocklake"
)

// jsonSchema is the part of a JSON Schema document that decides columns.
type jsonSchema struct {
	Title                string                 `json:"title"`
	Type                 json.RawMessage        `json:"type"` // "string" or ["null","string"]
	Format               string                 `json:"format"`
	Properties           map[string]*jsonSchema `json:"properties"`
	Items                *jsonSchema            `json:"items"`
	AdditionalProperties json.RawMessage        `json:"additionalProperties"`
}

// jsonNode is a JSON Schema type with the field type it lands as.
type jsonNode struct {
	t      *stocklake.FieldType
	format string
	fields []jsonField
	elem   *jsonNode
	text   bool // no single type: kept as JSON text
}

type jsonField = field[*jsonNode]

func newJSONDecoder(id int, s sr.Schema) (*decoder, error) {
	var js jsonSchema
	if err := json.Unmarshal([]byte(s.Schema), &js); err != nil {
		return nil, fmt.Errorf("parse JSON schema: %w", err)
	}
	root := jsonType(&js, 0)
	if root.t.Kind != stocklake.KindRecord {
		return nil, fmt.Errorf("JSON schema is not an object with properties: a table needs named fields")
	}
	rs := &stocklake.RecordSchema{ID: id, Format: FormatJSON, Name: js.Title, Fields: root.t.Fields}
	return &decoder{schema: rs, decode: func(b []byte) (*stocklake.RecordSchema, map[string]any, error) {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, nil, fmt.Errorf("record is not JSON: %w", err)
		}
		if dec.More() {
			return nil, nil, fmt.Errorf("record has data after its JSON document")
		}
		out, err := root.value(v)
		if err != nil {
			return nil, nil, err
		}
		if out == nil {
			return nil, nil, fmt.Errorf("record is JSON null, want an object")
		}
		return rs, out.(map[string]any), nil
	}}, nil
}

// types returns the JSON types a schema allows, and whether null is one.
func (js *jsonSchema) types() ([]string, bool) {
	var ts []string
	if len(js.Type) > 0 && js.Type[0] == '[' {
		_ = json.Unmarshal(js.Type, &ts)
	} else if len(js.Type) > 0 {
		var t string
		_ = json.Unmarshal(js.Type, &t)
		ts = []string{t}
	}
	null := slices.Contains(ts, "null")
	ts = slices.DeleteFunc(ts, func(t string) bool { return t == "null" })
	if len(ts) == 0 && js.Properties != nil {
		ts = []string{"object"}
	}
	return ts, null
}

func jsonType(js *jsonSchema, depth int) *jsonNode {
	n := &jsonNode{t: &stocklake.FieldType{Kind: stocklake.KindString, Optional: true}, format: js.Format}
	ts, _ := js.types()
	if len(ts) != 1 || depth > 32 {
		n.text = true
		return n
	}
	switch ts[0] {
	case "string":
		switch js.Format {
		case "date-time":
			n.t.Kind = stocklake.KindTimestampMicros
		case "date":
			n.t.Kind = stocklake.KindDate
		}
	case "integer":
		n.t.Kind = stocklake.KindInt64
	case "number":
		n.t.Kind = stocklake.KindFloat64
	case "boolean":
		n.t.Kind = stocklake.KindBool
	case "array":
		if js.Items == nil {
			n.text = true
			break
		}
		n.elem = jsonType(js.Items, depth+1)
		n.t.Kind, n.t.Elem = stocklake.KindList, n.elem.t
	case "object":
		if len(js.Properties) == 0 {
			var add jsonSchema
			if len(js.AdditionalProperties) > 0 && js.AdditionalProperties[0] == '{' && json.Unmarshal(js.AdditionalProperties, &add) == nil {
				n.elem = jsonType(&add, depth+1)
				n.t.Kind, n.t.Elem = stocklake.KindMap, n.elem.t
				break
			}
			n.text = true
			break
		}
		n.t.Kind = stocklake.KindRecord
		names := make([]string, 0, len(js.Properties))
		for k := range js.Properties {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			c := jsonType(js.Properties[k], depth+1)
			n.fields = append(n.fields, jsonField{name: k, node: c})
			n.t.Fields = append(n.t.Fields, stocklake.Field{Name: k, Type: c.t})
		}
	default:
		n.text = true
	}
	return n
}

// value converts a decoded JSON value to the Go type of n's kind.
func (n *jsonNode) value(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if n.text {
		if s, ok := v.(string); ok {
			return s, nil
		}
		b, err := json.Marshal(v)
		return string(b), err
	}
	if out, ok, err := nestedValue(n.t.Kind, v, n.fields, n.elem); ok {
		return out, err
	}
	switch n.t.Kind {
	case stocklake.KindInt64:
		if x, ok := v.(json.Number); ok {
			if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
				return i, nil
			}
		}
	case stocklake.KindFloat64:
		if x, ok := v.(json.Number); ok {
			if f, err := strconv.ParseFloat(string(x), 64); err == nil {
				return f, nil
			}
		}
	case stocklake.KindBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case stocklake.KindTimestampMicros:
		if s, ok := v.(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t.UnixMicro(), nil
			}
		}
	case stocklake.KindDate:
		if s, ok := v.(string); ok {
			if t, err := time.Parse(time.DateOnly, s); err == nil {
				return int32(t.Unix() / 86400), nil
			}
		}
	case stocklake.KindString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	}
	return nil, fmt.Errorf("value %v does not fit the schema's %s", v, kindName(n.t.Kind))
}

func kindName(k stocklake.FieldKind) string {
	return [...]string{"string", "boolean", "int", "long", "float", "double", "bytes", "decimal", "date", "timestamp-millis",
		"timestamp-micros", "record", "array", "map"}[k]
}
