package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
)

// consumedRecord is how `stocklake consume` prints a record.
type consumedRecord struct {
	Topic     string            `json:"topic"`
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Timestamp time.Time         `json:"timestamp"`
	Key       string            `json:"key,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	Value     json.RawMessage   `json:"value"`
}

func consumeCommand() *ffcli.Command {
	fs := flag.NewFlagSet("consume", flag.ContinueOnError)
	var kf kafkaFlags
	kf.register(fs)
	topic := fs.String("topic", stocklake.TopicTicks, "topic to read")
	count := fs.Int("count", 0, "stop after this many records (0: no limit)")
	format := fs.String("format", "json", "output format: json (one JSON object per line)")
	from := fs.String("from", "start", "where to start without a group: start or end")
	group := fs.String("group", "", "consumer group to read and commit with (default: none, read all partitions)")
	idle := fs.Duration("idle-timeout", 0, "exit after this long without records (0: wait for more)")
	isolation := fs.String("isolation", "read_committed", "read_committed or read_uncommitted")
	var lf logFlags
	lf.register(fs)
	return newCommand("consume", "stocklake consume --brokers B --topic T [--count N] [--format json]",
		"print records as JSON lines",
		`Prints each record of a topic as one JSON object per line: topic, partition,
offset, timestamp, key, headers and value (the value as JSON when it is JSON,
else as a string). Useful to inspect ticks, bars, alerts and dead letters.`,
		fs, func(ctx context.Context, args []string) error {
			if err := noArgs("consume", args); err != nil {
				return err
			}
			if _, err := lf.logger(); err != nil {
				return err
			}
			if *format != "json" {
				return fmt.Errorf("--format %q: only json is supported: %w", *format, stocklake.ErrConfig)
			}
			kc, err := kf.config()
			if err != nil {
				return err
			}
			opts := []kgo.Opt{kgo.ConsumeTopics(*topic)}
			switch *from {
			case "start":
				opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			case "end":
				opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
			default:
				return fmt.Errorf("--from %q: want start or end: %w", *from, stocklake.ErrConfig)
			}
			switch *isolation {
			case "read_committed":
				opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
			case "read_uncommitted":
			default:
				return fmt.Errorf("--isolation %q: want read_committed or read_uncommitted: %w", *isolation, stocklake.ErrConfig)
			}
			if *group != "" {
				opts = append(opts, kgo.ConsumerGroup(*group))
			}
			cl, err := kc.NewClient(opts...)
			if err != nil {
				return err
			}
			defer cl.Close()
			if err := kafka.Ping(ctx, cl, kc.Brokers); err != nil {
				return err
			}
			out := bufio.NewWriter(os.Stdout)
			defer out.Flush()
			enc := json.NewEncoder(out)
			n := 0
			for {
				pctx, cancel := ctx, context.CancelFunc(func() {})
				if *idle > 0 {
					pctx, cancel = context.WithTimeout(ctx, *idle)
				}
				fetches := cl.PollFetches(pctx)
				cancel()
				if ctx.Err() != nil || fetches.IsClientClosed() {
					return nil
				}
				if *idle > 0 && pctx.Err() != nil && fetches.NumRecords() == 0 {
					return nil
				}
				var ferr error
				fetches.EachError(func(t string, p int32, err error) {
					if pctx.Err() == nil {
						ferr = fmt.Errorf("fetch %s[%d]: %w", t, p, err)
					}
				})
				if ferr != nil {
					return ferr
				}
				for it := fetches.RecordIter(); !it.Done(); {
					r := it.Next()
					cr := consumedRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UTC(), Key: string(r.Key)}
					if json.Valid(r.Value) {
						cr.Value = r.Value
					} else {
						cr.Value, _ = json.Marshal(string(r.Value))
					}
					if len(r.Headers) > 0 {
						cr.Headers = map[string]string{}
						for _, h := range r.Headers {
							cr.Headers[h.Key] = string(h.Value)
						}
					}
					if err := enc.Encode(cr); err != nil {
						return err
					}
					n++
					if *count > 0 && n >= *count {
						return nil
					}
				}
				out.Flush()
			}
		})
}
