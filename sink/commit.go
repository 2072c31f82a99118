package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Exactly-once protocol, per Kafka partition and batch [first, last]: see
// the package documentation. This file holds all of it: the manifest, the
// flush that writes a batch's objects, and the offset commit.

// maxFailedCommits is how many commits in a row may fail (their batches
// stay recorded in the manifest) before the sink gives up.
const maxFailedCommits = 20

// manifest records, before their objects are written, the batches of a
// partition that are not known to be committed.
type manifest struct {
	TopicID   string          `json:"topic_id"`
	Partition int32           `json:"partition"`
	Batches   []manifestBatch `json:"batches"`
	Written   time.Time       `json:"written"`
}

// manifestBatch is one batch: the offsets it covers and the objects it
// writes (or deletes, for leftovers of an earlier batch).
type manifestBatch struct {
	First int64    `json:"first_offset"`
	Last  int64    `json:"last_offset"`
	Keys  []string `json:"keys"`
	// DLQFrom is the dead-letter offset from which the batch's dead
	// letters land (see dlq.go); absent when it has none.
	DLQFrom *int64 `json:"dlq_from,omitempty"`
}

// uncommittedKeys returns the keys of the batches not committed when the
// partition resumes at offset: those ending at or after it. Batches before
// it were committed and their objects stay.
func (m *manifest) uncommittedKeys(offset int64) []string {
	var keys []string
	for _, b := range m.Batches {
		if b.Last >= offset {
			keys = append(keys, b.Keys...)
		}
	}
	return keys
}

func (s *Sink) loadManifest(ctx context.Context, p int32) *manifest {
	if s.topicID == "" {
		return nil
	}
	rc, err := s.cfg.Store.Get(ctx, manifestKey(s.cfg.Table, s.topicID, p))
	if err != nil {
		if !errors.Is(err, stocklake.ErrNotFound) {
			s.log.Warn("cannot read sink manifest", "partition", p, "err", err)
		}
		return nil
	}
	defer rc.Close()
	var m manifest
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		s.log.Warn("ignoring unreadable sink manifest", "partition", p, "err", err)
		return nil
	}
	return &m
}

// flush writes a partition's batch to the lake and commits its offsets,
// following the protocol in the package documentation.
func (s *Sink) flush(ctx context.Context, ps *partState) error {
	b := ps.b
	if b == nil {
		return nil
	}
	if s.topicID == "" {
		id, err := s.topicIDRetry(ctx)
		if err != nil {
			return err
		}
		s.topicID = id
	}
	ext := "parquet"
	if s.cfg.Format == FormatJSON {
		ext = "json"
	}
	keys := make([]string, 0, len(b.order))
	written := map[string]bool{}
	for _, path := range b.order {
		k := ObjectKey(s.cfg.Table, path, s.topicID, ps.partition, b.groups[path].first, ext)
		keys = append(keys, k)
		written[k] = true
	}
	// Keys of an uncommitted earlier batch that this batch does not rewrite
	// are deleted below; they stay in the manifest until the commit.
	var stale []string
	for _, k := range ps.stale {
		if !written[k] {
			stale = append(stale, k)
		}
	}
	dlqFrom, err := s.dlqFrom(ctx, ps, b)
	if err != nil {
		return err
	}
	batches := append(slices.Clip(ps.pending), manifestBatch{First: b.first, Last: b.last, Keys: append(keys, stale...), DLQFrom: dlqFrom})
	m := manifest{TopicID: s.topicID, Partition: ps.partition, Batches: batches, Written: time.Now().UTC()}
	mb, _ := json.Marshal(m)
	if err := s.retry(ctx, "write manifest", func() error {
		return s.cfg.Store.Put(ctx, manifestKey(s.cfg.Table, s.topicID, ps.partition), bytes.NewReader(mb))
	}); err != nil {
		return err
	}
	var buf bytes.Buffer
	rows := 0
	for i, path := range b.order {
		g := b.groups[path]
		buf.Reset()
		if err := s.encode(&buf, g); err != nil {
			return err
		}
		n := int64(buf.Len())
		data := buf.Bytes()
		if err := s.retry(ctx, "write "+keys[i], func() error {
			return s.cfg.Store.Put(ctx, keys[i], bytes.NewReader(data))
		}); err != nil {
			return err
		}
		rows += g.rows()
		s.stats.Objects.Add(1)
		s.stats.Bytes.Add(n)
		s.register(ctx, path)
	}
	for _, k := range stale {
		if err := s.retry(ctx, "delete "+k, func() error { return s.cfg.Store.Delete(ctx, k) }); err != nil {
			return err
		}
	}
	if err := s.sendDeadLetters(ctx, ps, b); err != nil {
		return err
	}
	s.stats.Rows.Add(int64(rows))
	s.release(b)
	ps.b, ps.stale = nil, nil
	ps.pending = batches
	ps.pendingCommit, ps.pendingEpoch = b.last+1, b.lastEpoch
	s.log.Debug("batch written", "partition", ps.partition, "first", b.first, "last", b.last, "rows", rows, "objects", len(keys))
	return s.commitPending(ctx, ps)
}

// commitPending commits a partition's written batches. A commit that fails
// (typically because the group is rebalancing, which waits for this very
// poll to finish) is kept and retried after the next poll; the manifest
// keeps naming its objects meanwhile, so nothing is lost or doubled if the
// process dies first or the partition moves.
func (s *Sink) commitPending(ctx context.Context, ps *partState) error {
	if ps.pendingCommit < 0 {
		return nil
	}
	if err := s.commit(ctx, ps.partition, ps.pendingEpoch, ps.pendingCommit); err != nil {
		ps.failedCommits++
		if ps.failedCommits > maxFailedCommits {
			return err
		}
		s.log.Warn("commit failed; will retry after the next poll", "partition", ps.partition, "offset", ps.pendingCommit, "err", err)
		return nil
	}
	ps.pending, ps.pendingCommit, ps.failedCommits = nil, -1, 0
	return nil
}

func (s *Sink) topicIDRetry(ctx context.Context) (string, error) {
	var id string
	err := s.retry(ctx, "read topic id", func() (err error) {
		id, err = topicIDOf(ctx, s)
		return err
	})
	return id, err
}

// register tells the registrar about a partition folder the first time the
// sink writes to it. Failures are logged and retried on the next write:
// landing data never waits on the catalog.
func (s *Sink) register(ctx context.Context, path string) {
	if s.cfg.Registrar == nil {
		return
	}
	if _, ok := s.registered.Load(path); ok {
		return
	}
	var keys, values []string
	for _, kv := range strings.Split(path, "/") {
		k, v, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
		values = append(values, v)
	}
	format := stocklake.FormatParquet
	if s.cfg.Format == FormatJSON {
		format = stocklake.FormatJSON
	}
	if err := s.cfg.Registrar.RegisterPartition(ctx, s.cfg.Table, format, keys, values, s.cfg.Table+"/"+path+"/"); err != nil {
		s.log.Warn("could not register partition in catalog; will retry", "path", path, "err", err)
		s.setLastErr(err)
		return
	}
	s.registered.Store(path, struct{}{})
}

// commit commits offset for a partition, retrying transient errors for up
// to ten seconds.
func (s *Sink) commit(ctx context.Context, p int32, epoch int32, offset int64) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := s.retry(cctx, "commit offsets", func() error {
		var cerr error
		s.cl.CommitOffsetsSync(cctx, map[string]map[int32]kgo.EpochOffset{s.cfg.Topic: {p: {Epoch: epoch, Offset: offset}}},
			func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
				if err != nil {
					cerr = err
					return
				}
				for _, t := range resp.Topics {
					for _, pp := range t.Partitions {
						if e := kerr.ErrorForCode(pp.ErrorCode); e != nil {
							cerr = e
						}
					}
				}
			})
		return cerr
	})
	if err != nil {
		return fmt.Errorf("commit offset %d of %s[%d]: %w", offset, s.cfg.Topic, p, err)
	}
	s.stats.Commits.Add(1)
	if s.cfg.OnCommit != nil {
		s.cfg.OnCommit(p, offset)
	}
	return nil
}

func topicIDOf(ctx context.Context, s *Sink) (string, error) {
	return kafka.TopicID(ctx, s.cl, s.cfg.Topic)
}
