package sink

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
)

// lakeRowsOf counts the tick rows of Kafka partition p in the table's
// objects (named <table>+<topic id>+<partition>+<offset>).
func lakeRowsOf(t *testing.T, st stocklake.ObjectStore, table string, p int32) int64 {
	t.Helper()
	ctx := context.Background()
	objs, err := st.List(ctx, table+"/")
	if err != nil {
		t.Error(err)
		return -1
	}
	var n int64
	for _, o := range objs {
		base := o.Key[strings.LastIndex(o.Key, "/")+1:]
		f := strings.Split(strings.TrimSuffix(base, ".parquet"), "+")
		if !strings.HasSuffix(base, ".parquet") || len(f) != 4 || f[2] != strconv.Itoa(int(p)) {
			continue
		}
		data, err := st.GetRange(ctx, o.Key, 0, -1)
		if err != nil {
			t.Error(err)
			return -1
		}
		rows, err := parquet.Read[TickRow](bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Errorf("read %s: %v", o.Key, err)
			return -1
		}
		n += int64(len(rows))
	}
	return n
}

// TestSinkBeforeCommitRunsBetweenWriteAndCommit checks the fault-injection
// hook's place: when BeforeCommit runs, the batch's rows are in the lake
// and its offsets are not yet committed.
func TestSinkBeforeCommitRunsBetweenWriteAndCommit(t *testing.T) {
	kc := newCluster(t, "ticks")
	ticks := testTicks(6000)
	produceTicks(t, kc, "ticks", ticks)
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kc.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	type held struct {
		partition int32
		committed int64 // the group's offset while held; -1 for none
		rows      int64 // the partition's rows in the lake while held
		commit    int64 // the offset committed next; -1 until then
	}
	var mu sync.Mutex
	var holds []*held
	cfg := Config{Kafka: kc, Topic: "ticks", Group: "hooks", Store: st, MaxRows: 700, FlushInterval: time.Hour,
		BeforeCommit: func(ctx context.Context, p int32, _ int64) {
			h := &held{partition: p, committed: -1, commit: -1}
			offs, err := adm.FetchOffsets(ctx, "hooks")
			if err != nil {
				t.Errorf("fetch offsets: %v", err)
			} else if o, ok := offs.Lookup("ticks", p); ok {
				h.committed = o.At
			}
			h.rows = lakeRowsOf(t, st, "ticks", p)
			mu.Lock()
			holds = append(holds, h)
			mu.Unlock()
		},
		OnCommit: func(p int32, offset int64) {
			mu.Lock()
			defer mu.Unlock()
			for i := len(holds) - 1; i >= 0; i-- {
				if holds[i].partition == p {
					if holds[i].commit < 0 {
						holds[i].commit = offset
					}
					return
				}
			}
			t.Errorf("offset %d of partition %d committed without BeforeCommit first", offset, p)
		},
	}
	if _, err := runSinkUntil(t, cfg, func(s *Sink) bool { return s.Stats().Records.Load() == int64(len(ticks)) }); err != nil {
		t.Fatal(err)
	}
	if len(holds) < 6 {
		t.Fatalf("BeforeCommit ran %d times for %d ticks in batches of at most 700, want one per batch", len(holds), len(ticks))
	}
	for _, h := range holds {
		if h.commit < 0 {
			t.Errorf("partition %d: a batch held before commit was never committed", h.partition)
			continue
		}
		if h.committed >= h.commit {
			t.Errorf("partition %d: offset %d was already committed when BeforeCommit ran for the commit of %d", h.partition, h.committed, h.commit)
		}
		if h.rows != h.commit {
			t.Errorf("partition %d: %d rows in the lake when BeforeCommit ran, want the %d the commit then covered", h.partition, h.rows, h.commit)
		}
	}
}

// TestSinkInstanceIDTakesDeadMembersPlace joins the group as a static
// member that then dies without leaving (as after SIGKILL) with a long
// session; a sink with the same InstanceID must take its place at once and
// land every tick, and the group must hold that one member, not two.
// Without InstanceID the sink's join would wait minutes for the dead
// member.
func TestSinkInstanceIDTakesDeadMembersPlace(t *testing.T) {
	kc := newCluster(t, "ticks")
	ticks := testTicks(3000)
	produceTicks(t, kc, "ticks", ticks)
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dead, err := kc.NewClient(kgo.ConsumerGroup("static"), kgo.ConsumeTopics("ticks"), kgo.InstanceID("sink-a"),
		kgo.DisableAutoCommit(), kgo.SessionTimeout(3*time.Minute), kgo.RebalanceTimeout(3*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for dead.PollFetches(ctx).NumRecords() == 0 {
		if ctx.Err() != nil {
			t.Fatal("the first member consumed nothing in 20s")
		}
	}
	dead.Close() // a static member does not leave: the group keeps it until its session ends

	if _, err := runSinkUntil(t, Config{Kafka: kc, Topic: "ticks", Group: "static", InstanceID: "sink-a", Store: st, MaxRows: 1000, FlushInterval: 100 * time.Millisecond},
		func(s *Sink) bool { return s.Stats().Rows.Load() == int64(len(ticks)) }); err != nil {
		t.Fatal(err)
	}
	rows, _ := readLakeTicks(t, st, "ticks")
	assertExactlyOnce(t, rows, ticks)

	cl, err := kc.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	groups, err := kadm.NewClient(cl).DescribeGroups(context.Background(), "static")
	if err != nil {
		t.Fatal(err)
	}
	g := groups["static"]
	if len(g.Members) != 1 || g.Members[0].InstanceID == nil || *g.Members[0].InstanceID != "sink-a" {
		var ids []string
		for _, m := range g.Members {
			id := "<dynamic>"
			if m.InstanceID != nil {
				id = *m.InstanceID
			}
			ids = append(ids, m.MemberID+"="+id)
		}
		t.Fatalf("group members after the restart: %v, want the one static member sink-a", ids)
	}
}
