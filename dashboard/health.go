package dashboard

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake/kafka"
)

// SinkStats are the counters of a sink running in this process, as
// Config.Sink reports them.
type SinkStats struct {
	Records     int64  `json:"records"`
	Rows        int64  `json:"rows"`
	Files       int64  `json:"files"`
	Bytes       int64  `json:"bytes"`
	DeadLetters int64  `json:"dead_letters"`
	Lag         int64  `json:"lag"`
	Buffered    int64  `json:"buffered_bytes"`
	LastError   string `json:"last_error,omitempty"`
}

// PartitionLag is the consumer lag of one group on one topic partition.
type PartitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Group     string `json:"group"`
	End       int64  `json:"end_offset"`
	Committed int64  `json:"committed_offset"` // -1 when the group has committed nothing
	// Lag is kafka.Lag: offsets from the committed one (or the log start,
	// when nothing is committed or the commit is older) to the end.
	Lag int64 `json:"lag"`
}

// Health is the pipeline as this process knows it: what it measures on
// Kafka, the counters of a sink it runs, and its board's feed. Fields it
// cannot know are absent.
type Health struct {
	Time           time.Time      `json:"time"`
	Status         string         `json:"status"` // "ok", or "degraded" with LastError set
	Topic          string         `json:"topic,omitempty"`
	Partitions     []PartitionLag `json:"partitions"`
	TicksInPerSec  *float64       `json:"ticks_in_per_sec,omitempty"`  // growth of the tick topic's end offsets
	TicksOutPerSec *float64       `json:"ticks_out_per_sec,omitempty"` // growth of the sink group's committed offsets
	DeadLetters    *int64         `json:"dead_letters,omitempty"`      // records in the dead-letter topic
	Sink           *SinkStats     `json:"sink,omitempty"`
	Feed           FeedStatus     `json:"feed"`
	// Tables are the lake's tables: data files readers open and when
	// maintenance last ran (Config.Tables; absent without it).
	Tables    []TableHealth `json:"tables,omitempty"`
	LastError string        `json:"last_error,omitempty"`
}

// TableHealth is one lake table on the health page.
type TableHealth struct {
	Database string `json:"database"`
	Name     string `json:"name"`
	Format   string `json:"format"` // "hive" or "iceberg"
	// Files and Bytes are the data files a reader of the table opens now.
	Files int64 `json:"files"`
	Bytes int64 `json:"bytes"`
	// LastMaintenance is when compaction (Hive) or `stocklake maintain`
	// (Iceberg) last finished a pass over the table; absent when never.
	LastMaintenance *time.Time `json:"last_maintenance,omitempty"`
}

// prober samples Kafka offsets to compute lag and rates.
type prober struct {
	adm                    *kadm.Client
	topic, dlq, group      string
	mu                     sync.Mutex
	prevAt                 time.Time
	prevEnd, prevCommitted int64
	last                   Health
}

func newProber(cl *kgo.Client, topic, dlq, group string) *prober {
	if cl == nil {
		return nil
	}
	return &prober{adm: kadm.NewClient(cl), topic: topic, dlq: dlq, group: group}
}

// probe fills lag, rates and dead letters into h.
func (p *prober) probe(ctx context.Context, h *Health) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	h.Topic = p.topic
	ends, err := p.adm.ListEndOffsets(ctx, p.topic, p.dlq)
	if err != nil {
		return err
	}
	starts, err := p.adm.ListStartOffsets(ctx, p.topic)
	if err != nil {
		return err
	}
	var committed kadm.OffsetResponses
	if p.group != "" {
		if committed, err = p.adm.FetchOffsets(ctx, p.group); err != nil {
			return err
		}
	}
	var sumEnd, sumCommitted, dlq int64
	dlqSeen := false
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Partition < 0 {
			return
		}
		if o.Topic == p.dlq {
			dlq += o.Offset // dead-letter topics are never compacted or trimmed here: end offset counts records
			dlqSeen = true
			return
		}
		pl := PartitionLag{Topic: o.Topic, Partition: o.Partition, Group: p.group, End: o.Offset, Committed: -1}
		if c, ok := committed.Lookup(o.Topic, o.Partition); ok && c.Err == nil && c.At >= 0 {
			pl.Committed = c.At
			sumCommitted += c.At
		}
		var start int64 // records before the log start were removed by retention: not lag
		if so, ok := starts.Lookup(o.Topic, o.Partition); ok && so.Err == nil {
			start = so.Offset
		}
		pl.Lag = kafka.Lag(start, pl.Committed, o.Offset)
		sumEnd += o.Offset
		h.Partitions = append(h.Partitions, pl)
	})
	if dlqSeen {
		h.DeadLetters = &dlq
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if !p.prevAt.IsZero() {
		if dt := now.Sub(p.prevAt).Seconds(); dt > 0.2 {
			in := float64(sumEnd-p.prevEnd) / dt
			out := float64(sumCommitted-p.prevCommitted) / dt
			h.TicksInPerSec, h.TicksOutPerSec = &in, &out
		}
	}
	if p.prevAt.IsZero() || now.Sub(p.prevAt) > time.Second {
		if !p.prevAt.IsZero() {
			p.last.TicksInPerSec, p.last.TicksOutPerSec = h.TicksInPerSec, h.TicksOutPerSec
		}
		p.prevAt, p.prevEnd, p.prevCommitted = now, sumEnd, sumCommitted
	} else {
		// Asked again within a second: report the rates of the last sample.
		h.TicksInPerSec, h.TicksOutPerSec = p.last.TicksInPerSec, p.last.TicksOutPerSec
	}
	return nil
}
