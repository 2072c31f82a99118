package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/crawler"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/sink"
)

// sinkFlags are the flags of `stocklake sink`, shared with demo.
type sinkFlags struct {
	topic, group, lake, table, format, schema, partitionBy, timeField, compression, dlqTopic, tableFormat string
	flushInterval, maxFuture, shutdownTimeout                                                             time.Duration
	maxRows, maxOpenPartitions, maxColumns                                                                int
	maxBytes, maxBufferBytes                                                                              byteSize
	fs                                                                                                    *flag.FlagSet
}

func (f *sinkFlags) register(fs *flag.FlagSet) {
	f.maxBytes, f.maxBufferBytes = sink.DefaultMaxBytes, sink.DefaultMaxBufferBytes
	f.fs = fs
	fs.StringVar(&f.topic, "topic", stocklake.TopicTicks, "Kafka topic to land")
	fs.StringVar(&f.group, "group", sink.DefaultGroup, "Kafka consumer group; run several sinks in one group to share partitions")
	fs.StringVar(&f.lake, "lake", defaultLake, "lake URL: file://DIR or s3://BUCKET/PREFIX[?endpoint=URL&region=R&path_style=true]")
	fs.StringVar(&f.table, "table", "", `lake folder and table name (default: the topic name)`)
	fs.StringVar(&f.tableFormat, "table-format", tableFormatAuto, "table format: hive (Parquet objects in Hive-style folders, offsets in the sink's manifests, partitions registered in a --catalog) or iceberg (an Apache Iceberg table in the --catalog (a sqlite:// file or glue://), under the lake, whose snapshots carry the Kafka offsets; partitioned as --partition-by says (default day of the event time: ts, or --time-field), JSON objects with columns inferred from the first batch; --format json does not apply), or "+tableFormatRule)
	fs.StringVar(&f.format, "format", sink.DefaultFormat, "object format: parquet or json (JSON lines); "+tableShapeNote)
	fs.StringVar(&f.schema, "schema", sink.DefaultSchema, "record schema: auto (from the table's first record), tick, json (any JSON objects) or registry (records of --registry); "+tableShapeNote)
	fs.StringVar(&f.partitionBy, "partition-by", sink.DefaultPartitionBy, "Hive partition keys: dt, year, month, day, hour, minute from event time (UTC), or a field name; "+tableShapeNote+
		". With --table-format iceberg (default day): the table's hidden partitioning, "+iceberg.PartitioningHelp+"; it applies to a new table, and an existing table keeps its own (a different value stops the sink)")
	fs.StringVar(&f.timeField, "time-field", "", "event-time field of JSON records (default: detected in the table's first record, else the Kafka timestamp); "+tableShapeNote)
	fs.StringVar(&f.compression, "compression", sink.DefaultCompression, "Parquet compression: zstd, snappy, gzip or none")
	fs.StringVar(&f.dlqTopic, "dlq-topic", "", "dead-letter topic for records that cannot be parsed (default: <topic>.dlq)")
	fs.DurationVar(&f.flushInterval, "flush-interval", sink.DefaultFlushInterval, "write a batch this long after its first record, even without new data")
	fs.IntVar(&f.maxRows, "max-rows", sink.DefaultMaxRows, "write a batch at this many records per Kafka partition")
	fs.Var(&f.maxBytes, "max-bytes", "write a batch at this many bytes per Kafka partition")
	fs.Var(&f.maxBufferBytes, "max-buffer-bytes", "memory bound for the records the sink holds: 1/8 of it is set aside for Kafka fetches, sized to fit (1/512 of it, 128 KiB to 1 MiB), the rest for buffered records across partitions, each open lake partition counted at 64 KiB; Go's memory limit is it less the resident pages of the program's own code (about 100 MiB) and 16 MiB of headroom (at least 128 MiB), so the process stays near it, unless GOMEMLIMIT is set")
	fs.IntVar(&f.maxOpenPartitions, "max-open-partitions", sink.DefaultMaxOpenPartitions, "lake partitions (Parquet writers) open at once across all batches; one more writes the oldest batch first")
	fs.IntVar(&f.maxColumns, "max-columns", sink.DefaultMaxColumns, "with --table-format iceberg, the most columns the sink gives a JSON table: records whose new fields would make it wider go to the dead-letter topic (a feed whose keys are data cannot widen the table without end)")
	fs.DurationVar(&f.maxFuture, "max-future", stocklake.DefaultMaxFuture, "records whose event time is more than this ahead of the wall clock go to the dead-letter topic (0 disables)")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", sink.DefaultShutdownTimeout, "on Ctrl-C or SIGTERM, time to write and commit what is buffered; the rest is read again by the next run")
}

// tableShapeNote tells that the table-shaping flags are decided once.
const tableShapeNote = "the first sink of a table stores its choice in the lake (_stocklake/sink/<table>/table.json) and later sinks follow it; a flag that contradicts it stops the sink"

// isSet tells whether the flag name was set (on the command line or in the
// environment).
func (f *sinkFlags) isSet(name string) bool {
	set := false
	if f.fs != nil {
		f.fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	}
	return set
}

// hiveOnly names the setting among the flags (and catURL, projection)
// that only Hive tables have, for which --table-format auto makes a new
// table Hive; "" when there is none.
func (f *sinkFlags) hiveOnly(catURL string, projection bool) string {
	switch {
	case catURL == "":
		return "no --catalog is set (an Iceberg table lives in a sqlite:// or glue:// catalog)"
	case f.isSet("format") && f.format == stocklake.FormatJSON:
		return "--format json writes JSON lines objects (Iceberg data files are Parquet)"
	case projection:
		return "--projection sets Athena partition projection on a Hive table"
	case f.isSet("partition-by"):
		if _, err := iceberg.ParsePartitioning(f.partitionBy); err != nil {
			if _, herr := sink.ParsePartitioning(f.partitionBy); herr == nil {
				return fmt.Sprintf("--partition-by %s is a Hive partitioning (Iceberg tables take %s)", f.partitionBy, iceberg.PartitioningHelp)
			}
		}
	}
	return ""
}

// tableName is the sink's table: --table, by default the topic's name.
func (f *sinkFlags) tableName() string {
	if f.table != "" {
		return f.table
	}
	return sink.TableName(f.topic)
}

func (f *sinkFlags) config() (sink.Config, error) {
	// Table-shaping flags left at their defaults are passed as "", so the
	// sink follows what the table's first sink decided.
	set := map[string]bool{}
	if f.fs != nil {
		f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	}
	format, schema := f.format, f.schema
	if !set["format"] {
		format = ""
	}
	if !set["schema"] {
		schema = ""
	}
	var p sink.Partitioning
	if set["partition-by"] && f.tableFormat == stocklake.TableFormatIceberg {
		// The Iceberg table's partitioning: see openIcebergTable.
		if _, err := iceberg.ParsePartitioning(f.partitionBy); err != nil {
			return sink.Config{}, stocklake.SettingErr(err, "sink.Config.Partitioning")
		}
	} else if set["partition-by"] {
		var err error
		if p, err = sink.ParsePartitioning(f.partitionBy); err != nil {
			return sink.Config{}, err
		}
	}
	maxFuture := f.maxFuture
	switch {
	case maxFuture < 0:
		return sink.Config{}, fmt.Errorf("--max-future %s: want a positive duration, or 0 to disable the check: %w", maxFuture, stocklake.ErrConfig)
	case maxFuture == 0:
		maxFuture = -1 // sink.Config: negative disables, 0 is the default
	}
	if f.maxOpenPartitions <= 0 {
		return sink.Config{}, fmt.Errorf("--max-open-partitions %d: want at least 1: %w", f.maxOpenPartitions, stocklake.ErrConfig)
	}
	if f.shutdownTimeout <= 0 {
		return sink.Config{}, fmt.Errorf("--shutdown-timeout %s: want a positive duration: %w", f.shutdownTimeout, stocklake.ErrConfig)
	}
	if f.maxColumns <= 0 {
		return sink.Config{}, fmt.Errorf("--max-columns %d: want at least 1: %w", f.maxColumns, stocklake.ErrConfig)
	}
	setShutdownGrace(f.shutdownTimeout + 5*time.Second)
	return sink.Config{
		Topic: f.topic, Group: f.group, Table: f.table, Format: format, Schema: schema,
		Partitioning: p, TimeField: f.timeField, FlushInterval: f.flushInterval, MaxRows: f.maxRows,
		MaxBytes: int64(f.maxBytes), MaxBufferBytes: int64(f.maxBufferBytes), Compression: f.compression,
		DLQTopic: f.dlqTopic, MaxOpenPartitions: f.maxOpenPartitions, MaxFuture: maxFuture, ShutdownTimeout: f.shutdownTimeout,
		MaxColumns: f.maxColumns,
	}, nil
}

func sinkCommand() *ffcli.Command {
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	var kf kafkaFlags
	var sf sinkFlags
	var lf logFlags
	var rf registryFlags
	kf.register(fs)
	sf.register(fs)
	lf.register(fs)
	rf.register(fs, "records framed for it (magic byte 0, schema ID) are decoded with their writer's Avro, Protobuf or JSON Schema and land with a column per field")
	catURL := fs.String("catalog", "", `catalog URL to register new partitions in as they are written, e.g. `+defaultCatalog+` ("" disables)`)
	projection := fs.Bool("projection", false, "with --catalog: give the table Athena partition projection properties for its dt,hour keys (dates from the first partition's day to NOW) and register no partitions; Athena, Trino (hive.partition-projection-enabled) and stocklake query compute them")
	database := fs.String("database", stocklake.DefaultDatabase, "catalog database for --catalog")
	exitIdle := fs.Bool("exit-when-idle", false, "write everything and exit once caught up with the topic (for batch jobs)")
	var metricsF metricsFlags
	metricsF.register(fs, "127.0.0.1:9464")
	instanceID := fs.String("instance-id", "", `static group membership: an ID unique in the group and stable across restarts, e.g. the host name; a sink restarted with it takes its place at once instead of waiting out the 10 s session ("" disables)`)
	return newCommand("sink", "stocklake sink --brokers B --topic T --lake URL [flags]",
		"land a Kafka topic in the lake as Parquet, exactly once",
		`Consumes a topic with a consumer group and lands it in a lake table, exactly
once, as an Apache Iceberg table or as Parquet (or JSON lines) objects in
Hive-style partitions (--table-format).

--table-format auto (the default) keeps an existing table's format: hive
when the lake holds the Hive sink's state for it (_stocklake/sink/<table>/)
or the --catalog a non-Iceberg table of that name, iceberg when the
--catalog holds an Iceberg table of that name. A new table is iceberg,
unless a setting only Hive tables have asks for hive: no --catalog,
--format json, --projection, or a --partition-by Iceberg tables do not take
(e.g. dt,hour); the sink then logs why. The sink logs the format it runs
with at start. An explicit --table-format hive or iceberg that contradicts
the existing table is refused. The Hive path (with stocklake crawl or the
Glue crawler) stays supported: --table-format hive.

Hive tables: offsets are committed only after objects are durable, and
object names derive from Kafka coordinates, so results are exactly once
across crashes and restarts (Iceberg tables: see below). In both formats,
records that cannot be landed go to the dead-letter topic, exactly once,
with the reason in a header: unparseable records, event times more than --max-future ahead, and
partition values that would make folder names over 255 bytes or object
keys over 1,024. A dead letter too large for that topic is sent as a
truncated copy with its original size in the stocklake-original-size header.
Ctrl-C or SIGTERM writes what is buffered within --shutdown-timeout, commits
and exits.

--registry URL decodes records in the Confluent Schema Registry wire format
(Avro, Protobuf, JSON Schema) with their writer's schema, fetched once per
schema ID, and lands them with a column per field: records as structs,
arrays, maps, enums as strings, unions with null as nullable columns,
decimal(p,s), timestamps and dates kept. A new compatible writer schema
widens the table (a new table version in the --catalog); records whose
schema ID is unknown, whose frame is malformed, or whose writer schema
cannot fit the table's columns go to the dead-letter topic with the reason.
Avro ticks (produce --format avro) land as ticks with or without --registry.

Iceberg tables: the topic lands in the Apache Iceberg table
DATABASE.TABLE: its catalog is the --catalog sqlite:// file (the
Iceberg SQL catalog schema pyiceberg's SqlCatalog reads) or the AWS Glue
Data Catalog of a glue:// one (table_type=ICEBERG, as Athena and Trino's
Iceberg connector read it), its files go under the lake (file:// or s3://).
The first records decide the table (--schema):
ticks make a tick table; JSON objects make a table whose columns (boolean,
long, double, string; nested values as JSON text, all optional) are
inferred from the first batch, the --time-field stored as a timestamp,
and widened by later records' new fields (older rows read null);
records of --registry make a table with a column per field of their
writer schemas (Iceberg types, partitioned by day of the event-time
field), whose schema a compatible new writer schema widens (int to long,
float to double, new fields) before its rows are committed.
The hidden partitioning of tick and JSON tables is --partition-by: day
(default: day(ts), or day(--time-field)), hour, month or year of the event
time, plus identity partitions of tick fields (symbol, exchange, source)
or of JSON fields (a top-level boolean, number or text field; a record
without it, or with null, is in the null partition): e.g. hour,symbol is
hour(ts),identity(symbol); none for no partitions.
Readers filter on ts and symbol, never on partition strings. Later sinks
follow the table (a --partition-by that differs from the table's is refused);
JSON records that do not fit its columns (a value its column cannot hold,
e.g. text in a bigint column) go to the dead-letter topic. Each flush is one
snapshot for all the partitions the sink owns, whose summary records their
Kafka offsets; on assignment the sink resumes from the table's offsets, and
the partitions whose start offsets the table has moved past (a paused sink
whose partitions moved) are refused, the others committed. Group
offsets are still committed, for lag monitoring. Files of a batch written
but not committed before a crash are orphans no reader sees.`,
		fs, func(ctx context.Context, args []string) error {
			if err := noArgs("sink", args); err != nil {
				return err
			}
			log, err := lf.logger()
			if err != nil {
				return err
			}
			kc, err := kf.config()
			if err != nil {
				return err
			}
			if err := checkTableFormat(sf.tableFormat); err != nil {
				return err
			}
			store, err := openStore(ctx, sf.lake)
			if err != nil {
				return err
			}
			existing, err := detectTableFormat(ctx, store, *catURL, sf.lake, *database, sf.tableName())
			if err != nil {
				return err
			}
			if sf.tableFormat, err = resolveTableFormat(log, sf.tableFormat, existing, *database, sf.tableName(), sf.hiveOnly(*catURL, *projection)); err != nil {
				return err
			}
			cfg, err := sf.config()
			if err != nil {
				return err
			}
			cfg.Store = store
			if *projection {
				keys := strings.Join(cfg.Partitioning.Keys(), ",")
				switch {
				case *catURL == "" || sf.tableFormat != stocklake.TableFormatHive:
					return fmt.Errorf("--projection sets partition projection on the Hive table's catalog entry: it needs --catalog and --table-format hive: %w", stocklake.ErrConfig)
				case keys != "" && keys != "dt" && keys != "dt,hour":
					return fmt.Errorf("--projection needs --partition-by dt or dt,hour (projection enumerates dates and hours), not %s: %w", keys, stocklake.ErrConfig)
				}
			}
			kc.Logger = log
			cfg.Kafka, cfg.Logger, cfg.ExitWhenIdle, cfg.InstanceID = kc, log, *exitIdle, *instanceID
			if cfg.BeforeCommit, err = faultCommitDelay(log); err != nil {
				return err
			}
			if dec, err := rf.client(); err != nil {
				return err
			} else if dec != nil {
				cfg.Decoder = dec
			}
			switch sf.tableFormat {
			case stocklake.TableFormatHive:
			case stocklake.TableFormatIceberg:
				name := sf.tableName()
				partitioning := ""
				if sf.isSet("partition-by") {
					partitioning = sf.partitionBy
				}
				tbl, closeCat, err := openIcebergTable(ctx, *catURL, sf.lake, cfg.Store, *database, name, partitioning, cfg.Schema)
				if err != nil {
					return err
				}
				defer closeCat()
				cfg.Committer = tbl
			default:
				return fmt.Errorf("--table-format %q: want hive or iceberg: %w", sf.tableFormat, stocklake.ErrConfig)
			}
			if *catURL != "" && cfg.Committer == nil {
				cat, err := openCatalog(ctx, *catURL, cfg.Store)
				if err != nil {
					return err
				}
				defer cat.Close()
				reg, err := crawler.NewRegistrar(cfg.Store, cat, *database)
				if err != nil {
					return err
				}
				reg.Projection = *projection
				cfg.Registrar = reg
			}
			s, err := sink.New(cfg)
			if err != nil {
				return err
			}
			fileRSS := residentFileBytes()
			if limit, set := sinkMemoryLimit(int64(sf.maxBufferBytes), os.Getenv("GOMEMLIMIT"), fileRSS); set {
				debug.SetMemoryLimit(limit)
				log.Debug("Go memory limit set from --max-buffer-bytes", "gomemlimit", limit, "resident_file_bytes", fileRSS)
			}
			// Package initialisation (iceberg-go's Substrait function
			// tables alone allocate some 30 MB) leaves garbage in pages the
			// collector would hand back only slowly: give them back before
			// the work starts.
			debug.FreeOSMemory()
			stop, err := metricsF.serve(log, s.RegisterMetrics)
			if err != nil {
				return err
			}
			defer stop()
			return s.Run(ctx)
		})
}

// minSinkMemoryLimit is the lowest Go memory limit sinkMemoryLimit sets:
// below it the runtime's own baseline (~25 MiB after package
// initialisation) and the Kafka fetches would keep the collector running
// all the time.
const minSinkMemoryLimit = 128 << 20

// sinkMemoryHeadroom is what sinkMemoryLimit leaves, beside the resident
// file pages counted at start, for memory that is not Go's and grows while
// the sink works: code pages first run by the work (about 6 MiB of the
// binary's when landing ticks, bench/sinkrss.sh) and C libraries' data.
const sinkMemoryHeadroom = 16 << 20

// sinkMemoryLimit returns the Go soft memory limit `stocklake sink` runs
// with (runtime/debug.SetMemoryLimit) for its --max-buffer-bytes bound,
// and whether to set it: when the GOMEMLIMIT environment variable env is
// unset, the bound less fileRSS, the process's resident file-backed pages
// (its own code and read-only data: some 100 MiB of the 200 MB binary, which
// the kernel maps in folios of up to 2 MiB, outside Go's accounting), and
// less sinkMemoryHeadroom when fileRSS is known (> 0); at least
// minSinkMemoryLimit (128 MiB). The process's resident memory then stays
// near the bound: the collector works harder, and hands idle heap pages
// back sooner, rather than let the heap grow to twice what is live (Go's
// default, GOGC=100) on top of the binary's pages, e.g. under a burst of
// records that are decoded before they are counted. A GOMEMLIMIT the user
// set wins; GOMEMLIMIT=off leaves Go's default.
func sinkMemoryLimit(bound int64, env string, fileRSS int64) (int64, bool) {
	if env != "" {
		return 0, false
	}
	if fileRSS > 0 {
		bound -= fileRSS + sinkMemoryHeadroom
	}
	return max(bound, minSinkMemoryLimit), true
}

// residentFileBytes returns the process's resident file-backed memory (the
// RssFile line of /proc/self/status), or 0 where it is not known (not
// Linux).
func residentFileBytes() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return parseRssFile(status)
}

// parseRssFile returns the RssFile figure of a /proc/PID/status text in
// bytes, or 0 when it has none.
func parseRssFile(status []byte) int64 {
	for line := range strings.Lines(string(status)) {
		rest, ok := strings.CutPrefix(line, "RssFile:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}

// faultCommitDelayEnv names the fault-injection knob of `stocklake sink`:
// a duration (e.g. 500ms) the sink waits between writing each batch's
// objects and committing its offsets, logging "fault injection: batch
// written, commit held" at warn level first. The fault suite
// (TestFaultSinkKill*Integration) sets it so that its SIGKILLs land on
// batches that are written but not committed. Never set it in production:
// it only slows the sink down. Unset or 0: no delay.
const faultCommitDelayEnv = "STOCKLAKE_FAULT_COMMIT_DELAY"

// faultCommitDelay returns the sink's BeforeCommit hook for
// STOCKLAKE_FAULT_COMMIT_DELAY, or nil when it is unset.
func faultCommitDelay(log *slog.Logger) (func(ctx context.Context, partition int32, end int64), error) {
	hold, err := faultHold(log, faultCommitDelayEnv, "every batch's commit is held after its objects are written", "batch written, commit held")
	if hold == nil || err != nil {
		return nil, err
	}
	return func(ctx context.Context, partition int32, end int64) { hold(ctx, "partition", partition, "end", end) }, nil
}
