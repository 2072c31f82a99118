package stocklake

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// TickWireVersion is the version of the tick JSON wire format written by
// AppendJSON. Readers accept records whose "v" field is missing or equal to it.
const TickWireVersion = 1

// TickContentType is the value of the "content-type" Kafka header that
// producers put on tick records, so consumers can tell ticks from other JSON.
const TickContentType = "application/vnd.stocklake.tick.v1+json"

// Tick is one trade: the unit of market data that flows through stocklake.
//
// Wire format (JSON, version 1), one object per Kafka record, keyed by symbol:
//
//		{"v":1,"symbol":"AAPL","ts":1764165600123456,"price":189.25,"size":100,
//		 "exchange":"XNAS","trade_id":"42","conditions":["@","I"],"source":"sim"}
//
//	  - v: wire format version (1). Optional on input.
//	  - symbol: instrument symbol, required, non-empty.
//	  - ts: event time as integer microseconds since the Unix epoch, UTC, required.
//	  - price: trade price, required, finite and > 0.
//	  - size: traded quantity (shares, or units for fractional assets), >= 0.
//	  - exchange: venue code (MIC or the feed's own code), optional.
//	  - trade_id: identifier unique per symbol within a source, required.
//	  - conditions: trade condition codes as the feed sends them, optional.
//	  - source: where the tick came from (sim, csv, binance, ...), optional.
//
// Unknown fields are ignored so the format can grow without breaking readers.
type Tick struct {
	Symbol   string
	Time     time.Time // event time, UTC, truncated to microseconds
	Price    float64
	Size     float64
	Exchange string
	TradeID  string
	// Conditions as ParseTick decodes them may be shared by the ticks
	// that carry the same list (see internConditions): append to them,
	// never change them in place.
	Conditions []string
	Source     string
}

// TimeMicros returns the tick's event time in microseconds since the Unix epoch.
func (t *Tick) TimeMicros() int64 { return t.Time.UnixMicro() }

// Validate reports why a tick is unusable, wrapping ErrInvalid, or nil.
func (t *Tick) Validate() error {
	switch {
	case t.Symbol == "":
		return fmt.Errorf("tick has no symbol: %w", ErrInvalid)
	case t.Time.IsZero() || t.Time.UnixMicro() <= 0:
		return fmt.Errorf("tick %s has no event time (ts): %w", t.Symbol, ErrInvalid)
	case math.IsNaN(t.Price) || math.IsInf(t.Price, 0) || t.Price <= 0:
		return fmt.Errorf("tick %s has price %v, want a finite number > 0: %w", t.Symbol, t.Price, ErrInvalid)
	case math.IsNaN(t.Size) || math.IsInf(t.Size, 0) || t.Size < 0:
		return fmt.Errorf("tick %s has size %v, want a finite number >= 0: %w", t.Symbol, t.Size, ErrInvalid)
	case t.TradeID == "":
		return fmt.Errorf("tick %s has no trade_id: %w", t.Symbol, ErrInvalid)
	}
	return nil
}

// AppendJSON appends the tick's wire-format JSON to dst and returns it.
func (t *Tick) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"v":1,"symbol":`...)
	dst = appendJSONString(dst, t.Symbol)
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, t.Time.UnixMicro(), 10)
	dst = append(dst, `,"price":`...)
	dst = strconv.AppendFloat(dst, t.Price, 'f', -1, 64)
	dst = append(dst, `,"size":`...)
	dst = strconv.AppendFloat(dst, t.Size, 'f', -1, 64)
	if t.Exchange != "" {
		dst = append(dst, `,"exchange":`...)
		dst = appendJSONString(dst, t.Exchange)
	}
	dst = append(dst, `,"trade_id":`...)
	dst = appendJSONString(dst, t.TradeID)
	if len(t.Conditions) > 0 {
		dst = append(dst, `,"conditions":[`...)
		for i, c := range t.Conditions {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, c)
		}
		dst = append(dst, ']')
	}
	if t.Source != "" {
		dst = append(dst, `,"source":`...)
		dst = appendJSONString(dst, t.Source)
	}
	return append(dst, '}')
}

// MarshalJSON implements json.Marshaler with the wire format.
func (t Tick) MarshalJSON() ([]byte, error) { return t.AppendJSON(nil), nil }

// tickWire mirrors the wire format for encoding/json.
type tickWire struct {
	V          *int            `json:"v"`
	Symbol     string          `json:"symbol"`
	TS         json.RawMessage `json:"ts"`
	Price      json.RawMessage `json:"price"`
	Size       json.RawMessage `json:"size"`
	Exchange   string          `json:"exchange"`
	TradeID    json.RawMessage `json:"trade_id"`
	Conditions []string        `json:"conditions"`
	Source     string          `json:"source"`
}

// UnmarshalJSON implements json.Unmarshaler; see ParseTick.
func (t *Tick) UnmarshalJSON(b []byte) error {
	p, err := ParseTick(b)
	if err != nil {
		return err
	}
	*t = p
	return nil
}

// ParseTick decodes one wire-format tick and validates it. Errors wrap
// ErrInvalid and say which field is wrong. trade_id may be a JSON string or
// integer; price and size may be numbers or numeric strings.
//
// A record that starts with WireMagic is an Avro tick in the Confluent
// wire format (TickAvroSchema, see Tick.AppendAvro).
func ParseTick(b []byte) (Tick, error) {
	return (*TickParser)(nil).Parse(b)
}

// TickParser is ParseTick that copies the trade IDs of the ticks it
// decodes into shared blocks of memory instead of one allocation each: a
// decoder of many ticks keeps one per goroutine. A block stays in memory
// while any tick decoded into it is; its bytes are never reused, so the
// ticks' strings never change. The zero value is ready; a TickParser is
// not safe for concurrent use. A nil *TickParser is ParseTick.
type TickParser struct {
	block []byte // free room of the current block
}

// tickParserBlock is the size of a TickParser's blocks: the trade IDs of
// some hundreds of ticks.
const tickParserBlock = 4096

// Parse decodes one wire-format tick as ParseTick does.
func (p *TickParser) Parse(b []byte) (Tick, error) {
	if len(b) > 0 && b[0] == WireMagic {
		return parseTickAvro(b)
	}
	if t, ok := parseTickFast(b, p); ok {
		return t, t.Validate()
	}
	return parseTickJSON(b)
}

// copyString returns b as a string in p's current block, or a string of
// its own when p is nil or b is long.
func (p *TickParser) copyString(b []byte) string {
	if p == nil || len(b) > tickParserBlock/16 {
		return string(b)
	}
	if len(b) == 0 {
		return ""
	}
	if len(p.block) < len(b) {
		p.block = make([]byte, tickParserBlock)
	}
	n := copy(p.block, b)
	s := unsafe.String(&p.block[0], n)
	p.block = p.block[n:]
	return s
}

// parseTickJSON is ParseTick's general path, through encoding/json; it
// accepts every document ParseTick does.
func parseTickJSON(b []byte) (Tick, error) {
	var w tickWire
	if err := json.Unmarshal(b, &w); err != nil {
		return Tick{}, fmt.Errorf("tick is not a JSON object in wire format v1: %w: %w", err, ErrInvalid)
	}
	if w.V != nil && *w.V != TickWireVersion {
		return Tick{}, fmt.Errorf("tick wire version %d is not supported (want %d): %w", *w.V, TickWireVersion, ErrInvalid)
	}
	t := Tick{Symbol: w.Symbol, Exchange: w.Exchange, Conditions: w.Conditions, Source: w.Source}
	if len(w.TS) == 0 || string(w.TS) == "null" {
		return Tick{}, fmt.Errorf("tick %q has no ts (microseconds since epoch): %w", w.Symbol, ErrInvalid)
	}
	us, err := strconv.ParseInt(string(w.TS), 10, 64)
	if err != nil {
		return Tick{}, fmt.Errorf("tick %q: ts %q is not integer microseconds: %w", w.Symbol, w.TS, ErrInvalid)
	}
	t.Time = time.UnixMicro(us).UTC()
	if t.Price, err = parseNumber(w.Price); err != nil {
		return Tick{}, fmt.Errorf("tick %q: price: %w: %w", w.Symbol, err, ErrInvalid)
	}
	if len(w.Size) > 0 && string(w.Size) != "null" {
		if t.Size, err = parseNumber(w.Size); err != nil {
			return Tick{}, fmt.Errorf("tick %q: size: %w: %w", w.Symbol, err, ErrInvalid)
		}
	}
	if len(w.TradeID) > 0 {
		var s string
		if err := json.Unmarshal(w.TradeID, &s); err == nil {
			t.TradeID = s
		} else if isInteger(string(w.TradeID)) {
			t.TradeID = string(w.TradeID)
		} else {
			return Tick{}, fmt.Errorf("tick %q: trade_id %s is neither a string nor an integer: %w", w.Symbol, w.TradeID, ErrInvalid)
		}
	}
	return t, t.Validate()
}

func parseNumber(n json.RawMessage) (float64, error) {
	s := string(n)
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	if s == "" {
		return 0, fmt.Errorf("missing")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return f, nil
}

func isInteger(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '-' && i == 0 && len(s) > 1 {
			continue
		}
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s to dst as a JSON string literal, escaping
// quotes, backslashes and control characters and replacing invalid UTF-8
// with U+FFFD.
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s) }

// appendJSONString appends s as a JSON string literal.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
