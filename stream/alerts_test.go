package stream

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

func TestAlertCrossOnTicks(t *testing.T) {
	e := newEngine(t, Config{Rules: []Rule{
		{Name: "up", Kind: stocklake.AlertCross, Symbols: []string{"AAPL"}, Level: 100, Direction: Up, Cooldown: time.Minute},
		{Name: "down", Kind: stocklake.AlertCross, Level: 100, Direction: Down},
	}})
	var out Output
	steps := []struct {
		sym   string
		sec   int
		price float64
		want  string // rule names fired, comma-separated
	}{
		{"AAPL", 0, 99, ""},         // no previous price
		{"AAPL", 1, 101, "up"},      // crosses up
		{"AAPL", 2, 100, "down"},    // reaches the level from above (no cooldown)
		{"AAPL", 3, 99, ""},         // leaves the level: no crossing
		{"AAPL", 4, 100.5, ""},      // crosses up, but "up" cools down until 61s
		{"AAPL", 61, 99, "down"},    // down again
		{"AAPL", 62, 150, "up"},     // cooldown over
		{"MSFT", 63, 99, ""},        // first MSFT tick
		{"MSFT", 64, 101, ""},       // "up" watches AAPL only
		{"MSFT", 65, 100.5, ""},     // above the level
		{"MSFT", 66, 100, "down"},   // reaches the level from above
		{"AAPL", 67, 99.99, "down"}, // down again; separate state per symbol
	}
	for i, s := range steps {
		out.Reset()
		process(t, e, 0, tick(s.sym, at(time.Duration(s.sec)*time.Second), s.price, 1, strconv.Itoa(i)), &out)
		var names []string
		for _, a := range out.Alerts {
			names = append(names, a.Rule)
		}
		if got := strings.Join(names, ","); got != s.want {
			t.Fatalf("step %d (%s %v at %ds): alerts %q, want %q", i, s.sym, s.price, s.sec, got, s.want)
		}
	}
	out.Reset()
	process(t, e, 0, tick("AAPL", at(200*time.Second), 101, 1, "x"), &out)
	a := out.Alerts[0]
	want := stocklake.Alert{Rule: "up", Symbol: "AAPL", Kind: stocklake.AlertCross, Message: "AAPL crossed above 100 at 101",
		Value: 101, Threshold: 100, Time: at(200 * time.Second)}
	if a != want {
		t.Errorf("alert = %+v\nwant %+v", a, want)
	}
}

// barsAlerts feeds one tick per bar per minute, with the given (open,
// close, volume) per bar, and returns the alerts per bar.
func barsAlerts(t *testing.T, rules []Rule, bars [][3]float64) [][]stocklake.Alert {
	t.Helper()
	e := newEngine(t, Config{Rules: rules})
	var out Output
	var got [][]stocklake.Alert
	for i, b := range bars {
		start := time.Duration(i) * time.Minute
		process(t, e, 0, tick("X", at(start+time.Second), b[0], b[2]/2, strconv.Itoa(2*i)), &out)
		process(t, e, 0, tick("X", at(start+30*time.Second), b[1], b[2]/2, strconv.Itoa(2*i+1)), &out)
		out.Reset()
		e.AdvanceTo(at(start+time.Minute), &out)
		if len(finals(&out)) != 1 {
			t.Fatalf("bar %d: %s", i, dump(&out))
		}
		got = append(got, append([]stocklake.Alert(nil), out.Alerts...))
	}
	return got
}

func fired(alerts [][]stocklake.Alert) string {
	var sb strings.Builder
	for _, as := range alerts {
		if len(as) == 0 {
			sb.WriteByte('.')
		}
		for _, a := range as {
			sb.WriteString(a.Rule)
		}
	}
	return sb.String()
}

func TestAlertMove(t *testing.T) {
	rules := []Rule{
		{Name: "u", Kind: stocklake.AlertMove, Window: time.Minute, Percent: 2, Direction: Up},
		{Name: "e", Kind: stocklake.AlertMove, Window: time.Minute, Percent: 2, Cooldown: 2 * time.Minute},
	}
	got := barsAlerts(t, rules, [][3]float64{
		{100, 103, 1},  // +3%: u, e
		{100, 101, 1},  // +1%
		{100, 97, 1},   // -3%: e is cooling down until the end of bar 0 + 2m = end of bar 2 -> allowed (ts >= last+cooldown)
		{100, 97.5, 1}, // -2.5%: e cooling down
		{100, 102, 1},  // +2%: u; e cooling down until end of bar 2 + 2m = end of bar 4 -> allowed
	})
	if f := fired(got); f != "ue.e.ue" {
		t.Fatalf("fired %q, want ue.e.ue", f)
	}
	a := got[0][0]
	if a.Kind != stocklake.AlertMove || !near(a.Value, 3) || a.Threshold != 2 || a.Window != time.Minute || !a.Time.Equal(at(time.Minute)) {
		t.Errorf("alert = %+v, want move 3%% at the end of the first minute", a)
	}
}

func TestAlertVolumeSpike(t *testing.T) {
	rules := []Rule{{Name: "v", Kind: stocklake.AlertVolumeSpike, Window: time.Minute, Factor: 3, Bars: 3}}
	got := barsAlerts(t, rules, [][3]float64{
		{10, 10, 100}, {10, 10, 100}, {10, 10, 100}, // history
		{10, 10, 500}, // 5x the mean of 100
		{10, 10, 600}, // mean of 100,100,500 = 233.3: 2.57x
		{10, 10, 0},
	})
	if f := fired(got); f != "...v.." {
		t.Fatalf("fired %q, want ...v..", f)
	}
	if a := got[3][0]; !near(a.Value, 5) || a.Threshold != 3 {
		t.Errorf("alert = %+v, want value 5", a)
	}
}

func TestAlertZScore(t *testing.T) {
	rules := []Rule{
		{Name: "c", Kind: stocklake.AlertZScore, Window: time.Minute, Threshold: 2, Bars: 3, Direction: Up},
		{Name: "v", Kind: stocklake.AlertZScore, Window: time.Minute, Threshold: 2, Bars: 3, Of: "volume"},
	}
	got := barsAlerts(t, rules, [][3]float64{
		{10, 10, 100}, {11, 11, 200}, {12, 12, 300},
		{20, 20, 300}, // close z = (20-11)/1 = 9: c; volume z = (300-200)/100 = 1
		{5, 5, 1000},  // close z < 0: not up; volume z = (1000-266.7)/57.7 = 12.7: v
	})
	if f := fired(got); f != "...cv" {
		t.Fatalf("fired %q, want ...cv", f)
	}
	if a := got[3][0]; !near(a.Value, 9) {
		t.Errorf("z = %v, want 9", a.Value)
	}
}

func TestAlertCrossOnBars(t *testing.T) {
	rules := []Rule{{Name: "x", Kind: stocklake.AlertCross, Window: time.Minute, Level: 50}}
	got := barsAlerts(t, rules, [][3]float64{
		{40, 49, 1}, {60, 48, 1}, // closes stay below 50 although a tick went above
		{48, 51, 1}, // close crosses up
		{52, 49, 1}, // and down
	})
	if f := fired(got); f != "..xx" {
		t.Fatalf("fired %q, want ..xx", f)
	}
	if got[2][0].Time != at(3*time.Minute) || got[2][0].Window != time.Minute {
		t.Errorf("alert = %+v", got[2][0])
	}
}
