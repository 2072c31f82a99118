package stream

import (
	"fmt"
	"math"
	"time"

	"github.com/stocklake/stocklake"
)

// crossing returns "above" or "below" if moving from prev to cur crosses
// level in a direction the rule watches, else "".
func crossing(d Direction, level, prev, cur float64) string {
	switch {
	case d != Down && prev < level && cur >= level:
		return "above"
	case d != Up && prev > level && cur <= level:
		return "below"
	}
	return ""
}

// beyond reports whether x passes threshold in direction d.
func beyond(d Direction, x, threshold float64) bool {
	switch d {
	case Up:
		return x >= threshold
	case Down:
		return x <= -threshold
	}
	return math.Abs(x) >= threshold
}

// cool reports whether rule ri may fire for s at event time ts.
func (e *Engine) cool(s *symbol, ri int32, ts int64) bool {
	last := s.fired[ri]
	return last == noTime || ts >= last+e.rules[ri].cooldown
}

func (e *Engine) fire1(s *symbol, ri int32, ts int64, value, threshold float64, msg string, out *Output) {
	r := &e.rules[ri]
	s.fired[ri] = ts
	out.Alerts = append(out.Alerts, stocklake.Alert{
		Rule:      r.Name,
		Symbol:    s.name,
		Kind:      r.Kind,
		Message:   msg,
		Value:     value,
		Threshold: threshold,
		Time:      time.UnixMicro(ts).UTC(),
		Window:    r.Window,
	})
}

// tickAlerts evaluates the tick rules of s for a tick at price and ts,
// against the previous tick's price.
func (e *Engine) tickAlerts(s *symbol, price float64, ts int64, out *Output) {
	if !s.hasLast {
		return
	}
	for _, ri := range s.tickRules {
		r := &e.rules[ri]
		dir := crossing(r.Direction, r.Level, s.last, price)
		if dir == "" || !e.cool(s, ri, ts) {
			continue
		}
		e.fire1(s, ri, ts, price, r.Level, fmt.Sprintf("%s crossed %s %g at %g", s.name, dir, r.Level, price), out)
	}
}

// barAlerts evaluates the bar rules of s for its final bar b of size i,
// already pushed to the history.
func (e *Engine) barAlerts(s *symbol, i int, b *stocklake.Bar, out *Output) {
	h := &s.series[i].hist
	ts := b.Start.UnixMicro() + e.sizes[i]
	for _, ri := range s.barRules {
		r := &e.rules[ri]
		if r.size != i {
			continue
		}
		switch r.Kind {
		case stocklake.AlertCross:
			if h.len() < 2 {
				continue
			}
			prev, _ := h.back(1)
			dir := crossing(r.Direction, r.Level, prev, b.Close)
			if dir == "" || !e.cool(s, ri, ts) {
				continue
			}
			e.fire1(s, ri, ts, b.Close, r.Level, fmt.Sprintf("%s %v close crossed %s %g at %g", s.name, r.Window, dir, r.Level, b.Close), out)
		case stocklake.AlertMove:
			pct := (b.Close - b.Open) / b.Open * 100
			if !beyond(r.Direction, pct, r.Percent) || !e.cool(s, ri, ts) {
				continue
			}
			e.fire1(s, ri, ts, pct, r.Percent, fmt.Sprintf("%s moved %+.4g%% in %v (%g to %g)", s.name, pct, r.Window, b.Open, b.Close), out)
		case stocklake.AlertVolumeSpike:
			if h.len() < r.Bars+1 {
				continue
			}
			mean, _ := h.meanStd(1, r.Bars, true)
			if !(mean > 0) || b.Volume < r.Factor*mean || !e.cool(s, ri, ts) {
				continue
			}
			ratio := b.Volume / mean
			e.fire1(s, ri, ts, ratio, r.Factor, fmt.Sprintf("%s %v volume %g is %.3gx its %d-bar mean %g", s.name, r.Window, b.Volume, ratio, r.Bars, mean), out)
		case stocklake.AlertZScore:
			if h.len() < r.Bars+1 {
				continue
			}
			vol := r.Of == "volume"
			x := b.Close
			if vol {
				x = b.Volume
			}
			z := h.z(x, r.Bars, vol)
			if math.IsNaN(z) || !beyond(r.Direction, z, r.Threshold) || !e.cool(s, ri, ts) {
				continue
			}
			e.fire1(s, ri, ts, z, r.Threshold, fmt.Sprintf("%s %v %s z-score %.3g over %d bars (%g)", s.name, r.Window, r.Of, z, r.Bars, x), out)
		}
	}
}
