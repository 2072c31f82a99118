package duckdb

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/sqltext"
)

// travel is a time-travel clause of one table reference, in the syntax of
// Trino and Athena: "FOR VERSION AS OF <snapshot id>" or "FOR TIMESTAMP AS
// OF <expression>".
type travel struct {
	version int64  // snapshot ID, or 0
	asOf    string // the timestamp expression's text, or ""
	text    string // the whole clause, for messages
	used    bool
}

// travelEnd are the words and symbols that end a FOR TIMESTAMP AS OF
// expression at nesting depth 0.
var travelEnd = map[string]bool{
	"AS": true, "WHERE": true, "JOIN": true, "INNER": true, "LEFT": true, "RIGHT": true, "FULL": true,
	"CROSS": true, "NATURAL": true, "ON": true, "USING": true, "GROUP": true, "ORDER": true, "LIMIT": true,
	"OFFSET": true, "FETCH": true, "UNION": true, "EXCEPT": true, "INTERSECT": true, "HAVING": true,
	"WINDOW": true, "QUALIFY": true, "LATERAL": true, "POSITIONAL": true, "ASOF": true, "ANTI": true, "SEMI": true,
	",": true, ")": true, ";": true,
}

// cutTravel finds the time-travel clauses that follow table names in a
// statement and blanks them out (with spaces, so every other token keeps its
// offset) for DuckDB, which has no such syntax. It returns the statement
// without them, its tokens without theirs, and the clauses by the offset of
// the table name they follow.
func cutTravel(body string, toks []sqltext.Token) (string, []sqltext.Token, map[int]*travel, error) {
	var travels map[int]*travel
	var kept []sqltext.Token
	b := []byte(body)
	for i := 0; i < len(toks); i++ {
		if !(toks[i].Is("FOR") && i+3 < len(toks) && (toks[i+1].Is("VERSION") || toks[i+1].Is("TIMESTAMP")) &&
			toks[i+2].Is("AS") && toks[i+3].Is("OF")) {
			kept = append(kept, toks[i])
			continue
		}
		// The table name the clause follows: a.b.c, each part quoted or not.
		n := i - 1
		if n < 0 || !toks[n].Name() {
			return "", nil, nil, fmt.Errorf("%s ... AS OF must follow a table name: %w", strings.ToUpper(toks[i+1].Text), stocklake.ErrInvalid)
		}
		for n >= 2 && toks[n-1].IsSymbol(".") && toks[n-2].Name() {
			n -= 2
		}
		j := i + 4 // first token of the version or expression
		tr := &travel{}
		if toks[i+1].Is("VERSION") {
			k := j
			if k < len(toks) && toks[k].IsSymbol("-") {
				k++
			}
			for k < len(toks) && toks[k].Kind == sqltext.Symbol && len(toks[k].Text) == 1 && toks[k].Text[0] >= '0' && toks[k].Text[0] <= '9' &&
				(k == j || toks[k].Start == toks[k-1].End) {
				k++
			}
			v, err := strconv.ParseInt(body[toks[min(j, len(toks)-1)].Start:toks[max(k-1, j)].End], 10, 64)
			if k == j || j >= len(toks) || err != nil || v == 0 {
				return "", nil, nil, fmt.Errorf("FOR VERSION AS OF takes a snapshot ID (a whole number, as `stocklake catalog snapshots` lists them): %w", stocklake.ErrInvalid)
			}
			tr.version = v
			j = k
		} else {
			depth, k := 0, j
			for ; k < len(toks); k++ {
				t := toks[k]
				if depth == 0 && (t.Kind == sqltext.Word && travelEnd[strings.ToUpper(t.Text)] || t.Kind == sqltext.Symbol && travelEnd[t.Text]) {
					break
				}
				if t.IsSymbol("(") {
					depth++
				}
				if t.IsSymbol(")") {
					depth--
				}
			}
			if k == j {
				return "", nil, nil, fmt.Errorf("FOR TIMESTAMP AS OF takes a timestamp, e.g. FOR TIMESTAMP AS OF TIMESTAMP '2026-12-01 10:00:00 UTC': %w", stocklake.ErrInvalid)
			}
			tr.asOf = body[toks[j].Start:toks[k-1].End]
			// Trino's TIMESTAMP '… UTC' is a timestamp with a time zone.
			if toks[j].Is("TIMESTAMP") && j+1 < k && toks[j+1].Kind == sqltext.String {
				tr.asOf = "TIMESTAMPTZ" + body[toks[j].End:toks[k-1].End]
			}
			j = k
		}
		start, end := toks[i].Start, toks[j-1].End
		tr.text = strings.Join(strings.Fields(body[start:end]), " ")
		for p := start; p < end; p++ {
			if b[p] != '\n' {
				b[p] = ' '
			}
		}
		if travels == nil {
			travels = map[int]*travel{}
		}
		travels[toks[n].Start] = tr
		i = j - 1
	}
	if travels == nil {
		return body, toks, nil, nil
	}
	return string(b), kept, travels, nil
}

// travelOptions turns a time-travel clause into scan options, evaluating the
// timestamp expression with DuckDB (in UTC).
func (q *query) travelOptions(ctx context.Context, tr *travel) (stocklake.ScanOptions, error) {
	if tr == nil {
		return stocklake.ScanOptions{}, nil
	}
	if tr.version != 0 {
		return stocklake.ScanOptions{SnapshotID: tr.version}, nil
	}
	// Parsed first: one SELECT, whatever the expression holds.
	stmt := "SELECT CAST((" + tr.asOf + ") AS TIMESTAMPTZ)"
	var js string
	if err := q.conn.QueryRowContext(ctx, "SELECT json_serialize_sql(?::VARCHAR)::VARCHAR", stmt).Scan(&js); err != nil {
		return stocklake.ScanOptions{}, q.e.wrap(ctx, err)
	}
	if _, err := parseTree(js); err != nil {
		return stocklake.ScanOptions{}, fmt.Errorf("%s: the time is not an expression: %w", tr.text, err)
	}
	var ts time.Time
	err := q.conn.QueryRowContext(ctx, stmt).Scan(&ts)
	if err != nil {
		return stocklake.ScanOptions{}, fmt.Errorf("%s: the time is not a timestamp (write TIMESTAMP '2026-12-01 10:00:00 UTC'): %w", tr.text, q.e.wrap(ctx, err))
	}
	return stocklake.ScanOptions{AsOf: ts}, nil
}
