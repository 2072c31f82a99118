package main

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/sink"
	"github.com/stocklake/stocklake/source"
)

// faultRate is the ticks per second the live-stream cases produce: enough to
// keep every sink writing every second, little enough for 2 cores.
const faultRate = 20_000

// liveProducer starts `stocklake produce` at faultRate for n ticks.
func liveProducer(t *testing.T, brokers, topic string, n int, seed int) *proc {
	return startProc(t, "produce", false, envWith(), "produce", "--brokers", brokers, "--topic", topic,
		"--source", "sim", "--rate", strconv.Itoa(faultRate), "--count", strconv.Itoa(n), "--seed", strconv.Itoa(seed),
		"--partitions", "3", "--log-level", "warn")
}

// sinkArgs are the sink flags every live case's Hive sinks use: small,
// frequent objects.
func sinkArgs(brokers, topic, group, lake string) []string {
	return append(sinkBaseArgs(brokers, topic, group, lake), "--table-format", "hive")
}

// sinkBaseArgs are sinkArgs without the table format.
func sinkBaseArgs(brokers, topic, group, lake string) []string {
	return []string{"sink", "--brokers", brokers, "--topic", topic, "--group", group, "--lake", lake,
		"--flush-interval", "1s", "--max-rows", "100000", "--log-level", "info"}
}

// waitMetric waits until the process's metric is above min.
func waitMetric(t *testing.T, p *proc, name string, min float64, timeout time.Duration) float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, err := p.metric(name)
		if err == nil && v > min {
			return v
		}
		if !p.running() {
			t.Fatalf("%s exited: %v", p.name, p.err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s still %v (err %v) after %v, want > %v", p.name, name, v, err, timeout, min)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestFaultKafkaRestartIntegration stops the Kafka broker mid-stream (its
// own Apache Kafka, so no other test notices) for 30 s (10 s in CI) while
// `stocklake produce` and `stocklake sink` run, then starts it again on the
// same data. Both must ride the outage out without exiting, and the lake
// must end with every produced tick exactly once. The Iceberg variant, a
// sink of its own group on the same topic, lands it in an s3:// warehouse
// on the suite's S3 server.
func TestFaultKafkaRestartIntegration(t *testing.T) {
	requireEnv(t, "STOCKLAKE_KAFKA_BROKERS") // the suite runs with the services up
	s3 := sharedS3(t)
	outage := faultLength(10*time.Second, 30*time.Second)
	const name = "Kafka broker stopped mid-stream"
	fc := newFaultCase(t, name)
	fc.Detail = fmt.Sprintf("own Apache Kafka stopped (SIGTERM) for %v while producing %d ticks/s and sinking, then restarted on its data", outage, faultRate)
	ice := newIceVariant(t, name, s3)
	ice.fc.Detail = fc.Detail
	ctx := context.Background()
	svc := startOwnService(t, "kafka")
	brokers := svc.env["STOCKLAKE_KAFKA_BROKERS"]
	n := faultRate * int(outage/time.Second+30)
	topic, group := uniqueName("fault-kafka-"), uniqueName("fault-kafka-sink-")
	lake := "file://" + filepath.Join(t.TempDir(), "lake")

	producer := liveProducer(t, brokers, topic, n, 21)
	time.Sleep(2 * time.Second)
	sinker := startProc(t, "sink", true, envWith(), sinkArgs(brokers, topic, group, lake)...)
	iceGroup := group + "-iceberg"
	iceSink := ice.startSink(t, "sink-iceberg", brokers, topic, iceGroup)
	waitMetric(t, sinker, "stocklake_sink_rows_total", 0, time.Minute)
	waitMetric(t, iceSink, "stocklake_sink_rows_total", 0, time.Minute)
	time.Sleep(3 * time.Second)

	t.Logf("stopping Kafka for %v", outage)
	svc.stop()
	time.Sleep(outage)
	if !producer.running() || !sinker.running() || !iceSink.running() {
		t.Fatalf("a process exited during the Kafka outage (produce running %v, sink running %v, Iceberg sink running %v)", producer.running(), sinker.running(), iceSink.running())
	}
	t.Log("starting Kafka again")
	svc.start(true)

	producer.wait(5 * time.Minute)
	waitCaughtUp(t, ctx, brokers, group, topic, 3*time.Minute, sinker)
	waitCaughtUp(t, ctx, brokers, iceGroup, topic, 3*time.Minute, iceSink)
	sinker.terminate()
	iceSink.terminate()
	ice.verify(t, topic, int64(n))
	verifyLake(t, fc, lake, sink.TableName(topic), int64(n))
}

// TestFaultS3OutageIntegration stops the S3 server (its own versitygw) for
// 60 s (20 s in CI) while ticks stream in. The sink must keep retrying
// without exiting, stay within its memory bound (it stops polling while a
// write is retried, so the backlog waits in Kafka), then catch up. The
// Iceberg variant, a sink of its own group on the same topic, lands it in
// an s3:// warehouse on the same server: its data files, manifests and
// metadata files cannot be written during the outage, so nothing commits.
func TestFaultS3OutageIntegration(t *testing.T) {
	env := requireEnv(t, "STOCKLAKE_KAFKA_BROKERS")
	brokers := env["STOCKLAKE_KAFKA_BROKERS"]
	outage := faultLength(20*time.Second, 60*time.Second)
	const bufferBound = 32 << 20
	const rssBound = bufferBound + 192<<20 // the binary's own mapped pages (65-105 MiB) and Go's runtime come on top (issue 18)
	const name = "S3 server stopped mid-stream"
	fc := newFaultCase(t, name)
	ctx := context.Background()
	svc := startOwnService(t, "s3")
	ice := newIceVariant(t, name, svc.env)
	endpoint := svc.env["STOCKLAKE_S3_ENDPOINT"]
	s3env := []string{"AWS_ACCESS_KEY_ID=" + svc.env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY=" + svc.env["AWS_SECRET_ACCESS_KEY"],
		"AWS_REGION=" + svc.env["AWS_REGION"], "AWS_ENDPOINT_URL_S3=" + endpoint}
	bucket := uniqueName("fault-s3-")
	lake := fmt.Sprintf("s3://%s/lake?endpoint=%s&create_bucket=true", bucket, endpoint)
	n := faultRate * int(outage/time.Second+25)
	topic, group := uniqueName("fault-s3-"), uniqueName("fault-s3-sink-")

	producer := liveProducer(t, brokers, topic, n, 22)
	time.Sleep(2 * time.Second)
	args := append(sinkArgs(brokers, topic, group, lake), "--max-buffer-bytes", strconv.Itoa(bufferBound))
	sinker := startProc(t, "sink", true, envWith(s3env...), args...)
	peakRSS := sinker.peakRSS()
	iceGroup := group + "-iceberg"
	iceSink := ice.startSink(t, "sink-iceberg", brokers, topic, iceGroup, "--max-buffer-bytes", strconv.Itoa(bufferBound))
	waitMetric(t, sinker, "stocklake_sink_rows_total", 0, time.Minute)
	waitMetric(t, iceSink, "stocklake_sink_rows_total", 0, time.Minute)
	time.Sleep(3 * time.Second)
	peakBefore := peakRSS()
	peakRSS = sinker.peakRSS()
	consumed0, _ := sinker.metric("stocklake_sink_records_total")
	const s3Retries = `stocklake_aws_retries_total{service="s3"}`
	retries0, _ := sinker.metric(s3Retries)

	t.Logf("stopping S3 for %v", outage)
	svc.stop()
	time.Sleep(outage)
	if !sinker.running() {
		t.Fatalf("the sink exited during the S3 outage: %v", sinker.err)
	}
	if !iceSink.running() {
		t.Fatalf("the Iceberg sink exited during the S3 outage: %v", iceSink.err)
	}
	iceBacklog := committedLag(t, ctx, brokers, iceGroup, topic)
	if iceBacklog < int64(faultRate)*int64(outage/time.Second)/2 {
		t.Fatalf("only %d records uncommitted by the Iceberg sink after %v without S3 at %d/s: the outage did not reach it", iceBacklog, outage, faultRate)
	}
	// Nothing can be committed while S3 is down: the backlog grows in
	// Kafka, and the sink, blocked retrying its write, stops consuming.
	consumed, _ := sinker.metric("stocklake_sink_records_total")
	consumed -= consumed0
	backlog := committedLag(t, ctx, brokers, group, topic)
	if backlog < int64(faultRate)*int64(outage/time.Second)/2 {
		t.Fatalf("only %d records uncommitted after %v without S3 at %d/s: the outage did not reach the sink", backlog, outage, faultRate)
	}
	if !sinker.logContains("retrying AWS request") {
		t.Errorf("the sink's log does not show the S3 outage (no \"retrying AWS request\" warning)")
	}
	if retries, err := sinker.metric(s3Retries); err != nil || retries <= retries0 {
		t.Errorf("%s did not grow during the S3 outage: %v -> %v (%v)", s3Retries, retries0, retries, err)
	}
	t.Logf("during the outage the sink consumed %v records; %d records uncommitted", consumed, backlog)
	peakDuring := peakRSS()
	peakRSS = sinker.peakRSS()
	t.Log("starting S3 again")
	svc.start(true)

	producer.wait(5 * time.Minute)
	waitCaughtUp(t, ctx, brokers, group, topic, 3*time.Minute, sinker)
	waitCaughtUp(t, ctx, brokers, iceGroup, topic, 3*time.Minute, iceSink)
	sinker.terminate()
	iceSink.terminate()
	ice.fc.Detail = fmt.Sprintf("own versitygw stopped for %v while producing %d ticks/s; the Iceberg sink had %d records uncommitted at its end", outage, faultRate, iceBacklog)
	ice.verify(t, topic, int64(n))
	peakAfter := peakRSS()
	t.Logf("sink peak RSS: %d MiB before the outage, %d MiB during it, %d MiB catching up", peakBefore>>20, peakDuring>>20, peakAfter>>20)
	if peakDuring > peakBefore+bufferBound {
		t.Errorf("sink RSS grew from %d MiB to %d MiB while S3 was down, more than --max-buffer-bytes %d MiB", peakBefore>>20, peakDuring>>20, bufferBound>>20)
	}
	peak := max(peakAfter, peakBefore, peakDuring)
	fc.Detail = fmt.Sprintf("own versitygw stopped for %v while producing %d ticks/s; %d records uncommitted at its end, %v consumed during it; sink --max-buffer-bytes 32MiB peak RSS %d MiB before, %d MiB during, %d MiB catching up (bound checked: %d MiB)",
		outage, faultRate, backlog, consumed, peakBefore>>20, peakDuring>>20, peakAfter>>20, rssBound>>20)
	if peak > rssBound {
		t.Errorf("sink peak RSS %d MiB during the S3 outage, want at most %d MiB with --max-buffer-bytes %d MiB", peak>>20, rssBound>>20, bufferBound>>20)
	}
	verifyLake(t, fc, "s3://"+bucket+"/lake", sink.TableName(topic), int64(n), s3env...)
}

// TestFaultRebalanceIntegration runs three sinks in one consumer group,
// kills one with SIGKILL mid-stream and adds a fourth later: two rebalances
// under load, with the killed member's partitions taken over from its last
// commit. The Iceberg variant does the same with a group of its own on the
// same topic, landing it in a file:// warehouse: the killed member's
// partitions are taken over from the table's offsets.
func TestFaultRebalanceIntegration(t *testing.T) {
	env := requireEnv(t, "STOCKLAKE_KAFKA_BROKERS")
	brokers := env["STOCKLAKE_KAFKA_BROKERS"]
	phase := faultLength(10*time.Second, 20*time.Second)
	const name = "sink group: one of three killed, one added"
	fc := newFaultCase(t, name)
	fc.Detail = fmt.Sprintf("3 sinks in one group on a 3-partition topic at %d ticks/s; SIGKILL one after %v, start a fourth %v later", faultRate, phase, phase)
	ice := newIceVariant(t, name, nil)
	ice.fc.Detail = fc.Detail
	ctx := context.Background()
	n := faultRate * int(3*phase/time.Second)
	topic, group := uniqueName("fault-group-"), uniqueName("fault-group-sink-")
	lake := "file://" + filepath.Join(t.TempDir(), "lake")

	producer := liveProducer(t, brokers, topic, n, 23)
	time.Sleep(2 * time.Second)
	iceGroup := group + "-iceberg"
	var sinks, iceSinks []*proc
	for i := range 3 {
		sinks = append(sinks, startProc(t, fmt.Sprintf("sink%d", i+1), true, envWith(), sinkArgs(brokers, topic, group, lake)...))
		iceSinks = append(iceSinks, ice.startSink(t, fmt.Sprintf("sink-iceberg%d", i+1), brokers, topic, iceGroup))
	}
	for _, s := range append(slices.Clone(sinks), iceSinks...) {
		waitMetric(t, s, "stocklake_sink_records_total", 0, time.Minute)
	}
	time.Sleep(phase)
	t.Log("killing sink2 and sink-iceberg2 with SIGKILL")
	sinks[1].kill()
	iceSinks[1].kill()
	time.Sleep(phase)
	t.Log("adding sink4 and sink-iceberg4")
	sink4 := startProc(t, "sink4", true, envWith(), sinkArgs(brokers, topic, group, lake)...)
	iceSink4 := ice.startSink(t, "sink-iceberg4", brokers, topic, iceGroup)
	alive := []*proc{sinks[0], sinks[2], sink4}
	iceAlive := []*proc{iceSinks[0], iceSinks[2], iceSink4}

	producer.wait(5 * time.Minute)
	waitCaughtUp(t, ctx, brokers, group, topic, 3*time.Minute, alive...)
	waitCaughtUp(t, ctx, brokers, iceGroup, topic, 3*time.Minute, iceAlive...)
	// The group must have rebalanced onto the added sink. (Whether it
	// then wrote rows depends on how much was left to read when it joined.)
	assigned := regexp.MustCompile(`partitions assigned.*partitions="?\[\d`)
	for _, s := range []*proc{sink4, iceSink4} {
		for deadline := time.Now().Add(time.Minute); !assigned.Match(s.log()); time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the added %s was not assigned a partition within a minute: the group did not rebalance onto it", s.name)
			}
		}
		rows, _ := s.metric("stocklake_sink_rows_total")
		t.Logf("the added %s wrote %v rows", s.name, rows)
	}
	for _, s := range append(alive, iceAlive...) {
		s.terminate()
	}
	ice.verify(t, topic, int64(n))
	verifyLake(t, fc, lake, sink.TableName(topic), int64(n))
}

// malformedValues returns the i-th malformed record: every way a producer
// gets ticks wrong, with and without the tick content-type header.
func malformedValue(i int, good []byte) (value []byte, tickHeader bool) {
	switch i % 10 {
	case 0:
		return fmt.Appendf(nil, "not json %d", i), false
	case 1:
		return good[:len(good)/2], true // truncated
	case 2:
		return fmt.Appendf(nil, `{"v":1,"symbol":"","ts":1764000000000000,"price":10,"size":1,"trade_id":"m%d"}`, i), true
	case 3:
		return fmt.Appendf(nil, `{"v":1,"symbol":"BAD","ts":1764000000000000,"price":-%d,"size":1,"trade_id":"m%d"}`, i+1, i), true
	case 4:
		return fmt.Appendf(nil, `{"v":1,"symbol":"BAD","ts":1764000000000000,"price":"ten","size":1,"trade_id":"m%d"}`, i), true
	case 5:
		return fmt.Appendf(nil, `{"v":1,"symbol":"BAD","price":10,"size":1,"trade_id":"m%d"}`, i), true
	case 6:
		return fmt.Appendf(nil, `{"v":99,"symbol":"BAD","ts":1764000000000000,"price":10,"size":1,"trade_id":"m%d"}`, i), true
	case 7:
		return fmt.Appendf(nil, `[%d]`, i), false
	case 8:
		b := make([]byte, 24)
		r := rand.New(rand.NewPCG(uint64(i), 9))
		for j := range b {
			b[j] = byte(r.UintN(256))
		}
		return b, false
	default:
		return fmt.Appendf(nil, `{"v":1,"symbol":"BAD","ts":1764000000000000,"price":10,"size":1,"trade_id":"m%d"} trailing`, i), true
	}
}

// TestFaultMalformedIntegration mixes 100,000 malformed records into a
// stream of good ticks. Every good tick must land exactly once and every
// malformed record must be in the dead-letter topic, byte for byte, with
// the reason in a header. The Iceberg variant lands the same topic in a
// file:// warehouse, in a group of its own and with a dead-letter topic of
// its own, which must hold every malformed record too.
func TestFaultMalformedIntegration(t *testing.T) {
	env := requireEnv(t, "STOCKLAKE_KAFKA_BROKERS")
	brokers := env["STOCKLAKE_KAFKA_BROKERS"]
	const bad = 100_000
	good := faultLength(200_000, 500_000)
	const name = "100,000 malformed records mixed in"
	fc := newFaultCase(t, name)
	fc.Detail = fmt.Sprintf("%d good sim ticks with %d malformed records (10 kinds: not JSON, truncated, no symbol, negative price, string price, no ts, wire version 99, array, random bytes, trailing data) at random places", good, bad)
	ice := newIceVariant(t, name, nil)
	ice.fc.Detail = fc.Detail
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	topic, group := uniqueName("fault-bad-"), uniqueName("fault-bad-sink-")
	lake := "file://" + filepath.Join(t.TempDir(), "lake")

	kcfg := kafka.Config{Brokers: strings.Split(brokers, ",")}
	prod, err := kafka.NewProducer(kcfg, kafka.ProducerConfig{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := kcfg.NewClient()
	if _, err := kafka.EnsureTopic(ctx, cl, kafka.TopicSpec{Name: topic, Partitions: 3, ReplicationFactor: -1}); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	sim, err := source.NewSimulator(source.SimulatorConfig{Seed: 24, Count: int64(good)})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(24, 24))
	sent := map[string]int{}
	nbad := 0
	emitBad := func(r stocklake.Record) error {
		v, hdr := malformedValue(nbad, r.Value)
		if _, err := stocklake.ParseTick(v); err == nil {
			t.Fatalf("malformed value %q parses as a tick", v)
		}
		m := stocklake.Record{Key: r.Key, Value: v}
		if hdr {
			m.Headers = r.Headers
		}
		nbad++
		sent[string(v)]++
		return prod.Produce(ctx, m)
	}
	var last stocklake.Record
	err = sim.Run(ctx, func(r stocklake.Record) error {
		last = r
		if err := prod.Produce(ctx, r); err != nil {
			return err
		}
		if nbad < bad && rng.Float64() < float64(bad)/float64(good)*1.05 {
			return emitBad(r)
		}
		return nil
	})
	for err == nil && nbad < bad {
		err = emitBad(last)
	}
	if err == nil {
		err = prod.Close(ctx)
	}
	if err != nil {
		t.Fatalf("producing: %v", err)
	}

	sinker := startProc(t, "sink", true, envWith(), append(sinkArgs(brokers, topic, group, lake), "--exit-when-idle")...)
	iceDLQ := topic + ".iceberg.dlq"
	iceSink := ice.startSink(t, "sink-iceberg", brokers, topic, group+"-iceberg", "--exit-when-idle", "--dlq-topic", iceDLQ)
	sinker.wait(5 * time.Minute)
	iceSink.wait(5 * time.Minute)

	checkDLQ := func(fc *faultCase, dlqTopic string) {
		t.Helper()
		dlq, err := kafka.ReadCommitted(ctx, kcfg, dlqTopic)
		if err != nil {
			t.Fatal(err)
		}
		fc.DLQ = int64(len(dlq))
		left := maps.Clone(sent)
		for _, r := range dlq {
			reason := ""
			for _, h := range r.Headers {
				if h.Key == stocklake.HeaderError {
					reason = string(h.Value)
				}
			}
			if reason == "" {
				t.Fatalf("%s: dead letter at offset %d has no %s header: %q", dlqTopic, r.Offset, stocklake.HeaderError, r.Value)
			}
			left[string(r.Value)]--
		}
		for v, c := range left {
			if c != 0 {
				t.Fatalf("malformed record %q: %d more sent than found in the dead-letter topic %s (%d dead letters for %d sent)", v, c, dlqTopic, len(dlq), bad)
			}
		}
		if len(dlq) != bad {
			t.Fatalf("%s: %d dead letters, want %d", dlqTopic, len(dlq), bad)
		}
	}
	checkDLQ(ice.fc, iceDLQ)
	ice.verify(t, topic, int64(good), "--brokers", brokers, "--dlq-topic", iceDLQ)
	checkDLQ(fc, topic+".dlq")
	verifyLake(t, fc, lake, sink.TableName(topic), int64(good), "STOCKLAKE_BROKERS="+brokers)
}

// TestFaultDiskFullIntegration lands ticks into a file:// lake on a small
// tmpfs that the test fills to the last megabyte. The sink must report "no
// space left on device", keep its records and retry without exiting; once
// the filler file is deleted it catches up, leaving no temporary files.
func TestFaultDiskFullIntegration(t *testing.T) {
	env := requireEnv(t, "STOCKLAKE_KAFKA_BROKERS")
	brokers := env["STOCKLAKE_KAFKA_BROKERS"]
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root; run the integration suites as root (as .ci/run does)")
	}
	fc := newFaultCase(t, "disk under a file:// lake full, then freed")
	ctx := context.Background()
	n := 600_000
	hold := faultLength(5*time.Second, 20*time.Second)
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	filler := filepath.Join(mnt, "filler")
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	const leave = 1 << 20
	if err := os.WriteFile(filler, make([]byte, int64(st.Bavail)*st.Bsize-leave), 0o644); err != nil {
		t.Fatal(err)
	}
	fc.Detail = fmt.Sprintf("%d ticks (about 6 MB of Parquet) into a lake on a 16 MiB tmpfs filled to its last MiB; held full for %v after the first ENOSPC, then the filler deleted", n, hold)

	topic, group := uniqueName("fault-disk-"), uniqueName("fault-disk-sink-")
	produce := exec.Command(stocklakeBinary(t), "produce", "--brokers", brokers, "--topic", topic, "--source", "sim",
		"--count", strconv.Itoa(n), "--seed", "25", "--partitions", "3", "--log-level", "warn")
	produce.Env = envWith()
	if out, err := produce.CombinedOutput(); err != nil {
		t.Fatalf("produce: %v\n%s", err, out)
	}
	lakeDir := filepath.Join(mnt, "lake")
	args := append(sinkArgs(brokers, topic, group, "file://"+lakeDir), "--max-rows", "50000")
	sinker := startProc(t, "sink", true, envWith(), args...)
	waitMetric(t, sinker, "stocklake_sink_retries_total", 0, 2*time.Minute)
	deadline := time.Now().Add(30 * time.Second)
	for !sinker.logContains("no space left on device") {
		if time.Now().After(deadline) {
			t.Fatal("the sink retried, but its log does not say the disk is full (no space left on device)")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(hold)
	if !sinker.running() {
		t.Fatalf("the sink exited on a full disk: %v", sinker.err)
	}
	t.Log("freeing the disk")
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, ctx, brokers, group, topic, 3*time.Minute, sinker)
	sinker.terminate()
	filepath.WalkDir(lakeDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), file.TempPrefix) {
			t.Errorf("temporary file left in the lake: %s", path)
		}
		return nil
	})
	verifyLake(t, fc, "file://"+lakeDir, sink.TableName(topic), int64(n))
}
