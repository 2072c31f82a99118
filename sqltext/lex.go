// Package sqltext is the SQL text every engine shares: one lexer with the
// Trino (and Athena) and DuckDB dialects, the quoting of identifiers and
// string literals, and the text form of Trino values (parsed and
// formatted). It imports only the root package and the standard library.
//
// The read-only guard (query.CheckReadOnly) and the DuckDB engine, which
// rewrites table names in a statement, split statements with the same Lex,
// so the engine edits the token stream the guard approved.
package sqltext

import "strings"

// Dialect is the way an engine splits a statement into tokens.
type Dialect uint8

const (
	// Trino is Trino's and Athena's lexer: a /* comment ends at the first
	// */, strings are '...' with '' for a quote, and there are "quoted" and
	// `backquoted` identifiers.
	Trino Dialect = iota
	// DuckDB is DuckDB's lexer, which is PostgreSQL's: /* */ comments
	// nest, E'...' strings have backslash escapes and go on after a line
	// break and another quote, $$...$$ and $tag$...$tag$ are strings, a
	// backquote is an operator, and Unicode spaces are spaces.
	DuckDB
)

// Kind is the kind of a Token.
type Kind uint8

const (
	// Word is a keyword or an unquoted identifier.
	Word Kind = iota
	// QuotedIdent is a "quoted" (or, in Trino, `backquoted`) identifier.
	QuotedIdent
	// String is a string literal: '...', and in DuckDB E'...' and $$...$$.
	String
	// Symbol is any other single byte: punctuation, an operator, a digit.
	Symbol
)

// Token is one token of a statement.
type Token struct {
	Kind Kind
	// Text is the token as written, quotes and escapes included.
	Text string
	// Start and End are the byte offsets of the token in the statement.
	Start, End int
}

// Is reports whether t is the keyword kw (case-insensitive, unquoted).
func (t Token) Is(kw string) bool { return t.Kind == Word && strings.EqualFold(t.Text, kw) }

// IsSymbol reports whether t is the punctuation s, such as "(" or ";".
func (t Token) IsSymbol(s string) bool { return t.Kind == Symbol && t.Text == s }

// Quoted reports whether t is a string literal or a quoted identifier.
func (t Token) Quoted() bool { return t.Kind == String || t.Kind == QuotedIdent }

// Name reports whether t names something: a word or a quoted identifier.
func (t Token) Name() bool { return t.Kind == Word || t.Kind == QuotedIdent }

// Value is what a token stands for: the content of a string literal or a
// quoted identifier without its quotes and escapes, the text of any other
// token. An unterminated literal's value runs to the end of the statement.
func (t Token) Value() string {
	s := t.Text
	switch {
	case t.Kind != String && t.Kind != QuotedIdent || s == "":
		return s
	case s[0] == '$':
		n := dollarTag(s)
		body := s[n:]
		if len(body) >= n && body[len(body)-n:] == s[:n] {
			body = body[:len(body)-n]
		}
		return body
	case s[0] == 'E' || s[0] == 'e':
		return unescapeE(s[1:])
	}
	q := s[0]
	var b strings.Builder
	for j := 1; j < len(s); j++ {
		if s[j] == q {
			if j+1 < len(s) && s[j+1] == q {
				j++
			} else {
				break
			}
		}
		b.WriteByte(s[j])
	}
	return b.String()
}

// unescapeE reads an E'...' literal from its first quote: the parts of a
// literal continued after a line break and another quote, with the
// backslash escapes \b \f \n \r \t, and a backslash before any other
// byte standing for that byte.
func unescapeE(s string) string {
	var b strings.Builder
	for j := 1; ; {
		for j < len(s) {
			c := s[j]
			if c == '\\' && j+1 < len(s) {
				switch e := s[j+1]; e {
				case 'b':
					b.WriteByte('\b')
				case 'f':
					b.WriteByte('\f')
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				default:
					b.WriteByte(e)
				}
				j += 2
				continue
			}
			if c == '\'' {
				if j+1 < len(s) && s[j+1] == '\'' {
					b.WriteByte('\'')
					j += 2
					continue
				}
				j++
				break
			}
			b.WriteByte(c)
			j++
		}
		next, ok := quoteContinues(s, j)
		if !ok {
			return b.String()
		}
		j = next
	}
}

// Lex splits a statement into tokens as dialect d does, skipping
// whitespace and comments. It never fails: an unterminated comment ends
// the tokens, an unterminated quoted token runs to the end.
func Lex(s string, d Dialect) []Token {
	pg := d == DuckDB
	var out []Token
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
			kind := QuotedIdent
			if c == '\'' {
				kind = String
			}
			out = append(out, Token{Kind: kind, Text: s[i:end], Start: i, End: end})
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
			out = append(out, Token{Kind: String, Text: s[i:end], Start: i, End: end})
			i = end
		case pg && c == '$' && dollarTag(s[i:]) > 0:
			n := dollarTag(s[i:])
			end := len(s)
			if j := strings.Index(s[i+n:], s[i:i+n]); j >= 0 {
				end = i + n + j + n
			}
			out = append(out, Token{Kind: String, Text: s[i:end], Start: i, End: end})
			i = end
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] == '$' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] >= 0x80) {
				if pg && unicodeSpace(s[j:]) > 0 {
					break
				}
				j++
			}
			out = append(out, Token{Kind: Word, Text: s[i:j], Start: i, End: j})
			i = j
		default:
			out = append(out, Token{Kind: Symbol, Text: s[i : i+1], Start: i, End: i + 1})
			i++
		}
	}
	return out
}

// CutStatement splits the first statement off sql at its first semicolon
// outside comments, strings and quoted identifiers as dialect d reads
// them, for a shell that reads statements line by line. ok is false while
// sql has no such semicolon, e.g. inside an unterminated string.
func CutStatement(sql string, d Dialect) (stmt, rest string, ok bool) {
	for _, t := range Lex(sql, d) {
		if t.IsSymbol(";") {
			return sql[:t.Start], sql[t.End:], true
		}
	}
	return "", sql, false
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

// HasUnicodeSpace reports whether s holds a Unicode space that DuckDB
// reads as a space (see DuckDB).
func HasUnicodeSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0xC2 && unicodeSpace(s[i:]) > 0 {
			return true
		}
	}
	return false
}

// QuoteIdent quotes an identifier for Trino, Athena and DuckDB: "a""b".
func QuoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// QuoteString quotes a string literal for Trino, Athena and DuckDB, with
// each quote in s doubled. Backslashes stay as they are (a plain literal
// has no escapes in either dialect).
func QuoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
