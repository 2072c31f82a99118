package sink

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/stocklake/stocklake"
)

// HiveCoverage is what Coverage found in a Hive table's objects besides
// the offsets.
type HiveCoverage struct {
	// Objects counts the table's data objects read; Batches the sink
	// batches they belong to.
	Objects, Batches int
	// Unknown are data objects that carry no batch record (JSON lines,
	// objects written by another program or by a sink older than verify):
	// their offsets are unknown.
	Unknown []string
}

// Coverage reads the Kafka offsets a Hive table accounts for: every
// Parquet object the sink writes records its batch in its footer
// (stocklake.ParquetKeyBatches: the batch's offsets [first, last], how many
// objects it wrote, and which one this is), and a compaction's merged
// objects carry the records of the objects they replaced. Coverage reads
// the footers of the objects a reader of the table counts (the table's
// folders, minus superseded objects, plus the merged objects of compacted
// partitions; see stocklake.LoadCompactionView), and reports each batch's
// range once. A batch some of whose objects are gone is recorded as
// missing; a batch object found in two lake objects is an overlap. progress,
// if not nil, is called as footers are read.
func Coverage(ctx context.Context, store stocklake.ObjectStore, table string, progress func(done, total int)) (*stocklake.OffsetCoverage, HiveCoverage, error) {
	var hc HiveCoverage
	folder := table + "/"
	view, err := stocklake.LoadCompactionView(ctx, store, folder)
	if err != nil {
		return nil, hc, err
	}
	objs, err := store.List(ctx, folder)
	if err != nil {
		return nil, hc, fmt.Errorf("list table %s: %w", table, err)
	}
	var data []stocklake.ObjectInfo
	for _, o := range objs {
		dir, name := "", o.Key
		if i := strings.LastIndexByte(o.Key, '/'); i >= 0 {
			dir, name = o.Key[:i+1], o.Key[i+1:]
		}
		if o.Size == 0 || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") {
			continue
		}
		if _, merged := view.Relocated[dir]; !merged && (view.Hidden[o.Key] || hiddenFolder(strings.TrimPrefix(dir, folder))) {
			continue
		}
		data = append(data, o)
	}
	hc.Objects = len(data)
	parts := make([][]stocklake.BatchPart, len(data))
	var done int
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, o := range data {
		g.Go(func() error {
			if strings.HasSuffix(o.Key, ".parquet") {
				p, err := footerBatches(gctx, store, o)
				if err != nil {
					return err
				}
				parts[i] = p
			}
			return nil
		})
		if progress != nil && (i+1)%64 == 0 {
			done = i + 1
			progress(done, len(data))
		}
	}
	if err := g.Wait(); err != nil {
		return nil, hc, err
	}
	if progress != nil {
		progress(len(data), len(data))
	}

	type batchID struct {
		tp          stocklake.TopicPartition
		first, last int64
	}
	type batchSeen struct {
		objects int
		holders map[int64][]string // the batch's object -> lake objects holding it
	}
	batches := map[batchID]*batchSeen{}
	for i, ps := range parts {
		if len(ps) == 0 {
			hc.Unknown = append(hc.Unknown, data[i].Key)
			continue
		}
		for _, p := range ps {
			if err := checkBatchPart(p); err != nil {
				return nil, hc, fmt.Errorf("%s: %w", data[i].Key, err)
			}
			id := batchID{stocklake.TopicPartition{TopicID: p.TopicID, Partition: p.Partition}, p.First, p.Last}
			b := batches[id]
			if b == nil {
				b = &batchSeen{objects: p.Objects, holders: map[int64][]string{}}
				batches[id] = b
			}
			b.objects = max(b.objects, p.Objects)
			b.holders[p.Object] = append(b.holders[p.Object], data[i].Key)
		}
	}
	hc.Batches = len(batches)
	ids := make([]batchID, 0, len(batches))
	for id := range batches {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b batchID) int {
		return cmp.Or(cmp.Compare(a.tp.TopicID, b.tp.TopicID), cmp.Compare(a.tp.Partition, b.tp.Partition), cmp.Compare(a.first, b.first), cmp.Compare(a.last, b.last))
	})
	cov := stocklake.NewOffsetCoverage()
	for _, id := range ids {
		b := batches[id]
		r := stocklake.OffsetRange{TopicPartition: id.tp, Start: id.first, End: id.last + 1}
		objects := slices.Sorted(func(yield func(int64) bool) {
			for o := range b.holders {
				if !yield(o) {
					return
				}
			}
		})
		cov.Add(r, fmt.Sprintf("batch [%d, %d] (%s)", id.first, id.last, b.holders[objects[0]][0]))
		for _, o := range objects {
			if h := b.holders[o]; len(h) > 1 {
				// The same rows twice: once per extra holder.
				for _, k := range h[1:] {
					cov.Add(r, fmt.Sprintf("batch [%d, %d] object %d again (%s)", id.first, id.last, o, k))
				}
			}
		}
		if len(objects) < b.objects {
			cov.Missing(id.tp, stocklake.MissingPart{Start: r.Start, End: r.End,
				Reason: fmt.Sprintf("the batch wrote %d objects, %d are in the table", b.objects, len(objects))})
		}
	}
	return cov, hc, nil
}

// checkBatchPart refuses a batch record the sink cannot have written: one
// whose object is not among the batch's offsets, or whose offsets or
// object count are impossible. Counted as it says, it could hide a lost
// object (an object number outside the batch standing in for it) or wrap
// an offset around.
func checkBatchPart(p stocklake.BatchPart) error {
	if p.TopicID == "" || p.Partition < 0 || p.First < 0 || p.Last < p.First || p.Last == math.MaxInt64 ||
		p.Objects < 1 || int64(p.Objects)-1 > p.Last-p.First || p.Object < p.First || p.Object > p.Last {
		return fmt.Errorf("malformed %s batch record %+v: want a topic ID, 0 <= first <= object <= last and between one object and one per offset: %w",
			stocklake.ParquetKeyBatches, p, stocklake.ErrInvalid)
	}
	return nil
}

// hiddenFolder reports whether a folder path (relative to the table)
// has a segment starting with '_' or '.', which readers skip.
func hiddenFolder(rel string) bool {
	for seg := range strings.SplitSeq(rel, "/") {
		if strings.HasPrefix(seg, "_") || strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

// footerBatches reads the batch records from the footer of a Parquet
// object, with ranged reads.
func footerBatches(ctx context.Context, store stocklake.ObjectStore, o stocklake.ObjectInfo) ([]stocklake.BatchPart, error) {
	f, err := parquet.OpenFile(&rangeReader{ctx: ctx, store: store, key: o.Key}, o.Size,
		parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.SkipMagicBytes(true))
	if err != nil {
		return nil, fmt.Errorf("read the Parquet footer of %s: %w", o.Key, err)
	}
	v, ok := f.Lookup(stocklake.ParquetKeyBatches)
	if !ok {
		return nil, nil
	}
	parts, err := stocklake.DecodeBatchParts(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Key, err)
	}
	return parts, nil
}

// rangeReader is an io.ReaderAt over an object, one ranged read per call.
type rangeReader struct {
	ctx   context.Context
	store stocklake.ObjectStore
	key   string
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	b, err := r.store.GetRange(r.ctx, r.key, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	n := copy(p, b)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
