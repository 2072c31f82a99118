package analyze

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/source"
	"github.com/stocklake/stocklake/stream"
)

func newCluster(t testing.TB) kafka.Config {
	_, kc := newFakeCluster(t)
	return kc
}

func newFakeCluster(t testing.TB) (*kfake.Cluster, kafka.Config) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "ticks"), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, kafka.Config{Brokers: c.ListenAddrs()}
}

func quietLogger() *slog.Logger {
	if os.Getenv("ANALYZE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// produceSim writes a deterministic simulator run to topic and returns the
// ticks as they landed, by partition in offset order.
func produceSim(t testing.TB, kc kafka.Config, topic string, cfg source.SimulatorConfig) map[int32][]stocklake.Tick {
	t.Helper()
	return produceSimAs(t, kc, topic, cfg, nil)
}

// produceSimAs is produceSim with each record's value re-encoded by enc
// (nil: the simulator's JSON).
func produceSimAs(t testing.TB, kc kafka.Config, topic string, cfg source.SimulatorConfig, enc func(stocklake.Tick) []byte) map[int32][]stocklake.Tick {
	t.Helper()
	ctx := context.Background()
	sim, err := source.NewSimulator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Run(ctx, func(r stocklake.Record) error {
		if enc != nil {
			tk, err := stocklake.ParseTick(r.Value)
			if err != nil {
				return err
			}
			r.Value = enc(tk)
		}
		return p.Produce(ctx, r)
	}); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	out := map[int32][]stocklake.Tick{}
	for _, r := range readTopic(t, kc, topic) {
		tk, err := stocklake.ParseTick(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		out[r.Partition] = append(out[r.Partition], tk)
	}
	return out
}

// produceTicks writes ticks in order to one partition (manual partitioning).
func produceTicks(t *testing.T, kc kafka.Config, topic string, partition int32, ticks []stocklake.Tick) {
	t.Helper()
	cl, err := kc.NewClient(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range ticks {
		r := &kgo.Record{Topic: topic, Partition: partition, Key: []byte(ticks[i].Symbol), Value: ticks[i].AppendJSON(nil)}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// readTopic returns every committed record of topic, read with
// read_committed isolation up to the last stable offsets.
func readTopic(t testing.TB, kc kafka.Config, topic string) []stocklake.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := kafka.ReadCommitted(ctx, kc, topic)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

type barKey struct {
	window time.Duration
	symbol string
	start  int64
}

type wireBar struct {
	bar stocklake.Bar
	ind stocklake.Indicators
}

// expectedBars runs one stream engine per partition over the ticks, closes
// every window, and returns the final bars. It fails if any tick is late:
// the analyzer must then see none either.
func expectedBars(t *testing.T, cfg stream.Config, parts map[int32][]stocklake.Tick) map[barKey]wireBar {
	t.Helper()
	want := map[barKey]wireBar{}
	for p, ticks := range parts {
		e, err := stream.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var out stream.Output
		for i := range ticks {
			if err := e.Process(p, &ticks[i], &out); err != nil {
				t.Fatal(err)
			}
		}
		e.AdvanceTo(time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC), &out)
		if len(out.Late) > 0 {
			t.Fatalf("test data has %d late ticks; keep out-of-order ticks within delay+lateness", len(out.Late))
		}
		for _, b := range out.Bars {
			if b.Final {
				want[barKey{b.Window, b.Symbol, b.Start.UnixMicro()}] = wireBar{b.Bar, b.Indicators}
			}
		}
	}
	return want
}

// checkBars asserts that the bar topics hold every wanted bar exactly once,
// equal field for field (indicators included), and nothing else.
func checkBars(t *testing.T, kc kafka.Config, a *Analyzer, want map[barKey]wireBar) {
	t.Helper()
	got := map[barKey]int{}
	mismatches := 0
	for _, w := range a.cfg.Stream.Windows {
		for _, r := range readTopic(t, kc, a.BarTopic(w)) {
			b, ind, err := stocklake.ParseBar(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Key) != b.Symbol {
				t.Errorf("bar record key %q, want the symbol %q", r.Key, b.Symbol)
			}
			k := barKey{b.Window, b.Symbol, b.Start.UnixMicro()}
			got[k]++
			exp, ok := want[k]
			switch {
			case !ok:
				t.Errorf("unexpected bar %+v", b)
			case !b.Final || b != exp.bar || !sameIndicators(ind, exp.ind):
				if mismatches++; mismatches <= 5 {
					t.Errorf("bar %v differs:\n got %+v %+v\nwant %+v %+v", k, b, ind, exp.bar, exp.ind)
				}
			}
		}
	}
	dups, missing := 0, 0
	for k := range want {
		switch got[k] {
		case 1:
		case 0:
			if missing++; missing <= 5 {
				t.Errorf("missing bar %v", k)
			}
		default:
			if dups++; dups <= 5 {
				t.Errorf("bar %v appears %d times", k, got[k])
			}
		}
	}
	if missing+dups+mismatches > 0 {
		t.Fatalf("%d bars wanted: %d missing, %d duplicated, %d differ", len(want), missing, dups, mismatches)
	}
}

func sameIndicators(a, b stocklake.Indicators) bool {
	eq := func(x, y float64) bool { return x == y || (x != x && y != y) }
	return a.Bars == b.Bars && eq(a.SMA, b.SMA) && eq(a.EMAFast, b.EMAFast) && eq(a.EMASlow, b.EMASlow) &&
		eq(a.Volatility, b.Volatility) && eq(a.ZClose, b.ZClose) && eq(a.ZVolume, b.ZVolume)
}

var simCfg = source.SimulatorConfig{
	Symbols: 12, Seed: 7, Count: 30_000, TickInterval: 2 * time.Millisecond,
	OutOfOrderFraction: 0.05, OutOfOrderMax: 700 * time.Millisecond,
}

var streamCfg = stream.Config{
	Windows: []time.Duration{time.Second, 5 * time.Second},
	Delay:   500 * time.Millisecond, Lateness: 500 * time.Millisecond,
	SMAPeriod: 5, EMAFast: 3, EMASlow: 6, VolatilityPeriod: 5, ZPeriod: 5,
}

func baseConfig(kc kafka.Config, group string) Config {
	return Config{
		Kafka: kc, In: "ticks", Group: group, InstanceID: group + "-1", Stream: streamCfg,
		CheckpointInterval: 50 * time.Millisecond, CheckpointRecords: 2000, IdleTimeout: 300 * time.Millisecond, MaxPollRecords: 500,
		Logger: quietLogger(), ExitWhenIdle: true,
	}
}

func runAnalyzer(t *testing.T, cfg Config) (*Analyzer, error) {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return a, a.Run(ctx)
}

func TestBarsEqualEngine(t *testing.T) {
	kc := newCluster(t)
	parts := produceSim(t, kc, "ticks", simCfg)
	want := expectedBars(t, streamCfg, parts)
	if len(want) < 300 {
		t.Fatalf("only %d bars expected; the test data is too small", len(want))
	}
	a, err := runAnalyzer(t, baseConfig(kc, "g1"))
	if err != nil {
		t.Fatal(err)
	}
	checkBars(t, kc, a, want)
	st := a.Stats()
	if st.Ticks.Load() != int64(simCfg.Count) || st.Late.Load() != 0 || st.Bars.Load() != int64(len(want)) {
		t.Errorf("stats: ticks %d late %d bars %d; want %d, 0, %d", st.Ticks.Load(), st.Late.Load(), st.Bars.Load(), simCfg.Count, len(want))
	}
	if st.Checkpoints.Load() == 0 || st.Commits.Load() < 2 {
		t.Errorf("%d commits with %d checkpoints; want several", st.Commits.Load(), st.Checkpoints.Load())
	}
	if n := len(readTopic(t, kc, "ticks.late")); n != 0 {
		t.Errorf("%d late ticks, want none", n)
	}
}

// TestBarsFromAvroTicks: Avro ticks (produce --format avro) make the same
// bars as the engine computes from the ticks.
func TestBarsFromAvroTicks(t *testing.T) {
	kc := newCluster(t)
	parts := produceSimAs(t, kc, "ticks", simCfg, func(tk stocklake.Tick) []byte { return tk.AppendAvro(nil, 1) })
	for _, r := range readTopic(t, kc, "ticks")[:1] {
		if r.Value[0] != stocklake.WireMagic {
			t.Fatalf("record %q is not an Avro tick", r.Value)
		}
	}
	a, err := runAnalyzer(t, baseConfig(kc, "g1"))
	if err != nil {
		t.Fatal(err)
	}
	checkBars(t, kc, a, expectedBars(t, streamCfg, parts))
	if st := a.Stats(); st.Ticks.Load() != int64(simCfg.Count) {
		t.Errorf("analyzer took %d ticks, want %d", st.Ticks.Load(), simCfg.Count)
	}
}

// TestRestartFromCheckpoint crashes the analyzer (returns without
// committing its open transaction, which holds outputs) several times and
// restarts it: the bar topics must still hold every bar exactly once.
func TestRestartFromCheckpoint(t *testing.T) {
	kc := newCluster(t)
	parts := produceSim(t, kc, "ticks", simCfg)
	want := expectedBars(t, streamCfg, parts)
	var a *Analyzer
	crashes := 0
	for _, after := range []int64{3, 5, 2, 7} {
		cfg := baseConfig(kc, "g2")
		var commits atomic.Int64
		cfg.onCommit = func() { commits.Add(1) }
		cfg.crash = func() bool { return commits.Load() >= after && a.inTxn && a.txnFinals > 0 }
		var err error
		a, err = New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err = a.Run(ctx)
		cancel()
		if errors.Is(err, errTestCrash) {
			crashes++
			if a.stats.Restores.Load() == 0 && crashes > 1 {
				t.Errorf("restart %d restored no checkpoint", crashes)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if crashes < 3 {
		t.Fatalf("only %d crashes happened; the test needs several", crashes)
	}
	a, err := runAnalyzer(t, baseConfig(kc, "g2"))
	if err != nil {
		t.Fatal(err)
	}
	if a.stats.Restores.Load() == 0 {
		t.Error("the final run restored no checkpoint")
	}
	checkBars(t, kc, a, want)
}

// TestLateTicksAlertsWebhook checks the late topic, the alerts topic and
// the webhook on hand-made ticks.
func TestLateTicksAlertsWebhook(t *testing.T) {
	kc := newCluster(t)
	base := time.Date(2026, 11, 23, 14, 30, 0, 0, time.UTC)
	tick := func(ms int, price float64, id string) stocklake.Tick {
		return stocklake.Tick{Symbol: "AAPL", Time: base.Add(time.Duration(ms) * time.Millisecond), Price: price, Size: 10, TradeID: id}
	}
	ticks := []stocklake.Tick{
		tick(100, 199, "1"), tick(1500, 201, "2"), tick(2500, 202, "3"),
		tick(500, 198, "4"), // window [0s,1s) closed at watermark 2.5s: late
		tick(3100, 203, "5"),
	}
	produceTicks(t, kc, "ticks", 1, ticks)

	var mu sync.Mutex
	var posted []stocklake.Alert
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		al, err := stocklake.ParseAlert(body)
		if err != nil || r.Header.Get(WebhookHeaderAlertID) == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		posted = append(posted, al)
		mu.Unlock()
	}))
	defer srv.Close()
	wh, err := NewWebhook(WebhookConfig{URL: srv.URL, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(kc, "g3")
	cfg.Stream = stream.Config{
		Windows: []time.Duration{time.Second},
		Rules:   []stream.Rule{{Name: "aapl-200", Kind: stocklake.AlertCross, Symbols: []string{"AAPL"}, Level: 200, Direction: stream.Up, Cooldown: time.Minute}},
	}
	cfg.Webhook = wh
	a, err := runAnalyzer(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	wh.Close(ctx)
	cancel()

	late := readTopic(t, kc, "ticks.late")
	if len(late) != 1 {
		t.Fatalf("%d late ticks, want 1", len(late))
	}
	lt, err := stocklake.ParseLateTick(late[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	if lt.Tick.TradeID != "4" || !slices.Equal(lt.Windows, []time.Duration{time.Second}) || !lt.Watermark.Equal(base.Add(2500*time.Millisecond)) {
		t.Errorf("late tick %+v", lt)
	}
	if a.Stats().Late.Load() != 1 {
		t.Errorf("late counter %d, want 1", a.Stats().Late.Load())
	}

	bars := readTopic(t, kc, "bars.1s")
	if len(bars) != 4 {
		t.Fatalf("%d bars, want 4 (windows 0s to 3s)", len(bars))
	}
	first, _, err := stocklake.ParseBar(bars[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Start.Equal(base) || first.Trades != 1 || first.Close != 199 {
		t.Errorf("first bar %+v: the late tick must not be in it", first)
	}

	alerts := readTopic(t, kc, "alerts")
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1", len(alerts))
	}
	al, err := stocklake.ParseAlert(alerts[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	if al.Rule != "aapl-200" || al.Value != 201 || !al.Time.Equal(base.Add(1500*time.Millisecond)) {
		t.Errorf("alert %+v", al)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posted) != 1 || posted[0] != al {
		t.Errorf("webhook got %+v, want the alert %+v", posted, al)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Stream: stream.Config{Windows: []time.Duration{-time.Second}}},
		{In: "x", AlertsTopic: "x"},
		{OutPrefix: "alerts", AlertsTopic: "alerts.1m"},
		{CommitLatency: -time.Second},
	} {
		if _, err := New(cfg); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
	a, err := New(Config{Stream: stream.Config{Windows: []time.Duration{time.Minute, 5 * time.Minute}}})
	if err != nil {
		t.Fatal(err)
	}
	if a.BarTopic(time.Minute) != "bars.1m" || a.BarTopic(5*time.Minute) != "bars.5m" || a.cfg.StateTopic != "stocklake-analyze.state" {
		t.Errorf("topics %q %q %q", a.BarTopic(time.Minute), a.BarTopic(5*time.Minute), a.cfg.StateTopic)
	}
}

func TestCheckpointChunks(t *testing.T) {
	a, err := New(Config{In: "ticks", Group: "g", StateTopic: "g.state"})
	if err != nil {
		t.Fatal(err)
	}
	// Incompressible state of 2.5 chunks.
	state := make([]byte, ChunkBytes*5/2)
	x := uint64(1)
	for i := range state {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		state[i] = byte(x)
	}
	cp := checkpoint{partition: 2, offset: 1234, maxTs: 99, state: state}
	recs := a.checkpointRecords(&cp, 2, "snap-1")
	if len(recs) != 3 {
		t.Fatalf("%d chunks, want 3", len(recs))
	}
	for _, r := range recs {
		if len(r.Value) > ChunkBytes {
			t.Fatalf("chunk of %d bytes", len(r.Value))
		}
	}
	as := &assembler{in: "ticks", want: map[int32]int64{2: 1234}, dec: a.dec, partial: map[int32]*partialSnap{}, latest: map[int32]*checkpoint{}, seen: map[int32]bool{}}
	// An older, incomplete snapshot's chunk first, then the new chunks out of order.
	old := a.checkpointRecords(&checkpoint{partition: 2, offset: 1000, maxTs: 1, state: state[:ChunkBytes*2]}, 2, "snap-0")
	as.add(old[0])
	for _, i := range []int{2, 0, 1} {
		as.add(recs[i])
	}
	got := as.latest[2]
	if as.err != nil || got == nil || got.offset != 1234 || got.maxTs != 99 || string(got.state) != string(state) {
		t.Fatalf("reassembled %+v, err %v", got, as.err)
	}
}

func TestWebhookRetriesAndDrops(t *testing.T) {
	var calls atomic.Int64
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch {
		case n == 1:
			<-block // hold the sender while alerts queue up
			w.WriteHeader(http.StatusServiceUnavailable)
		case n == 2:
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusBadRequest) // not retried
		}
	}))
	defer srv.Close()
	wh, err := NewWebhook(WebhookConfig{URL: srv.URL, Queue: 2, Backoff: time.Millisecond, MaxDelay: 5 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	alert := func(i int) stocklake.Alert {
		return stocklake.Alert{Rule: fmt.Sprint("r", i), Symbol: "A", Kind: stocklake.AlertCross, Time: time.Unix(int64(i), 0)}
	}
	wh.Notify(alert(0))
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	for i := 1; i <= 5; i++ { // queue holds 2: alerts 1-3 are dropped
		wh.Notify(alert(i))
	}
	close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	wh.Close(ctx)
	cancel()
	st := wh.Stats()
	if st.Dropped != 3 || st.Sent != 1 || st.Failed != 2 || st.Retries != 1 || calls.Load() != 4 {
		t.Errorf("stats %+v after %d calls; want 3 dropped, 1 sent (alert 0 after a retry), 2 failed without retry", st, calls.Load())
	}
	if _, err := NewWebhook(WebhookConfig{URL: "ftp://x"}); !errors.Is(err, stocklake.ErrConfig) {
		t.Errorf("ftp URL: %v", err)
	}
}

// TestScaleOut starts a second instance in the group while the first is
// part way through: the partitions are shared by a rebalance, and the bar
// topics still hold every bar exactly once. The first instance waits, right
// after a poll, once every partition has a commit (and so a checkpoint)
// until the second has been assigned partitions, so the second always
// joins part way through, however fast the first is.
func TestScaleOut(t *testing.T) {
	kc := newCluster(t)
	parts := produceSim(t, kc, "ticks", simCfg)
	want := expectedBars(t, streamCfg, parts)
	cfgA := baseConfig(kc, "g4")
	cfgB := baseConfig(kc, "g4")
	cfgB.InstanceID = "g4-2"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var a, b *Analyzer
	paused := make(chan int64, 1) // ticks the first had consumed when it paused
	cfgA.afterPoll = func(int) {
		if paused == nil || len(a.parts) != 3 {
			return
		}
		for _, p := range a.parts {
			if p.committed < 0 {
				return
			}
		}
		paused <- a.stats.Ticks.Load()
		paused = nil
		for b.stats.Partitions.Load() == 0 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
	}
	var err error
	if a, err = New(cfgA); err != nil {
		t.Fatal(err)
	}
	if b, err = New(cfgB); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- a.Run(ctx) }()
	var at int64
	select {
	case at = <-paused:
	case err := <-errs:
		t.Fatalf("the first instance stopped (%v) before every partition had a commit", err)
	}
	if at >= int64(simCfg.Count) {
		t.Fatalf("the first instance had consumed all %d ticks before the second joined", at)
	}
	go func() { errs <- b.Run(ctx) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if b.Stats().Ticks.Load() == 0 || b.Stats().Restores.Load() == 0 {
		t.Errorf("the second instance consumed %d ticks and restored %d partitions; want it to take over some",
			b.Stats().Ticks.Load(), b.Stats().Restores.Load())
	}
	checkBars(t, kc, a, want)
}

// TestSessionRestart makes one transaction's offset commit fail with an
// error the transactional client cannot recover from: the analyzer starts
// a new session from the committed checkpoints and still writes every bar
// exactly once.
func TestSessionRestart(t *testing.T) {
	c, kc := newFakeCluster(t)
	parts := produceSim(t, kc, "ticks", simCfg)
	want := expectedBars(t, streamCfg, parts)
	var n atomic.Int64
	c.ControlKey(kmsg.TxnOffsetCommit.Int16(), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if n.Add(1) != 4 {
			return nil, nil, false
		}
		req := r.(*kmsg.TxnOffsetCommitRequest)
		resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewTxnOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	a, err := runAnalyzer(t, baseConfig(kc, "g5"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Stats().Restarts.Load() != 1 {
		t.Errorf("%d session restarts, want 1", a.Stats().Restarts.Load())
	}
	checkBars(t, kc, a, want)
}

// TestShutdownAfterPoll cancels the analyzer right after a poll returned
// records, with a transaction open: the session already counts those
// records as consumed, so the shutdown commit must hold their effect (or
// abort). A second run then finishes the input: the bar topics hold every
// bar exactly once, as after an uninterrupted run. Before the fix the
// records were skipped and their offsets committed: bars lost ticks.
func TestShutdownAfterPoll(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pending bool // a rebalance event is pending at shutdown: abort
	}{{"process", false}, {"rebalance-pending", true}} {
		t.Run(tc.name, func(t *testing.T) {
			kc := newCluster(t)
			parts := produceSim(t, kc, "ticks", simCfg)
			want := expectedBars(t, streamCfg, parts)
			group := "g6-" + tc.name
			cfg := baseConfig(kc, group)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var a *Analyzer
			polls, stoppedAt := 0, int64(-1)
			cfg.afterPoll = func(n int) {
				if n == 0 || stoppedAt >= 0 {
					return
				}
				if polls++; polls >= 5 && a.inTxn && a.txnRecords > 0 {
					stoppedAt = a.stats.Ticks.Load()
					if tc.pending {
						a.evMu.Lock()
						a.events = append(a.events, event{revoke: true, parts: map[int32]int64{}})
						a.evMu.Unlock()
					}
					cancel()
				}
			}
			cfg.ExitWhenIdle = false
			var err error
			if a, err = New(cfg); err != nil {
				t.Fatal(err)
			}
			if err := a.Run(ctx); err != nil {
				t.Fatalf("clean shutdown returned %v", err)
			}
			if stoppedAt < 0 || stoppedAt >= int64(simCfg.Count) {
				t.Fatalf("the hook did not stop the analyzer part way through (at %d ticks)", stoppedAt)
			}
			if a.stats.Commits.Load() == 0 {
				t.Fatal("the first run committed nothing before it was stopped")
			}
			if tc.pending && a.stats.Aborts.Load() == 0 {
				t.Error("a shutdown with a rebalance pending did not abort its transaction")
			}
			if !tc.pending && a.stats.Ticks.Load() == stoppedAt {
				t.Error("the records polled at shutdown were not processed")
			}
			b, err := runAnalyzer(t, baseConfig(kc, group))
			if err != nil {
				t.Fatal(err)
			}
			if b.stats.Restores.Load() == 0 {
				t.Error("the second run restored no checkpoint")
			}
			checkBars(t, kc, b, want)
		})
	}
}

var farFuture = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// TestFutureTicksDeadLettered puts three ticks stamped 9999-12-31, one per
// partition, in the middle of a simulator run. They go to the dead-letter
// topic with the reason, do not move the watermark, and every bar of the
// other ticks closes as if they were not there. Before the bound, the
// watermark jumped to the year 9999 and every later tick was late.
func TestFutureTicksDeadLettered(t *testing.T) {
	kc := newCluster(t)
	ctx := context.Background()
	sim, err := source.NewSimulator(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	var recs []stocklake.Record
	if err := sim.Run(ctx, func(r stocklake.Record) error { recs = append(recs, r); return nil }); err != nil {
		t.Fatal(err)
	}
	produce := func(rs []stocklake.Record) {
		p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: "ticks"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if err := p.Produce(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	produce(recs[:len(recs)/3])
	for p := range int32(3) {
		produceTicks(t, kc, "ticks", p, []stocklake.Tick{{Symbol: "AAPL", Time: farFuture, Price: 1, Size: 1, TradeID: fmt.Sprint("future-", p)}})
	}
	// Two records that are not ticks, one larger than a dead letter may be.
	huge := []byte(strings.Repeat("x", MaxDeadLetterBytes+1000))
	produce([]stocklake.Record{{Key: []byte("AAPL"), Value: []byte(`{"not":"a tick"}`)}, {Key: []byte("MSFT"), Value: huge}})
	produce(recs[len(recs)/3:])

	parts := map[int32][]stocklake.Tick{}
	for _, r := range readTopic(t, kc, "ticks") {
		tk, err := stocklake.ParseTick(r.Value)
		if err == nil && !tk.Time.Equal(farFuture) {
			parts[r.Partition] = append(parts[r.Partition], tk)
		}
	}
	want := expectedBars(t, streamCfg, parts)
	a, err := runAnalyzer(t, baseConfig(kc, "g7"))
	if err != nil {
		t.Fatal(err)
	}
	checkBars(t, kc, a, want)
	if n := len(readTopic(t, kc, "ticks.late")); n != 0 {
		t.Errorf("%d late ticks, want none", n)
	}
	if wm := time.UnixMicro(a.stats.Watermark.Load()); wm.After(time.Now()) {
		t.Errorf("watermark %v is in the future", wm)
	}
	dlq := readTopic(t, kc, "g7.dlq")
	if len(dlq) != 5 || a.stats.Future.Load() != 3 || a.stats.Rejected.Load() != 5 {
		t.Fatalf("%d dead letters, %d future, %d rejected; want the 3 future ticks and 2 records that are not ticks", len(dlq), a.stats.Future.Load(), a.stats.Rejected.Load())
	}
	kinds := map[string]int{}
	for _, r := range dlq {
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		kinds[h[stocklake.HeaderErrorKind]]++
		if !strings.HasPrefix(h[stocklake.HeaderSource], "ticks/") || h[stocklake.HeaderError] == "" {
			t.Errorf("dead letter headers %v", h)
		}
		switch h[stocklake.HeaderErrorKind] {
		case "future":
			tk, err := stocklake.ParseTick(r.Value)
			if err != nil || !tk.Time.Equal(farFuture) || !strings.Contains(h[stocklake.HeaderError], "ahead of the wall clock") {
				t.Errorf("future dead letter %q (%v), reason %q", r.Value, err, h[stocklake.HeaderError])
			}
		case "parse":
			if len(r.Value) > MaxDeadLetterBytes || len(r.Value) == MaxDeadLetterBytes && h[stocklake.HeaderTruncatedFrom] != fmt.Sprint(len(huge)) {
				t.Errorf("dead letter of %d bytes, truncated-from %q; want at most %d, the original size in the header", len(r.Value), h[stocklake.HeaderTruncatedFrom], MaxDeadLetterBytes)
			}
		}
	}
	if kinds["future"] != 3 || kinds["parse"] != 2 {
		t.Errorf("dead-letter kinds %v, want 3 future and 2 parse", kinds)
	}
}

// steadyTicks makes n ticks of two symbols on partition 0, 20 ms apart
// from start.
func steadyTicks(start time.Time, n int, tag string) []stocklake.Tick {
	ts := make([]stocklake.Tick, n)
	for i := range ts {
		sym := []string{"AAPL", "MSFT"}[i%2]
		ts[i] = stocklake.Tick{Symbol: sym, Time: start.Add(time.Duration(i) * 20 * time.Millisecond),
			Price: 100 + float64(i%37)/10, Size: float64(1 + i%5), TradeID: fmt.Sprint(tag, i)}
	}
	return ts
}

// TestFrozenCheckpointIgnored restores a checkpoint written with the bound
// disabled after a tick stamped 9999-12-31: its watermark is in the year
// 9999. With the bound on, the analyzer ignores that checkpoint (with a
// warning) and the next ticks make bars again, the same bars as a fresh
// engine makes of them; before, every one of them was late.
func TestFrozenCheckpointIgnored(t *testing.T) {
	kc := newCluster(t)
	base := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	first := steadyTicks(base, 200, "a")
	produceTicks(t, kc, "ticks", 0, first)
	produceTicks(t, kc, "ticks", 0, []stocklake.Tick{{Symbol: "AAPL", Time: farFuture, Price: 1, Size: 1, TradeID: "future"}})
	cfg := baseConfig(kc, "g8")
	cfg.MaxFuture = -1 // as before the bound existed
	a, err := runAnalyzer(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if wm := time.UnixMicro(a.stats.Watermark.Load()); wm.Year() != 9999 {
		t.Fatalf("with the bound disabled the watermark is %v; the test needs it frozen in 9999", wm)
	}
	next := steadyTicks(base.Add(time.Minute), 300, "b")
	produceTicks(t, kc, "ticks", 0, next)
	b, err := runAnalyzer(t, baseConfig(kc, "g8"))
	if err != nil {
		t.Fatal(err)
	}
	if b.stats.Ignored.Load() != 1 {
		t.Errorf("%d checkpoints ignored, want 1", b.stats.Ignored.Load())
	}
	if n := b.stats.Late.Load(); n != 0 {
		t.Errorf("%d of the %d new ticks were late", n, len(next))
	}
	want := expectedBars(t, streamCfg, map[int32][]stocklake.Tick{0: next})
	got := 0
	for _, w := range streamCfg.Windows {
		for _, r := range readTopic(t, kc, b.BarTopic(w)) {
			bar, ind, err := stocklake.ParseBar(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if bar.Start.Before(base.Add(time.Minute)) || bar.Start.Year() == 9999 {
				continue // the first run's
			}
			got++
			if exp, ok := want[barKey{bar.Window, bar.Symbol, bar.Start.UnixMicro()}]; !ok || exp.bar != bar || !sameIndicators(exp.ind, ind) {
				t.Errorf("bar %+v, want %+v", bar, exp.bar)
			}
		}
	}
	if got != len(want) || got == 0 {
		t.Errorf("%d bars of the new ticks, want %d", got, len(want))
	}
}

// TestSetupTopicsFollowInput: with Partitions 0 the analyzer creates its
// outputs and its compacted state topic with as many partitions as the
// input has, not the broker's default, and leaves an existing input alone.
func TestSetupTopicsFollowInput(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(5, "in5"), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	kc := kafka.Config{Brokers: c.ListenAddrs()}
	a, err := New(Config{Kafka: kc, In: "in5", Group: "g5", Logger: quietLogger(),
		Stream: stream.Config{Windows: []time.Duration{time.Minute}, Provisional: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if a.admin, err = kc.NewClient(); err != nil {
		t.Fatal(err)
	}
	defer a.admin.Close()
	ctx := context.Background()
	if err := a.setupTopics(ctx); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(a.admin)
	md, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := a.Config()
	for _, topic := range []string{"in5", cfg.AlertsTopic, cfg.LateTopic, cfg.DLQTopic, a.BarTopic(time.Minute),
		stocklake.LiveBarsTopic(cfg.OutPrefix, time.Minute), cfg.StateTopic} {
		if n := len(md.Topics[topic].Partitions); n != 5 {
			t.Errorf("topic %s has %d partitions, want the input's 5", topic, n)
		}
	}
	if a.statePartitions != 5 {
		t.Errorf("statePartitions = %d, want 5", a.statePartitions)
	}
	rc, err := adm.DescribeTopicConfigs(ctx, cfg.StateTopic)
	if err != nil {
		t.Fatal(err)
	}
	r, err := rc.On(cfg.StateTopic, nil)
	if err != nil {
		t.Fatal(err)
	}
	policy := ""
	for _, kv := range r.Configs {
		if kv.Key == "cleanup.policy" && kv.Value != nil {
			policy = *kv.Value
		}
	}
	if policy != "compact" {
		t.Errorf("state topic cleanup.policy = %q, want compact", policy)
	}
}
