package stream

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

// base is 2026-11-26 14:00:00 UTC, a whole hour.
var base = time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)

// at returns base plus d.
func at(d time.Duration) time.Time { return base.Add(d) }

func tick(sym string, t time.Time, price, size float64, id string) *stocklake.Tick {
	return &stocklake.Tick{Symbol: sym, Time: t, Price: price, Size: size, TradeID: id}
}

func newEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func process(t testing.TB, e *Engine, part int32, tk *stocklake.Tick, out *Output) {
	t.Helper()
	if err := e.Process(part, tk, out); err != nil {
		t.Fatalf("Process(%d, %+v): %v", part, tk, err)
	}
}

// finals returns the final bars in out.
func finals(out *Output) []Bar {
	var bars []Bar
	for _, b := range out.Bars {
		if b.Final {
			bars = append(bars, b)
		}
	}
	return bars
}

// dump renders an output canonically (NaN prints as NaN, so equal outputs
// give equal strings).
func dump(out *Output) string {
	var sb strings.Builder
	for _, b := range out.Bars {
		fmt.Fprintf(&sb, "bar %+v\n", b)
	}
	for _, l := range out.Late {
		fmt.Fprintf(&sb, "late %+v\n", l)
	}
	for _, a := range out.Alerts {
		fmt.Fprintf(&sb, "alert %+v\n", a)
	}
	return sb.String()
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b))
}
