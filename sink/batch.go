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

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stocklake/stocklake"
)

// partState is the sink's state for one assigned Kafka partition.
type partState struct {
	partition int32
	next      int64 // offset after the last record added; -1 before the first
	b         *batch
	// manifest is the last batch recorded for this partition before this
	// assignment; its keys are cleaned up by the first flush if it was not
	// committed.
	manifest *manifest
	stale    []string // keys of an uncommitted earlier batch to rewrite or delete
	// pending lists batches written but not yet committed because a
	// commit failed (e.g. during a rebalance): they stay in every manifest
	// until a commit succeeds, so a restart still finds them.
	pending []manifestBatch
	// pendingCommit is the offset (and epoch) still to commit, or -1.
	pendingCommit int64
	pendingEpoch  int32
	failedCommits int
}

// maxFailedCommits is how many commits in a row may fail (their batches
// stay recorded in the manifest) before the sink gives up.
const maxFailedCommits = 20

// batch holds the records of one partition between two commits.
type batch struct {
	first, last int64
	lastEpoch   int32
	opened      time.Time
	rows        int // records, including dead letters
	bytes       int64
	groups      map[string]*group
	order       []string // paths in first-seen order
}

// group holds a batch's records for one lake partition folder.
type group struct {
	path  string
	first int64       // offset of the group's first record: part of the object name
	ticks *tickWriter // streams tick rows into Parquet as they arrive
	objs  []map[string]any
	raw   [][]byte
}

func (g *group) rows() int {
	n := len(g.objs) + len(g.raw)
	if g.ticks != nil {
		n += g.ticks.n
	}
	return n
}

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

const recordOverhead = 96 // bytes of bookkeeping per buffered record

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

// add puts one consumed record into its partition's batch.
func (s *Sink) add(ctx context.Context, ps *partState, r *kgo.Record) error {
	s.stats.Records.Add(1)
	if ps.next < 0 {
		// First record since assignment: it sits at the committed offset.
		// A manifest batch at or after it was written but never committed.
		if m := ps.manifest; m != nil && m.TopicID == s.topicID {
			if ps.stale = m.uncommittedKeys(r.Offset); len(ps.stale) > 0 {
				s.log.Info("resuming after uncommitted batches; their objects will be rewritten or removed", "partition", ps.partition,
					"offset", r.Offset, "objects", len(ps.stale))
			}
		}
		ps.manifest = nil
	}
	ps.next = r.Offset + 1
	if ps.b == nil {
		ps.b = &batch{first: r.Offset, opened: time.Now(), groups: map[string]*group{}}
	}
	b := ps.b
	b.last, b.lastEpoch = r.Offset, r.LeaderEpoch
	b.rows++
	size := int64(len(r.Value)) + recordOverhead
	b.bytes += size
	s.stats.Buffered.Add(size)

	if s.mode == "" && !s.decideMode(r) {
		return s.sendDeadLetter(ctx, r, fmt.Errorf("record is neither a tick nor a JSON object: %w", stocklake.ErrInvalid))
	}
	var (
		pathBuf [64]byte
		path    []byte
		pathStr string
		tick    stocklake.Tick
		obj     map[string]any
		err     error
	)
	switch s.mode {
	case SchemaTick:
		if tick, err = stocklake.ParseTick(r.Value); err != nil {
			return s.sendDeadLetter(ctx, r, err)
		}
		if s.cfg.Partitioning.grain > 0 {
			pathStr = s.cfg.Partitioning.cachedPath(&s.pathCache, tick.Time)
		} else {
			path = s.cfg.Partitioning.path(pathBuf[:0], tick.Time, func(k string) string { return tickField(&tick, k) })
		}
	default:
		if obj, err = decodeObject(r.Value); err != nil {
			return s.sendDeadLetter(ctx, r, err)
		}
		t := r.Timestamp
		field := s.cfg.TimeField
		if field == "" {
			field = detectTimeField(obj)
			if field != "" {
				s.cfg.TimeField = field
				s.log.Info("event-time field detected", "field", field)
			}
		}
		if field != "" {
			v, ok := obj[field]
			if !ok {
				return s.sendDeadLetter(ctx, r, fmt.Errorf("record has no event-time field %q: %w", field, stocklake.ErrInvalid))
			}
			if t, ok = parseEventTime(v); !ok {
				return s.sendDeadLetter(ctx, r, fmt.Errorf("event-time field %q value %v is not a time: %w", field, v, stocklake.ErrInvalid))
			}
		}
		path = s.cfg.Partitioning.path(pathBuf[:0], t, func(k string) string { return jsonField(obj, k) })
	}
	var g *group
	if pathStr != "" {
		g = b.groups[pathStr]
	} else {
		g = b.groups[string(path)]
		pathStr = string(path)
	}
	if g == nil {
		g = &group{path: pathStr, first: r.Offset}
		b.groups[g.path] = g
		b.order = append(b.order, g.path)
	}
	switch {
	case s.cfg.Format == FormatJSON:
		g.raw = append(g.raw, r.Value)
	case s.mode == SchemaTick:
		if g.ticks == nil {
			g.ticks = newTickWriter(s.codec, s.cfg.RowGroupRows)
		}
		if err := g.ticks.add(newTickRow(&tick)); err != nil {
			return err
		}
	default:
		g.objs = append(g.objs, obj)
	}
	return nil
}

func jsonField(obj map[string]any, key string) string {
	v, ok := obj[key]
	if !ok {
		for k, x := range obj {
			if strings.EqualFold(k, key) {
				v, ok = x, true
				break
			}
		}
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return string(x)
	default:
		return fmt.Sprint(x)
	}
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
	batches := append(slices.Clip(ps.pending), manifestBatch{First: b.first, Last: b.last, Keys: append(keys, stale...)})
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
	if err := s.retry(ctx, "flush dead letters", func() error { return s.dlq.Flush(ctx) }); err != nil {
		return err
	}
	s.stats.Rows.Add(int64(rows))
	s.stats.Buffered.Add(-b.bytes)
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

func (s *Sink) encode(buf *bytes.Buffer, g *group) error {
	switch {
	case g.raw != nil:
		encodeJSONLines(buf, g.raw)
		return nil
	case g.ticks != nil:
		return g.ticks.finish(buf)
	default:
		return encodeObjects(buf, g.objs, s.cfg.TimeField, s.codec, s.cfg.RowGroupRows)
	}
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
