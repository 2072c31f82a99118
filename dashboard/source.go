package dashboard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/stream"
)

// Defaults of the sources.
const (
	// DefaultBacklog is how many records per partition a source reads from
	// before the end of its topics when it starts, so charts have history.
	DefaultBacklog = 500
	// DefaultTickBacklog is the same for TickSource, which reads ticks.
	DefaultTickBacklog = 20000
)

// KafkaSource feeds a board from the analyzer's topics (stocklake analyze):
// final bars from <prefix>.<window>, provisional ones from
// <prefix>.<window>.live, and alerts, all in the wire formats of
// stocklake.ParseBar and ParseAlert.
type KafkaSource struct {
	// Kafka says how to reach the cluster. Required.
	Kafka kafka.Config
	// Windows are the bar window sizes to follow; default 1m and 5m.
	Windows []time.Duration
	// Prefix of bar topics; default stocklake.TopicBarsPrefix ("bars").
	Prefix string
	// Alerts is the alert topic; default stocklake.TopicAlerts ("alerts").
	Alerts string
	// Backlog is how many records per partition to read from before the
	// end at start; default DefaultBacklog.
	Backlog int64
}

// Name implements Source.
func (s *KafkaSource) Name() string {
	return "kafka topics " + strings.Join(s.topics(), ",")
}

func (s *KafkaSource) topics() []string {
	prefix, alerts, ws := s.Prefix, s.Alerts, s.Windows
	if alerts == "" {
		alerts = stocklake.TopicAlerts
	}
	if len(ws) == 0 {
		ws = []time.Duration{time.Minute, 5 * time.Minute}
	}
	var ts []string
	for _, w := range ws {
		ts = append(ts, stocklake.BarsTopic(prefix, w), stocklake.LiveBarsTopic(prefix, w))
	}
	return append(ts, alerts)
}

// Run implements Source.
func (s *KafkaSource) Run(ctx context.Context, b *Board) error {
	topics := s.topics()
	alerts := topics[len(topics)-1]
	backlog := s.Backlog
	if backlog <= 0 {
		backlog = DefaultBacklog
	}
	cl, err := s.Kafka.NewClient(kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd().Relative(-backlog)),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			b.SetError(fmt.Errorf("fetch %s[%d]: %w", t, p, err))
		})
		fs.EachRecord(func(r *kgo.Record) {
			if r.Topic == alerts {
				if a, err := stocklake.ParseAlert(r.Value); err == nil {
					b.AddAlert(a)
				}
				return
			}
			if bar, ind, err := stocklake.ParseBar(r.Value); err == nil {
				b.AddBar(bar, ind)
			}
		})
	}
}

// TickSource feeds a board by computing bars, indicators and alerts from
// the tick topic itself with the stream engine, for when no analyzer runs
// (stocklake demo). Provisional bars make the open window update live.
type TickSource struct {
	// Kafka says how to reach the cluster. Required.
	Kafka kafka.Config
	// Topic of ticks; default stocklake.TopicTicks ("ticks").
	Topic string
	// Stream configures the engine; its Provisional defaults here to 1s so
	// open bars update live, and Windows to 1s, 1m and 5m.
	Stream stream.Config
	// Backlog is how many ticks per partition to read from before the end
	// at start; default DefaultTickBacklog.
	Backlog int64
	// Idle is how long without ticks before the watermark follows the wall
	// clock from the last event time, closing windows; default 3s.
	Idle time.Duration
}

// Name implements Source.
func (s *TickSource) Name() string { return "computed from topic " + s.topic() }

func (s *TickSource) topic() string {
	if s.Topic == "" {
		return stocklake.TopicTicks
	}
	return s.Topic
}

// Run implements Source.
func (s *TickSource) Run(ctx context.Context, b *Board) error {
	cfg := s.Stream
	if len(cfg.Windows) == 0 {
		cfg.Windows = []time.Duration{time.Second, time.Minute, 5 * time.Minute}
	}
	if cfg.Provisional == 0 {
		cfg.Provisional = time.Second
	}
	eng, err := stream.New(cfg)
	if err != nil {
		return err
	}
	backlog, idle := s.Backlog, s.Idle
	if backlog <= 0 {
		backlog = DefaultTickBacklog
	}
	if idle <= 0 {
		idle = 3 * time.Second
	}
	cl, err := s.Kafka.NewClient(kgo.ConsumeTopics(s.topic()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd().Relative(-backlog)),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return err
	}
	defer cl.Close()
	var out stream.Output
	emit := func() {
		for _, bar := range out.Bars {
			b.AddBar(bar.Bar, bar.Indicators)
		}
		for _, a := range out.Alerts {
			b.AddAlert(a)
		}
		out.Reset()
	}
	var maxEvent time.Time
	lastTick := time.Now()
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		n := 0
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				b.SetError(fmt.Errorf("fetch %s[%d]: %w", t, p, err))
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			t, err := stocklake.ParseTick(r.Value)
			if err != nil {
				return
			}
			if eng.Process(r.Partition, &t, &out) == nil {
				n++
				if t.Time.After(maxEvent) {
					maxEvent = t.Time
				}
			}
		})
		now := time.Now()
		if n > 0 {
			lastTick = now
		} else if !maxEvent.IsZero() && now.Sub(lastTick) > idle {
			eng.AdvanceTo(maxEvent.Add(now.Sub(lastTick)), &out)
		}
		emit()
	}
}
