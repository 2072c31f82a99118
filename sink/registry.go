package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
)

// Registry-encoded records (Config.Decoder, table schema "registry") land
// with a column per field of their writer schema. The table's columns are
// the union of the writer schemas the sink has met: a new compatible
// writer schema (new optional fields, int to long, float to double) widens
// them, and the catalog gets a new table version on the next write; a
// writer schema whose field types cannot be widened into the table's
// (string to long, a record to a number) is incompatible, and its records
// go to the dead-letter topic. Every top-level column is optional, since
// records written before a field was added have none.

// mergeFields widens table by writer and reports whether anything
// changed; an error names the first field whose types do not fit. With
// strict (Iceberg tables), types widen only as Iceberg promotes them: int
// to long, float to double.
func mergeFields(table, writer []stocklake.Field, strict bool) ([]stocklake.Field, bool, error) {
	out := slices.Clone(table)
	changed := false
	for _, wf := range writer {
		i := slices.IndexFunc(out, func(f stocklake.Field) bool { return f.Name == wf.Name })
		if i < 0 {
			t := *wf.Type
			t.Optional = true
			out = append(out, stocklake.Field{Name: wf.Name, Type: &t})
			changed = true
			continue
		}
		t, ch, err := widenField(out[i].Type, wf.Type, strict)
		if err != nil {
			return nil, false, fmt.Errorf("field %s: %w", wf.Name, err)
		}
		if ch {
			t.Optional = true
			out[i] = stocklake.Field{Name: wf.Name, Type: t}
			changed = true
		}
	}
	return out, changed, nil
}

// widenField returns the type that holds values of a (the table's) and b
// (a writer's), and whether it differs from a (strict: see mergeFields).
func widenField(a, b *stocklake.FieldType, strict bool) (*stocklake.FieldType, bool, error) {
	out := *a
	changed := false
	if b.Optional && !a.Optional {
		out.Optional, changed = true, true
	}
	if a.Kind != b.Kind {
		rank := map[stocklake.FieldKind]int{stocklake.KindInt32: 1, stocklake.KindInt64: 2, stocklake.KindFloat32: 3, stocklake.KindFloat64: 4}
		ra, rb := rank[a.Kind], rank[b.Kind]
		switch {
		case strict:
			if (ra == 1 || ra == 2) && (rb == 1 || rb == 2) || (ra == 3 || ra == 4) && (rb == 3 || rb == 4) {
				if rb > ra {
					out.Kind, changed = b.Kind, true
				}
				return &out, changed, nil
			}
		case a.Kind == stocklake.KindFloat32 && b.Kind == stocklake.KindInt64:
			// Before the rank case, which would keep float (and
			// encoding the long values into it would fail).
			out.Kind = stocklake.KindFloat64
			return &out, true, nil
		case ra > 0 && rb > 0 && !(a.Kind == stocklake.KindInt64 && b.Kind == stocklake.KindFloat32):
			if rb > ra {
				out.Kind, changed = b.Kind, true
			}
			return &out, changed, nil
		}
		return nil, false, fmt.Errorf("the writer's %s does not fit the table's %s", hiveType(b), hiveType(a))
	}
	switch a.Kind {
	case stocklake.KindDecimal:
		if a.Precision != b.Precision || a.Scale != b.Scale {
			return nil, false, fmt.Errorf("the writer's %s does not fit the table's %s", hiveType(b), hiveType(a))
		}
	case stocklake.KindRecord:
		fs, ch, err := mergeFields(a.Fields, b.Fields, strict)
		if err != nil {
			return nil, false, err
		}
		if ch {
			out.Fields, changed = fs, true
		}
	case stocklake.KindList, stocklake.KindMap:
		e, ch, err := widenField(a.Elem, b.Elem, strict)
		if err != nil {
			return nil, false, fmt.Errorf("element: %w", err)
		}
		if ch {
			out.Elem, changed = e, true
		}
	}
	return &out, changed, nil
}

// hiveType is t's Glue/Hive type.
func hiveType(t *stocklake.FieldType) string { return toHive(t).String() }

func toHive(t *stocklake.FieldType) hive.Type {
	switch t.Kind {
	case stocklake.KindBool:
		return hive.Type{Name: "boolean"}
	case stocklake.KindInt32:
		return hive.Type{Name: "int"}
	case stocklake.KindInt64:
		return hive.Type{Name: "bigint"}
	case stocklake.KindFloat32:
		return hive.Type{Name: "float"}
	case stocklake.KindFloat64:
		return hive.Type{Name: "double"}
	case stocklake.KindBytes:
		return hive.Type{Name: "binary"}
	case stocklake.KindDecimal:
		return hive.Type{Name: "decimal", Params: []int{t.Precision, t.Scale}}
	case stocklake.KindDate:
		return hive.Type{Name: "date"}
	case stocklake.KindTimestampMillis, stocklake.KindTimestampMicros:
		return hive.Type{Name: "timestamp"}
	case stocklake.KindList:
		return hive.Type{Name: "array", Elems: []hive.Type{toHive(t.Elem)}}
	case stocklake.KindMap:
		return hive.Type{Name: "map", Elems: []hive.Type{{Name: "string"}, toHive(t.Elem)}}
	case stocklake.KindRecord:
		ht := hive.Type{Name: "struct"}
		for _, f := range sortedFields(t.Fields) {
			ht.Fields = append(ht.Fields, f.Name)
			ht.Elems = append(ht.Elems, toHive(f.Type))
		}
		if len(ht.Fields) == 0 {
			return hive.Type{Name: "string"}
		}
		return ht
	}
	return hive.Type{Name: "string"}
}

// sortedFields orders fields by name, as Parquet groups of parquet-go
// are.
func sortedFields(fs []stocklake.Field) []stocklake.Field {
	out := slices.Clone(fs)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// registryColumns are the table's columns, in file order.
func registryColumns(fields []stocklake.Field) []stocklake.Column {
	var cols []stocklake.Column
	for _, f := range sortedFields(fields) {
		cols = append(cols, stocklake.Column{Name: f.Name, Type: hiveType(f.Type)})
	}
	return cols
}

// pqNode is a field type as a Parquet node, with what writing a value
// needs: its leaf column (or first leaf), leaf count, and the repetition
// and definition levels its values sit at.
type pqNode struct {
	t        *stocklake.FieldType
	name     string
	col      int // first leaf column
	leaves   int
	rep, def int // levels of a present value of this node
	fields   []*pqNode
	elem     *pqNode // list element, map value
	key      *pqNode // map key
}

// newPQNode builds the node of type t whose parent's present value sits
// at levels rep, def; col is the next free leaf column.
func newPQNode(name string, t *stocklake.FieldType, rep, def int, col *int) *pqNode {
	n := &pqNode{t: t, name: name, rep: rep, def: def, col: *col}
	if t.Optional {
		n.def++
	}
	switch t.Kind {
	case stocklake.KindRecord:
		for _, f := range sortedFields(t.Fields) {
			c := newPQNode(f.Name, f.Type, n.rep, n.def, col)
			n.fields = append(n.fields, c)
			n.leaves += c.leaves
		}
		if len(n.fields) == 0 { // no fields: kept as text
			n.leaves = 1
			*col++
		}
	case stocklake.KindList:
		n.elem = newPQNode("element", t.Elem, n.rep+1, n.def+1, col)
		n.leaves = n.elem.leaves
	case stocklake.KindMap:
		n.key = newPQNode("key", &stocklake.FieldType{Kind: stocklake.KindString}, n.rep+1, n.def+1, col)
		n.elem = newPQNode("value", t.Elem, n.rep+1, n.def+1, col)
		n.leaves = 1 + n.elem.leaves
	default:
		n.leaves = 1
		*col++
	}
	return n
}

func (n *pqNode) parquet() parquet.Node {
	var p parquet.Node
	switch n.t.Kind {
	case stocklake.KindBool:
		p = parquet.Leaf(parquet.BooleanType)
	case stocklake.KindInt32:
		p = parquet.Int(32)
	case stocklake.KindInt64:
		p = parquet.Int(64)
	case stocklake.KindFloat32:
		p = parquet.Leaf(parquet.FloatType)
	case stocklake.KindFloat64:
		p = parquet.Leaf(parquet.DoubleType)
	case stocklake.KindBytes:
		p = parquet.Leaf(parquet.ByteArrayType)
	case stocklake.KindDecimal:
		p = parquet.Decimal(n.t.Scale, n.t.Precision, decimalPhysical(n.t.Precision))
	case stocklake.KindDate:
		p = parquet.Date()
	case stocklake.KindTimestampMillis:
		p = parquet.Timestamp(parquet.Millisecond)
	case stocklake.KindTimestampMicros:
		p = parquet.Timestamp(parquet.Microsecond)
	case stocklake.KindRecord:
		if len(n.fields) == 0 {
			p = parquet.String()
			break
		}
		g := parquet.Group{}
		for _, c := range n.fields {
			g[c.name] = c.parquet()
		}
		p = g
	case stocklake.KindList:
		p = parquet.List(n.elem.parquet())
	case stocklake.KindMap:
		p = parquet.Map(parquet.String(), n.elem.parquet())
	default:
		p = parquet.String()
	}
	if n.t.Optional {
		p = parquet.Optional(p)
	}
	return p
}

func decimalPhysical(precision int) parquet.Type {
	switch {
	case precision <= 9:
		return parquet.Int32Type
	case precision <= 18:
		return parquet.Int64Type
	}
	return parquet.ByteArrayType
}

// nulls writes a null (or an absent value) for every leaf under n at
// levels rep, def.
func (n *pqNode) nulls(row parquet.Row, rep, def int) parquet.Row {
	for c := n.col; c < n.col+n.leaves; c++ {
		row = append(row, parquet.Value{}.Level(rep, def, c))
	}
	return row
}

// write appends v's leaf values; rep is the repetition level of this
// value (its parent's for the first element of a list, else n.rep), and
// def the definition level its parent reached.
func (n *pqNode) write(row parquet.Row, v any, rep, def int) (parquet.Row, error) {
	if v == nil {
		return n.nulls(row, rep, def), nil
	}
	d := def
	if n.t.Optional {
		d++
	}
	switch n.t.Kind {
	case stocklake.KindRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: record value is %T", n.name, v)
		}
		if len(n.fields) == 0 {
			return append(row, parquet.ByteArrayValue([]byte("{}")).Level(rep, d, n.col)), nil
		}
		for _, c := range n.fields {
			var err error
			if row, err = c.write(row, m[c.name], rep, d); err != nil {
				return nil, err
			}
		}
		return row, nil
	case stocklake.KindList:
		a, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: list value is %T", n.name, v)
		}
		if len(a) == 0 {
			return n.elem.nulls(row, rep, d), nil
		}
		for i, x := range a {
			r := rep
			if i > 0 {
				r = n.elem.rep
			}
			var err error
			if row, err = n.elem.write(row, x, r, d+1); err != nil {
				return nil, err
			}
		}
		return row, nil
	case stocklake.KindMap:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: map value is %T", n.name, v)
		}
		if len(m) == 0 {
			row = n.key.nulls(row, rep, d)
			return n.elem.nulls(row, rep, d), nil
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			r := rep
			if i > 0 {
				r = n.key.rep
			}
			row = append(row, parquet.ByteArrayValue([]byte(k)).Level(r, d+1, n.key.col))
			var err error
			if row, err = n.elem.write(row, m[k], r, d+1); err != nil {
				return nil, err
			}
		}
		return row, nil
	}
	pv, err := leafValue(n.t, v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.name, err)
	}
	return append(row, pv.Level(rep, d, n.col)), nil
}

// leafValue converts a decoded value (see stocklake.FieldKind) to the
// Parquet value of kind t, also from a narrower kind the table widened.
func leafValue(t *stocklake.FieldType, v any) (parquet.Value, error) {
	switch t.Kind {
	case stocklake.KindBool:
		if b, ok := v.(bool); ok {
			return parquet.BooleanValue(b), nil
		}
	case stocklake.KindInt32, stocklake.KindDate:
		if i, ok := v.(int32); ok {
			return parquet.Int32Value(i), nil
		}
	case stocklake.KindInt64, stocklake.KindTimestampMillis, stocklake.KindTimestampMicros:
		switch i := v.(type) {
		case int64:
			return parquet.Int64Value(i), nil
		case int32:
			return parquet.Int64Value(int64(i)), nil
		}
	case stocklake.KindFloat32:
		switch f := v.(type) {
		case float32:
			return parquet.FloatValue(f), nil
		case int32:
			return parquet.FloatValue(float32(f)), nil
		}
	case stocklake.KindFloat64:
		switch f := v.(type) {
		case float64:
			return parquet.DoubleValue(f), nil
		case float32:
			return parquet.DoubleValue(float64(f)), nil
		case int32:
			return parquet.DoubleValue(float64(f)), nil
		case int64:
			return parquet.DoubleValue(float64(f)), nil
		}
	case stocklake.KindDecimal:
		switch x := v.(type) {
		case int64:
			if t.Precision <= 9 {
				return parquet.Int32Value(int32(x)), nil
			}
			return parquet.Int64Value(x), nil
		case []byte:
			return parquet.ByteArrayValue(x), nil
		}
	case stocklake.KindBytes:
		switch b := v.(type) {
		case []byte:
			return parquet.ByteArrayValue(b), nil
		case string:
			return parquet.ByteArrayValue([]byte(b)), nil
		}
	default:
		switch s := v.(type) {
		case string:
			return parquet.ByteArrayValue([]byte(s)), nil
		case []byte:
			return parquet.ByteArrayValue(s), nil
		case map[string]any: // a record without fields (microsFields)
			if len(s) == 0 {
				return parquet.ByteArrayValue([]byte("{}")), nil
			}
		}
	}
	return parquet.Value{}, fmt.Errorf("value %T does not fit column type %s", v, hiveType(t))
}

// encodeRecords writes decoded records as one Parquet file with the
// table's columns (fields) and returns them with Glue/Hive types.
func encodeRecords(buf *bytes.Buffer, recs []map[string]any, fields []stocklake.Field, codec compress.Codec, rowGroupRows int64) ([]stocklake.Column, error) {
	col := 0
	root := newPQNode("", &stocklake.FieldType{Kind: stocklake.KindRecord, Fields: fields}, 0, 0, &col)
	if len(root.fields) == 0 {
		return nil, fmt.Errorf("writer schemas have no fields: %w", stocklake.ErrInvalid)
	}
	schema := parquet.NewSchema("record", root.parquet())
	w := newRowWriter(buf, append(writerOptions(codec, rowGroupRows), schema)...)
	for _, r := range recs {
		row := make(parquet.Row, 0, col)
		for _, c := range root.fields {
			var err error
			if row, err = c.write(row, r[c.name], 0, 0); err != nil {
				return nil, fmt.Errorf("encode parquet: %w", err)
			}
		}
		// Values were appended in record order; a row holds them column
		// by column (each column's values keep their order).
		slices.SortStableFunc(row, func(a, b parquet.Value) int { return a.Column() - b.Column() })
		if err := w.add(row); err != nil {
			return nil, err
		}
	}
	return registryColumns(fields), w.close()
}

// isFramed tells a record in the schema registry wire format.
func isFramed(b []byte) bool { return len(b) >= 5 && b[0] == stocklake.WireMagic }

// registryTimeField is the event-time field of registry records: the
// configured one, else the first top-level timestamp field named like an
// event time (ts, timestamp, event_time, ...), else "" (the Kafka record
// timestamp).
func registryTimeField(fields []stocklake.Field, configured string) string {
	if configured != "" {
		return configured
	}
	for _, c := range timeFieldCandidates {
		for _, f := range fields {
			if strings.EqualFold(f.Name, c) && (f.Type.Kind == stocklake.KindTimestampMicros || f.Type.Kind == stocklake.KindTimestampMillis) {
				return f.Name
			}
		}
	}
	return ""
}

// decodeRegistry decodes a framed record with Config.Decoder, waiting out
// a registry that cannot be reached (the error then wraps
// ErrUnavailable only when the sink is stopping).
func (s *Sink) decodeRegistry(value []byte) (*stocklake.RecordSchema, map[string]any, error) {
	var (
		rs  *stocklake.RecordSchema
		rec map[string]any
	)
	ctx := s.life
	if ctx == nil {
		ctx = context.Background()
	}
	err := s.retry(ctx, "decode record with the schema registry", func() (err error) {
		rs, rec, err = s.cfg.Decoder.Decode(ctx, value)
		return err
	})
	return rs, rec, err
}

// admitSchema decides, once per writer schema (an ID, and for Protobuf a
// message of its file), whether the table takes
// its records, widening the table's columns if it brings new fields; an
// error (wrapping ErrInvalid) sends its records to the dead-letter topic.
func (s *Sink) admitSchema(rs *stocklake.RecordSchema) error {
	if err, ok := s.regSchemas[rs]; ok {
		return err
	}
	iceberg := s.cfg.Committer != nil
	writer := rs.Fields
	if iceberg {
		writer, s.regMillis[rs] = microsChanged(writer)
	}
	merged, changed, err := mergeFields(s.regFields, writer, iceberg)
	if err != nil {
		err = fmt.Errorf("writer schema %d is incompatible with table %s: %v; its records cannot land in the table's columns: %w", rs.ID, s.cfg.Table, err, stocklake.ErrInvalid)
		s.log.Warn("incompatible writer schema; its records go to the dead-letter topic", "schema_id", rs.ID, "err", err)
		s.regSchemas[rs] = err
		return err
	}
	s.regSchemas[rs] = nil
	if changed {
		if s.regFields != nil {
			s.log.Info("writer schema widens the table; the catalog gets the new columns with the next write", "schema_id", rs.ID, "columns", len(merged))
		}
		s.regFields = merged
		// The table keeps the new columns before the next write
		// (storeRegFields, iceRegistryTable), the catalog learns them
		// with it.
		s.fieldsPending = true
		s.widenPending.Store(true)
	}
	return nil
}

// routeRegistry decodes a framed record and returns its event time.
func (s *Sink) routeRegistry(r *kgo.Record) (map[string]any, time.Time, error) {
	rs, rec, err := s.decodeRegistry(r.Value)
	if err != nil {
		return nil, time.Time{}, err
	}
	if err := s.admitSchema(rs); err != nil {
		return nil, time.Time{}, err
	}
	if s.regMillis[rs] {
		scaleMillis(rs.Fields, rec)
	}
	t := r.Timestamp
	if field := s.cfg.TimeField; field != "" {
		v, ok := rec[field]
		if !ok || v == nil {
			return nil, t, fmt.Errorf("record of schema %d has no event-time field %q: %w", rs.ID, field, stocklake.ErrInvalid)
		}
		var kind stocklake.FieldKind = stocklake.KindString
		for _, f := range rs.Fields {
			if f.Name == field {
				kind = f.Type.Kind
			}
		}
		switch x := v.(type) {
		case int64:
			switch kind {
			case stocklake.KindTimestampMicros:
				t = time.UnixMicro(x).UTC()
			case stocklake.KindTimestampMillis:
				t = time.UnixMilli(x).UTC()
			default:
				t, ok = parseEventTime(json.Number(strconv.FormatInt(x, 10)))
			}
		case string:
			t, ok = parseEventTime(x)
		default:
			ok = false
		}
		if !ok {
			return nil, t, fmt.Errorf("event-time field %q value %v is not a time: %w", field, v, stocklake.ErrInvalid)
		}
	}
	return rec, t, nil
}

// microsFields is fs as an Iceberg table holds them: timestamp-millis
// fields made timestamp-micros (Iceberg timestamps are µs; scaleMillis
// converts the values) and records without fields made strings ("{}", as
// the Iceberg type registry tables give them, so that the table's schema
// reads back as the same fields); fs itself when it has neither.
func microsFields(fs []stocklake.Field) []stocklake.Field {
	out, _ := microsChanged(fs)
	return out
}

func microsChanged(fs []stocklake.Field) ([]stocklake.Field, bool) {
	var out []stocklake.Field
	for i, f := range fs {
		if t, ok := microsType(f.Type); ok {
			if out == nil {
				out = slices.Clone(fs)
			}
			out[i].Type = t
		}
	}
	if out == nil {
		return fs, false
	}
	return out, true
}

func microsType(t *stocklake.FieldType) (*stocklake.FieldType, bool) {
	switch t.Kind {
	case stocklake.KindTimestampMillis:
		c := *t
		c.Kind = stocklake.KindTimestampMicros
		return &c, true
	case stocklake.KindRecord:
		if len(t.Fields) == 0 {
			c := *t
			c.Kind = stocklake.KindString
			return &c, true
		}
		if fs, ok := microsChanged(t.Fields); ok {
			c := *t
			c.Fields = fs
			return &c, true
		}
	case stocklake.KindList, stocklake.KindMap:
		if e, ok := microsType(t.Elem); ok {
			c := *t
			c.Elem = e
			return &c, true
		}
	}
	return t, false
}

// scaleMillis makes the timestamp-millis values of rec, a record of
// fields, microseconds.
func scaleMillis(fields []stocklake.Field, rec map[string]any) {
	for _, f := range fields {
		if v, ok := rec[f.Name]; ok && v != nil && hasMillis(f.Type) {
			rec[f.Name] = scaleValue(f.Type, v)
		}
	}
}

func hasMillis(t *stocklake.FieldType) bool {
	_, ok := microsType(t)
	return ok
}

func scaleValue(t *stocklake.FieldType, v any) any {
	switch x := v.(type) {
	case int64:
		if t.Kind == stocklake.KindTimestampMillis {
			return x * 1000
		}
	case map[string]any:
		if t.Kind == stocklake.KindRecord {
			scaleMillis(t.Fields, x)
		} else if t.Kind == stocklake.KindMap {
			for k, e := range x {
				if e != nil {
					x[k] = scaleValue(t.Elem, e)
				}
			}
		}
	case []any:
		for i, e := range x {
			if e != nil {
				x[i] = scaleValue(t.Elem, e)
			}
		}
	}
	return v
}
