package query

import (
	"fmt"
	"strings"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/sqltext"
)

// readOnlyStarts are the statements CheckReadOnly lets through.
var readOnlyStarts = map[string]bool{
	"SELECT": true, "WITH": true, "VALUES": true, "SHOW": true, "DESCRIBE": true, "DESC": true,
	"EXPLAIN": true, "TABLE": true, "(": true,
}

// CheckReadOnly accepts one read-only statement: SELECT, WITH ... SELECT,
// VALUES, SHOW, DESCRIBE or EXPLAIN of one of them (a trailing semicolon
// is fine). It rejects everything else, including several statements, and
// returns an error wrapping stocklake.ErrInvalid that names what it found.
// Comments, string literals and quoted identifiers are skipped, so a
// keyword inside them does not count. Engines split statements
// differently (DuckDB nests /* */ comments, reads backslash escapes in
// E'...' strings, $$...$$ strings and Unicode spaces; Trino and Athena do
// not), so a statement passes only if it is one read-only statement as
// each of them reads it.
func CheckReadOnly(sql string) error {
	if sqltext.HasUnicodeSpace(sql) && (strings.Contains(sql, "$") || strings.Contains(sql, "E'") || strings.Contains(sql, "e'")) {
		// DuckDB turns Unicode spaces into spaces with a scan of its own
		// that does not know E'' strings and block comments, so where
		// those strings start and end is ambiguous.
		return fmt.Errorf("the statement has both Unicode spaces (such as no-break spaces) and $ or E'...' strings, which SQL engines split differently: replace the Unicode spaces with plain spaces: %w", stocklake.ErrInvalid)
	}
	for _, d := range [...]sqltext.Dialect{sqltext.DuckDB, sqltext.Trino} {
		if err := checkStatement(sqltext.Lex(sql, d)); err != nil {
			return err
		}
	}
	return nil
}

// checkStatement checks the tokens of a statement: one statement (nothing
// but semicolons after the first semicolon), and read-only.
func checkStatement(toks []sqltext.Token) error {
	for i, t := range toks {
		if t.IsSymbol(";") {
			for _, u := range toks[i+1:] {
				if !u.IsSymbol(";") {
					return fmt.Errorf("several statements: run one statement at a time: %w", stocklake.ErrInvalid)
				}
			}
			toks = toks[:i]
			break
		}
	}
	if len(toks) == 0 {
		return fmt.Errorf("empty statement: write a query such as SELECT * FROM db.table LIMIT 10: %w", stocklake.ErrInvalid)
	}
	return checkQuery(toks)
}

func checkQuery(toks []sqltext.Token) error {
	if len(toks) == 0 {
		return fmt.Errorf("EXPLAIN needs a query to explain: %w", stocklake.ErrInvalid)
	}
	first := strings.ToUpper(toks[0].Text)
	if toks[0].Quoted() || !readOnlyStarts[first] {
		return fmt.Errorf("%s statements are not allowed: only read-only queries (SELECT, WITH, VALUES, SHOW, DESCRIBE, EXPLAIN) run here: %w",
			strings.ToUpper(toks[0].Text), stocklake.ErrInvalid)
	}
	switch first {
	case "EXPLAIN":
		i := 1
		for i < len(toks) && (toks[i].Is("ANALYZE") || toks[i].Is("VERBOSE")) {
			i++
		}
		if i < len(toks) && toks[i].IsSymbol("(") {
			i = skipParens(toks, i)
		}
		return checkQuery(toks[i:])
	case "WITH":
		i := 1
		if i < len(toks) && toks[i].Is("RECURSIVE") {
			i++
		}
		for i < len(toks) {
			i++ // CTE name
			if i < len(toks) && toks[i].IsSymbol("(") {
				i = skipParens(toks, i) // column names
			}
			if i >= len(toks) || !toks[i].Is("AS") {
				return fmt.Errorf("WITH: expected AS after the name of a common table expression: %w", stocklake.ErrInvalid)
			}
			i++
			for i < len(toks) && (toks[i].Is("NOT") || toks[i].Is("MATERIALIZED")) {
				i++
			}
			if i >= len(toks) || !toks[i].IsSymbol("(") {
				return fmt.Errorf("WITH: expected ( after AS: %w", stocklake.ErrInvalid)
			}
			i = skipParens(toks, i)
			if i < len(toks) && toks[i].IsSymbol(",") {
				i++
				continue
			}
			break
		}
		return checkQuery(toks[i:])
	}
	return nil
}

// skipParens returns the index after the parenthesis group starting at i.
func skipParens(toks []sqltext.Token, i int) int {
	depth := 0
	for ; i < len(toks); i++ {
		switch {
		case toks[i].IsSymbol("("):
			depth++
		case toks[i].IsSymbol(")"):
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return i
}
