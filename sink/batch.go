package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

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
	own           ownership // fencing and commit retry state (commit.go)
	// dlqSeen holds the offsets, at or after the resume offset, whose dead
	// letters an earlier run sent but did not commit; they are not sent
	// again. dlqSeenFrom is where in the dead-letter partition they are.
	dlqSeen     map[int64]struct{}
	dlqSeenFrom int64
	// tableNext is, in table mode (Config.Committer), the next offset the
	// table has committed for the partition, or -1 when it has none.
	tableNext int64
	// iceStart is, in table mode, the first offset of batches that held
	// only dead letters before the table existed (so were not committed),
	// or -1: the first commit's range starts there.
	iceStart int64
}

// batch holds the records of one partition between two commits.
type batch struct {
	first, last int64
	lastEpoch   int32
	opened      time.Time
	rows        int // records, including dead letters
	bytes       int64
	groups      map[string]*group
	order       []string      // paths in first-seen order
	dead        []*kgo.Record // dead letters not yet sent
	dlqFrom     *int64        // the manifest's DLQFrom, once computed
}

// group holds a batch's records for one lake partition folder.
type group struct {
	path  string
	first int64       // offset of the group's first record: part of the object name
	ticks *tickWriter // streams tick rows into Parquet as they arrive
	objs  []map[string]any
	raw   [][]byte
	// recs are the records of objs, in table mode for JSON tables until
	// the flush, which sends those that do not fit the table's columns
	// (decided, or widened to new fields) to the dead-letter topic: nil
	// for an object already found to fit the columns.
	recs []*kgo.Record
	// sample is the group's first tick, in table mode: it names the
	// group's table partition (TableCommitter.DataFileKey).
	sample stocklake.Tick
	// part is, for a JSON table partitioned by field values, the group's
	// table partition folder (RowPartitioned.RowPartitionPath), set at
	// the flush; files are named by it instead of by sample.
	part string
}

func (g *group) rows() int {
	n := len(g.objs) + len(g.raw)
	if g.ticks != nil {
		n += g.ticks.n
	}
	return n
}

const recordOverhead = 96 // bytes of bookkeeping per buffered record

// groupOverhead is what an open lake partition costs before its rows: the
// group, its Parquet writer's column buffers and its first staging rows
// (measured with TestGroupOverhead).
const groupOverhead = 64 << 10

// errPartition marks records whose partition folder cannot be made.
var errPartition = errors.New("partition value unusable")

// Object key limits: S3 refuses keys over 1,024 bytes, file systems names
// over 255 bytes.
const (
	maxKeyBytes     = 1024
	maxSegmentBytes = 255
)

// route parses a record and returns its lake partition path, with its
// tick or object: cached for time-only partitionings, else built in buf.
// A non-nil reason sends the record to the dead-letter topic instead. pre,
// if not nil, is the record's tick as decodeAhead decoded it.
func (s *Sink) route(r *kgo.Record, pre *decoded, buf []byte) (cached string, path []byte, tick stocklake.Tick, obj map[string]any, reason error) {
	if s.mode == "" && !s.decideMode(r) {
		if isFramed(r.Value) {
			if s.cfg.Decoder == nil {
				return "", nil, tick, nil, fmt.Errorf("record is in the schema registry wire format and not an Avro tick; the sink needs the schema registry to decode it: %w", stocklake.ErrInvalid)
			}
			if _, _, err := s.decodeRegistry(r.Value); err != nil {
				return "", nil, tick, nil, err
			}
		}
		return "", nil, tick, nil, fmt.Errorf("record is neither a tick nor a JSON object: %w", stocklake.ErrInvalid)
	}
	var err error
	switch s.mode {
	case SchemaRegistry:
		var t time.Time
		if obj, t, err = s.routeRegistry(r); err != nil {
			return "", nil, tick, nil, err
		}
		if err := stocklake.CheckEventTime(t, s.now, s.cfg.MaxFuture); err != nil {
			return "", nil, tick, nil, err
		}
		if s.cfg.Committer != nil {
			// As JSON records: grouped by hour of the event time (within the
			// table's day partition).
			tick.Time = t
			if s.cfg.TimeField == "" {
				return "", nil, tick, obj, nil
			}
			return t.UTC().Format(iceJSONHour), nil, tick, obj, nil
		}
		if s.cfg.Partitioning.grain > 0 {
			return s.cfg.Partitioning.cachedPath(&s.pathCache, t), nil, tick, obj, nil
		}
		buf = s.cfg.Partitioning.path(buf, t, func(k string) string { return jsonField(obj, k) })
	case SchemaTick:
		if pre != nil {
			tick, err = pre.tick, pre.err
		} else {
			tick, err = stocklake.ParseTick(r.Value)
		}
		if err != nil {
			return "", nil, tick, nil, err
		}
		if err := stocklake.CheckEventTime(tick.Time, s.now, s.cfg.MaxFuture); err != nil {
			return "", nil, tick, nil, err
		}
		if s.cfg.Committer != nil {
			return s.icePath(&tick), nil, tick, nil, nil
		}
		if s.cfg.Partitioning.grain > 0 {
			return s.cfg.Partitioning.cachedPath(&s.pathCache, tick.Time), nil, tick, nil, nil
		}
		tk := tick // a copy for the closure, so that tick stays off the heap
		buf = s.cfg.Partitioning.path(buf, tick.Time, func(k string) string { return tickField(&tk, k) })
	default:
		if obj, err = decodeObject(r.Value); err != nil {
			return "", nil, tick, nil, err
		}
		t := r.Timestamp
		field := s.cfg.TimeField
		if field == "" && !s.timeDecided {
			field = detectTimeField(obj)
			if field != "" {
				s.cfg.TimeField = field
				s.log.Info("event-time field detected", "field", field)
			}
		}
		if field != "" {
			v, ok := obj[field]
			if !ok {
				return "", nil, tick, nil, fmt.Errorf("record has no event-time field %q: %w", field, stocklake.ErrInvalid)
			}
			if t, ok = parseEventTime(v); !ok {
				return "", nil, tick, nil, fmt.Errorf("event-time field %q value %v is not a time: %w", field, v, stocklake.ErrInvalid)
			}
		}
		if err := stocklake.CheckEventTime(t, s.now, s.cfg.MaxFuture); err != nil {
			return "", nil, tick, nil, err
		}
		if s.cfg.Committer != nil {
			if s.iceKinds != nil {
				if err := s.iceMisfit(obj, true); err != nil {
					return "", nil, tick, nil, err
				}
			}
			// Group by the table's partition of the time field (by hour
			// before the table exists); the sample's time names it
			// (TableCommitter.DataFileKey). With identity partitions, by
			// the values of those fields too (iceRowGroup).
			tick.Time = t
			switch {
			case len(s.iceIdentity()) > 0:
				key, err := s.iceRowGroup(t, field != "", obj)
				return key, nil, tick, obj, err
			case field == "":
				return "", nil, tick, obj, nil
			case s.iceKinds != nil:
				return s.icePath(&tick), nil, tick, obj, nil
			}
			return t.UTC().Format(iceJSONHour), nil, tick, obj, nil
		}
		buf = s.cfg.Partitioning.path(buf, t, func(k string) string { return jsonField(obj, k) })
	}
	if err := s.checkPath(buf); err != nil {
		return "", nil, tick, nil, err
	}
	return "", buf, tick, obj, nil
}

// keyBase is the length of an object key without its partition path:
// <prefix>/<table>/<path>/<table>+<topic id>+<partition>+<offset>.<ext>
// with the longest topic ID (22), partition (10) and offset (19) there
// are. The store's prefix counts for s3:// lakes, whose keys it lengthens.
func keyBase(storeURL, table, format string) int {
	return len(table) + 1 + 1 + len(table) + 1 + 22 + 1 + 10 + 1 + 19 + 1 + len("parquet") + storePrefix(storeURL)
}

// storePrefix is how many bytes the store adds in front of a key: its
// prefix and a slash, for s3:// lakes.
func storePrefix(storeURL string) int {
	if u, err := url.Parse(storeURL); err == nil && u.Scheme != "file" {
		if p := strings.Trim(u.Path, "/"); p != "" {
			return len(p) + 1
		}
	}
	return 0
}

// checkPath refuses a partition path whose folder names or object key
// would be too long for the lake: the write would fail on every retry.
func (s *Sink) checkPath(path []byte) error {
	return checkPathBase(path, s.keyBase)
}

// checkPath is checkPath for keys of base bytes besides the path.
func checkPathBase(path []byte, base int) error {
	// The messages take copies (string), so that path, often on the
	// caller's stack, does not escape to the heap.
	if len(path)+base > maxKeyBytes {
		return fmt.Errorf("partition path %.64q... makes object keys of %d bytes, more than the %d S3 allows: %w: %w",
			string(path), len(path)+base, maxKeyBytes, errPartition, stocklake.ErrInvalid)
	}
	for rest := path; len(rest) > 0; {
		seg := rest
		if i := bytes.IndexByte(rest, '/'); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if len(seg) > maxSegmentBytes {
			return fmt.Errorf("partition folder %.64q... is %d bytes, more than the %d a file name may have: %w: %w",
				string(seg), len(seg), maxSegmentBytes, errPartition, stocklake.ErrInvalid)
		}
	}
	return nil
}

// add puts one consumed record into its partition's batch; pre, if not
// nil, is its tick, decoded ahead. copied reports that nothing of r is
// kept (a tick row holds copies of its values), so the Kafka client may
// reuse r's memory (kgo.Record.Recycle); a dead letter or a JSON line
// keeps r's bytes.
func (s *Sink) add(ctx context.Context, ps *partState, r *kgo.Record, pre *decoded) (copied bool, err error) {
	s.stats.Records.Add(1)
	if ps.next < 0 {
		// First record since assignment: it sits at the committed offset.
		// A manifest batch at or after it was written but never committed.
		if m := ps.manifest; m != nil && m.TopicID == s.topicID {
			if ps.stale = m.uncommittedKeys(r.Offset); len(ps.stale) > 0 {
				s.log.Info("resuming after uncommitted batches; their objects will be rewritten or removed", "partition", ps.partition,
					"offset", r.Offset, "objects", len(ps.stale))
			}
			if from, ok := m.uncommittedDLQFrom(r.Offset); ok {
				seen, err := s.scanDeadLetters(ctx, ps.partition, from, r.Offset)
				if err != nil {
					return false, err
				}
				ps.dlqSeen, ps.dlqSeenFrom = seen, from
				s.log.Info("resuming after uncommitted dead letters; those already sent are not sent again", "partition", ps.partition,
					"offset", r.Offset, "dead_letters", len(seen))
			}
		}
		ps.manifest = nil
		if s.cfg.Committer != nil {
			if err := s.skipSentDeadLetters(ctx, ps, r.Offset); err != nil {
				return false, err
			}
		}
	}
	ps.next = r.Offset + 1
	var pathBuf [64]byte
	cached, path, tick, obj, reason := s.route(r, pre, pathBuf[:0])
	lookup := func(b *batch) *group {
		if b == nil {
			return nil
		}
		if cached != "" {
			return b.groups[cached]
		}
		return b.groups[string(path)] // no allocation for a lookup
	}
	if reason == nil && lookup(ps.b) == nil {
		// One more open lake partition: keep within MaxOpenPartitions.
		for s.stats.OpenPartitions.Load() >= int64(s.cfg.MaxOpenPartitions) {
			if err := s.flushOldest(ctx); err != nil {
				return false, err
			}
		}
	}
	if ps.b == nil {
		ps.b = &batch{first: r.Offset, opened: time.Now(), groups: map[string]*group{}}
	}
	b := ps.b
	b.last, b.lastEpoch = r.Offset, r.LeaderEpoch
	b.rows++
	size := int64(len(r.Value)) + recordOverhead
	if reason != nil && errors.Is(reason, stocklake.ErrUnavailable) {
		return false, reason // the registry is away and the sink stops: not a dead letter
	}
	if reason != nil {
		size += int64(len(r.Key))
		if s.deadLetter(ps, b, r, reason) {
			size += deadLetterSize(b.dead[len(b.dead)-1])
		}
		s.grow(b, size)
		return false, nil
	}
	g := lookup(b)
	if g == nil {
		if cached == "" {
			cached = string(path)
		}
		g = &group{path: cached, first: r.Offset}
		if s.cfg.Committer != nil {
			g.sample = tick
		}
		b.groups[g.path] = g
		b.order = append(b.order, g.path)
		size += groupOverhead
		if n := s.stats.OpenPartitions.Add(1); n > s.stats.PeakOpenPartitions.Load() {
			s.stats.PeakOpenPartitions.Store(n)
		}
	}
	s.grow(b, size)
	switch {
	case s.cfg.Format == stocklake.FormatJSON && isFramed(r.Value):
		// Avro ticks and registry records are binary: their JSON lines
		// are the decoded tick or record.
		if s.mode == SchemaTick {
			g.raw = append(g.raw, tick.AppendJSON(nil))
		} else {
			b, err := json.Marshal(obj)
			if err != nil {
				return false, fmt.Errorf("encode decoded record as JSON: %w", err)
			}
			g.raw = append(g.raw, b)
		}
	case s.cfg.Format == stocklake.FormatJSON:
		g.raw = append(g.raw, r.Value)
	case s.mode == SchemaTick:
		if g.ticks == nil {
			g.ticks = newTickWriter(s.codec, s.cfg.RowGroupRows)
		}
		if err := g.ticks.add(newTickRow(&tick)); err != nil {
			return false, err
		}
		return true, nil // the row's strings are ParseTick's copies
	default:
		g.objs = append(g.objs, obj)
		if s.cfg.Committer != nil && s.mode == SchemaJSON {
			// Until the flush widens the table to its new fields and checks
			// its records against the columns (iceDecideColumns); nil for a
			// record route found fitting the table's columns.
			var keep *kgo.Record
			if s.iceKinds == nil || s.iceHasNew(obj) {
				keep = r
			}
			g.recs = append(g.recs, keep)
		}
	}
	return false, nil
}

// grow counts size more bytes in batch b.
func (s *Sink) grow(b *batch, size int64) {
	b.bytes += size
	s.stats.Buffered.Add(size)
}

// release forgets a batch that was written or dropped.
func (s *Sink) release(b *batch) {
	s.stats.Buffered.Add(-b.bytes)
	s.stats.OpenPartitions.Add(-int64(len(b.groups)))
}

// flushOldest writes the batch opened first, to free its lake partitions.
func (s *Sink) flushOldest(ctx context.Context) error {
	var old *partState
	for _, ps := range s.parts {
		if ps.b != nil && len(ps.b.groups) > 0 && (old == nil || ps.b.opened.Before(old.b.opened)) {
			old = ps
		}
	}
	if old == nil {
		return fmt.Errorf("%d lake partitions counted open but no batch holds any: %w", s.stats.OpenPartitions.Load(), stocklake.ErrInvalid)
	}
	s.log.Debug("too many lake partitions open; writing the oldest batch", "partition", old.partition, "open", s.stats.OpenPartitions.Load(),
		"max", s.cfg.MaxOpenPartitions)
	return s.flush(ctx, old)
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

// encode writes g's object to buf and returns its columns (nil for JSON
// lines). Parquet objects carry batch, the Kafka batch they belong to, in
// their footer under stocklake.ParquetKeyBatches.
func (s *Sink) encode(buf *bytes.Buffer, g *group, batch stocklake.BatchPart) ([]stocklake.Column, error) {
	meta := stocklake.EncodeBatchParts([]stocklake.BatchPart{batch})
	switch {
	case g.raw != nil:
		encodeJSONLines(buf, g.raw)
		return nil, nil
	case g.ticks != nil:
		return TickColumns(), g.ticks.finish(buf, meta)
	case s.mode == SchemaRegistry:
		return encodeRecords(buf, g.objs, s.regFields, s.codec, s.cfg.RowGroupRows)
	case s.iceKinds != nil:
		return encodeObjectsAs(buf, g.objs, s.iceKinds, s.cfg.TimeField, s.codec, s.cfg.RowGroupRows, meta)
	default:
		return encodeObjects(buf, g.objs, s.cfg.TimeField, s.codec, s.cfg.RowGroupRows, meta)
	}
}
