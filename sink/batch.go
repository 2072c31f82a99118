package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
}

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

const recordOverhead = 96 // bytes of bookkeeping per buffered record

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
