package kafka

import (
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RecordPool lends a Kafka client the buffers it decompresses fetched
// batches into and the Record slices it decodes them into
// (kgo.WithPools(NewRecordPool())): a consumer recycles the records it is
// done with (kgo.Record.Recycle; the sink those whose values it copied, the
// analyzer those it decoded), and once every record of a slice is, the
// client puts the slice back here for the next fetch, instead of allocating
// some 300 bytes per record afresh for the collector. It keeps at most
// a bounded number of each (NewRecordPoolSize), so pooling does not raise
// the peak memory much.
// Records kept (dead letters, JSON lines) are never recycled: their slices
// are left to the collector.
//
// Batches differ in size, so a get takes the smallest free buffer that
// fits (a buffer too small would be thrown away by the decompressor or the
// decoder, which then allocate one that fits); a zstd batch names its
// decompressed size in its frame header, so its buffer fits exactly.
type RecordPool struct {
	size  int
	mu    sync.Mutex
	bytes [][]byte
	recs  [][]kgo.Record
}

// RecordPoolSize is how many free buffers of each kind a RecordPool from
// NewRecordPool keeps.
const RecordPoolSize = 8

// decompressGuess is how many times its compressed size a batch is taken
// to decompress to when its header does not say (ticks compress about 10:1).
const decompressGuess = 10

// NewRecordPool returns an empty RecordPool that keeps RecordPoolSize free
// buffers of each kind.
func NewRecordPool() *RecordPool {
	return NewRecordPoolSize(RecordPoolSize)
}

// NewRecordPoolSize returns an empty RecordPool that keeps n free buffers
// of each kind: a consumer that recycles every record soon (the analyzer)
// reuses more of a fetch's batches with n near their number (some dozens
// for three partitions at the default fetch limits), at the cost of
// holding that many buffers between fetches.
func NewRecordPoolSize(n int) *RecordPool {
	return &RecordPool{size: max(n, 1)}
}

// GetDecompressBytes implements kgo.PoolDecompressBytes.
func (p *RecordPool) GetDecompressBytes(compressed []byte, codec kgo.CompressionCodecType) []byte {
	need := decompressedSize(compressed, codec)
	p.mu.Lock()
	b, ok := take(&p.bytes, need, func(b []byte) int { return cap(b) })
	p.mu.Unlock()
	if ok {
		return b[:0]
	}
	return make([]byte, 0, need)
}

// decompressedSize returns the size compressed decompresses to: from the
// frame header for a zstd batch of one frame that states it, else a guess.
func decompressedSize(compressed []byte, codec kgo.CompressionCodecType) int {
	if codec == kgo.CodecZstd {
		var h zstd.Header
		// A frame states its content size up to 2^64; a batch is at
		// most the fetch limits (some MiB), so a larger one is corrupt and
		// left to the decompressor to refuse.
		if h.Decode(compressed) == nil && h.HasFCS && h.FrameContentSize <= 1<<30 && h.FrameContentSize > 0 {
			return int(h.FrameContentSize)
		}
	}
	return decompressGuess * len(compressed)
}

// PutDecompressBytes implements kgo.PoolDecompressBytes.
func (p *RecordPool) PutDecompressBytes(b []byte) {
	p.mu.Lock()
	put(&p.bytes, b[:0], p.size, func(b []byte) int { return cap(b) })
	p.mu.Unlock()
}

// GetRecords implements kgo.PoolRecords.
func (p *RecordPool) GetRecords(n int) []kgo.Record {
	p.mu.Lock()
	r, ok := take(&p.recs, n, func(r []kgo.Record) int { return cap(r) })
	p.mu.Unlock()
	if ok {
		return r[:0]
	}
	return make([]kgo.Record, 0, n)
}

// PutRecords implements kgo.PoolRecords.
func (p *RecordPool) PutRecords(r []kgo.Record) {
	clear(r[:cap(r)])
	p.mu.Lock()
	put(&p.recs, r[:0], p.size, func(r []kgo.Record) int { return cap(r) })
	p.mu.Unlock()
}

// take removes and returns the smallest of free whose size is at least
// need; ok=false if none is.
func take[S any](free *[]S, need int, size func(S) int) (s S, ok bool) {
	best := -1
	for i, f := range *free {
		if n := size(f); n >= need && (best < 0 || n < size((*free)[best])) {
			best = i
		}
	}
	if best < 0 {
		return s, false
	}
	s = (*free)[best]
	last := len(*free) - 1
	(*free)[best] = (*free)[last]
	var zero S
	(*free)[last] = zero
	*free = (*free)[:last]
	return s, true
}

// put adds s to free; when free holds keep already, s replaces the
// smallest if it is larger, else it is left to the collector.
func put[S any](free *[]S, s S, keep int, size func(S) int) {
	if size(s) == 0 {
		return
	}
	if len(*free) < keep {
		*free = append(*free, s)
		return
	}
	small := 0
	for i, f := range *free {
		if size(f) < size((*free)[small]) {
			small = i
		}
	}
	if size(s) > size((*free)[small]) {
		(*free)[small] = s
	}
}
