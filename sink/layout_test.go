package sink

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

func TestPartitioningPaths(t *testing.T) {
	p, err := ParsePartitioning("")
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 26, 9, 5, 0, 0, time.FixedZone("EST", -5*3600))
	if got := string(p.path(nil, ts, nil)); got != "dt=2026-11-26/hour=14" {
		t.Fatalf("default path %q", got)
	}
	p, _ = ParsePartitioning("symbol, year,month,day")
	got := string(p.path(nil, ts, func(k string) string { return map[string]string{"symbol": "BRK/B"}[k] }))
	if got != "symbol=BRK%2FB/year=2026/month=11/day=26" {
		t.Fatalf("field path %q", got)
	}
	got = string(p.path(nil, ts, func(string) string { return "" }))
	if got != "symbol=__HIVE_DEFAULT_PARTITION__/year=2026/month=11/day=26" {
		t.Fatalf("empty value path %q", got)
	}
	for _, bad := range []string{"dt,dt", "a/b", "x=y", " , "} {
		if _, err := ParsePartitioning(bad); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("ParsePartitioning(%q) = %v, want ErrConfig", bad, err)
		}
	}
}

func TestParseEventTime(t *testing.T) {
	want := time.Date(2026, 11, 26, 14, 30, 0, 0, time.UTC)
	sec := strconv.FormatInt(want.Unix(), 10)
	cases := []any{
		"2026-11-26T14:30:00Z", "2026-11-26T09:30:00-05:00", "2026-11-26 14:30:00",
		json.Number(sec), json.Number(sec + "000"), json.Number(sec + "000000"),
		json.Number(sec + "000000000"), sec,
	}
	for _, c := range cases {
		got, ok := parseEventTime(c)
		if !ok || !got.Equal(want) {
			t.Errorf("parseEventTime(%v) = %v %v, want %v", c, got, ok, want)
		}
	}
	if got, ok := parseEventTime("1965-12-31"); !ok || got.Year() != 1965 {
		t.Errorf("date: %v %v", got, ok)
	}
	for _, bad := range []any{"yesterday", json.Number("-5"), true, nil, map[string]any{}} {
		if _, ok := parseEventTime(bad); ok {
			t.Errorf("parseEventTime(%v) accepted", bad)
		}
	}
}

// TestParseEventTimeBeyondNanoseconds: an epoch number too large for
// nanoseconds in an int64 (past 2262-04-11) is no time; it used to wrap
// around to 1677-09-21 and land there.
func TestParseEventTimeBeyondNanoseconds(t *testing.T) {
	for _, bad := range []any{json.Number("1e19"), json.Number("9223372036854775808"), json.Number("1e300"), "1e30", 1e25} {
		if got, ok := parseEventTime(bad); ok {
			t.Errorf("parseEventTime(%v) = %v, want no time", bad, got)
		}
	}
	last := time.Unix(0, 9223372036854774784).UTC() // the largest float64 below 2^63
	if got, ok := parseEventTime(json.Number("9223372036854774784")); !ok || !got.Equal(last) {
		t.Errorf("the last nanosecond epoch: %v %v, want %v", got, ok, last)
	}
}

func TestDetectTimeField(t *testing.T) {
	obj := map[string]any{"Index": "NYA", "Date": "1965-12-31", "Close": json.Number("1")}
	if f := detectTimeField(obj); f != "Date" {
		t.Fatalf("detected %q, want Date", f)
	}
	obj = map[string]any{"ts": "not a time", "time": json.Number("1764167400")}
	if f := detectTimeField(obj); f != "time" {
		t.Fatalf("detected %q, want time (ts is not parseable)", f)
	}
	if f := detectTimeField(map[string]any{"a": 1}); f != "" {
		t.Fatalf("detected %q in an object without time", f)
	}
}

// TestDetectTimeFieldCaseVariants: fields that differ from a candidate
// only in case decide the same time field every time (the candidate's own
// spelling first, else the first in byte order); the pick used to follow
// the map's random order, so two sinks, or two runs, could partition the
// same records by different fields.
func TestDetectTimeFieldCaseVariants(t *testing.T) {
	for _, c := range []struct {
		obj  map[string]any
		want string
	}{
		{map[string]any{"TS": "2026-11-26T10:00:00Z", "ts": "1999-01-01", "Ts": "2026-11-26"}, "ts"},
		{map[string]any{"Ts": "2026-11-26T10:00:00Z", "TS": "1999-01-01", "tS": "2026-11-26"}, "TS"},
		{map[string]any{"ts": "not a time", "TS": "1999-01-01", "Ts": "2026-11-26"}, "TS"},
	} {
		for range 64 {
			if got := detectTimeField(c.obj); got != c.want {
				t.Fatalf("detectTimeField(%v) = %q, want %q", c.obj, got, c.want)
			}
		}
	}
}

func TestObjectKeySortsByOffset(t *testing.T) {
	a := ObjectKey("ticks", "dt=2026-11-26/hour=14", "AAAA", 2, 99, "parquet")
	b := ObjectKey("ticks", "dt=2026-11-26/hour=14", "AAAA", 2, 100, "parquet")
	if a != "ticks/dt=2026-11-26/hour=14/ticks+AAAA+2+0000000000000000099.parquet" {
		t.Fatalf("key %q", a)
	}
	if !(a < b) {
		t.Fatalf("keys do not sort by offset: %q %q", a, b)
	}
}

func TestTableName(t *testing.T) {
	if got := TableName("Market.Ticks-v1"); got != "market_ticks_v1" {
		t.Fatalf("TableName = %q", got)
	}
}
