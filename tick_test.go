package stocklake

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func sampleTick() Tick {
	return Tick{Symbol: "AAPL", Time: time.UnixMicro(1764165600123456).UTC(), Price: 189.25, Size: 100,
		Exchange: "XNAS", TradeID: "42", Conditions: []string{"@", "I"}, Source: "sim"}
}

func TestTickJSONRoundTrip(t *testing.T) {
	in := sampleTick()
	b := in.AppendJSON(nil)
	want := `{"v":1,"symbol":"AAPL","ts":1764165600123456,"price":189.25,"size":100,"exchange":"XNAS","trade_id":"42","conditions":["@","I"],"source":"sim"}`
	if string(b) != want {
		t.Fatalf("AppendJSON =\n%s\nwant\n%s", b, want)
	}
	out, err := ParseTick(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip: got %+v want %+v", out, in)
	}
	if !json.Valid(b) {
		t.Fatal("AppendJSON produced invalid JSON")
	}
}

func TestTickJSONEscapes(t *testing.T) {
	in := sampleTick()
	in.Symbol = "we\"ird\\sym\n\x01é"
	in.Conditions = []string{"a\tb"}
	b := in.AppendJSON(nil)
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	out, err := ParseTick(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.Symbol != in.Symbol || out.Conditions[0] != "a\tb" {
		t.Fatalf("got %q %q", out.Symbol, out.Conditions)
	}
}

func TestParseTickAcceptsVariants(t *testing.T) {
	cases := map[string]string{
		"numeric trade id":       `{"symbol":"BTCUSDT","ts":1764165600000000,"price":"97000.12","size":"0.0015","trade_id":123456789}`,
		"spaces and field order": ` { "trade_id" : "9", "price" : 1.5 , "ts": 1764165600000001, "symbol": "X" } `,
		"unknown fields":         `{"symbol":"X","ts":1764165600000001,"price":1,"trade_id":"1","extra":{"a":[1,2]}}`,
		"escaped string":         `{"symbol":"X\u0041","ts":1764165600000001,"price":1,"trade_id":"1"}`,
		"null conditions":        `{"symbol":"X","ts":1764165600000001,"price":1,"trade_id":"1","conditions":null}`,
		"explicit version 1":     `{"v":1,"symbol":"X","ts":1764165600000001,"price":1,"trade_id":"1"}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			tk, err := ParseTick([]byte(in))
			if err != nil {
				t.Fatalf("ParseTick(%s): %v", in, err)
			}
			if tk.Symbol == "" || tk.TradeID == "" || tk.Price <= 0 {
				t.Fatalf("incomplete tick %+v", tk)
			}
		})
	}
	tk, _ := ParseTick([]byte(cases["numeric trade id"]))
	if tk.TradeID != "123456789" || tk.Price != 97000.12 || tk.Size != 0.0015 {
		t.Fatalf("numeric fields: %+v", tk)
	}
	tk, _ = ParseTick([]byte(cases["escaped string"]))
	if tk.Symbol != "XA" {
		t.Fatalf("escaped symbol = %q", tk.Symbol)
	}
}

func TestParseTickRejects(t *testing.T) {
	cases := map[string]string{
		"not json":         `hello`,
		"array":            `[1,2]`,
		"no symbol":        `{"ts":1764165600000001,"price":1,"trade_id":"1"}`,
		"no ts":            `{"symbol":"X","price":1,"trade_id":"1"}`,
		"fractional ts":    `{"symbol":"X","ts":1.5,"price":1,"trade_id":"1"}`,
		"negative price":   `{"symbol":"X","ts":1764165600000001,"price":-1,"trade_id":"1"}`,
		"zero price":       `{"symbol":"X","ts":1764165600000001,"price":0,"trade_id":"1"}`,
		"text price":       `{"symbol":"X","ts":1764165600000001,"price":"abc","trade_id":"1"}`,
		"no trade id":      `{"symbol":"X","ts":1764165600000001,"price":1}`,
		"float trade id":   `{"symbol":"X","ts":1764165600000001,"price":1,"trade_id":1.5}`,
		"version 2":        `{"v":2,"symbol":"X","ts":1764165600000001,"price":1,"trade_id":"1"}`,
		"trailing garbage": `{"symbol":"X","ts":1764165600000001,"price":1,"trade_id":"1"} x`,
		"empty":            ``,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseTick([]byte(in))
			if err == nil {
				t.Fatalf("ParseTick(%q) accepted bad input", in)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestTickValidate(t *testing.T) {
	tk := sampleTick()
	tk.Price = math.NaN()
	if tk.Validate() == nil {
		t.Fatal("NaN price accepted")
	}
	tk = sampleTick()
	tk.Size = math.Inf(1)
	if tk.Validate() == nil {
		t.Fatal("infinite size accepted")
	}
}

func BenchmarkParseTick(b *testing.B) {
	tk := sampleTick()
	data := tk.AppendJSON(nil)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTick(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	tk := sampleTick()
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = tk.AppendJSON(buf[:0])
	}
}

// FuzzParseTick checks that decoding never panics; that errors wrap
// ErrInvalid; that whatever decodes validates, has a UTC time truncated to
// microseconds, and survives a round trip through AppendJSON (decoded by
// both paths, re-encoded to the same bytes); and that the fast path and
// encoding/json agree: a document the fast path accepts decodes to the same
// tick, with the same verdict, through encoding/json. Seeds are in
// testdata/fuzz/FuzzParseTick.
func FuzzParseTick(f *testing.F) {
	tk := sampleTick()
	f.Add(tk.AppendJSON(nil))
	f.Add([]byte(`{"symbol":"BTCUSDT","ts":1764165600000000,"price":"97000.12","size":"0.0015","trade_id":123}`))
	f.Add([]byte(`{"symbol":"X\u0041","ts":1,"price":1,"trade_id":"1","conditions":null}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"symbol":"X","ts":1764165600000001,"price":01,"trade_id":"1"}`))
	f.Add([]byte(`{"symbol":"X","ts":1764165600000001,"price":1.,"size":-.5,"trade_id":"1"}`))
	f.Add(tk.AppendAvro(nil, 1))
	f.Add([]byte{0, 0, 0, 0, 1, 0xfe, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseTick(b)
		if err == nil {
			back, aerr := ParseTick(got.AppendAvro(nil, 9))
			if aerr != nil || !reflect.DeepEqual(normalize(got), normalize(back)) {
				t.Fatalf("Avro round trip of %#v gave %#v, %v", got, back, aerr)
			}
		}
		if fast, ok := parseTickFast(b, &TickParser{}); ok {
			slow, serr := parseTickJSON(b)
			if fv := fast.Validate(); (fv == nil) != (serr == nil) {
				t.Fatalf("fast path and encoding/json disagree on %q: fast %v, encoding/json %v", b, fv, serr)
			}
			if serr == nil && !reflect.DeepEqual(fast, slow) {
				t.Fatalf("fast path and encoding/json disagree on %q:\n%#v\n%#v", b, fast, slow)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("ParseTick accepted an invalid tick: %v", err)
		}
		if got.Time.Location() != time.UTC || got.Time.Nanosecond()%1000 != 0 {
			t.Fatalf("time %v is not UTC microseconds", got.Time)
		}
		enc := got.AppendJSON(nil)
		if !json.Valid(enc) {
			t.Fatalf("AppendJSON wrote invalid JSON: %q", enc)
		}
		again, err := ParseTick(enc)
		if err != nil {
			t.Fatalf("re-encoded tick %q does not decode: %v", enc, err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(again)) {
			t.Fatalf("round trip changed the tick:\n%#v\n%#v", got, again)
		}
		viaJSON, err := parseTickJSON(enc)
		if err != nil || !reflect.DeepEqual(normalize(got), normalize(viaJSON)) {
			t.Fatalf("encoding/json reads re-encoded %q as %#v (%v), want %#v", enc, viaJSON, err, got)
		}
		if enc2 := again.AppendJSON(nil); string(enc2) != string(enc) {
			t.Fatalf("encoding is not stable:\n%s\n%s", enc, enc2)
		}
	})
}

// normalize makes an empty conditions list and a missing one compare equal.
func normalize(t Tick) Tick {
	if len(t.Conditions) == 0 {
		t.Conditions = nil
	}
	return t
}

// TestParseTickAvro: an Avro tick decodes to the tick written; every
// truncation of it, and lengths or counts larger than what is left, are
// ErrInvalid without a panic or a large allocation.
func TestParseTickAvro(t *testing.T) {
	tk := sampleTick()
	b := tk.AppendAvro(nil, 42)
	got, err := ParseTick(b)
	if err != nil || !reflect.DeepEqual(normalize(got), normalize(tk)) {
		t.Fatalf("ParseTick(AppendAvro) = %#v, %v; want %#v", got, err, tk)
	}
	for i := range len(b) {
		if _, err := ParseTick(b[:i]); !errors.Is(err, ErrInvalid) {
			t.Fatalf("ParseTick of %d of %d bytes = %v, want ErrInvalid", i, len(b), err)
		}
	}
	for _, bad := range [][]byte{
		{0, 0, 0, 0, 1, 0xfe, 0xff, 0xff, 0xff, 0x0f}, // symbol of 2 GiB
		arrayOf(1 << 40), // an array block of more items than bytes left
		append(b, 0),     // a byte after the tick
	} {
		if _, err := ParseTick(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseTick(%x) = %v, want ErrInvalid", bad, err)
		}
	}
}

// arrayOf is an Avro tick frame whose conditions array claims n items.
func arrayOf(n int64) []byte {
	tk := Tick{Symbol: "A", Time: time.UnixMicro(1764165600000000), Price: 1, TradeID: "1"}
	b := tk.AppendAvro(nil, 1)
	b = b[:len(b)-2] // the array's end and the empty source
	b = binary.AppendVarint(b, n)
	return append(b, 2, 'x', 0, 0)
}

// TestParseTickSharesConditionLists: a condition list that repeats across
// ticks is decoded without allocating (issue 18: one allocation per tick,
// its trade ID, where there were two), and the shared list cannot be
// changed through an append.
func TestParseTickSharesConditionLists(t *testing.T) {
	tk := sampleTick()
	wire := tk.AppendJSON(nil)
	a, err := ParseTick(wire)
	if err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = ParseTick(wire) }); allocs > 1 {
		t.Errorf("ParseTick of a tick with a repeated condition list: %v allocations, want at most 1 (the trade ID)", allocs)
	}
	b, _ := ParseTick(wire)
	if !reflect.DeepEqual(a.Conditions, []string{"@", "I"}) || !reflect.DeepEqual(b.Conditions, a.Conditions) {
		t.Fatalf("conditions %q and %q, want [@ I]", a.Conditions, b.Conditions)
	}
	grown := append(a.Conditions, "X")
	grown[0] = "changed"
	if b.Conditions[0] != "@" || len(b.Conditions) != 2 {
		t.Errorf("appending to one tick's conditions changed another's: %q", b.Conditions)
	}
	// A different list with the same prefix is not taken for it.
	other, err := ParseTick([]byte(`{"v":1,"symbol":"AAPL","ts":1764165600123456,"price":1,"size":1,"exchange":"XNAS","trade_id":"7","conditions":["@","I","T"],"source":"sim"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(other.Conditions, []string{"@", "I", "T"}) {
		t.Errorf("conditions %q, want [@ I T]", other.Conditions)
	}
}

// TestTickParserSharesBlocks: a TickParser decodes what ParseTick does,
// without an allocation per tick for the trade ID, and the trade IDs of
// earlier ticks stay as they were while later ticks fill the same block
// and the next ones (string, integer, long and empty IDs).
func TestTickParserSharesBlocks(t *testing.T) {
	var p TickParser
	var got []Tick
	var wires [][]byte
	for i := range 3 * tickParserBlock / 4 {
		tk := sampleTick()
		tk.TradeID = strconv.Itoa(i * 7919)
		switch i % 100 {
		case 1:
			tk.TradeID = strings.Repeat("x", tickParserBlock/16+1)
		case 2:
			tk.TradeID = strings.Repeat("y", tickParserBlock/16)
		}
		w := tk.AppendJSON(nil)
		if i%3 == 0 && i%100 > 2 { // an integer trade ID
			w = bytes.Replace(w, []byte(`"trade_id":"`+tk.TradeID+`"`), []byte(`"trade_id":`+tk.TradeID), 1)
		}
		wires = append(wires, w)
		tick, err := p.Parse(w)
		if err != nil {
			t.Fatalf("%s: %v", w, err)
		}
		got = append(got, tick)
	}
	if _, err := p.Parse([]byte(`{"symbol":"X","ts":1,"price":1,"trade_id":""}`)); err == nil {
		t.Error("an empty trade ID was accepted")
	}
	for i, w := range wires {
		want, err := ParseTick(w)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got[i], want) {
			t.Fatalf("tick %d: TickParser gave %#v, ParseTick %#v", i, got[i], want)
		}
	}
	st := sampleTick()
	wire := st.AppendJSON(nil)
	if allocs := testing.AllocsPerRun(1000, func() { _, _ = p.Parse(wire) }); allocs > 0.1 {
		t.Errorf("TickParser.Parse: %v allocations per tick, want (almost) none", allocs)
	}
}
