// Package analyze runs live analytics on Kafka: it consumes ticks with a
// consumer group, computes bars, indicators and alerts with the stream
// engine, and produces them back to Kafka exactly once.
//
// # Topics
//
//   - input (Config.In, default "ticks"): tick records (stocklake.Tick wire
//     format), keyed by symbol, read with read_committed isolation.
//   - <OutPrefix>.<window> (e.g. "bars.1m"): one record per final bar
//     (stocklake.Bar.AppendJSON with its indicators), key = symbol. Only final
//     bars go here, each exactly once, so the topic lands in the lake as a
//     table of candles.
//   - <OutPrefix>.<window>.live (e.g. "bars.1m.live"): provisional bars
//     (final=false) while windows are open, when stream.Config.Provisional > 0.
//   - AlertsTopic (default "alerts"): alerts (stocklake.Alert.AppendJSON),
//     key = symbol.
//   - LateTopic (default "ticks.late"): ticks that arrived after their window
//     closed (stocklake.LateTick.AppendJSON, itself a valid tick), key = symbol.
//   - StateTopic (default "<group>.state"): compacted; engine checkpoints.
//   - DLQTopic (default "<group>.dlq"): input records the analyzer refuses
//     (not a tick, an invalid tick, or an event time more than MaxFuture
//     ahead of the wall clock), unchanged, with the reason in the
//     stocklake.HeaderError header; see dlq.go.
//
// Output topics are created on start with as many partitions as the input
// (so key = symbol lands a symbol's bars on the same partition number as its
// ticks); the state topic with cleanup.policy=compact.
//
// # Exactly once
//
// The analyzer is a consume-transform-produce loop in Kafka transactions
// (franz-go's GroupTransactSession, KIP-447). One transaction holds the
// outputs of the ticks consumed since the previous one, the consumed offsets,
// and a checkpoint of every input partition whose state changed: the
// stream.Engine partition snapshot, zstd-compressed, written to the state
// topic partition (input partition mod state partitions) under key
// "<input topic>/<partition>/<chunk>" (split into chunks of at most
// ChunkBytes), with the committed input offset in a header. So the state a
// restarted or re-assigned instance restores is exactly the state after the
// committed offsets: on assignment it reads the newest checkpoint of each
// partition from the state topic (read_committed) and checks that its offset
// equals the group's committed offset. A transaction that aborts (a
// rebalance, a fenced producer, a failed produce) rewinds both: consumption
// restarts at the committed offsets and the engine is rebuilt from the last
// committed checkpoints.
//
// A transaction commits when CheckpointRecords ticks were consumed in it,
// when it has been open for CheckpointInterval, CommitLatency after it got
// its first final bar or alert (unless the input has a backlog, when
// latency does not matter), on a rebalance and on shutdown. Checkpoints
// are written at every commit (never between, which would not match the
// offsets). Outputs are visible to read_committed consumers at the commit.
//
// Each instance has a transactional ID, and the same ID as its static group
// member ID (Config.InstanceID), so a restarted instance fences its
// predecessor, aborts its open transaction and takes over its partitions at
// once, without waiting for a session timeout.
//
// # Event time and idle input
//
// Each input partition has its own stream.Engine, hence its own watermark
// (its greatest event time less the delay), as Kafka Streams keeps stream
// time per partition: a symbol lives in one partition (key = symbol), a
// partition never holds another's windows open, and bars do not depend on
// how partitions interleave in polls or move between instances. When a
// partition has sent nothing for IdleTimeout and has consumed its log up to
// the end, event time is taken to go on at wall-clock speed: after its last
// tick, of event time m, arrived at wall time w, its watermark at wall time
// t is m + (t - w) - delay, so its last windows close without new data (for
// live data, where event time follows the wall clock, that is the wall clock
// less the delay).
//
// Event time is bounded by the wall clock: a tick stamped more than
// MaxFuture ahead (e.g. 9999-12-31) would push its partition's watermark
// there for good and make every later tick late. Such ticks go to the
// dead-letter topic and do not move the watermark; a checkpoint restored
// with a maximum event time or watermark that far ahead (written before the
// bound existed, or with it disabled) is ignored with a warning, and the
// partition starts over from empty state at the committed offset.
package analyze

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/stream"
)

// Defaults.
const (
	DefaultIn                 = stocklake.TopicTicks
	DefaultWindows            = "1m,5m"         // the command line's --windows
	DefaultDelay              = 2 * time.Second // the command line's --delay
	DefaultGroup              = "stocklake-analyze"
	DefaultOutPrefix          = stocklake.TopicBarsPrefix
	DefaultAlertsTopic        = stocklake.TopicAlerts
	DefaultLateTopic          = stocklake.TopicLateTicks
	DefaultCheckpointInterval = time.Second
	DefaultCheckpointRecords  = 100_000
	DefaultIdleTimeout        = 5 * time.Second
	DefaultRestoreTimeout     = 30 * time.Second
	DefaultMaxPollRecords     = 10_000
	DefaultSessionTimeout     = 15 * time.Second
)

// Config configures an Analyzer. Zero values take the defaults stated.
type Config struct {
	Kafka kafka.Config
	// In is the input tick topic; default "ticks".
	In string
	// Group is the consumer group; default "stocklake-analyze". Instances in
	// one group share the input's partitions.
	Group string
	// InstanceID names this instance: it is the transactional ID and the
	// static group member ID. It must differ between instances running at
	// once and stay the same across restarts of one. Default
	// "<Group>-<hostname>".
	InstanceID string
	// Stream configures bars, indicators and alert rules (see stream.Config).
	Stream stream.Config
	// OutPrefix starts bar topic names: <OutPrefix>.<window>, e.g. bars.1m,
	// and <OutPrefix>.<window>.live for provisional bars. Default "bars".
	OutPrefix string
	// AlertsTopic receives alerts; default "alerts".
	AlertsTopic string
	// LateTopic receives late ticks; default "ticks.late".
	LateTopic string
	// DLQTopic receives the input records the analyzer refuses, with the
	// reason in a header (see dlq.go); default "<Group>.dlq", apart from
	// the sink's "<In>.dlq" so a record refused by both is not mixed up.
	DLQTopic string
	// MaxFuture is how far ahead of the wall clock a tick's event time may
	// be (see stocklake.CheckEventTime); ticks beyond it go to DLQTopic and
	// do not move the watermark. Default stocklake.DefaultMaxFuture (5m);
	// negative disables the bound.
	MaxFuture time.Duration
	// StateTopic holds engine checkpoints (compacted); default "<Group>.state".
	StateTopic string
	// Partitions is the partition count of topics the analyzer creates;
	// default the input topic's.
	Partitions int32
	// Replication is the replication factor of created topics; default -1,
	// the broker's default.
	Replication int16
	// CheckpointInterval is the longest a transaction stays open, i.e. how
	// often state is checkpointed and outputs become visible while ticks
	// flow. Default 1s.
	CheckpointInterval time.Duration
	// CheckpointRecords commits a transaction after this many input records.
	// Default 100,000.
	CheckpointRecords int
	// CommitLatency is how long a final bar or alert may wait for its
	// transaction to commit. Default 0: commit after the poll that made it.
	CommitLatency time.Duration
	// IdleTimeout is how long a partition must send nothing before it stops
	// holding the watermark back (see the package documentation). Default
	// 5s; negative disables idle handling.
	IdleTimeout time.Duration
	// RestoreTimeout bounds the wait for a committed checkpoint to become
	// readable on assignment. Default 30s.
	RestoreTimeout time.Duration
	// MaxPollRecords bounds the records handled per poll. Default 10,000.
	MaxPollRecords int
	// SessionTimeout is the consumer group session timeout: how long a
	// crashed instance's partitions wait before moving to another. Default 15s.
	SessionTimeout time.Duration
	// Webhook, if set, is sent each alert after its transaction commits.
	Webhook *Webhook
	// Logger for structured logs; default slog.Default().
	Logger *slog.Logger
	// ExitWhenIdle makes Run return once every assigned partition is idle
	// and caught up, all windows are closed and everything is committed.
	// Once all input is read, its windows close at once rather than as
	// event time follows the wall clock. For batch jobs, benchmarks and
	// tests. Default false.
	ExitWhenIdle bool

	// onCommit, for tests, is called after each committed transaction.
	onCommit func()
	// crash, for tests, makes Run return errTestCrash without committing
	// when it reports true (checked before each commit decision).
	crash func() bool
	// afterPoll, for tests, is called after each poll with the number of
	// records it returned, before they are processed.
	afterPoll func(records int)
}

var errTestCrash = errors.New("test crash: stopped without committing")

// Stats are an Analyzer's counters, safe to read concurrently.
type Stats struct {
	Ticks        atomic.Int64 // input records consumed (committed or not)
	Rejected     atomic.Int64 // input records refused and sent to the dead-letter topic (Future included)
	Future       atomic.Int64 // ticks refused for an event time more than MaxFuture ahead
	Ignored      atomic.Int64 // checkpoints ignored for an event time more than MaxFuture ahead
	Late         atomic.Int64 // late ticks sent to the late topic
	Bars         atomic.Int64 // final bars produced
	Provisional  atomic.Int64 // provisional bars produced
	Alerts       atomic.Int64 // alerts produced
	Commits      atomic.Int64 // transactions committed
	CommitNanos  atomic.Int64 // time spent ending transactions (flush, offset commit, EndTxn), ns
	Aborts       atomic.Int64 // transactions aborted (state rebuilt from checkpoints)
	Checkpoints  atomic.Int64 // partition checkpoints committed
	StateBytes   atomic.Int64 // compressed checkpoint bytes produced
	Restores     atomic.Int64 // partitions restored on assignment
	Restarts     atomic.Int64 // transactional sessions started anew after a failure
	IdleAdvances atomic.Int64 // watermark advances for idle input
	Watermark    atomic.Int64 // engine watermark, µs since the epoch (0 before data)
	Partitions   atomic.Int64 // input partitions assigned
}

// Analyzer is the live-analytics service. Make one with New, then Run.
type Analyzer struct {
	cfg   Config
	log   *slog.Logger
	stats Stats

	barTopics  map[time.Duration]string
	liveTopics map[time.Duration]string
	hdrBar     []kgo.RecordHeader
	hdrAlert   []kgo.RecordHeader
	hdrLate    []kgo.RecordHeader

	admin           *kgo.Client
	sess            *kgo.GroupTransactSession
	statePartitions int32
	enc             *zstd.Encoder
	dec             *zstd.Decoder

	out   stream.Output
	parts map[int32]*part
	// ticks decodes the input: trade IDs go into shared blocks rather
	// than an allocation each. Used by the loop's goroutine only.
	ticks stocklake.TickParser
	// outBuf and outRecs are the free room of the blocks emit carves
	// output records from (outKey, produceOut).
	outBuf  []byte
	outRecs []kgo.Record

	evMu   sync.Mutex
	events []event

	inTxn      bool
	txnStart   time.Time
	txnRecords int
	txnFinals  int
	finalAt    time.Time
	txnAlerts  []stocklake.Alert
	txnBad     bool // the open transaction must abort: records of a partition without restored state were polled, or a shutdown left records unprocessed
	behind     bool // the last poll left records waiting: catching up, not live
	snapSeq    uint64
	snapNonce  string
	prodMu     sync.Mutex
	prodErr    error
	nextIdle   time.Time
	lastCaught time.Time
	rejectLog  time.Time
}

// part is the analyzer's view of one assigned input partition.
type part struct {
	id        int32
	eng       *stream.Engine
	committed int64  // committed input offset = its checkpoint's; -1 none
	snap      []byte // last committed checkpoint state; nil: none
	snapMaxTs int64
	maxTs     int64 // greatest event time processed, µs; noTime if none
	next      int64 // offset after the last record processed; -1 unknown
	lastWall  time.Time
	dirty     bool // state changed since the last committed checkpoint
	caughtUp  bool
}

type event struct {
	revoke bool
	parts  map[int32]int64 // assign: partition -> committed offset (-1 none)
}

// New checks cfg and makes an Analyzer.
func New(cfg Config) (*Analyzer, error) {
	if cfg.In == "" {
		cfg.In = DefaultIn
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.InstanceID == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "localhost"
		}
		cfg.InstanceID = cfg.Group + "-" + host
	}
	if cfg.OutPrefix == "" {
		cfg.OutPrefix = DefaultOutPrefix
	}
	if cfg.AlertsTopic == "" {
		cfg.AlertsTopic = DefaultAlertsTopic
	}
	if cfg.LateTopic == "" {
		cfg.LateTopic = DefaultLateTopic
	}
	if cfg.StateTopic == "" {
		cfg.StateTopic = cfg.Group + ".state"
	}
	if cfg.DLQTopic == "" {
		cfg.DLQTopic = stocklake.DeadLetterTopic(cfg.Group)
	}
	if cfg.MaxFuture == 0 {
		cfg.MaxFuture = stocklake.DefaultMaxFuture
	}
	if cfg.Replication == 0 {
		cfg.Replication = -1
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if cfg.CheckpointRecords <= 0 {
		cfg.CheckpointRecords = DefaultCheckpointRecords
	}
	if cfg.CommitLatency < 0 {
		return nil, fmt.Errorf("commit latency %v is negative: %w", cfg.CommitLatency, stocklake.ErrConfig)
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.RestoreTimeout <= 0 {
		cfg.RestoreTimeout = DefaultRestoreTimeout
	}
	if cfg.MaxPollRecords <= 0 {
		cfg.MaxPollRecords = DefaultMaxPollRecords
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	eng, err := stream.New(cfg.Stream)
	if err != nil {
		return nil, err
	}
	cfg.Stream = eng.Config() // defaults filled in, windows sorted
	names := map[string]string{cfg.In: "input", cfg.AlertsTopic: "alerts", cfg.LateTopic: "late", cfg.StateTopic: "state", cfg.DLQTopic: "dead-letter"}
	if len(names) != 5 {
		return nil, fmt.Errorf("the input, alerts, late, state and dead-letter topics must differ (%s, %s, %s, %s, %s): %w",
			cfg.In, cfg.AlertsTopic, cfg.LateTopic, cfg.StateTopic, cfg.DLQTopic, stocklake.ErrConfig)
	}
	a := &Analyzer{
		cfg: cfg, log: cfg.Logger.With("component", "analyze", "in", cfg.In, "group", cfg.Group),
		barTopics: map[time.Duration]string{}, liveTopics: map[time.Duration]string{},
		hdrBar:    []kgo.RecordHeader{{Key: "content-type", Value: []byte(stocklake.BarContentType)}},
		hdrAlert:  []kgo.RecordHeader{{Key: "content-type", Value: []byte(stocklake.AlertContentType)}},
		hdrLate:   []kgo.RecordHeader{{Key: "content-type", Value: []byte(stocklake.LateTickContentType)}},
		parts:     map[int32]*part{},
		snapNonce: strconv.FormatUint(rand.Uint64(), 36),
	}
	for _, w := range cfg.Stream.Windows {
		t, live := stocklake.BarsTopic(cfg.OutPrefix, w), stocklake.LiveBarsTopic(cfg.OutPrefix, w)
		if names[t] != "" || names[live] != "" {
			return nil, stocklake.SettingErr(fmt.Errorf("bar topic %s is also the %s topic; change the bar topics' prefix: %w", t, names[t], stocklake.ErrConfig), "analyze.Config.OutPrefix")
		}
		a.barTopics[w] = t
		a.liveTopics[w] = live
	}
	if a.enc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1)); err != nil {
		return nil, err
	}
	if a.dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxStateBytes)); err != nil {
		return nil, err
	}
	return a, nil
}

// Stats returns the analyzer's live counters.
func (a *Analyzer) Stats() *Stats { return &a.stats }

// Config returns the configuration with defaults filled in.
func (a *Analyzer) Config() Config { return a.cfg }

// BarTopic returns the topic of final bars of window size w ("" if w is not
// configured); provisional bars go to BarTopic(w)+stocklake.LiveSuffix.
func (a *Analyzer) BarTopic(w time.Duration) string { return a.barTopics[w] }

// Run consumes until ctx is done (or, with ExitWhenIdle, until idle), then
// commits what it has and returns. It returns nil after a clean shutdown.
func (a *Analyzer) Run(ctx context.Context) error {
	var err error
	if a.admin, err = a.cfg.Kafka.NewClient(); err != nil {
		return err
	}
	defer a.admin.Close()
	if err := kafka.Ping(ctx, a.admin, a.cfg.Kafka.Brokers); err != nil {
		return err
	}
	if err := a.setupTopics(ctx); err != nil {
		return err
	}
	a.log.Info("analyzer started", "instance", a.cfg.InstanceID, "windows", a.cfg.Stream.Windows,
		"delay", a.cfg.Stream.Delay, "lateness", a.cfg.Stream.Lateness, "rules", len(a.cfg.Stream.Rules))
	failures := 0
	for {
		commits := a.stats.Commits.Load()
		err = a.session(ctx)
		if err == nil || ctx.Err() != nil || !errors.Is(err, stocklake.ErrUnavailable) {
			break
		}
		// The transactional client is in a state it cannot leave (a
		// failed commit, a fenced producer): start over with a new one,
		// from the committed checkpoints, as a restarted process would.
		if a.stats.Commits.Load() > commits {
			failures = 0
		}
		if failures++; failures > maxRestarts {
			break
		}
		a.stats.Restarts.Add(1)
		a.log.Warn("transactional session failed; starting a new one from the last commit", "err", err, "attempt", failures)
		a.reset()
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(failures) * time.Second):
		}
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = nil
	}
	a.log.Info("analyzer stopped", "ticks", a.stats.Ticks.Load(), "bars", a.stats.Bars.Load(), "late", a.stats.Late.Load(),
		"alerts", a.stats.Alerts.Load(), "commits", a.stats.Commits.Load(), "aborts", a.stats.Aborts.Load(), "err", err)
	return err
}

// maxRestarts bounds consecutive session restarts without a commit between.
const maxRestarts = 5

// reset forgets everything not committed, before a new session.
func (a *Analyzer) reset() {
	a.evMu.Lock()
	a.events = nil
	a.evMu.Unlock()
	a.parts = map[int32]*part{}
	a.inTxn, a.txnRecords, a.txnFinals, a.txnBad, a.behind = false, 0, 0, false, false
	clear(a.txnAlerts)
	a.txnAlerts = a.txnAlerts[:0]
	a.prodMu.Lock()
	a.prodErr = nil
	a.prodMu.Unlock()
	a.out.Reset()
	a.stats.Partitions.Store(0)
}

// session runs one transactional client until ctx is done or it fails.
func (a *Analyzer) session(ctx context.Context) error {
	var err error
	a.sess, err = kgo.NewGroupTransactSession(a.clientOpts()...)
	if err != nil {
		return fmt.Errorf("kafka client: %w: %w", err, stocklake.ErrConfig)
	}
	closed := false
	defer func() {
		if !closed {
			a.sess.Close()
		}
	}()
	// Initializing the producer ID fences an earlier incarnation of this
	// instance and aborts its open transaction, so the group's offsets are
	// stable at once.
	if _, _, err := a.sess.Client().ProducerID(ctx); err != nil {
		return fmt.Errorf("initialize transactional producer %q: %w: %w", a.cfg.InstanceID, err, stocklake.ErrUnavailable)
	}
	runErr := a.loop(ctx)
	if runErr == nil || errors.Is(runErr, context.Canceled) {
		runErr = nil
		fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := a.commit(fctx); err != nil {
			runErr = err
		}
		cancel()
	}
	a.sess.Close()
	closed = true
	if runErr == nil {
		// A static member does not leave the group on close; leave
		// explicitly so the partitions move to other instances at once.
		lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := kadm.NewClient(a.admin).LeaveGroup(lctx, kadm.LeaveGroup(a.cfg.Group).InstanceIDs(a.cfg.InstanceID).Reason("shutdown")); err != nil {
			a.log.Debug("leave group", "err", err)
		}
		cancel()
	}
	return runErr
}

func (a *Analyzer) clientOpts() []kgo.Opt {
	opts, _ := a.cfg.Kafka.Opts()
	return append(opts,
		kgo.ConsumerGroup(a.cfg.Group),
		kgo.ConsumeTopics(a.cfg.In),
		kgo.InstanceID(a.cfg.InstanceID),
		kgo.TransactionalID(a.cfg.InstanceID),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(a.cfg.SessionTimeout),
		kgo.OnPartitionsRevoked(a.onRevoked),
		kgo.OnPartitionsLost(a.onRevoked),
		kgo.AdjustFetchOffsetsFn(a.onOffsets),
		kgo.RecordPartitioner(partitioner{state: a.cfg.StateTopic}),
		// Checkpoints are zstd already; lz4 is cheap for the JSON outputs.
		kgo.ProducerBatchCompression(kgo.Lz4Compression()),
		kgo.ProducerLinger(2*time.Millisecond),
		kgo.FetchMaxWait(time.Second),
		// Decoded ticks are recycled (process): the client reuses their
		// memory rather than allocating ~300 bytes per record afresh.
		// Every record is recycled within its poll, so keeping as many
		// free buffers as a fetch has batches costs little memory.
		kgo.WithPools(kafka.NewRecordPoolSize(recordPoolSize)),
	)
}

// recordPoolSize is how many free fetch buffers of each kind the analyzer
// keeps (kafka.NewRecordPoolSize).
const recordPoolSize = 32

// partitioner puts checkpoints on the partition the analyzer names and
// everything else by key (Kafka's murmur2, as the tick producer does).
type partitioner struct{ state string }

func (p partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic == p.state {
		return kgo.ManualPartitioner().ForTopic(topic)
	}
	return kgo.StickyKeyPartitioner(nil).ForTopic(topic)
}

// setupTopics creates the input (if missing), output and state topics and
// waits until the cluster knows them all.
func (a *Analyzer) setupTopics(ctx context.Context) error {
	ensure := func(n int32, configs map[string]string, topics ...string) error {
		if n == 0 {
			n = -1 // the broker's default
		}
		for _, t := range topics {
			spec := kafka.TopicSpec{Name: t, Partitions: n, ReplicationFactor: a.cfg.Replication, Configs: configs}
			if _, err := kafka.EnsureTopic(ctx, a.admin, spec); err != nil {
				return err
			}
		}
		return nil
	}
	if err := ensure(a.cfg.Partitions, nil, a.cfg.In); err != nil {
		return err
	}
	n := a.cfg.Partitions
	if n == 0 {
		in, err := kafka.TopicPartitions(ctx, a.admin, a.cfg.In)
		if err != nil {
			return err
		}
		n = int32(in)
	}
	outs := []string{a.cfg.AlertsTopic, a.cfg.LateTopic, a.cfg.DLQTopic}
	for _, w := range a.cfg.Stream.Windows {
		outs = append(outs, a.barTopics[w])
		if a.cfg.Stream.Provisional > 0 {
			outs = append(outs, a.liveTopics[w])
		}
	}
	if err := ensure(n, nil, outs...); err != nil {
		return err
	}
	compact := map[string]string{"cleanup.policy": "compact", "segment.ms": "600000", "min.cleanable.dirty.ratio": "0.1"}
	if err := ensure(n, compact, a.cfg.StateTopic); err != nil {
		return err
	}
	sp, err := kafka.TopicPartitions(ctx, a.admin, a.cfg.StateTopic)
	if err != nil {
		return err
	}
	a.statePartitions = int32(sp)
	return nil
}

// onOffsets learns the committed offset of each newly assigned partition
// just before consuming starts (franz-go's AdjustFetchOffsetsFn).
func (a *Analyzer) onOffsets(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	ev := event{parts: map[int32]int64{}}
	for p, o := range offsets[a.cfg.In] {
		c := o.EpochOffset().Offset
		if c < 0 {
			c = -1
		}
		ev.parts[p] = c
	}
	if len(ev.parts) > 0 {
		a.evMu.Lock()
		a.events = append(a.events, ev)
		a.evMu.Unlock()
	}
	return offsets, nil
}

func (a *Analyzer) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	ps := revoked[a.cfg.In]
	if len(ps) == 0 {
		return
	}
	ev := event{revoke: true, parts: map[int32]int64{}}
	for _, p := range ps {
		ev.parts[p] = -1
	}
	a.evMu.Lock()
	a.events = append(a.events, ev)
	a.evMu.Unlock()
}

func (a *Analyzer) loop(ctx context.Context) error {
	idleEvery := min(time.Second, max(10*time.Millisecond, a.cfg.IdleTimeout/4))
	for ctx.Err() == nil {
		now := time.Now()
		wait := idleEvery
		if a.inTxn {
			wait = min(wait, a.txnStart.Add(a.cfg.CheckpointInterval).Sub(now))
			if a.txnFinals > 0 && !a.behind {
				wait = min(wait, a.finalAt.Add(a.cfg.CommitLatency).Sub(now))
			}
		}
		var fetches kgo.Fetches
		if wait > 0 {
			pctx, cancel := context.WithTimeout(ctx, wait)
			fetches = a.sess.PollRecords(pctx, a.cfg.MaxPollRecords)
			cancel()
		}
		if fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				a.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		if a.cfg.afterPoll != nil {
			a.cfg.afterPoll(fetches.NumRecords())
		}
		if ctx.Err() != nil {
			return a.stopAfterPoll(ctx, fetches)
		}
		if err := a.applyEvents(ctx); err != nil {
			return err
		}
		if err := a.process(ctx, fetches); err != nil {
			return err
		}
		now = time.Now()
		done, err := a.idle(ctx, now)
		if err != nil {
			return err
		}
		if a.cfg.crash != nil && a.cfg.crash() {
			return errTestCrash
		}
		if a.due(now) || done {
			aborts := a.stats.Aborts.Load()
			if err := a.commit(ctx); err != nil {
				return err
			}
			if a.stats.Aborts.Load() != aborts {
				// The transaction aborted (e.g. records of a revoked
				// partition were polled): the partitions are rewound to
				// their last commit, so their records are not done.
				done = false
			}
		}
		if done && !a.inTxn {
			a.log.Info("idle and caught up; exiting as asked")
			return nil
		}
	}
	return nil
}

// stopAfterPoll ends the loop when ctx is done after a poll. The session
// counts polled records as consumed at once, so the final commit would
// commit their offsets: records polled as ctx ended are processed, so the
// commit holds their effect too. If a rebalance is pending (its partitions
// are not restored, and restoring needs the cancelled ctx), the open
// transaction is aborted instead: its records go to the next owner.
func (a *Analyzer) stopAfterPoll(ctx context.Context, fetches kgo.Fetches) error {
	if fetches.NumRecords() == 0 {
		return nil
	}
	a.evMu.Lock()
	pending := len(a.events) > 0
	a.evMu.Unlock()
	if pending {
		a.txnBad = true
		a.log.Info("shutting down with a rebalance pending; aborting the open transaction", "polled", fetches.NumRecords())
		return nil
	}
	return a.process(context.WithoutCancel(ctx), fetches)
}

// applyEvents handles rebalances: commits (or aborts) the open transaction,
// drops revoked partitions and restores assigned ones from checkpoints.
func (a *Analyzer) applyEvents(ctx context.Context) error {
	a.evMu.Lock()
	evs := a.events
	a.events = nil
	a.evMu.Unlock()
	for _, ev := range evs {
		if err := a.commit(ctx); err != nil {
			return err
		}
		if ev.revoke {
			for p := range ev.parts {
				delete(a.parts, p)
			}
			a.log.Info("partitions revoked", "partitions", keys(ev.parts))
		} else {
			cps, err := a.readCheckpoints(ctx, ev.parts)
			if err != nil {
				return err
			}
			now := time.Now()
			for p, c := range ev.parts {
				pt := &part{id: p, committed: c, next: c, maxTs: noTime, snapMaxTs: noTime, lastWall: now}
				if cp := cps[p]; cp != nil {
					pt.snap, pt.maxTs, pt.snapMaxTs = cp.state, cp.maxTs, cp.maxTs
					a.stats.Restores.Add(1)
				}
				a.parts[p] = pt
			}
			a.log.Info("partitions assigned", "partitions", keys(ev.parts), "restored", len(cps))
		}
		if err := a.rebuild(); err != nil {
			return err
		}
	}
	return nil
}

func keys(m map[int32]int64) []int32 {
	ks := make([]int32, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// rebuild resets every assigned partition to its last committed
// checkpoint: a new engine restored from it.
func (a *Analyzer) rebuild() error {
	now := time.Now()
	for _, p := range a.sortedParts() {
		eng, err := stream.New(a.cfg.Stream)
		if err != nil {
			return err
		}
		if p.snap != nil {
			if _, err := eng.RestorePartition(p.snap); err != nil {
				return fmt.Errorf("restore checkpoint of %s partition %d: %w", a.cfg.In, p.id, err)
			}
			if err := a.checkRestored(p, eng, now); err != nil {
				a.log.Warn("ignoring the checkpoint: its event time is beyond --max-future, so every tick would be late; "+
					"the partition starts over from empty windows and indicators at the committed offset",
					"partition", p.id, "offset", p.committed, "err", err)
				a.stats.Ignored.Add(1)
				p.snap, p.snapMaxTs = nil, noTime
				if eng, err = stream.New(a.cfg.Stream); err != nil {
					return err
				}
			}
		}
		p.eng = eng
		p.maxTs, p.next, p.dirty, p.lastWall, p.caughtUp = p.snapMaxTs, p.committed, false, now, false
	}
	a.out.Reset()
	a.stats.Partitions.Store(int64(len(a.parts)))
	return nil
}

// checkRestored returns an error if a restored checkpoint's greatest event
// time or watermark lies more than MaxFuture ahead of now: a checkpoint
// written before the bound existed (or with it disabled) that would keep
// the partition's watermark in the far future for good.
func (a *Analyzer) checkRestored(p *part, eng *stream.Engine, now time.Time) error {
	if p.snapMaxTs != noTime {
		if err := stocklake.CheckEventTime(time.UnixMicro(p.snapMaxTs), now, a.cfg.MaxFuture); err != nil {
			return fmt.Errorf("greatest event time: %w", err)
		}
	}
	if wm := eng.Watermark(); !wm.IsZero() {
		if err := stocklake.CheckEventTime(wm, now, a.cfg.MaxFuture); err != nil {
			return fmt.Errorf("watermark: %w", err)
		}
	}
	return nil
}

func (a *Analyzer) sortedParts() []*part {
	ps := make([]*part, 0, len(a.parts))
	for _, p := range a.parts {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(x, y *part) int { return int(x.id) - int(y.id) })
	return ps
}

func (a *Analyzer) begin() error {
	if a.inTxn {
		return nil
	}
	if err := a.sess.Begin(); err != nil {
		return fmt.Errorf("begin transaction: %w: %w", err, stocklake.ErrUnavailable)
	}
	a.inTxn, a.txnStart = true, time.Now()
	return nil
}

// process feeds the polled ticks to their partitions' engines and
// produces what comes out.
func (a *Analyzer) process(ctx context.Context, fetches kgo.Fetches) error {
	var err error
	now := time.Now()
	behind := false
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if err != nil || fp.Topic != a.cfg.In || len(fp.Records) == 0 {
			return
		}
		// More than another poll's worth left after this one: catching up
		// on a backlog. (A few records left is live input arriving while
		// this poll ran; counting that as a backlog held final bars back
		// for up to CheckpointInterval at 100,000 ticks/s.)
		if fp.LastStableOffset-(fp.Records[len(fp.Records)-1].Offset+1) > int64(a.cfg.MaxPollRecords) {
			behind = true
		}
		p := a.parts[fp.Partition]
		if p == nil {
			a.txnBad = true
			a.log.Warn("records of a partition this instance has no state for; the transaction will abort", "partition", fp.Partition)
			return
		}
		if err = a.begin(); err != nil {
			return
		}
		next := fp.Records[len(fp.Records)-1].Offset + 1 // read before the records are recycled
		for _, r := range fp.Records {
			kind := stocklake.ErrorKindParse
			t, perr := a.ticks.Parse(r.Value)
			if perr == nil {
				// Before the engine sees it: a far-future tick must not
				// move the watermark.
				kind = stocklake.ErrorKindFuture
				perr = stocklake.CheckEventTime(t.Time, now, a.cfg.MaxFuture)
			}
			if perr == nil {
				kind = stocklake.ErrorKindInvalid
				perr = p.eng.Process(p.id, &t, &a.out)
			}
			if perr != nil {
				// The dead letter holds r's key and value: not recycled.
				a.deadLetter(ctx, r, kind, perr)
				continue
			}
			// Nothing decoded from r refers to its memory (the parser
			// copies strings), so the client may reuse it.
			r.Recycle()
			if ts := t.Time.UnixMicro(); ts > p.maxTs {
				p.maxTs = ts
			}
			if a.out.Len() > 0 {
				a.emit(ctx)
			}
		}
		p.next, p.lastWall, p.dirty, p.caughtUp = next, now, true, false
		a.txnRecords += len(fp.Records)
		a.stats.Ticks.Add(int64(len(fp.Records)))
	})
	if len(fetches) > 0 {
		a.behind = behind
	}
	return err
}

func (a *Analyzer) promise(r *kgo.Record, err error) {
	if err != nil {
		a.prodMu.Lock()
		if a.prodErr == nil {
			a.prodErr = fmt.Errorf("produce to %s: %w", r.Topic, err)
		}
		a.prodMu.Unlock()
	}
}

func (a *Analyzer) produceErr() error {
	a.prodMu.Lock()
	defer a.prodMu.Unlock()
	return a.prodErr
}

// emit produces the engine's output in the open transaction.
func (a *Analyzer) emit(ctx context.Context) {
	// Records must not fail when ctx ends mid-transaction: the final
	// commit on shutdown still sends them.
	ctx = context.WithoutCancel(ctx)
	for i := range a.out.Bars {
		b := &a.out.Bars[i]
		if p := a.parts[b.Partition]; p != nil {
			p.dirty = true
		}
		k, v := a.outKey(b.Symbol)
		if b.Final {
			a.outBuf = b.AppendJSON(a.outBuf, &b.Indicators)
			a.produceOut(ctx, a.barTopics[b.Window], a.hdrBar, k, v)
			a.stats.Bars.Add(1)
			if a.txnFinals == 0 {
				a.finalAt = time.Now()
			}
			a.txnFinals++
		} else {
			a.outBuf = b.AppendJSON(a.outBuf, nil)
			a.produceOut(ctx, a.liveTopics[b.Window], a.hdrBar, k, v)
			a.stats.Provisional.Add(1)
		}
	}
	for i := range a.out.Late {
		l := &a.out.Late[i]
		lt := stocklake.LateTick{Tick: l.Tick, Windows: l.Windows, Watermark: l.Watermark}
		k, v := a.outKey(l.Tick.Symbol)
		a.outBuf = lt.AppendJSON(a.outBuf)
		a.produceOut(ctx, a.cfg.LateTopic, a.hdrLate, k, v)
		a.stats.Late.Add(1)
	}
	for i := range a.out.Alerts {
		al := &a.out.Alerts[i]
		k, v := a.outKey(al.Symbol)
		a.outBuf = al.AppendJSON(a.outBuf)
		a.produceOut(ctx, a.cfg.AlertsTopic, a.hdrAlert, k, v)
		a.stats.Alerts.Add(1)
		if a.txnFinals == 0 {
			a.finalAt = time.Now()
		}
		a.txnFinals++
		if a.cfg.Webhook != nil {
			a.txnAlerts = append(a.txnAlerts, *al)
		}
	}
	a.out.Reset()
}

// outBlock is the size of the blocks emit carves output keys and values
// from, outRoom the room a block must have left for the next output (a
// bar with indicators is some 400 bytes; a larger one grows the block),
// and outRecords how many records a block of them holds.
const (
	outBlock   = 64 << 10
	outRoom    = 2 << 10
	outRecords = 256
)

// outKey appends key to a.outBuf, starting a new block when little room
// is left, and returns where it starts and ends; the caller appends the
// value after it and calls produceOut.
func (a *Analyzer) outKey(key string) (k, v int) {
	if cap(a.outBuf)-len(a.outBuf) < outRoom+len(key) {
		a.outBuf = make([]byte, 0, outBlock)
	}
	k = len(a.outBuf)
	a.outBuf = append(a.outBuf, key...)
	return k, len(a.outBuf)
}

// produceOut produces a record of topic whose key is a.outBuf[k:v] and
// value a.outBuf[v:] (outKey), in a record from a block of them. The
// record keeps its block of bytes and its block of records in memory
// until it is sent; neither is written again.
func (a *Analyzer) produceOut(ctx context.Context, topic string, hdr []kgo.RecordHeader, k, v int) {
	end := len(a.outBuf)
	if len(a.outRecs) == 0 {
		a.outRecs = make([]kgo.Record, outRecords)
	}
	r := &a.outRecs[0]
	a.outRecs = a.outRecs[1:]
	*r = kgo.Record{Topic: topic, Key: a.outBuf[k:v:v], Value: a.outBuf[v:end:end], Headers: hdr}
	a.sess.Produce(ctx, r, a.promise)
}

// due reports whether the open transaction should commit now. While
// catching up on a backlog, final bars do not force a commit (latency means
// nothing there and commits cost throughput).
func (a *Analyzer) due(now time.Time) bool {
	switch {
	case !a.inTxn:
		return false
	case a.txnRecords >= a.cfg.CheckpointRecords,
		now.Sub(a.txnStart) >= a.cfg.CheckpointInterval,
		!a.behind && a.txnFinals > 0 && now.Sub(a.finalAt) >= a.cfg.CommitLatency:
		return true
	}
	return false
}

// commit checkpoints the changed partitions and ends the open transaction
// with a commit (or an abort, when something failed). After an abort the
// engine is rebuilt from the last committed checkpoints.
func (a *Analyzer) commit(ctx context.Context) error {
	if !a.inTxn {
		return nil
	}
	type written struct {
		p      *part
		off    int64
		state  []byte
		maxTs  int64
		nbytes int
	}
	var ws []written
	how := kgo.TryCommit
	if a.produceErr() != nil || a.txnBad {
		how = kgo.TryAbort
	} else {
		unc := a.sess.Client().UncommittedOffsets()[a.cfg.In]
		a.snapSeq++
		id := a.cfg.InstanceID + "/" + a.snapNonce + "/" + strconv.FormatUint(a.snapSeq, 10)
		for _, p := range a.sortedParts() {
			if !p.dirty {
				continue
			}
			off := p.committed
			if eo, ok := unc[p.id]; ok {
				off = eo.Offset
			}
			cp := checkpoint{partition: p.id, offset: off, maxTs: p.maxTs, state: p.eng.SnapshotPartition(nil, p.id)}
			n := 0
			for _, r := range a.checkpointRecords(&cp, p.id%a.statePartitions, id) {
				n += len(r.Value)
				a.sess.Produce(context.WithoutCancel(ctx), r, a.promise)
			}
			ws = append(ws, written{p: p, off: off, state: cp.state, maxTs: cp.maxTs, nbytes: n})
		}
	}
	endStart := time.Now()
	committed, err := a.sess.End(ctx, how)
	a.stats.CommitNanos.Add(int64(time.Since(endStart)))
	a.inTxn = false
	alerts := a.txnAlerts
	a.txnAlerts, a.txnRecords, a.txnFinals, a.txnBad = a.txnAlerts[:0], 0, 0, false
	perr := a.produceErr()
	a.prodMu.Lock()
	a.prodErr = nil
	a.prodMu.Unlock()
	if err != nil {
		return fmt.Errorf("end transaction of %s: %w: %w", a.cfg.InstanceID, err, stocklake.ErrUnavailable)
	}
	if !committed {
		a.stats.Aborts.Add(1)
		a.log.Warn("transaction aborted; rewinding to the last commit", "produce_err", perr)
		return a.rebuild()
	}
	for _, w := range ws {
		w.p.snap, w.p.committed, w.p.snapMaxTs, w.p.dirty = w.state, w.off, w.maxTs, false
		a.stats.Checkpoints.Add(1)
		a.stats.StateBytes.Add(int64(w.nbytes))
	}
	a.stats.Commits.Add(1)
	var wm int64
	for _, p := range a.parts {
		if w := p.eng.Watermark(); !w.IsZero() && (wm == 0 || w.UnixMicro() < wm) {
			wm = w.UnixMicro()
		}
	}
	a.stats.Watermark.Store(wm)
	if a.cfg.Webhook != nil {
		for _, al := range alerts {
			a.cfg.Webhook.Notify(al)
		}
	}
	clear(alerts)
	if a.cfg.onCommit != nil {
		a.cfg.onCommit()
	}
	return nil
}

// idle advances the watermark of partitions that have gone quiet (see the
// package documentation). It reports done when ExitWhenIdle is set and
// there is nothing left to do.
func (a *Analyzer) idle(ctx context.Context, now time.Time) (done bool, err error) {
	if a.cfg.IdleTimeout < 0 || len(a.parts) == 0 || now.Before(a.nextIdle) {
		return false, nil
	}
	a.nextIdle = now.Add(min(time.Second, max(10*time.Millisecond, a.cfg.IdleTimeout/4)))
	var quiet []*part
	for _, p := range a.parts {
		if now.Sub(p.lastWall) >= a.cfg.IdleTimeout {
			quiet = append(quiet, p)
		}
	}
	if len(quiet) == 0 {
		return false, nil
	}
	if err := a.checkCaughtUp(ctx, quiet, now); err != nil {
		a.log.Warn("cannot tell whether idle partitions are caught up", "err", err)
		return false, nil
	}
	delay := a.cfg.Stream.Delay.Microseconds()
	// A batch job (ExitWhenIdle) that has read all its input closes every
	// window at once instead of letting event time pass them at wall-clock
	// speed, which took up to the longest window: the bars are the same,
	// as no more records come either way.
	closeAll := a.cfg.ExitWhenIdle && len(quiet) == len(a.parts)
	for _, p := range quiet {
		closeAll = closeAll && p.caughtUp
	}
	idle := 0
	for _, p := range quiet {
		if !p.caughtUp {
			continue
		}
		idle++
		if p.maxTs == noTime {
			continue
		}
		before := p.eng.Watermark()
		to := p.maxTs + now.Sub(p.lastWall).Microseconds() - delay
		if closeAll {
			to = max(to, p.maxTs+slices.Max(a.cfg.Stream.Windows).Microseconds()+a.cfg.Stream.Lateness.Microseconds()+1)
		}
		p.eng.AdvanceTo(time.UnixMicro(to).UTC(), &a.out)
		if p.eng.Watermark().After(before) {
			a.stats.IdleAdvances.Add(1)
		}
		if a.out.Len() > 0 {
			if err := a.begin(); err != nil {
				return false, err
			}
			a.emit(ctx)
		}
	}
	if !a.cfg.ExitWhenIdle || idle < len(a.parts) {
		return false, nil
	}
	for _, p := range a.parts {
		if p.eng.Stats().OpenWindows > 0 {
			return false, nil
		}
	}
	return true, nil
}

// checkCaughtUp marks the quiet partitions that have consumed their log up
// to its last stable offset (allowing for a final transaction marker).
func (a *Analyzer) checkCaughtUp(ctx context.Context, quiet []*part, now time.Time) error {
	need := false
	for _, p := range quiet {
		if !p.caughtUp {
			need = true
		}
	}
	if !need || now.Sub(a.lastCaught) < a.cfg.IdleTimeout/4 {
		return nil
	}
	a.lastCaught = now
	adm := kadm.NewClient(a.admin)
	lso, err := adm.ListCommittedOffsets(ctx, a.cfg.In)
	if err == nil {
		err = lso.Error()
	}
	if err != nil {
		return err
	}
	starts, err := adm.ListStartOffsets(ctx, a.cfg.In)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return err
	}
	for _, p := range quiet {
		end, ok := lso.Lookup(a.cfg.In, p.id)
		if !ok {
			continue
		}
		start, _ := starts.Lookup(a.cfg.In, p.id)
		p.caughtUp = kafka.Lag(start.Offset, p.next, end.Offset) <= 1 // a final transaction marker is no record
	}
	return nil
}
