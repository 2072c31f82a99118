package stocklake

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
)

// OffsetCoverage collects the Kafka offset ranges a lake table accounts for
// (from Iceberg snapshot summaries, or from the sink's Hive objects) and
// works out, per Kafka partition, what is covered, what is missing (gaps)
// and what is covered twice (overlaps): the arithmetic of `stocklake
// verify`. The zero value is not usable: use NewOffsetCoverage.
type OffsetCoverage struct {
	ranges    map[TopicPartition][]sourcedRange
	expired   map[TopicPartition]int64
	committed map[TopicPartition]int64
	missing   map[TopicPartition][]MissingPart
}

type sourcedRange struct {
	start, end int64
	source     string
}

// MissingPart is a piece of a table known to be lost, although the offsets
// around it are accounted for: e.g. one of the objects a Hive batch wrote is
// gone, so the batch's range [Start, End) is not fully in the table.
type MissingPart struct {
	Start  int64  `json:"start"`
	End    int64  `json:"end"`
	Reason string `json:"reason"`
}

// NewOffsetCoverage returns an empty coverage.
func NewOffsetCoverage() *OffsetCoverage {
	return &OffsetCoverage{
		ranges:    map[TopicPartition][]sourcedRange{},
		expired:   map[TopicPartition]int64{},
		committed: map[TopicPartition]int64{},
		missing:   map[TopicPartition][]MissingPart{},
	}
}

// Add records that source (an Iceberg snapshot, a Hive object) accounts
// for the offsets [r.Start, r.End). Empty ranges only make the partition
// known.
func (c *OffsetCoverage) Add(r OffsetRange, source string) {
	c.ranges[r.TopicPartition] = append(c.ranges[r.TopicPartition], sourcedRange{r.Start, r.End, source})
}

// ExpiredUpTo records that the offsets of tp below end were accounted for by
// history that no longer exists (expired Iceberg snapshots): they are not
// gaps, and cannot be checked. The largest end given wins.
func (c *OffsetCoverage) ExpiredUpTo(tp TopicPartition, end int64) {
	if e, ok := c.expired[tp]; !ok || end > e {
		c.expired[tp] = end
	}
	if _, ok := c.ranges[tp]; !ok {
		c.ranges[tp] = nil
	}
}

// Committed records the next offset the table says it has committed for tp
// (an Iceberg table's stocklake.offsets): offsets below it that no range
// covers are gaps, and covered offsets at or past it are reported.
func (c *OffsetCoverage) Committed(tp TopicPartition, next int64) {
	c.committed[tp] = next
	if _, ok := c.ranges[tp]; !ok {
		c.ranges[tp] = nil
	}
}

// Missing records a part of tp's offsets that a range claims but the table
// no longer holds in full. It fails the check like an unexplained gap.
func (c *OffsetCoverage) Missing(tp TopicPartition, m MissingPart) {
	c.missing[tp] = append(c.missing[tp], m)
}

// CoverageFacts are what Kafka says about the offsets a table misses; nil
// maps mean "not checked" (no brokers given).
type CoverageFacts struct {
	// LogStart is the first offset still in each partition's log: offsets
	// below it are gone by retention.
	LogStart map[TopicPartition]int64
	// DeadLetters are, per partition, the offsets whose records went to the
	// dead-letter topic.
	DeadLetters map[TopicPartition][]int64
}

// OffsetSpan is [Start, End) of one partition's offsets.
type OffsetSpan struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// Len is End-Start.
func (s OffsetSpan) Len() int64 { return s.End - s.Start }

// OffsetGap is a span of offsets no range accounts for, and how much of it
// Kafka explains.
type OffsetGap struct {
	OffsetSpan
	// Retention counts offsets below the log start offset (gone from
	// Kafka); DeadLetters counts offsets whose records are in the
	// dead-letter topic.
	Retention   int64 `json:"retention"`
	DeadLetters int64 `json:"dead_letters"`
	// Leading is set for the gap before the first covered offset.
	Leading bool `json:"leading,omitempty"`
	// Unchecked is set for a leading gap that could not be checked against
	// retention (no brokers): it is reported but does not fail the check.
	Unchecked bool `json:"unchecked,omitempty"`
	// Explained is set when retention and dead letters account for every
	// offset of the gap.
	Explained bool `json:"explained"`
}

// OffsetOverlap is a span of offsets accounted for more than once.
type OffsetOverlap struct {
	OffsetSpan
	Sources []string `json:"sources"`
}

// PartitionCoverage is the verdict for one Kafka partition.
type PartitionCoverage struct {
	TopicID   string `json:"topic_id"`
	Partition int32  `json:"partition"`
	// Ranges counts the ranges added.
	Ranges int `json:"ranges"`
	// ExpiredUpTo is set when history below it is gone (expired
	// snapshots): the offsets below it were covered then and are not
	// checked now.
	ExpiredUpTo *int64 `json:"expired_up_to,omitempty"`
	// Committed is the table's committed next offset, when it records one.
	Committed *int64          `json:"committed,omitempty"`
	Covered   []OffsetSpan    `json:"covered"`
	Gaps      []OffsetGap     `json:"gaps"`
	Overlaps  []OffsetOverlap `json:"overlaps"`
	Missing   []MissingPart   `json:"missing"`
	// BeyondCommitted is covered offsets at or past Committed: data the
	// table holds that its offsets do not account for.
	BeyondCommitted *OffsetSpan `json:"beyond_committed,omitempty"`
	OK              bool        `json:"ok"`
}

// CoverageReport is the verdict for a table.
type CoverageReport struct {
	Partitions []PartitionCoverage `json:"partitions"`
	// RetentionChecked and DeadLettersChecked tell whether Kafka was asked.
	RetentionChecked   bool `json:"retention_checked"`
	DeadLettersChecked bool `json:"dead_letters_checked"`
	OK                 bool `json:"ok"`
}

// Report works out the coverage of every partition, explaining gaps with
// facts. A partition fails on any overlap, any missing part, any covered
// offset past its committed offset, and any gap that retention and dead
// letters do not explain, except a leading gap when retention was not
// checked (it is reported as unchecked).
func (c *OffsetCoverage) Report(facts CoverageFacts) CoverageReport {
	rep := CoverageReport{RetentionChecked: facts.LogStart != nil, DeadLettersChecked: facts.DeadLetters != nil, OK: true}
	tps := make([]TopicPartition, 0, len(c.ranges))
	for tp := range c.ranges {
		tps = append(tps, tp)
	}
	for tp := range c.missing {
		if _, ok := c.ranges[tp]; !ok {
			tps = append(tps, tp)
		}
	}
	slices.SortFunc(tps, func(a, b TopicPartition) int {
		return cmp.Or(cmp.Compare(a.TopicID, b.TopicID), cmp.Compare(a.Partition, b.Partition))
	})
	for _, tp := range tps {
		pc := c.partition(tp, facts)
		rep.OK = rep.OK && pc.OK
		rep.Partitions = append(rep.Partitions, pc)
	}
	return rep
}

func (c *OffsetCoverage) partition(tp TopicPartition, facts CoverageFacts) PartitionCoverage {
	pc := PartitionCoverage{TopicID: tp.TopicID, Partition: tp.Partition, Covered: []OffsetSpan{}, Gaps: []OffsetGap{},
		Overlaps: []OffsetOverlap{}, Missing: append([]MissingPart{}, c.missing[tp]...)}
	rs := slices.Clone(c.ranges[tp])
	rs = slices.DeleteFunc(rs, func(r sourcedRange) bool { return r.end <= r.start })
	pc.Ranges = len(c.ranges[tp])
	slices.SortStableFunc(rs, func(a, b sourcedRange) int { return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.end, b.end)) })

	// reach is how far the ranges seen so far cover, reachBy which range
	// got there; known is whether anything is covered yet.
	var (
		reach   int64
		reachBy string
		known   bool
	)
	if e, ok := c.expired[tp]; ok {
		pc.ExpiredUpTo = &e
		reach, reachBy, known = e, "expired snapshots", true
	}
	addCovered := func(s, e int64) {
		if n := len(pc.Covered); n > 0 && pc.Covered[n-1].End == s {
			pc.Covered[n-1].End = e
			return
		}
		pc.Covered = append(pc.Covered, OffsetSpan{s, e})
	}
	for _, r := range rs {
		switch {
		case !known:
			if r.start > 0 {
				pc.Gaps = append(pc.Gaps, gapOf(tp, OffsetSpan{0, r.start}, true, facts))
			}
			addCovered(r.start, r.end)
			reach, reachBy, known = r.end, r.source, true
		case r.start > reach:
			pc.Gaps = append(pc.Gaps, gapOf(tp, OffsetSpan{reach, r.start}, false, facts))
			addCovered(r.start, r.end)
			reach, reachBy = r.end, r.source
		case r.start < reach:
			pc.Overlaps = append(pc.Overlaps, OffsetOverlap{OffsetSpan{r.start, min(r.end, reach)}, []string{reachBy, r.source}})
			if r.end > reach {
				addCovered(reach, r.end)
				reach, reachBy = r.end, r.source
			}
		default: // adjacent
			addCovered(r.start, r.end)
			reach, reachBy = r.end, r.source
		}
	}
	if next, ok := c.committed[tp]; ok {
		pc.Committed = &next
		switch {
		case !known && next > 0:
			pc.Gaps = append(pc.Gaps, gapOf(tp, OffsetSpan{0, next}, true, facts))
		case known && next > reach:
			pc.Gaps = append(pc.Gaps, gapOf(tp, OffsetSpan{reach, next}, false, facts))
		case known && next < reach:
			pc.BeyondCommitted = &OffsetSpan{next, reach}
		}
	}
	pc.OK = len(pc.Overlaps) == 0 && len(pc.Missing) == 0 && pc.BeyondCommitted == nil
	for _, g := range pc.Gaps {
		if !g.Explained && !g.Unchecked {
			pc.OK = false
		}
	}
	return pc
}

// gapOf explains gap g of tp with facts.
func gapOf(tp TopicPartition, g OffsetSpan, leading bool, facts CoverageFacts) OffsetGap {
	out := OffsetGap{OffsetSpan: g, Leading: leading}
	rest := g
	if facts.LogStart != nil {
		if ls, ok := facts.LogStart[tp]; ok && ls > g.Start {
			out.Retention = min(ls, g.End) - g.Start
			rest.Start = min(ls, g.End)
		}
	} else if leading {
		out.Unchecked = true
	}
	if dl := facts.DeadLetters[tp]; len(dl) > 0 && rest.Len() > 0 {
		// dl is sorted and distinct: count those in rest.
		i := sort.Search(len(dl), func(i int) bool { return dl[i] >= rest.Start })
		j := sort.Search(len(dl), func(i int) bool { return dl[i] >= rest.End })
		out.DeadLetters = int64(j - i)
	}
	out.Explained = out.Retention+out.DeadLetters == g.Len()
	if out.Explained {
		out.Unchecked = false
	}
	return out
}

// SortDeadLetters sorts and de-duplicates the offsets of each partition of
// facts.DeadLetters, as Report expects them.
func (f CoverageFacts) SortDeadLetters() {
	for tp, offs := range f.DeadLetters {
		slices.Sort(offs)
		f.DeadLetters[tp] = slices.Compact(offs)
	}
}

// ParquetKeyBatches is the Parquet footer key (key/value metadata) under
// which the sink records, in every Parquet object of a Hive table, the
// Kafka batch the object's rows come from: a JSON array of BatchPart. An
// object that merges others (a compaction) carries the parts of all of
// them. `stocklake verify` reads it to prove a Hive table complete.
const ParquetKeyBatches = "stocklake.batches"

// BatchPart says that an object holds the rows of one object of a sink
// batch: the batch accounted for the offsets [First, Last] of a Kafka
// partition (rows, dead letters and offsets without records) and wrote
// Objects objects, one per lake partition, each named by the offset of its
// first row (Object).
type BatchPart struct {
	TopicID   string `json:"topic_id"`
	Partition int32  `json:"partition"`
	First     int64  `json:"first"`
	Last      int64  `json:"last"`
	Objects   int    `json:"objects"`
	Object    int64  `json:"object"`
}

// EncodeBatchParts is the ParquetKeyBatches value of parts.
func EncodeBatchParts(parts []BatchPart) string {
	b, _ := json.Marshal(parts)
	return string(b)
}

// DecodeBatchParts reads a ParquetKeyBatches value.
func DecodeBatchParts(v string) ([]BatchPart, error) {
	var parts []BatchPart
	if err := json.Unmarshal([]byte(v), &parts); err != nil {
		return nil, fmt.Errorf("%s footer value %.80q: %v: %w", ParquetKeyBatches, v, err, ErrInvalid)
	}
	return parts, nil
}
