package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/source"
)

// sourceFlags are the flags that configure a market-data source.
type sourceFlags struct {
	spec          string
	rate, speed   float64
	count         int64
	duration      time.Duration
	seed          int64
	symbols       string
	endpoint      string
	key, secret   string
	outOfOrder    float64
	outOfOrderMax time.Duration
	csvMap        string
	csvSymbol     string
	csvDelimiter  string
	// badRow receives CSV rows that cannot be used; set by the caller.
	badRow func(line int, err error)
}

func (f *sourceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.spec, "source", "sim", "market data source: sim (simulator), csv:PATH (replay a price file in time order), or a live feed: "+strings.Join(source.FeedTypes, ", "))
	fs.Float64Var(&f.rate, "rate", 0, "records per second (0: as fast as possible)")
	fs.Int64Var(&f.count, "count", 0, "stop after this many records (0: no limit)")
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long (0: no limit)")
	fs.Int64Var(&f.seed, "seed", defaultSeed, "simulator seed: the same seed gives the same ticks")
	fs.StringVar(&f.symbols, "symbols", strconv.Itoa(source.DefaultSymbols), "sim: number of symbols; live feeds: comma-separated symbols, e.g. btcusdt,ethusdt")
	fs.StringVar(&f.endpoint, "endpoint", "", "live feeds: WebSocket URL overriding the provider's default")
	fs.StringVar(&f.key, "key", "", "live feeds: API key (default: the provider's environment variable, e.g. APCA_API_KEY_ID)")
	fs.StringVar(&f.secret, "secret", "", "live feeds: API secret where the provider has one (default: its environment variable)")
	fs.Float64Var(&f.speed, "speed", 1, "event-time seconds per wall-clock second: sim with --rate; csv replay (default for csv: as fast as possible)")
	fs.Float64Var(&f.outOfOrder, "out-of-order", 0, "simulator: fraction of ticks whose event time is moved back (late data)")
	fs.DurationVar(&f.outOfOrderMax, "out-of-order-max", source.DefaultOutOfOrderMax, "simulator: how far back an out-of-order tick moves")
	fs.StringVar(&f.csvMap, "csv-map", "", "csv: column mapping overriding header detection, e.g. date=Date,symbol=Index,close=Close")
	fs.StringVar(&f.csvSymbol, "csv-symbol", "", "csv: symbol of every row when the file has no symbol column (default: the file name)")
	fs.StringVar(&f.csvDelimiter, "csv-delimiter", ",", "csv: field separator (use \\t for tabs)")
}

// newSource resolves a --source spec to a Source. This is the one place
// source names are resolved.
func (f *sourceFlags) newSource() (stocklake.Source, error) {
	kind, arg, _ := strings.Cut(f.spec, ":")
	switch kind {
	case source.SimulatorType:
		n, err := strconv.Atoi(f.symbols)
		if err != nil {
			return nil, fmt.Errorf("--symbols %q: the simulator takes a number of symbols: %w", f.symbols, stocklake.ErrConfig)
		}
		return source.NewSimulator(source.SimulatorConfig{
			Symbols: n, Seed: f.seed, Rate: f.rate, Count: f.count, Duration: f.duration, Speed: f.speed,
			OutOfOrderFraction: f.outOfOrder, OutOfOrderMax: f.outOfOrderMax,
		})
	case source.CSVType:
		if arg == "" {
			return nil, fmt.Errorf("--source csv needs a file: csv:PATH: %w", stocklake.ErrConfig)
		}
		cfg := source.CSVConfig{Path: arg, Speed: f.speed, Symbol: f.csvSymbol, OnBadRow: f.badRow}
		if f.speed == 1 {
			cfg.Speed = 0 // the flag's default means "as fast as possible" for a replay
		}
		if f.csvMap != "" {
			cfg.Mapping = map[string]string{}
			for _, kv := range strings.Split(f.csvMap, ",") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("--csv-map entry %q: want field=Column: %w", kv, stocklake.ErrConfig)
				}
				cfg.Mapping[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		switch d := strings.ReplaceAll(f.csvDelimiter, `\t`, "\t"); len([]rune(d)) {
		case 1:
			cfg.Comma = []rune(d)[0]
		default:
			return nil, fmt.Errorf("--csv-delimiter %q: want one character: %w", f.csvDelimiter, stocklake.ErrConfig)
		}
		return source.NewCSVReplay(cfg)
	}
	if slices.Contains(source.FeedTypes, kind) {
		if _, err := strconv.Atoi(f.symbols); err == nil || f.symbols == "" {
			return nil, fmt.Errorf("--source %s needs --symbols as a comma-separated list, e.g. --symbols btcusdt,ethusdt: %w", kind, stocklake.ErrConfig)
		}
		var syms []string
		for _, s := range strings.Split(f.symbols, ",") {
			if s = strings.TrimSpace(s); s != "" {
				syms = append(syms, s)
			}
		}
		return source.NewFeed(kind, source.FeedConfig{Symbols: syms, Endpoint: f.endpoint, Key: f.key, Secret: f.secret,
			Count: f.count, Duration: f.duration, Logger: slog.Default()})
	}
	return nil, fmt.Errorf("--source %q: want sim, csv:PATH or one of %s: %w", f.spec, strings.Join(source.FeedTypes, ", "), stocklake.ErrConfig)
}

func produceCommand() *ffcli.Command {
	fs := flag.NewFlagSet("produce", flag.ContinueOnError)
	var kf kafkaFlags
	var sf sourceFlags
	var lf logFlags
	kf.register(fs)
	sf.register(fs)
	lf.register(fs)
	topic := fs.String("topic", "", "topic to write (default: the source's, ticks for sim, prices for csv)")
	partitions := fs.Int("partitions", kafka.DefaultPartitions, "partitions when the topic is created")
	replication := fs.Int("replication", -1, "replication factor when the topic is created (-1: broker default)")
	compression := fs.String("compression", kafka.DefaultCompression, "Kafka batch compression: none, gzip, snappy, lz4 or zstd")
	dryRun := fs.Bool("dry-run", false, "print records as JSON lines instead of sending them")
	format := fs.String("format", "json", "record encoding of ticks: json (the tick wire format) or avro (stocklake.Tick Avro in the Confluent wire format; needs --registry)")
	var rf registryFlags
	rf.register(fs, "with --format avro the tick schema is registered under the subject <topic>-value")
	return newCommand("produce", "stocklake produce --brokers B --topic T --source sim|csv:PATH [--rate N] [--count N] [--seed S]",
		"stream market data into a Kafka topic",
		`Streams records from a source into Kafka, keyed by symbol, with the idempotent
producer (no duplicates from retries) and bounded buffering (sending blocks
instead of using unbounded memory). Creates the topic if it does not exist.
Prints progress every second on stderr. Ctrl-C stops after flushing.`,
		fs, func(ctx context.Context, args []string) error {
			if err := noArgs("produce", args); err != nil {
				return err
			}
			log, err := lf.logger()
			if err != nil {
				return err
			}
			var badRows []error
			sf.badRow = func(line int, err error) {
				log.Warn("skipping bad input row; it goes to the dead-letter topic", "line", line, "err", err)
				badRows = append(badRows, err)
			}
			src, err := sf.newSource()
			if err != nil {
				return err
			}
			if *topic == "" {
				*topic = src.DefaultTopic()
			}
			if *dryRun {
				return dryRunSource(ctx, src)
			}
			switch *format {
			case "json":
				if rf.url != "" {
					return fmt.Errorf("--registry is set but --format is json; pass --format avro to write Avro ticks: %w", stocklake.ErrConfig)
				}
			case "avro":
				reg, err := rf.client()
				if err != nil {
					return err
				}
				if reg == nil {
					return fmt.Errorf("--format avro needs --registry, to register the tick schema: %w", stocklake.ErrConfig)
				}
				id, err := reg.Register(ctx, *topic+"-value", stocklake.TickAvroSchema)
				if err != nil {
					return err
				}
				log.Info("tick schema registered", "subject", *topic+"-value", "id", id)
				src = avroTicks{Source: src, id: uint32(id)}
			default:
				return fmt.Errorf("--format %q: want json or avro: %w", *format, stocklake.ErrConfig)
			}
			kc, err := kf.config()
			if err != nil {
				return err
			}
			n, err := produce(ctx, log, kc, src, *topic, *compression, int32(*partitions), int16(*replication), true, func() []error { return badRows })
			log.Info("produce finished", "records", n, "topic", *topic, "bad_rows", len(badRows))
			return err
		})
}

// produce runs src into topic and returns how many records were acknowledged.
// Rows the source rejected (badRows) go to the dead-letter topic <topic>.dlq
// with the reason in the stocklake-error header.
func produce(ctx context.Context, log *slog.Logger, kc kafka.Config, src stocklake.Source, topic, compression string, partitions int32, replication int16, progress bool, badRows func() []error) (int64, error) {
	p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: topic, Compression: compression})
	if err != nil {
		return 0, err
	}
	defer closeProducer(p)
	if err := kafka.Ping(ctx, p.Client(), kc.Brokers); err != nil {
		return 0, err
	}
	if _, err := kafka.EnsureTopic(ctx, p.Client(), kafka.TopicSpec{Name: topic, Partitions: partitions, ReplicationFactor: replication}); err != nil {
		return 0, err
	}
	if progress {
		stop := startProgress(func(elapsed time.Duration) string {
			return fmt.Sprintf("produced %d records to %s (%.0f/s)", p.Acked(), topic, float64(p.Acked())/elapsed.Seconds())
		})
		defer stop()
	}
	log.Info("producing", "source", src.Name(), "topic", topic, "brokers", strings.Join(kc.Brokers, ","))
	sentBad := 0
	sendBad := func() error {
		if badRows == nil {
			return nil
		}
		for _, e := range badRows()[sentBad:] {
			value, _ := json.Marshal(e)
			if br, ok := e.(*source.BadRowError); ok {
				value, _ = json.Marshal(map[string]any{"line": br.Line, "fields": br.Fields, "reason": br.Reason})
			}
			if err := p.Produce(ctx, stocklake.Record{Topic: stocklake.DeadLetterTopic(topic), Value: value,
				Headers: []stocklake.Header{{Key: stocklake.HeaderError, Value: []byte(e.Error())}, {Key: stocklake.HeaderErrorKind, Value: []byte(stocklake.ErrorKindSource)}}}); err != nil {
				return err
			}
			sentBad++
		}
		return nil
	}
	runErr := src.Run(ctx, func(r stocklake.Record) error {
		if err := sendBad(); err != nil {
			return err
		}
		return p.Produce(ctx, r)
	})
	if runErr == ctx.Err() {
		runErr = nil
	}
	if err := sendBad(); err != nil && runErr == nil {
		runErr = err
	}
	// Flush what is buffered; after Ctrl-C or SIGTERM for 10 seconds at
	// most, so an unreachable broker cannot hold the process.
	flushFor := time.Minute
	if ctx.Err() != nil {
		flushFor = 10 * time.Second
	}
	fctx, cancel := context.WithTimeout(context.Background(), flushFor)
	defer cancel()
	if err := p.Flush(fctx); err != nil && runErr == nil {
		runErr = err
	}
	return p.Acked(), runErr
}

// avroTicks re-encodes a source's ticks as Avro in the Confluent wire
// format with schema ID id (see stocklake.TickAvroSchema); records that
// are not ticks pass as they are.
type avroTicks struct {
	stocklake.Source
	id uint32
}

func (a avroTicks) Run(ctx context.Context, emit func(stocklake.Record) error) error {
	var buf []byte
	return a.Source.Run(ctx, func(r stocklake.Record) error {
		t, err := stocklake.ParseTick(r.Value)
		if err != nil {
			return emit(r)
		}
		buf = t.AppendAvro(buf[:0], a.id)
		r.Value = slices.Clone(buf)
		hs := make([]stocklake.Header, 0, len(r.Headers))
		for _, h := range r.Headers {
			if h.Key == "content-type" {
				h.Value = []byte(stocklake.TickAvroContentType)
			}
			hs = append(hs, h)
		}
		r.Headers = hs
		return emit(r)
	})
}

// dryRunSource prints normalised records instead of sending them.
func dryRunSource(ctx context.Context, src stocklake.Source) error {
	w := newLineWriter(os.Stdout)
	defer w.Flush()
	err := src.Run(ctx, func(r stocklake.Record) error {
		_, err := w.Write(append(r.Value, '\n'))
		return err
	})
	if err == ctx.Err() {
		return nil
	}
	return err
}

// startProgress prints line() to stderr every second until stop is called,
// then once more. On a terminal it rewrites one line; otherwise (logs,
// pipes) it prints a line every 10 seconds.
func startProgress(line func(elapsed time.Duration) string) (stop func()) {
	start := time.Now()
	tty := false
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		tty = true
	}
	every := time.Second
	if !tty {
		every = 10 * time.Second
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				if tty {
					fmt.Fprintf(os.Stderr, "\r\033[K%s\n", line(time.Since(start)))
				} else {
					fmt.Fprintln(os.Stderr, line(time.Since(start)))
				}
				return
			case <-t.C:
				if tty {
					fmt.Fprintf(os.Stderr, "\r\033[K%s", line(time.Since(start)))
				} else {
					fmt.Fprintln(os.Stderr, line(time.Since(start)))
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// closeProducer closes p after flushing for 5 seconds at most: callers
// flush first, so this only bounds a shutdown whose broker is gone.
func closeProducer(p *kafka.Producer) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.Close(ctx)
}
