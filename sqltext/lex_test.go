package sqltext

import (
	"fmt"
	"testing"
)

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

func TestLex(t *testing.T) {
	type tk struct {
		kind  Kind
		text  string
		value string
	}
	cases := []struct {
		in   string
		d    Dialect
		want []tk
	}{
		{"SELECT a.\"b\"\"c\" FROM `t`", Trino, []tk{{Word, "SELECT", "SELECT"}, {Word, "a", "a"}, {Symbol, ".", "."},
			{QuotedIdent, `"b""c"`, `b"c`}, {Word, "FROM", "FROM"}, {QuotedIdent, "`t`", "t"}}},
		{"SELECT `t`", DuckDB, []tk{{Word, "SELECT", "SELECT"}, {Symbol, "`", "`"}, {Word, "t", "t"}, {Symbol, "`", "`"}}},
		{"x /* a /* b */ y */ z", DuckDB, []tk{{Word, "x", "x"}, {Word, "z", "z"}}},
		{"x /* a /* b */ y */ z", Trino, []tk{{Word, "x", "x"}, {Word, "y", "y"}, {Symbol, "*", "*"}, {Symbol, "/", "/"}, {Word, "z", "z"}}},
		{"'it''s' E'a\\'b\\n'\n'c' $$d'$$ $q$e$q$", DuckDB, []tk{{String, "'it''s'", "it's"}, {String, "E'a\\'b\\n'\n'c'", "a'b\nc"},
			{String, "$$d'$$", "d'"}, {String, "$q$e$q$", "e"}}},
		{"E'a\\'b'", Trino, []tk{{Word, "E", "E"}, {String, "'a\\'", "a\\"}, {Word, "b", "b"}, {String, "'", ""}}},
		{"a -- c\rb\u00a0c", DuckDB, []tk{{Word, "a", "a"}, {Word, "b", "b"}, {Word, "c", "c"}}},
		{"a\u00a0c 'x", Trino, []tk{{Word, "a\u00a0c", "a\u00a0c"}, {String, "'x", "x"}}},
		{"1e'x'", DuckDB, []tk{{Symbol, "1", "1"}, {String, "e'x'", "x"}}},
	}
	for _, c := range cases {
		var got []tk
		for _, t := range Lex(c.in, c.d) {
			got = append(got, tk{t.Kind, t.Text, t.Value()})
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("Lex(%q, %d) = %v, want %v", c.in, c.d, got, c.want)
		}
	}
}

func TestQuote(t *testing.T) {
	for _, s := range []string{"", "a", `a"b`, "it's", `back\slash`, "x'; DROP TABLE t; --", "\u00a0$$"} {
		for _, d := range []Dialect{Trino, DuckDB} {
			toks := Lex(QuoteIdent(s)+" "+QuoteString(s), d)
			if len(toks) != 2 || toks[0].Kind != QuotedIdent || toks[0].Value() != s || toks[1].Kind != String || toks[1].Value() != s {
				t.Errorf("QuoteIdent(%q), QuoteString(%q) read by %d as %v", s, s, d, toks)
			}
		}
	}
}

// FuzzLex checks properties of Lex the engines rely on, in both dialects:
// tokens are in order, do not overlap and are the statement's own text;
// lexing from a token's start gives the same tokens from there on (so the
// DuckDB engine may rewrite the part of a statement after EXPLAIN);
// lexing up to a token's start gives the tokens before it (so it may drop
// trailing semicolons); and CutStatement cuts at the first semicolon
// token. Seeds are in testdata/fuzz/FuzzLex (those of the read-only guard).
func FuzzLex(f *testing.F) {
	f.Add("SELECT E'\\'' ; DROP TABLE t; --'")
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range []Dialect{Trino, DuckDB} {
			toks := Lex(s, d)
			end := 0
			for i, tok := range toks {
				if tok.Start < end || tok.End <= tok.Start || tok.End > len(s) || s[tok.Start:tok.End] != tok.Text {
					t.Fatalf("Lex(%q, %d): token %d = %+v after offset %d", s, d, i, tok, end)
				}
				end = tok.End
				_ = tok.Value()
			}
			if len(toks) == 0 {
				continue
			}
			k := int(uint(len(s)) % uint(len(toks)))
			off := toks[k].Start
			var tail []Token
			for _, tok := range toks[k:] {
				tok.Start -= off
				tok.End -= off
				tail = append(tail, tok)
			}
			if got := Lex(s[off:], d); fmt.Sprint(got) != fmt.Sprint(tail) {
				t.Fatalf("Lex(%q, %d) = %v, but from offset %d %v", s, d, toks, off, got)
			}
			if got := Lex(s[:off], d); fmt.Sprint(got) != fmt.Sprint(toks[:k]) {
				t.Fatalf("Lex(%q, %d) = %v, but up to offset %d %v", s, d, toks, off, got)
			}
			stmt, rest, ok := CutStatement(s, d)
			if ok && stmt+";"+rest != s {
				t.Fatalf("CutStatement(%q, %d) = %q, %q", s, d, stmt, rest)
			}
			for _, tok := range toks {
				if tok.IsSymbol(";") {
					if !ok || tok.Start != len(stmt) {
						t.Fatalf("CutStatement(%q, %d) = %q, %q, %v; first ; at %d", s, d, stmt, rest, ok, tok.Start)
					}
					break
				}
			}
		}
	})
}
