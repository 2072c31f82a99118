package crawler

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stocklake/stocklake"
)

// FuzzInferSample runs the crawler's schema inference on arbitrary sample
// bytes (as JSON and as delimited text, cut short or not, with the
// delimiter hints file names give) and parses an arbitrary Hive type name
// as a catalog holds it, then checks: nothing panics; inference is
// deterministic; every inferred column gets a non-empty, unique Hive
// identifier and a type the crawler knows, whose name parses back to
// itself; widen, on every pair of the types at hand, is commutative (up to
// struct field order), idempotent, has null as identity, absorbs (widening
// a result with either input changes nothing) and is associative; and
// merging a table with itself, or with a wider definition, never drops a
// column and only widens types. Seeds are in testdata/fuzz/FuzzInferSample.
func FuzzInferSample(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":"x"}`+"\n"+`{"a":2.5,"c":[1,2],"B":null}`+"\n"), false, byte(0), "struct<a:int,b:string>")
	f.Add([]byte("sym|px|n\nA|1.5|3\nB|2|\n"), false, byte(2), "map<string,array<double>>")
	f.Add([]byte("a,b\n1,2\n3,x"), true, byte(0), "decimal(10,2)")
	f.Fuzz(func(t *testing.T, data []byte, truncated bool, hint byte, hiveType string) {
		delim := []rune{0, '\t', '|'}[int(hint)%3] // what extHints returns
		var types []*dtype

		h := parseHive(hiveType)
		checkHiveStable(t, h)
		types = append(types, h)

		js, jerr := inferJSON(data, truncated, DefaultSampleRecords)
		js2, jerr2 := inferJSON(data, truncated, DefaultSampleRecords)
		if fmt.Sprint(jerr) != fmt.Sprint(jerr2) || canon(js.schema) != canon(js2.schema) ||
			js.records != js2.records || js.multiline != js2.multiline || js.array != js2.array {
			t.Fatalf("inferJSON is not deterministic: %+v (%v) then %+v (%v)", js, jerr, js2, jerr2)
		}
		if jerr == nil {
			if js.schema == nil || js.schema.kind != kStruct || js.records < 1 {
				t.Fatalf("inferJSON succeeded with schema %s from %d records", canon(js.schema), js.records)
			}
			checkColumns(t, stocklake.FormatJSON, js.schema)
			types = append(types, js.schema)
		}

		cs, cerr := inferCSV(data, truncated, delim, DefaultSampleRecords)
		cs2, cerr2 := inferCSV(data, truncated, delim, DefaultSampleRecords)
		if fmt.Sprint(cerr) != fmt.Sprint(cerr2) || fmt.Sprint(csvStruct(cs)) != fmt.Sprint(csvStruct(cs2)) ||
			canon(csvStruct(cs)) != canon(csvStruct(cs2)) || cs.delim != cs2.delim || cs.header != cs2.header ||
			cs.quoted != cs2.quoted || cs.records != cs2.records {
			t.Fatalf("inferCSV is not deterministic: %+v (%v) then %+v (%v)", cs, cerr, cs2, cerr2)
		}
		if cerr == nil {
			if len(cs.names) == 0 || len(cs.names) != len(cs.types) || cs.records < 0 ||
				!slices.Contains(append(slices.Clone(csvDelimiters), delim), cs.delim) || delim != 0 && cs.delim != delim {
				t.Fatalf("inferCSV: %d names, %d types, %d records, delimiter %q (hint %q)", len(cs.names), len(cs.types), cs.records, cs.delim, delim)
			}
			for i, n := range cs.names {
				if strings.TrimSpace(n) == "" || cs.types[i] == nil {
					t.Fatalf("inferCSV: column %d has name %q and type %v", i, n, cs.types[i])
				}
			}
			st := csvStruct(cs)
			checkColumns(t, stocklake.FormatCSV, st)
			types = append(types, st)
		}

		for _, a := range types {
			checkLaws(t, a, a)
			if got := widen(a, tNull); canon(got) != canon(a) {
				t.Fatalf("widen(%s, null) = %s", canon(a), canon(got))
			}
			if got := widen(nil, a); canon(got) != canon(a) {
				t.Fatalf("widen(nil, %s) = %s", canon(a), canon(got))
			}
			for _, b := range types {
				checkLaws(t, a, b)
				for _, c := range types {
					if x, y := widen(widen(a, b), c), widen(a, widen(b, c)); canon(x) != canon(y) {
						t.Fatalf("widen is not associative on %s, %s, %s: %s vs %s", canon(a), canon(b), canon(c), canon(x), canon(y))
					}
				}
			}
		}
		if jerr == nil && cerr == nil {
			checkMerge(t, stocklake.FormatJSON, js.schema, widen(js.schema, csvStruct(cs)))
		}
		if cerr == nil {
			checkMerge(t, stocklake.FormatCSV, csvStruct(cs), widenPositional(csvStruct(cs), csvStruct(cs)))
		}
	})
}

// csvStruct is the struct type the crawler builds from a CSV sample.
func csvStruct(cs csvSample) *dtype {
	st := &dtype{kind: kStruct}
	for i, n := range cs.names {
		st.fields = append(st.fields, field{name: n, t: cs.types[i]})
	}
	return st
}

// canon renders t with struct fields sorted by lower-case name, nulls
// distinct from strings and unknown types marked, so that types equal up
// to field order render the same.
func canon(t *dtype) string {
	if t == nil {
		return "nil"
	}
	switch t.kind {
	case kNull:
		return "null"
	case kOther:
		return "other(" + t.name + ")"
	case kArray:
		return "array<" + canon(t.elem) + ">"
	case kMap:
		return "map<" + canon(t.key) + "," + canon(t.elem) + ">"
	case kStruct:
		fs := slices.Clone(t.fields)
		slices.SortStableFunc(fs, func(a, b field) int { return strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name)) })
		var b strings.Builder
		b.WriteString("struct<")
		for i, f := range fs {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.ToLower(f.name) + ":" + canon(f.t))
		}
		b.WriteByte('>')
		return b.String()
	}
	return t.hive()
}

// checkHiveStable checks that t's Hive name parses back to itself.
func checkHiveStable(t *testing.T, d *dtype) {
	t.Helper()
	if h := d.hive(); parseHive(h).hive() != h {
		t.Fatalf("Hive type %q parses back as %q", h, parseHive(h).hive())
	}
}

// checkKnown checks that an inferred type holds no type the crawler does
// not know.
func checkKnown(t *testing.T, d *dtype) {
	t.Helper()
	switch {
	case d == nil:
		t.Fatal("nil type")
	case d.kind == kOther:
		t.Fatalf("inferred a type the crawler does not know: %q", d.name)
	case d.kind == kArray:
		checkKnown(t, d.elem)
	case d.kind == kMap:
		checkKnown(t, d.key)
		checkKnown(t, d.elem)
	case d.kind == kStruct:
		for _, f := range d.fields {
			checkKnown(t, f.t)
		}
	}
}

// columns names the columns of a file schema as define does.
func columns(schema *dtype) []stocklake.Column {
	var cols []stocklake.Column
	seen := map[string]bool{}
	for i, f := range schema.fields {
		cols = append(cols, stocklake.Column{Name: uniqueName(identifier(f.name, i), seen), Type: f.t.hive()})
	}
	return cols
}

// checkColumns checks the columns an inferred schema becomes.
func checkColumns(t *testing.T, format string, schema *dtype) {
	t.Helper()
	checkKnown(t, schema)
	seen := map[string]bool{}
	for _, c := range columns(schema) {
		if c.Name == "" || strings.Trim(c.Name, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" || seen[c.Name] {
			t.Fatalf("column name %q is empty, not a Hive identifier, or repeated", c.Name)
		}
		seen[c.Name] = true
		if c.Type == "" || parseHive(c.Type).kind == kOther || parseHive(c.Type).hive() != c.Type {
			t.Fatalf("column %s has type %q, which the crawler cannot read back", c.Name, c.Type)
		}
	}
}

// checkLaws checks widen on a and b: commutative up to field order,
// absorbing, idempotent on its result, with a Hive name that parses back.
func checkLaws(t *testing.T, a, b *dtype) {
	t.Helper()
	ab, ba := widen(a, b), widen(b, a)
	if canon(ab) != canon(ba) {
		t.Fatalf("widen is not commutative: widen(%s, %s) = %s, widen(%s, %s) = %s", canon(a), canon(b), canon(ab), canon(b), canon(a), canon(ba))
	}
	if got := widen(ab, a); canon(got) != canon(ab) {
		t.Fatalf("widen(%s, %s) = %s, widening it with %s again gives %s", canon(a), canon(b), canon(ab), canon(a), canon(got))
	}
	if got := widen(ab, ab); canon(got) != canon(ab) {
		t.Fatalf("widen is not idempotent: widen(%s, itself) = %s", canon(ab), canon(got))
	}
	checkHiveStable(t, ab)
}

// checkMerge merges the table of schema with itself, then with a wider
// definition: no column may be dropped and types only widen.
func checkMerge(t *testing.T, format string, schema, wider *dtype) {
	t.Helper()
	old := stocklake.Table{Format: format, Columns: columns(schema)}
	if m := merge(old, &old); !slices.Equal(m.Columns, old.Columns) {
		t.Fatalf("merging a table with itself changed its columns:\n%v\n%v", old.Columns, m.Columns)
	}
	def := stocklake.Table{Format: format, Columns: columns(wider)}
	m := merge(old, &def)
	if len(m.Columns) < len(old.Columns) {
		t.Fatalf("merge dropped columns: %v -> %v", old.Columns, m.Columns)
	}
	for i, c := range old.Columns {
		mc := m.Columns[i]
		if mc.Name != c.Name {
			t.Fatalf("merge renamed or moved column %d: %s -> %s", i, c.Name, mc.Name)
		}
		if got := widen(parseHive(mc.Type), parseHive(c.Type)).hive(); got != mc.Type {
			t.Fatalf("merge narrowed column %s: %s -> %s", c.Name, c.Type, mc.Type)
		}
	}
}

// TestWidenCaseDuplicateFields is the regression test for a catalog struct
// type whose field names differ only in case: widen kept both fields when
// the struct came first and merged them when it came second (found by
// FuzzInferSample).
func TestWidenCaseDuplicateFields(t *testing.T) {
	dup, other := parseHive("struct<a:int,A:string>"), parseHive("struct<b:int>")
	ab, ba := widen(dup, other).hive(), widen(other, dup).hive()
	if ab != "struct<a:string,b:int>" || ba != "struct<b:int,a:string>" {
		t.Fatalf("widen = %s and %s, want struct<a:string,b:int> up to field order", ab, ba)
	}
}
