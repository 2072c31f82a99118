package sink

import (
	"context"
	"strconv"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Header keys the sink puts on dead-letter records.
const (
	HeaderError     = "stocklake-error"
	HeaderSource    = "stocklake-source" // topic/partition/offset of the bad record
	HeaderFailedAt  = "stocklake-failed-at"
	HeaderErrorKind = "stocklake-error-kind"
)

// sendDeadLetter queues a record that could not be parsed to the DLQ topic.
func (s *Sink) sendDeadLetter(ctx context.Context, r *kgo.Record, reason error) error {
	hs := []stocklake.Header{
		{Key: HeaderError, Value: []byte(reason.Error())},
		{Key: HeaderErrorKind, Value: []byte("parse")},
		{Key: HeaderSource, Value: []byte(r.Topic + "/" + strconv.Itoa(int(r.Partition)) + "/" + strconv.FormatInt(r.Offset, 10))},
		{Key: HeaderFailedAt, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
	}
	for _, h := range r.Headers {
		hs = append(hs, stocklake.Header{Key: h.Key, Value: h.Value})
	}
	s.stats.DeadLetters.Add(1)
	return s.dlq.Produce(ctx, stocklake.Record{Key: r.Key, Value: r.Value, Headers: hs, Timestamp: r.Timestamp})
}
