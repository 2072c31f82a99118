package stocklake

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one message for, or from, a stream topic.
type Record struct {
	Topic     string    // empty means the producer's default topic
	Key       []byte    // partitioning key; the symbol for ticks
	Value     []byte    // JSON document
	Headers   []Header  // e.g. content-type
	Timestamp time.Time // record time; zero lets the producer stamp it
	Partition int32     // set on consumed records
	Offset    int64     // set on consumed records
}

// Source produces market data as records: a simulator, a CSV replay or a live
// feed. Run calls emit for each record in order until the source is
// exhausted (returns nil), ctx is done (returns ctx.Err()) or emit fails.
// Emit may block to apply back-pressure; the source must not buffer without
// bound meanwhile.
type Source interface {
	// Name is a short identifier such as "sim" or "csv".
	Name() string
	// DefaultTopic is the topic records go to unless the user names another.
	DefaultTopic() string
	Run(ctx context.Context, emit func(Record) error) error
}

// Topic names the commands use unless told otherwise: produce writes ticks
// to TopicTicks, the sink lands it, analyze reads it and writes bars to
// BarsTopic(TopicBarsPrefix, window) and alerts to TopicAlerts, and serve
// shows them.
const (
	// TopicTicks is the tick topic, "ticks".
	TopicTicks = "ticks"
	// TopicBarsPrefix starts the names of bar topics: "bars" (bars.1m).
	TopicBarsPrefix = "bars"
	// TopicAlerts is the alert topic, "alerts".
	TopicAlerts = "alerts"
	// TopicLateTicks is the topic of ticks that arrived after their window
	// closed, "ticks.late".
	TopicLateTicks = TopicTicks + ".late"
	// LiveSuffix ends the names of provisional-bar topics: bars.1m.live.
	LiveSuffix = ".live"
	// DeadLetterSuffix ends the name of a topic's dead-letter topic:
	// ticks.dlq.
	DeadLetterSuffix = ".dlq"
	// DefaultSinkGroup is the sink's consumer group, "stocklake-sink",
	// whose lag serve's health page shows.
	DefaultSinkGroup = "stocklake-sink"
)

// BarsTopic returns the topic of final bars of one window size:
// "<prefix>.<WindowLabel(window)>", e.g. "bars.1m". An empty prefix means
// TopicBarsPrefix.
func BarsTopic(prefix string, window time.Duration) string {
	if prefix == "" {
		prefix = TopicBarsPrefix
	}
	return prefix + "." + WindowLabel(window)
}

// LiveBarsTopic returns the topic of provisional bars of one window size:
// BarsTopic(prefix, window) + LiveSuffix, e.g. "bars.1m.live".
func LiveBarsTopic(prefix string, window time.Duration) string {
	return BarsTopic(prefix, window) + LiveSuffix
}

// DeadLetterTopic returns the default dead-letter topic of topic:
// topic + DeadLetterSuffix, e.g. "ticks.dlq".
func DeadLetterTopic(topic string) string { return topic + DeadLetterSuffix }

// DeadLetterSource is the HeaderSource value of the record at offset of
// partition of topic: "<topic>/<partition>/<offset>", e.g. "ticks/2/1041".
func DeadLetterSource(topic string, partition int32, offset int64) string {
	return topic + "/" + strconv.Itoa(int(partition)) + "/" + strconv.FormatInt(offset, 10)
}

// ParseDeadLetterSource parses a HeaderSource value (DeadLetterSource);
// ok is false when s is not one.
func ParseDeadLetterSource(s string) (topic string, partition int32, offset int64, ok bool) {
	parts := strings.Split(s, "/") // topic names have no '/'
	if len(parts) != 3 {
		return "", 0, 0, false
	}
	p, err1 := strconv.ParseInt(parts[1], 10, 32)
	off, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, 0, false
	}
	return parts[0], int32(p), off, true
}

// Header keys of dead-letter records. The sink, the analyzer and produce
// write them; consume, tests and operators read them.
const (
	// HeaderError is the reason the record was refused.
	HeaderError = "stocklake-error"
	// HeaderErrorKind says what kind of refusal it was: one of the
	// ErrorKind* values.
	HeaderErrorKind = "stocklake-error-kind"
	// HeaderSource is "<topic>/<partition>/<offset>" of the refused record.
	HeaderSource = "stocklake-source"
	// HeaderSourceTopicID is the Kafka topic ID of the refused record's
	// topic, so a re-created topic's offsets are not confused with the old
	// ones.
	HeaderSourceTopicID = "stocklake-source-topic-id"
	// HeaderFailedAt is when the record was refused, RFC 3339 UTC.
	HeaderFailedAt = "stocklake-failed-at"
	// HeaderOriginalSize is set by the sink on a dead letter too large for
	// the dead-letter topic: its value is a truncated copy (possibly
	// empty) and this header holds the original value's length in bytes,
	// its key's after a comma ("1572864,4").
	HeaderOriginalSize = "stocklake-original-size"
	// HeaderTruncatedFrom is set by the analyzer on a dead letter whose
	// value was cut: the original value's size in bytes.
	HeaderTruncatedFrom = "stocklake-truncated-from"
)

// Values of HeaderErrorKind.
const (
	// ErrorKindParse: the record is not what the topic holds (not a tick,
	// not a JSON object).
	ErrorKindParse = "parse"
	// ErrorKindInvalid: a tick the stream engine refuses.
	ErrorKindInvalid = "invalid"
	// ErrorKindFuture: an event time beyond the allowed future.
	ErrorKindFuture = "future"
	// ErrorKindPartition: the record has no value for a partition key.
	ErrorKindPartition = "partition"
	// ErrorKindSource: a source could not turn its input into a record.
	ErrorKindSource = "source"
)
