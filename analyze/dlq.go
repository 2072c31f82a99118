package analyze

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
)

// MaxDeadLetterBytes bounds the value of a dead-letter record: a larger
// input record (which the broker took compressed) is dead-lettered cut to
// this size, so the dead letter itself can never be too large for the
// broker and wedge the transaction. 256 KiB.
const MaxDeadLetterBytes = 256 << 10

// deadLetter produces a refused input record to the dead-letter topic in the
// open transaction, so it is there exactly once with the consumed offsets.
func (a *Analyzer) deadLetter(ctx context.Context, r *kgo.Record, kind string, reason error) {
	a.stats.Rejected.Add(1)
	if kind == stocklake.ErrorKindFuture {
		a.stats.Future.Add(1)
	}
	if time.Since(a.rejectLog) > 10*time.Second {
		a.rejectLog = time.Now()
		a.log.Warn("refusing input records; they go to the dead-letter topic", "kind", kind, "partition", r.Partition,
			"offset", r.Offset, "dlq", a.cfg.DLQTopic, "err", reason)
	}
	hs := []kgo.RecordHeader{
		{Key: stocklake.HeaderError, Value: []byte(reason.Error())},
		{Key: stocklake.HeaderErrorKind, Value: []byte(kind)},
		{Key: stocklake.HeaderSource, Value: []byte(stocklake.DeadLetterSource(r.Topic, r.Partition, r.Offset))},
		{Key: stocklake.HeaderFailedAt, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
	}
	value, key := r.Value, r.Key
	if len(value) > MaxDeadLetterBytes {
		hs = append(hs, kgo.RecordHeader{Key: stocklake.HeaderTruncatedFrom, Value: []byte(strconv.Itoa(len(value)))})
		value = value[:MaxDeadLetterBytes]
	}
	if len(key) > 1024 {
		key = key[:1024]
	}
	for _, h := range r.Headers {
		if len(hs) < 64 && len(h.Key)+len(h.Value) < 4096 {
			hs = append(hs, h)
		}
	}
	a.sess.Produce(context.WithoutCancel(ctx), &kgo.Record{Topic: a.cfg.DLQTopic, Key: key, Value: value, Headers: hs, Timestamp: r.Timestamp}, a.promise)
}
