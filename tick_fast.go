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
	next := 0 // the index in tickKeys after the last key found there
	for {
		var key int
		if k, n := matchTickKey(b[i:], next); n > 0 {
			key, i, next = k, i+n, k+1
		} else {
			ks, j, ok := scanPlainBytes(b, i)
			if !ok {
				return t, false
			}
			key = tickKeyID(b[ks : j-1])
			i = skipSpace(b, j)
			if i >= len(b) || b[i] != ':' {
				return t, false
			}
			i++
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return t, false
		}
		switch key {
		case keyV:
			num, j, ok := scanNumber(b, i)
			if !ok || string(num) != "1" {
				return t, false
			}
			i = j
		case keySymbol, keyExchange, keySource:
			vs, j, ok := scanPlainBytes(b, i)
			if !ok {
				return t, false
			}
			s := intern(b[vs : j-1])
			switch key {
			case keySymbol:
				t.Symbol = s
			case keyExchange:
				t.Exchange = s
			default:
				t.Source = s
			}
			i = j
		case keyTradeID:
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
		case keyTS:
			num, j, ok := scanNumber(b, i)
			if !ok {
				return t, false
			}
			us, ok := parseDigits(num)
			if !ok {
				return t, false
			}
			t.Time, haveTS, i = time.UnixMicro(us).UTC(), true, j
		case keyPrice, keySize:
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
			if key == keyPrice {
				t.Price, havePrice = f, true
			} else {
				t.Size = f
			}
			i = j
		case keyConditions:
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

// tickKeys are the keys of a tick as AppendJSON writes them, in its order,
// with their quotes and colon; their indexes are the key* constants.
var tickKeys = [...]string{`"v":`, `"symbol":`, `"ts":`, `"price":`, `"size":`, `"exchange":`, `"trade_id":`, `"conditions":`, `"source":`}

// The keys of a tick, indexes in tickKeys; keyUnknown is any other.
const (
	keyV = iota
	keySymbol
	keyTS
	keyPrice
	keySize
	keyExchange
	keyTradeID
	keyConditions
	keySource
	keyUnknown
)

// tickKeyWords are tickKeys as words: the first 8 bytes (fewer, under
// mask, for a shorter key) and the last 8, so that a key is matched with
// two word comparisons.
var tickKeyWords = func() (w [len(tickKeys)]struct{ first, mask, last uint64 }) {
	for k, lit := range tickKeys {
		var b [8]byte
		n := copy(b[:], lit)
		w[k].first = binary.LittleEndian.Uint64(b[:])
		w[k].mask = ^uint64(0) >> (64 - 8*n)
		if len(lit) >= 8 {
			w[k].last = binary.LittleEndian.Uint64([]byte(lit[len(lit)-8:]))
		}
	}
	return w
}()

// matchTickKey reports which of tickKeys[from:] b starts with, and its
// length; n=0 if none does (then the key is read the general way). Keys
// come in AppendJSON's order, some left out, so the next one is usually
// the first tried.
func matchTickKey(b []byte, from int) (k, n int) {
	if len(b) < 8 {
		for k := from; k < len(tickKeys); k++ {
			if lit := tickKeys[k]; len(b) >= len(lit) && string(b[:len(lit)]) == lit {
				return k, len(lit)
			}
		}
		return 0, 0
	}
	w := binary.LittleEndian.Uint64(b)
	for k := from; k < len(tickKeys); k++ {
		kw, n := &tickKeyWords[k], len(tickKeys[k])
		if w&kw.mask != kw.first {
			continue
		}
		if n <= 8 || (len(b) >= n && binary.LittleEndian.Uint64(b[n-8:]) == kw.last) {
			return k, n
		}
	}
	return 0, 0
}

// tickKeyID returns the key* constant of a key read the general way.
func tickKeyID(key []byte) int {
	for k, lit := range tickKeys {
		if string(key) == lit[1:len(lit)-2] {
			return k
		}
	}
	return keyUnknown
}

func skipSpace(b []byte, i int) int {
	// JSON's whitespace is all at or below ' ': one comparison passes
	// anything else (the common case: no whitespace at all).
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
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
		for j < len(b) && b[j]-'0' <= 9 { // b[j] is a byte: below '0' wraps round
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
