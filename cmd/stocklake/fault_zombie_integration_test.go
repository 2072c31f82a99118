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
// the lake must end with every tick exactly once.
func TestFaultZombieSinkIntegration(t *testing.T) {
	env := requireEnv(t, "STOCKLAKE_KAFKA_BROKERS")
	brokers := env["STOCKLAKE_KAFKA_BROKERS"]
	const rounds = 5
	fc := newFaultCase(t, "zombie sink (SIGSTOP past its session)")
	ctx := context.Background()
	topic, group := uniqueName("fault-zombie-"), uniqueName("fault-zombie-sink-")
	lake := "file://" + filepath.Join(t.TempDir(), "lake")
	n := faultRate * (rounds*int((zombiePause+8*time.Second)/time.Second) + 20)

	producer := liveProducer(t, brokers, topic, n, 23)
	time.Sleep(2 * time.Second)
	var sinks []*proc
	for i := range 3 {
		sinks = append(sinks, startProc(t, fmt.Sprintf("sink%d", i), true, envWith(), sinkArgs(brokers, topic, group, lake)...))
	}
	for _, s := range sinks {
		waitMetric(t, s, "stocklake_sink_objects_total", 0, 2*time.Minute)
	}
	metric := func(p *proc, name string) float64 { v, _ := p.metric(name); return v }
	objects := map[*proc]float64{}
	for _, s := range sinks {
		objects[s] = metric(s, "stocklake_sink_objects_total")
	}
	stopped := 0
	for round := range rounds {
		// The victim owns partitions and has written since it was picked
		// (or started): it holds live work when it stops.
		var victim *proc
		deadline := time.Now().Add(time.Minute)
		for victim == nil {
			for i := range sinks {
				s := sinks[(round+i)%len(sinks)]
				if metric(s, "stocklake_sink_partitions") > 0 && metric(s, "stocklake_sink_objects_total") > objects[s] {
					victim = s
					break
				}
			}
			if victim == nil {
				if time.Now().After(deadline) {
					t.Fatalf("round %d: no sink owns partitions and has written in the last minute", round)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		owned := metric(victim, "stocklake_sink_partitions")
		t.Logf("round %d: stopping %s (owns %v partitions, %v objects written)", round, victim.name, owned, metric(victim, "stocklake_sink_objects_total"))
		victim.cmd.Process.Signal(syscall.SIGSTOP)
		stopped++
		time.Sleep(zombiePause)
		// Wait until the others own every partition.
		deadline = time.Now().Add(time.Minute)
		for {
			others := 0.0
			for _, s := range sinks {
				if s != victim {
					others += metric(s, "stocklake_sink_partitions")
				}
			}
			if others == 3 {
				break
			}
			if time.Now().After(deadline) {
				victim.cmd.Process.Signal(syscall.SIGCONT)
				t.Fatalf("round %d: the other sinks own %v of 3 partitions a minute after %s stopped", round, others, victim.name)
			}
			time.Sleep(200 * time.Millisecond)
		}
		victim.cmd.Process.Signal(syscall.SIGCONT)
		t.Logf("round %d: %s continues; the others own every partition", round, victim.name)
		for _, s := range sinks {
			objects[s] = metric(s, "stocklake_sink_objects_total")
		}
	}
	producer.wait(5 * time.Minute)
	waitCaughtUp(t, ctx, brokers, group, topic, 3*time.Minute, sinks...)
	refused, lost := 0.0, 0
	for _, s := range sinks {
		refused += metric(s, "stocklake_sink_fenced_batches_total")
		lost += bytes.Count(s.log(), []byte(`msg="partitions lost"`))
	}
	for _, s := range sinks {
		s.terminate()
	}
	fc.Detail = fmt.Sprintf("3 sinks in a group at %d ticks/s; %d times one that owned partitions and had written was stopped (SIGSTOP) for %v, past its 10 s session, and continued (SIGCONT) once the others owned every partition; resumed zombies had %v batch writes refused and lost their partitions %d times",
		faultRate, stopped, zombiePause, refused, lost)
	t.Log(fc.Detail)
	if refused == 0 {
		// Every victim held a batch when it stopped: a resumed zombie that
		// never had a write refused was not fenced, or never was a zombie.
		t.Errorf("no resumed zombie had a write refused in %d rounds", stopped)
	}
	verifyLake(t, fc, lake, sink.TableName(topic), int64(n))
}
