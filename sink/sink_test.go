package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/source"
)

// newCluster starts an in-process broker with one 3-partition topic.
func newCluster(t *testing.T, topics ...string) kafka.Config {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return kafka.Config{Brokers: c.ListenAddrs()}
}

// testTicks makes n valid ticks over symbols, spread across two hours.
func testTicks(n int) []stocklake.Tick {
	base := time.Date(2026, 11, 26, 14, 59, 0, 0, time.UTC)
	syms := []string{"AAPL", "MSFT", "NVDA", "AMZN", "TSLA"}
	out := make([]stocklake.Tick, n)
	for i := range out {
		sym := syms[i%len(syms)]
		out[i] = stocklake.Tick{Symbol: sym, Time: base.Add(time.Duration(i) * 10 * time.Millisecond), Price: 100 + float64(i%100)/10,
			Size: float64(100 * (1 + i%5)), Exchange: "XNAS", TradeID: strconv.Itoa(i), Source: "test"}
	}
	return out
}

func produceValues(t *testing.T, kc kafka.Config, topic string, keys, values [][]byte) {
	t.Helper()
	p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range values {
		if err := p.Produce(ctx, stocklake.Record{Key: keys[i], Value: values[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func produceTicks(t *testing.T, kc kafka.Config, topic string, ticks []stocklake.Tick) {
	keys := make([][]byte, len(ticks))
	values := make([][]byte, len(ticks))
	for i := range ticks {
		keys[i] = []byte(ticks[i].Symbol)
		values[i] = ticks[i].AppendJSON(nil)
	}
	produceValues(t, kc, topic, keys, values)
}

// runSinkUntil runs a sink until cond holds (checked every 20ms) or 30s pass,
// then stops it and returns Run's error.
func runSinkUntil(t *testing.T, cfg Config, cond func(*Sink) bool) (*Sink, error) {
	t.Helper()
	return runSinkWith(t, cfg, nil, cond)
}

// readLakeTicks reads every tick Parquet object under table.
func readLakeTicks(t *testing.T, st stocklake.ObjectStore, table string) (rows []TickRow, keys []string) {
	t.Helper()
	objs, err := st.List(context.Background(), table+"/")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, ".parquet") {
			continue
		}
		keys = append(keys, o.Key)
		data, err := st.GetRange(context.Background(), o.Key, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parquet.Read[TickRow](bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("read %s: %v", o.Key, err)
		}
		rows = append(rows, got...)
	}
	return rows, keys
}

// assertExactlyOnce checks that rows hold each of want exactly once.
func assertExactlyOnce(t *testing.T, rows []TickRow, want []stocklake.Tick) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range rows {
		seen[r.Symbol+"/"+r.TradeID]++
	}
	if len(rows) != len(want) {
		t.Errorf("lake has %d rows, want %d", len(rows), len(want))
	}
	for _, w := range want {
		if n := seen[w.Symbol+"/"+w.TradeID]; n != 1 {
			t.Fatalf("tick %s/%s is in the lake %d times, want once", w.Symbol, w.TradeID, n)
		}
	}
}

func TestSinkLandsTicksExactlyOnce(t *testing.T) {
	kc := newCluster(t, "ticks")
	ticks := testTicks(20_000)
	produceTicks(t, kc, "ticks", ticks)
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	var lastOnCommit atomic.Int64
	s, err := runSinkUntil(t, Config{Kafka: kc, Topic: "ticks", Store: st, MaxRows: 3000, FlushInterval: time.Hour,
		OnCommit: func(int32, int64) { lastOnCommit.Store(time.Now().UnixNano()) }},
		func(s *Sink) bool { return s.Stats().Records.Load() == int64(len(ticks)) })
	if err != nil {
		t.Fatal(err)
	}
	// Stats.LastCommit is the time of the last commit (bench/sink.sh
	// reports the time to it): at or before the last OnCommit call, after
	// the run began.
	if last := s.Stats().LastCommit.Load(); last < before.UnixNano() || last > lastOnCommit.Load() {
		t.Errorf("Stats.LastCommit = %v, want between the start %v and the last OnCommit %v", time.Unix(0, last), before, time.Unix(0, lastOnCommit.Load()))
	}
	rows, keys := readLakeTicks(t, st, "ticks")
	assertExactlyOnce(t, rows, ticks)
	// Two event hours, three partitions: objects under both hour folders.
	var h14, h15 bool
	for _, k := range keys {
		h14 = h14 || strings.HasPrefix(k, "ticks/dt=2026-11-26/hour=14/ticks+")
		h15 = h15 || strings.HasPrefix(k, "ticks/dt=2026-11-26/hour=15/ticks+")
	}
	if !h14 || !h15 {
		t.Fatalf("objects not partitioned by hour: %v", keys)
	}
	// Event times survive as microseconds.
	if rows[0].TS%1000 != 0 && rows[0].TS <= 0 {
		t.Fatalf("bad ts %d", rows[0].TS)
	}
}

// flakyStore fails every Put after a budget of successful ones, as if the
// process died mid-batch.
type flakyStore struct {
	stocklake.ObjectStore
	budget atomic.Int64
}

var errDied = fmt.Errorf("simulated crash: %w", stocklake.ErrConfig) // ErrConfig: not retried

func (f *flakyStore) Put(ctx context.Context, key string, body io.Reader) error {
	if f.budget.Add(-1) < 0 {
		return errDied
	}
	return f.ObjectStore.Put(ctx, key, body)
}

func (f *flakyStore) PutIf(ctx context.Context, key string, body io.Reader, ifVersion string) (string, error) {
	if f.budget.Add(-1) < 0 {
		return "", errDied
	}
	return f.ObjectStore.PutIf(ctx, key, body, ifVersion)
}

func TestSinkRecoversUncommittedBatches(t *testing.T) {
	kc := newCluster(t, "ticks")
	ticks := testTicks(30_000)
	produceTicks(t, kc, "ticks", ticks)
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Each run dies after a few writes, leaving written-but-uncommitted
	// objects; batch sizes differ between runs so later runs rewrite both
	// larger and smaller batches than the ones they recover.
	crashes := 0
	for i, maxRows := range []int{5000, 2000, 7000, 1500} {
		fs := &flakyStore{ObjectStore: st}
		fs.budget.Store(int64(3 + i))
		_, err := runSinkUntil(t, Config{Kafka: kc, Topic: "ticks", Store: fs, MaxRows: maxRows, FlushInterval: 200 * time.Millisecond},
			func(s *Sink) bool {
				return s.Stats().Records.Load() > 0 && s.Stats().Lag.Load() == 0 && s.Stats().Buffered.Load() == 0
			})
		if errors.Is(err, errDied) {
			crashes++
		} else if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	if crashes < 3 {
		t.Fatalf("only %d of 4 runs crashed mid-batch; the test does not test recovery", crashes)
	}
	// Lag is known only for partitions fetched so far: let the sink decide
	// from the committed and end offsets that it has caught up.
	_, err = runSinkUntil(t, Config{Kafka: kc, Topic: "ticks", Store: st, MaxRows: 4000, FlushInterval: 100 * time.Millisecond, ExitWhenIdle: true},
		func(s *Sink) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := readLakeTicks(t, st, "ticks")
	assertExactlyOnce(t, rows, ticks)
}

func TestSinkDeadLetters(t *testing.T) {
	kc := newCluster(t, "ticks", "ticks.dlq")
	good := testTicks(500)
	var keys, values [][]byte
	bad := 0
	for i := range good {
		keys = append(keys, []byte(good[i].Symbol))
		values = append(values, good[i].AppendJSON(nil))
		if i%50 == 0 {
			keys = append(keys, []byte("BAD"))
			values = append(values, []byte(`{"symbol":"BAD","ts":"yesterday","price":1,"trade_id":"x"}`))
			bad++
		}
	}
	produceValues(t, kc, "ticks", keys, values)
	st, _ := file.New(t.TempDir())
	s, err := runSinkUntil(t, Config{Kafka: kc, Topic: "ticks", Store: st, Schema: SchemaTick, FlushInterval: 50 * time.Millisecond},
		func(s *Sink) bool {
			return s.Stats().Records.Load() == int64(len(values)) && s.Stats().Buffered.Load() == 0
		})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().DeadLetters.Load(); got != int64(bad) {
		t.Fatalf("dead letters = %d, want %d", got, bad)
	}
	rows, _ := readLakeTicks(t, st, "ticks")
	assertExactlyOnce(t, rows, good)

	cl, err := kc.NewClient(kgo.ConsumeTopics("ticks.dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var dl []*kgo.Record
	for len(dl) < bad && ctx.Err() == nil {
		dl = append(dl, cl.PollFetches(ctx).Records()...)
	}
	if len(dl) != bad {
		t.Fatalf("dead-letter topic has %d records, want %d", len(dl), bad)
	}
	for _, r := range dl {
		hs := map[string]string{}
		for _, h := range r.Headers {
			hs[h.Key] = string(h.Value)
		}
		if !strings.Contains(hs[stocklake.HeaderError], "ts") || !strings.HasPrefix(hs[stocklake.HeaderSource], "ticks/") || string(r.Key) != "BAD" {
			t.Fatalf("dead letter lacks its reason or source: key %q headers %v", r.Key, hs)
		}
	}
}

func TestSinkJSONTopic(t *testing.T) {
	kc := newCluster(t, "prices")
	var keys, values [][]byte
	for i := 0; i < 300; i++ {
		day := time.Date(2020, 1, 1+i%3, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
		v := fmt.Sprintf(`{"Index":"NYA","Date":%q,"Open":%d.5,"Close":%d,"Volume":%d,"Note":null}`, day, i, i, i*10)
		if i == 150 {
			v = fmt.Sprintf(`{"Index":"NYA","Date":%q,"Open":1.25,"Close":2.5,"Volume":7,"Extra":true}`, day)
		}
		keys = append(keys, []byte("NYA"))
		values = append(values, []byte(v))
	}
	produceValues(t, kc, "prices", keys, values)
	st, _ := file.New(t.TempDir())
	part, _ := ParsePartitioning("dt")
	_, err := runSinkUntil(t, Config{Kafka: kc, Topic: "prices", Store: st, Partitioning: part, FlushInterval: 50 * time.Millisecond},
		func(s *Sink) bool { return s.Stats().Rows.Load() == 300 })
	if err != nil {
		t.Fatal(err)
	}
	objs, _ := st.List(context.Background(), "prices/")
	dirs := map[string]bool{}
	total := int64(0)
	for _, o := range objs {
		dirs[o.Key[:strings.LastIndexByte(o.Key, '/')]] = true
		data, _ := st.GetRange(context.Background(), o.Key, 0, -1)
		f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		total += f.NumRows()
		types := map[string]string{}
		for _, c := range f.Schema().Fields() {
			types[c.Name()] = c.Type().String()
		}
		if types["Close"] == "" || types["Index"] == "" || types["Date"] == "" {
			t.Fatalf("%s: columns %v", o.Key, types)
		}
		if !strings.Contains(types["Index"], "STRING") && !strings.Contains(types["Index"], "BYTE_ARRAY") {
			t.Fatalf("Index column type %s, want a string", types["Index"])
		}
		if strings.Contains(o.Key, "dt=2020-01-01") && types["Open"] != "DOUBLE" {
			t.Fatalf("Open column type %s, want DOUBLE (widened int and float)", types["Open"])
		}
	}
	if total != 300 {
		t.Fatalf("lake has %d rows, want 300", total)
	}
	for _, d := range []string{"prices/dt=2020-01-01", "prices/dt=2020-01-02", "prices/dt=2020-01-03"} {
		if !dirs[d] {
			t.Fatalf("missing partition %s in %v", d, dirs)
		}
	}
}

func TestSinkRollsOnAgeWithoutNewData(t *testing.T) {
	kc := newCluster(t, "ticks")
	ticks := testTicks(10)
	produceTicks(t, kc, "ticks", ticks)
	st, _ := file.New(t.TempDir())
	// The sink keeps running; only the age-based roll can write these rows.
	s, err := runSinkUntil(t, Config{Kafka: kc, Topic: "ticks", Store: st, FlushInterval: 200 * time.Millisecond},
		func(s *Sink) bool { return s.Stats().Rows.Load() == 10 })
	if err != nil {
		t.Fatal(err)
	}
	if s.Stats().Commits.Load() == 0 {
		t.Fatal("no commits")
	}
}

// countingStore records the largest batch of buffered bytes seen at a Put.
func TestSinkBoundsMemory(t *testing.T) {
	kc := newCluster(t, "ticks")
	ticks := testTicks(20_000)
	produceTicks(t, kc, "ticks", ticks)
	st, _ := file.New(t.TempDir())
	var maxBuffered atomic.Int64
	var mu sync.Mutex
	var s *Sink
	const limit = 256 << 10
	cfg := Config{Kafka: kc, Topic: "ticks", Store: st, MaxBufferBytes: limit, FlushInterval: time.Hour,
		OnCommit: func(int32, int64) {
			mu.Lock()
			defer mu.Unlock()
			if b := s.Stats().Buffered.Load(); b > maxBuffered.Load() {
				maxBuffered.Store(b)
			}
		}}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	var err error
	s, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for s.Stats().Records.Load() < int64(len(ticks)) {
		select {
		case err := <-done:
			t.Fatalf("sink stopped: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rows, _ := readLakeTicks(t, st, "ticks")
	assertExactlyOnce(t, rows, ticks)
	// A poll adds at most one fetch (8 MiB per partition at most here, in
	// practice far less) beyond the limit before the sink writes.
	if s.Stats().Objects.Load() < 5 {
		t.Fatalf("only %d objects: memory bound did not force early writes", s.Stats().Objects.Load())
	}
	if maxBuffered.Load() > 8<<20 {
		t.Fatalf("buffered %d bytes, far over the %d limit", maxBuffered.Load(), limit)
	}
	// After each record the sink writes batches until they are within
	// the bound less what it sets aside for Kafka fetches: half of a bound
	// this small.
	if peak := s.Stats().PeakBuffered.Load(); peak > limit/2 {
		t.Fatalf("batches held %d bytes, more than the %d the %d bound leaves them", peak, limit/2, limit)
	}
}

// TestSinkJSONEpochTimeBecomesTimestamp lands bar-like JSON whose event
// time is epoch microseconds: the column must be a Parquet timestamp.
func TestSinkJSONEpochTimeBecomesTimestamp(t *testing.T) {
	kc := newCluster(t, "bars.1m")
	base := time.Date(2026, 11, 23, 14, 30, 0, 0, time.UTC)
	var keys, values [][]byte
	for i := 0; i < 50; i++ {
		ts := base.Add(time.Duration(i) * time.Minute)
		keys = append(keys, []byte("AAPL"))
		values = append(values, []byte(fmt.Sprintf(`{"symbol":"AAPL","ts":%d,"open":%d.5,"trades":%d}`, ts.UnixMicro(), 100+i, i)))
	}
	produceValues(t, kc, "bars.1m", keys, values)
	st, _ := file.New(t.TempDir())
	_, err := runSinkUntil(t, Config{Kafka: kc, Topic: "bars.1m", Store: st, Schema: SchemaJSON, FlushInterval: 50 * time.Millisecond},
		func(s *Sink) bool { return s.Stats().Rows.Load() == 50 })
	if err != nil {
		t.Fatal(err)
	}
	objs, _ := st.List(context.Background(), "bars_1m/dt=2026-11-23/")
	if len(objs) == 0 {
		t.Fatal("no objects under bars_1m/dt=2026-11-23/")
	}
	var seen []int64
	for _, o := range objs {
		data, _ := st.GetRange(context.Background(), o.Key, 0, -1)
		f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		col, ok := f.Schema().Lookup("ts")
		if !ok || !strings.Contains(col.Node.Type().String(), "TIMESTAMP") {
			t.Fatalf("ts column is %v, want a TIMESTAMP", col.Node.Type())
		}
		rows, err := parquet.Read[struct {
			TS time.Time `parquet:"ts,timestamp(microsecond)"`
		}](bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			seen = append(seen, r.TS.UnixMicro())
		}
	}
	if len(seen) != 50 {
		t.Fatalf("read %d rows, want 50", len(seen))
	}
	for _, us := range seen {
		if us < base.UnixMicro() || us > base.Add(50*time.Minute).UnixMicro() || us%60_000_000 != 0 {
			t.Fatalf("timestamp %d is not one of the bar starts", us)
		}
	}
}

// TestSinkExitsWhenIdleOnTransactionalTopic lands a topic written in
// transactions (as the analyzer writes bars): commit markers follow the
// last record, and --exit-when-idle must still see the sink as caught up.
func TestSinkExitsWhenIdleOnTransactionalTopic(t *testing.T) {
	kc := newCluster(t, "bars.1m")
	cl, err := kc.NewClient(kgo.TransactionalID("test-bars"), kgo.DefaultProduceTopic("bars.1m"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := time.Date(2026, 11, 23, 14, 30, 0, 0, time.UTC)
	for txn := 0; txn < 3; txn++ {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			ts := base.Add(time.Duration(txn*10+i) * time.Minute)
			v := fmt.Sprintf(`{"symbol":"S%d","ts":%d,"close":1.5}`, i%3, ts.UnixMicro())
			if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i % 3)), Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	st, _ := file.New(t.TempDir())
	s, err := New(Config{Kafka: kc, Topic: "bars.1m", Store: st, Schema: SchemaJSON, ExitWhenIdle: true,
		FlushInterval: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("the sink did not exit when idle")
	}
	if got := s.Stats().Rows.Load(); got != 30 {
		t.Fatalf("landed %d rows, want 30", got)
	}
}

func TestFetchMaxBytes(t *testing.T) {
	for bound, want := range map[int64]int32{256 << 20: 512 << 10, 128 << 20: 256 << 10, 32 << 20: 128 << 10, 1 << 20: 128 << 10, 1 << 30: 1 << 20} {
		if got := fetchMaxBytes(bound); got != want {
			t.Errorf("fetchMaxBytes(%d) = %d, want %d", bound, got, want)
		}
	}
}

// TestFetchReserveCoversFetches checks that fetchReserve, the part of the
// default memory bound set aside for the Kafka client, covers what a
// client with the sink's fetch options really holds on the heap while the
// sink works through a backlog of simulated ticks (what bench/sink.sh
// lands): each poll's records, the rest of their fetch, and the fetch it
// prefetches. It held 18 MiB with the default 512 KiB fetches, 31 MiB with
// 1 MiB and 87 MiB with the 4 MiB fetches of the default bound before
// issue 18.
func TestFetchReserveCoversFetches(t *testing.T) {
	const bound, want = DefaultMaxBufferBytes, 500_000
	kc := newCluster(t, "ticks")
	sim, err := source.NewSimulator(source.SimulatorConfig{Count: want, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sim.Run(ctx, func(r stocklake.Record) error { return p.Produce(ctx, r) }); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	heap := func() int64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC() // and sync.Pool's victims
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	cl, err := kc.NewClient(append(fetchOpts(bound), kgo.ConsumeTopics("ticks"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	var held int64 // the most the heap held while polling
	for n := 0; n < want; {
		recs := cl.PollRecords(ctx, 20_000).Records() // as Sink.Run polls
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records: %v", n, want, ctx.Err())
		}
		n += len(recs)
		held = max(held, heap())
		runtime.KeepAlive(recs)
	}
	cl.Close()
	held -= heap() // what the client and its records held, beyond the broker and the test
	t.Logf("the Kafka client held at most %d MiB; reserve %d MiB (fetches of %d KiB)", held>>20, fetchReserve(bound)>>20, fetchMaxBytes(bound)>>10)
	if held > fetchReserve(bound) {
		t.Fatalf("the Kafka client held %d bytes, more than the %d the memory bound sets aside for it", held, fetchReserve(bound))
	}
}

// TestBatchBudget checks that batches and fetches share the memory bound.
func TestBatchBudget(t *testing.T) {
	for _, bound := range []int64{1 << 20, 32 << 20, DefaultMaxBufferBytes, 1 << 30} {
		b, r := batchBudget(bound), fetchReserve(bound)
		if b <= 0 || b+r > bound && b != bound/2 {
			t.Errorf("bound %d: batches get %d and fetches %d", bound, b, r)
		}
	}
	if got, want := batchBudget(DefaultMaxBufferBytes), int64(224<<20); got != want {
		t.Errorf("batchBudget(default) = %d, want %d", got, want)
	}
}
