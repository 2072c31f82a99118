package kafka

import "github.com/twmb/franz-go/pkg/kgo"

// RecordPool lends a Kafka client the buffers it decompresses fetched
// batches into and the Record slices it decodes them into
// (kgo.WithPools(NewRecordPool())): a consumer recycles the records it is
// done with (kgo.Record.Recycle; the sink those whose values it copied, the
// analyzer those it decoded), and once every record of a slice is, the
// client puts the slice back here for the next fetch, instead of allocating
// some 300 bytes per record afresh for the collector. It keeps at most
// RecordPoolSize of each, so pooling does not raise the peak memory.
// Records kept (dead letters, JSON lines) are never recycled: their slices
// are left to the collector.
type RecordPool struct {
	bytes chan []byte
	recs  chan []kgo.Record
}

// RecordPoolSize is how many free buffers of each kind a RecordPool keeps.
const RecordPoolSize = 8

// NewRecordPool returns an empty RecordPool.
func NewRecordPool() *RecordPool {
	return &RecordPool{bytes: make(chan []byte, RecordPoolSize), recs: make(chan []kgo.Record, RecordPoolSize)}
}

// GetDecompressBytes implements kgo.PoolDecompressBytes.
func (p *RecordPool) GetDecompressBytes(compressed []byte, _ kgo.CompressionCodecType) []byte {
	select {
	case b := <-p.bytes:
		return b
	default:
		return make([]byte, 0, 10*len(compressed))
	}
}

// PutDecompressBytes implements kgo.PoolDecompressBytes.
func (p *RecordPool) PutDecompressBytes(b []byte) {
	select {
	case p.bytes <- b[:0]:
	default:
	}
}

// GetRecords implements kgo.PoolRecords.
func (p *RecordPool) GetRecords(n int) []kgo.Record {
	select {
	case r := <-p.recs:
		if cap(r) >= n {
			return r[:0]
		}
	default:
	}
	return make([]kgo.Record, 0, n)
}

// PutRecords implements kgo.PoolRecords.
func (p *RecordPool) PutRecords(r []kgo.Record) {
	clear(r[:cap(r)])
	select {
	case p.recs <- r[:0]:
	default:
	}
}
