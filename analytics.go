package stocklake

import (
	"encoding/json"
	"math"
	"time"
)

// Alert kinds: what an alert rule watches.
const (
	// AlertCross fires when the price crosses a level.
	AlertCross = "cross"
	// AlertMove fires when a bar moves by at least a percentage from open to close.
	AlertMove = "move"
	// AlertVolumeSpike fires when a bar's volume is a multiple of its rolling mean.
	AlertVolumeSpike = "volume_spike"
	// AlertZScore fires when a bar's close or volume is far from its rolling mean,
	// in standard deviations.
	AlertZScore = "zscore"
)

// Alert is one firing of an alert rule for one symbol.
type Alert struct {
	Rule      string        // name of the rule that fired
	Symbol    string        // instrument
	Kind      string        // AlertCross, AlertMove, AlertVolumeSpike or AlertZScore
	Message   string        // human-readable, e.g. "AAPL crossed above 200 at 200.5"
	Value     float64       // observed value: price, percent move, volume ratio or z-score
	Threshold float64       // the rule's level, percent, factor or z threshold
	Time      time.Time     // event time: the tick's for tick rules, the bar's window end for bar rules
	Window    time.Duration // bar window the rule watches; 0 for rules evaluated on every tick
}

// Indicators are technical indicators of one symbol over its successive final
// bars of one window size, as of one bar (that bar included). Windows without
// ticks produce no bar and are skipped, not filled. The periods are
// configured by the analyzer (stream.Config). A value is NaN while there are
// too few bars and when it is undefined (a z-score against zero spread);
// MarshalJSON writes NaN as null.
type Indicators struct {
	Bars       int64   // final bars of this symbol and window so far, this one included; 0 when absent (provisional bars)
	SMA        float64 // mean close of the last SMA-period bars
	EMAFast    float64 // exponential moving average of close, fast period (seeded with the SMA of the first period)
	EMASlow    float64 // exponential moving average of close, slow period
	Volatility float64 // sample standard deviation of the log returns of close over the last N bars, not annualized
	ZClose     float64 // (close - mean) / sample stddev of the N closes before this bar
	ZVolume    float64 // (volume - mean) / sample stddev of the N volumes before this bar
}

// indicatorsWire is the JSON form of Indicators, also the indicator
// fields of a bar's wire format (barWire); nil pointers are NaN.
type indicatorsWire struct {
	Bars       int64    `json:"bars"`
	SMA        *float64 `json:"sma"`
	EMAFast    *float64 `json:"ema_fast"`
	EMASlow    *float64 `json:"ema_slow"`
	Volatility *float64 `json:"volatility"`
	ZClose     *float64 `json:"z_close"`
	ZVolume    *float64 `json:"z_volume"`
}

func finiteOrNil(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

func valueOrNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// MarshalJSON writes snake_case fields, with null for NaN (not yet defined).
func (in Indicators) MarshalJSON() ([]byte, error) {
	return json.Marshal(indicatorsWire{
		Bars:       in.Bars,
		SMA:        finiteOrNil(in.SMA),
		EMAFast:    finiteOrNil(in.EMAFast),
		EMASlow:    finiteOrNil(in.EMASlow),
		Volatility: finiteOrNil(in.Volatility),
		ZClose:     finiteOrNil(in.ZClose),
		ZVolume:    finiteOrNil(in.ZVolume),
	})
}

// UnmarshalJSON reads what MarshalJSON writes; null or missing values become NaN.
func (in *Indicators) UnmarshalJSON(b []byte) error {
	var w indicatorsWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*in = w.indicators()
	return nil
}

// indicators are the Indicators w holds; null or missing values are NaN.
func (w indicatorsWire) indicators() Indicators {
	return Indicators{
		Bars:       w.Bars,
		SMA:        valueOrNaN(w.SMA),
		EMAFast:    valueOrNaN(w.EMAFast),
		EMASlow:    valueOrNaN(w.EMASlow),
		Volatility: valueOrNaN(w.Volatility),
		ZClose:     valueOrNaN(w.ZClose),
		ZVolume:    valueOrNaN(w.ZVolume),
	}
}
