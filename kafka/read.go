package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
)

// ReadCommitted reads every committed record of topic, from the start of
// each partition up to its last stable offset when called, with
// read_committed isolation: records of aborted or open transactions are
// left out. It is for checks and small topics (tests, verification), and
// stops with ctx.
func ReadCommitted(ctx context.Context, c Config, topic string) ([]stocklake.Record, error) {
	adm, err := c.NewClient()
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	lso, err := kadm.NewClient(adm).ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w: %w", topic, err, stocklake.ErrUnavailable)
	}
	remaining := map[int32]int64{}
	lso.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	if len(remaining) == 0 {
		return nil, nil
	}
	cl, err := c.NewClient(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []stocklake.Record
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out, fmt.Errorf("reading %s: %w with partitions %v not read to their end", topic, ctx.Err(), remaining)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := remaining[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if !r.Attrs.IsControl() {
				rec := stocklake.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp, Partition: r.Partition, Offset: r.Offset}
				for _, h := range r.Headers {
					rec.Headers = append(rec.Headers, stocklake.Header{Key: h.Key, Value: h.Value})
				}
				out = append(out, rec)
			}
			if r.Offset >= end-1 {
				delete(remaining, r.Partition)
			}
		})
	}
	return out, nil
}
