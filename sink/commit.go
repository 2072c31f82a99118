package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Exactly-once protocol, per Kafka partition and batch [first, last]: see
// the package documentation. This file holds all of it: the manifest, the
// flush that writes a batch's objects, and the offset commit.

// Commit retry: a commit that fails is retried after the next polls with
// a backoff from commitBackoffMin doubling to commitBackoffMax; the batches
// stay in the manifest meanwhile, however long Kafka is away.
var (
	commitBackoffMin = 100 * time.Millisecond
	commitBackoffMax = 30 * time.Second
)

// manifestReadAttempts is how many times a manifest that cannot be read
// or decoded is read again, backing off from 100 ms to 10 s (about 13 s in
// all), before the sink stops with an error.
var manifestReadAttempts = 8

// manifest records, before their objects are written, the batches of a
// partition that are not known to be committed. It is also the
// partition's ownership record: each owner claims it at assignment by
// raising Epoch with a conditional write, and every later write is
// conditional on the version the owner last wrote, so a stale owner (a
// zombie) is refused.
type manifest struct {
	TopicID   string          `json:"topic_id"`
	Partition int32           `json:"partition"`
	Epoch     int64           `json:"epoch"`
	Owner     string          `json:"owner,omitempty"`
	Batches   []manifestBatch `json:"batches"`
	Written   time.Time       `json:"written"`
}

// ownership is a partition owner's fencing state and commit retry state.
type ownership struct {
	claimed bool
	version string // manifest version this owner last wrote
	epoch   int64
	flushed bool // a batch was written since the claim

	commitBackoff time.Duration
	commitRetryAt time.Time
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

// loadManifest reads partition p's manifest and its version: nil and
// stocklake.IfAbsent when there is none. A read error other than not
// found, or a manifest that cannot be decoded, is retried
// manifestReadAttempts times and then returned: taking it for "no
// manifest" would leave uncommitted objects in place and land their
// records twice.
func (s *Sink) loadManifest(ctx context.Context, p int32) (*manifest, string, error) {
	key := manifestKey(s.cfg.Table, s.topicID, p)
	var (
		m   *manifest
		ver string
	)
	attempts := 0
	err := s.retry(ctx, "read manifest "+key, func() error {
		attempts++
		body, v, err := s.cfg.Store.GetVersion(ctx, key)
		if errors.Is(err, stocklake.ErrNotFound) {
			m, ver = nil, stocklake.IfAbsent
			return nil
		}
		if err == nil {
			var mm manifest
			if derr := json.Unmarshal(body, &mm); derr != nil {
				err = fmt.Errorf("sink manifest %s is not valid JSON (%v); restore it, or delete it once the objects it named past the committed offset are removed by hand", key, derr)
			} else {
				m, ver = &mm, v
				return nil
			}
		}
		if attempts >= manifestReadAttempts {
			return fmt.Errorf("cannot read sink manifest of partition %d after %d attempts: %w: it names objects that may be written but not committed, so the sink cannot resume this partition safely; fix the lake (permissions, connectivity) and restart: %w",
				p, attempts, err, stocklake.ErrConfig)
		}
		return err
	})
	return m, ver, err
}

// claim makes this sink the owner of partition ps: it reads the manifest
// and writes it back with a higher epoch, conditionally on the version it
// read, so that a previous owner that still believes it owns the partition
// (a zombie: paused past its session) has its next manifest write refused.
// The manifest's batches are kept: they are cleaned up by this owner's
// first flush.
func (s *Sink) claim(ctx context.Context, ps *partState) error {
	key := manifestKey(s.cfg.Table, s.topicID, ps.partition)
	for {
		m, ver, err := s.loadManifest(ctx, ps.partition)
		if err != nil {
			return err
		}
		nm := manifest{TopicID: s.topicID, Partition: ps.partition, Epoch: 1, Owner: s.owner, Written: time.Now().UTC()}
		if m != nil {
			nm.Epoch, nm.Batches = m.Epoch+1, m.Batches
		}
		mb, _ := json.Marshal(nm)
		var nv string
		err = s.retry(ctx, "claim "+key, func() (err error) {
			nv, err = s.cfg.Store.PutIf(ctx, key, bytes.NewReader(mb), ver)
			return err
		})
		if errors.Is(err, stocklake.ErrPrecondition) {
			// Written meanwhile (by a previous owner finishing its batch):
			// read it again.
			s.log.Info("manifest changed while claiming the partition; reading it again", "partition", ps.partition)
			continue
		}
		if err != nil {
			return err
		}
		ps.manifest = m
		ps.own = ownership{claimed: true, version: nv, epoch: nm.Epoch}
		s.log.Debug("partition claimed", "partition", ps.partition, "epoch", nm.Epoch)
		return nil
	}
}

// stillOwner reports whether the manifest still carries this owner's
// claim (its owner ID and epoch; another owner's claim raises the epoch),
// and if so takes its current version as the one to write on.
func (s *Sink) stillOwner(ctx context.Context, ps *partState) bool {
	m, ver, err := s.loadManifest(ctx, ps.partition)
	if err != nil || m == nil || m.Owner != s.owner || m.Epoch != ps.own.epoch {
		return false
	}
	ps.own.version = ver
	return true
}

// lostOwnership drops a partition whose manifest, object or delete was
// refused: another sink owns it now and re-reads its records. Nothing of
// the batch is written or deleted after that; objects written before the
// successor's claim are named in the manifest it read, so it rewrites or
// removes them.
func (s *Sink) lostOwnership(ps *partState, err error) {
	s.stats.Fenced.Add(1)
	s.log.Warn("write refused: another sink owns this partition now (this one was paused past its session?); dropping the batch and the partition without writing",
		"partition", ps.partition, "epoch", ps.own.epoch, "err", err)
	s.dropBatch(ps)
	ps.pendingCommit = -1
	if s.parts[ps.partition] == ps {
		delete(s.parts, ps.partition)
	}
}

// flush writes a partition's batch to the lake and commits its offsets,
// following the protocol in the package documentation.
//
// In table mode (Config.Committer) it writes the batches of EVERY
// partition the sink owns that holds one, not only ps's, and commits them
// in one table snapshot (flushIceberg), whatever made ps's batch due: its
// age, its size, memory pressure (shrink) or too many open lake partitions
// (flushOldest). So each flush is one snapshot for all the partitions, and
// the table takes one commit per flush interval however many partitions
// the sink owns, instead of one per partition; a commit costs CPU and
// adds a snapshot to the table's bounded history whatever its size, while
// writing a small batch early costs little more than writing it later.
func (s *Sink) flush(ctx context.Context, ps *partState) error {
	b := ps.b
	if b == nil {
		return nil
	}
	if s.cfg.Committer != nil {
		return s.flushIceberg(ctx, s.batched(s.sortedParts()))
	}
	if err := s.ensureTopicID(ctx); err != nil {
		return err
	}
	if s.mode == SchemaRegistry && s.fieldsPending {
		if err := s.storeRegFields(ctx); err != nil {
			return err
		}
	}
	if !ps.own.claimed {
		// Not claimed at assignment (the topic ID was not known then).
		if err := s.claim(ctx, ps); err != nil {
			return err
		}
		if m := ps.manifest; m != nil && m.TopicID == s.topicID && ps.stale == nil {
			ps.stale = m.uncommittedKeys(b.first)
		}
		ps.manifest = nil
	}
	ext := "parquet"
	if s.cfg.Format == stocklake.FormatJSON {
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
	m := manifest{TopicID: s.topicID, Partition: ps.partition, Epoch: ps.own.epoch, Owner: s.owner, Batches: batches, Written: time.Now().UTC()}
	mb, _ := json.Marshal(m)
	// The write is conditional on the version this owner wrote last: if
	// another sink claimed the partition meanwhile, it is refused and this
	// sink writes and deletes nothing more for the partition.
	var ver string
	if err := s.retry(ctx, "write manifest", func() (err error) {
		if s.beforeManifestWrite != nil {
			s.beforeManifestWrite(ps.partition)
		}
		ver, err = s.cfg.Store.PutIf(ctx, manifestKey(s.cfg.Table, s.topicID, ps.partition), bytes.NewReader(mb), ps.own.version)
		if errors.Is(err, stocklake.ErrPrecondition) && s.stillOwner(ctx, ps) {
			// An earlier attempt landed but its answer was lost: the
			// manifest still carries this owner's claim. Write again.
			return fmt.Errorf("manifest moved on under this owner's own write: %w", stocklake.ErrUnavailable)
		}
		return err
	}); err != nil {
		if errors.Is(err, stocklake.ErrPrecondition) {
			s.lostOwnership(ps, err)
			return nil
		}
		return err
	}
	ps.own.version, ps.own.flushed = ver, true
	if s.afterManifestWrite != nil {
		s.afterManifestWrite(ps.partition)
	}
	var buf bytes.Buffer
	rows := 0
	for i, path := range b.order {
		g := b.groups[path]
		buf.Reset()
		cols, err := s.encode(&buf, g, s.batchPart(ps, b, g))
		if err != nil {
			return err
		}
		n := int64(buf.Len())
		data := buf.Bytes()
		if err := s.retry(ctx, "write "+keys[i], func() error {
			return s.putFenced(ctx, ps, keys[i], data)
		}); err != nil {
			if errors.Is(err, stocklake.ErrPrecondition) {
				s.lostOwnership(ps, err)
				return nil
			}
			return err
		}
		rows += g.rows()
		s.stats.Objects.Add(1)
		s.stats.Bytes.Add(n)
		s.register(ctx, path, cols)
	}
	for _, k := range stale {
		if err := s.retry(ctx, "delete "+k, func() error { return s.deleteFenced(ctx, ps, k) }); err != nil {
			if errors.Is(err, stocklake.ErrPrecondition) {
				s.lostOwnership(ps, err)
				return nil
			}
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
	if s.cfg.BeforeCommit != nil {
		s.cfg.BeforeCommit(ctx, ps.partition, b.last+1)
	}
	return s.commitPending(ctx, ps, true)
}

// batched returns the states of the partitions ps (of s.parts) that hold
// a batch, in the order of ps.
func (s *Sink) batched(ps []int32) []*partState {
	var out []*partState
	for _, p := range ps {
		if st := s.parts[p]; st != nil && st.b != nil {
			out = append(out, st)
		}
	}
	return out
}

// batchPart is what object g of batch b records about the batch in its
// footer: the batch's offsets and object count, for `stocklake verify`.
func (s *Sink) batchPart(ps *partState, b *batch, g *group) stocklake.BatchPart {
	return stocklake.BatchPart{TopicID: s.topicID, Partition: ps.partition, First: b.first, Last: b.last, Objects: len(b.order), Object: g.first}
}

// commitPending commits a partition's written batches. A commit that fails
// (the group is rebalancing, which waits for this very poll to finish, or
// Kafka is away) is kept and retried after later polls, backing off from
// commitBackoffMin to commitBackoffMax; force tries at once. The manifest
// keeps naming the batches meanwhile, so nothing is lost or doubled if the
// process dies first or the partition moves, and the sink keeps its data
// however long Kafka is away.
func (s *Sink) commitPending(ctx context.Context, ps *partState, force bool) error {
	if ps.pendingCommit < 0 {
		return nil
	}
	if !force && time.Now().Before(ps.own.commitRetryAt) {
		return nil
	}
	if err := s.commit(ctx, ps.partition, ps.pendingEpoch, ps.pendingCommit); err != nil {
		if ctx.Err() != nil {
			return err
		}
		ps.failedCommits++
		s.stats.CommitFailures.Add(1)
		ps.own.commitBackoff = min(max(ps.own.commitBackoff*2, commitBackoffMin), commitBackoffMax)
		ps.own.commitRetryAt = time.Now().Add(ps.own.commitBackoff)
		s.setLastErr(err)
		s.log.Warn("commit failed; the batches stay in the manifest and the commit is retried", "partition", ps.partition,
			"offset", ps.pendingCommit, "failed_in_a_row", ps.failedCommits, "retry_in", ps.own.commitBackoff, "err", err)
		return nil
	}
	ps.pending, ps.pendingCommit, ps.failedCommits = nil, -1, 0
	ps.own.commitBackoff, ps.own.commitRetryAt = 0, time.Time{}
	return nil
}

// ensureTopicID reads the topic's ID if the assignment could not.
func (s *Sink) ensureTopicID(ctx context.Context) error {
	if s.topicID != "" {
		return nil
	}
	id, err := s.topicIDRetry(ctx)
	if err != nil {
		return err
	}
	s.topicID = id
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
func (s *Sink) register(ctx context.Context, path string, cols []stocklake.Column) {
	if s.cfg.Registrar == nil {
		return
	}
	if s.mode == SchemaRegistry && s.widenPending.Load() {
		if w, ok := s.cfg.Registrar.(TableWidener); ok {
			if err := w.WidenTable(ctx, s.cfg.Table, cols); err != nil {
				s.log.Warn("could not widen the catalog table to the new writer schema; will retry", "err", err)
				s.setLastErr(err)
			} else {
				s.widenPending.Store(false)
			}
		}
	}
	if _, ok := s.registered.Load(path); ok {
		return
	}
	// The catalog holds the values, not the escaped folder text.
	keys, values, err := hive.ParsePartitionPath(path)
	if err != nil {
		s.log.Warn("could not register partition in catalog", "path", path, "err", err)
		s.setLastErr(err)
		return
	}
	format := stocklake.FormatParquet
	if s.cfg.Format == stocklake.FormatJSON {
		format = stocklake.FormatJSON
	}
	if err := s.cfg.Registrar.RegisterPartition(ctx, s.cfg.Table, format, cols, keys, values, s.cfg.Table+"/"+path+"/"); err != nil {
		s.log.Warn("could not register partition in catalog; will retry", "path", path, "err", err)
		s.setLastErr(err)
		return
	}
	s.registered.Store(path, struct{}{})
}

// commitRetryWindow is how long one commit retries transient errors
// before it counts as failed: 10 s.
var commitRetryWindow = 10 * time.Second

// commit commits offset for a partition, retrying transient errors for up
// to commitRetryWindow.
func (s *Sink) commit(ctx context.Context, p int32, epoch int32, offset int64) error {
	cctx, cancel := context.WithTimeout(ctx, commitRetryWindow)
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
	s.stats.LastCommit.Store(time.Now().UnixNano())
	if s.cfg.OnCommit != nil {
		s.cfg.OnCommit(p, offset)
	}
	return nil
}

func topicIDOf(ctx context.Context, s *Sink) (string, error) {
	return s.resolveTopicID(ctx, s.cl)
}

// notePending publishes, for hasPending, how many partitions have a
// written batch waiting for its commit. The Run loop calls it.
func (s *Sink) notePending() {
	n := int64(0)
	for _, ps := range s.parts {
		if ps.pendingCommit >= 0 {
			n++
		}
	}
	s.pendingParts.Store(n)
	s.stats.Partitions.Store(int64(len(s.parts)))
}

// hasPending reports whether, as of the last poll, a written batch still
// waited for its commit. Safe to call from any goroutine.
func (s *Sink) hasPending() bool { return s.pendingParts.Load() > 0 }

// putFenced writes a data object of partition ps only while ps's manifest
// is at the version this owner last wrote: in one step on stores that
// can (stocklake.FencedStore, the file:// store), else right after a check
// of the manifest's version. A refusal wraps stocklake.ErrPrecondition:
// another sink owns the partition now.
func (s *Sink) putFenced(ctx context.Context, ps *partState, key string, data []byte) error {
	mk := manifestKey(s.cfg.Table, s.topicID, ps.partition)
	if fs, ok := s.cfg.Store.(stocklake.FencedStore); ok {
		return fs.PutFenced(ctx, key, bytes.NewReader(data), mk, ps.own.version)
	}
	if err := s.checkFence(ctx, mk, ps.own.version); err != nil {
		return err
	}
	return s.cfg.Store.Put(ctx, key, bytes.NewReader(data))
}

// deleteFenced deletes a data object of partition ps as putFenced writes one.
func (s *Sink) deleteFenced(ctx context.Context, ps *partState, key string) error {
	mk := manifestKey(s.cfg.Table, s.topicID, ps.partition)
	if fs, ok := s.cfg.Store.(stocklake.FencedStore); ok {
		return fs.DeleteFenced(ctx, key, mk, ps.own.version)
	}
	if err := s.checkFence(ctx, mk, ps.own.version); err != nil {
		return err
	}
	return s.cfg.Store.Delete(ctx, key)
}

// checkFence returns an ErrPrecondition error unless key is at version.
func (s *Sink) checkFence(ctx context.Context, key, version string) error {
	_, v, err := s.cfg.Store.GetVersion(ctx, key)
	if err != nil {
		return err
	}
	if v != version {
		return fmt.Errorf("manifest %s moved on (version %s, this owner wrote %s): %w", key, v, version, stocklake.ErrPrecondition)
	}
	return nil
}
