// Package sink lands a Kafka topic in the data lake: it consumes with a
// consumer group, batches records per Kafka partition, writes Parquet (or
// JSON lines) objects in Hive-style partitions, and commits offsets only
// after the objects are durable, so results are exactly once across crashes,
// restarts and rebalances. Records that cannot be parsed go to a dead-letter
// topic with the reason in a header.
//
// Exactly-once protocol, per Kafka partition and batch [first, last]:
//
//  0. on assignment the sink claims the partition: it reads the manifest
//     (_stocklake/sink/<table>/<topic id>/<partition>.json) and writes it
//     back with its epoch raised by one, conditionally on the version it
//     read (ObjectStore.PutIf). A manifest that cannot be read is retried,
//     then stops the sink; it is never taken for "no manifest";
//  1. the batch's object keys are written to the manifest, conditionally on
//     the version this owner wrote last; if that is refused, another sink
//     has claimed the partition (this one was paused past its session: a
//     zombie), and the batch and the partition are dropped without writing
//     or deleting anything;
//  2. the objects are written, and stale ones deleted, each fenced on the
//     manifest version this owner wrote: on file:// the check and the
//     rename are one step under the manifest's lock
//     (stocklake.FencedStore), elsewhere the version is checked just before
//     each write. Names derive from Kafka coordinates
//     (<table>+<topic id>+<partition>+<first offset of the object>);
//  3. dead-letter records of the batch are flushed;
//  4. offset last+1 is committed.
//
// After a crash the partition resumes from the committed offset. Manifest
// batches that end at or after it were written but not committed. The
// records are read again from that offset, and each object of the new first
// batch takes the name of the object holding the same first record, so it
// replaces it; manifest objects the new batch does not rewrite are deleted
// before the commit (their records come again in later batches). A commit
// that fails keeps its batch in the manifest until a later commit succeeds;
// it is retried with backoff (up to 30 s apart) for as long as Kafka is
// away. Nothing is lost and nothing counted twice, whatever the moment of
// the crash.
//
// Fencing on file:// leaves no window: a zombie paused anywhere, even
// after its manifest write, finds every later object write or delete
// refused, and objects it wrote before its successor's claim are named in
// the manifest the successor read, so the successor rewrites or removes
// them. On S3, which has no condition across keys, a pause between the
// version check and the PUT it guards can still let one stale write land
// after the successor's; closing that needs a commit that is itself the
// conditional write, as the Iceberg table format's snapshots are.
//
// The table's shape (schema mode, event-time field, partition keys, format)
// is decided once, by the first sink, and kept in
// _stocklake/sink/<table>/table.json (see tableState). On a broker without
// topic IDs, the topic ID in names is one kept in the lake (see
// topicState).
package sink

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parquet-go/parquet-go/compress"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
)

// Record schemas.
const (
	SchemaAuto = "auto"
	SchemaTick = "tick"
	SchemaJSON = "json"
	// SchemaRegistry: records in the Confluent Schema Registry wire
	// format, decoded with Config.Decoder (see registry.go).
	SchemaRegistry = "registry"
)

// Defaults of Config.
const (
	DefaultGroup             = stocklake.DefaultSinkGroup
	DefaultFormat            = stocklake.FormatParquet
	DefaultSchema            = SchemaAuto
	DefaultPartitionBy       = "dt,hour"
	DefaultCompression       = "zstd"
	DefaultFlushInterval     = 60 * time.Second
	DefaultMaxRows           = 1_000_000
	DefaultMaxBytes          = 128 << 20
	DefaultMaxBufferBytes    = 256 << 20
	DefaultRowGroupRows      = 1_000_000
	DefaultMaxOpenPartitions = 64
	DefaultShutdownTimeout   = 10 * time.Second
	DefaultMaxColumns        = 1000
)

// PartitionRegistrar learns about each new lake partition as its first
// object is written, e.g. to add it to a catalog so the data is queryable at
// once. columns are the columns of the object written, in file order, with
// Glue/Hive types (nil for JSON lines, whose columns the sink does not
// fix); keys are the partition key names; values their values; location
// the partition folder's key prefix in the store.
type PartitionRegistrar interface {
	RegisterPartition(ctx context.Context, table string, format string, columns []stocklake.Column, keys, values []string, location string) error
}

// TableWidener is a PartitionRegistrar that can also widen a table's
// columns (a new table version): the sink calls it, before registering
// its next partition, when a new writer schema of a schema registry
// widened the table (see Config.Decoder). crawler.Registrar is one.
type TableWidener interface {
	WidenTable(ctx context.Context, table string, columns []stocklake.Column) error
}

// Config configures a Sink. Zero values take the defaults stated.
type Config struct {
	Kafka kafka.Config
	// Topic to consume. Required.
	Topic string
	// Group is the consumer group; default "stocklake-sink".
	Group string
	// InstanceID, if set, makes the sink a static member of Group (Kafka
	// group.instance.id): a sink restarted with the same ID takes its place
	// at once, with the same partitions and no rebalance, instead of waiting
	// for the old member's session to expire. A static member does not leave
	// the group when it stops, so its partitions wait for it (up to the
	// 10 s session timeout) before moving to other members. Each sink of a
	// group needs its own stable ID, e.g. the host name. Default "": a
	// dynamic member.
	InstanceID string
	// Store is the lake. Required.
	Store stocklake.ObjectStore
	// Table is the folder (and table) name in the lake; default Topic with
	// characters other than letters, digits and '_' replaced by '_'.
	Table string
	// Format is parquet (default) or json (JSON lines, as the seed writes).
	// Format, Schema, Partitioning and TimeField shape the table: the first
	// sink stores them in the lake and later sinks follow the stored
	// values; a value set here that contradicts them makes Run fail with
	// ErrConfig. Leave them zero to follow the table.
	Format string
	// Schema is auto (default: ticks if the table's first record is a
	// tick, records of a schema registry if it is framed for one and
	// Decoder is set, else JSON objects), tick, json or registry.
	Schema string
	// Decoder, if set, decodes records in the Confluent Schema Registry
	// wire format with their writer's schema (sink --registry); they land
	// with a column per field. Default nil: such records are ticks if they
	// are Avro ticks (stocklake.TickAvroSchema), else dead letters.
	Decoder stocklake.RecordDecoder
	// Partitioning of objects; default dt,hour from event time.
	Partitioning Partitioning
	// TimeField names the event-time field of JSON records; default:
	// detected in the table's first record (ts, timestamp, event_time,
	// time, datetime, date), else the Kafka record timestamp.
	TimeField string
	// FlushInterval rolls a batch this long after its first record, even
	// if no more data arrives; default 60s.
	FlushInterval time.Duration
	// MaxRows rolls a batch at this many records; default 1,000,000.
	MaxRows int
	// MaxBytes rolls a batch at this many bytes of record values; default 128 MiB.
	MaxBytes int64
	// MaxBufferBytes bounds the memory of the records the sink holds: 1/8
	// of it (at least 8 MiB) is set aside for the Kafka client's fetches,
	// which are sized to fit (see fetchReserve), and when the buffered
	// batches count more than the rest (Stats.Buffered), the largest are
	// written early. Default 256 MiB.
	MaxBufferBytes int64
	// RowGroupRows caps rows per Parquet row group; default 1,000,000.
	RowGroupRows int64
	// Compression for Parquet: zstd (default), snappy, gzip, none.
	Compression string
	// DLQTopic receives unparseable records; default "<Topic>.dlq". Dead
	// letters of one Kafka partition all go to one partition of it (the
	// source partition modulo its partition count), in offset order, and
	// are written exactly once across crashes (see deadLetter).
	DLQTopic string
	// MaxFuture refuses records whose event time lies more than this far
	// ahead of the wall clock: they go to the dead-letter topic instead of
	// a partition such as dt=9999-12-31. Default stocklake.DefaultMaxFuture;
	// negative disables the check.
	MaxFuture time.Duration
	// MaxOpenPartitions bounds the lake partitions (Parquet writers and
	// their buffers) open at once across all batches; when a record needs
	// one more, the batch holding the oldest is written first. Default 64.
	MaxOpenPartitions int
	// MaxColumns bounds the columns of a JSON table in table mode
	// (Config.Committer): records whose new fields would make the table
	// wider go to the dead-letter topic, so a feed whose keys are data (a
	// field per symbol, per order) cannot widen the table's schema without
	// end (every commit rewrites the table's metadata, with every schema
	// version). Default DefaultMaxColumns (1,000).
	MaxColumns int
	// ShutdownTimeout bounds the final write and commit once ctx is done;
	// what is not written by then is read again by the next run. Default 10s.
	ShutdownTimeout time.Duration
	// Registrar, if set, is told about each new partition folder.
	Registrar PartitionRegistrar
	// Logger for structured logs; default slog.Default().
	Logger *slog.Logger
	// ExitWhenIdle makes Run write everything and return once it has caught
	// up: partitions assigned, no records for a few polls, no lag. For
	// batch jobs and tests. Default false: run until ctx is done.
	ExitWhenIdle bool
	// OnCommit, if set, is called after each commit with the partition and
	// the committed offset (for tests and progress output).
	OnCommit func(partition int32, offset int64)
	// BeforeCommit, if set, is called after a batch's objects are written
	// and before its offsets are committed, with the batch's partition and
	// the offset the commit will advance it to (its last offset + 1). It
	// exists for fault injection (cmd/stocklake's
	// STOCKLAKE_FAULT_COMMIT_DELAY holds it open so a test can kill the sink
	// between the write and the commit). With a Committer, whose flush
	// commits several partitions in one snapshot, it is called for each of
	// them in turn, after all their files are written and before that one
	// commit. Default nil.
	BeforeCommit func(ctx context.Context, partition int32, end int64)
	// Committer, if set, makes the table one that carries its own offsets
	// (`--table-format iceberg`): batches are committed to it, with their
	// offsets, instead of following the manifest protocol; see
	// TableCommitter. Format must be left zero or be parquet; Schema may
	// be json or auto (JSON tables) only when the committer is a
	// ShapedTable, else it must be left zero or be tick. Default nil: a
	// Hive table.
	Committer TableCommitter
}

// Stats are running counters of a Sink, safe to read concurrently.
type Stats struct {
	Records     atomic.Int64 // records consumed
	Rows        atomic.Int64 // rows written to the lake (committed)
	Objects     atomic.Int64 // objects written
	Bytes       atomic.Int64 // bytes written
	DeadLetters atomic.Int64 // records sent to the dead-letter topic
	Commits     atomic.Int64 // offset commits
	// LastCommit is the wall clock of the last offset commit, in Unix
	// nanoseconds (0 before the first): with --exit-when-idle, when the
	// work was done, before the idle check that ends the run.
	LastCommit atomic.Int64
	Buffered   atomic.Int64 // bytes of records buffered now
	Lag        atomic.Int64 // records in the topic not yet consumed, as of the last fetch
	Retries    atomic.Int64 // failed writes or commits that were retried
	// CommitFailures counts offset commits that failed; their batches stay
	// in the manifest and the commit is retried with backoff.
	CommitFailures atomic.Int64
	// Fenced counts batches whose manifest write was refused because
	// another sink had claimed the partition (this sink was a zombie);
	// nothing of those batches was written.
	Fenced atomic.Int64
	// Partitions is the number of Kafka partitions the sink owns, as of
	// its last poll.
	Partitions atomic.Int64
	// DeadLettersTruncated counts dead letters too large for the
	// dead-letter topic, sent as a truncated copy (see stocklake.HeaderOriginalSize).
	DeadLettersTruncated atomic.Int64
	// DeadLettersSkipped counts dead letters not sent again after a
	// restart because the dead-letter topic already holds them.
	DeadLettersSkipped atomic.Int64
	OpenPartitions     atomic.Int64 // lake partitions (writers) open now
	PeakOpenPartitions atomic.Int64 // most lake partitions open at once
	PeakBuffered       atomic.Int64 // most bytes buffered at once (after memory was bounded)
}

// Sink consumes a topic into the lake. Make one with New, then Run.
type Sink struct {
	cfg   Config
	codec compress.Codec
	log   *slog.Logger
	stats Stats

	cl  *kgo.Client
	dlq *kgo.Client // idempotent producer of dead letters, partitioned by hand

	dlqParts int32           // partitions of the dead-letter topic, once known
	dlqNext  map[int32]int64 // per dead-letter partition: no later dead letter of ours lands below this offset
	now      time.Time       // wall clock at the current poll, for MaxFuture
	runCtx   context.Context // Run's context
	life     context.Context // ends ShutdownTimeout after runCtx
	keyBase  int             // bytes of an object key besides the partition path (see checkPath)
	// afterDeadLetters, if set (by tests), runs after a batch's dead
	// letters are sent and before its offsets are committed.
	afterDeadLetters func(partition int32) error

	topicID string
	parts   map[int32]*partState
	// polled and decoded are process's buffers, kept between polls: the
	// records of a poll in order, and their ticks (see decodeAhead).
	polled  []*kgo.Record
	decoded []decoded
	parsers []stocklake.TickParser // decodeAhead's, one per goroutine
	hwm     map[int32]int64
	mode    string // SchemaTick, SchemaJSON or SchemaRegistry once decided
	// regFields are the columns of a SchemaRegistry table: the union of
	// the writer schemas met (see mergeFields); regSchemas the verdict on
	// each writer schema the decoder returned (nil: admitted).
	regFields  []stocklake.Field
	regSchemas map[*stocklake.RecordSchema]error
	// regMillis: the writer schema has timestamp-millis fields, whose
	// values an Iceberg table takes as µs (scaleMillis).
	regMillis map[*stocklake.RecordSchema]bool
	// widenPending: regFields grew and the catalog has not been told yet
	// (TableWidener).
	widenPending atomic.Bool
	// fieldsPending: regFields grew and the table has not kept them yet
	// (the Hive table state, the Iceberg table's schema: storeRegFields,
	// iceRegistryTable). iceRegTable: the Iceberg registry table exists.
	fieldsPending, iceRegTable bool
	// timeDecided: the table's event-time field is decided (cfg.TimeField,
	// "" for the Kafka timestamp); see tableState.
	timeDecided bool
	explicit    explicitSettings

	registered sync.Map // partition path -> struct{}
	pathCache  pathCache

	lastErrMu sync.Mutex
	lastErr   string

	owner        string       // random per process: who claimed a manifest
	pendingParts atomic.Int64 // see notePending
	fatalMu      sync.Mutex
	fatalErr     error // set by group callbacks; Run returns it
	hasFatal     atomic.Bool

	// beforeManifestWrite, a test hook, runs before each manifest write
	// of a flush.
	beforeManifestWrite func(partition int32)
	// afterManifestWrite, a test hook, runs after each manifest write
	// that succeeded, before the batch's objects are written.
	afterManifestWrite func(partition int32)

	// Table mode (Config.Committer), see iceberg.go.
	iceMu    sync.Mutex
	iceSeek  map[int32]int64 // partition -> the table's next offset, for adjustIcebergOffsets
	icePaths map[icePathKey]string
	// iceLast is the last partition path icePath returned, with its key.
	iceLast struct {
		key  icePathKey
		path string
	}
	// iceFields are the fields the table partitions by identity
	// (FieldPartitioned), read at the first iceIdentity.
	iceFields    []string
	iceFieldsSet bool
	// iceKeyBase is, for JSON tables partitioned by field values, the
	// bytes of a data file's key besides its partition path (0 until
	// known; see iceCheckPath).
	iceKeyBase int
	// iceKinds are the columns of a JSON table once decided (nil before,
	// and for tick tables).
	iceKinds map[string]colKind
	iceSeq   int
	// beforeTableCommit, a test hook, runs before each flush's table
	// commit with the partitions it commits; an error fails the flush (a
	// crash between writing files and committing).
	beforeTableCommit func(partitions []int32) error
	// beforeDecide, a test hook, runs before a sink creates a JSON table
	// from its first batch.
	beforeDecide func()
}

// New checks cfg and makes a Sink.
func New(cfg Config) (*Sink, error) {
	if cfg.Topic == "" {
		return nil, stocklake.SettingErr(fmt.Errorf("sink needs a topic: %w", stocklake.ErrConfig), "sink.Config.Topic")
	}
	if cfg.Store == nil {
		return nil, stocklake.SettingErr(fmt.Errorf("sink needs a lake to write to: %w", stocklake.ErrConfig), "sink.Config.Store")
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.Table == "" {
		cfg.Table = TableName(cfg.Topic)
	}
	// Object file names are <table>+<topic id>+<partition>+<offset>.parquet.
	if n := len(cfg.Table) + keyBase("", "", "") - 2; n > maxSegmentBytes {
		return nil, stocklake.SettingErr(fmt.Errorf("table name %.40q... is %d bytes: object names would be longer than the %d bytes a file name may have; name a shorter table: %w",
			cfg.Table, len(cfg.Table), maxSegmentBytes, stocklake.ErrConfig), "sink.Config.Table")
	}
	explicit := explicitSettings{format: cfg.Format != "", schema: cfg.Schema != "" && cfg.Schema != SchemaAuto,
		partitionBy: len(cfg.Partitioning.keys) > 0, timeField: cfg.TimeField != ""}
	switch cfg.Format {
	case "":
		cfg.Format = DefaultFormat
	case stocklake.FormatParquet, stocklake.FormatJSON:
	default:
		return nil, stocklake.SettingErr(fmt.Errorf("format %q: want parquet or json: %w", cfg.Format, stocklake.ErrConfig), "sink.Config.Format")
	}
	switch cfg.Schema {
	case "":
		cfg.Schema = DefaultSchema
	case SchemaAuto, SchemaTick, SchemaJSON:
	case SchemaRegistry:
		if cfg.Decoder == nil {
			return nil, stocklake.SettingErr(fmt.Errorf("schema registry needs a schema registry to decode records: %w", stocklake.ErrConfig), "sink.Config.Decoder")
		}
	default:
		return nil, stocklake.SettingErr(fmt.Errorf("schema %q: want auto, tick, json or registry: %w", cfg.Schema, stocklake.ErrConfig), "sink.Config.Schema")
	}
	if len(cfg.Partitioning.keys) == 0 {
		cfg.Partitioning, _ = ParsePartitioning("")
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.MaxRows <= 0 {
		cfg.MaxRows = DefaultMaxRows
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxBufferBytes <= 0 {
		cfg.MaxBufferBytes = DefaultMaxBufferBytes
	}
	if cfg.RowGroupRows <= 0 {
		cfg.RowGroupRows = DefaultRowGroupRows
	}
	if cfg.DLQTopic == "" {
		cfg.DLQTopic = stocklake.DeadLetterTopic(cfg.Topic)
	}
	if cfg.MaxFuture == 0 {
		cfg.MaxFuture = stocklake.DefaultMaxFuture
	}
	if cfg.MaxOpenPartitions <= 0 {
		cfg.MaxOpenPartitions = DefaultMaxOpenPartitions
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.MaxColumns <= 0 {
		cfg.MaxColumns = DefaultMaxColumns
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Committer != nil {
		_, shaped := cfg.Committer.(ShapedTable)
		if cfg.Format != stocklake.FormatParquet || !shaped && cfg.Schema != SchemaAuto && cfg.Schema != SchemaTick {
			return nil, stocklake.SettingErr(fmt.Errorf("an Iceberg table takes records in Parquet (and JSON records only through a ShapedTable), not format %s and schema %s: %w", cfg.Format, cfg.Schema, stocklake.ErrConfig), "sink.Config.Committer")
		}
		if !shaped {
			cfg.Schema = SchemaTick
		}
	}
	codec, err := ParseCodec(cfg.Compression)
	if err != nil {
		return nil, err
	}
	s := &Sink{iceSeek: map[int32]int64{}, icePaths: map[icePathKey]string{}, cfg: cfg, codec: codec, log: cfg.Logger.With("component", "sink", "topic", cfg.Topic),
		parts: map[int32]*partState{}, hwm: map[int32]int64{}, owner: newOwnerID(), explicit: explicit, dlqNext: map[int32]int64{},
		regSchemas: map[*stocklake.RecordSchema]error{}, regMillis: map[*stocklake.RecordSchema]bool{}}
	return s, nil
}

// TableName derives a lake table name from a topic name.
func TableName(topic string) string {
	b := []byte(strings.ToLower(topic))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Stats returns the sink's live counters.
func (s *Sink) Stats() *Stats { return &s.stats }

// Table returns the lake table name the sink writes.
func (s *Sink) Table() string { return s.cfg.Table }

// LastError returns the most recent error that was retried, or "".
func (s *Sink) LastError() string {
	s.lastErrMu.Lock()
	defer s.lastErrMu.Unlock()
	return s.lastErr
}

func (s *Sink) setLastErr(err error) {
	s.lastErrMu.Lock()
	s.lastErr = err.Error()
	s.lastErrMu.Unlock()
}

// Run consumes until ctx is done, then writes what it buffered, commits and
// leaves the group. It returns nil after a clean shutdown.
func (s *Sink) Run(ctx context.Context) (err error) {
	// The dead-letter producer is made first so it is closed last: leaving
	// the group can still write revoked partitions' batches.
	s.dlq, err = s.cfg.Kafka.NewClient(
		kgo.DefaultProduceTopic(s.cfg.DLQTopic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.ProducerBatchMaxBytes(dlqBatchMaxBytes),
		kgo.RecordDeliveryTimeout(30*time.Second),
		kgo.AllowAutoTopicCreation(),
	)
	if err != nil {
		return err
	}
	defer s.dlq.Close()
	s.keyBase = keyBase(s.cfg.Store.URL(), s.cfg.Table, s.cfg.Format)
	// life ends ShutdownTimeout after ctx: the final writes, and the group
	// callbacks run while leaving, stop then whatever they wait for.
	life, endLife := context.WithCancel(context.WithoutCancel(ctx))
	defer endLife()
	stopLife := context.AfterFunc(ctx, func() { time.AfterFunc(s.cfg.ShutdownTimeout, endLife) })
	defer stopLife()
	s.runCtx, s.life = ctx, life
	opts := []kgo.Opt{
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.cfg.Topic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), // never land aborted transactional output (bars)
		kgo.OnPartitionsAssigned(s.onAssigned),
		kgo.OnPartitionsRevoked(s.onRevoked),
		kgo.OnPartitionsLost(s.onLost),
		kgo.SessionTimeout(10 * time.Second),
		kgo.RebalanceTimeout(5 * time.Minute),
	}
	opts = append(opts, fetchOpts(s.cfg.MaxBufferBytes)...)
	if s.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(s.cfg.InstanceID))
	}
	if s.cfg.Committer != nil {
		opts = append(opts, kgo.AdjustFetchOffsetsFn(s.adjustIcebergOffsets))
	}
	cl, err := s.cfg.Kafka.NewClient(opts...)
	if err != nil {
		return err
	}
	s.cl = cl
	defer func() {
		if err != nil {
			// Failed: leave the group without writing anything more; the
			// next owner reads the uncommitted records again.
			s.dropAll()
		}
		cl.Close()
	}()
	if err := kafka.Ping(ctx, cl, s.cfg.Kafka.Brokers); err != nil {
		return err
	}
	if s.cfg.Committer != nil {
		if err := s.loadTableShape(ctx); err != nil { // no table.json
			return err
		}
	} else if err := s.loadTableState(ctx); err != nil {
		return err
	}

	tick := s.cfg.FlushInterval / 4
	if tick > time.Second {
		tick = time.Second
	}
	if tick < 10*time.Millisecond {
		tick = 10 * time.Millisecond
	}
	s.log.Info("sink started", "group", s.cfg.Group, "instance_id", s.cfg.InstanceID, "lake", s.cfg.Store.URL(), "table", s.cfg.Table, "format", s.cfg.Format)
	idlePolls := 0
	lastBusy := time.Now() // the end of the last poll that brought records
	for ctx.Err() == nil {
		pollCtx, cancel := context.WithTimeout(ctx, tick)
		fetches := cl.PollRecords(pollCtx, 20_000)
		cancel()
		if fetches.IsClientClosed() || ctx.Err() != nil {
			// Stopping: records polled now are not committed, so the next
			// run reads them again.
			break
		}
		if err := s.fatal(); err != nil {
			cl.AllowRebalance()
			s.shutdown()
			return err
		}
		// Idle: nothing fetched for a few polls. caughtUp then checks the
		// committed offsets against the topic's end.
		if fetches.NumRecords() == 0 && len(s.parts) > 0 {
			idlePolls++
		} else {
			idlePolls = 0
		}
		if s.cfg.ExitWhenIdle && idlePolls >= 3 {
			idlePolls = 0
			// idle_wait is the time spent waiting for the polls that
			// found the topic idle: with last_commit, what the run took
			// without it (bench/sink.sh).
			idleWait := time.Since(lastBusy)
			err := s.rollDue(ctx, true)
			if err == nil {
				var done bool
				if done, err = s.caughtUp(ctx); done {
					s.log.Info("caught up; exiting as --exit-when-idle asks", "last_commit", lastCommitTime(&s.stats),
						"idle_wait", idleWait.Seconds())
					cl.AllowRebalance()
					break
				}
			}
			if err != nil {
				s.log.Warn("idle check failed", "err", err)
			}
		}
		err := s.process(ctx, fetches)
		if err == nil {
			err = s.rollDue(ctx, false)
		}
		if fetches.NumRecords() > 0 {
			lastBusy = time.Now()
		}
		cl.AllowRebalance()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
	}
	err = s.shutdown()
	if ferr := s.fatal(); ferr != nil {
		return ferr
	}
	return err
}

// shutdown writes and commits everything buffered, within ShutdownTimeout,
// then leaves the group. Batches not written by then are dropped: their
// offsets are not committed, so the next run reads them again.
func (s *Sink) shutdown() error {
	err := s.rollDue(s.life, true)
	if err != nil {
		s.log.Warn("could not write every batch before the shutdown deadline; the next run reads them again", "timeout", s.cfg.ShutdownTimeout, "err", err)
		s.dropAll()
	}
	s.cl.CloseAllowingRebalance()
	s.log.Info("sink stopped", "rows", s.stats.Rows.Load(), "objects", s.stats.Objects.Load(), "bytes", s.stats.Bytes.Load())
	return err
}

// lastCommitTime is Stats.LastCommit as RFC 3339 text, "" before the
// first commit.
func lastCommitTime(st *Stats) string {
	n := st.LastCommit.Load()
	if n == 0 {
		return ""
	}
	return time.Unix(0, n).UTC().Format(time.RFC3339Nano)
}

// setFatal records an error met in a group callback; Run returns it.
func (s *Sink) setFatal(err error) {
	s.log.Error("sink must stop", "err", err)
	s.fatalMu.Lock()
	if s.fatalErr == nil {
		s.fatalErr = err
	}
	s.hasFatal.Store(true)
	s.fatalMu.Unlock()
}

func (s *Sink) fatal() error {
	s.fatalMu.Lock()
	defer s.fatalMu.Unlock()
	return s.fatalErr
}

// newOwnerID returns a random ID naming this process in the manifests it
// claims.
func newOwnerID() string {
	var b [8]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// fetchReserve is the part of a memory bound set aside for what the Kafka
// client holds (fetchOpts): 1/8 of it, at least 8 MiB. Buffered batches
// get the rest (batchBudget). A fetch is counted in compressed bytes; tick
// batches compress about tenfold and each decoded record costs some 150
// bytes of bookkeeping more, so the client holds about 15 times a fetch's
// size until the sink has taken its records, and it prefetches the next
// one: TestFetchReserveCoversFetches measures it.
func fetchReserve(bound int64) int64 {
	return max(bound/8, 8<<20)
}

// fetchMaxBytes sizes Kafka fetches for a memory bound: 1/64 of its
// fetchReserve, from 128 KiB to 1 MiB; 512 KiB for the default 256 MiB
// bound. With the 4 MiB fetches it gave before, the client held 87 MiB
// and bench/sink.sh (2M ticks) peaked at 243 MiB of anonymous memory,
// against about 145 MiB now at the same CPU per record (issue 18).
func fetchMaxBytes(bound int64) int32 {
	return int32(min(max(bound/8/64, 128<<10), 1<<20))
}

// batchBudget is what the batches of a sink bounded to bound bytes may
// count (Stats.Buffered) before the largest are written early: bound less
// fetchReserve, at least half of it.
func batchBudget(bound int64) int64 {
	return max(bound-fetchReserve(bound), bound/2)
}

// fetchOpts are the Kafka client options that size what the client holds
// for a memory bound: fetch sizes, and pools of decompression buffers and
// record slices it reuses.
func fetchOpts(bound int64) []kgo.Opt {
	return []kgo.Opt{
		kgo.FetchMaxBytes(fetchMaxBytes(bound)),
		kgo.FetchMaxPartitionBytes(fetchMaxBytes(bound) / 2),
		kgo.WithPools(kafka.NewRecordPool()),
	}
}

// process adds polled records to their partition batches.
func (s *Sink) process(ctx context.Context, fetches kgo.Fetches) error {
	var fatal error
	fetches.EachError(func(topic string, p int32, err error) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return
		}
		s.log.Warn("fetch error", "partition", p, "err", err)
		s.setLastErr(err)
	})
	s.now = time.Now()
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) > 0 {
			s.hwm[fp.Partition] = fp.HighWatermark
		}
	})
	s.polled = s.polled[:0]
	fetches.EachRecord(func(r *kgo.Record) { s.polled = append(s.polled, r) })
	pre := s.decodeAhead(s.polled)
	for i, r := range s.polled {
		if s.hasFatal.Load() {
			fatal = s.fatal()
			break
		}
		ps := s.parts[r.Partition]
		if ps == nil { // not ours (revoked meanwhile); it will be re-read by its owner
			continue
		}
		var d *decoded
		if pre != nil {
			d = &pre[i]
		}
		copied, err := s.add(ctx, ps, r, d)
		if err != nil {
			fatal = err
			break
		}
		if copied {
			// Its memory goes back to the kafka.RecordPool; the client reuses it.
			s.polled[i] = nil
			r.Recycle()
		}
		if b := ps.b; b != nil && (b.rows >= s.cfg.MaxRows || b.bytes >= s.cfg.MaxBytes) {
			fatal = s.flush(ctx, ps)
		} else if s.stats.Buffered.Load() > batchBudget(s.cfg.MaxBufferBytes) {
			fatal = s.shrink(ctx)
		}
		if n := s.stats.Buffered.Load(); n > s.stats.PeakBuffered.Load() {
			s.stats.PeakBuffered.Store(n)
		}
		if fatal != nil {
			break
		}
	}
	clear(s.polled) // the records are the client's to free
	clear(pre)
	var lag int64
	for p, h := range s.hwm {
		if ps := s.parts[p]; ps != nil && ps.next >= 0 {
			lag += kafka.Lag(0, ps.next, h)
		}
	}
	s.stats.Lag.Store(lag)
	return fatal
}

// decoded is a record's tick as decodeAhead decoded it.
type decoded struct {
	tick stocklake.Tick
	err  error
}

// decodeAheadMin is the fewest records per goroutine decodeAhead spreads
// its work over.
const decodeAheadMin = 512

// decodeAhead decodes the ticks among recs on every core, each goroutine
// with a TickParser of its own (trade IDs in shared blocks, not one
// allocation each), when the table is known to hold ticks, so that add, which takes the records one by one and
// in order (batches, dead letters and commits depend on it), finds them
// decoded: decoding is a pure function of each record's value. It returns
// nil when there is nothing to decode ahead, else the result of recs[i] at
// index i.
func (s *Sink) decodeAhead(recs []*kgo.Record) []decoded {
	if s.mode != SchemaTick || len(recs) == 0 {
		return nil
	}
	if cap(s.decoded) < len(recs) {
		s.decoded = make([]decoded, len(recs))
	}
	out := s.decoded[:len(recs)]
	workers := max(1, min(runtime.GOMAXPROCS(0), len(recs)/decodeAheadMin))
	chunk := (len(recs) + workers - 1) / workers
	if len(s.parsers) < workers {
		s.parsers = make([]stocklake.TickParser, workers)
	}
	decodeRange := func(p *stocklake.TickParser, lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i].tick, out[i].err = p.Parse(recs[i].Value)
		}
	}
	var wg sync.WaitGroup
	for w, lo := 1, chunk; lo < len(recs); w, lo = w+1, lo+chunk {
		wg.Go(func() { decodeRange(&s.parsers[w], lo, min(lo+chunk, len(recs))) })
	}
	decodeRange(&s.parsers[0], 0, min(chunk, len(recs)))
	wg.Wait()
	return out
}

// rollDue writes every batch that is full or old, or all when all is set,
// and keeps memory under MaxBufferBytes. In table mode the first batch due
// writes them all, in one snapshot (see flush).
func (s *Sink) rollDue(ctx context.Context, all bool) error {
	now := time.Now()
	for _, p := range s.sortedParts() {
		ps := s.parts[p]
		if ps == nil {
			continue // dropped by a flush of another partition (fenced)
		}
		if ps.b == nil {
			if err := s.commitPending(ctx, ps, all); err != nil {
				return err
			}
			continue
		}
		if all || ps.b.rows >= s.cfg.MaxRows || ps.b.bytes >= s.cfg.MaxBytes || now.Sub(ps.b.opened) >= s.cfg.FlushInterval {
			if err := s.flush(ctx, ps); err != nil {
				return err
			}
		}
	}
	err := s.shrink(ctx)
	s.notePending()
	return err
}

// shrink writes the largest batches until memory is under MaxBufferBytes.
func (s *Sink) shrink(ctx context.Context) error {
	for s.stats.Buffered.Load() > batchBudget(s.cfg.MaxBufferBytes) {
		var big *partState
		for _, ps := range s.parts {
			if ps.b != nil && (big == nil || ps.b.bytes > big.b.bytes) {
				big = ps
			}
		}
		if big == nil {
			break
		}
		if err := s.flush(ctx, big); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sink) sortedParts() []int32 {
	ps := make([]int32, 0, len(s.parts))
	for p := range s.parts {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

// onAssigned runs in the group loop when partitions are assigned.
func (s *Sink) onAssigned(ctx context.Context, cl *kgo.Client, assigned map[string][]int32) {
	ctx, cancel := within(ctx, s.runCtx) // a shutdown does not wait for an assignment
	defer cancel()
	if s.cfg.Committer != nil {
		s.assignIceberg(ctx, cl, assigned)
		return
	}
	// The group can assign partitions before kgo.NewClient has returned in
	// Run, so use the callback's client, not s.cl.
	id, err := s.resolveTopicID(ctx, cl)
	if err != nil {
		s.log.Error("cannot read topic id; objects will not be written until it is known", "err", err)
		s.setLastErr(err)
	} else {
		s.topicID = id
	}
	for _, p := range assigned[s.cfg.Topic] {
		ps := &partState{partition: p, next: -1, pendingCommit: -1}
		if s.topicID != "" {
			// Claim the partition now, so a previous owner that still
			// writes (a zombie) is refused from here on; with no topic ID
			// yet, the first flush claims it.
			if err := s.claim(ctx, ps); err != nil {
				if ctx.Err() != nil {
					// Stopping while the group assigned: the partition
					// stays unclaimed and uncommitted; its next owner
					// reads it. Not an error of the sink.
					s.log.Info("stopping before the partition was claimed; its next owner reads it", "partition", p)
					continue
				}
				s.setFatal(fmt.Errorf("cannot take over partition %d: %w", p, err))
				continue
			}
		}
		s.parts[p] = ps
	}
	s.log.Info("partitions assigned", "partitions", assigned[s.cfg.Topic], "topic_id", s.topicID)
}

// onRevoked writes and commits the revoked partitions' batches, so the next
// owner starts exactly where this one stopped.
func (s *Sink) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	ctx, cancel := within(ctx, s.life)
	defer cancel()
	if s.cfg.Committer != nil {
		s.revokeIceberg(ctx, revoked[s.cfg.Topic])
		return
	}
	for _, p := range revoked[s.cfg.Topic] {
		ps := s.parts[p]
		if ps == nil {
			continue
		}
		if ps.b != nil {
			if err := s.flush(ctx, ps); err != nil {
				s.log.Error("could not write batch of revoked partition; its new owner will re-read it", "partition", p, "err", err)
				s.dropBatch(ps)
			}
		} else if err := s.commitPending(ctx, ps, true); err != nil {
			s.log.Warn("could not commit revoked partition; its new owner rewrites the same objects", "partition", p, "err", err)
		}
		delete(s.parts, p)
	}
	if len(revoked[s.cfg.Topic]) > 0 {
		s.log.Info("partitions revoked", "partitions", revoked[s.cfg.Topic])
	}
}

// within returns ctx, cancelled also when bound is done.
func within(ctx, bound context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if bound == nil {
		return ctx, cancel
	}
	stop := context.AfterFunc(bound, cancel)
	return ctx, func() { stop(); cancel() }
}

// onLost drops lost partitions' batches without committing: another member
// owns them now and will re-read those records.
func (s *Sink) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	for _, p := range lost[s.cfg.Topic] {
		if ps := s.parts[p]; ps != nil {
			s.dropBatch(ps)
			delete(s.parts, p)
		}
	}
	s.log.Warn("partitions lost", "partitions", lost[s.cfg.Topic])
}

// dropAll forgets every batch and pending commit, so that leaving the
// group writes and commits nothing more.
func (s *Sink) dropAll() {
	for _, ps := range s.parts {
		s.dropBatch(ps)
		ps.pendingCommit = -1
	}
}

func (s *Sink) dropBatch(ps *partState) {
	if ps.b != nil {
		s.release(ps.b)
		ps.b = nil
	}
}

// retry runs op until it succeeds or ctx ends, backing off exponentially
// from 100ms to 10s with jitter. Lake and Kafka outages are waited out.
func (s *Sink) retry(ctx context.Context, what string, op func() error) error {
	backoff := 100 * time.Millisecond
	for {
		err := op()
		if err == nil {
			return nil
		}
		if errors.Is(err, stocklake.ErrConfig) || errors.Is(err, stocklake.ErrInvalid) || errors.Is(err, stocklake.ErrPrecondition) {
			return err
		}
		s.stats.Retries.Add(1)
		s.setLastErr(err)
		s.log.Warn("retrying", "op", what, "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (gave up: %v)", what, err, ctx.Err())
		case <-time.After(backoff + rand.N(backoff/2)):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// decideMode decides the table's shape from the first usable record when
// no earlier sink has (see tableState).
func (s *Sink) decideMode(r *kgo.Record) bool { return s.detectTable(r) }

// decodeObject parses a JSON object, keeping numbers exact.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("record is not a JSON object: %w: %w", err, stocklake.ErrInvalid)
	}
	if obj == nil {
		return nil, fmt.Errorf("record is JSON null, want an object: %w", stocklake.ErrInvalid)
	}
	if dec.More() {
		return nil, fmt.Errorf("record has data after its JSON object: %w", stocklake.ErrInvalid)
	}
	return obj, nil
}

// caughtUp reports whether the group has committed every partition of the
// topic up to its end offset.
func (s *Sink) caughtUp(ctx context.Context) (bool, error) {
	adm := kadm.NewClient(s.cl)
	ends, err := adm.ListEndOffsets(ctx, s.cfg.Topic)
	if err != nil {
		return false, err
	}
	committed, err := adm.FetchOffsets(ctx, s.cfg.Group)
	if err != nil {
		return false, err
	}
	behind := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed.Lookup(o.Topic, o.Partition)
		if !ok {
			c.At = -1
		}
		if kafka.Lag(0, c.At, o.Offset) > 0 {
			at := int64(0)
			if ok && c.At > 0 {
				at = c.At
			}
			behind[o.Partition] = kgo.NewOffset().At(at)
		}
	})
	if len(behind) == 0 {
		return true, nil
	}
	// Behind only by transaction markers (a transactional topic, such as
	// the analyzer's bars) still counts as caught up: look for data
	// records between the committed and the end offsets.
	cl, err := s.cfg.Kafka.NewClient(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.cfg.Topic: behind}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		return false, err
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for len(behind) > 0 {
		fs := cl.PollFetches(pctx)
		if pctx.Err() != nil {
			return false, nil
		}
		data := false
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				data = true
			}
			if end, ok := ends.Lookup(r.Topic, r.Partition); ok && r.Offset >= end.Offset-1 {
				delete(behind, r.Partition)
			}
		})
		if data {
			return false, nil
		}
	}
	return true, nil
}
