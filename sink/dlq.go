package sink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
)

// Dead-letter size limits. dlqBatchMaxBytes is the dead-letter producer's
// largest record (Kafka's default message.max.bytes); a dead letter above
// it, or above the topic's own limit, is sent as a copy whose value is cut
// to truncatedValueBytes (then, if that is still refused, to nothing).
const (
	dlqBatchMaxBytes    = 1 << 20
	truncatedValueBytes = 64 << 10
	truncatedKeyBytes   = 1 << 10
)

// Exactly-once dead letters. Dead letters are kept with their batch and
// written with it (step 3 of the protocol), all those of one Kafka
// partition to one partition of the dead-letter topic, by an idempotent
// producer. Before a batch's objects are written its manifest entry records
// the dead-letter offset from which its dead letters land (DLQFrom). When a
// partition resumes after batches that were not committed, the sink reads
// the dead-letter partition from there and does not send again the dead
// letters it finds for the same topic ID, partition and offset.

// deadLetter keeps a record that cannot be landed in its batch, to be sent
// to the dead-letter topic when the batch is written. It returns false for
// a record whose dead letter an earlier run already sent.
func (s *Sink) deadLetter(ps *partState, b *batch, r *kgo.Record, reason error) bool {
	if _, done := ps.dlqSeen[r.Offset]; done {
		s.stats.DeadLetters.Add(1)
		s.stats.DeadLettersSkipped.Add(1)
		return false
	}
	kind := stocklake.ErrorKindParse
	if errors.Is(reason, errPartition) {
		kind = stocklake.ErrorKindPartition
	}
	hs := make([]kgo.RecordHeader, 0, 5+len(r.Headers))
	hs = append(hs,
		kgo.RecordHeader{Key: stocklake.HeaderError, Value: []byte(reason.Error())},
		kgo.RecordHeader{Key: stocklake.HeaderErrorKind, Value: []byte(kind)},
		kgo.RecordHeader{Key: stocklake.HeaderSource, Value: []byte(stocklake.DeadLetterSource(r.Topic, r.Partition, r.Offset))},
		kgo.RecordHeader{Key: stocklake.HeaderSourceTopicID, Value: []byte(s.topicID)},
		kgo.RecordHeader{Key: stocklake.HeaderFailedAt, Value: []byte(s.now.UTC().Format(time.RFC3339Nano))},
	)
	hs = append(hs, r.Headers...)
	dl := &kgo.Record{Key: r.Key, Value: r.Value, Headers: hs}
	b.dead = append(b.dead, dl)
	return true
}

// deadLetterSize is what a kept dead letter costs in memory beyond its
// record, which the batch already counts.
func deadLetterSize(dl *kgo.Record) int64 {
	n := int64(200)
	for _, h := range dl.Headers[:5] {
		n += int64(len(h.Key) + len(h.Value))
	}
	return n
}

// dlqFrom returns the DLQFrom of a batch's manifest entry: the lowest
// dead-letter offset where a dead letter of this batch, sent now or by an
// earlier run, can be. nil if the batch has none.
func (s *Sink) dlqFrom(ctx context.Context, ps *partState, b *batch) (from *int64, err error) {
	if b.dlqFrom != nil { // a flush of this batch that failed has computed it
		return b.dlqFrom, nil
	}
	defer func() { b.dlqFrom = from }()
	for o := range ps.dlqSeen {
		if o < b.first { // an earlier batch's: its own manifest entry covers it
			delete(ps.dlqSeen, o)
		}
	}
	if len(ps.dlqSeen) > 0 {
		from := ps.dlqSeenFrom
		return &from, nil
	}
	if len(b.dead) == 0 {
		return nil, nil
	}
	dp, err := s.dlqPartition(ctx, ps.partition)
	if err != nil {
		return nil, err
	}
	if next, ok := s.dlqNext[dp]; ok {
		next := next
		return &next, nil
	}
	var end int64
	err = s.retry(ctx, "read dead-letter topic end", func() error {
		ends, err := kadm.NewClient(s.dlq).ListEndOffsets(ctx, s.cfg.DLQTopic)
		if err != nil {
			return err
		}
		o, ok := ends.Lookup(s.cfg.DLQTopic, dp)
		if !ok {
			return fmt.Errorf("dead-letter topic %s has no partition %d in its end offsets: %w", s.cfg.DLQTopic, dp, stocklake.ErrUnavailable)
		}
		if o.Err != nil {
			return o.Err
		}
		end = o.Offset
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.dlqNext[dp] = end
	return &end, nil
}

// dlqPartition maps a Kafka partition to its dead-letter partition,
// creating the dead-letter topic (as many partitions as the topic) if it
// does not exist.
func (s *Sink) dlqPartition(ctx context.Context, p int32) (int32, error) {
	if s.dlqParts == 0 {
		err := s.retry(ctx, "read dead-letter topic", func() error {
			adm := kadm.NewClient(s.dlq)
			md, err := adm.Metadata(ctx, s.cfg.Topic, s.cfg.DLQTopic)
			if err != nil {
				return err
			}
			if d, ok := md.Topics[s.cfg.DLQTopic]; ok && d.Err == nil && len(d.Partitions) > 0 {
				s.dlqParts = int32(len(d.Partitions))
				return nil
			}
			n := int32(3)
			if d, ok := md.Topics[s.cfg.Topic]; ok && len(d.Partitions) > 0 {
				n = int32(len(d.Partitions))
			}
			if _, err := kafka.EnsureTopic(ctx, s.dlq, kafka.TopicSpec{Name: s.cfg.DLQTopic, Partitions: n}); err != nil {
				return err
			}
			return fmt.Errorf("dead-letter topic %s created; reading its partitions again: %w", s.cfg.DLQTopic, stocklake.ErrUnavailable)
		})
		if err != nil {
			return 0, err
		}
	}
	return p % s.dlqParts, nil
}

// sendDeadLetters writes a batch's dead letters (step 3 of the protocol).
// A dead letter too large for the topic is sent as a truncated copy, and
// if even that is refused, without its value; retriable errors are waited
// out; any other error is a configuration problem of the dead-letter topic
// (authorization, a compacted topic) and stops the sink.
func (s *Sink) sendDeadLetters(ctx context.Context, ps *partState, b *batch) (err error) {
	if s.afterDeadLetters != nil {
		defer func() {
			if err == nil {
				err = s.afterDeadLetters(ps.partition)
			}
		}()
	}
	if len(b.dead) == 0 {
		return nil
	}
	dp, err := s.dlqPartition(ctx, ps.partition)
	if err != nil {
		return err
	}
	shrunk := map[*kgo.Record]int{}
	return s.retry(ctx, "write dead letters", func() error {
		// b.dead keeps only what is not yet sent, so a flush that fails
		// and runs again never sends a dead letter twice.
		for len(b.dead) > 0 {
			todo := b.dead
			for _, r := range todo {
				r.Topic, r.Partition = s.cfg.DLQTopic, dp
			}
			var retry []*kgo.Record
			var retryErr, fatal error
			for _, res := range s.dlq.ProduceSync(ctx, todo...) {
				r := res.Record
				switch err := res.Err; {
				case err == nil:
					s.stats.DeadLetters.Add(1)
					if r.Offset+1 > s.dlqNext[dp] {
						s.dlqNext[dp] = r.Offset + 1
					}
				case errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge):
					level := shrunk[r] + 1
					small := truncateDeadLetter(r, level)
					if small == nil {
						retry = append(retry, r)
						fatal = fmt.Errorf("dead letter of %s refused even without its value (%v); raise max.message.bytes of topic %s: %w",
							sourceOf(r), err, s.cfg.DLQTopic, stocklake.ErrConfig)
						continue
					}
					shrunk[small] = level
					if level == 1 {
						s.stats.DeadLettersTruncated.Add(1)
					}
					s.log.Warn("dead letter too large for the dead-letter topic; sending a truncated copy", "source", sourceOf(r),
						"value_bytes", len(r.Value), "kept_bytes", len(small.Value), "err", err)
					retry = append(retry, small)
				case isRetriable(err) || ctx.Err() != nil:
					retry = append(retry, r)
					if retryErr == nil {
						retryErr = err
					}
				default:
					retry = append(retry, r)
					fatal = fmt.Errorf("dead-letter topic %s refuses records (%v); check its ACLs and configuration (it must not be compacted): %w",
						s.cfg.DLQTopic, err, stocklake.ErrConfig)
				}
			}
			b.dead = retry
			if fatal != nil {
				return fatal
			}
			if retryErr != nil {
				return fmt.Errorf("write %d dead letters to %s: %w", len(retry), s.cfg.DLQTopic, retryErr)
			}
		}
		return nil
	})
}

// isRetriable tells produce errors worth waiting out (broker outages,
// leadership moves, timeouts) from the rest.
func isRetriable(err error) bool {
	if errors.Is(err, kgo.ErrClientClosed) {
		return false
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable
	}
	return true // network errors, timeouts and other client-side conditions
}

// truncateDeadLetter returns a smaller copy of a dead letter: at level 1
// with its value and key cut (the original sizes in stocklake.HeaderOriginalSize, the
// record's own headers dropped), at level 2 with no value. nil at level 3.
func truncateDeadLetter(r *kgo.Record, level int) *kgo.Record {
	if level > 2 {
		return nil
	}
	orig := r
	var size string
	for _, h := range r.Headers {
		if h.Key == stocklake.HeaderOriginalSize {
			size = string(h.Value)
		}
	}
	if size == "" {
		size = strconv.Itoa(len(r.Value)) + "," + strconv.Itoa(len(r.Key))
	}
	keep := truncatedValueBytes
	if level == 2 {
		keep = 0
	}
	out := &kgo.Record{Topic: orig.Topic, Partition: orig.Partition, Key: orig.Key[:min(len(orig.Key), truncatedKeyBytes)],
		Value: orig.Value[:min(len(orig.Value), keep)]}
	for _, h := range orig.Headers {
		switch h.Key {
		case stocklake.HeaderError, stocklake.HeaderErrorKind, stocklake.HeaderSource, stocklake.HeaderSourceTopicID, stocklake.HeaderFailedAt:
			out.Headers = append(out.Headers, h)
		}
	}
	out.Headers = append(out.Headers, kgo.RecordHeader{Key: stocklake.HeaderOriginalSize, Value: []byte(size)})
	return out
}

func sourceOf(r *kgo.Record) string {
	for _, h := range r.Headers {
		if h.Key == stocklake.HeaderSource {
			return string(h.Value)
		}
	}
	return ""
}

// scanDeadLetters reads the partition's dead-letter partition from offset
// from to its end and returns the source offsets at or after resumeAt that
// already have a dead letter, for this topic ID and partition.
func (s *Sink) scanDeadLetters(ctx context.Context, p int32, from, resumeAt int64) (map[int64]struct{}, error) {
	dp, err := s.dlqPartition(ctx, p)
	if err != nil {
		return nil, err
	}
	seen := map[int64]struct{}{}
	err = s.retry(ctx, "read dead-letter topic", func() error {
		ends, err := kadm.NewClient(s.dlq).ListEndOffsets(ctx, s.cfg.DLQTopic)
		if err != nil {
			return err
		}
		end, ok := ends.Lookup(s.cfg.DLQTopic, dp)
		if !ok || end.Err != nil {
			return fmt.Errorf("dead-letter topic %s partition %d: no end offset (%v): %w", s.cfg.DLQTopic, dp, end.Err, stocklake.ErrUnavailable)
		}
		if end.Offset <= from {
			return nil
		}
		cl, err := s.cfg.Kafka.NewClient(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.cfg.DLQTopic: {dp: kgo.NewOffset().At(from)}}))
		if err != nil {
			return err
		}
		defer cl.Close()
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		for {
			fs := cl.PollFetches(rctx)
			if err := rctx.Err(); err != nil {
				return fmt.Errorf("read dead-letter partition %d from %d to %d: %w", dp, from, end.Offset, stocklake.ErrUnavailable)
			}
			var ferr error
			fs.EachError(func(_ string, _ int32, err error) { ferr = err })
			if ferr != nil {
				return ferr
			}
			last := int64(-1)
			fs.EachRecord(func(r *kgo.Record) {
				last = max(last, r.Offset)
				var src, id string
				for _, h := range r.Headers {
					switch h.Key {
					case stocklake.HeaderSource:
						src = string(h.Value)
					case stocklake.HeaderSourceTopicID:
						id = string(h.Value)
					}
				}
				topic, sp, o, ok := stocklake.ParseDeadLetterSource(src)
				if !ok || id != s.topicID || topic != s.cfg.Topic || sp != p {
					return
				}
				if o >= resumeAt {
					seen[o] = struct{}{}
				}
			})
			if last >= end.Offset-1 {
				return nil
			}
		}
	})
	return seen, err
}

// skipSentDeadLetters is the table mode's resume of exactly-once dead
// letters: a partition resumes at the table's offset, and batches after it
// that were written but never committed may have sent their dead letters.
// The table records no dead-letter offsets, so the dead-letter partition is
// read from its start (dead letters are rare; it is read once per
// assignment) for those of source offsets at or after offset, which are not
// sent again. A dead-letter topic that does not exist holds none (it is not
// created here).
func (s *Sink) skipSentDeadLetters(ctx context.Context, ps *partState, offset int64) error {
	if s.dlqParts == 0 {
		var exists bool
		if err := s.retry(ctx, "read dead-letter topic", func() error {
			md, err := kadm.NewClient(s.dlq).Metadata(ctx, s.cfg.DLQTopic)
			if err != nil {
				return err
			}
			d, ok := md.Topics[s.cfg.DLQTopic]
			exists = ok && d.Err == nil && len(d.Partitions) > 0
			return nil
		}); err != nil {
			return err
		}
		if !exists {
			ps.dlqSeen = nil
			return nil
		}
	}
	seen, err := s.scanDeadLetters(ctx, ps.partition, 0, offset)
	if err != nil {
		return err
	}
	if len(seen) > 0 {
		s.log.Info("resuming after uncommitted dead letters; those already sent are not sent again", "partition", ps.partition,
			"offset", offset, "dead_letters", len(seen))
	}
	ps.dlqSeen, ps.dlqSeenFrom = seen, 0
	return nil
}

// uncommittedDLQFrom returns the lowest DLQFrom of the manifest's batches
// not committed when the partition resumes at offset, if any has one.
func (m *manifest) uncommittedDLQFrom(offset int64) (int64, bool) {
	from, ok := int64(0), false
	for _, b := range m.Batches {
		if b.Last >= offset && b.DLQFrom != nil && (!ok || *b.DLQFrom < from) {
			from, ok = *b.DLQFrom, true
		}
	}
	return from, ok
}
