package analyze

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
)

// Checkpoint records on the state topic. Each holds one chunk of a
// zstd-compressed stream.Engine partition snapshot; a snapshot larger than
// ChunkBytes is split over several records of one transaction.
const (
	// StateContentType is the "content-type" header of checkpoint records.
	StateContentType = "application/vnd.stocklake.state.v1+zstd"
	// HeaderPartition is the input partition the snapshot is of.
	HeaderPartition = "stocklake-partition"
	// HeaderOffset is the input offset the snapshot is at: the next offset
	// to process, the very offset committed in the same transaction; -1
	// before any commit.
	HeaderOffset = "stocklake-offset"
	// HeaderMaxTS is the partition's greatest event time, µs ("" if none).
	HeaderMaxTS = "stocklake-max-ts"
	// HeaderChunk is "i/n": this record is chunk i (from 0) of n.
	HeaderChunk = "stocklake-chunk"
	// HeaderSnapshot identifies one snapshot across its chunks.
	HeaderSnapshot = "stocklake-snapshot"
	// ChunkBytes is the most compressed bytes one checkpoint record holds,
	// under Kafka's default 1 MB message.max.bytes with room for headers.
	ChunkBytes = 900 << 10
	// maxStateBytes bounds a decompressed snapshot.
	maxStateBytes = 4 << 30
)

const noTime = -1 << 63

// checkpoint is one input partition's committed engine state.
type checkpoint struct {
	partition int32
	offset    int64  // next input offset; -1 none
	maxTs     int64  // µs; noTime if none
	state     []byte // stream.Engine.SnapshotPartition, uncompressed
}

// stateKey names a chunk: input topic, partition and chunk index. Compaction
// keeps the latest record of each key, so the newest snapshot's chunks
// survive (stale chunks beyond its count are ignored by their snapshot ID).
func stateKey(in string, p int32, chunk int) []byte {
	return []byte(in + "/" + strconv.Itoa(int(p)) + "/" + strconv.Itoa(chunk))
}

// checkpointRecords encodes cp as state-topic records for partition sp.
func (a *Analyzer) checkpointRecords(cp *checkpoint, sp int32, id string) []*kgo.Record {
	z := a.enc.EncodeAll(cp.state, nil)
	n := max(1, (len(z)+ChunkBytes-1)/ChunkBytes)
	maxTS := ""
	if cp.maxTs != noTime {
		maxTS = strconv.FormatInt(cp.maxTs, 10)
	}
	recs := make([]*kgo.Record, 0, n)
	for i := range n {
		chunk := z[i*ChunkBytes : min(len(z), (i+1)*ChunkBytes)]
		recs = append(recs, &kgo.Record{
			Topic: a.cfg.StateTopic, Partition: sp, Key: stateKey(a.cfg.In, cp.partition, i), Value: chunk,
			Headers: []kgo.RecordHeader{
				{Key: "content-type", Value: []byte(StateContentType)},
				{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(cp.partition)))},
				{Key: HeaderOffset, Value: []byte(strconv.FormatInt(cp.offset, 10))},
				{Key: HeaderMaxTS, Value: []byte(maxTS)},
				{Key: HeaderChunk, Value: []byte(strconv.Itoa(i) + "/" + strconv.Itoa(n))},
				{Key: HeaderSnapshot, Value: []byte(id)},
			},
		})
	}
	return recs
}

// assembler collects the latest complete snapshot of each wanted input
// partition from state-topic records read in offset order.
type assembler struct {
	in      string
	want    map[int32]int64
	dec     *zstd.Decoder
	partial map[int32]*partialSnap
	latest  map[int32]*checkpoint
	seen    map[int32]bool // any chunk of the partition was read
	err     error
}

type partialSnap struct {
	id     string
	n      int
	got    int
	chunks [][]byte
	cp     checkpoint
}

func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func (as *assembler) add(r *kgo.Record) {
	if !strings.HasPrefix(string(r.Key), as.in+"/") {
		return
	}
	ps, _ := header(r, HeaderPartition)
	p64, err := strconv.ParseInt(ps, 10, 32)
	if err != nil {
		return
	}
	p := int32(p64)
	if _, ok := as.want[p]; !ok {
		return
	}
	as.seen[p] = true
	id, _ := header(r, HeaderSnapshot)
	chunk, _ := header(r, HeaderChunk)
	is, ns, ok := strings.Cut(chunk, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n || n > 1<<16 {
		return
	}
	cur := as.partial[p]
	if cur == nil || cur.id != id || cur.n != n {
		offs, _ := header(r, HeaderOffset)
		off, err := strconv.ParseInt(offs, 10, 64)
		if err != nil {
			return
		}
		maxTs := int64(noTime)
		if s, _ := header(r, HeaderMaxTS); s != "" {
			if maxTs, err = strconv.ParseInt(s, 10, 64); err != nil {
				return
			}
		}
		cur = &partialSnap{id: id, n: n, chunks: make([][]byte, n), cp: checkpoint{partition: p, offset: off, maxTs: maxTs}}
		as.partial[p] = cur
	}
	if cur.chunks[i] == nil {
		cur.chunks[i] = r.Value
		cur.got++
	}
	if cur.got < cur.n {
		return
	}
	delete(as.partial, p)
	var z []byte
	for _, c := range cur.chunks {
		z = append(z, c...)
	}
	state, err := as.dec.DecodeAll(z, nil)
	if err != nil {
		as.err = fmt.Errorf("checkpoint of %s partition %d (snapshot %s) does not decompress: %w: %w", as.in, p, cur.id, err, stocklake.ErrInvalid)
		return
	}
	cur.cp.state = state
	as.latest[p] = &cur.cp
}

// readCheckpoints returns the committed checkpoint of each input partition
// in want (partition -> committed input offset, -1 for none) whose offset
// is that committed offset. A partition without a commit, or whose latest
// checkpoint is past its commit (offsets reset by hand), gets none: it starts
// empty. Checkpoints behind the commit mean the transaction's markers have
// not reached the state topic yet; it waits for them up to RestoreTimeout.
func (a *Analyzer) readCheckpoints(ctx context.Context, want map[int32]int64) (map[int32]*checkpoint, error) {
	out := map[int32]*checkpoint{}
	need := map[int32]int64{}
	for p, c := range want {
		if c >= 0 {
			need[p] = c
		}
	}
	if len(need) == 0 {
		return out, nil
	}
	adm := kadm.NewClient(a.admin)
	deadline := time.Now().Add(a.cfg.RestoreTimeout)
	window := int64(256)
	for {
		lso, err := adm.ListCommittedOffsets(ctx, a.cfg.StateTopic)
		if err == nil {
			err = lso.Error()
		}
		var starts kadm.ListedOffsets
		if err == nil {
			starts, err = adm.ListStartOffsets(ctx, a.cfg.StateTopic)
			if err == nil {
				err = starts.Error()
			}
		}
		if err != nil {
			return nil, fmt.Errorf("list offsets of state topic %s: %w: %w", a.cfg.StateTopic, err, stocklake.ErrUnavailable)
		}
		ranges := map[int32][2]int64{} // state partition -> [from, end)
		whole := true
		for p := range need {
			sp := p % a.statePartitions
			end, ok := lso.Lookup(a.cfg.StateTopic, sp)
			if !ok {
				return nil, fmt.Errorf("state topic %s has no partition %d: %w", a.cfg.StateTopic, sp, stocklake.ErrUnavailable)
			}
			start, _ := starts.Lookup(a.cfg.StateTopic, sp)
			from := max(start.Offset, end.Offset-window)
			if from > start.Offset {
				whole = false
			}
			ranges[sp] = [2]int64{from, end.Offset}
		}
		as := &assembler{in: a.cfg.In, want: need, dec: a.dec, partial: map[int32]*partialSnap{}, latest: map[int32]*checkpoint{}, seen: map[int32]bool{}}
		if err := a.scanState(ctx, ranges, as); err != nil {
			return nil, err
		}
		if as.err != nil {
			return nil, as.err
		}
		missing := false
		widen := false
		for p, c := range need {
			cp := as.latest[p]
			switch {
			case cp != nil && cp.offset == c:
				out[p] = cp
				delete(need, p)
			case cp != nil && cp.offset > c:
				a.log.Warn("the latest checkpoint is past the committed offset (were the group's offsets reset?); starting the partition with empty state",
					"partition", p, "committed", c, "checkpoint_offset", cp.offset)
				delete(need, p)
			case cp == nil && !whole:
				widen = true
			default:
				missing = true
			}
		}
		if len(need) == 0 {
			return out, nil
		}
		if widen {
			window *= 16
			continue
		}
		if missing && time.Now().After(deadline) {
			var ps []string
			for p, c := range need {
				ps = append(ps, fmt.Sprintf("%d@%d", p, c))
			}
			return nil, fmt.Errorf("state topic %s has no checkpoint for input partition@offset %s that group %s committed; "+
				"was the state topic deleted? Reset the group's offsets to start over (state is lost): %w",
				a.cfg.StateTopic, strings.Join(ps, ","), a.cfg.Group, stocklake.ErrUnavailable)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// scanState reads the state topic's partitions over [from, end) with
// read_committed isolation into as. Transaction markers are kept so the
// scan knows when it has reached end (the last stable offset).
func (a *Analyzer) scanState(ctx context.Context, ranges map[int32][2]int64, as *assembler) error {
	offsets := map[int32]kgo.Offset{}
	remaining := map[int32]int64{}
	for sp, r := range ranges {
		if r[0] < r[1] {
			offsets[sp] = kgo.NewOffset().At(r[0])
			remaining[sp] = r[1]
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	cl, err := a.cfg.Kafka.NewClient(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{a.cfg.StateTopic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	quiet := 0
	for len(remaining) > 0 {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fetches.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = err
			}
		})
		if ferr != nil {
			return fmt.Errorf("read state topic %s: %w: %w", a.cfg.StateTopic, ferr, stocklake.ErrUnavailable)
		}
		if fetches.NumRecords() == 0 {
			// The end was compacted away or holds no record we can see.
			if quiet++; quiet >= 4 {
				return nil
			}
			continue
		}
		quiet = 0
		fetches.EachRecord(func(r *kgo.Record) {
			end, ok := remaining[r.Partition]
			if !ok {
				return
			}
			if r.Offset < end && !r.Attrs.IsControl() {
				as.add(r)
			}
			if r.Offset >= end-1 {
				delete(remaining, r.Partition)
			}
		})
	}
	return nil
}
