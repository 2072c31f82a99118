package query

import (
	"fmt"
	"strings"

	"github.com/stocklake/stocklake"
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
// keyword inside them does not count.
func CheckReadOnly(sql string) error {
	toks := tokens(sql)
	// One statement: nothing but semicolons after the first semicolon.
	for i, t := range toks {
		if t.text == ";" && !t.quoted {
			for _, u := range toks[i+1:] {
				if u.text != ";" || u.quoted {
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

func checkQuery(toks []tok) error {
	if len(toks) == 0 {
		return fmt.Errorf("EXPLAIN needs a query to explain: %w", stocklake.ErrInvalid)
	}
	first := strings.ToUpper(toks[0].text)
	if toks[0].quoted || !readOnlyStarts[first] {
		return fmt.Errorf("%s statements are not allowed: only read-only queries (SELECT, WITH, VALUES, SHOW, DESCRIBE, EXPLAIN) run here: %w",
			strings.ToUpper(toks[0].text), stocklake.ErrInvalid)
	}
	switch first {
	case "EXPLAIN":
		i := 1
		for i < len(toks) && (toks[i].is("ANALYZE") || toks[i].is("VERBOSE")) {
			i++
		}
		if i < len(toks) && toks[i].text == "(" && !toks[i].quoted {
			i = skipParens(toks, i)
		}
		return checkQuery(toks[i:])
	case "WITH":
		i := 1
		if i < len(toks) && toks[i].is("RECURSIVE") {
			i++
		}
		for i < len(toks) {
			i++ // CTE name
			if i < len(toks) && toks[i].text == "(" && !toks[i].quoted {
				i = skipParens(toks, i) // column names
			}
			if i >= len(toks) || !toks[i].is("AS") {
				return fmt.Errorf("WITH: expected AS after the name of a common table expression: %w", stocklake.ErrInvalid)
			}
			i++
			for i < len(toks) && (toks[i].is("NOT") || toks[i].is("MATERIALIZED")) {
				i++
			}
			if i >= len(toks) || toks[i].text != "(" || toks[i].quoted {
				return fmt.Errorf("WITH: expected ( after AS: %w", stocklake.ErrInvalid)
			}
			i = skipParens(toks, i)
			if i < len(toks) && toks[i].text == "," && !toks[i].quoted {
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
func skipParens(toks []tok, i int) int {
	depth := 0
	for ; i < len(toks); i++ {
		if toks[i].quoted {
			continue
		}
		switch toks[i].text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return i
}

// tok is a word, a punctuation character or a quoted token (string
// literal or quoted identifier) of a statement.
type tok struct {
	text   string
	quoted bool
}

func (t tok) is(kw string) bool { return !t.quoted && strings.EqualFold(t.text, kw) }

// tokens splits a statement, skipping whitespace and comments.
func tokens(s string) []tok {
	var out []tok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return out
			}
			i += j + 1
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return out
			}
			i += j + 4
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(s) {
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			end := min(j+1, len(s))
			out = append(out, tok{text: s[i:end], quoted: true})
			i = end
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] == '$' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] >= 0x80) {
				j++
			}
			out = append(out, tok{text: s[i:j]})
			i = j
		default:
			out = append(out, tok{text: s[i : i+1]})
			i++
		}
	}
	return out
}
