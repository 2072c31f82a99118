package kafka

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRecordPoolZstdFits: a zstd batch that compresses better than the
// size guess gets a buffer it decompresses into without growing it (the
// guess alone, ten times the compressed size, was thrown away and
// reallocated by the decompressor for every such batch).
func TestRecordPoolZstdFits(t *testing.T) {
	const guess = 10 // decompressGuess
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	raw := bytes.Repeat([]byte(`{"v":1,"symbol":"AAPL","ts":1764000000000000,"price":249.28,"size":100}`), 4000)
	comp := enc.EncodeAll(raw, nil)
	if len(raw) <= 10*len(comp) {
		t.Fatalf("test data compresses only %d:%d; want better than 10:1", len(raw), len(comp))
	}
	p := NewRecordPool()
	b := p.GetDecompressBytes(comp, kgo.CodecZstd)
	if cap(b) < len(raw) {
		t.Fatalf("buffer for a zstd batch of %d bytes has capacity %d", len(raw), cap(b))
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	out, err := dec.DecodeAll(comp, b[:0])
	if err != nil {
		t.Fatal(err)
	}
	if &out[0] != &b[:1][0] || !bytes.Equal(out, raw) {
		t.Errorf("the decompressor did not decode into the pool's buffer")
	}
	// Crafted: a frame header claiming an absurd size, and garbage, get the guess.
	for _, in := range [][]byte{{0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, []byte("not zstd")} {
		if b := p.GetDecompressBytes(in, kgo.CodecZstd); cap(b) != guess*len(in) {
			t.Errorf("buffer for %x: capacity %d; want the guess %d", in, cap(b), guess*len(in))
		}
	}
}

// TestRecordPoolBestFit: a get takes a free buffer large enough, the
// smallest such, not whichever was put back first (one too small is thrown
// away by the client and allocated again); the pool keeps at most
// RecordPoolSize (NewRecordPoolSize: as many as asked), the largest.
func TestRecordPoolBestFit(t *testing.T) {
	const guess = 10 // decompressGuess
	p := NewRecordPool()
	for _, n := range []int{100, 5000, 1000} {
		p.PutDecompressBytes(make([]byte, 7, n))
		p.PutRecords(make([]kgo.Record, 3, n))
	}
	for _, tc := range []struct{ need, want int }{{900, 1000}, {4000, 5000}, {50, 100}, {10, 0}} {
		b := p.GetDecompressBytes(make([]byte, tc.need/guess), kgo.CodecLz4)
		r := p.GetRecords(tc.need)
		want := tc.want
		if want == 0 { // the pool is empty now: fresh ones of the size asked for
			want = tc.need
		}
		if cap(b) != want || len(b) != 0 {
			t.Errorf("bytes for %d: len %d cap %d; want len 0 cap %d", tc.need, len(b), cap(b), want)
		}
		if cap(r) != want || len(r) != 0 {
			t.Errorf("records for %d: len %d cap %d; want len 0 cap %d", tc.need, len(r), cap(r), want)
		}
	}
	for _, keep := range []int{RecordPoolSize, 32} {
		p := NewRecordPool()
		if keep != RecordPoolSize {
			p = NewRecordPoolSize(keep)
		}
		for n := range 2 * keep {
			p.PutRecords(make([]kgo.Record, 0, n+1))
		}
		for range keep {
			if r := p.GetRecords(1); cap(r) <= keep {
				t.Errorf("pool of %d kept a slice of %d records over a larger one", keep, cap(r))
			}
		}
		if r := p.GetRecords(1); cap(r) != 1 {
			t.Errorf("pool kept more than %d slices: got one of %d records", keep, cap(r))
		}
	}
}
