package stocklake

import (
	"math"
	"reflect"
	"testing"
)

func covTP(p int32) TopicPartition { return TopicPartition{TopicID: "T", Partition: p} }

func covRange(p int32, s, e int64) OffsetRange {
	return OffsetRange{TopicPartition: covTP(p), Start: s, End: e}
}

func TestOffsetCoverageArithmetic(t *testing.T) {
	const huge = math.MaxInt64 - 10
	cases := []struct {
		name     string
		ranges   []OffsetRange
		covered  []OffsetSpan
		gaps     []OffsetSpan
		overlaps []OffsetSpan
		ok       bool
	}{
		{"adjacent", []OffsetRange{covRange(0, 10, 20), covRange(0, 0, 10), covRange(0, 20, 21)},
			[]OffsetSpan{{0, 21}}, nil, nil, true},
		{"overlapping", []OffsetRange{covRange(0, 0, 10), covRange(0, 5, 15)},
			[]OffsetSpan{{0, 15}}, nil, []OffsetSpan{{5, 10}}, false},
		{"nested", []OffsetRange{covRange(0, 0, 100), covRange(0, 10, 20), covRange(0, 100, 110)},
			[]OffsetSpan{{0, 110}}, nil, []OffsetSpan{{10, 20}}, false},
		{"duplicate", []OffsetRange{covRange(0, 0, 10), covRange(0, 0, 10)},
			[]OffsetSpan{{0, 10}}, nil, []OffsetSpan{{0, 10}}, false},
		{"gap", []OffsetRange{covRange(0, 0, 10), covRange(0, 12, 20)},
			[]OffsetSpan{{0, 10}, {12, 20}}, []OffsetSpan{{10, 12}}, nil, false},
		{"leading gap unchecked", []OffsetRange{covRange(0, 5, 10)},
			[]OffsetSpan{{5, 10}}, []OffsetSpan{{0, 5}}, nil, true},
		{"empty ranges ignored", []OffsetRange{covRange(0, 0, 10), covRange(0, 3, 3), covRange(0, 10, 20)},
			[]OffsetSpan{{0, 20}}, nil, nil, true},
		{"huge offsets", []OffsetRange{covRange(0, 0, huge-5), covRange(0, huge-5, huge), covRange(0, huge+1, math.MaxInt64)},
			[]OffsetSpan{{0, huge}, {huge + 1, math.MaxInt64}}, []OffsetSpan{{huge, huge + 1}}, nil, false},
		{"gap and overlap after it", []OffsetRange{covRange(0, 0, 10), covRange(0, 20, 30), covRange(0, 25, 26)},
			[]OffsetSpan{{0, 10}, {20, 30}}, []OffsetSpan{{10, 20}}, []OffsetSpan{{25, 26}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewOffsetCoverage()
			for i, r := range tc.ranges {
				c.Add(r, string(rune('a'+i)))
			}
			rep := c.Report(CoverageFacts{})
			if len(rep.Partitions) != 1 {
				t.Fatalf("partitions: %+v", rep.Partitions)
			}
			p := rep.Partitions[0]
			if !reflect.DeepEqual(p.Covered, tc.covered) {
				t.Errorf("covered %v, want %v", p.Covered, tc.covered)
			}
			var gaps, overlaps []OffsetSpan
			for _, g := range p.Gaps {
				gaps = append(gaps, g.OffsetSpan)
			}
			for _, o := range p.Overlaps {
				overlaps = append(overlaps, o.OffsetSpan)
			}
			if !reflect.DeepEqual(gaps, tc.gaps) || !reflect.DeepEqual(overlaps, tc.overlaps) {
				t.Errorf("gaps %v overlaps %v, want %v %v", gaps, overlaps, tc.gaps, tc.overlaps)
			}
			if p.OK != tc.ok || rep.OK != tc.ok {
				t.Errorf("ok %v/%v, want %v: %+v", p.OK, rep.OK, tc.ok, p)
			}
		})
	}
}

func TestOffsetCoverageOverlapSources(t *testing.T) {
	c := NewOffsetCoverage()
	c.Add(covRange(0, 0, 10), "snap-1")
	c.Add(covRange(0, 10, 20), "snap-2")
	c.Add(covRange(0, 15, 18), "snap-3")
	p := c.Report(CoverageFacts{}).Partitions[0]
	if len(p.Overlaps) != 1 || !reflect.DeepEqual(p.Overlaps[0].Sources, []string{"snap-2", "snap-3"}) {
		t.Fatalf("overlaps %+v", p.Overlaps)
	}
}

func TestOffsetCoverageExplanations(t *testing.T) {
	c := NewOffsetCoverage()
	c.Add(covRange(0, 100, 110), "a")
	c.Add(covRange(0, 113, 120), "b") // 110..112 are dead letters
	c.Add(covRange(0, 125, 130), "c") // 120..124: only 121 is a dead letter
	c.Add(covRange(1, 50, 60), "d")   // partition 1 starts at its log start
	c.Add(covRange(2, 0, 5), "e")
	facts := CoverageFacts{
		LogStart:    map[TopicPartition]int64{covTP(0): 90, covTP(1): 50, covTP(2): 0},
		DeadLetters: map[TopicPartition][]int64{covTP(0): {112, 110, 111, 121, 111, 95}},
	}
	facts.SortDeadLetters()
	rep := c.Report(facts)
	if rep.OK || !rep.RetentionChecked || !rep.DeadLettersChecked {
		t.Fatalf("report %+v", rep)
	}
	p0 := rep.Partitions[0]
	want := []OffsetGap{
		// 0..89 retention, 90..99 not explained except 95.
		{OffsetSpan: OffsetSpan{0, 100}, Retention: 90, DeadLetters: 1, Leading: true},
		{OffsetSpan: OffsetSpan{110, 113}, DeadLetters: 3, Explained: true},
		{OffsetSpan: OffsetSpan{120, 125}, DeadLetters: 1},
	}
	if !reflect.DeepEqual(p0.Gaps, want) {
		t.Errorf("gaps %+v\nwant %+v", p0.Gaps, want)
	}
	p1 := rep.Partitions[1]
	if !p1.OK || len(p1.Gaps) != 1 || !p1.Gaps[0].Explained || p1.Gaps[0].Retention != 50 {
		t.Errorf("partition 1: %+v", p1)
	}
	if p2 := rep.Partitions[2]; !p2.OK || len(p2.Gaps) != 0 {
		t.Errorf("partition 2: %+v", p2)
	}
	// Without brokers, a leading gap is reported as unchecked, not failed.
	c2 := NewOffsetCoverage()
	c2.Add(covRange(1, 50, 60), "d")
	r2 := c2.Report(CoverageFacts{})
	if g := r2.Partitions[0].Gaps; !r2.OK || len(g) != 1 || !g[0].Unchecked || g[0].Explained {
		t.Errorf("unchecked leading gap: %+v", r2)
	}
}

func TestOffsetCoverageExpiredAndCommitted(t *testing.T) {
	c := NewOffsetCoverage()
	tp := covTP(0)
	c.ExpiredUpTo(tp, 500)
	c.Add(covRange(0, 500, 600), "s1")
	c.Committed(tp, 600)
	p := c.Report(CoverageFacts{}).Partitions[0]
	if !p.OK || len(p.Gaps) != 0 || p.ExpiredUpTo == nil || *p.ExpiredUpTo != 500 {
		t.Fatalf("expired baseline: %+v", p)
	}
	// A range reaching below the expired baseline overlaps it.
	c.Add(covRange(0, 450, 460), "s0")
	if p := c.Report(CoverageFacts{}).Partitions[0]; p.OK || len(p.Overlaps) != 1 || p.Overlaps[0].Sources[0] != "expired snapshots" {
		t.Fatalf("overlap with expired: %+v", p)
	}
	// Committed past the ranges is a trailing gap; before them, data
	// beyond the committed offset.
	c3 := NewOffsetCoverage()
	c3.Add(covRange(0, 0, 10), "s1")
	c3.Committed(tp, 15)
	if p := c3.Report(CoverageFacts{}).Partitions[0]; p.OK || len(p.Gaps) != 1 || p.Gaps[0].OffsetSpan != (OffsetSpan{10, 15}) {
		t.Fatalf("trailing gap: %+v", p)
	}
	c4 := NewOffsetCoverage()
	c4.Add(covRange(0, 0, 10), "s1")
	c4.Committed(tp, 8)
	if p := c4.Report(CoverageFacts{}).Partitions[0]; p.OK || p.BeyondCommitted == nil || *p.BeyondCommitted != (OffsetSpan{8, 10}) {
		t.Fatalf("beyond committed: %+v", p)
	}
	// A missing part fails the partition.
	c5 := NewOffsetCoverage()
	c5.Add(covRange(0, 0, 10), "o1")
	c5.Missing(tp, MissingPart{Start: 0, End: 10, Reason: "1 of 2 objects"})
	if rep := c5.Report(CoverageFacts{}); rep.OK || len(rep.Partitions[0].Missing) != 1 {
		t.Fatalf("missing: %+v", rep)
	}
}
