package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/kafka"
)

// startSink starts a sink made from cfg, after setup has adjusted it, and
// returns it with a function that stops it and returns Run's error.
func startSink(t *testing.T, cfg Config, setup func(*Sink)) (*Sink, <-chan struct{}, func() error) {
	t.Helper()
	if cfg.Logger == nil {
		var w io.Writer = io.Discard
		if os.Getenv("SINK_TEST_LOG") != "" {
			w = os.Stderr
		}
		cfg.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() { runErr = s.Run(ctx); close(done) }()
	stop := func() error { cancel(); <-done; return runErr }
	t.Cleanup(func() { stop() })
	return s, done, stop
}

// runSinkWith runs a sink until cond holds or 30s pass, like runSinkUntil,
// after setup has adjusted it (test hooks).
func runSinkWith(t *testing.T, cfg Config, setup func(*Sink), cond func(*Sink) bool) (*Sink, error) {
	t.Helper()
	s, done, stop := startSink(t, cfg, setup)
	deadline := time.After(30 * time.Second)
	for !cond(s) {
		select {
		case <-done:
			return s, stop()
		case <-deadline:
			if os.Getenv("SINK_TEST_LOG") != "" {
				pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
			}
			stop()
			t.Fatalf("sink did not reach its goal in 30s: %d records, %d rows, %d commits, last error %q",
				s.Stats().Records.Load(), s.Stats().Rows.Load(), s.Stats().Commits.Load(), s.LastError())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return s, stop()
}

// never is a runSinkWith condition for sinks with ExitWhenIdle, which
// return once they have committed up to the end of the topic.
func never(*Sink) bool { return false }

// stopFenced waits until the zombie s has had a write refused
// (Stats().Fenced), for 30 seconds at the most, and stops it with stop;
// t fails when none of what it wrote was refused.
func stopFenced(t *testing.T, s *Sink, stop func() error, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.Stats().Fenced.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Fenced.Load() == 0 {
		t.Fatalf("%s were not refused", what)
	}
}

// awaitExit waits up to 60 seconds for a sink started with startSink to
// exit by itself (done), then collects its error with stop.
func awaitExit(t *testing.T, done <-chan struct{}, stop func() error, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not finish", what)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// commitFailer makes a broker answer offset commits with
// REBALANCE_IN_PROGRESS while fail says so for the partition.
type commitFailer struct {
	mu     sync.Mutex
	fail   func(partition int32) bool
	failed int
}

// newFailingCluster starts an in-process broker with a 3-partition topic
// whose offset commits fail as cf says.
func newFailingCluster(t *testing.T, cf *commitFailer, topics ...string) kafka.Config {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.ControlKey(int16(kmsg.OffsetCommit), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kr.(*kmsg.OffsetCommitRequest)
		cf.mu.Lock()
		defer cf.mu.Unlock()
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		failed := false
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				if cf.fail(rp.Partition) {
					sp.ErrorCode = kerr.RebalanceInProgress.Code
					failed = true
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		if !failed {
			return nil, nil, false // the broker commits as usual
		}
		cf.failed++
		return resp, nil, true
	})
	return kafka.Config{Brokers: c.ListenAddrs()}
}

// manifestFailStore fails reads of sink manifests: the first failures
// reads of each manifest key, or all when failures < 0.
type manifestFailStore struct {
	stocklake.ObjectStore
	failures int
	mu       sync.Mutex
	seen     map[string]int
}

var errManifestRead = fmt.Errorf("simulated read error (connection reset): %w", stocklake.ErrUnavailable)

func (f *manifestFailStore) fail(key string) bool {
	if !strings.HasPrefix(key, "_stocklake/sink/") || !strings.HasSuffix(key, ".json") || strings.Contains(key, "/topics/") || strings.HasSuffix(key, "/table.json") {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = map[string]int{}
	}
	f.seen[key]++
	return f.failures < 0 || f.seen[key] <= f.failures
}

func (f *manifestFailStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if f.fail(key) {
		return nil, errManifestRead
	}
	return f.ObjectStore.Get(ctx, key)
}

func (f *manifestFailStore) GetVersion(ctx context.Context, key string) ([]byte, string, error) {
	if f.fail(key) {
		return nil, "", errManifestRead
	}
	return f.ObjectStore.GetVersion(ctx, key)
}

// landUncommittedTicks produces 400 ticks to topic "ticks" of a new
// cluster and lands them in a new lake as two or more uncommitted batches
// per partition (landUncommitted, MaxRows 60).
func landUncommittedTicks(t *testing.T) (kafka.Config, *file.ObjectStore, []stocklake.Tick) {
	t.Helper()
	cf := &commitFailer{}
	kc := newFailingCluster(t, cf, "ticks")
	ticks := testTicks(400)
	produceTicks(t, kc, "ticks", ticks)
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	landUncommitted(t, cf, Config{Kafka: kc, Topic: "ticks", Store: st, MaxRows: 60, FlushInterval: 50 * time.Millisecond}, len(ticks))
	return kc, st, ticks
}

// setManifestRetries sets manifestReadAttempts and commitRetryWindow
// until t ends.
func setManifestRetries(t *testing.T, attempts int, window time.Duration) {
	t.Helper()
	n, d := manifestReadAttempts, commitRetryWindow
	t.Cleanup(func() { manifestReadAttempts, commitRetryWindow = n, d })
	manifestReadAttempts, commitRetryWindow = attempts, window
}

// landUncommitted writes n records to the lake while cf fails every
// offset commit, so every batch stays uncommitted.
func landUncommitted(t *testing.T, cf *commitFailer, cfg Config, n int) {
	t.Helper()
	cf.mu.Lock()
	cf.fail = func(int32) bool { return true }
	cf.mu.Unlock()
	s, err := runSinkWith(t, cfg, nil, func(s *Sink) bool { return s.Stats().Rows.Load() == int64(n) })
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Stats().Commits.Load(); c != 0 {
		t.Fatalf("%d commits succeeded; the test needs uncommitted batches", c)
	}
	cf.mu.Lock()
	cf.fail = func(int32) bool { return false }
	cf.mu.Unlock()
}

// Defect 1: a manifest that cannot be read at assignment was taken for "no
// manifest", so the uncommitted batches it named stayed in the lake next to
// their records written again (600 rows for 400 ticks).
func TestSinkManifestReadErrorIsRetriedNotEmpty(t *testing.T) {
	setManifestRetries(t, 3, 50*time.Millisecond)
	for _, tc := range []struct {
		name     string
		failures int
	}{{"once", 1}, {"always", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			kc, st, ticks := landUncommittedTicks(t)
			fs := &manifestFailStore{ObjectStore: st, failures: tc.failures}
			// Other batch sizes: the new objects do not replace the old
			// ones by name, only the manifest tells to delete them.
			_, err := runSinkWith(t, Config{Kafka: kc, Topic: "ticks", Store: fs, MaxRows: 150, FlushInterval: 50 * time.Millisecond, ExitWhenIdle: true}, nil, never)
			rows, _ := readLakeTicks(t, st, "ticks")
			if tc.failures < 0 {
				if err == nil || !strings.Contains(err.Error(), "cannot read sink manifest") || !errors.Is(err, errManifestRead) {
					t.Fatalf("Run with unreadable manifests = %v; want an error saying the manifest cannot be read", err)
				}
				if len(rows) != len(ticks) {
					t.Fatalf("lake has %d rows after the failed start, want the %d written before", len(rows), len(ticks))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			assertExactlyOnce(t, rows, ticks)
		})
	}
}

// Defect 10a: after 20 failed commits in a row the sink exited, so ten
// minutes of Kafka outage killed it. It keeps its data and keeps trying.
func TestSinkKeepsRetryingFailedCommits(t *testing.T) {
	defer func(a, b, c time.Duration) { commitBackoffMin, commitBackoffMax, commitRetryWindow = a, b, c }(commitBackoffMin, commitBackoffMax, commitRetryWindow)
	commitBackoffMin, commitBackoffMax, commitRetryWindow = time.Millisecond, 5*time.Millisecond, 20*time.Millisecond
	const outage = 40 // failed commits per partition, twice the old limit
	failed := map[int32]int{}
	cf := &commitFailer{fail: func(p int32) bool {
		failed[p]++
		return failed[p] <= outage
	}}
	kc := newFailingCluster(t, cf, "ticks")
	ticks := testTicks(3000)
	produceTicks(t, kc, "ticks", ticks)
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := runSinkWith(t, Config{Kafka: kc, Topic: "ticks", Store: st, MaxRows: 200, FlushInterval: 20 * time.Millisecond, ExitWhenIdle: true}, nil, never)
	if err != nil {
		t.Fatalf("sink gave up during a Kafka outage: %v", err)
	}
	// Five symbols hash to two or three partitions; each saw its outage
	// out and then committed (the broker counts the attempts per
	// partition). The sink counts failed commit calls, which may carry
	// several partitions at once, so at least one outage's worth.
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if len(failed) < 2 {
		t.Fatalf("commits reached the broker for partitions %v, want at least two", failed)
	}
	for p, n := range failed {
		if n <= outage {
			t.Errorf("partition %d: %d commit attempts, want the %d failed ones and a successful one", p, n, outage)
		}
	}
	if got := s.Stats().CommitFailures.Load(); got < outage {
		t.Fatalf("%d failed commits counted, want at least %d", got, outage)
	}
	rows, _ := readLakeTicks(t, st, "ticks")
	assertExactlyOnce(t, rows, ticks)
}

// Defect 10b: a broker without topic IDs named every topic "0", so a topic
// created again (offsets from 0) overwrote the older topic's objects.
func TestSinkTopicWithoutIDKeepsOlderObjects(t *testing.T) {
	defer func(f func(context.Context, *kgo.Client, string) (string, error)) { topicIDFunc = f }(topicIDFunc)
	topicIDFunc = func(context.Context, *kgo.Client, string) (string, error) { return "0", nil }
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ticks := testTicks(500)
	// The same topic twice, as if deleted and created again (a fresh
	// broker), then more records on the second one, which must keep its ID.
	var kc kafka.Config
	for i, part := range [][]stocklake.Tick{ticks[:300], ticks[300:400], ticks[400:]} {
		if i < 2 {
			kc = newCluster(t, "ticks")
		}
		produceTicks(t, kc, "ticks", part)
		_, err := runSinkWith(t, Config{Kafka: kc, Topic: "ticks", Store: st, MaxRows: 50, FlushInterval: 20 * time.Millisecond, ExitWhenIdle: true}, nil, never)
		if err != nil {
			t.Fatal(err)
		}
	}
	rows, keys := readLakeTicks(t, st, "ticks")
	assertExactlyOnce(t, rows, ticks)
	ids := map[string]bool{}
	for _, k := range keys {
		ids[strings.Split(k[strings.LastIndex(k, "/")+1:], "+")[1]] = true
	}
	if len(ids) != 2 || ids["0"] {
		t.Fatalf("objects carry topic IDs %v, want two lake IDs (one per topic incarnation)", ids)
	}
}

// Defect 3: --schema auto was decided by the first record each process
// read, so a restart that landed on a non-tick JSON object turned a tick
// table into a JSON one.
func TestSinkTableShapeIsDecidedOnce(t *testing.T) {
	kc := newCluster(t, "ticks", "ticks.dlq")
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ticks := testTicks(400)
	produceTicks(t, kc, "ticks", ticks[:200])
	cfg := Config{Kafka: kc, Topic: "ticks", Store: st, MaxRows: 50, FlushInterval: 20 * time.Millisecond, ExitWhenIdle: true}
	if _, err := runSinkWith(t, cfg, nil, never); err != nil {
		t.Fatal(err)
	}
	// The next sink starts at a JSON object that is not a tick (in every
	// partition), followed by more ticks.
	odd := []byte(`{"note":"maintenance window","ts":"2026-11-26T15:30:00Z"}`)
	var keys, values [][]byte
	for _, k := range []string{"AAPL", "MSFT", "NVDA", "AMZN", "TSLA"} {
		keys, values = append(keys, []byte(k)), append(values, odd)
	}
	produceValues(t, kc, "ticks", keys, values)
	produceTicks(t, kc, "ticks", ticks[200:])
	s, err := runSinkWith(t, cfg, nil, never)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().DeadLetters.Load(); n != int64(len(values)) {
		t.Errorf("%d dead letters, want the %d non-tick objects", n, len(values))
	}
	rows, _ := readLakeTicks(t, st, "ticks")
	assertExactlyOnce(t, rows, ticks)

	// A sink started with flags that contradict the table stops at once
	// and says what differs.
	bad := cfg
	bad.Schema, bad.Format = SchemaJSON, stocklake.FormatJSON
	_, err = runSinkWith(t, bad, nil, never)
	if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), "schema json (stored: tick)") || !strings.Contains(err.Error(), "format json (stored: parquet)") {
		t.Fatalf("Run with contradicting settings = %v; want ErrConfig naming schema and format", err)
	}
	var se *stocklake.SettingError
	if !errors.As(err, &se) || !slices.Equal(se.Settings, []string{"sink.Config.Format", "sink.Config.Schema", "sink.Config.Table"}) {
		t.Fatalf("Run with contradicting settings = %#v; want a SettingError naming Format, Schema and Table", err)
	}
}

// lostAnswerStore writes the first conditional manifest write of a flush
// but reports a timeout, as when S3's answer is lost on the way back.
type lostAnswerStore struct {
	stocklake.ObjectStore
	mu    sync.Mutex
	lost  int
	after int // let this many manifest PutIf calls through first
}

func (f *lostAnswerStore) PutIf(ctx context.Context, key string, body io.Reader, ifVersion string) (string, error) {
	v, err := f.ObjectStore.PutIf(ctx, key, body, ifVersion)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil && strings.HasPrefix(key, "_stocklake/sink/ticks/") && !strings.HasSuffix(key, "table.json") {
		if f.after > 0 {
			f.after--
		} else if f.lost < 3 {
			f.lost++
			return "", fmt.Errorf("simulated timeout reading the answer: %w", stocklake.ErrUnavailable)
		}
	}
	return v, err
}

// A manifest write that landed but whose answer was lost is retried; the
// sink must not take its own write for another owner's claim.
func TestSinkOwnLostWriteIsNotAFence(t *testing.T) {
	kc := newCluster(t, "ticks")
	ticks := testTicks(600)
	produceTicks(t, kc, "ticks", ticks)
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ls := &lostAnswerStore{ObjectStore: st, after: 3} // after the three claims
	s, err := runSinkWith(t, Config{Kafka: kc, Topic: "ticks", Store: ls, MaxRows: 100, FlushInterval: 20 * time.Millisecond, ExitWhenIdle: true}, nil, never)
	if err != nil {
		t.Fatal(err)
	}
	if ls.lost == 0 {
		t.Fatal("no answer was lost; the test tests nothing")
	}
	if n := s.Stats().Fenced.Load(); n != 0 {
		t.Fatalf("%d batches fenced by the sink's own writes", n)
	}
	rows, _ := readLakeTicks(t, st, "ticks")
	assertExactlyOnce(t, rows, ticks)
}

// Defect 1, second half: a manifest that cannot be decoded was ignored
// too. It now stops the sink with an error naming it.
func TestSinkDamagedManifestStopsTheSink(t *testing.T) {
	setManifestRetries(t, 2, 50*time.Millisecond)
	kc, st, ticks := landUncommittedTicks(t)
	objs, err := st.List(t.Context(), "_stocklake/sink/ticks/")
	if err != nil {
		t.Fatal(err)
	}
	damaged := 0
	for _, o := range objs {
		if strings.HasSuffix(o.Key, "/table.json") {
			continue
		}
		if err := st.Put(t.Context(), o.Key, strings.NewReader(`{"topic_id":"x","batches":[{"first_offset":0,`)); err != nil {
			t.Fatal(err)
		}
		damaged++
	}
	if damaged == 0 {
		t.Fatal("no manifest to damage")
	}
	_, err = runSinkWith(t, Config{Kafka: kc, Topic: "ticks", Store: st, MaxRows: 150, FlushInterval: 50 * time.Millisecond, ExitWhenIdle: true}, nil, never)
	if err == nil || !strings.Contains(err.Error(), "is not valid JSON") {
		t.Fatalf("Run with damaged manifests = %v; want an error naming the damaged manifest", err)
	}
	if rows, _ := readLakeTicks(t, st, "ticks"); len(rows) != len(ticks) {
		t.Fatalf("lake has %d rows after the failed start, want the %d written before", len(rows), len(ticks))
	}
}

// Defect 3, event time: the time field of JSON records was detected anew
// by each process, from the first record it read.
func TestSinkTimeFieldIsDecidedOnce(t *testing.T) {
	kc := newCluster(t, "events", "events.dlq")
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	record := func(i int) []byte {
		return fmt.Appendf(nil, `{"id":%d,"ts":"2026-11-26T14:%02d:00Z"}`, i, i%60)
	}
	var keys, values [][]byte
	for i := range 30 {
		keys, values = append(keys, []byte("k")), append(values, record(i))
	}
	produceValues(t, kc, "events", keys, values)
	cfg := Config{Kafka: kc, Topic: "events", Store: st, Schema: SchemaJSON, FlushInterval: 20 * time.Millisecond, ExitWhenIdle: true}
	if _, err := runSinkWith(t, cfg, nil, never); err != nil {
		t.Fatal(err)
	}
	// The next process starts at a record with a "time" field and no
	// "ts"; the records after it have "ts" again.
	keys, values = [][]byte{[]byte("k")}, [][]byte{[]byte(`{"id":-1,"time":"2026-11-26T09:00:00Z"}`)}
	for i := 30; i < 60; i++ {
		keys, values = append(keys, []byte("k")), append(values, record(i))
	}
	produceValues(t, kc, "events", keys, values)
	s, err := runSinkWith(t, cfg, nil, never)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().DeadLetters.Load(); n != 1 {
		t.Fatalf("%d dead letters, want 1 (the record without the table's time field ts)", n)
	}
	objs, err := st.List(t.Context(), "events/")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if !strings.HasPrefix(o.Key, "events/dt=2026-11-26/hour=14/") {
			t.Errorf("object %s is not partitioned by the ts field (hour 14)", o.Key)
		}
	}
}

// unfencedStore hides the file store's PutFenced and DeleteFenced, so the
// sink fences with a version check before each write, as on S3.
type unfencedStore struct{ stocklake.ObjectStore }

// Defect 9: a sink paused in the middle of a flush (SIGSTOP, GC, S3
// stall) past the moment another sink took its partitions must not write
// or delete anything when it resumes: neither when paused before its
// conditional manifest write, nor after it, before its objects (there the
// old code overwrote its successor's object of the same name with fewer
// rows; the fault suite's zombie case lost 64,127 of 2,600,000 ticks that
// way). Every object write and delete is fenced on the manifest's version.
func TestSinkZombieIsFenced(t *testing.T) {
	stores := []struct {
		name  string
		store func(stocklake.ObjectStore) stocklake.ObjectStore
	}{
		{"fenced store", func(s stocklake.ObjectStore) stocklake.ObjectStore { return s }},
		{"version check", func(s stocklake.ObjectStore) stocklake.ObjectStore { return unfencedStore{s} }},
	}
	pauses := []struct {
		name string
		hook func(s *Sink, pause func(int32))
	}{
		{"before manifest", func(s *Sink, pause func(int32)) { s.beforeManifestWrite = pause }},
		{"after manifest", func(s *Sink, pause func(int32)) { s.afterManifestWrite = pause }},
	}
	for _, pc := range pauses {
		for _, sc := range stores {
			t.Run(pc.name+"/"+sc.name, func(t *testing.T) {
				kc := newCluster(t, "ticks")
				ticks := testTicks(900)
				produceTicks(t, kc, "ticks", ticks)
				fs, err := file.New(t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				st := sc.store(fs)
				paused, resume := make(chan struct{}), make(chan struct{})
				var once sync.Once
				zombie, zdone, zstop := startSink(t, Config{Kafka: kc, Topic: "ticks", Group: "old", Store: st, MaxRows: 100, FlushInterval: time.Hour},
					func(s *Sink) {
						pc.hook(s, func(int32) { once.Do(func() { close(paused); <-resume }) })
					})
				select {
				case <-paused:
				case <-zdone:
					t.Fatalf("zombie sink stopped before pausing: %v", zstop())
				case <-time.After(30 * time.Second):
					t.Fatal("zombie sink never flushed")
				}
				// The successor (here: another group, as if the session had
				// expired) claims every partition, finds the zombie's batch in
				// the manifest if it was written, and lands everything in
				// larger batches.
				_, err = runSinkWith(t, Config{Kafka: kc, Topic: "ticks", Group: "new", Store: st, MaxRows: 250, FlushInterval: 20 * time.Millisecond, ExitWhenIdle: true}, nil, never)
				if err != nil {
					t.Fatal(err)
				}
				before, _ := readLakeTicks(t, st, "ticks")
				assertExactlyOnce(t, before, ticks)
				close(resume)
				stopFenced(t, zombie, zstop, "the resumed zombie's writes")
				if n := zombie.Stats().Objects.Load(); n != 0 {
					t.Errorf("the zombie wrote %d objects after its successor's claim", n)
				}
				rows, _ := readLakeTicks(t, st, "ticks")
				assertExactlyOnce(t, rows, ticks)
			})
		}
	}
}

// manifestReadBlocker makes the claim's manifest read wait until released,
// then fail with the caller's context error, as a read does when the sink
// is stopped during an assignment.
type manifestReadBlocker struct {
	stocklake.ObjectStore
	reading chan struct{}
	once    sync.Once
}

func (m *manifestReadBlocker) GetVersion(ctx context.Context, key string) ([]byte, string, error) {
	if strings.HasPrefix(key, "_stocklake/sink/") && !strings.HasSuffix(key, "table.json") && strings.Contains(key, ".json") {
		m.once.Do(func() { close(m.reading) })
		<-ctx.Done()
		return nil, "", ctx.Err()
	}
	return m.ObjectStore.GetVersion(ctx, key)
}

// A sink stopped (SIGTERM) while the group assigned it partitions, with
// the claim's manifest read cut short by the shutdown, exited with "cannot
// take over partition" (status 1; the fault suite's group case saw it).
// A shutdown is not a failure: the partition is left to its next owner.
func TestSinkStoppedDuringClaimExitsCleanly(t *testing.T) {
	kc := newCluster(t, "ticks")
	produceTicks(t, kc, "ticks", testTicks(100))
	fs, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &manifestReadBlocker{ObjectStore: fs, reading: make(chan struct{})}
	_, done, stop := startSink(t, Config{Kafka: kc, Topic: "ticks", Store: st, FlushInterval: time.Hour}, nil)
	select {
	case <-st.reading:
	case <-done:
		t.Fatalf("sink stopped before claiming: %v", stop())
	case <-time.After(30 * time.Second):
		t.Fatal("the sink never read a manifest to claim a partition")
	}
	if err := stop(); err != nil {
		t.Fatalf("sink stopped during a claim returned %v, want a clean shutdown", err)
	}
}
