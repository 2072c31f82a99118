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
// keyword inside them does not count. Engines split statements
// differently (DuckDB nests /* */ comments, reads backslash escapes in
// E'...' strings, $$...$$ strings and Unicode spaces; Trino and Athena do
// not), so a statement passes only if it is one read-only statement as
// each of them reads it.
func CheckReadOnly(sql string) error {
	if hasUnicodeSpace(sql) && (strings.Contains(sql, "$") || strings.Contains(sql, "E'") || strings.Contains(sql, "e'")) {
		// DuckDB turns Unicode spaces into spaces with a scan of its own
		// that does not know E'' strings and block comments, so where
		// those strings start and end is ambiguous.
		return fmt.Errorf("the statement has both Unicode spaces (such as no-break spaces) and $ or E'...' strings, which SQL engines split differently: replace the Unicode spaces with plain spaces: %w", stocklake.ErrInvalid)
	}
	for _, d := range [...]dialect{postgres, standard} {
		if err := checkStatement(tokens(sql, d)); err != nil {
			return err
		}
	}
	return nil
}

// CutStatement splits the first statement off sql at its first semicolon
// outside comments, strings and quoted identifiers, read as DuckDB reads
// them (nested comments, E'...' and $$...$$ strings), for a shell that
// reads statements line by line. ok is false while sql has no such
// semicolon, e.g. inside an unterminated string.
func CutStatement(sql string) (stmt, rest string, ok bool) {
	for _, t := range tokens(sql, postgres) {
		if t.text == ";" && !t.quoted {
			return sql[:t.pos], sql[t.pos+1:], true
		}
	}
	return "", sql, false
}

// checkStatement checks the tokens of a statement: one statement (nothing
// but semicolons after the first semicolon), and read-only.
func checkStatement(toks []tok) error {
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
// literal or quoted identifier) of a statement, at byte offset pos.
type tok struct {
	text   string
	quoted bool
	pos    int
}

func (t tok) is(kw string) bool { return !t.quoted && strings.EqualFold(t.text, kw) }

// dialect is a way of splitting a statement into tokens.
type dialect uint8

const (
	// standard is Trino's and Athena's lexer: a /* comment ends at the
	// first */, strings are '...' with '' for a quote, and there are
	// "quoted" and `backquoted` identifiers.
	standard dialect = iota
	// postgres is DuckDB's, which is PostgreSQL's: /* */ comments nest,
	// E'...' strings have backslash escapes and go on after a line break
	// and another quote, $$...$$ and $tag$...$tag$ are strings, a backquote
	// is an operator, and Unicode spaces are spaces.
	postgres
)

// tokens splits a statement as dialect d does, skipping whitespace and
// comments. An unterminated comment or quoted token runs to the end.
func tokens(s string, d dialect) []tok {
	pg := d == postgres
	var out []tok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case pg && unicodeSpace(s[i:]) > 0:
			i += unicodeSpace(s[i:])
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			j := strings.IndexAny(s[i:], "\r\n")
			if j < 0 {
				return out
			}
			i += j + 1
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := commentEnd(s, i, pg)
			if end < 0 {
				return out
			}
			i = end
		case c == '\'' || c == '"' || c == '`' && !pg:
			end := quoteEnd(s, i+1, c, false)
			out = append(out, tok{text: s[i:end], quoted: true, pos: i})
			i = end
		case pg && (c == 'E' || c == 'e') && i+1 < len(s) && s[i+1] == '\'':
			end := quoteEnd(s, i+2, '\'', true)
			for end <= len(s) && s[end-1] == '\'' {
				next, ok := quoteContinues(s, end)
				if !ok {
					break
				}
				end = quoteEnd(s, next, '\'', true)
			}
			out = append(out, tok{text: s[i:end], quoted: true, pos: i})
			i = end
		case pg && c == '$' && dollarTag(s[i:]) > 0:
			n := dollarTag(s[i:])
			end := len(s)
			if j := strings.Index(s[i+n:], s[i:i+n]); j >= 0 {
				end = i + n + j + n
			}
			out = append(out, tok{text: s[i:end], quoted: true, pos: i})
			i = end
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] == '$' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] >= 0x80) {
				if pg && unicodeSpace(s[j:]) > 0 {
					break
				}
				j++
			}
			out = append(out, tok{text: s[i:j], pos: i})
			i = j
		default:
			out = append(out, tok{text: s[i : i+1], pos: i})
			i++
		}
	}
	return out
}

// commentEnd returns the offset after the /* comment starting at s[i], or
// -1 if it does not end. With nested, comments nest.
func commentEnd(s string, i int, nested bool) int {
	if !nested {
		j := strings.Index(s[i+2:], "*/")
		if j < 0 {
			return -1
		}
		return i + 2 + j + 2
	}
	depth := 0
	for j := i; j+1 < len(s); {
		switch {
		case s[j] == '/' && s[j+1] == '*':
			depth++
			j += 2
		case s[j] == '*' && s[j+1] == '/':
			depth--
			j += 2
			if depth == 0 {
				return j
			}
		default:
			j++
		}
	}
	return -1
}

// quoteEnd returns the offset after the quote q that closes a quoted token
// whose content starts at s[j], or len(s). A doubled quote stands for
// itself; with backslash, a backslash escapes the next byte.
func quoteEnd(s string, j int, q byte, backslash bool) int {
	for j < len(s) {
		switch {
		case backslash && s[j] == '\\':
			j += 2
		case s[j] == q:
			if j+1 < len(s) && s[j+1] == q {
				j += 2
				continue
			}
			return j + 1
		default:
			j++
		}
	}
	return len(s)
}

// quoteContinues reports whether the string literal that ended before s[j]
// goes on, as in PostgreSQL, after whitespace and -- comments holding a
// line break and then a quote; it returns the offset after that quote.
func quoteContinues(s string, j int) (int, bool) {
	newline := false
	for j < len(s) {
		switch c := s[j]; {
		case c == ' ' || c == '\t' || c == '\f':
			j++
		case c == '\n' || c == '\r':
			newline = true
			j++
		case c == '-' && j+1 < len(s) && s[j+1] == '-':
			k := strings.IndexAny(s[j:], "\r\n")
			if k < 0 {
				return 0, false
			}
			j += k
		case c == '\'' && newline:
			return j + 1, true
		default:
			return 0, false
		}
	}
	return 0, false
}

// dollarTag returns the length of the $tag$ (or $$) that s starts with, or
// 0.
func dollarTag(s string) int {
	j := 1
	if j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 0x80) {
		for j++; j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] >= 0x80); j++ {
		}
	}
	if j < len(s) && s[j] == '$' {
		return j + 1
	}
	return 0
}

// unicodeSpace returns the length of the Unicode space that s starts with,
// or 0: the ones DuckDB reads as spaces (U+00A0, U+2000 to U+200B, U+202F,
// U+205F, U+2060, U+3000, U+FEFF).
func unicodeSpace(s string) int {
	switch {
	case len(s) >= 2 && s[0] == 0xC2 && s[1] == 0xA0:
		return 2
	case len(s) < 3:
		return 0
	case s[0] == 0xE2 && s[1] == 0x80 && (s[2] >= 0x80 && s[2] <= 0x8B || s[2] == 0xAF),
		s[0] == 0xE2 && s[1] == 0x81 && (s[2] == 0x9F || s[2] == 0xA0),
		s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80,
		s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF:
		return 3
	}
	return 0
}

func hasUnicodeSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0xC2 && unicodeSpace(s[i:]) > 0 {
			return true
		}
	}
	return false
}
