package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
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
//  1. a flush writes the batches of every partition the sink owns that
//     holds one (whichever batch made it due: see Sink.flush), each as
//     Parquet files, one per table partition (PartitionPath), under names
//     unique to this process and flush: the table, not the names, makes
//     the result exactly once, and files of a flush that is never
//     committed are orphans no reader sees;
//  2. dead-letter records of the batches are sent;
//  3. ONE Commit adds all the files and advances each partition's offset
//     range [the table's offset, last+1) in one snapshot. Fencing is per
//     partition: a commit refused with stocklake.ErrFenced (a
//     *stocklake.FencedError naming the partitions) means another sink
//     moved those partitions' offsets on (this one is a zombie for them):
//     their batches and the partitions are dropped, and the others are
//     committed again without them;
//  4. the group offset last+1 of each committed partition is committed,
//     for lag monitoring only.
//
// A TableCommitter that is not a ShapedTable holds ticks; a ShapedTable
// may hold ticks or JSON objects. PartitionPath must depend on nothing but
// the hour of the tick's time (year, month, day or hour partitioning, or
// none) and the fields a FieldPartitioned names: the sink asks it once per
// hour of event time and values of those fields (for a JSON table it gets
// a tick whose Time is the record's event time). Dead letters are
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

// FieldPartitioned is a TableCommitter whose partitions also depend on
// tick fields (identity partitions, e.g. hour(ts),identity(symbol)):
// PartitionFields names them (symbol, exchange or source; nil when none).
// The sink then asks PartitionPath once per hour and value of those fields.
type FieldPartitioned interface {
	PartitionFields() []string
}

// icePathCacheMax bounds the cache of partition paths per hour of event
// time (and identity field values).
const icePathCacheMax = 4096

// icePathKey keys the partition path cache: an hour of event time and the
// values of the table's identity fields (joined by NUL when several).
type icePathKey struct {
	hour int64
	vals string
}

// RowPartitioned is a FieldPartitioned table that holds JSON records
// partitioned by the values of their fields (iceberg.LazyTable): the sink
// groups such a table's rows by partition folder (RowPartitionPath of the
// event time and the values of PartitionFields) and names each group's
// data file by its folder.
type RowPartitioned interface {
	FieldPartitioned
	// RowPartitionPath is the partition folder of a row of event time at
	// whose PartitionFields hold vals (nil for null; a string, int64,
	// float64 or bool as the column holds it).
	RowPartitionPath(at time.Time, vals []any) string
	// PartitionFileURL is the URL of a data file named name in the
	// partition folder partition.
	PartitionFileURL(partition, name string) string
	// PartitionFileKey is its key in Config.Store; ok is false when the
	// table lives outside the store.
	PartitionFileKey(partition, name string) (key string, ok bool)
}

// iceIdentity returns the fields the table partitions by identity
// (FieldPartitioned; for a JSON table that does not exist yet, those it
// will be created with), read once.
func (s *Sink) iceIdentity() []string {
	if !s.iceFieldsSet {
		if fp, ok := s.cfg.Committer.(FieldPartitioned); ok {
			s.iceFields = fp.PartitionFields()
		}
		s.iceFieldsSet = true
	}
	return s.iceFields
}

// iceRowGroup is the batch group of a JSON record of event time t (timed:
// the table has a time field) in a table partitioned by field values:
// its table partition folder once the table exists, else the hour and
// the values as the record holds them (both name one table partition:
// the hour is the finest time partition). A folder the lake cannot hold
// (too long) is an error: the record is a dead letter, as on the Hive
// path.
func (s *Sink) iceRowGroup(t time.Time, timed bool, obj map[string]any) (string, error) {
	if _, ok := s.cfg.Committer.(RowPartitioned); ok && s.iceKinds != nil {
		return s.iceRowPath(t, obj)
	}
	key := ""
	if timed {
		key = t.UTC().Format(iceJSONHour)
	}
	return key + "\x00" + jsonValuesKey(obj, s.iceFields), nil
}

// jsonValuesKey is the values of obj's fields as the record holds them:
// kind and text, so that values that differ in kind ("1" and 1) or are
// null and "" never share a key.
func jsonValuesKey(obj map[string]any, fields []string) string {
	var b []byte
	for _, f := range fields {
		switch v := obj[f].(type) {
		case nil:
			b = append(b, '0')
		case string:
			b = append(strconv.AppendInt(append(b, 's'), int64(len(v)), 10), ':')
			b = append(b, v...)
		case json.Number:
			b = append(append(b, 'n'), v...)
		case bool:
			b = strconv.AppendBool(append(b, 'b'), v)
		default:
			j, _ := json.Marshal(v)
			b = append(strconv.AppendInt(append(b, 'o'), int64(len(j)), 10), ':')
			b = append(b, j...)
		}
		b = append(b, ';')
	}
	return string(b)
}

// iceRowPath is the table partition folder of a JSON record of event time
// t (RowPartitioned), asking the table once per hour and values, or the
// reason the lake cannot hold it (checkPathBase; not cached).
func (s *Sink) iceRowPath(t time.Time, obj map[string]any) (string, error) {
	key := icePathKey{hour: hourStart(t), vals: jsonValuesKey(obj, s.iceFields)}
	if p, ok := s.icePaths[key]; ok {
		return p, nil
	}
	rp := s.cfg.Committer.(RowPartitioned)
	p := rp.RowPartitionPath(t, s.iceRowValues(obj))
	if s.iceKeyBase == 0 {
		// The longest data file name flushIceberg makes.
		name := strings.Repeat("x", len(s.cfg.Table)+1+22+1+10+1+19+1+len(s.owner)+1+20+len(".parquet"))
		k, _ := rp.PartitionFileKey("", name)
		s.iceKeyBase = len(k) + 1 + storePrefix(s.cfg.Store.URL())
	}
	if err := checkPathBase([]byte(p), s.iceKeyBase); err != nil {
		return "", err
	}
	if len(s.icePaths) >= icePathCacheMax {
		clear(s.icePaths)
	}
	s.icePaths[key] = p
	return p, nil
}

// iceRowValues are the values of obj's identity fields as its data file
// holds them (convertValue to the column's kind; nil for null), which the
// table's partition values are read from. obj fits the columns
// (iceMisfit).
func (s *Sink) iceRowValues(obj map[string]any) []any {
	vals := make([]any, len(s.iceFields))
	for i, f := range s.iceFields {
		v := obj[f]
		if v == nil {
			continue
		}
		kind := s.iceKinds[f]
		pv := convertValue(v, kind)
		switch kind {
		case kindBool:
			vals[i] = pv.Boolean()
		case kindInt:
			vals[i] = pv.Int64()
		case kindFloat:
			vals[i] = pv.Double()
		default:
			vals[i] = string(pv.ByteArray())
		}
	}
	return vals
}

// iceFile is the key and URL of the data file named name of group g.
func (s *Sink) iceFile(g *group, name string) (key, url string, ok bool) {
	if rp, isRow := s.cfg.Committer.(RowPartitioned); isRow && g.part != "" {
		key, ok = rp.PartitionFileKey(g.part, name)
		return key, rp.PartitionFileURL(g.part, name), ok
	}
	key, ok = s.cfg.Committer.DataFileKey(&g.sample, name)
	return key, s.cfg.Committer.DataFileURL(&g.sample, name), ok
}

// icePath returns the table partition folder of tk, asking the committer
// once per hour of event time (and values of its identity fields).
func (s *Sink) icePath(tk *stocklake.Tick) string {
	s.iceIdentity()
	key := icePathKey{hour: hourStart(tk.Time)}
	switch len(s.iceFields) {
	case 0:
	case 1:
		key.vals = tickField(tk, s.iceFields[0])
	default:
		vals := make([]string, len(s.iceFields))
		for i, f := range s.iceFields {
			vals[i] = tickField(tk, f)
		}
		key.vals = strings.Join(vals, "\x00")
	}
	if s.iceLast.path != "" && s.iceLast.key == key {
		return s.iceLast.path // ticks come mostly in event-time order
	}
	p, ok := s.icePaths[key]
	if !ok {
		p = s.icePathMiss(key, *tk)
	}
	s.iceLast.key, s.iceLast.path = key, p
	return p
}

// hourStart is the Unix time (in seconds) of the start of t's hour.
func hourStart(t time.Time) int64 {
	sec := t.Unix()
	h := sec / 3600
	if sec%3600 < 0 {
		h--
	}
	return h * 3600
}

// icePathMiss is icePath for a key not in the cache; it takes a copy of
// the tick, so that icePath's does not escape to the heap.
func (s *Sink) icePathMiss(key icePathKey, tk stocklake.Tick) string {
	if len(s.icePaths) >= icePathCacheMax {
		clear(s.icePaths)
	}
	p := s.cfg.Committer.PartitionPath(&tk)
	s.icePaths[key] = p
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
		ps := &partState{partition: p, next: -1, pendingCommit: -1, tableNext: -1, iceStart: -1}
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

// flushIceberg writes the batches of parts as data files and commits them
// all, with one offset range per partition, in ONE table snapshot (see
// TableCommitter); parts are partitions holding a batch (flush passes
// every such partition the sink owns, onRevoked the revoked ones).
//
// Fencing stays per partition: when the table refuses the commit because
// some partitions' ranges no longer start at its offsets
// (stocklake.FencedError names them: another sink took them over), those
// partitions are dropped with their batches (their files are orphans) and
// the others are committed again without them, in one snapshot.
func (s *Sink) flushIceberg(ctx context.Context, parts []*partState) error {
	if len(parts) == 0 {
		return nil
	}
	if err := s.ensureTopicID(ctx); err != nil {
		return err
	}
	todo := make([]iceBatch, 0, len(parts))
	s.iceSeq++
	for _, ps := range parts {
		if s.mode == SchemaJSON || s.mode == SchemaRegistry {
			ok, err := s.iceTableReady(ctx, ps)
			if err != nil {
				return err
			}
			if !ok {
				if err := s.iceDeadLettersOnly(ctx, ps); err != nil {
					return err
				}
				continue
			}
		}
		ib, err := s.iceWrite(ctx, ps)
		if err != nil {
			return err
		}
		todo = append(todo, ib)
	}
	if len(todo) == 0 {
		return nil
	}
	if s.cfg.BeforeCommit != nil {
		for _, ib := range todo {
			s.cfg.BeforeCommit(ctx, ib.ps.partition, ib.rng.End)
		}
	}
	if s.beforeTableCommit != nil {
		ps := make([]int32, len(todo))
		for i, ib := range todo {
			ps[i] = ib.ps.partition
		}
		if err := s.beforeTableCommit(ps); err != nil {
			return err
		}
	}
	for len(todo) > 0 {
		var (
			files  []stocklake.LakeFile
			ranges = make([]stocklake.OffsetRange, len(todo))
		)
		for i, ib := range todo {
			files = append(files, ib.files...)
			ranges[i] = ib.rng
		}
		var fenced error
		if err := s.retry(ctx, "commit to the table", func() error {
			_, err := s.cfg.Committer.Commit(ctx, files, ranges)
			if errors.Is(err, stocklake.ErrFenced) {
				fenced = err
				return nil
			}
			return err
		}); err != nil {
			return err
		}
		if fenced == nil {
			break
		}
		todo = s.dropFenced(todo, fenced)
	}
	rows, files := 0, 0
	for _, ib := range todo {
		ps, b := ib.ps, ib.ps.b
		ps.tableNext = ib.rng.End
		s.stats.Rows.Add(int64(ib.rows))
		rows, files = rows+ib.rows, files+len(ib.files)
		s.release(b)
		ps.b = nil
		ps.pendingCommit, ps.pendingEpoch = b.last+1, b.lastEpoch
	}
	s.log.Debug("batches committed to the table in one snapshot", "partitions", len(todo), "rows", rows, "files", files)
	for _, ib := range todo {
		if err := s.commitPending(ctx, ib.ps, true); err != nil {
			return err
		}
	}
	return nil
}

// iceBatch is one partition's part of a table commit: its batch's data
// files, written, and its offset range.
type iceBatch struct {
	ps    *partState
	files []stocklake.LakeFile
	rows  int
	rng   stocklake.OffsetRange
}

// dropFenced drops the partitions of todo that a commit refused with
// fenced (all of them when the error does not say which) and returns the
// others, to commit again without them.
func (s *Sink) dropFenced(todo []iceBatch, fenced error) []iceBatch {
	refused := map[stocklake.TopicPartition]bool{}
	var fe *stocklake.FencedError
	if errors.As(fenced, &fe) {
		for _, tp := range fe.Partitions {
			refused[tp] = true
		}
	}
	if !slices.ContainsFunc(todo, func(ib iceBatch) bool { return refused[ib.rng.TopicPartition] }) {
		// Not told which (or none of ours): none of them can commit.
		for _, ib := range todo {
			refused[ib.rng.TopicPartition] = true
		}
	}
	kept := todo[:0]
	for _, ib := range todo {
		if !refused[ib.rng.TopicPartition] {
			kept = append(kept, ib)
			continue
		}
		ps := ib.ps
		s.stats.Fenced.Add(1)
		s.log.Warn("table commit refused for a partition: another sink moved its offsets on (this one was paused past its session?); dropping its batch and the partition, its files are orphans",
			"partition", ps.partition, "start", ib.rng.Start, "end", ib.rng.End, "err", fenced)
		s.dropBatch(ps)
		if s.parts[ps.partition] == ps {
			delete(s.parts, ps.partition)
		}
	}
	return kept
}

// iceTableReady makes a JSON or registry table ready for ps's batch: it
// creates the table from the batch unless it exists, and dead-letters the
// batch's records that do not fit it. ok is false when there is still no
// table (see iceDecideColumns, iceRegistryTable).
func (s *Sink) iceTableReady(ctx context.Context, ps *partState) (bool, error) {
	if s.mode == SchemaJSON {
		return s.iceDecideColumns(ctx, ps, ps.b)
	}
	return s.iceRegistryTable(ctx)
}

// iceDeadLettersOnly ends ps's batch when there is no table yet and no
// field of it to make a column of: its records are dead letters. It sends
// them; the first commit of the partition will account for these offsets.
func (s *Sink) iceDeadLettersOnly(ctx context.Context, ps *partState) error {
	b := ps.b
	for _, path := range b.order {
		g := b.groups[path]
		for _, r := range g.recs {
			if s.deadLetter(ps, b, r, fmt.Errorf("record has no field that can be a column of the new table %q (no field, or only one named \"\"): %w", s.cfg.Table, stocklake.ErrInvalid)) {
				s.grow(b, deadLetterSize(b.dead[len(b.dead)-1]))
			}
		}
		g.objs, g.recs = nil, nil
	}
	if err := s.sendDeadLetters(ctx, ps, b); err != nil {
		return err
	}
	if ps.iceStart < 0 {
		ps.iceStart = b.first
	}
	s.release(b)
	ps.b = nil
	// The group offset, for lag monitoring only: the sink resumes
	// from the table's offsets (none yet: the topic's start).
	ps.pendingCommit, ps.pendingEpoch = b.last+1, b.lastEpoch
	return s.commitPending(ctx, ps, true)
}

// iceWrite writes ps's batch as data files, one per table partition,
// sends its dead letters, and returns its part of the table commit.
func (s *Sink) iceWrite(ctx context.Context, ps *partState) (iceBatch, error) {
	b := ps.b
	ib := iceBatch{ps: ps, files: make([]stocklake.LakeFile, 0, len(b.order))}
	var buf bytes.Buffer
	for _, path := range b.order {
		g := b.groups[path]
		if g.rows() == 0 {
			continue // every record of it was dead-lettered
		}
		name := fmt.Sprintf("%s+%s+%d+%d+%s-%d.parquet", s.cfg.Table, s.topicID, ps.partition, g.first, s.owner, s.iceSeq)
		key, url, ok := s.iceFile(g, name)
		if !ok {
			return ib, fmt.Errorf("table files go to %s, outside the lake %s: give the lake the table's warehouse: %w",
				url, s.cfg.Store.URL(), stocklake.ErrConfig)
		}
		buf.Reset()
		if _, err := s.encode(&buf, g, s.batchPart(ps, b, g)); err != nil {
			return ib, err
		}
		data := buf.Bytes()
		if err := s.retry(ctx, "write "+key, func() error {
			return s.cfg.Store.Put(ctx, key, bytes.NewReader(data))
		}); err != nil {
			return ib, err
		}
		ib.files = append(ib.files, stocklake.LakeFile{URL: url})
		ib.rows += g.rows()
		s.stats.Objects.Add(1)
		s.stats.Bytes.Add(int64(len(data)))
	}
	if err := s.sendDeadLetters(ctx, ps, b); err != nil {
		return ib, err
	}
	start := ps.tableNext
	if start < 0 {
		start = b.first // the table has never seen the partition
		if ps.iceStart >= 0 {
			start = ps.iceStart // nor earlier batches of dead letters only
		}
	}
	ib.rng = stocklake.OffsetRange{TopicPartition: stocklake.TopicPartition{TopicID: s.topicID, Partition: ps.partition}, Start: start, End: b.last + 1}
	return ib, nil
}

// revokeIceberg is onRevoked in table mode: the revoked partitions'
// batches are committed in one snapshot before the revocation returns, so
// the next owner starts at the table's offsets where this one stopped.
func (s *Sink) revokeIceberg(ctx context.Context, revoked []int32) {
	revoked = slices.Sorted(slices.Values(revoked))
	for _, p := range revoked {
		if ps := s.parts[p]; ps != nil && ps.b == nil {
			if err := s.commitPending(ctx, ps, true); err != nil {
				s.log.Warn("could not commit the group offset of a revoked partition (it is for lag monitoring only)", "partition", p, "err", err)
			}
		}
	}
	flush := s.batched(revoked)
	if err := s.flushIceberg(ctx, flush); err != nil {
		s.log.Error("could not commit the batches of revoked partitions; their new owner will re-read them", "partitions", revoked, "err", err)
		for _, ps := range flush {
			s.dropBatch(ps)
		}
	}
	for _, p := range revoked {
		delete(s.parts, p)
	}
	if len(revoked) > 0 {
		s.log.Info("partitions revoked", "partitions", revoked)
	}
}

// ShapedTable is a TableCommitter whose table the sink's first records may
// create (iceberg.LazyTable): with one, the sink also lands JSON topics.
// The table's shape (tick or JSON, the event-time field, the columns) is
// decided once, by the first sink that creates the table, and every later
// sink reads it from the table, as the Hive path's table.json. A JSON
// table is created at the first flush, with a column per field of that
// batch's objects.
type ShapedTable interface {
	TableCommitter
	// Shape returns the existing table's shape; ok is false when the table
	// does not exist yet (its Offsets are then empty).
	Shape(ctx context.Context) (shape stocklake.TableShape, ok bool, err error)
	// Decide creates the table with shape unless it exists, and returns
	// the shape the table has: the first decision wins.
	Decide(ctx context.Context, shape stocklake.TableShape) (stocklake.TableShape, error)
}

// iceJSONHour is the layout of a JSON table's batch group key before the
// table (and so its partitioning) exists: an hour is the finest time
// partition; "" groups a table without a time field.
const iceJSONHour = "2006-01-02T15"

// loadTableShape reads the table's shape in table mode, before the sink
// consumes (the table mode's loadTableState). Without a ShapedTable the
// table is a tick table.
func (s *Sink) loadTableShape(ctx context.Context) error {
	st, ok := s.cfg.Committer.(ShapedTable)
	if !ok {
		s.mode = SchemaTick
		return nil
	}
	var (
		shape stocklake.TableShape
		found bool
	)
	if err := s.retry(ctx, "read the table's shape", func() (err error) {
		shape, found, err = st.Shape(ctx)
		return err
	}); err != nil {
		return err
	}
	switch {
	case found:
		return s.adoptShape(shape)
	case s.cfg.Schema == SchemaTick:
		return s.decideShape(ctx, stocklake.TableShape{Schema: SchemaTick})
	case s.cfg.Schema == SchemaJSON && s.explicit.timeField:
		s.mode, s.timeDecided = SchemaJSON, true
	case s.cfg.Schema == SchemaJSON:
		s.mode = SchemaJSON // the first record decides the time field
	}
	return nil
}

// decideShape creates the table with shape unless it exists and adopts the
// table's shape. A JSON shape without columns is only kept in memory: the
// table is created by the first flush (iceDecideColumns).
func (s *Sink) decideShape(ctx context.Context, shape stocklake.TableShape) error {
	if shape.Schema == SchemaJSON && shape.Columns == nil || shape.Schema == SchemaRegistry && shape.Fields == nil {
		s.mode, s.cfg.TimeField, s.timeDecided = shape.Schema, shape.TimeField, true
		return nil
	}
	var got stocklake.TableShape
	if err := s.retry(ctx, "create the table", func() (err error) {
		got, err = s.cfg.Committer.(ShapedTable).Decide(ctx, shape)
		return err
	}); err != nil {
		return err
	}
	if got.Schema != shape.Schema || got.TimeField != shape.TimeField {
		// Another sink created the table from other records: this batch was
		// read for another shape. A restart follows the table.
		return fmt.Errorf("table %q was created by another sink as a %s table with time field %q, while this sink read its records as %s with time field %q; restart this sink to follow the table: %w",
			s.cfg.Table, got.Schema, got.TimeField, shape.Schema, shape.TimeField, stocklake.ErrUnavailable)
	}
	s.log.Info("table shape decided", "table", s.cfg.Table, "schema", got.Schema, "time_field", got.TimeField, "columns", len(got.Columns))
	return s.adoptShape(got)
}

// adoptShape follows the table's shape, or explains how the explicit
// settings contradict it.
func (s *Sink) adoptShape(shape stocklake.TableShape) error {
	if s.explicit.schema && s.cfg.Schema != shape.Schema {
		return stocklake.SettingErr(fmt.Errorf("table %q is a %s table: this sink has schema %s; drop the setting to follow the table, or land into a new table: %w",
			s.cfg.Table, shape.Schema, s.cfg.Schema, stocklake.ErrConfig), "sink.Config.Schema", "sink.Config.Table")
	}
	if shape.Schema == SchemaRegistry && s.cfg.Decoder == nil {
		return stocklake.SettingErr(fmt.Errorf("table %q holds records decoded with a schema registry: give the sink the registry's URL: %w",
			s.cfg.Table, stocklake.ErrConfig), "sink.Config.Decoder")
	}
	if shape.Schema != SchemaTick && s.explicit.timeField && s.cfg.TimeField != shape.TimeField {
		return stocklake.SettingErr(fmt.Errorf("table %q is partitioned by the time field %q: this sink has time field %q; drop the setting to follow the table, or land into a new table: %w",
			s.cfg.Table, shape.TimeField, s.cfg.TimeField, stocklake.ErrConfig), "sink.Config.TimeField", "sink.Config.Table")
	}
	s.mode, s.timeDecided = shape.Schema, true
	if shape.Schema == SchemaJSON {
		s.cfg.TimeField = shape.TimeField
		s.iceKinds = make(map[string]colKind, len(shape.Columns))
		for _, c := range shape.Columns {
			s.iceKinds[c.Name] = hiveKinds[c.Type]
		}
	}
	if shape.Schema == SchemaRegistry {
		// The table's columns are the union of the writer schemas met so
		// far, by any sink: new writer schemas are checked against them.
		s.cfg.TimeField, s.regFields, s.iceRegTable = shape.TimeField, shape.Fields, true
	}
	return nil
}

// FieldWidener is a ShapedTable that holds registry tables: a column per
// field of the union of the writer schemas met (iceberg.LazyTable).
type FieldWidener interface {
	// WidenFields widens the table's columns to hold fields, in a new
	// table version, and returns the table's fields after.
	WidenFields(ctx context.Context, fields []stocklake.Field) ([]stocklake.Field, error)
}

// iceRegistryTable makes the registry table hold the sink's fields before
// a batch of them is committed: the first flush creates the table with
// them (unless another sink did: its fields and ours are merged), and a
// writer schema that widened them widens the table's schema first, in a
// table version of its own. ok is false when there is still no table: no
// record of the batch was admitted (all are dead letters).
func (s *Sink) iceRegistryTable(ctx context.Context) (ok bool, err error) {
	st, ok1 := s.cfg.Committer.(ShapedTable)
	w, ok2 := s.cfg.Committer.(FieldWidener)
	if !ok1 || !ok2 {
		return false, fmt.Errorf("the sink's table cannot hold schema registry records (it is not a registry table the sink can create and widen): %w", stocklake.ErrConfig)
	}
	if !s.iceRegTable {
		if len(s.regFields) == 0 {
			return false, nil
		}
		var got stocklake.TableShape
		if err := s.retry(ctx, "create the table", func() (err error) {
			got, err = st.Decide(ctx, stocklake.TableShape{Schema: SchemaRegistry, TimeField: s.cfg.TimeField, Fields: s.regFields})
			return err
		}); err != nil {
			return false, err
		}
		if got.Schema != SchemaRegistry || got.TimeField != s.cfg.TimeField {
			return false, fmt.Errorf("table %q was created by another sink as a %s table with time field %q, while this sink read its records as %s with time field %q; restart this sink to follow the table: %w",
				s.cfg.Table, got.Schema, got.TimeField, SchemaRegistry, s.cfg.TimeField, stocklake.ErrUnavailable)
		}
		s.iceRegTable = true
		merged, changed, err := mergeFields(got.Fields, s.regFields, true)
		if err != nil {
			return false, fmt.Errorf("table %q was created by another sink with columns this sink's writer schemas do not fit (%v); restart this sink to check them against the table: %w", s.cfg.Table, err, stocklake.ErrUnavailable)
		}
		s.regFields, s.fieldsPending = merged, changed
		s.log.Info("registry table ready", "table", s.cfg.Table, "time_field", got.TimeField, "columns", len(got.Fields))
	}
	if !s.fieldsPending {
		return true, nil
	}
	if err := s.retry(ctx, "widen the table's schema", func() error {
		_, err := w.WidenFields(ctx, s.regFields)
		return err
	}); err != nil {
		return false, err
	}
	s.fieldsPending = false
	s.log.Info("table schema widened to the writer schemas' fields", "table", s.cfg.Table, "columns", len(s.regFields))
	return true, nil
}

// hiveKinds maps the Glue/Hive column types of JSON tables to kinds (the
// time field's timestamp is written from the parsed time).
var hiveKinds = map[string]colKind{"boolean": kindBool, "bigint": kindInt, "double": kindFloat, "string": kindString, "timestamp": kindString}

// iceMisfit explains why obj does not fit the JSON table's columns, or
// returns nil. A value fits a column of its kind or a wider one (an
// integer a double column, anything a string column); null fits any. An
// empty object fits no table, nor does a field named "". With newOK, a
// field that is not a column fits (the flush adds it, iceWiden).
func (s *Sink) iceMisfit(obj map[string]any, newOK bool) error {
	if len(obj) == 0 {
		// As before the table exists, when {} could decide no column.
		return fmt.Errorf("record has no field that can be a column of table %q: %w", s.cfg.Table, stocklake.ErrInvalid)
	}
	for k, v := range obj {
		kind, ok := s.iceKinds[k]
		if !ok {
			if newOK && k != "" {
				continue
			}
			if k != "" && len(s.iceKinds) >= s.cfg.MaxColumns {
				return fmt.Errorf("field %q is not a column of table %q, which has %d columns, the most the sink adds (MaxColumns): %w", k, s.cfg.Table, len(s.iceKinds), stocklake.ErrInvalid)
			}
			return fmt.Errorf("field %q is not a column of table %q (its columns were decided by the first records): %w", k, s.cfg.Table, stocklake.ErrInvalid)
		}
		if k == s.cfg.TimeField {
			continue // route parsed it
		}
		if vk := kindOf(v); widen(kind, vk) != kind {
			return fmt.Errorf("field %q holds a %s, but the table's column is %s: %w", k, hiveTypes[vk], hiveTypes[kind], stocklake.ErrInvalid)
		}
	}
	return nil
}

// iceHasNew tells whether obj has a field that is not a column of the
// JSON table (yet).
func (s *Sink) iceHasNew(obj map[string]any) bool {
	for k := range obj {
		if _, ok := s.iceKinds[k]; !ok {
			return true
		}
	}
	return false
}

// ColumnWidener is a ShapedTable whose JSON tables take new columns
// (iceberg.LazyTable).
type ColumnWidener interface {
	// WidenColumns adds the columns of cols the table lacks (optional:
	// older rows read null), in a new table version, and returns the
	// table's shape after (with columns other sinks added too). Columns
	// the table has keep their types.
	WidenColumns(ctx context.Context, cols []stocklake.Column) (stocklake.TableShape, error)
}

// iceWiden adds to the JSON table a column per field of b's records that
// is not one yet, of the widest kind those records hold (as the first
// batch's columns), before b's files are written. Only records whose
// other fields fit the table count, so a record sent to the dead-letter
// topic adds nothing. Another sink may have added the same field with
// another kind at the same time: the table's kind stays, and iceMisfit
// then sends the records that do not fit it to the dead-letter topic.
func (s *Sink) iceWiden(ctx context.Context, b *batch) error {
	var kinds map[string]colKind
	for _, path := range b.order {
		g := b.groups[path]
		for i, obj := range g.objs {
			if g.recs == nil || g.recs[i] == nil || s.iceMisfit(obj, true) != nil {
				continue // fits the columns (no new field), or a dead letter
			}
			for k, v := range obj {
				if _, ok := s.iceKinds[k]; !ok {
					if kinds == nil {
						kinds = map[string]colKind{}
					}
					kinds[k] = widen(kinds[k], kindOf(v))
				}
			}
		}
	}
	if room := s.cfg.MaxColumns - len(s.iceKinds); len(kinds) > room {
		// The fields most records have fit; records with the others are
		// dead letters (iceMisfit says why).
		names := byUse(b, kinds)
		for _, k := range names[max(room, 0):] {
			delete(kinds, k)
		}
		s.log.Warn("table at its column limit: records with new fields beyond it go to the dead-letter topic", "table", s.cfg.Table,
			"max_columns", s.cfg.MaxColumns, "fields_refused", len(names)-len(kinds))
	}
	if len(kinds) == 0 {
		return nil
	}
	w, ok := s.cfg.Committer.(ColumnWidener)
	if !ok {
		return nil // records with new fields are dead letters
	}
	cols := jsonColumns(kinds, s.cfg.TimeField)
	var shape stocklake.TableShape
	if err := s.retry(ctx, "widen the table's columns", func() (err error) {
		shape, err = w.WidenColumns(ctx, cols)
		return err
	}); err != nil {
		return err
	}
	for _, c := range shape.Columns {
		s.iceKinds[c.Name] = hiveKinds[c.Type]
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	s.log.Info("table widened to new fields", "table", s.cfg.Table, "fields", names, "columns", len(shape.Columns))
	return nil
}

// byUse returns the fields of kinds, those most records of b have first
// (then by name), for MaxColumns to keep: a feed whose keys are data has
// each of those in few records.
func byUse(b *batch, kinds map[string]colKind) []string {
	uses := make(map[string]int, len(kinds))
	for _, path := range b.order {
		for _, obj := range b.groups[path].objs {
			for k := range obj {
				if _, ok := kinds[k]; ok {
					uses[k]++
				}
			}
		}
	}
	names := slices.Collect(maps.Keys(kinds))
	slices.SortFunc(names, func(x, y string) int {
		if uses[x] != uses[y] {
			return uses[y] - uses[x]
		}
		return strings.Compare(x, y)
	})
	return names
}

// jsonColumns are the columns of fields of kinds, sorted by name (the
// time field a timestamp).
func jsonColumns(kinds map[string]colKind, timeField string) []stocklake.Column {
	cols := make([]stocklake.Column, 0, len(kinds))
	for k, kind := range kinds {
		typ := hiveTypes[kind]
		if k == timeField {
			typ = "timestamp"
		}
		cols = append(cols, stocklake.Column{Name: k, Type: typ})
	}
	slices.SortFunc(cols, func(a, b stocklake.Column) int { return strings.Compare(a.Name, b.Name) })
	return cols
}

// iceDecideColumns creates the JSON table from the first batch to flush
// (a column per field its objects have, of the widest kind seen) unless
// another sink did, adds the fields of b that are not columns yet
// (iceWiden), then sends the records of b that do not fit the table's
// columns to the dead-letter topic. ok is false when there is still no
// table: the batch holds no object to decide columns from.
func (s *Sink) iceDecideColumns(ctx context.Context, ps *partState, b *batch) (ok bool, err error) {
	if s.iceKinds == nil {
		kinds := map[string]colKind{}
		for _, path := range b.order {
			for k, v := range inferKinds(b.groups[path].objs) {
				kinds[k] = widen(kinds[k], v)
			}
		}
		delete(kinds, "") // not a column name: records with it are misfits
		if len(kinds) == 0 {
			return false, nil
		}
		for _, f := range s.iceIdentity() {
			if _, ok := kinds[f]; !ok && f != s.cfg.TimeField {
				// A partition field no record of the batch has: a column
				// (of text, as Hive partition keys are), null so far.
				kinds[f] = kindNull
			}
		}
		if len(kinds) > s.cfg.MaxColumns {
			// The time and partition fields, then those most records
			// have: the batch's records with others are dead letters
			// (iceWiden adds none past the limit).
			keep := map[string]bool{s.cfg.TimeField: true}
			for _, f := range s.iceIdentity() {
				keep[f] = true
			}
			for _, k := range byUse(b, kinds) {
				if len(keep) >= s.cfg.MaxColumns {
					break
				}
				keep[k] = true
			}
			for k := range kinds {
				if !keep[k] {
					delete(kinds, k)
				}
			}
		}
		shape := stocklake.TableShape{Schema: SchemaJSON, TimeField: s.cfg.TimeField, Columns: jsonColumns(kinds, s.cfg.TimeField)}
		if s.beforeDecide != nil {
			s.beforeDecide()
		}
		if err := s.decideShape(ctx, shape); err != nil {
			return false, err
		}
		if fp, ok := s.cfg.Committer.(FieldPartitioned); ok && !slices.Equal(fp.PartitionFields(), s.iceFields) {
			// Another sink created the table with other identity fields:
			// this batch was grouped by these. A restart follows the table.
			return false, fmt.Errorf("table %q was created by another sink partitioned by the fields %q, while this sink grouped its records by %q; restart this sink to follow the table: %w",
				s.cfg.Table, fp.PartitionFields(), s.iceFields, stocklake.ErrUnavailable)
		}
	}
	if err := s.iceWiden(ctx, b); err != nil {
		return false, err
	}
	_, rowPart := s.cfg.Committer.(RowPartitioned)
	rowPart = rowPart && len(s.iceIdentity()) > 0
	for _, path := range b.order {
		g := b.groups[path]
		if g.recs == nil {
			continue
		}
		kept := g.objs[:0]
		var partErr error
		for i, obj := range g.objs {
			var reason error
			if g.recs[i] != nil {
				reason = s.iceMisfit(obj, false)
			}
			if reason == nil && rowPart {
				// Every record of the group is in one table partition: its
				// folder names the group's file.
				if g.part == "" && partErr == nil {
					g.part, partErr = s.iceRowPath(g.sample.Time, obj)
				}
				reason = partErr
			}
			if reason != nil && g.recs[i] == nil {
				// route found the record fitting, and its partition folder
				// usable: the table cannot have changed that.
				return false, fmt.Errorf("a record of the batch group from offset %d: %w (after route accepted it: report this bug)", g.first, reason)
			}
			if reason != nil {
				if s.deadLetter(ps, b, g.recs[i], reason) {
					s.grow(b, deadLetterSize(b.dead[len(b.dead)-1]))
				}
				continue
			}
			kept = append(kept, obj)
		}
		clear(g.objs[len(kept):])
		g.objs, g.recs = kept, nil
	}
	return true, nil
}
