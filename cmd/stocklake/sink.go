package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/crawler"
	"github.com/stocklake/stocklake/sink"
)

// sinkFlags are the flags of `stocklake sink`, shared with demo.
type sinkFlags struct {
	topic, group, lake, table, format, schema, partitionBy, timeField, compression, dlqTopic string
	flushInterval, maxFuture, shutdownTimeout                                                time.Duration
	maxRows, maxOpenPartitions                                                               int
	maxBytes, maxBufferBytes                                                                 byteSize
}

func (f *sinkFlags) register(fs *flag.FlagSet) {
	f.maxBytes, f.maxBufferBytes = 128<<20, 256<<20
	fs.StringVar(&f.topic, "topic", "ticks", "Kafka topic to land")
	fs.StringVar(&f.group, "group", "stocklake-sink", "Kafka consumer group; run several sinks in one group to share partitions")
	fs.StringVar(&f.lake, "lake", defaultLake, "lake URL: file://DIR or s3://BUCKET/PREFIX[?endpoint=URL&region=R&path_style=true]")
	fs.StringVar(&f.table, "table", "", `lake folder and table name (default: the topic name)`)
	fs.StringVar(&f.format, "format", "parquet", "object format: parquet or json (JSON lines)")
	fs.StringVar(&f.schema, "schema", "auto", "record schema: auto, tick or json (any JSON objects)")
	fs.StringVar(&f.partitionBy, "partition-by", "dt,hour", "Hive partition keys: dt, year, month, day, hour, minute from event time (UTC), or a field name")
	fs.StringVar(&f.timeField, "time-field", "", "event-time field of JSON records (default: detected, else the Kafka timestamp)")
	fs.StringVar(&f.compression, "compression", "zstd", "Parquet compression: zstd, snappy, gzip or none")
	fs.StringVar(&f.dlqTopic, "dlq-topic", "", "dead-letter topic for records that cannot be parsed (default: <topic>.dlq)")
	fs.DurationVar(&f.flushInterval, "flush-interval", 60*time.Second, "write a batch this long after its first record, even without new data")
	fs.IntVar(&f.maxRows, "max-rows", 1_000_000, "write a batch at this many records per Kafka partition")
	fs.Var(&f.maxBytes, "max-bytes", "write a batch at this many bytes per Kafka partition")
	fs.Var(&f.maxBufferBytes, "max-buffer-bytes", "memory bound for buffered records across partitions, each open lake partition counted at 64 KiB; Kafka fetches are sized from it (the process needs about this plus 160 MiB)")
	fs.IntVar(&f.maxOpenPartitions, "max-open-partitions", 64, "lake partitions (Parquet writers) open at once across all batches; one more writes the oldest batch first")
	fs.DurationVar(&f.maxFuture, "max-future", stocklake.DefaultMaxFuture, "records whose event time is more than this ahead of the wall clock go to the dead-letter topic (0 disables)")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 10*time.Second, "on Ctrl-C or SIGTERM, time to write and commit what is buffered; the rest is read again by the next run")
}

func (f *sinkFlags) config() (sink.Config, error) {
	p, err := sink.ParsePartitioning(f.partitionBy)
	if err != nil {
		return sink.Config{}, err
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
	setShutdownGrace(f.shutdownTimeout + 5*time.Second)
	return sink.Config{
		Topic: f.topic, Group: f.group, Table: f.table, Format: f.format, Schema: f.schema,
		Partitioning: p, TimeField: f.timeField, FlushInterval: f.flushInterval, MaxRows: f.maxRows,
		MaxBytes: int64(f.maxBytes), MaxBufferBytes: int64(f.maxBufferBytes), Compression: f.compression,
		DLQTopic: f.dlqTopic, MaxOpenPartitions: f.maxOpenPartitions, MaxFuture: maxFuture, ShutdownTimeout: f.shutdownTimeout,
	}, nil
}

func sinkCommand() *ffcli.Command {
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	var kf kafkaFlags
	var sf sinkFlags
	var lf logFlags
	kf.register(fs)
	sf.register(fs)
	lf.register(fs)
	catURL := fs.String("catalog", "", `catalog URL to register new partitions in as they are written, e.g. `+defaultCatalog+` ("" disables)`)
	database := fs.String("database", "stocklake", "catalog database for --catalog")
	exitIdle := fs.Bool("exit-when-idle", false, "write everything and exit once caught up with the topic (for batch jobs)")
	metricsAddr := fs.String("metrics-addr", "", `serve Prometheus metrics on this address, e.g. 127.0.0.1:9464 ("" disables)`)
	return newCommand("sink", "stocklake sink --brokers B --topic T --lake URL [flags]",
		"land a Kafka topic in the lake as Parquet, exactly once",
		`Consumes a topic with a consumer group and writes Parquet (or JSON lines)
objects into Hive-style partitions of the lake. Offsets are committed only
after objects are durable, and object names derive from Kafka coordinates,
so results are exactly once across crashes and restarts. Records that cannot
be landed go to the dead-letter topic, exactly once, with the reason in a
header: unparseable records, event times more than --max-future ahead, and
partition values that would make folder names over 255 bytes or object
keys over 1,024. A dead letter too large for that topic is sent as a
truncated copy with its original size in the stocklake-original-size header.
Ctrl-C or SIGTERM writes what is buffered within --shutdown-timeout, commits
and exits.`,
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
			cfg, err := sf.config()
			if err != nil {
				return err
			}
			kc.Logger = log
			cfg.Kafka, cfg.Logger, cfg.ExitWhenIdle = kc, log, *exitIdle
			if cfg.Store, err = openStore(ctx, sf.lake); err != nil {
				return err
			}
			if *catURL != "" {
				cat, err := openCatalog(ctx, *catURL, cfg.Store)
				if err != nil {
					return err
				}
				defer cat.Close()
				if cfg.Registrar, err = crawler.NewRegistrar(cfg.Store, cat, *database); err != nil {
					return err
				}
			}
			s, err := sink.New(cfg)
			if err != nil {
				return err
			}
			if *metricsAddr != "" {
				stop, err := serveMetrics(*metricsAddr, sinkCollector(s))
				if err != nil {
					return err
				}
				defer stop()
			}
			return s.Run(ctx)
		})
}
