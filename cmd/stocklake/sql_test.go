package main

import "testing"

func TestCutStatement(t *testing.T) {
	cases := []struct {
		in, stmt, rest string
		ok             bool
	}{
		{"SELECT 1;", "SELECT 1", "", true},
		{"SELECT 1; SELECT 2;", "SELECT 1", "SELECT 2;", true},
		{"SELECT ';' AS s;\n", "SELECT ';' AS s", "", true},
		{"SELECT \"a;b\" FROM t -- x; y\n;", "SELECT \"a;b\" FROM t -- x; y\n", "", true},
		{"SELECT 1\nFROM t", "", "SELECT 1\nFROM t", false},
		{"SELECT 'unterminated;", "", "SELECT 'unterminated;", false},
	}
	for _, c := range cases {
		stmt, rest, ok := cutStatement(c.in)
		if stmt != c.stmt || rest != c.rest || ok != c.ok {
			t.Errorf("cutStatement(%q) = %q, %q, %v; want %q, %q, %v", c.in, stmt, rest, ok, c.stmt, c.rest, c.ok)
		}
	}
}
