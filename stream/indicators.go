package stream

import (
	"math"

	"github.com/stocklake/stocklake"
)

// indicators computes the indicators of the bar just pushed to sr.hist.
//
//   - SMA: mean of the last SMAPeriod closes.
//   - EMA(n): alpha = 2/(n+1); at the n-th bar it is the SMA of the first n
//     closes, then ema += alpha*(close-ema).
//   - Volatility: sample standard deviation (n-1) of ln(close[k]/close[k-1])
//     over the last VolatilityPeriod returns (VolatilityPeriod+1 bars).
//   - ZClose, ZVolume: (x - mean) / sample stddev over the ZPeriod bars
//     before this one; NaN when that stddev is 0.
func (e *Engine) indicators(sr *series) stocklake.Indicators {
	h := &sr.hist
	nan := math.NaN()
	in := stocklake.Indicators{Bars: h.n, SMA: nan, EMAFast: nan, EMASlow: nan, Volatility: nan, ZClose: nan, ZVolume: nan}
	c, v := h.back(0)
	have := h.len()
	if have >= e.cfg.SMAPeriod {
		in.SMA, _ = h.meanStd(0, e.cfg.SMAPeriod, false)
	}
	in.EMAFast = sr.emaF.update(h, e.cfg.EMAFast, c)
	in.EMASlow = sr.emaS.update(h, e.cfg.EMASlow, c)
	if n := e.cfg.VolatilityPeriod; have >= n+1 {
		var sum float64
		for k := range n {
			c0, _ := h.back(k)
			c1, _ := h.back(k + 1)
			sum += math.Log(c0 / c1)
		}
		mean := sum / float64(n)
		var ss float64
		for k := range n {
			c0, _ := h.back(k)
			c1, _ := h.back(k + 1)
			d := math.Log(c0/c1) - mean
			ss += d * d
		}
		in.Volatility = math.Sqrt(ss / float64(n-1))
	}
	if n := e.cfg.ZPeriod; have >= n+1 {
		in.ZClose = h.z(c, n, false)
		in.ZVolume = h.z(v, n, true)
	}
	return in
}

// meanStd returns the mean and sample standard deviation of count closes
// (or volumes) starting from skip bars back.
func (h *history) meanStd(skip, count int, volume bool) (mean, sd float64) {
	val := func(k int) float64 {
		c, v := h.back(k)
		if volume {
			return v
		}
		return c
	}
	var sum float64
	for k := skip; k < skip+count; k++ {
		sum += val(k)
	}
	mean = sum / float64(count)
	if count < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for k := skip; k < skip+count; k++ {
		d := val(k) - mean
		ss += d * d
	}
	return mean, math.Sqrt(ss / float64(count-1))
}

// z returns the z-score of x against the n bars before the latest.
func (h *history) z(x float64, n int, volume bool) float64 {
	mean, sd := h.meanStd(1, n, volume)
	if !(sd > 0) {
		return math.NaN()
	}
	return (x - mean) / sd
}

// update advances the EMA with close c (already pushed to h) and returns it,
// or NaN while h holds fewer than period bars.
func (m *ema) update(h *history, period int, c float64) float64 {
	if m.ok {
		m.v += 2 / (float64(period) + 1) * (c - m.v)
		return m.v
	}
	if h.len() < period {
		return math.NaN()
	}
	m.v, _ = h.meanStd(0, period, false)
	m.ok = true
	return m.v
}
