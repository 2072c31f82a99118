package crawler

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
	"github.com/stocklake/stocklake"
)

// parquetTail is how much of a Parquet file's end is read in the first
// request; footers of files with a few dozen columns fit, others take a
// second request.
const parquetTail = 64 << 10

// parquetMagic starts and ends every Parquet file.
const parquetMagic = "PAR1"

// parquetFooter reads only the footer of a Parquet object, with one or two
// ranged reads, and returns its schema as a struct type and its row count.
func parquetFooter(ctx context.Context, store stocklake.ObjectStore, key string, size int64) (*dtype, int64, error) {
	if size < 12 {
		return nil, 0, fmt.Errorf("%d bytes is too short for Parquet", size)
	}
	n := min(size, parquetTail)
	tail, err := store.GetRange(ctx, key, size-n, n)
	if err != nil {
		return nil, 0, err
	}
	if int64(len(tail)) != n {
		return nil, 0, fmt.Errorf("short read of the Parquet footer: got %d of %d bytes (was the file replaced while crawling?)", len(tail), n)
	}
	switch string(tail[n-4:]) {
	case parquetMagic:
	case "PARE":
		return nil, 0, errors.New("encrypted Parquet footer: not supported")
	default:
		return nil, 0, errors.New("no Parquet magic at the end of the file (incomplete upload?)")
	}
	flen := int64(binary.LittleEndian.Uint32(tail[n-8 : n-4]))
	if flen <= 0 || flen+12 > size {
		return nil, 0, fmt.Errorf("Parquet footer length %d does not fit a %d-byte file", flen, size)
	}
	var footer []byte
	if flen+8 <= n {
		footer = tail[n-8-flen : n-8]
	} else {
		footer, err = store.GetRange(ctx, key, size-8-flen, flen)
		if err != nil {
			return nil, 0, err
		}
		if int64(len(footer)) != flen {
			return nil, 0, fmt.Errorf("short read of the Parquet footer: got %d of %d bytes", len(footer), flen)
		}
	}
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer, &md); err != nil {
		return nil, 0, fmt.Errorf("corrupt Parquet footer: %w", err)
	}
	t, err := parquetSchema(md.Schema)
	if err != nil {
		return nil, 0, err
	}
	return t, md.NumRows, nil
}

// pnode is a Parquet schema element with its children, rebuilt from the
// footer's flat depth-first list.
type pnode struct {
	el       *format.SchemaElement
	children []*pnode
}

func (n *pnode) repeated() bool {
	r, ok := n.el.RepetitionType.Get()
	return ok && r == format.Repeated
}

func (n *pnode) converted() (deprecated.ConvertedType, bool) { return n.el.ConvertedType.Get() }

func buildTree(elems []format.SchemaElement, i *int, depth int) (*pnode, error) {
	if *i >= len(elems) {
		return nil, errors.New("corrupt Parquet schema: fewer elements than its groups claim")
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("Parquet schema nested deeper than %d levels", maxDepth)
	}
	n := &pnode{el: &elems[*i]}
	*i++
	kids, _ := n.el.NumChildren.Get()
	if _, isLeaf := n.el.Type.Get(); isLeaf && kids == 0 {
		return n, nil
	}
	if kids < 0 || int(kids) > len(elems) {
		return nil, fmt.Errorf("corrupt Parquet schema: %d children", kids)
	}
	for range kids {
		c, err := buildTree(elems, i, depth+1)
		if err != nil {
			return nil, err
		}
		n.children = append(n.children, c)
	}
	return n, nil
}

// parquetSchema maps a Parquet schema to a struct of Glue/Hive types.
func parquetSchema(elems []format.SchemaElement) (*dtype, error) {
	if len(elems) == 0 {
		return nil, errors.New("Parquet footer without a schema")
	}
	i := 0
	root, err := buildTree(elems, &i, 0)
	if err != nil {
		return nil, err
	}
	if i != len(elems) {
		return nil, fmt.Errorf("corrupt Parquet schema: %d elements outside the root", len(elems)-i)
	}
	t := &dtype{kind: kStruct}
	for _, c := range root.children {
		t.fields = append(t.fields, field{name: c.el.Name, t: parquetType(c)})
	}
	if len(t.fields) == 0 {
		return nil, errors.New("Parquet schema has no columns")
	}
	return t, nil
}

// parquetType maps one schema node, honouring its repetition.
func parquetType(n *pnode) *dtype {
	t := parquetBase(n)
	if n.repeated() {
		return &dtype{kind: kArray, elem: t}
	}
	return t
}

// parquetBase maps a node ignoring its own repetition, following the LIST
// and MAP backward-compatibility rules of the Parquet format spec.
func parquetBase(n *pnode) *dtype {
	if len(n.children) == 0 {
		return parquetLeaf(n.el)
	}
	ct, hasCT := n.converted()
	lt := n.el.LogicalType.Value
	_, isList := lt.(*format.ListType)
	_, isMap := lt.(*format.MapType)
	isList = isList || hasCT && ct == deprecated.List
	isMap = isMap || hasCT && (ct == deprecated.Map || ct == deprecated.MapKeyValue)

	if isList && len(n.children) == 1 && n.children[0].repeated() {
		rep := n.children[0]
		if len(rep.children) == 1 && rep.el.Name != "array" && rep.el.Name != n.el.Name+"_tuple" {
			// Three levels: list > repeated group list > element.
			return &dtype{kind: kArray, elem: parquetType(rep.children[0])}
		}
		// Two levels: the repeated field is the element.
		return &dtype{kind: kArray, elem: parquetBase(rep)}
	}
	if isMap && len(n.children) == 1 && len(n.children[0].children) == 2 {
		kv := n.children[0]
		return &dtype{kind: kMap, key: parquetType(kv.children[0]), elem: parquetType(kv.children[1])}
	}
	t := &dtype{kind: kStruct}
	for _, c := range n.children {
		t.fields = append(t.fields, field{name: c.el.Name, t: parquetType(c)})
	}
	return t
}

// parquetLeaf maps a primitive column: its logical type first, then the
// legacy converted type, then the physical type.
func parquetLeaf(el *format.SchemaElement) *dtype {
	phys, _ := el.Type.Get()
	decimal := func(p, s int32) *dtype { return other(fmt.Sprintf("decimal(%d,%d)", p, s)) }
	switch lt := el.LogicalType.Value.(type) {
	case *format.StringType, *format.EnumType, *format.JsonType:
		return tString
	case *format.DateType:
		return tDate
	case *format.TimestampType:
		return tTimestamp
	case *format.DecimalType:
		return decimal(lt.Precision, lt.Scale)
	case *format.IntType:
		switch {
		case lt.BitWidth <= 8 && lt.IsSigned:
			return other("tinyint")
		case lt.BitWidth <= 8, lt.BitWidth <= 16 && lt.IsSigned:
			return other("smallint")
		case lt.BitWidth <= 16, lt.BitWidth <= 32 && lt.IsSigned:
			return tInt
		}
		return tBigint
	case *format.TimeType:
		// Hive has no time of day: Glue reads it as the underlying integer.
		if phys == format.Int32 {
			return tInt
		}
		return tBigint
	case *format.Float16Type:
		return other("float")
	case *format.NullType:
		return tNull
	}
	if ct, ok := el.ConvertedType.Get(); ok {
		switch ct {
		case deprecated.UTF8, deprecated.Enum, deprecated.Json:
			return tString
		case deprecated.Date:
			return tDate
		case deprecated.TimestampMillis, deprecated.TimestampMicros:
			return tTimestamp
		case deprecated.Decimal:
			p, _ := el.Precision.Get()
			s, _ := el.Scale.Get()
			return decimal(p, s)
		case deprecated.Int8:
			return other("tinyint")
		case deprecated.Int16, deprecated.Uint8:
			return other("smallint")
		case deprecated.Int32, deprecated.Uint16, deprecated.TimeMillis:
			return tInt
		case deprecated.Int64, deprecated.Uint32, deprecated.Uint64, deprecated.TimeMicros:
			return tBigint
		}
	}
	switch phys {
	case format.Boolean:
		return tBoolean
	case format.Int32:
		return tInt
	case format.Int64:
		return tBigint
	case format.Int96:
		return tTimestamp
	case format.Float:
		return other("float")
	case format.Double:
		return tDouble
	}
	return other("binary")
}

// lowerNames lower-cases struct field names recursively: Glue stores
// Parquet column names in lower case and the Parquet SerDe matches them
// case-insensitively.
func lowerNames(t *dtype) *dtype {
	if t == nil {
		return t
	}
	switch t.kind {
	case kStruct:
		out := &dtype{kind: kStruct, fields: make([]field, len(t.fields))}
		for i, f := range t.fields {
			out.fields[i] = field{name: strings.ToLower(f.name), t: lowerNames(f.t)}
		}
		return out
	case kArray:
		return &dtype{kind: kArray, elem: lowerNames(t.elem)}
	case kMap:
		return &dtype{kind: kMap, key: lowerNames(t.key), elem: lowerNames(t.elem)}
	}
	return t
}
