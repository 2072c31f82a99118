package sink

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
)

// producePartitioned produces byPart[p] to partition p of topic, all in
// one go.
func producePartitioned(t *testing.T, kc kafka.Config, topic string, byPart [][]stocklake.Tick) {
	t.Helper()
	cl, err := kc.NewClient(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p, ticks := range byPart {
		for _, tk := range ticks {
			recs = append(recs, &kgo.Record{Partition: int32(p), Key: []byte(tk.Symbol), Value: tk.AppendJSON(nil)})
		}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// partitionedTicks makes n ticks for each of parts partitions, with trade
// IDs unique to the prefix and partition.
func partitionedTicks(parts, n int, prefix string) [][]stocklake.Tick {
	out := make([][]stocklake.Tick, parts)
	for p := range out {
		out[p] = dayCrossingTicks(n, fmt.Sprintf("%s-p%d-", prefix, p))
	}
	return out
}

// produceRound produces a round of n ticks to each of the three partitions
// of topic "ticks" (partitionedTicks with prefix) and returns them all.
func produceRound(t *testing.T, kc kafka.Config, n int, prefix string) []stocklake.Tick {
	t.Helper()
	byPart := partitionedTicks(3, n, prefix)
	producePartitioned(t, kc, "ticks", byPart)
	return slices.Concat(byPart...)
}

// rangesOf returns a snapshot's ranges by partition number, as
// "P:[start,end)" text in partition order.
func rangesOf(s stocklake.TableSnapshot) []string {
	rs := slices.Clone(s.Ranges)
	slices.SortFunc(rs, func(a, b stocklake.OffsetRange) int { return int(a.Partition - b.Partition) })
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%d:[%d,%d)", r.Partition, r.Start, r.End)
	}
	return out
}

// TestIcebergSinkOneSnapshotPerFlush lands three rounds of ticks on three
// partitions, each round by a sink that flushes once (when idle: no flush
// is due before, the flush interval being an hour and the batches far
// below MaxRows): the table gets one snapshot per flush, whose ranges and
// offsets cover all three partitions, not one snapshot per partition.
func TestIcebergSinkOneSnapshotPerFlush(t *testing.T) {
	ctx := context.Background()
	kc := newCluster(t, "ticks")
	l := newIceLake(t)
	const rounds, n = 3, 100
	var all []stocklake.Tick
	for round := range rounds {
		all = append(all, produceRound(t, kc, n, fmt.Sprintf("r%d", round))...)
		lr := l
		lr.table = l.open(t)
		if _, err := runSinkWith(t, iceConfig(Config{Kafka: kc, ExitWhenIdle: true, FlushInterval: time.Hour, MaxRows: 1_000_000}, lr), nil, never); err != nil {
			t.Fatal(err)
		}
		snaps, err := l.open(t).Snapshots(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(snaps) != round+1 {
			t.Fatalf("after %d flushes the table has %d snapshots, want one per flush: %v", round+1, len(snaps), snaps)
		}
		lo, hi := int64(round*n), int64((round+1)*n)
		want := fmt.Sprint([]string{fmt.Sprintf("0:[%d,%d)", lo, hi), fmt.Sprintf("1:[%d,%d)", lo, hi), fmt.Sprintf("2:[%d,%d)", lo, hi)})
		if got := fmt.Sprint(rangesOf(snaps[0])); got != want {
			t.Errorf("flush %d: snapshot ranges %s, want %s", round+1, got, want)
		}
		if len(snaps[0].Offsets) != 3 {
			t.Errorf("flush %d: snapshot offsets %v, want all three partitions at %d", round+1, snaps[0].Offsets, hi)
		}
		for tp, o := range snaps[0].Offsets {
			if o != hi {
				t.Errorf("flush %d: snapshot offset of %s = %d, want %d", round+1, tp, o, hi)
			}
		}
	}
	l.assertTableExactlyOnce(t, all)
}

// TestIcebergSinkTimedFlushesCombinePartitions runs one sink with a short
// flush interval while rounds of ticks arrive on three partitions at once:
// its time-based flushes commit the partitions together, so the table
// gets fewer snapshots than one per partition per round (the three
// partitions' records of a round arrive in one fetch, so it is one per
// round unless a round's records were split across polls).
func TestIcebergSinkTimedFlushesCombinePartitions(t *testing.T) {
	ctx := context.Background()
	kc := newCluster(t, "ticks")
	l := newIceLake(t)
	_, done, stop := startSink(t, iceConfig(Config{Kafka: kc, FlushInterval: 200 * time.Millisecond, MaxRows: 1_000_000}, l), nil)
	reader := l.open(t)
	const rounds, n = 4, 50
	var all []stocklake.Tick
	for round := range rounds {
		all = append(all, produceRound(t, kc, n, fmt.Sprintf("t%d", round))...)
		deadline := time.Now().Add(30 * time.Second)
		for {
			offs, err := reader.Offsets(ctx)
			if err != nil {
				t.Fatal(err)
			}
			at := 0
			for _, o := range offs {
				if o == int64((round+1)*n) {
					at++
				}
			}
			if at == 3 {
				break
			}
			select {
			case <-done:
				t.Fatalf("the sink stopped: %v", stop())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: table offsets %v after 30s, want all three partitions at %d", round+1, offs, (round+1)*n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	snaps, err := reader.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	combined := 0
	for _, s := range snaps {
		if len(s.Ranges) > 1 {
			combined++
		}
	}
	t.Logf("%d rounds on 3 partitions: %d snapshots, %d of them for several partitions", rounds, len(snaps), combined)
	if len(snaps) >= 3*rounds || combined == 0 {
		t.Errorf("%d rounds on 3 partitions made %d snapshots (%d for several partitions), want the partitions flushed together", rounds, len(snaps), combined)
	}
	l.assertTableExactlyOnce(t, all)
}

// TestIcebergSinkFencesOnePartitionOfThree lets another writer take
// partition 1 of three (it commits offsets of it to the table) while the
// sink is about to commit a flush of all three: only partition 1 is
// refused and dropped; partitions 0 and 2 are committed in one snapshot,
// with their group offsets, and the table holds exactly their ticks.
func TestIcebergSinkFencesOnePartitionOfThree(t *testing.T) {
	ctx := context.Background()
	kc := newCluster(t, "ticks")
	const n = 100
	byPart := partitionedTicks(3, n, "f")
	producePartitioned(t, kc, "ticks", byPart)
	l := newIceLake(t)
	other := l.open(t) // another writer, as another process
	var (
		sk      *Sink
		once    sync.Once
		moveErr error
	)
	cfg := iceConfig(Config{Kafka: kc, Group: "fence", ExitWhenIdle: true, FlushInterval: time.Hour, MaxRows: 1_000_000,
		BeforeCommit: func(ctx context.Context, _ int32, _ int64) {
			once.Do(func() {
				// Offsets [0, 40) of partition 1, accounted for elsewhere.
				tp := stocklake.TopicPartition{TopicID: sk.topicID, Partition: 1}
				_, moveErr = other.Commit(ctx, nil, []stocklake.OffsetRange{{TopicPartition: tp, Start: 0, End: 40}})
			})
		}}, l)
	// The sink cannot catch up (partition 1 is dropped): stop it once it
	// has committed the other two.
	s, err := runSinkWith(t, cfg, func(s *Sink) { sk = s }, func(s *Sink) bool { return s.Stats().Rows.Load() >= 2*n })
	if err != nil {
		t.Fatal(err)
	}
	if moveErr != nil {
		t.Fatalf("the other writer's commit: %v", moveErr)
	}
	if got := s.Stats().Fenced.Load(); got != 1 {
		t.Errorf("fenced batches = %d, want 1 (partition 1's)", got)
	}
	if got := s.Stats().Rows.Load(); got != 2*n {
		t.Errorf("rows committed = %d, want %d", got, 2*n)
	}
	snaps, err := l.open(t).Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 2 {
		t.Fatalf("table has %d snapshots, want the other writer's and one of the sink's flush: %v", len(snaps), snaps)
	}
	if got, want := fmt.Sprint(rangesOf(snaps[0])), fmt.Sprint([]string{"0:[0,100)", "2:[0,100)"}); got != want {
		t.Errorf("the sink's snapshot has ranges %s, want %s (partitions 0 and 2 in one snapshot)", got, want)
	}
	offs := map[int32]int64{}
	for tp, o := range snaps[0].Offsets {
		offs[tp.Partition] = o
	}
	if fmt.Sprint(offs) != fmt.Sprint(map[int32]int64{0: n, 1: 40, 2: n}) {
		t.Errorf("table offsets %v, want 0 and 2 at %d, 1 at the other writer's 40", offs, n)
	}
	l.assertTableExactlyOnce(t, append(slices.Clone(byPart[0]), byPart[2]...))
	// Group offsets (for lag): committed for the two partitions that landed.
	cl, err := kc.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	gofs, err := kadm.NewClient(cl).FetchOffsets(ctx, "fence")
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int32]int64{0: n, 2: n} {
		if o, ok := gofs.Lookup("ticks", p); !ok || o.At != want {
			t.Errorf("group offset of partition %d = %v (found %v), want %d", p, o.At, ok, want)
		}
	}
	if o, ok := gofs.Lookup("ticks", 1); ok && o.At >= 0 {
		t.Errorf("group offset of the fenced partition 1 = %d, want none", o.At)
	}
}
