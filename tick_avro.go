package stocklake

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// TickAvroContentType is the "content-type" Kafka header of ticks that
// produce --format avro writes.
const TickAvroContentType = "application/vnd.stocklake.tick.v1+avro"

// TickAvroSchema is the Avro schema of a tick (subject "<topic>-value" in
// a Schema Registry). The fields and their meaning are those of the JSON
// wire format (see Tick); ts keeps its logical type, timestamp-micros.
// It is fixed: ParseTick decodes Avro ticks written with it whatever
// schema ID their frame carries, so readers need no registry. A change to
// it is a new record name, never an edit.
const TickAvroSchema = `{"type":"record","name":"Tick","namespace":"stocklake","fields":[` +
	`{"name":"symbol","type":"string"},` +
	`{"name":"ts","type":{"type":"long","logicalType":"timestamp-micros"}},` +
	`{"name":"price","type":"double"},` +
	`{"name":"size","type":"double"},` +
	`{"name":"exchange","type":"string","default":""},` +
	`{"name":"trade_id","type":"string"},` +
	`{"name":"conditions","type":{"type":"array","items":"string"},"default":[]},` +
	`{"name":"source","type":"string","default":""}]}`

// WireMagic is the first byte of a record in the Confluent Schema Registry
// wire format: magic byte 0, the schema ID as a 4-byte big-endian integer,
// then the encoded data (for Protobuf, message indexes first). A JSON
// document never starts with it.
const WireMagic = 0

// AppendAvro appends the tick in the Confluent wire format with schema ID
// id and TickAvroSchema's binary encoding.
func (t *Tick) AppendAvro(dst []byte, id uint32) []byte {
	dst = append(dst, WireMagic)
	dst = binary.BigEndian.AppendUint32(dst, id)
	dst = appendAvroString(dst, t.Symbol)
	dst = binary.AppendVarint(dst, t.Time.UnixMicro())
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(t.Price))
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(t.Size))
	dst = appendAvroString(dst, t.Exchange)
	dst = appendAvroString(dst, t.TradeID)
	if len(t.Conditions) > 0 {
		dst = binary.AppendVarint(dst, int64(len(t.Conditions)))
		for _, c := range t.Conditions {
			dst = appendAvroString(dst, c)
		}
	}
	dst = append(dst, 0) // end of the array's blocks
	return appendAvroString(dst, t.Source)
}

func appendAvroString(dst []byte, s string) []byte {
	dst = binary.AppendVarint(dst, int64(len(s)))
	return append(dst, s...)
}

// avroReader decodes Avro binary values from b; the first error sticks.
type avroReader struct {
	b   []byte
	err error
}

func (r *avroReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("avro tick: %s: %w", what, ErrInvalid)
	}
}

func (r *avroReader) long() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad or truncated varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *avroReader) double() float64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.fail("truncated double")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

func (r *avroReader) str() string {
	n := r.long()
	if r.err != nil {
		return ""
	}
	if n < 0 || n > int64(len(r.b)) {
		r.fail(fmt.Sprintf("string length %d with %d bytes left", n, len(r.b)))
		return ""
	}
	if !utf8.Valid(r.b[:n]) {
		r.fail("string is not UTF-8")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// parseTickAvro decodes a tick in the wire format AppendAvro writes.
func parseTickAvro(b []byte) (Tick, error) {
	if len(b) < 5 || b[0] != WireMagic {
		return Tick{}, fmt.Errorf("avro tick: frame of %d bytes, want magic byte 0 and a 4-byte schema ID: %w", len(b), ErrInvalid)
	}
	r := avroReader{b: b[5:]}
	var t Tick
	t.Symbol = r.str()
	us := r.long()
	t.Price = r.double()
	t.Size = r.double()
	t.Exchange = r.str()
	t.TradeID = r.str()
	for r.err == nil {
		n := r.long()
		if n == 0 {
			break
		}
		if n < 0 { // a block with its size in bytes
			n = -n
			r.long()
		}
		if n > int64(len(r.b)) { // each item takes a byte at least
			r.fail(fmt.Sprintf("array block of %d items with %d bytes left", n, len(r.b)))
			break
		}
		for ; n > 0 && r.err == nil; n-- {
			t.Conditions = append(t.Conditions, r.str())
		}
	}
	t.Source = r.str()
	if r.err == nil && len(r.b) > 0 {
		r.fail(fmt.Sprintf("%d bytes after the tick", len(r.b)))
	}
	if r.err != nil {
		return Tick{}, r.err
	}
	t.Time = time.UnixMicro(us).UTC()
	return t, t.Validate()
}
