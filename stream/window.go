package stream

import (
	"math"
	"time"

	"github.com/stocklake/stocklake"
)

// noTime marks an absent event time or watermark.
const noTime = math.MinInt64

// window accumulates one symbol's ticks for one window [start, start+w).
type window struct {
	start         int64
	open, close   float64
	high, low     float64
	first, last   int64  // event times of the open and close ticks: min and max ts
	openID, cloID string // trade IDs of the open and close ticks, for tie-breaks
	vol, volErr   float64
	pv, pvErr     float64
	trades        int64
	provAt        int64 // last event time carried by the previous provisional bar; noTime if none
	dirty         bool  // changed since the last provisional bar
}

// twoSum adds b to the double-double (hi, lo); the error of each addition is
// accumulated exactly into lo (Ogita-Rump-Oishi Sum2), so the result is as
// accurate as summing in twice the precision.
func twoSum(hi, lo *float64, b float64) {
	a := *hi
	s := a + b
	bb := s - a
	*lo += (a - (s - bb)) + (b - bb)
	*hi = s
}

func (w *window) add(ts int64, id string, price, size, pv float64) {
	if w.trades == 0 {
		w.open, w.close, w.high, w.low = price, price, price, price
		w.first, w.last = ts, ts
		w.openID, w.cloID = id, id
	} else {
		if ts < w.first || ts == w.first && id < w.openID {
			w.open, w.first, w.openID = price, ts, id
		}
		if ts > w.last || ts == w.last && id >= w.cloID {
			w.close, w.last, w.cloID = price, ts, id
		}
		if price > w.high {
			w.high = price
		}
		if price < w.low {
			w.low = price
		}
	}
	twoSum(&w.vol, &w.volErr, size)
	twoSum(&w.pv, &w.pvErr, pv)
	w.trades++
	w.dirty = true
}

// volume returns the rounded sum of sizes.
func (w *window) volume() float64 { return w.vol + w.volErr }

// bar fills b with the window's bar.
func (w *window) bar(b *stocklake.Bar, symbol string, size time.Duration, final bool) {
	vol := w.volume()
	vwap := w.close
	if vol > 0 {
		vwap = (w.pv + w.pvErr) / vol
	}
	*b = stocklake.Bar{
		Symbol:    symbol,
		Window:    size,
		Start:     time.UnixMicro(w.start).UTC(),
		Open:      w.open,
		High:      w.high,
		Low:       w.low,
		Close:     w.close,
		Volume:    vol,
		VWAP:      vwap,
		Trades:    w.trades,
		FirstTime: time.UnixMicro(w.first).UTC(),
		LastTime:  time.UnixMicro(w.last).UTC(),
		Final:     final,
	}
}

// series is one symbol's state for one window size: its open windows and the
// history of its final bars for indicators and rules.
type series struct {
	open []window // ascending start; usually one or two
	hist history
	emaF ema
	emaS ema
}

// find returns the open window starting at start, or nil.
func (s *series) find(start int64) *window {
	for i := len(s.open) - 1; i >= 0; i-- {
		switch w := &s.open[i]; {
		case w.start == start:
			return w
		case w.start < start:
			return nil
		}
	}
	return nil
}

// insert adds an empty window starting at start, keeping starts ascending.
func (s *series) insert(start int64) *window {
	i := len(s.open)
	for i > 0 && s.open[i-1].start > start {
		i--
	}
	s.open = append(s.open, window{})
	copy(s.open[i+1:], s.open[i:])
	s.open[i] = window{start: start, provAt: noTime}
	return &s.open[i]
}

// remove drops the open window starting at start; it reports whether it was there.
func (s *series) remove(start int64) bool {
	for i := range s.open {
		if s.open[i].start == start {
			copy(s.open[i:], s.open[i+1:])
			s.open[len(s.open)-1] = window{}
			s.open = s.open[:len(s.open)-1]
			return true
		}
	}
	return false
}

// history is a ring of the closes and volumes of the latest final bars.
type history struct {
	n      int64 // final bars ever pushed
	held   int   // bars in the ring, at most its capacity
	closes []float64
	vols   []float64
	head   int // index of the next write
}

func (h *history) push(c, v float64) {
	h.n++
	if len(h.closes) == 0 {
		return
	}
	h.closes[h.head], h.vols[h.head] = c, v
	h.head++
	if h.head == len(h.closes) {
		h.head = 0
	}
	if h.held < len(h.closes) {
		h.held++
	}
}

// len is the number of bars held.
func (h *history) len() int { return h.held }

// back returns the close and volume k bars back; 0 is the latest.
func (h *history) back(k int) (c, v float64) {
	i := h.head - 1 - k
	if i < 0 {
		i += len(h.closes)
	}
	return h.closes[i], h.vols[i]
}

// resize sets the ring capacity, keeping the latest bars.
func (h *history) resize(capacity int) {
	keep := min(h.held, capacity)
	c, v := make([]float64, capacity), make([]float64, capacity)
	for k := 0; k < keep; k++ {
		c[keep-1-k], v[keep-1-k] = h.back(k)
	}
	h.closes, h.vols, h.held, h.head = c, v, keep, keep%max(capacity, 1)
}

// ema is an exponential moving average seeded with the SMA of its first period.
type ema struct {
	v  float64
	ok bool
}
