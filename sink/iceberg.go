package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
)

// TableCommitter is a lake table that carries its own Kafka offsets (an
// Iceberg table, see package iceberg), for `stocklake sink --table-format
// iceberg`. With Config.Committer set, the sink's exactly-once protocol is
// the table's, not the manifests' of the package documentation:
//
//  0. on assignment the sink reads the partitions' next offsets from the
//     table (Offsets) and seeks there; partitions the table has never
//     seen start at the beginning of the topic. Group offsets are not
//     used to resume;
//  1. a flush writes the batch's Parquet files, one per table partition
//     (PartitionPath), under names unique to this process and flush: the
//     table, not the names, makes the result exactly once, and files of a
//     flush that is never committed are orphans no reader sees;
//  2. dead-letter records of the batch are sent;
//  3. one Commit adds the files and advances the partition's offset range
//     [the table's offset, last+1) in one snapshot. A commit refused with
//     stocklake.ErrFenced means another sink moved the table's offsets on
//     (this one is a zombie): the batch and the partition are dropped;
//  4. the group offset last+1 is committed, for lag monitoring only.
//
// Only tick tables are supported so far, and PartitionPath must depend on
// nothing but the hour of the tick's time (day, hour or month partitioning,
// or none): the sink asks it once per hour of event time. Dead letters are
// sent exactly once: on resume the sink reads the dead-letter partition for
// those that uncommitted batches after the table's offset already sent
// (skipSentDeadLetters).
type TableCommitter interface {
	stocklake.OffsetTable
	// PartitionPath is the folder of tk's table partition, relative to the
	// table's data folder ("" when unpartitioned).
	PartitionPath(tk *stocklake.Tick) string
	// DataFileKey is the key, in Config.Store, of a data file named name
	// holding tk's partition; ok is false when the table lives outside the
	// store.
	DataFileKey(tk *stocklake.Tick, name string) (key string, ok bool)
	// DataFileURL is the same file's full URL, as Commit takes it.
	DataFileURL(tk *stocklake.Tick, name string) string
}

// icePathCacheMax bounds the cache of partition paths per hour of event
// time.
const icePathCacheMax = 4096

// icePath returns the table partition folder of tk, asking the committer
// once per hour of event time.
func (s *Sink) icePath(tk *stocklake.Tick) string {
	hour := tk.Time.Truncate(time.Hour).Unix()
	if p, ok := s.icePaths[hour]; ok {
		return p
	}
	return s.icePathMiss(hour, *tk)
}

// icePathMiss is icePath for an hour not in the cache; it takes a copy of
// the tick, so that icePath's does not escape to the heap.
func (s *Sink) icePathMiss(hour int64, tk stocklake.Tick) string {
	if len(s.icePaths) >= icePathCacheMax {
		clear(s.icePaths)
	}
	p := s.cfg.Committer.PartitionPath(&tk)
	s.icePaths[hour] = p
	return p
}

// assignIceberg takes newly assigned partitions in table mode: it reads
// their next offsets from the table, for adjustIcebergOffsets to seek to.
func (s *Sink) assignIceberg(ctx context.Context, cl *kgo.Client, assigned map[string][]int32) {
	var id string
	if err := s.retry(ctx, "read topic id", func() (err error) {
		id, err = s.resolveTopicID(ctx, cl)
		return err
	}); err != nil {
		s.setFatal(fmt.Errorf("cannot read the topic ID, which keys the table's offsets: %w", err))
		return
	}
	s.topicID = id
	var offs map[stocklake.TopicPartition]int64
	if err := s.retry(ctx, "read the table's offsets", func() (err error) {
		offs, err = s.cfg.Committer.Offsets(ctx)
		return err
	}); err != nil {
		s.setFatal(fmt.Errorf("cannot read the table's offsets to resume from: %w", err))
		return
	}
	s.iceMu.Lock()
	defer s.iceMu.Unlock()
	from := map[string]int64{} // for the log: where each partition resumes
	for _, p := range assigned[s.cfg.Topic] {
		ps := &partState{partition: p, next: -1, pendingCommit: -1, tableNext: -1}
		if o, ok := offs[stocklake.TopicPartition{TopicID: s.topicID, Partition: p}]; ok {
			ps.tableNext = o
			s.iceSeek[p] = o
			from[strconv.Itoa(int(p))] = o
		} else {
			delete(s.iceSeek, p)
		}
		s.parts[p] = ps
	}
	s.log.Info("partitions assigned; resuming from the table's offsets", "partitions", assigned[s.cfg.Topic], "topic_id", s.topicID,
		"table_offsets", from)
}

// adjustIcebergOffsets replaces the group's offsets of assigned partitions
// by the table's (kgo.AdjustFetchOffsetsFn; it runs after onAssigned).
func (s *Sink) adjustIcebergOffsets(_ context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	s.iceMu.Lock()
	defer s.iceMu.Unlock()
	for p := range offs[s.cfg.Topic] {
		if o, ok := s.iceSeek[p]; ok {
			offs[s.cfg.Topic][p] = kgo.NewOffset().At(o).WithEpoch(-1)
		} else {
			offs[s.cfg.Topic][p] = kgo.NewOffset().AtStart()
		}
	}
	return offs, nil
}

// flushIceberg writes a partition's batch as data files and commits them
// with the batch's offsets in one table snapshot (see TableCommitter).
// flush has checked that ps holds a batch and that the topic ID is known.
func (s *Sink) flushIceberg(ctx context.Context, ps *partState) error {
	b := ps.b
	s.iceSeq++
	files := make([]stocklake.LakeFile, 0, len(b.order))
	var buf bytes.Buffer
	rows := 0
	for _, path := range b.order {
		g := b.groups[path]
		name := fmt.Sprintf("%s+%s+%d+%d+%s-%d.parquet", s.cfg.Table, s.topicID, ps.partition, g.first, s.owner, s.iceSeq)
		key, ok := s.cfg.Committer.DataFileKey(&g.sample, name)
		if !ok {
			return fmt.Errorf("table files go to %s, outside the lake %s: give the lake the table's warehouse: %w",
				s.cfg.Committer.DataFileURL(&g.sample, name), s.cfg.Store.URL(), stocklake.ErrConfig)
		}
		buf.Reset()
		if _, err := s.encode(&buf, g, s.batchPart(ps, b, g)); err != nil {
			return err
		}
		data := buf.Bytes()
		if err := s.retry(ctx, "write "+key, func() error {
			return s.cfg.Store.Put(ctx, key, bytes.NewReader(data))
		}); err != nil {
			return err
		}
		files = append(files, stocklake.LakeFile{URL: s.cfg.Committer.DataFileURL(&g.sample, name)})
		rows += g.rows()
		s.stats.Objects.Add(1)
		s.stats.Bytes.Add(int64(len(data)))
	}
	if err := s.sendDeadLetters(ctx, ps, b); err != nil {
		return err
	}
	start := ps.tableNext
	if start < 0 {
		start = b.first // the table has never seen the partition
	}
	rng := stocklake.OffsetRange{TopicPartition: stocklake.TopicPartition{TopicID: s.topicID, Partition: ps.partition}, Start: start, End: b.last + 1}
	if s.cfg.BeforeCommit != nil {
		s.cfg.BeforeCommit(ctx, ps.partition, b.last+1)
	}
	if s.beforeTableCommit != nil {
		if err := s.beforeTableCommit(ps.partition); err != nil {
			return err
		}
	}
	var fenced error
	if err := s.retry(ctx, "commit to the table", func() error {
		_, err := s.cfg.Committer.Commit(ctx, files, []stocklake.OffsetRange{rng})
		if errors.Is(err, stocklake.ErrFenced) {
			fenced = err
			return nil
		}
		return err
	}); err != nil {
		return err
	}
	if fenced != nil {
		s.stats.Fenced.Add(1)
		s.log.Warn("table commit refused: another sink moved this partition's offsets on (this one was paused past its session?); dropping the batch and the partition, its files are orphans",
			"partition", ps.partition, "start", rng.Start, "end", rng.End, "err", fenced)
		s.dropBatch(ps)
		if s.parts[ps.partition] == ps {
			delete(s.parts, ps.partition)
		}
		return nil
	}
	ps.tableNext = b.last + 1
	s.stats.Rows.Add(int64(rows))
	s.release(b)
	ps.b = nil
	ps.pendingCommit, ps.pendingEpoch = b.last+1, b.lastEpoch
	s.log.Debug("batch committed to the table", "partition", ps.partition, "first", b.first, "last", b.last, "rows", rows, "files", len(files))
	return s.commitPending(ctx, ps, true)
}
