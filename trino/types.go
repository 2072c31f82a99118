package trino

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	trinoclient "github.com/trinodb/trino-go-client/trino"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
	"github.com/stocklake/stocklake/sqltext"
)

// hiveToTrino translates a Glue/Hive column type (string, int,
// array<struct<a:int>>, decimal(10,2), ...) to the Trino type that the Hive
// connector maps it to, for CREATE TABLE. Timestamps get tsPrecision, which
// must be the server's hive.timestamp-precision.
func hiveToTrino(typ string, tsPrecision int) (string, error) {
	t, err := hive.ParseType(typ)
	if err != nil {
		return "", err
	}
	s, err := trinoDDL(t, tsPrecision)
	if err != nil {
		return "", fmt.Errorf("column type %q: %v: %w", typ, err, stocklake.ErrInvalid)
	}
	return s, nil
}

// trinoDDL renders a Hive type as a Trino type.
func trinoDDL(t hive.Type, tsPrecision int) (string, error) {
	param := func(i int) string { return strconv.Itoa(t.Params[i]) }
	switch t.Name {
	case "string":
		return "varchar", nil
	case "varchar", "char":
		if len(t.Params) == 1 {
			return t.Name + "(" + param(0) + ")", nil
		}
		return "varchar", nil
	case "int", "integer":
		return "integer", nil
	case "tinyint", "smallint", "bigint", "boolean", "double", "date":
		return t.Name, nil
	case "float", "real":
		return "real", nil
	case "timestamp":
		// The connector stores a Hive timestamp and reads it at
		// hive.timestamp-precision, which CREATE TABLE must repeat.
		return "timestamp(" + strconv.Itoa(tsPrecision) + ")", nil
	case "decimal", "numeric":
		switch len(t.Params) {
		case 0:
			return "decimal(10,0)", nil // Hive's default
		case 1:
			return "decimal(" + param(0) + ",0)", nil
		default:
			return "decimal(" + param(0) + "," + param(1) + ")", nil
		}
	case "binary", "varbinary":
		return "varbinary", nil
	case "array":
		e, err := trinoDDL(t.Elems[0], tsPrecision)
		if err != nil {
			return "", err
		}
		return "array(" + e + ")", nil
	case "map":
		k, err := trinoDDL(t.Elems[0], tsPrecision)
		if err != nil {
			return "", err
		}
		v, err := trinoDDL(t.Elems[1], tsPrecision)
		if err != nil {
			return "", err
		}
		return "map(" + k + ", " + v + ")", nil
	case "struct":
		if len(t.Elems) == 0 {
			return "", fmt.Errorf("struct needs at least one field")
		}
		parts := make([]string, len(t.Elems))
		for i, a := range t.Elems {
			s, err := trinoDDL(a, tsPrecision)
			if err != nil {
				return "", err
			}
			parts[i] = sqltext.QuoteIdent(t.Fields[i]) + " " + s
		}
		return "row(" + strings.Join(parts, ", ") + ")", nil
	}
	return "", fmt.Errorf("type %s has no Trino equivalent in the Hive connector", t.Name)
}

// sqlType is a parsed Trino type: a name, type arguments (array element,
// map key and value, row fields) and numeric parameters.
type sqlType struct {
	name   string     // lowercase base name: varchar, array, map, row, timestamp, ...
	params []string   // numeric parameters: (10,2), (6), varchar(3)
	args   []*sqlType // element types
	fields []string   // row/struct field names, parallel to args
	suffix string     // "with time zone"
}

// typeParser parses Trino type signatures (array(integer), row(a integer,
// b varchar), map(varchar, integer), timestamp(6) with time zone). Hive
// type names are parsed by hive.ParseType.
type typeParser struct {
	s   string
	pos int
}

func (p *typeParser) parse() (*sqlType, error) {
	t, err := p.typ()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.s) {
		return nil, fmt.Errorf("unexpected %q at offset %d", p.s[p.pos:], p.pos)
	}
	return t, nil
}

func (p *typeParser) space() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n') {
		p.pos++
	}
}

func (p *typeParser) peek() byte {
	p.space()
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func (p *typeParser) expect(c byte) error {
	if p.peek() != c {
		if p.pos >= len(p.s) {
			return fmt.Errorf("expected %q at the end", c)
		}
		return fmt.Errorf("expected %q at offset %d, found %q", c, p.pos, p.s[p.pos])
	}
	p.pos++
	return nil
}

// word reads an identifier, a number or a double-quoted identifier.
func (p *typeParser) word() (string, error) {
	p.space()
	if p.pos < len(p.s) && (p.s[p.pos] == '"' || p.s[p.pos] == '`') {
		q := p.s[p.pos]
		var b strings.Builder
		p.pos++
		for p.pos < len(p.s) {
			c := p.s[p.pos]
			p.pos++
			if c == q {
				if p.pos < len(p.s) && p.s[p.pos] == q {
					b.WriteByte(q)
					p.pos++
					continue
				}
				return b.String(), nil
			}
			b.WriteByte(c)
		}
		return "", fmt.Errorf("unterminated quoted name")
	}
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			p.pos++
			continue
		}
		break
	}
	if start == p.pos {
		if p.pos >= len(p.s) {
			return "", fmt.Errorf("expected a name at the end")
		}
		return "", fmt.Errorf("expected a name at offset %d, found %q", p.pos, p.s[p.pos])
	}
	return p.s[start:p.pos], nil
}

func (p *typeParser) typ() (*sqlType, error) {
	name, err := p.word()
	if err != nil {
		return nil, err
	}
	t := &sqlType{name: strings.ToLower(name)}
	// Multi-word names: double precision, character varying.
	if next, ok := map[string]string{"double": "precision", "character": "varying"}[t.name]; ok {
		save := p.pos
		if w, err := p.word(); err == nil && strings.EqualFold(w, next) {
			if t.name == "character" {
				t.name = "varchar"
			}
		} else {
			p.pos = save
		}
	}
	if t.name == "interval" {
		rest, err := p.words(3) // year to month | day to second
		if err != nil {
			return nil, err
		}
		t.name += " " + rest
		return t, nil
	}
	if p.peek() == '(' {
		p.pos++
		switch t.name {
		case "array", "map":
			for {
				a, err := p.typ()
				if err != nil {
					return nil, err
				}
				t.args = append(t.args, a)
				if p.peek() != ',' {
					break
				}
				p.pos++
			}
		case "row":
			for {
				f, err := p.word()
				if err != nil {
					return nil, err
				}
				a, err := p.typ()
				if err != nil {
					return nil, err
				}
				t.fields = append(t.fields, f)
				t.args = append(t.args, a)
				if p.peek() != ',' {
					break
				}
				p.pos++
			}
		default:
			for {
				n, err := p.word()
				if err != nil {
					return nil, err
				}
				t.params = append(t.params, n)
				if p.peek() != ',' {
					break
				}
				p.pos++
			}
		}
		if err := p.expect(')'); err != nil {
			return nil, err
		}
	}
	if t.name == "time" || t.name == "timestamp" {
		save := p.pos
		if w, err := p.words(3); err == nil && strings.EqualFold(w, "with time zone") {
			t.suffix = "with time zone"
		} else {
			p.pos = save
		}
	}
	return t, nil
}

// words reads n space-separated words and joins them with single spaces.
func (p *typeParser) words(n int) (string, error) {
	ws := make([]string, n)
	for i := range ws {
		w, err := p.word()
		if err != nil {
			return "", err
		}
		ws[i] = strings.ToLower(w)
	}
	return strings.Join(ws, " "), nil
}

// parseTrinoType parses a Trino type signature as the server reports it.
func parseTrinoType(s string) (*sqlType, error) {
	p := &typeParser{s: s}
	return p.parse()
}

// resultType is the ResultColumn type for a Trino type: the Trino name in
// lowercase, as Athena reports it, with varchar and char lengths dropped
// (varchar(3) -> varchar) and other parameters kept (decimal(10,2),
// timestamp(6)).
func (t *sqlType) resultType() string {
	var b strings.Builder
	t.write(&b)
	return b.String()
}

func (t *sqlType) write(b *strings.Builder) {
	b.WriteString(t.name)
	switch {
	case t.name == "varchar" || t.name == "char":
	case t.name == "row":
		b.WriteByte('(')
		for i, a := range t.args {
			if i > 0 {
				b.WriteString(", ")
			}
			if t.fields[i] != "" {
				b.WriteString(t.fields[i])
				b.WriteByte(' ')
			}
			a.write(b)
		}
		b.WriteByte(')')
	case len(t.args) > 0:
		b.WriteByte('(')
		for i, a := range t.args {
			if i > 0 {
				b.WriteString(", ")
			}
			a.write(b)
		}
		b.WriteByte(')')
	case len(t.params) > 0:
		b.WriteString("(" + strings.Join(t.params, ",") + ")")
	}
	if t.suffix != "" {
		b.WriteString(" " + t.suffix)
	}
}

// convert turns a value from the Trino client into a Go value of the
// stocklake.Rows contract: nil, bool, int64, float64, string, []byte,
// time.Time, []any or map[string]any. Scalars arrive converted by the
// client; inside arrays, maps and rows they arrive as decoded JSON
// (json.Number, string) and are converted here by the column's type.
func convert(t *sqlType, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case trinoclient.Row:
		if !x.Valid {
			return nil, nil
		}
		m := make(map[string]any, x.Len())
		for i := range x.Len() {
			var ft *sqlType
			if t != nil && i < len(t.args) {
				ft = t.args[i]
			}
			cv, err := convert(ft, x.Value(i))
			if err != nil {
				return nil, err
			}
			m[x.Name(i)] = cv
		}
		return m, nil
	case []any:
		var et *sqlType
		if t != nil && t.name == "row" {
			// A row still in its JSON form: a list of field values.
			m := make(map[string]any, len(x))
			for i, fv := range x {
				name := "field" + strconv.Itoa(i)
				var ft *sqlType
				if i < len(t.args) {
					ft = t.args[i]
					if t.fields[i] != "" {
						name = t.fields[i]
					}
				}
				cv, err := convert(ft, fv)
				if err != nil {
					return nil, err
				}
				m[name] = cv
			}
			return m, nil
		}
		if t != nil && len(t.args) == 1 {
			et = t.args[0]
		}
		out := make([]any, len(x))
		for i, e := range x {
			cv, err := convert(et, e)
			if err != nil {
				return nil, err
			}
			out[i] = cv
		}
		return out, nil
	case map[string]any:
		var vt *sqlType
		if t != nil && len(t.args) == 2 {
			vt = t.args[1]
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			cv, err := convert(vt, e)
			if err != nil {
				return nil, err
			}
			out[k] = cv
		}
		return out, nil
	case json.Number:
		return convertNumber(t, x)
	case string:
		return convertString(t, x)
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case float32:
		return float64(x), nil
	case bool, int64, float64, []byte, time.Time:
		return x, nil
	}
	return nil, fmt.Errorf("trino: unexpected value %v (%T) for type %s", v, v, typeName(t))
}

func typeName(t *sqlType) string {
	if t == nil {
		return "unknown"
	}
	return t.resultType()
}

func convertNumber(t *sqlType, n json.Number) (any, error) {
	if t != nil {
		switch t.name {
		case "tinyint", "smallint", "integer", "bigint":
			return n.Int64()
		case "real", "double":
			return n.Float64()
		case "decimal", "number":
			return string(n), nil
		}
	}
	if i, err := n.Int64(); err == nil {
		return i, nil
	}
	return n.Float64()
}

func convertString(t *sqlType, s string) (any, error) {
	if t == nil {
		return s, nil
	}
	switch t.name {
	case "varbinary": // base64 in the client's JSON, not the hex of its text
		return base64.StdEncoding.DecodeString(s)
	case "real", "double", "tinyint", "smallint", "integer", "bigint", "date", "time", "timestamp":
		// Trino sends NaN and infinities as strings.
		return sqltext.ParseValue(s, t.name)
	}
	return s, nil
}
