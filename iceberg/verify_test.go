package iceberg

import (
	"context"
	"testing"

	ice "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/stocklake/stocklake"
)

// plantSnapshot commits a snapshot with the given summary ranges and
// offsets through iceberg-go directly, without the fencing of Commit: what a
// buggy or foreign writer could do.
func plantSnapshot(t *testing.T, tbl *Table, ranges []stocklake.OffsetRange, next map[stocklake.TopicPartition]int64) {
	t.Helper()
	_, err := tbl.commitLoop(context.Background(), "plant", func(_ *table.Table, txn *table.Transaction, props ice.Properties) error {
		props[SummaryRanges] = encodeRanges(ranges)
		props[SummaryOffsets] = encodeOffsets(next)
		return txn.AddFiles(context.Background(), nil, props, true)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func coverageOf(t *testing.T, tbl *Table) stocklake.CoverageReport {
	t.Helper()
	cov, _, _, err := tbl.Coverage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cov.Report(stocklake.CoverageFacts{})
}

// TestCoverageFindsPlantedGapAndOverlap: a table written by Commit is
// complete; snapshots planted past the fencing, one repeating a range and
// one skipping offsets, are found as exactly that overlap and that gap.
func TestCoverageFindsPlantedGapAndOverlap(t *testing.T) {
	ctx := context.Background()
	lake := newTestLake(t)
	tbl := lake.createTicks(t)
	commit := func(name string, rs ...stocklake.OffsetRange) {
		t.Helper()
		f := writeTicks(t, tbl, "ts_day=2026-11-26/"+name+".parquet", ticks(int(rs[0].End-rs[0].Start), 0, name))
		if _, err := tbl.Commit(ctx, []stocklake.LakeFile{f}, rs); err != nil {
			t.Fatal(err)
		}
	}
	commit("a", rng("T", 0, 0, 10), rng("T", 1, 0, 5))
	commit("b", rng("T", 0, 10, 25))
	commit("c", rng("T", 1, 5, 9))
	rep := coverageOf(t, tbl)
	if !rep.OK || len(rep.Partitions) != 2 {
		t.Fatalf("clean table: %+v", rep)
	}
	if p := rep.Partitions[0]; len(p.Covered) != 1 || p.Covered[0] != (stocklake.OffsetSpan{Start: 0, End: 25}) || *p.Committed != 25 {
		t.Fatalf("partition 0: %+v", p)
	}

	// Overlap: partition 0's [20, 25) again; gap: partition 1 skips 9..11.
	plantSnapshot(t, tbl, []stocklake.OffsetRange{rng("T", 0, 20, 25), rng("T", 1, 12, 14)},
		map[stocklake.TopicPartition]int64{tp("T", 0): 25, tp("T", 1): 14})
	rep = coverageOf(t, tbl)
	if rep.OK {
		t.Fatalf("planted faults not found: %+v", rep)
	}
	p0, p1 := rep.Partitions[0], rep.Partitions[1]
	if len(p0.Overlaps) != 1 || p0.Overlaps[0].OffsetSpan != (stocklake.OffsetSpan{Start: 20, End: 25}) || len(p0.Gaps) != 0 {
		t.Errorf("partition 0: want exactly the overlap [20,25): %+v", p0)
	}
	if len(p1.Gaps) != 1 || p1.Gaps[0].OffsetSpan != (stocklake.OffsetSpan{Start: 9, End: 12}) || p1.Gaps[0].Explained || len(p1.Overlaps) != 0 {
		t.Errorf("partition 1: want exactly the gap [9,12): %+v", p1)
	}

	// Offsets advanced by a snapshot without ranges leave a trailing gap.
	plantSnapshot(t, tbl, nil, map[stocklake.TopicPartition]int64{tp("T", 0): 30, tp("T", 1): 14})
	if p := coverageOf(t, tbl).Partitions[0]; len(p.Gaps) != 1 || p.Gaps[0].OffsetSpan != (stocklake.OffsetSpan{Start: 25, End: 30}) {
		t.Errorf("offsets without ranges: %+v", p)
	}
}

// TestCoverageAfterExpiry: once old snapshots are expired their ranges are
// gone; verify reports the offsets below the oldest retained snapshot as
// covered by expired snapshots, not as a gap.
func TestCoverageAfterExpiry(t *testing.T) {
	ctx := context.Background()
	lake := newTestLake(t)
	tbl := lake.createTicks(t)
	for i := range 4 {
		f := writeTicks(t, tbl, "ts_day=2026-11-26/"+string(rune('a'+i))+".parquet", ticks(10, 0, string(rune('a'+i))))
		rs := []stocklake.OffsetRange{rng("T", 0, int64(i*10), int64(i*10+10))}
		if i == 0 {
			rs = append(rs, rng("T", 1, 100, 107)) // partition 1 only in the first, expired, snapshot
		}
		if _, err := tbl.Commit(ctx, []stocklake.LakeFile{f}, rs); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := tbl.ExpireSnapshots(ctx, 0, 2); err != nil || n != 2 {
		t.Fatalf("expire: %d, %v", n, err)
	}
	cov, snaps, expired, err := tbl.Coverage(ctx)
	if err != nil || snaps != 2 || !expired {
		t.Fatalf("coverage: %d snapshots, expired %v, %v", snaps, expired, err)
	}
	rep := cov.Report(stocklake.CoverageFacts{})
	if !rep.OK {
		t.Fatalf("expired history reported as a fault: %+v", rep)
	}
	p0, p1 := rep.Partitions[0], rep.Partitions[1]
	if p0.ExpiredUpTo == nil || *p0.ExpiredUpTo != 20 || len(p0.Gaps) != 0 || p0.Covered[0] != (stocklake.OffsetSpan{Start: 20, End: 40}) {
		t.Errorf("partition 0: want expired up to 20, covered [20,40): %+v", p0)
	}
	if p1.ExpiredUpTo == nil || *p1.ExpiredUpTo != 107 || len(p1.Gaps) != 0 || *p1.Committed != 107 {
		t.Errorf("partition 1: want expired up to 107: %+v", p1)
	}
}
