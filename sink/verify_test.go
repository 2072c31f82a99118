package sink

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
)

// TestCoverageOfSinkTable: a table the sink wrote is complete by its
// objects' batch records; deleting the only object of a batch is found as
// exactly that batch's gap, deleting one object of a two-object batch as
// that batch missing, and a copy of an object as exactly that overlap.
func TestCoverageOfSinkTable(t *testing.T) {
	ctx := context.Background()
	kc := newCluster(t, "ticks")
	ticks := testTicks(20_000) // two event hours: some batches write two objects
	produceTicks(t, kc, "ticks", ticks)
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runSinkUntil(t, Config{Kafka: kc, Topic: "ticks", Store: st, MaxRows: 700, FlushInterval: time.Hour},
		func(s *Sink) bool { return s.Stats().Records.Load() == int64(len(ticks)) }); err != nil {
		t.Fatal(err)
	}
	cov, hc, err := Coverage(ctx, st, "ticks", nil)
	if err != nil {
		t.Fatal(err)
	}
	rep := cov.Report(stocklake.CoverageFacts{})
	if !rep.OK || len(rep.Partitions) < 2 || len(hc.Unknown) != 0 {
		t.Fatalf("clean table: %+v %+v", rep, hc)
	}
	var total int64
	for _, p := range rep.Partitions {
		if len(p.Covered) != 1 || p.Covered[0].Start != 0 || len(p.Gaps) != 0 {
			t.Fatalf("partition %d: %+v", p.Partition, p)
		}
		total += p.Covered[0].Len()
	}
	if total != int64(len(ticks)) {
		t.Fatalf("covered %d offsets, produced %d", total, len(ticks))
	}

	// Find a one-object batch in the middle of a partition and a
	// two-object batch, by their footers.
	objs, err := st.List(ctx, "ticks/")
	if err != nil {
		t.Fatal(err)
	}
	type found struct {
		key  string
		part stocklake.BatchPart
	}
	var single, double *found
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, ".parquet") {
			continue
		}
		parts, err := footerBatches(ctx, st, o)
		if err != nil || len(parts) != 1 {
			t.Fatalf("%s: batch records %v, %v", o.Key, parts, err)
		}
		p := parts[0]
		switch {
		case p.Objects == 1 && p.First > 0 && single == nil && (double == nil || p.Partition != double.part.Partition):
			single = &found{o.Key, p}
		case p.Objects == 2 && double == nil && (single == nil || p.Partition != single.part.Partition):
			double = &found{o.Key, p}
		}
	}
	if single == nil || double == nil {
		t.Fatalf("no one-object and two-object batches in different partitions to plant faults in (%d objects)", len(objs))
	}
	body, err := st.GetRange(ctx, double.key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	copyKey := "ticks/dt=2026-11-27/hour=00/copy.parquet"
	if err := st.Put(ctx, copyKey, strings.NewReader(string(body))); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, single.key); err != nil {
		t.Fatal(err)
	}
	cov, _, err = Coverage(ctx, st, "ticks", nil)
	if err != nil {
		t.Fatal(err)
	}
	rep = cov.Report(stocklake.CoverageFacts{})
	if rep.OK {
		t.Fatalf("planted faults not found: %+v", rep)
	}
	for _, p := range rep.Partitions {
		switch p.Partition {
		case single.part.Partition:
			want := stocklake.OffsetSpan{Start: single.part.First, End: single.part.Last + 1}
			if len(p.Gaps) != 1 || p.Gaps[0].OffsetSpan != want || p.Gaps[0].Explained || len(p.Overlaps) != 0 || len(p.Missing) != 0 {
				t.Errorf("partition %d: want exactly the gap %v: %+v", p.Partition, want, p)
			}
		case double.part.Partition:
			want := stocklake.OffsetSpan{Start: double.part.First, End: double.part.Last + 1}
			if len(p.Overlaps) != 1 || p.Overlaps[0].OffsetSpan != want || len(p.Gaps) != 0 || len(p.Missing) != 0 ||
				!strings.Contains(p.Overlaps[0].Sources[1], "copy.parquet") {
				t.Errorf("partition %d: want exactly the overlap %v: %+v", p.Partition, want, p)
			}
		default:
			if !p.OK {
				t.Errorf("partition %d: %+v", p.Partition, p)
			}
		}
	}

	// One object of the two-object batch gone (and its copy): the batch is
	// reported missing.
	if err := st.Delete(ctx, copyKey); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, double.key); err != nil {
		t.Fatal(err)
	}
	cov, _, err = Coverage(ctx, st, "ticks", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cov.Report(stocklake.CoverageFacts{}).Partitions {
		if p.Partition == double.part.Partition {
			if len(p.Missing) != 1 || p.Missing[0].Start != double.part.First || p.OK {
				t.Errorf("partition %d: want the batch at %d missing: %+v", p.Partition, double.part.First, p)
			}
		}
	}
}

// TestCoverageRefusesMalformedBatchRecords: footers whose batch records
// the sink cannot have written are a clear error naming the object, not a
// verdict. A record whose object lies outside its batch used to count as
// one of the batch's objects, so a two-object batch with one object lost
// and a stray record beside it passed as complete; a last offset of
// MaxInt64 wrapped the range's end around.
func TestCoverageRefusesMalformedBatchRecords(t *testing.T) {
	ctx := context.Background()
	good := stocklake.BatchPart{TopicID: "T", Partition: 0, First: 0, Last: 9, Objects: 2, Object: 0}
	for name, bad := range map[string]stocklake.BatchPart{
		"object outside the batch":  {TopicID: "T", Partition: 0, First: 0, Last: 9, Objects: 2, Object: 99},
		"last offset MaxInt64":      {TopicID: "T", Partition: 0, First: 5, Last: math.MaxInt64, Objects: 1, Object: 5},
		"no objects":                {TopicID: "T", Partition: 0, First: 0, Last: 9, Objects: 0, Object: 0},
		"more objects than offsets": {TopicID: "T", Partition: 0, First: 0, Last: 1, Objects: 3, Object: 0},
		"last before first":         {TopicID: "T", Partition: 0, First: 9, Last: 3, Objects: 1, Object: 9},
		"negative partition":        {TopicID: "T", Partition: -1, First: 0, Last: 9, Objects: 1, Object: 0},
	} {
		t.Run(name, func(t *testing.T) {
			st, err := file.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			putFooter(t, st, "ticks/dt=2026-11-26/a.parquet", good)
			putFooter(t, st, "ticks/dt=2026-11-26/b.parquet", bad)
			cov, _, err := Coverage(ctx, st, "ticks", nil)
			if err == nil {
				t.Fatalf("coverage of a malformed batch record: %+v, want an error", cov.Report(stocklake.CoverageFacts{}))
			}
			if !errors.Is(err, stocklake.ErrInvalid) || !strings.Contains(err.Error(), "b.parquet") {
				t.Errorf("error %v: want ErrInvalid naming b.parquet", err)
			}
		})
	}
}

// putFooter writes a one-row Parquet object whose footer carries parts as
// its batch record.
func putFooter(t *testing.T, st stocklake.ObjectStore, key string, parts ...stocklake.BatchPart) {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[TickRow](&buf, parquet.KeyValueMetadata(stocklake.ParquetKeyBatches, stocklake.EncodeBatchParts(parts)))
	if _, err := w.Write([]TickRow{{Symbol: "X"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(context.Background(), key, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
}
