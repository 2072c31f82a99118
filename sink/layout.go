package sink

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
)

// Partitioning turns a record's event time and fields into a Hive-style
// folder path such as "dt=2026-11-26/hour=14".
type Partitioning struct {
	keys []string
	// grain is the finest time unit among the keys when every key comes
	// from event time (so paths can be cached per grain); 0 otherwise.
	grain time.Duration
}

var timeGrains = map[string]time.Duration{
	"dt": 24 * time.Hour, "year": 24 * time.Hour, "month": 24 * time.Hour, "day": 24 * time.Hour,
	"hour": time.Hour, "minute": time.Minute,
}

// pathCache remembers the last path built for a time-only partitioning.
type pathCache struct {
	bucket int64
	path   string
}

// cachedPath returns the folder path for t, reusing the previous one while
// t stays in the same time grain. Only for time-only partitionings.
func (p Partitioning) cachedPath(c *pathCache, t time.Time) string {
	b := t.UnixNano() / int64(p.grain)
	if t.UnixNano() < 0 {
		b--
	}
	if c.path == "" || c.bucket != b {
		c.bucket, c.path = b, string(p.path(nil, t, nil))
	}
	return c.path
}

// timeKeys are partition keys computed from event time (UTC).
var timeKeys = map[string]string{
	"dt":     "2006-01-02",
	"year":   "2006",
	"month":  "01",
	"day":    "02",
	"hour":   "15",
	"minute": "04",
}

// ParsePartitioning parses a comma-separated key list. Keys dt, year, month,
// day, hour and minute come from event time in UTC; any other key names a
// record field (for ticks: symbol, exchange or source). The default is
// "dt,hour".
func ParsePartitioning(spec string) (Partitioning, error) {
	if strings.TrimSpace(spec) == "" {
		spec = DefaultPartitionBy
	}
	var p Partitioning
	seen := map[string]bool{}
	for _, k := range strings.Split(spec, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if strings.ContainsAny(k, "/= ") {
			return p, fmt.Errorf("partition key %q may not contain '/', '=' or spaces: %w", k, stocklake.ErrConfig)
		}
		if seen[k] {
			return p, stocklake.SettingErr(fmt.Errorf("partition key %q is listed twice: %w", k, stocklake.ErrConfig), "sink.Config.Partitioning")
		}
		seen[k] = true
		p.keys = append(p.keys, k)
	}
	for _, k := range p.keys {
		g, ok := timeGrains[k]
		if !ok {
			p.grain = 0
			break
		}
		if p.grain == 0 || g < p.grain {
			p.grain = g
		}
	}
	if len(p.keys) == 0 {
		return p, stocklake.SettingErr(fmt.Errorf("partitioning %q names no keys; e.g. dt,hour: %w", spec, stocklake.ErrConfig), "sink.Config.Partitioning")
	}
	return p, nil
}

// Keys returns the partition key names, outermost first, lowercased as
// Athena and Trino expect them in folder names.
func (p Partitioning) Keys() []string {
	out := make([]string, len(p.keys))
	for i, k := range p.keys {
		out[i] = strings.ToLower(k)
	}
	return out
}

// path builds the folder path for event time t with hive.PartitionPath's
// rule (keys lower-cased, values escaped, empty values as Hive's default
// partition); field looks up other keys.
func (p Partitioning) path(dst []byte, t time.Time, field func(string) string) []byte {
	t = t.UTC()
	for _, k := range p.keys {
		if layout, ok := timeKeys[k]; ok {
			var buf [16]byte
			dst = hive.AppendPartitionSegment(dst, k, string(t.AppendFormat(buf[:0], layout)))
			continue
		}
		dst = hive.AppendPartitionSegment(dst, k, field(k))
	}
	return dst
}

// tickField returns a tick's field by partition key name.
func tickField(t *stocklake.Tick, key string) string {
	switch key {
	case "symbol":
		return t.Symbol
	case "exchange":
		return t.Exchange
	case "source":
		return t.Source
	}
	return ""
}

// timeFieldCandidates are field names detected as event time in JSON topics,
// in order of preference (matched case-insensitively).
var timeFieldCandidates = []string{"ts", "timestamp", "event_time", "time", "datetime", "date"}

// detectTimeField picks the event-time field of a JSON object, or "".
// Among fields that match a candidate but for case ("ts", "TS", "Ts"), the
// one spelled as the candidate wins, else the first in byte order: the
// same object always decides the same field, whatever the map's order.
func detectTimeField(obj map[string]any) string {
	for _, c := range timeFieldCandidates {
		best := ""
		for k, v := range obj {
			if !strings.EqualFold(k, c) {
				continue
			}
			if _, ok := parseEventTime(v); !ok {
				continue
			}
			if k == c {
				return k
			}
			if best == "" || k < best {
				best = k
			}
		}
		if best != "" {
			return best
		}
	}
	return ""
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseEventTime reads a JSON value as a point in time: RFC 3339 and
// similar strings (UTC when no zone is given), dates, and numbers since the
// Unix epoch whose unit (s, ms, us, ns) is told by their magnitude.
func parseEventTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case string:
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, x); err == nil {
				return t.UTC(), true
			}
		}
		if n, err := strconv.ParseFloat(x, 64); err == nil {
			return epochTime(n)
		}
	case json.Number:
		if n, err := x.Float64(); err == nil {
			return epochTime(n)
		}
	case float64:
		return epochTime(x)
	}
	return time.Time{}, false
}

// epochTime reads n, a positive number since the Unix epoch, in the unit
// its magnitude tells; false for numbers that are no time: not positive,
// or nanoseconds past what an int64 holds (after 2262-04-11), which would
// otherwise wrap to an arbitrary time.
func epochTime(n float64) (time.Time, bool) {
	a := math.Abs(n)
	switch {
	case math.IsNaN(n) || math.IsInf(n, 0) || n <= 0 || n >= 1<<63:
		return time.Time{}, false
	case a < 1e11: // seconds until year 5138
		return time.UnixMicro(int64(n * 1e6)).UTC(), true
	case a < 1e14:
		return time.UnixMicro(int64(n * 1e3)).UTC(), true
	case a < 1e17:
		return time.UnixMicro(int64(n)).UTC(), true
	default:
		return time.Unix(0, int64(n)).UTC(), true
	}
}

// ObjectKey names a lake object deterministically from Kafka coordinates:
// <table>/<partition path>/<table>+<topic id>+<partition>+<first offset>.<ext>.
// The first offset is zero-padded so keys sort in offset order.
func ObjectKey(table, path, topicID string, partition int32, firstOffset int64, ext string) string {
	var b strings.Builder
	b.Grow(len(table)*2 + len(path) + len(topicID) + 48)
	b.WriteString(table)
	b.WriteByte('/')
	if path != "" {
		b.WriteString(path)
		b.WriteByte('/')
	}
	fmt.Fprintf(&b, "%s+%s+%d+%019d.%s", table, topicID, partition, firstOffset, ext)
	return b.String()
}

// manifestKey is where the sink records a batch's objects before writing
// them, so a restart can find objects written but never committed.
func manifestKey(table, topicID string, partition int32) string {
	return fmt.Sprintf("_stocklake/sink/%s/%s/%d.json", table, topicID, partition)
}
