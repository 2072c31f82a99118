package query

import (
	"errors"
	"testing"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/sqltext"
)

// duckdbOracle, when set (go test -tags fuzzduckdb), checks with DuckDB's
// own parser that a statement CheckReadOnly accepted is, for DuckDB, one
// read-only statement or not SQL at all.
var duckdbOracle func(t *testing.T, sql string)

// writeStarts are statements that change data, the catalog, settings or
// files, in DuckDB, Trino or Athena.
var writeStarts = []string{
	"INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "TRUNCATE", "DROP", "CREATE", "ALTER", "COPY", "EXPORT",
	"IMPORT", "ATTACH", "DETACH", "USE", "INSTALL", "LOAD", "FORCE", "SET", "RESET", "PRAGMA", "CALL",
	"CHECKPOINT", "VACUUM", "ANALYZE", "GRANT", "REVOKE", "COMMENT", "PREPARE", "EXECUTE", "DEALLOCATE",
	"BEGIN", "COMMIT", "ROLLBACK", "START", "MSCK", "UNLOAD", "REFRESH", "insert", "Drop",
}

// FuzzCheckReadOnly checks that CheckReadOnly never panics and wraps
// ErrInvalid, and these properties of any statement s: a write statement
// keyword first, after any whitespace or comments, is refused whatever
// follows; a read-only statement, a semicolon and then a write statement
// are refused; and a statement accepted stays accepted with whitespace or
// comments before it, whitespace or semicolons after it, or under EXPLAIN.
// With -tags fuzzduckdb, DuckDB's parser checks each accepted statement
// too. Seeds are in testdata/fuzz/FuzzCheckReadOnly.
func FuzzCheckReadOnly(f *testing.F) {
	f.Add("SELECT 1")
	f.Add("WITH a AS (SELECT 1) SELECT * FROM a;")
	f.Add("SELECT E'\\'' ; DROP TABLE t; --'")
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckReadOnly(s)
		if err != nil && !errors.Is(err, stocklake.ErrInvalid) {
			t.Fatalf("CheckReadOnly(%q) = %v, which does not wrap ErrInvalid", s, err)
		}
		h := 0
		for i := 0; i < len(s); i++ {
			h = h*31 + int(s[i])
		}
		h &= 1<<30 - 1
		kw := writeStarts[h%len(writeStarts)]
		for _, pre := range []string{"", " \n\t", "/* c */ ", "-- c\n", "-- c\r", "/* a /* b */ c */ ", "\u00a0"} {
			if CheckReadOnly(pre+kw+" "+s) == nil {
				t.Fatalf("accepted a statement starting with %s: %q", kw, pre+kw+" "+s)
			}
		}
		for _, first := range []string{"SELECT 1; ", "SELECT 1 -- c\r; ", "SELECT 'a'\n; ", "SELECT E'\\\\';", "SELECT $$a$$;"} {
			if CheckReadOnly(first+kw+" "+s) == nil {
				t.Fatalf("accepted a second statement starting with %s: %q", kw, first+kw+" "+s)
			}
		}
		if err != nil {
			return
		}
		for _, v := range []string{" \n\t" + s, "/* c */ " + s, "-- c\n" + s, "-- c\r\n" + s, s + " ", s + ";", s + "\n;", s + " ; ;"} {
			if err := CheckReadOnly(v); err != nil {
				t.Fatalf("accepted %q but not %q: %v", s, v, err)
			}
		}
		if toks := sqltext.Lex(s, sqltext.DuckDB); !toks[0].IsSymbol("(") {
			for _, pre := range []string{"EXPLAIN ", "explain analyze "} {
				if err := CheckReadOnly(pre + s); err != nil {
					t.Fatalf("accepted %q but not %q: %v", s, pre+s, err)
				}
			}
		}
		if duckdbOracle != nil {
			duckdbOracle(t, s)
		}
	})
}

// TestCheckReadOnlyLexing holds statements that read as one query to a
// simple lexer but hide a second, writing statement from DuckDB's lexer
// (PostgreSQL's) or, with the first fix one would think of, from Trino's.
// The old CheckReadOnly accepted all those marked "DuckDB runs"; DuckDB 1.5
// reads each of them as a SELECT and then the write (checked with
// json_serialize_sql).
func TestCheckReadOnlyLexing(t *testing.T) {
	for _, s := range []string{
		"SELECT E'\\'' ; DROP TABLE t; --'",                          // DuckDB runs: backslash escape in E''
		"SELECT E'\\'' UNION SELECT 1; INSERT INTO t VALUES (1) --'", // DuckDB runs: the same, then INSERT
		"SELECT E'a'\n'\\'' ; DROP TABLE t; --'",                     // DuckDB runs: E'' continued after a line break
		"SELECT E'a'  -- c\n  -- d\n '\\'' ; DROP TABLE t; --'",      // DuckDB runs: ... and comments
		"SELECT $$'$$ ; DROP TABLE t; --'",                           // DuckDB runs: dollar quotes
		"SELECT $a$'$a$ ; DROP TABLE t; --'",                         // DuckDB runs: tagged dollar quotes
		"/* /* */ SELECT 1 */ DROP TABLE t",                          // DuckDB runs: nested comments
		"EXPLAIN ANALYZE /* /* */ SELECT 1 */ DELETE FROM t",         // DuckDB runs: EXPLAIN ANALYZE runs the DELETE
		"SELECT 1 --\r; DROP TABLE t",                                // DuckDB runs: a -- comment ends at a carriage return
		"SELECT \u00a0E'\\'' ; DROP TABLE t; --'",                    // DuckDB runs: a no-break space before E''
		"SELECT \u2003$$'$$ ; DROP TABLE t; --'",                     // DuckDB runs: an em space before $$
		"/* /* */ DROP TABLE t -- */ SELECT 1",                       // Trino reads DROP TABLE t
		"WITH a AS (SELECT $$)$$) DELETE FROM t",                     // a parenthesis in dollar quotes
		"SELECT 1 `; DROP TABLE t; `",                                // backquotes are operators in DuckDB
	} {
		if err := CheckReadOnly(s); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("%q accepted (err %v)", s, err)
		}
	}
	for _, s := range []string{
		"SELECT E'a\\nb', e'it\\'s'", "SELECT e'\\\\'' ; DROP TABLE t; --'", "SELECT $$it's$$, $x$a$x$",
		"SELECT 1 /* a /* b */ c */", "SELECT 'a' -- c\r", "SELECT `a` FROM t", "SELECT 'x\u00a0y'",
		"SELECT a$$b FROM t", "SELECT 'a'\n'b'", "EXPLAIN SELECT E'\\''",
	} {
		if err := CheckReadOnly(s); err != nil {
			t.Errorf("%q rejected: %v", s, err)
		}
	}
}
