package sqltext

import "testing"

func TestCutStatement(t *testing.T) {
	cases := []struct {
		in, stmt, rest string
		ok             bool
	}{
		{"SELECT 1;", "SELECT 1", "", true},
		{"SELECT 1; SELECT 2;", "SELECT 1", " SELECT 2;", true},
		{"SELECT ';' AS s;\n", "SELECT ';' AS s", "\n", true},
		{"SELECT \"a;b\" FROM t -- x; y\n;", "SELECT \"a;b\" FROM t -- x; y\n", "", true},
		{"SELECT 1 /* a; /* nested; */ still; */ ;", "SELECT 1 /* a; /* nested; */ still; */ ", "", true},
		{"SELECT E'it\\'s; fine', $$a;b$$, $t$c;d$t$;x", "SELECT E'it\\'s; fine', $$a;b$$, $t$c;d$t$", "x", true},
		{"SELECT 1\nFROM t", "", "SELECT 1\nFROM t", false},
		{"SELECT 'unterminated;", "", "SELECT 'unterminated;", false},
		{"SELECT 1 /* open; comment", "", "SELECT 1 /* open; comment", false},
	}
	for _, c := range cases {
		stmt, rest, ok := CutStatement(c.in, DuckDB)
		if stmt != c.stmt || rest != c.rest || ok != c.ok {
			t.Errorf("CutStatement(%q) = %q, %q, %v; want %q, %q, %v", c.in, stmt, rest, ok, c.stmt, c.rest, c.ok)
		}
	}
}
