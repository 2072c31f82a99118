package stocklake

import "time"

// Bar is an OHLCV candle for one symbol over one event-time window
// [Start, Start+Window).
type Bar struct {
	Symbol    string
	Window    time.Duration
	Start     time.Time // window start, UTC
	Open      float64
	High      float64
	Low       float64
	Close     float64
	Volume    float64
	VWAP      float64 // sum(price*size)/sum(size); the last price when volume is 0
	Trades    int64
	FirstTime time.Time // event time of the first tick in the window
	LastTime  time.Time // event time of the last tick in the window
	Final     bool      // false for provisional updates while the window is open
}

// End returns the exclusive end of the bar's window.
func (b *Bar) End() time.Time { return b.Start.Add(b.Window) }
