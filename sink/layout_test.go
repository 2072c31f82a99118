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
