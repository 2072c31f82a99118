package sink

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/kafka"
)

// TestGroupOverhead checks that groupOverhead, the bytes the memory bound
// counts per open lake partition, covers what a Parquet tick writer with
// one row really holds on the heap.
func TestGroupOverhead(t *testing.T) {
	codec, _ := ParseCodec("")
	tk := stocklake.Tick{Symbol: "AAPL", Time: time.Now(), Price: 1, Size: 1, Exchange: "XNAS", TradeID: "1", Source: "test"}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ws := make([]*tickWriter, 500)
	for i := range ws {
		ws[i] = newTickWriter(codec, 1_000_000)
		if err := ws[i].add(newTickRow(&tk)); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := int64(after.HeapAlloc-before.HeapAlloc) / int64(len(ws))
	runtime.KeepAlive(ws)
	t.Logf("an open tick writer with one row holds %d bytes", per)
	if per > groupOverhead {
		t.Fatalf("an open tick writer holds %d bytes, more than the %d counted per open partition", per, groupOverhead)
	}
}

// readDLQ reads every record of a dead-letter topic.
func readDLQ(t *testing.T, kc kafka.Config, topic string) []stocklake.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	recs, err := kafka.ReadCommitted(ctx, kc, topic)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func header(r stocklake.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestSinkOversizedDeadLetter sends a 1.5 MiB malformed record that
// compresses well, so the broker takes it but the dead-letter producer
// cannot send it as it is. The sink must dead-letter a truncated copy with
// the original size and source, land the good ticks and commit.
func testOversizedDeadLetter(t *testing.T, open openTopic) {
	kc, topic := open(t, "ticks")
	good := testTicks(200)
	p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: topic, BatchMaxBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	huge := bytes.Repeat([]byte("not a tick "), 1536<<10/11)
	for i := range good {
		if i == 100 {
			if err := p.Produce(ctx, stocklake.Record{Key: []byte("HUGE"), Value: huge}); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Produce(ctx, stocklake.Record{Key: []byte(good[i].Symbol), Value: good[i].AppendJSON(nil)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("the broker refused the large record: %v", err)
	}
	st, _ := file.New(t.TempDir())
	s, err := runSinkUntil(t, Config{Kafka: kc, Topic: topic, Group: topic + "-sink", Store: st, Schema: SchemaTick, FlushInterval: 50 * time.Millisecond},
		func(s *Sink) bool {
			return s.Stats().Records.Load() == int64(len(good)+1) && s.Stats().Lag.Load() == 0 && s.Stats().Buffered.Load() == 0
		})
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := readLakeTicks(t, st, TableName(topic))
	assertExactlyOnce(t, rows, good)
	if s.Stats().DeadLettersTruncated.Load() != 1 {
		t.Fatalf("%d dead letters truncated, want 1", s.Stats().DeadLettersTruncated.Load())
	}
	dl := readDLQ(t, kc, topic+".dlq")
	if len(dl) != 1 {
		t.Fatalf("dead-letter topic has %d records, want 1", len(dl))
	}
	r := dl[0]
	if want := fmt.Sprintf("%d,4", len(huge)); header(r, stocklake.HeaderOriginalSize) != want {
		t.Fatalf("%s = %q, want %q", stocklake.HeaderOriginalSize, header(r, stocklake.HeaderOriginalSize), want)
	}
	if !bytes.HasPrefix(huge, r.Value) || len(r.Value) == 0 || len(r.Value) > truncatedValueBytes {
		t.Fatalf("dead letter value is %d bytes, want a prefix of the record of at most %d", len(r.Value), truncatedValueBytes)
	}
	if !strings.HasPrefix(header(r, stocklake.HeaderSource), topic+"/") || header(r, stocklake.HeaderError) == "" || header(r, stocklake.HeaderSourceTopicID) == "" {
		t.Fatalf("truncated dead letter lacks its source or reason: %v", r.Headers)
	}
}

func TestSinkOversizedDeadLetter(t *testing.T) { testOversizedDeadLetter(t, fakeTopic) }

// TestTruncateDeadLetterGivesUp checks that a dead letter refused even
// without its value is a configuration error, not retried forever.
func TestTruncateDeadLetterGivesUp(t *testing.T) {
	r := &kgo.Record{Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: stocklake.HeaderSource, Value: []byte("t/0/1")}, {Key: "x", Value: []byte("y")}}}
	one := truncateDeadLetter(r, 1)
	if header2(one, stocklake.HeaderOriginalSize) != "1,1" || header2(one, "x") != "" || header2(one, stocklake.HeaderSource) != "t/0/1" {
		t.Fatalf("level 1: %v", one.Headers)
	}
	two := truncateDeadLetter(one, 2)
	if len(two.Value) != 0 || header2(two, stocklake.HeaderOriginalSize) != "1,1" {
		t.Fatalf("level 2: value %q headers %v", two.Value, two.Headers)
	}
	if truncateDeadLetter(two, 3) != nil {
		t.Fatal("level 3 should give up")
	}
	if isRetriable(kerr.TopicAuthorizationFailed) || isRetriable(kerr.InvalidRecord) || !isRetriable(kerr.NotLeaderForPartition) {
		t.Fatal("produce errors misclassified")
	}
}

func header2(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestSinkRefusesFutureEventTimes mixes ticks and JSON records stamped
// 9999-12-31 into good ones: they go to the dead-letter topic with the
// reason, and no partition of the year 9999 appears.
func testRefusesFutureEventTimes(t *testing.T, open openTopic) {
	for _, tc := range []struct {
		name, schema string
		bad          func(i int) []byte
	}{
		{"tick", SchemaTick, func(i int) []byte {
			tk := stocklake.Tick{Symbol: "FUT", Time: time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC), Price: 1, Size: 1, TradeID: strconv.Itoa(i)}
			return tk.AppendJSON(nil)
		}},
		{"json", SchemaJSON, func(i int) []byte {
			return []byte(fmt.Sprintf(`{"symbol":"FUT","ts":"9999-12-31T23:00:00Z","trade_id":"%d"}`, i))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc, topic := open(t, "ticks")
			good := testTicks(300)
			var keys, values [][]byte
			bad := 0
			for i := range good {
				keys = append(keys, []byte(good[i].Symbol))
				values = append(values, good[i].AppendJSON(nil))
				if i%100 == 0 {
					keys = append(keys, []byte("FUT"))
					values = append(values, tc.bad(i))
					bad++
				}
			}
			produceValues(t, kc, topic, keys, values)
			dir := t.TempDir()
			st, _ := file.New(dir)
			s, err := runSinkUntil(t, Config{Kafka: kc, Topic: topic, Group: topic + "-sink", Store: st, Schema: tc.schema, FlushInterval: 50 * time.Millisecond},
				func(s *Sink) bool {
					return s.Stats().Records.Load() == int64(len(values)) && s.Stats().Buffered.Load() == 0 && s.Stats().Lag.Load() == 0
				})
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Stats().Rows.Load(); got != int64(len(good)) {
				t.Fatalf("landed %d rows, want %d", got, len(good))
			}
			objs, _ := st.List(context.Background(), TableName(topic)+"/")
			for _, o := range objs {
				if strings.Contains(o.Key, "9999") {
					t.Fatalf("future record landed in %s", o.Key)
				}
			}
			dl := readDLQ(t, kc, topic+".dlq")
			if len(dl) != bad {
				t.Fatalf("dead-letter topic has %d records, want %d", len(dl), bad)
			}
			for _, r := range dl {
				if !strings.Contains(header(r, stocklake.HeaderError), "ahead of the wall clock") {
					t.Fatalf("dead letter reason %q does not say the event time is in the future", header(r, stocklake.HeaderError))
				}
			}
		})
	}
}

func TestSinkRefusesFutureEventTimes(t *testing.T) { testRefusesFutureEventTimes(t, fakeTopic) }

// TestSinkPoisonPartitionValue partitions by a field whose values make a
// folder name over 255 bytes, or object keys over 1,024 bytes: those
// records go to the dead-letter topic and the sink keeps landing the rest.
func testPoisonPartitionValue(t *testing.T, open openTopic) {
	kc, topic := open(t, "prices")
	var keys, values [][]byte
	bad := 0
	for i := 0; i < 200; i++ {
		a, b := "NYA", "X"
		switch i % 50 {
		case 7: // one folder name of 300 bytes
			a = strings.Repeat("v", 300)
			bad++
		case 9: // folder names under 255 bytes, a key over 1,024
			a, b = strings.Repeat("w", 250), strings.Repeat("%", 240) // '%' escapes to 3 bytes: 720
			bad++
		}
		keys = append(keys, []byte("k"))
		values = append(values, []byte(fmt.Sprintf(`{"ts":"2026-11-26T14:00:%02dZ","a":%q,"b":%q,"i":%d}`, i%60, a, b, i)))
	}
	produceValues(t, kc, topic, keys, values)
	st, _ := file.New(t.TempDir())
	part, err := ParsePartitioning("dt,a,b")
	if err != nil {
		t.Fatal(err)
	}
	s, err := runSinkUntil(t, Config{Kafka: kc, Topic: topic, Group: topic + "-sink", Store: st, Schema: SchemaJSON, Partitioning: part, FlushInterval: 50 * time.Millisecond},
		func(s *Sink) bool {
			return s.Stats().Records.Load() == int64(len(values)) && s.Stats().Buffered.Load() == 0 && s.Stats().Lag.Load() == 0
		})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Stats().Rows.Load(), int64(len(values)-bad); got != want {
		t.Fatalf("landed %d rows, want %d", got, want)
	}
	dl := readDLQ(t, kc, topic+".dlq")
	if len(dl) != bad {
		t.Fatalf("dead-letter topic has %d records, want %d", len(dl), bad)
	}
	for _, r := range dl {
		if header(r, stocklake.HeaderErrorKind) != "partition" || !strings.Contains(header(r, stocklake.HeaderError), "bytes") {
			t.Fatalf("dead letter kind %q reason %q", header(r, stocklake.HeaderErrorKind), header(r, stocklake.HeaderError))
		}
	}
}

func TestSinkPoisonPartitionValue(t *testing.T) { testPoisonPartitionValue(t, fakeTopic) }

// TestCheckPathCountsS3Prefix checks key lengths against S3's limit with
// the lake's prefix, which S3 keys include.
func TestCheckPathCountsS3Prefix(t *testing.T) {
	path := []byte("dt=2026-11-26/v=" + strings.Repeat("x", 200) + "/w=" + strings.Repeat("y", 200) + "/z=" + strings.Repeat("z", 200))
	s := &Sink{keyBase: keyBase("file:///tmp/lake", "ticks", stocklake.FormatParquet)}
	if err := s.checkPath(path); err != nil {
		t.Fatalf("a %d-byte path refused on file://: %v", len(path), err)
	}
	s.keyBase = keyBase("s3://bucket/"+strings.Repeat("p", 400)+"?region=x", "ticks", stocklake.FormatParquet)
	if err := s.checkPath(path); !errors.Is(err, errPartition) {
		t.Fatalf("a %d-byte path under a 400-byte S3 prefix: %v, want refused", len(path), err)
	}
}

// TestSinkBoundsOpenPartitions lands 1,000 ticks in 1,000 distinct hours.
// Each open lake partition costs a Parquet writer: the memory bound must
// count it, and open partitions must stay within MaxOpenPartitions.
func testBoundsOpenPartitions(t *testing.T, open openTopic) {
	base := time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC)
	ticks := make([]stocklake.Tick, 1000)
	for i := range ticks {
		ticks[i] = stocklake.Tick{Symbol: "S" + strconv.Itoa(i%7), Time: base.Add(time.Duration(i) * time.Hour), Price: 1, Size: 1, TradeID: strconv.Itoa(i)}
	}
	for _, tc := range []struct {
		name          string
		maxBuffer     int64
		maxOpen, peak int
	}{
		{"memory bound", 2 << 20, 10_000, 1 << 20 / groupOverhead},
		{"open partitions", 0, 0, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc, topic := open(t, "ticks")
			produceTicks(t, kc, topic, ticks)
			st, _ := file.New(t.TempDir())
			s, err := runSinkUntil(t, Config{Kafka: kc, Topic: topic, Group: topic + "-sink", Store: st, Schema: SchemaTick, FlushInterval: time.Hour,
				MaxBufferBytes: tc.maxBuffer, MaxOpenPartitions: tc.maxOpen},
				func(s *Sink) bool { return s.Stats().Records.Load() == int64(len(ticks)) })
			if err != nil {
				t.Fatal(err)
			}
			rows, _ := readLakeTicks(t, st, TableName(topic))
			assertExactlyOnce(t, rows, ticks)
			if got := s.Stats().PeakOpenPartitions.Load(); got > int64(tc.peak) || got == 0 {
				t.Fatalf("%d lake partitions open at once, want at most %d", got, tc.peak)
			}
			// Batches get the bound less what is set aside for Kafka
			// fetches: half of a bound this small.
			if tc.maxBuffer > 0 && s.Stats().PeakBuffered.Load() > tc.maxBuffer/2 {
				t.Fatalf("buffered %d bytes, over the %d the %d bound leaves batches", s.Stats().PeakBuffered.Load(), tc.maxBuffer/2, tc.maxBuffer)
			}
			if s.Stats().OpenPartitions.Load() != 0 || s.Stats().Buffered.Load() != 0 {
				t.Fatalf("after shutdown %d partitions open, %d bytes buffered", s.Stats().OpenPartitions.Load(), s.Stats().Buffered.Load())
			}
			t.Logf("peak: %d open partitions, %d bytes buffered; %d objects", s.Stats().PeakOpenPartitions.Load(), s.Stats().PeakBuffered.Load(), s.Stats().Objects.Load())
		})
	}
}

func TestSinkBoundsOpenPartitions(t *testing.T) { testBoundsOpenPartitions(t, fakeTopic) }

// TestSinkDeadLettersExactlyOnceAcrossCrash crashes the sink after a
// batch's dead letters are sent and before its offsets are committed. The
// next run reads the batch again; the dead-letter topic must hold each bad
// record once.
// testDeadLettersExactlyOnceAcrossCrash crashes a sink between sending a
// batch's dead letters and committing the batch, then resumes: every dead
// letter must be in the dead-letter topic once. With ice, the lake is an
// Iceberg table, so the resumed sink starts from the table's snapshot
// offsets (there is no manifest to say which dead letters were sent).
func testDeadLettersExactlyOnceAcrossCrash(t *testing.T, open openTopic, ice bool) {
	kc, topic := open(t, "ticks")
	good := testTicks(3000)
	var keys, values [][]byte
	sent := map[string]int{}
	for i := range good {
		keys = append(keys, []byte(good[i].Symbol))
		values = append(values, good[i].AppendJSON(nil))
		if i%30 == 0 {
			v := fmt.Sprintf(`{"symbol":"BAD","ts":"never","n":%d}`, i)
			keys = append(keys, []byte(good[i].Symbol))
			values = append(values, []byte(v))
			sent[v]++
		}
	}
	produceValues(t, kc, topic, keys, values)
	var st stocklake.ObjectStore
	st, _ = file.New(t.TempDir())
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var l iceLake
	var committer TableCommitter // nil: Hive
	if ice {
		l = newIceLake(t)
		st, committer = l.store, l.table
	}

	// Run 1 dies between sending a batch's dead letters and committing.
	s1, err := New(Config{Kafka: kc, Topic: topic, Group: topic + "-sink", Store: st, Schema: SchemaTick, MaxRows: 400, FlushInterval: time.Hour, Logger: logger,
		Committer: committer})
	if err != nil {
		t.Fatal(err)
	}
	var crashed atomic.Int64
	s1.afterDeadLetters = func(p int32) error {
		if s1.Stats().DeadLetters.Load() >= 20 {
			crashed.Add(1)
			return errDied
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s1.Run(ctx); !errors.Is(err, errDied) {
		t.Fatalf("run 1 ended with %v, want the simulated crash", err)
	}
	if crashed.Load() == 0 || s1.Stats().DeadLetters.Load() < 20 {
		t.Fatalf("run 1 did not crash after sending dead letters (%d sent)", s1.Stats().DeadLetters.Load())
	}
	// Run 2 resumes from the committed offsets and finishes.
	cfg2 := Config{Kafka: kc, Topic: topic, Group: topic + "-sink", Store: st, Schema: SchemaTick, MaxRows: 700, FlushInterval: 50 * time.Millisecond,
		ExitWhenIdle: true}
	if ice {
		cfg2.Committer = l.open(t) // as another process would
	}
	s2, err := runSinkUntil(t, cfg2,
		func(s *Sink) bool {
			return false // until it has caught up and exits
		})
	if err != nil {
		t.Fatal(err)
	}
	if ice {
		l.assertTableExactlyOnce(t, good)
	} else {
		rows, _ := readLakeTicks(t, st, TableName(topic))
		assertExactlyOnce(t, rows, good)
	}
	dl := readDLQ(t, kc, topic+".dlq")
	for _, r := range dl {
		sent[string(r.Value)]--
	}
	for v, n := range sent {
		if n != 0 {
			t.Fatalf("bad record %s: %d more sent than in the dead-letter topic (%d dead letters)", v, n, len(dl))
		}
	}
	if s2.Stats().DeadLettersSkipped.Load() == 0 {
		t.Fatal("run 2 re-read no dead letters that run 1 had sent: the crash did not hit an uncommitted batch")
	}
	t.Logf("run 1 sent %d dead letters before crashing; run 2 skipped %d already sent", s1.Stats().DeadLetters.Load(), s2.Stats().DeadLettersSkipped.Load())
}

func TestSinkDeadLettersExactlyOnceAcrossCrash(t *testing.T) {
	testDeadLettersExactlyOnceAcrossCrash(t, fakeTopic, false)
}

// TestIcebergSinkDeadLettersExactlyOnceAcrossCrash: the same with the
// offsets carried by an Iceberg table.
func TestIcebergSinkDeadLettersExactlyOnceAcrossCrash(t *testing.T) {
	testDeadLettersExactlyOnceAcrossCrash(t, fakeTopic, true)
}

// TestSinkRefusesLongTableName: object file names start with the table
// name, so one that leaves no room for the rest is a configuration error,
// not a write retried forever.
func TestSinkRefusesLongTableName(t *testing.T) {
	st, _ := file.New(t.TempDir())
	if _, err := New(Config{Topic: "t", Store: st, Table: strings.Repeat("t", 193)}); err != nil {
		t.Fatalf("193-byte table name refused: %v", err)
	}
	if _, err := New(Config{Topic: "t", Store: st, Table: strings.Repeat("t", 194)}); !errors.Is(err, stocklake.ErrConfig) {
		t.Fatalf("194-byte table name: %v, want ErrConfig", err)
	}
}

// openTopic returns a cluster and a fresh topic named after name.
type openTopic func(t *testing.T, name string) (kafka.Config, string)

// fakeTopic opens a topic and its dead-letter topic on an in-process broker.
func fakeTopic(t *testing.T, name string) (kafka.Config, string) {
	return newCluster(t, name, name+".dlq"), name
}

// TestSinkHostileInputIntegration runs the hostile-input cases against a
// real Kafka (STOCKLAKE_KAFKA_BROKERS): its own record size limits, groups
// and offsets.
func TestSinkHostileInputIntegration(t *testing.T) {
	brokers := os.Getenv("STOCKLAKE_KAFKA_BROKERS")
	if brokers == "" {
		t.Skip("STOCKLAKE_KAFKA_BROKERS is not set (scripts/kafka start prints it)")
	}
	kc := kafka.Config{Brokers: strings.Split(brokers, ",")}
	real := func(t *testing.T, name string) (kafka.Config, string) {
		b := make([]byte, 4)
		crand.Read(b)
		topic := name + "-" + hex.EncodeToString(b)
		cl, err := kc.NewClient()
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := kafka.EnsureTopic(ctx, cl, kafka.TopicSpec{Name: topic, Partitions: 3}); err != nil {
			t.Fatal(err)
		}
		return kc, topic
	}
	t.Run("oversized dead letter", func(t *testing.T) { testOversizedDeadLetter(t, real) })
	t.Run("future event times", func(t *testing.T) { testRefusesFutureEventTimes(t, real) })
	t.Run("poison partition value", func(t *testing.T) { testPoisonPartitionValue(t, real) })
	t.Run("open partitions", func(t *testing.T) { testBoundsOpenPartitions(t, real) })
	t.Run("dead letters exactly once across a crash", func(t *testing.T) { testDeadLettersExactlyOnceAcrossCrash(t, real, false) })
	t.Run("dead letters exactly once across a crash, Iceberg", func(t *testing.T) { testDeadLettersExactlyOnceAcrossCrash(t, real, true) })
}
