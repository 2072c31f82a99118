package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/analyze"
	"github.com/stocklake/stocklake/stream"
)

// parseWindows reads a comma-separated list of window sizes such as 1m,5m.
func parseWindows(s string) ([]time.Duration, error) {
	var ws []time.Duration
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("--windows: %q is not a window size like 1s, 1m, 5m or 1h: %w", f, stocklake.ErrConfig)
		}
		if slices.Contains(ws, d) {
			return nil, fmt.Errorf("--windows lists %s twice: %w", f, stocklake.ErrConfig)
		}
		ws = append(ws, d)
	}
	if len(ws) == 0 {
		return nil, fmt.Errorf("--windows is empty; give sizes like 1m,5m: %w", stocklake.ErrConfig)
	}
	return ws, nil
}

func analyzeCommand() *ffcli.Command {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	var kf kafkaFlags
	var lf logFlags
	kf.register(fs)
	lf.register(fs)
	in := fs.String("in", analyze.DefaultIn, "input topic of ticks")
	windows := fs.String("windows", analyze.DefaultWindows, "comma-separated bar window sizes, e.g. 1s,1m,5m,1h")
	rules := fs.String("rules", "", `YAML alert rules file ("" for none)`)
	group := fs.String("group", analyze.DefaultGroup, "Kafka consumer group; instances in one group share the input's partitions")
	instance := fs.String("instance-id", "", `transactional ID and static member ID of this instance, unique per running instance, stable across restarts ("": <group>-<hostname>)`)
	delay := fs.Duration("delay", analyze.DefaultDelay, "watermark delay: how far out of event-time order ticks may arrive and still count")
	lateness := fs.Duration("lateness", 0, "allowed lateness: how long after the watermark passes a window's end it still takes late ticks")
	provisional := fs.Duration("provisional", 0, "emit provisional bars to <out-prefix>.<window>.live at this event-time interval while windows are open (0: none)")
	outPrefix := fs.String("out-prefix", analyze.DefaultOutPrefix, "prefix of bar topics: <prefix>.<window>, e.g. bars.1m")
	alertsTopic := fs.String("alerts-topic", analyze.DefaultAlertsTopic, "topic for alerts")
	lateTopic := fs.String("late-topic", analyze.DefaultLateTopic, "topic for ticks that arrive after their window closed")
	stateTopic := fs.String("state-topic", "", `compacted topic for window-state checkpoints ("": <group>.state)`)
	dlqTopic := fs.String("dlq-topic", "", `dead-letter topic for refused input, with the reason in the stocklake-error header ("": <group>.dlq)`)
	maxFuture := fs.Duration("max-future", stocklake.DefaultMaxFuture, "how far ahead of the wall clock a tick's event time may be; later ticks go to --dlq-topic and do not move the watermark, and a checkpoint beyond it is ignored (0: no bound)")
	ckInterval := fs.Duration("checkpoint-interval", analyze.DefaultCheckpointInterval, "commit a transaction (outputs, offsets, state checkpoints) at least this often")
	ckRecords := fs.Int("checkpoint-records", analyze.DefaultCheckpointRecords, "commit a transaction after this many input records")
	commitLatency := fs.Duration("commit-latency", 0, "how long final bars and alerts may wait for their transaction to commit (0: right after the poll that made them)")
	idle := fs.Duration("idle-timeout", analyze.DefaultIdleTimeout, "after this long without records, a caught-up partition's event time follows the wall clock so its windows close (negative: never)")
	webhook := fs.String("webhook", "", `URL to POST each alert to as JSON, with retries; never blocks the stream ("" disables)`)
	webhookQueue := fs.Int("webhook-queue", analyze.DefaultWebhookQueue, "alerts waiting for the webhook before the oldest is dropped")
	sma := fs.Int("sma", stream.DefaultSMAPeriod, "SMA period in bars")
	emaFast := fs.Int("ema-fast", stream.DefaultEMAFast, "fast EMA period in bars")
	emaSlow := fs.Int("ema-slow", stream.DefaultEMASlow, "slow EMA period in bars")
	volPeriod := fs.Int("volatility-period", stream.DefaultVolatilityPeriod, "log returns in the rolling volatility")
	zPeriod := fs.Int("z-period", stream.DefaultZPeriod, "previous bars the z-scores of close and volume compare against")
	partitions := fs.Int("partitions", 0, "partitions of topics the analyzer creates (0: as many as the input topic)")
	replication := fs.Int("replication", -1, "replication factor of topics the analyzer creates (-1: broker default)")
	exitIdle := fs.Bool("exit-when-idle", false, "exit once all input is consumed, every window closed and committed (for batch jobs)")
	var metricsF metricsFlags
	metricsF.register(fs, "127.0.0.1:9465")
	return newCommand("analyze", "stocklake analyze --brokers B --in T [--windows 1m,5m] [--rules FILE] [flags]",
		"compute bars, indicators and alerts from ticks, exactly once",
		`Consumes ticks and computes, per symbol and event-time window, OHLCV bars with
VWAP and trade count plus indicators (SMA, EMAs, volatility, z-scores), and
evaluates alert rules. Final bars go to <out-prefix>.<window> (e.g. bars.1m),
provisional ones to <out-prefix>.<window>.live, alerts to --alerts-topic and
optionally --webhook, late ticks to --late-topic; all keyed by symbol, as
versioned JSON. Input it refuses (not a tick, or stamped more than
--max-future ahead of the wall clock) goes to --dlq-topic with the reason.

Exactly once: outputs, consumed offsets and window-state checkpoints are
committed in one Kafka transaction, so after a crash or rebalance the state
restored matches the offsets and no bar is lost or repeated for a
read_committed consumer. Run more instances in the same --group to scale out
by partition. Ctrl-C or SIGTERM commits and exits.`,
		fs, func(ctx context.Context, args []string) error {
			if err := noArgs("analyze", args); err != nil {
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
			ws, err := parseWindows(*windows)
			if err != nil {
				return err
			}
			sc := stream.Config{
				Windows: ws, Delay: *delay, Lateness: *lateness, Provisional: *provisional,
				SMAPeriod: *sma, EMAFast: *emaFast, EMASlow: *emaSlow, VolatilityPeriod: *volPeriod, ZPeriod: *zPeriod,
			}
			if *rules != "" {
				if sc.Rules, err = stream.LoadRules(*rules); err != nil {
					return fmt.Errorf("--rules: %w", err)
				}
			}
			if *maxFuture < 0 {
				return fmt.Errorf("--max-future %s is negative; give a duration such as 5m, or 0 for no bound: %w", *maxFuture, stocklake.ErrConfig)
			}
			mf := *maxFuture
			if mf == 0 {
				mf = -1 // analyze.Config: negative disables, 0 is the default
			}
			if *partitions < 0 || *partitions > 1<<20 {
				return fmt.Errorf("--partitions %d: want 0 or a partition count: %w", *partitions, stocklake.ErrConfig)
			}
			cfg := analyze.Config{
				Kafka: kc, In: *in, Group: *group, InstanceID: *instance, Stream: sc,
				OutPrefix: *outPrefix, AlertsTopic: *alertsTopic, LateTopic: *lateTopic, StateTopic: *stateTopic,
				DLQTopic: *dlqTopic, MaxFuture: mf,
				Partitions: int32(*partitions), Replication: int16(*replication),
				CheckpointInterval: *ckInterval, CheckpointRecords: *ckRecords, CommitLatency: *commitLatency,
				IdleTimeout: *idle, Logger: log, ExitWhenIdle: *exitIdle,
			}
			if *webhook != "" {
				wh, err := analyze.NewWebhook(analyze.WebhookConfig{URL: *webhook, Queue: *webhookQueue, Logger: log})
				if err != nil {
					return err
				}
				defer func() {
					cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					wh.Close(cctx)
					cancel()
				}()
				cfg.Webhook = wh
			}
			a, err := analyze.New(cfg)
			if err != nil {
				return err
			}
			stop, err := metricsF.serve(log, a.RegisterMetrics)
			if err != nil {
				return err
			}
			defer stop()
			return a.Run(ctx)
		})
}
