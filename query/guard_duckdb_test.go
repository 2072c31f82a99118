//go:build fuzzduckdb

package query

import (
	"database/sql"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/stocklake/stocklake/sqltext"
)

// This file links DuckDB into the query tests only with -tags fuzzduckdb:
//
//	go test -tags fuzzduckdb -run '^$' -fuzz '^FuzzCheckReadOnly$' -fuzztime 60s ./query/
//
// Then every statement CheckReadOnly accepts is also read by DuckDB's own
// parser (json_serialize_sql parses without running anything), which must
// find one SELECT statement, or EXPLAIN of one, or no statement, or fail
// to parse it (then DuckDB runs nothing).
func init() {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		panic(err)
	}
	db.SetMaxOpenConns(1)
	serialize := func(t *testing.T, stmt string) (statements int, errType, errMsg string) {
		var js string
		if err := db.QueryRow("SELECT json_serialize_sql(?::VARCHAR)::VARCHAR", stmt).Scan(&js); err != nil {
			t.Fatalf("json_serialize_sql(%q): %v", stmt, err)
		}
		var out struct {
			Error      bool              `json:"error"`
			ErrorType  string            `json:"error_type"`
			ErrorMsg   string            `json:"error_message"`
			Statements []json.RawMessage `json:"statements"`
		}
		if err := json.Unmarshal([]byte(js), &out); err != nil {
			t.Fatalf("json_serialize_sql(%q) = %s: %v", stmt, js, err)
		}
		if out.Error {
			return 0, out.ErrorType, out.ErrorMsg
		}
		return len(out.Statements), "", ""
	}
	duckdbOracle = func(t *testing.T, stmt string) {
		stmt = asDuckDBReads(stmt)
		n, errType, msg := serialize(t, stmt)
		switch {
		case errType == "parser" || errType == "" && n <= 1: // none runs nothing
			return
		case errType == "":
			t.Fatalf("CheckReadOnly accepted %q, which DuckDB reads as %d statements", stmt, n)
		}
		// Not a SELECT: only EXPLAIN of one may pass. Check the explained
		// statement on its own, found as the guard finds it.
		toks := sqltext.Lex(stmt, sqltext.DuckDB)
		if !toks[0].Is("EXPLAIN") {
			t.Fatalf("CheckReadOnly accepted %q, which DuckDB reads as something other than a query (%s: %s)", stmt, errType, msg)
		}
		i := 1
		for i < len(toks) && (toks[i].Is("ANALYZE") || toks[i].Is("VERBOSE")) {
			i++
		}
		if i < len(toks) && toks[i].IsSymbol("(") {
			i = skipParens(toks, i)
		}
		if i >= len(toks) {
			return
		}
		if n, errType, msg := serialize(t, stmt[toks[i].Start:]); errType != "parser" && !(errType == "" && n <= 1) {
			t.Fatalf("CheckReadOnly accepted %q, which explains %q, which DuckDB reads as %d statements (%s: %s)", stmt, stmt[toks[i].Start:], n, errType, msg)
		}
	}
}

// asDuckDBReads returns s as duckdb-go hands it to DuckDB, a C string that
// ends at the first NUL, with each byte that is not UTF-8 (DuckDB runs such
// statements; json_serialize_sql cannot take them as a parameter) replaced
// by 'q', which DuckDB's lexer treats alike: a letter of identifiers and
// dollar-quote tags with no meaning before a quote.
func asDuckDBReads(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	b := []byte(s)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b[i] = 'q'
		}
		i += size
	}
	return string(b)
}
