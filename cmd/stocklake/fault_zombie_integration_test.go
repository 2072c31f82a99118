package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stocklake/stocklake/sink"
)

// zombiePause is how long a sink stays stopped: past its 10 s session
// timeout, so the group gives its partitions to the others.
const zombiePause = 14 * time.Second

// TestFaultZombieSinkIntegration runs three sinks in one group while ticks
// stream in at faultRate from Apache Kafka, and five times stops one
// (SIGSTOP) that owns partitions and has written, for longer than its
// session, waits until the other two own every partition, then lets it
// continue (SIGCONT). The resumed sink still believes it owns its
// partitions and holds a batch: its writes must be refused (fencing), and
// the lake must end with every tick exactly once. The Iceberg variant runs
// three more sinks, a group of their own on the same topic landing it in a
// file:// warehouse, and stops one of them in the same rounds: there the
// table refuses the zombie's commit (its start offsets are behind the
// table's).
func TestFaultZombieSinkIntegration(t *testing.T) {
	env := requireEnv(t, "STOCKLAKE_KAFKA_BROKERS")
	brokers := env["STOCKLAKE_KAFKA_BROKERS"]
	const rounds = 5
	const name = "zombie sink (SIGSTOP past its session)"
	fc := newFaultCase(t, name)
	ice := newIceVariant(t, name, nil)
	ctx := context.Background()
	topic, group := uniqueName("fault-zombie-"), uniqueName("fault-zombie-sink-")
	lake := "file://" + filepath.Join(t.TempDir(), "lake")
	n := faultRate * (rounds*int((zombiePause+8*time.Second)/time.Second) + 20)

	producer := liveProducer(t, brokers, topic, n, 23)
	time.Sleep(2 * time.Second)
	// Two groups of three sinks on the topic: Hive and Iceberg.
	type sinkGroup struct {
		group string
		fc    *faultCase
		sinks []*proc
	}
	groups := []*sinkGroup{{group: group, fc: fc}, {group: group + "-iceberg", fc: ice.fc}}
	for i := range 3 {
		groups[0].sinks = append(groups[0].sinks, startProc(t, fmt.Sprintf("sink%d", i), true, envWith(), sinkArgs(brokers, topic, group, lake)...))
		groups[1].sinks = append(groups[1].sinks, ice.startSink(t, fmt.Sprintf("sink-iceberg%d", i), brokers, topic, groups[1].group))
	}
	var all []*proc
	for _, g := range groups {
		all = append(all, g.sinks...)
	}
	for _, s := range all {
		waitMetric(t, s, "stocklake_sink_objects_total", 0, 2*time.Minute)
	}
	metric := func(p *proc, name string) float64 { v, _ := p.metric(name); return v }
	objects := map[*proc]float64{}
	for _, s := range all {
		objects[s] = metric(s, "stocklake_sink_objects_total")
	}
	for round := range rounds {
		// In each group, the victim owns partitions and has written since
		// it was picked (or started): it holds live work when it stops.
		victims := make([]*proc, len(groups))
		deadline := time.Now().Add(time.Minute)
		for gi, g := range groups {
			for victims[gi] == nil {
				for i := range g.sinks {
					s := g.sinks[(round+i)%len(g.sinks)]
					if metric(s, "stocklake_sink_partitions") > 0 && metric(s, "stocklake_sink_objects_total") > objects[s] {
						victims[gi] = s
						break
					}
				}
				if victims[gi] == nil {
					if time.Now().After(deadline) {
						t.Fatalf("round %d: no sink of group %s owns partitions and has written in the last minute", round, g.group)
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
		}
		cont := func() {
			for _, v := range victims {
				v.cmd.Process.Signal(syscall.SIGCONT)
			}
		}
		for _, victim := range victims {
			t.Logf("round %d: stopping %s (owns %v partitions, %v objects written)", round, victim.name, metric(victim, "stocklake_sink_partitions"), metric(victim, "stocklake_sink_objects_total"))
			victim.cmd.Process.Signal(syscall.SIGSTOP)
		}
		time.Sleep(zombiePause)
		// Wait until, in each group, the others own every partition.
		deadline = time.Now().Add(time.Minute)
		for gi, g := range groups {
			for {
				others := 0.0
				for _, s := range g.sinks {
					if s != victims[gi] {
						others += metric(s, "stocklake_sink_partitions")
					}
				}
				if others == 3 {
					break
				}
				if time.Now().After(deadline) {
					cont()
					t.Fatalf("round %d: the other sinks own %v of 3 partitions a minute after %s stopped", round, others, victims[gi].name)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		cont()
		t.Logf("round %d: %s and %s continue; the others own every partition", round, victims[0].name, victims[1].name)
		for _, s := range all {
			objects[s] = metric(s, "stocklake_sink_objects_total")
		}
	}
	producer.wait(5 * time.Minute)
	for _, g := range groups {
		waitCaughtUp(t, ctx, brokers, g.group, topic, 3*time.Minute, g.sinks...)
	}
	refused, lost := make([]float64, len(groups)), make([]int, len(groups))
	for gi, g := range groups {
		for _, s := range g.sinks {
			refused[gi] += metric(s, "stocklake_sink_fenced_batches_total")
			lost[gi] += bytes.Count(s.log(), []byte(`msg="partitions lost"`))
		}
	}
	for _, s := range all {
		s.terminate()
	}
	for gi, g := range groups {
		g.fc.Detail = fmt.Sprintf("3 sinks in a group at %d ticks/s; %d times one that owned partitions and had written was stopped (SIGSTOP) for %v, past its 10 s session, and continued (SIGCONT) once the others owned every partition; resumed zombies had %v batch writes refused and lost their partitions %d times",
			faultRate, rounds, zombiePause, refused[gi], lost[gi])
		t.Log(g.fc.Detail)
		if refused[gi] == 0 {
			// Every victim held a batch when it stopped: a resumed zombie that
			// never had a write refused was not fenced, or never was a zombie.
			t.Errorf("group %s: no resumed zombie had a write refused in %d rounds", g.group, rounds)
		}
	}
	ice.verify(t, topic, int64(n))
	verifyLake(t, fc, lake, sink.TableName(topic), int64(n))
}
