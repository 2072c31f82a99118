package stream

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestLateTicksReportedNotDropped(t *testing.T) {
	e := newEngine(t, Config{Windows: []time.Duration{time.Minute, 5 * time.Minute}})
	var out Output
	process(t, e, 3, tick("X", at(30*time.Second), 10, 1, "1"), &out)
	process(t, e, 3, tick("X", at(70*time.Second), 11, 2, "2"), &out) // closes [0, 1m)
	if b := finals(&out); len(b) != 1 || b[0].Window != time.Minute || b[0].Trades != 1 {
		t.Fatalf("final bars = %+v, want the first minute", out.Bars)
	}
	out.Reset()
	late := tick("X", at(40*time.Second), 9, 4, "3")
	process(t, e, 3, late, &out)
	if len(out.Late) != 1 {
		t.Fatalf("late = %+v, want the tick", out.Late)
	}
	l := out.Late[0]
	if l.Partition != 3 || !reflect.DeepEqual(l.Tick, *late) || !slices.Equal(l.Windows, []time.Duration{time.Minute}) || !l.Watermark.Equal(at(70*time.Second)) {
		t.Errorf("late = %+v, want partition 3, the tick, windows [1m], watermark +70s", l)
	}
	if got := e.LateBySymbol(); got["X"] != 1 || len(got) != 1 {
		t.Errorf("LateBySymbol = %v, want X:1", got)
	}
	if st := e.Stats(); st.Late != 1 || st.Ticks != 3 {
		t.Errorf("stats = %+v, want 3 ticks, 1 late", st)
	}
	// The late tick still counts in the 5m bar, whose window is open.
	e.AdvanceTo(at(5*time.Minute), &out)
	var five []Bar
	for _, b := range finals(&out) {
		if b.Window == 5*time.Minute {
			five = append(five, b)
		}
	}
	if len(five) != 1 || five[0].Trades != 3 || five[0].Low != 9 || five[0].Volume != 7 {
		t.Fatalf("5m bars = %+v, want 3 trades with the late tick", five)
	}
	// A tick late for every window is still reported with all of them.
	out.Reset()
	process(t, e, 3, tick("X", at(10*time.Second), 8, 1, "4"), &out)
	if len(out.Late) != 1 || !slices.Equal(out.Late[0].Windows, []time.Duration{time.Minute, 5 * time.Minute}) {
		t.Fatalf("late = %+v, want windows [1m 5m]", out.Late)
	}
	if len(out.Bars) != 0 {
		t.Errorf("a tick late everywhere made bars: %+v", out.Bars)
	}
}

func TestLatenessKeepsWindowOpen(t *testing.T) {
	e := newEngine(t, Config{Lateness: 30 * time.Second})
	var out Output
	process(t, e, 0, tick("X", at(30*time.Second), 10, 1, "1"), &out)
	process(t, e, 0, tick("X", at(70*time.Second), 11, 1, "2"), &out) // W=+70s < 60+30
	process(t, e, 0, tick("X", at(40*time.Second), 12, 1, "3"), &out) // within lateness
	if len(out.Late) != 0 || len(out.Bars) != 0 {
		t.Fatalf("output before end+lateness: %s", dump(&out))
	}
	process(t, e, 0, tick("X", at(89*time.Second), 11, 1, "4"), &out)
	if len(out.Bars) != 0 {
		t.Fatalf("closed before end+lateness: %s", dump(&out))
	}
	process(t, e, 0, tick("X", at(90*time.Second), 11, 1, "5"), &out)
	b := finals(&out)
	if len(b) != 1 || b[0].Trades != 2 || b[0].High != 12 || b[0].Close != 12 {
		t.Fatalf("final = %+v, want 2 trades including the late-but-allowed one", out.Bars)
	}
	out.Reset()
	process(t, e, 0, tick("X", at(59*time.Second), 1, 1, "6"), &out)
	if len(out.Late) != 1 {
		t.Fatalf("tick after end+lateness not late: %s", dump(&out))
	}
}

func TestWatermarkSlowPartitionHoldsBack(t *testing.T) {
	e := newEngine(t, Config{Delay: time.Second})
	var out Output
	process(t, e, 0, tick("A", at(10*time.Second), 1, 1, "1"), &out)
	process(t, e, 1, tick("B", at(20*time.Second), 1, 1, "1"), &out)
	if got := e.Watermark(); !got.Equal(at(9 * time.Second)) {
		t.Fatalf("watermark = %v, want +9s (min over partitions minus delay)", got)
	}
	// Partition 0 races ahead; partition 1 (slow) holds the watermark.
	process(t, e, 0, tick("A", at(5*time.Minute), 1, 1, "2"), &out)
	if len(out.Bars) != 0 {
		t.Fatalf("window closed while partition 1 lags: %s", dump(&out))
	}
	if got := e.Watermark(); !got.Equal(at(19 * time.Second)) {
		t.Fatalf("watermark = %v, want +19s", got)
	}
	// Partition 1's tick of +30s is not late although partition 0 is at 5m.
	process(t, e, 1, tick("B", at(30*time.Second), 2, 1, "2"), &out)
	if len(out.Late) != 0 {
		t.Fatalf("late = %+v", out.Late)
	}
	process(t, e, 1, tick("B", at(2*time.Minute), 3, 1, "3"), &out)
	got := finals(&out)
	if len(got) != 2 || got[0].Symbol != "A" || got[0].Partition != 0 || got[1].Symbol != "B" || got[1].Trades != 2 {
		t.Fatalf("finals = %+v, want A's and B's first minute, partition order", got)
	}
	if w := e.Watermark(); !w.Equal(at(2*time.Minute - time.Second)) {
		t.Errorf("watermark = %v", w)
	}
	// A lagging partition holds the watermark back until it is revoked.
	process(t, e, 2, tick("C", at(2*time.Minute), 1, 1, "1"), &out)
	out.Reset()
	process(t, e, 0, tick("A", at(10*time.Minute), 1, 1, "3"), &out)
	process(t, e, 1, tick("B", at(10*time.Minute), 1, 1, "4"), &out)
	if len(out.Bars) != 0 {
		t.Fatalf("partition 2 should hold the watermark: %s", dump(&out))
	}
	e.RemovePartition(2)
	if slices.Contains(e.Partitions(), 2) {
		t.Fatal("partition 2 still listed")
	}
	process(t, e, 0, tick("A", at(10*time.Minute+time.Second), 1, 1, "5"), &out)
	if len(finals(&out)) == 0 {
		t.Fatalf("no bars after removing the slow partition")
	}
	// The watermark never moves back, even when a new partition is behind.
	w := e.Watermark()
	process(t, e, 5, tick("D", at(3*time.Minute), 1, 1, "1"), &out)
	if !e.Watermark().Equal(w) {
		t.Errorf("watermark moved from %v to %v", w, e.Watermark())
	}
	if len(out.Late) != 1 {
		t.Errorf("a new partition's tick before the watermark should be late: %s", dump(&out))
	}
}

func TestAdvanceToClosesIdleWindows(t *testing.T) {
	e := newEngine(t, Config{Windows: []time.Duration{time.Second, time.Minute}, Delay: 2 * time.Second})
	var out Output
	process(t, e, 0, tick("X", at(10*time.Second+500*time.Millisecond), 10, 1, "1"), &out)
	e.AdvanceTo(at(5*time.Second), &out) // behind the data: nothing
	if len(out.Bars) != 0 || !e.Watermark().Equal(at(8*time.Second+500*time.Millisecond)) {
		t.Fatalf("AdvanceTo in the past changed something: %s, watermark %v", dump(&out), e.Watermark())
	}
	e.AdvanceTo(at(11*time.Second), &out)
	if b := finals(&out); len(b) != 1 || b[0].Window != time.Second {
		t.Fatalf("finals = %+v, want the 1s bar", out.Bars)
	}
	e.AdvanceTo(at(time.Minute), &out)
	if b := finals(&out); len(b) != 2 || b[1].Window != time.Minute {
		t.Fatalf("finals = %+v, want the 1m bar too", out.Bars)
	}
	if !e.Watermark().Equal(at(time.Minute)) {
		t.Errorf("watermark = %v", e.Watermark())
	}
	out.Reset()
	process(t, e, 0, tick("X", at(59*time.Second), 10, 1, "2"), &out)
	if len(out.Late) != 1 {
		t.Errorf("tick behind an AdvanceTo watermark is not late: %s", dump(&out))
	}
	if st := e.Stats(); st.OpenWindows != 0 {
		t.Errorf("open windows = %d, want 0", st.OpenWindows)
	}
}

func TestProvisionalBars(t *testing.T) {
	e := newEngine(t, Config{Provisional: 10 * time.Second})
	var out Output
	var got []int64 // trades of each provisional bar
	for i, sec := range []int{0, 5, 12, 14, 30, 29} {
		out.Reset()
		process(t, e, 0, tick("X", at(time.Duration(sec)*time.Second), float64(10+i), 1, string(rune('a'+i))), &out)
		for _, b := range out.Bars {
			if b.Final || b.Indicators.Bars != 0 {
				t.Fatalf("provisional bar marked final or with indicators: %+v", b)
			}
			got = append(got, b.Trades)
		}
	}
	// Emitted after ticks 1 (first), 3 (12s >= 0+10), 5 (30s >= 12+10).
	if !slices.Equal(got, []int64{1, 3, 5}) {
		t.Fatalf("provisional bars carried %v trades, want [1 3 5]", got)
	}
	out.Reset()
	e.AdvanceTo(at(time.Minute), &out)
	if len(out.Bars) != 1 || !out.Bars[0].Final || out.Bars[0].Trades != 6 {
		t.Fatalf("bars = %s, want one final bar of 6 trades", dump(&out))
	}
}

func TestProvisionalOnTimeWithLateness(t *testing.T) {
	e := newEngine(t, Config{Provisional: 10 * time.Second, Lateness: 10 * time.Second})
	var out Output
	process(t, e, 0, tick("X", at(15*time.Second), 10, 1, "1"), &out) // provisional
	process(t, e, 0, tick("X", at(16*time.Second), 11, 1, "2"), &out) // rate-limited
	if len(out.Bars) != 1 {
		t.Fatalf("bars = %s", dump(&out))
	}
	out.Reset()
	process(t, e, 0, tick("X", at(62*time.Second), 12, 1, "3"), &out) // W passes 1m: on-time bar
	if len(out.Bars) != 2 || out.Bars[0].Start != at(time.Minute) || out.Bars[1].Start != base || out.Bars[1].Trades != 2 || out.Bars[1].Final {
		t.Fatalf("bars = %s, want the new window's provisional, then the on-time provisional of [0,1m)", dump(&out))
	}
	out.Reset()
	process(t, e, 0, tick("X", at(50*time.Second), 13, 1, "4"), &out) // late but allowed
	if len(out.Bars) != 1 || out.Bars[0].Final || out.Bars[0].Trades != 3 {
		t.Fatalf("bars = %s, want a provisional update of [0,1m)", dump(&out))
	}
	out.Reset()
	process(t, e, 0, tick("X", at(70*time.Second), 14, 1, "5"), &out)
	f := finals(&out)
	if len(f) != 1 || f[0].Trades != 3 || f[0].Start != base {
		t.Fatalf("bars = %s, want the final [0,1m) with 3 trades", dump(&out))
	}
}

func TestManySymbolsCloseSortedByName(t *testing.T) {
	e := newEngine(t, Config{})
	var out Output
	for i, s := range []string{"MSFT", "AAPL", "TSLA", "GOOG"} {
		process(t, e, 0, tick(s, at(time.Duration(i)*time.Second), 1, 1, "1"), &out)
	}
	e.AdvanceTo(at(time.Minute), &out)
	var names []string
	for _, b := range out.Bars {
		names = append(names, b.Symbol)
	}
	if !slices.Equal(names, []string{"AAPL", "GOOG", "MSFT", "TSLA"}) {
		t.Fatalf("order = %v", names)
	}
}
