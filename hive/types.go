package hive

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stocklake/stocklake"
)

// Type is a parsed Hive column type, as Glue and the Hive metastore store
// it: "bigint", "decimal(10,2)", "array<string>",
// "struct<a:int,b:map<string,double>>". Engines render it in their own
// dialect from this tree.
type Type struct {
	// Name is the lower-case base name: boolean, tinyint, smallint, int,
	// bigint, float, double, decimal, string, char, varchar, binary, date,
	// timestamp, array, map, struct, uniontype, "interval day to second",
	// or any other name, kept as written (lower-cased). The synonyms
	// "double precision" and "character varying" are read as double and
	// varchar; "integer" is kept as written.
	Name string
	// Params are the numeric parameters: decimal(p,s), char(n),
	// varchar(n), timestamp(p).
	Params []int
	// Elems are the element types: array [elem], map [key, value], struct
	// the field types (parallel to Fields), uniontype its members.
	Elems []Type
	// Fields are a struct's field names, as written (case kept).
	Fields []string
	// Zone is "with time zone" or "with local time zone" after time or
	// timestamp, else "".
	Zone string
}

// Complex reports whether t is an array, map, struct or uniontype.
func (t Type) Complex() bool {
	switch t.Name {
	case "array", "map", "struct", "uniontype":
		return true
	}
	return false
}

// ParseType parses a Hive type name. Names are case-insensitive; spaces,
// tabs and newlines may separate tokens; struct field names may be quoted
// with backticks or double quotes (a doubled quote inside stands for one).
// An error wraps stocklake.ErrInvalid.
func ParseType(s string) (Type, error) {
	p := typeParser{s: s}
	t, err := p.typ()
	if err == nil && p.peek() != 0 {
		err = fmt.Errorf("unexpected %q at offset %d", p.s[p.i:], p.i)
	}
	if err != nil {
		return Type{}, fmt.Errorf("column type %q: %w: %w", s, err, stocklake.ErrInvalid)
	}
	return t, nil
}

// String renders t in Hive syntax, as Glue stores it: lower-case names, no
// spaces inside <> and (), struct field names quoted with backticks only
// when they need it. ParseType(t.String()) gives t back.
func (t Type) String() string {
	var b strings.Builder
	t.write(&b)
	return b.String()
}

func (t Type) write(b *strings.Builder) {
	b.WriteString(t.Name)
	switch t.Name {
	case "array", "map", "uniontype":
		b.WriteByte('<')
		for i, e := range t.Elems {
			if i > 0 {
				b.WriteByte(',')
			}
			e.write(b)
		}
		b.WriteByte('>')
		return
	case "struct":
		b.WriteByte('<')
		for i, e := range t.Elems {
			if i > 0 {
				b.WriteByte(',')
			}
			writeFieldName(b, t.Fields[i])
			b.WriteByte(':')
			e.write(b)
		}
		b.WriteByte('>')
		return
	}
	if len(t.Params) > 0 {
		b.WriteByte('(')
		for i, n := range t.Params {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(n))
		}
		b.WriteByte(')')
	}
	if t.Zone != "" {
		b.WriteByte(' ')
		b.WriteString(t.Zone)
	}
}

func writeFieldName(b *strings.Builder, name string) {
	plain := name != ""
	for i := 0; i < len(name) && plain; i++ {
		plain = !isDelim(name[i]) && name[i] != '`' && name[i] != '"'
	}
	if plain {
		b.WriteString(name)
		return
	}
	b.WriteByte('`')
	b.WriteString(strings.ReplaceAll(name, "`", "``"))
	b.WriteByte('`')
}

// isDelim reports whether c ends a name: punctuation of the grammar or
// white space.
func isDelim(c byte) bool {
	switch c {
	case '<', '>', '(', ')', ',', ':', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

type typeParser struct {
	s string
	i int
}

func (p *typeParser) peek() byte {
	for p.i < len(p.s) && strings.IndexByte(" \t\n\r", p.s[p.i]) >= 0 {
		p.i++
	}
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *typeParser) expect(c byte) error {
	if p.peek() != c {
		if p.i >= len(p.s) {
			return fmt.Errorf("expected %q at the end", c)
		}
		return fmt.Errorf("expected %q at offset %d, found %q", c, p.i, p.s[p.i])
	}
	p.i++
	return nil
}

// word reads a name: a run of bytes up to punctuation, white space or a
// quote, or, when quoted is set (struct field names), a name quoted with
// backticks or double quotes.
func (p *typeParser) word(quoted bool) (string, error) {
	c := p.peek()
	if quoted && (c == '`' || c == '"') {
		var b strings.Builder
		for p.i++; p.i < len(p.s); p.i++ {
			if p.s[p.i] == c {
				if p.i+1 < len(p.s) && p.s[p.i+1] == c {
					b.WriteByte(c)
					p.i++
					continue
				}
				p.i++
				return b.String(), nil
			}
			b.WriteByte(p.s[p.i])
		}
		return "", fmt.Errorf("unterminated quoted name")
	}
	start := p.i
	for p.i < len(p.s) && !isDelim(p.s[p.i]) && p.s[p.i] != '`' && p.s[p.i] != '"' {
		p.i++
	}
	if start == p.i {
		if p.i >= len(p.s) {
			return "", fmt.Errorf("expected a name at the end")
		}
		return "", fmt.Errorf("expected a name at offset %d, found %q", p.i, p.s[p.i])
	}
	return p.s[start:p.i], nil
}

// words reads the next words if they are want (lower-case, space
// separated), else leaves the position unchanged.
func (p *typeParser) words(want string) bool {
	save := p.i
	for w := range strings.SplitSeq(want, " ") {
		got, err := p.word(false)
		if err != nil || !strings.EqualFold(got, w) {
			p.i = save
			return false
		}
	}
	return true
}

func (p *typeParser) typ() (Type, error) {
	name, err := p.word(false)
	if err != nil {
		return Type{}, err
	}
	t := Type{Name: strings.ToLower(name)}
	switch t.Name {
	case "double":
		p.words("precision")
	case "character":
		if p.words("varying") {
			t.Name = "varchar"
		}
	case "interval":
		for _, q := range []string{"year to month", "day to second"} {
			if p.words(q) {
				t.Name += " " + q
				break
			}
		}
	case "array", "map", "uniontype":
		if err := p.expect('<'); err != nil {
			return t, err
		}
		for {
			e, err := p.typ()
			if err != nil {
				return t, err
			}
			t.Elems = append(t.Elems, e)
			if p.peek() != ',' {
				break
			}
			p.i++
		}
		if err := p.expect('>'); err != nil {
			return t, err
		}
		switch {
		case t.Name == "array" && len(t.Elems) != 1:
			return t, fmt.Errorf("array needs one element type, has %d", len(t.Elems))
		case t.Name == "map" && len(t.Elems) != 2:
			return t, fmt.Errorf("map needs a key and a value type, has %d types", len(t.Elems))
		}
		return t, nil
	case "struct":
		if err := p.expect('<'); err != nil {
			return t, err
		}
		for p.peek() != '>' {
			if len(t.Fields) > 0 {
				if err := p.expect(','); err != nil {
					return t, err
				}
			}
			f, err := p.word(true)
			if err != nil {
				return t, err
			}
			if err := p.expect(':'); err != nil {
				return t, err
			}
			e, err := p.typ()
			if err != nil {
				return t, err
			}
			t.Fields = append(t.Fields, f)
			t.Elems = append(t.Elems, e)
		}
		p.i++
		return t, nil
	}
	if p.peek() == '(' {
		p.i++
		for {
			w, err := p.word(false)
			if err != nil {
				return t, err
			}
			n, err := strconv.Atoi(w)
			if err != nil || n < 0 {
				return t, fmt.Errorf("type parameter %q of %s is not a whole number", w, t.Name)
			}
			t.Params = append(t.Params, n)
			if p.peek() != ',' {
				break
			}
			p.i++
		}
		if err := p.expect(')'); err != nil {
			return t, err
		}
	}
	if t.Name == "time" || t.Name == "timestamp" {
		for _, z := range []string{"with time zone", "with local time zone"} {
			if p.words(z) {
				t.Zone = z
				break
			}
		}
	}
	return t, nil
}
