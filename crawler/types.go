package crawler

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/stocklake/stocklake/hive"
)

// kind is a node of the type lattice the crawler infers and widens.
type kind uint8

const (
	kNull      kind = iota // only nulls seen so far
	kBoolean               // true/false
	kInt                   // integers that fit 32 bits
	kBigint                // integers that fit 64 bits
	kDouble                // other numbers
	kDate                  // strings that all parse as yyyy-mm-dd
	kTimestamp             // strings that all parse as timestamps
	kString                // anything else
	kArray                 // array<elem>
	kMap                   // map<key,elem>
	kStruct                // struct<fields>
	kOther                 // a Hive type kept verbatim: float, decimal(p,s), binary, tinyint, ...
)

// dtype is an inferred column type.
type dtype struct {
	kind   kind
	name   string  // kOther: the Hive type name
	key    *dtype  // kMap
	elem   *dtype  // kArray, kMap
	fields []field // kStruct, in first-seen order
}

type field struct {
	name string // as found in the data
	t    *dtype
}

var (
	tNull      = &dtype{kind: kNull}
	tBoolean   = &dtype{kind: kBoolean}
	tInt       = &dtype{kind: kInt}
	tBigint    = &dtype{kind: kBigint}
	tDouble    = &dtype{kind: kDouble}
	tDate      = &dtype{kind: kDate}
	tTimestamp = &dtype{kind: kTimestamp}
	tString    = &dtype{kind: kString}
)

func other(name string) *dtype { return &dtype{kind: kOther, name: name} }

// numericRank orders the number types for widening; 0 means not a number.
func numericRank(t *dtype) int {
	switch t.kind {
	case kInt:
		return 3
	case kBigint:
		return 4
	case kDouble:
		return 6
	case kOther:
		switch t.name {
		case "tinyint":
			return 1
		case "smallint":
			return 2
		case "float":
			return 5
		}
		if strings.HasPrefix(t.name, "decimal") {
			return 5
		}
	}
	return 0
}

// widen returns the narrowest type that holds values of both a and b:
// null < boolean, int < bigint < double, date, timestamp < string; arrays
// and maps widen their elements, structs merge their fields. Types with no
// common type other than text (a boolean and a number, a date and a
// timestamp, a struct and a number) widen to string, which every SerDe
// reads.
func widen(a, b *dtype) *dtype {
	switch {
	case a == nil || a.kind == kNull:
		if b == nil {
			return tNull
		}
		return b
	case b == nil || b.kind == kNull:
		return a
	case a.kind == kString || b.kind == kString:
		return tString
	}
	if a.kind == b.kind {
		switch a.kind {
		case kArray:
			return &dtype{kind: kArray, elem: widen(a.elem, b.elem)}
		case kMap:
			return &dtype{kind: kMap, key: widen(a.key, b.key), elem: widen(a.elem, b.elem)}
		case kStruct:
			return mergeStructs(a, b)
		case kOther:
			if a.name == b.name {
				return a
			}
		default:
			return a
		}
	}
	ra, rb := numericRank(a), numericRank(b)
	if ra > 0 && rb > 0 {
		hi := a
		if rb > ra {
			hi = b
		}
		switch {
		case ra == 5 && rb == 5, hi.kind == kOther && hi.name != "tinyint" && hi.name != "smallint":
			// float with decimal, or either with an integer: only double holds both.
			return tDouble
		}
		return hi
	}
	return tString
}

// mergeStructs unions the fields of two structs, matching names
// case-insensitively (as Hive does) and keeping a's order first. Fields
// of one struct whose names differ only in case (a catalog may hold such a
// type) merge too, so that the result does not depend on the order of a
// and b.
func mergeStructs(a, b *dtype) *dtype {
	out := &dtype{kind: kStruct, fields: make([]field, 0, len(a.fields)+len(b.fields))}
	index := make(map[string]int, cap(out.fields))
	for _, fs := range [2][]field{a.fields, b.fields} {
		for _, f := range fs {
			k := strings.ToLower(f.name)
			if i, ok := index[k]; ok {
				out.fields[i].t = widen(out.fields[i].t, f.t)
				continue
			}
			index[k] = len(out.fields)
			out.fields = append(out.fields, f)
		}
	}
	return out
}

// scalarNames are the Hive names of the lattice's scalar kinds;
// scalarTypes reads them back ("integer" too).
var (
	scalarNames = map[kind]string{kBoolean: "boolean", kInt: "int", kBigint: "bigint", kDouble: "double",
		kDate: "date", kTimestamp: "timestamp", kString: "string"}
	scalarTypes = map[string]*dtype{"boolean": tBoolean, "int": tInt, "integer": tInt, "bigint": tBigint, "double": tDouble,
		"date": tDate, "timestamp": tTimestamp, "string": tString}
)

// hive renders t as a Glue/Hive type name (hive.Type.String). Columns
// that were always null become string, as in Glue; a kOther type is its
// name, also when that is text kept verbatim.
func (t *dtype) hive() string {
	if t != nil && t.kind == kOther {
		return t.name
	}
	return t.toHive().String()
}

// toHive is t as a hive.Type: null and empty structs (Hive has none; the
// raw JSON text is kept) become string, struct field names become unique
// Hive identifiers.
func (t *dtype) toHive() hive.Type {
	if t == nil {
		return hive.Type{Name: "string"}
	}
	if n, ok := scalarNames[t.kind]; ok {
		return hive.Type{Name: n}
	}
	switch t.kind {
	case kOther:
		if ht, err := hive.ParseType(t.name); err == nil {
			return ht
		}
		return hive.Type{Name: t.name} // kept verbatim
	case kArray:
		return hive.Type{Name: "array", Elems: []hive.Type{t.elem.toHive()}}
	case kMap:
		return hive.Type{Name: "map", Elems: []hive.Type{t.key.toHive(), t.elem.toHive()}}
	case kStruct:
		if len(t.fields) == 0 {
			break
		}
		ht := hive.Type{Name: "struct"}
		seen := make(map[string]bool, len(t.fields))
		for i, f := range t.fields {
			ht.Fields = append(ht.Fields, uniqueName(identifier(f.name, i), seen))
			ht.Elems = append(ht.Elems, f.t.toHive())
		}
		return ht
	}
	return hive.Type{Name: "string"}
}

// identifier turns a name from the data into a Hive/Athena identifier:
// lower case, with every character other than a-z, 0-9 and '_' replaced by
// '_'. An empty name becomes col<i>.
func identifier(name string, i int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(name)) {
		if r == '_' || r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "col" + strconv.Itoa(i)
	}
	return b.String()
}

// uniqueName returns n, or n_2, n_3... when n is already in seen, and adds
// the result to seen.
func uniqueName(n string, seen map[string]bool) string {
	out := n
	for i := 2; seen[out]; i++ {
		out = n + "_" + strconv.Itoa(i)
	}
	seen[out] = true
	return out
}

// parseHive reads a Glue/Hive type name, as stored in a catalog, so that
// an existing table's columns can be widened with newly inferred types.
// Types outside the crawler's lattice (float, decimal(p,s), varchar(n),
// timestamp(3), ...) are kept as kOther in hive.Type.String form; text
// hive.ParseType does not accept is kept verbatim (lower-cased).
func parseHive(s string) *dtype {
	ht, err := hive.ParseType(s)
	if err != nil {
		return other(strings.ToLower(strings.TrimSpace(s)))
	}
	return fromHive(ht)
}

func fromHive(ht hive.Type) *dtype {
	if d, ok := scalarTypes[ht.Name]; ok && len(ht.Params) == 0 && ht.Zone == "" {
		return d
	}
	switch ht.Name {
	case "array":
		return &dtype{kind: kArray, elem: fromHive(ht.Elems[0])}
	case "map":
		return &dtype{kind: kMap, key: fromHive(ht.Elems[0]), elem: fromHive(ht.Elems[1])}
	case "struct":
		t := &dtype{kind: kStruct}
		for i, f := range ht.Fields {
			t.fields = append(t.fields, field{name: f, t: fromHive(ht.Elems[i])})
		}
		return t
	}
	return other(ht.String())
}
