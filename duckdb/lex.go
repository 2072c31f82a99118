package duckdb

import (
	"strings"
)

// token is one lexical token of a SQL statement.
type token struct {
	kind  tokKind
	text  string // identifier (unquoted, as written or unescaped when quoted), punctuation, literal text
	start int    // byte offset in the statement
	end   int
}

type tokKind uint8

const (
	tokWord   tokKind = iota // keyword or unquoted identifier
	tokQuoted                // "quoted identifier"
	tokString                // 'string literal'
	tokNumber
	tokPunct
)

// lex splits s into tokens, skipping whitespace and comments. It never
// fails: an unterminated string or comment runs to the end.
func lex(s string) []token {
	var out []token
	i := 0
	for i < len(s) {
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
		case c == '\'' || c == '"':
			j := i + 1
			var b strings.Builder
			for j < len(s) {
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			kind := tokString
			if c == '"' {
				kind = tokQuoted
			}
			end := min(j+1, len(s))
			out = append(out, token{kind: kind, text: b.String(), start: i, end: end})
			i = end
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && (isIdentByte(s[j]) || s[j] == '$' || s[j] >= 0x80) {
				j++
			}
			out = append(out, token{kind: tokWord, text: s[i:j], start: i, end: j})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && (isIdentByte(s[j]) || s[j] == '.') {
				j++
			}
			out = append(out, token{kind: tokNumber, text: s[i:j], start: i, end: j})
			i = j
		default:
			out = append(out, token{kind: tokPunct, text: s[i : i+1], start: i, end: i + 1})
			i++
		}
	}
	return out
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// is reports whether t is the keyword kw (case-insensitive).
func (t token) is(kw string) bool {
	return t.kind == tokWord && strings.EqualFold(t.text, kw)
}

// ident reports whether t names something, quoted or not.
func (t token) ident() bool { return t.kind == tokWord || t.kind == tokQuoted }

// trimStatement removes surrounding whitespace and trailing semicolons.
func trimStatement(s string) string {
	s = strings.TrimSpace(s)
	for strings.HasSuffix(s, ";") {
		s = strings.TrimSpace(strings.TrimSuffix(s, ";"))
	}
	return s
}

// qualifiedNameSpan returns the end offset of a dotted name (a, a.b, a.b.c,
// each part quoted or not) starting at offset start, and its last part.
func qualifiedNameSpan(s string, start int) (end int, last string, ok bool) {
	toks := lex(s[start:])
	if len(toks) == 0 || !toks[0].ident() || toks[0].start != 0 {
		return 0, "", false
	}
	end, last = toks[0].end, toks[0].text
	for i := 1; i+1 < len(toks) && i < 6; i += 2 {
		if toks[i].text != "." || !toks[i+1].ident() {
			break
		}
		end, last = toks[i+1].end, toks[i+1].text
	}
	return start + end, last, true
}
