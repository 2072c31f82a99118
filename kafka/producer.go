package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
)

// DefaultCompression is the producer's batch compression: zstd.
const DefaultCompression = "zstd"

// ProducerConfig tunes a Producer.
type ProducerConfig struct {
	// Topic is the default topic for records that name none. Required.
	Topic string
	// Compression is none, gzip, snappy, lz4 or zstd; default zstd.
	Compression string
	// Linger waits this long to fill batches; default 5ms.
	Linger time.Duration
	// MaxBufferedBytes bounds memory: Produce blocks when this many bytes
	// await acknowledgement. Default 64 MiB.
	MaxBufferedBytes int
	// BatchMaxBytes caps one partition batch; default 1 MiB (the broker's
	// default message.max.bytes).
	BatchMaxBytes int32
	// EventTimestamps stamps each Kafka record with the Record's Timestamp
	// (event time) instead of the time it is produced. Default false:
	// brokers apply time-based retention to record timestamps, so replayed
	// history (a CSV from 1965, a simulated session last week) would be
	// deleted at once. Event time always stays in the record's value.
	EventTimestamps bool
}

// Producer sends records to Kafka with the idempotent producer: no
// duplicates from retries, order kept per partition (key = symbol).
// Produce blocks instead of buffering without bound. Records are stamped
// with the time they are produced unless ProducerConfig.EventTimestamps.
type Producer struct {
	cl        *kgo.Client
	topic     string
	sent      atomic.Int64
	acked     atomic.Int64
	failed    atomic.Int64
	errMu     sync.Mutex
	firstErr  error
	ownClient bool
	eventTS   bool
}

// ParseCompression maps a codec name to franz-go's codec.
func ParseCompression(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "", DefaultCompression:
		return kgo.ZstdCompression(), nil
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("compression %q is not one of none, gzip, snappy, lz4, zstd: %w", name, stocklake.ErrConfig)
}

// NewProducer makes a producer client for the cluster in c.
func NewProducer(c Config, pc ProducerConfig) (*Producer, error) {
	if pc.Topic == "" {
		return nil, stocklake.SettingErr(fmt.Errorf("producer needs a topic: %w", stocklake.ErrConfig), "kafka.ProducerConfig.Topic")
	}
	codec, err := ParseCompression(pc.Compression)
	if err != nil {
		return nil, err
	}
	if pc.Linger == 0 {
		pc.Linger = 5 * time.Millisecond
	}
	if pc.MaxBufferedBytes == 0 {
		pc.MaxBufferedBytes = 64 << 20
	}
	if pc.BatchMaxBytes == 0 {
		pc.BatchMaxBytes = 1 << 20
	}
	cl, err := c.NewClient(
		kgo.DefaultProduceTopic(pc.Topic),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(pc.Linger),
		kgo.MaxBufferedBytes(pc.MaxBufferedBytes),
		kgo.MaxBufferedRecords(1<<20),
		kgo.ProducerBatchMaxBytes(pc.BatchMaxBytes),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.AllowAutoTopicCreation(),
	)
	if err != nil {
		return nil, err
	}
	return &Producer{cl: cl, topic: pc.Topic, ownClient: true, eventTS: pc.EventTimestamps}, nil
}

// Client exposes the underlying franz-go client, e.g. for EnsureTopic.
func (p *Producer) Client() *kgo.Client { return p.cl }

// Produce queues a record, blocking while the buffer is full. Delivery
// errors are collected and returned by Flush.
func (p *Producer) Produce(ctx context.Context, r stocklake.Record) error {
	if err := p.Err(); err != nil {
		return err
	}
	rec := &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value}
	if p.eventTS {
		rec.Timestamp = r.Timestamp
	}
	if len(r.Headers) > 0 {
		rec.Headers = make([]kgo.RecordHeader, len(r.Headers))
		for i, h := range r.Headers {
			rec.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	p.sent.Add(1)
	p.cl.Produce(ctx, rec, p.onAck)
	return nil
}

func (p *Producer) onAck(r *kgo.Record, err error) {
	if err == nil {
		p.acked.Add(1)
		return
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return // the caller stopped producing: the record was not sent
	}
	p.failed.Add(1)
	p.errMu.Lock()
	if p.firstErr == nil {
		p.firstErr = fmt.Errorf("produce to %s: %w: %w", r.Topic, err, stocklake.ErrUnavailable)
	}
	p.errMu.Unlock()
}

// Err returns the first delivery error, if any.
func (p *Producer) Err() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.firstErr
}

// Flush waits until every queued record is acknowledged or failed and
// returns the first delivery error.
func (p *Producer) Flush(ctx context.Context) error {
	if err := p.cl.Flush(ctx); err != nil {
		return err
	}
	return p.Err()
}

// Sent, Acked and Failed count records.
func (p *Producer) Sent() int64   { return p.sent.Load() }
func (p *Producer) Acked() int64  { return p.acked.Load() }
func (p *Producer) Failed() int64 { return p.failed.Load() }

// Close flushes (bounded by ctx) and closes the client.
func (p *Producer) Close(ctx context.Context) error {
	err := p.Flush(ctx)
	if p.ownClient {
		p.cl.Close()
	}
	return err
}
