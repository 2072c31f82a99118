package crawler

import (
	"strconv"
	"strings"
	"unicode"
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

// hive renders t as a Glue/Hive type name. Columns that were always null
// become string, as in Glue.
func (t *dtype) hive() string {
	var b strings.Builder
	t.writeHive(&b)
	return b.String()
}

func (t *dtype) writeHive(b *strings.Builder) {
	if t == nil {
		b.WriteString("string")
		return
	}
	switch t.kind {
	case kNull, kString:
		b.WriteString("string")
	case kBoolean:
		b.WriteString("boolean")
	case kInt:
		b.WriteString("int")
	case kBigint:
		b.WriteString("bigint")
	case kDouble:
		b.WriteString("double")
	case kDate:
		b.WriteString("date")
	case kTimestamp:
		b.WriteString("timestamp")
	case kOther:
		b.WriteString(t.name)
	case kArray:
		b.WriteString("array<")
		t.elem.writeHive(b)
		b.WriteByte('>')
	case kMap:
		b.WriteString("map<")
		t.key.writeHive(b)
		b.WriteByte(',')
		t.elem.writeHive(b)
		b.WriteByte('>')
	case kStruct:
		if len(t.fields) == 0 {
			// Hive has no empty struct; keep the raw JSON text.
			b.WriteString("string")
			return
		}
		b.WriteString("struct<")
		seen := make(map[string]bool, len(t.fields))
		for i, f := range t.fields {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(uniqueName(identifier(f.name, i), seen))
			b.WriteByte(':')
			f.t.writeHive(b)
		}
		b.WriteByte('>')
	}
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

// parseHive parses a Glue/Hive type name, as stored in a catalog, so that
// an existing table's columns can be widened with newly inferred types.
// Names it does not know are kept verbatim as kOther.
func parseHive(s string) *dtype {
	p := hiveParser{s: strings.TrimSpace(s)}
	t, ok := p.parse()
	if !ok || p.i != len(p.s) {
		return other(strings.ToLower(strings.TrimSpace(s)))
	}
	return t
}

type hiveParser struct {
	s string
	i int
}

func (p *hiveParser) skip() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *hiveParser) eat(c byte) bool {
	p.skip()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// word reads an identifier: a type name or a struct field name.
func (p *hiveParser) word() string {
	p.skip()
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune("<>,:() ", rune(p.s[p.i])) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *hiveParser) parse() (*dtype, bool) {
	w := strings.ToLower(p.word())
	switch w {
	case "":
		return nil, false
	case "boolean":
		return tBoolean, true
	case "int", "integer":
		return tInt, true
	case "bigint":
		return tBigint, true
	case "double":
		return tDouble, true
	case "string":
		return tString, true
	case "date":
		return tDate, true
	case "timestamp":
		return tTimestamp, true
	case "array":
		if !p.eat('<') {
			return nil, false
		}
		elem, ok := p.parse()
		if !ok || !p.eat('>') {
			return nil, false
		}
		return &dtype{kind: kArray, elem: elem}, true
	case "map":
		if !p.eat('<') {
			return nil, false
		}
		k, ok := p.parse()
		if !ok || !p.eat(',') {
			return nil, false
		}
		v, ok := p.parse()
		if !ok || !p.eat('>') {
			return nil, false
		}
		return &dtype{kind: kMap, key: k, elem: v}, true
	case "struct":
		if !p.eat('<') {
			return nil, false
		}
		t := &dtype{kind: kStruct}
		if p.eat('>') {
			return t, true
		}
		for {
			name := p.word()
			if name == "" || !p.eat(':') {
				return nil, false
			}
			ft, ok := p.parse()
			if !ok {
				return nil, false
			}
			t.fields = append(t.fields, field{name: name, t: ft})
			if p.eat('>') {
				return t, true
			}
			if !p.eat(',') {
				return nil, false
			}
		}
	}
	// decimal(p,s), char(n), varchar(n) and plain names such as float.
	if p.eat('(') {
		start := p.i
		for p.i < len(p.s) && p.s[p.i] != ')' {
			p.i++
		}
		if p.i == len(p.s) {
			return nil, false
		}
		args := strings.ReplaceAll(p.s[start:p.i], " ", "")
		p.i++
		return other(w + "(" + args + ")"), true
	}
	return other(w), true
}
