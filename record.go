package stocklake

import (
	"context"
	"time"
)

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one message for, or from, a stream topic.
type Record struct {
	Topic     string    // empty means the producer's default topic
	Key       []byte    // partitioning key; the symbol for ticks
	Value     []byte    // JSON document
	Headers   []Header  // e.g. content-type
	Timestamp time.Time // record time; zero lets the producer stamp it
	Partition int32     // set on consumed records
	Offset    int64     // set on consumed records
}

// Source produces market data as records: a simulator, a CSV replay or a live
// feed. Run calls emit for each record in order until the source is
// exhausted (returns nil), ctx is done (returns ctx.Err()) or emit fails.
// Emit may block to apply back-pressure; the source must not buffer without
// bound meanwhile.
type Source interface {
	// Name is a short identifier such as "sim" or "csv".
	Name() string
	// DefaultTopic is the topic records go to unless the user names another.
	DefaultTopic() string
	Run(ctx context.Context, emit func(Record) error) error
}
