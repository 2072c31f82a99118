package stocklake

import (
	"encoding/binary"
	"hash/maphash"
	"sync/atomic"
	"time"
	"unsafe"
)

// parseTickFast decodes the common shape of a wire-format tick without
// reflection: a flat object of strings without escapes, numbers and arrays of
// such strings. It returns ok=false for anything else (escapes, nesting,
// unusual whitespace), and ParseTick then falls back to encoding/json, so both
// paths accept exactly the same documents.
//
// p, if not nil, holds the trade ID (TickParser.copyString).
func parseTickFast(b []byte, p *TickParser) (t Tick, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return t, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return t, false
	}
	var haveTS, havePrice bool
	for {
		ks, j, ok := scanPlainBytes(b, i)
		if !ok {
			return t, false
		}
		key := b[ks : j-1]
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return t, false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return t, false
		}
		switch string(key) {
		case "v":
			num, j, ok := scanNumber(b, i)
			if !ok || string(num) != "1" {
				return t, false
			}
			i = j
		case "symbol", "exchange", "source":
			vs, j, ok := scanPlainBytes(b, i)
			if !ok {
				return t, false
			}
			s := intern(b[vs : j-1])
			switch string(key) {
			case "symbol":
				t.Symbol = s
			case "exchange":
				t.Exchange = s
			default:
				t.Source = s
			}
			i = j
		case "trade_id":
			if b[i] == '"' {
				vs, j, ok := scanPlainBytes(b, i)
				if !ok {
					return t, false
				}
				t.TradeID, i = p.copyString(b[vs:j-1]), j
			} else {
				num, j, ok := scanNumber(b, i)
				if !ok || !isInteger(viewString(num)) {
					return t, false
				}
				t.TradeID, i = p.copyString(num), j
			}
		case "ts":
			num, j, ok := scanNumber(b, i)
			if !ok {
				return t, false
			}
			us, ok := parseDigits(num)
			if !ok {
				return t, false
			}
			t.Time, haveTS, i = time.UnixMicro(us).UTC(), true, j
		case "price", "size":
			var f float64
			var err error
			var j int
			if b[i] == '"' {
				var s []byte
				var vs int
				vs, j, ok = scanPlainBytes(b, i)
				s = b[vs:max(vs, j-1)]
				if ok {
					f, err = parseFloat(s)
				}
			} else {
				var num []byte
				num, j, ok = scanNumber(b, i)
				if ok {
					f, err = parseFloat(num)
				}
			}
			if !ok || err != nil {
				return t, false
			}
			if string(key) == "price" {
				t.Price, havePrice = f, true
			} else {
				t.Size = f
			}
			i = j
		case "conditions":
			if b[i] == 'n' {
				if len(b)-i < 4 || string(b[i:i+4]) != "null" {
					return t, false
				}
				t.Conditions = nil // as encoding/json does when a repeated key is null
				i += 4
				break
			}
			if b[i] != '[' {
				return t, false
			}
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == ']' {
				t.Conditions = []string{}
				i++
				break
			}
			// The spans of the strings; they are interned only when the
			// list is not in condsTable already.
			var stack [8][2]int
			spans, start := stack[:0], i
			for {
				vs, j, ok := scanPlainBytes(b, i)
				if !ok {
					return t, false
				}
				spans = append(spans, [2]int{vs, j - 1})
				i = skipSpace(b, j)
				if i < len(b) && b[i] == ',' {
					i = skipSpace(b, i+1)
					continue
				}
				if i < len(b) && b[i] == ']' {
					i++
					break
				}
				return t, false
			}
			t.Conditions = internConditions(b, b[start:i], spans)
		default:
			return t, false // unknown fields: let encoding/json skip them
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return t, false
		}
		if b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if b[i] == '}' {
			if skipSpace(b, i+1) != len(b) {
				return t, false
			}
			return t, haveTS && havePrice
		}
		return t, false
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanPlainBytes reads a JSON string starting at b[i] that has no escapes
// and only printable ASCII (anything else is for the fallback), without a
// copy: the string's content is b[start:end-1]; ok=false if the string
// needs the full decoder.
func scanPlainBytes(b []byte, i int) (start, end int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, i, false
	}
	for j := i + 1; j < len(b); j++ {
		c := b[j]
		if c == '"' {
			return i + 1, j + 1, true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return 0, i, false
		}
	}
	return 0, i, false
}

// scanNumber reads a JSON number token starting at b[i], following JSON's
// grammar exactly: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) ([]byte, int, bool) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	digits := func() int {
		n := 0
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
			n++
		}
		return n
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case digits() == 0:
		return nil, i, false
	}
	if j < len(b) && b[j] == '.' {
		j++
		if digits() == 0 {
			return nil, i, false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if digits() == 0 {
			return nil, i, false
		}
	}
	return b[i:j], j, true
}

// parseDigits parses an optionally negative decimal integer.
func parseDigits(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// viewString returns b as a string without copying. The result must not
// outlive the call it is passed to.
func viewString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// internTable caches short strings that repeat across ticks (symbols,
// exchanges, sources, condition codes) so decoding them does not allocate.
// Entries are replaced on hash collisions; it is safe for concurrent use.
var internTable [1 << internBits]atomic.Pointer[internEntry]

// internBits is log2 of internTable's size.
const internBits = 12

// internEntry is a string of internTable with its bytes as two words
// (internWords), which identify a string of up to 16 bytes of a given
// length: comparing them is cheaper than comparing the strings.
type internEntry struct {
	w0, w1 uint64
	n      int
	s      string
}

var internSeed = maphash.MakeSeed()

// internKey is a random key of the hash of internTable's strings, so that
// crafted input cannot pick which strings collide.
var internKey = maphash.Comparable(internSeed, 0) | 1

// internWords returns b (at most 16 bytes) as two words: for 8 bytes or
// more, its first and last 8 (they overlap under 16); else packed in w0.
func internWords(b []byte) (w0, w1 uint64) {
	switch n := len(b); {
	case n >= 8:
		return binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[n-8:])
	case n >= 4:
		return uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<32, 0
	default:
		for i, c := range b {
			w0 |= uint64(c) << (8 * i)
		}
		return w0, 0
	}
}

// intern returns b as a string, from the cache when it is there.
func intern(b []byte) string {
	if len(b) > 16 {
		return string(b)
	}
	w0, w1 := internWords(b)
	h := (w0^internKey)*0x9e3779b97f4a7c15 ^ (w1+uint64(len(b)))*0xc2b2ae3d27d4eb4f
	slot := &internTable[h>>(64-internBits)]
	if e := slot.Load(); e != nil && e.w0 == w0 && e.w1 == w1 && e.n == len(b) {
		return e.s
	}
	e := &internEntry{w0: w0, w1: w1, n: len(b), s: string(b)}
	slot.Store(e)
	return e.s
}

// condsTable caches condition lists that repeat across ticks, keyed by
// their JSON text, like internTable: most ticks carry one of a few lists,
// so decoding them need not allocate. Entries are replaced on hash
// collisions; it is safe for concurrent use.
var condsTable [1024]atomic.Pointer[condsEntry]

type condsEntry struct {
	raw   string
	conds []string
}

// internConditions returns a list holding the strings b[s[0]:s[1]] of
// spans, the list whose JSON text is raw: from condsTable when it is
// there. The list is shared by the ticks that carry it, with its capacity
// cut to its length so that an append copies it; it must not be changed
// in place.
func internConditions(b, raw []byte, spans [][2]int) []string {
	list := func() []string {
		conds := make([]string, len(spans))
		for i, s := range spans {
			conds[i] = intern(b[s[0]:s[1]])
		}
		return conds
	}
	if len(raw) > 64 {
		return list()
	}
	slot := &condsTable[maphash.Bytes(internSeed, raw)%uint64(len(condsTable))]
	if e := slot.Load(); e != nil && e.raw == string(raw) {
		return e.conds
	}
	e := &condsEntry{raw: string(raw), conds: list()}
	slot.Store(e)
	return e.conds
}
