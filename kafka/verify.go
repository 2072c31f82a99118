package kafka

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/stocklake/stocklake"
)

// TopicNames maps the topic IDs of ids (as TopicID prints them) to topic
// names. An ID that is no topic's ID but is a topic's name (brokers without
// topic IDs) maps to itself; IDs of deleted topics are absent.
func TopicNames(ctx context.Context, c Config, ids []string) (map[string]string, error) {
	cl, err := c.NewClient()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).Metadata(ctx)
	if err != nil {
		return nil, fmt.Errorf("read topic metadata: %w: %w", err, stocklake.ErrUnavailable)
	}
	byID := map[string]string{}
	for name, d := range md.Topics {
		if d.ID != (kadm.TopicID{}) {
			byID[base64.RawURLEncoding.EncodeToString(d.ID[:])] = name
		}
	}
	out := map[string]string{}
	for _, id := range ids {
		if name, ok := byID[id]; ok {
			out[id] = name
		} else if _, ok := md.Topics[id]; ok {
			out[id] = id
		}
	}
	return out, nil
}

// LogStartOffsets returns the first offset still in the log of every
// partition of topics (by name): offsets below it are gone by retention
// (or deleted records). Keys use the topic IDs of names (ID -> name, as
// TopicNames returns).
func LogStartOffsets(ctx context.Context, c Config, names map[string]string) (map[stocklake.TopicPartition]int64, error) {
	out := map[stocklake.TopicPartition]int64{}
	if len(names) == 0 {
		return out, nil
	}
	cl, err := c.NewClient()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ids := map[string]string{}
	topics := make([]string, 0, len(names))
	for id, name := range names {
		ids[name] = id
		topics = append(topics, name)
	}
	lo, err := kadm.NewClient(cl).ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list log start offsets of %s: %w: %w", strings.Join(topics, ", "), err, stocklake.ErrUnavailable)
	}
	var perr error
	lo.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			perr = fmt.Errorf("log start offset of %s[%d]: %w: %w", o.Topic, o.Partition, o.Err, stocklake.ErrUnavailable)
			return
		}
		out[stocklake.TopicPartition{TopicID: ids[o.Topic], Partition: o.Partition}] = o.Offset
	})
	return out, perr
}

// DeadLetterOffsets reads the dead-letter topic dlq to its end and returns,
// per source partition (topic ID from the stocklake-source-topic-id header,
// partition and offset from stocklake-source), the offsets whose records it
// holds, sorted. A missing topic holds none.
func DeadLetterOffsets(ctx context.Context, c Config, dlq string) (map[stocklake.TopicPartition][]int64, error) {
	recs, err := ReadCommitted(ctx, c, dlq)
	if err != nil {
		return nil, err
	}
	out := map[stocklake.TopicPartition][]int64{}
	for _, r := range recs {
		var id, src string
		for _, h := range r.Headers {
			switch h.Key {
			case stocklake.HeaderSourceTopicID:
				id = string(h.Value)
			case stocklake.HeaderSource:
				src = string(h.Value)
			}
		}
		_, p, off, ok := stocklake.ParseDeadLetterSource(src)
		if id == "" || !ok {
			continue
		}
		tp := stocklake.TopicPartition{TopicID: id, Partition: p}
		out[tp] = append(out[tp], off)
	}
	stocklake.CoverageFacts{DeadLetters: out}.SortDeadLetters()
	return out, nil
}
