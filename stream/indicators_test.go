package stream

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

// oneBarPerMinute feeds one tick per minute (close c[i], volume v[i]) and
// returns the final bars.
func oneBarPerMinute(t *testing.T, e *Engine, closes, vols []float64) []Bar {
	t.Helper()
	var out Output
	for i := range closes {
		process(t, e, 0, tick("X", at(time.Duration(i)*time.Minute+time.Second), closes[i], vols[i], strconv.Itoa(i)), &out)
	}
	e.AdvanceTo(at(time.Duration(len(closes))*time.Minute), &out)
	return finals(&out)
}

func TestIndicatorsHandComputed(t *testing.T) {
	e := newEngine(t, Config{SMAPeriod: 3, EMAFast: 2, EMASlow: 3, VolatilityPeriod: 2, ZPeriod: 3})
	bars := oneBarPerMinute(t, e, []float64{10, 11, 12, 13, 12}, []float64{100, 200, 300, 400, 1000})
	if len(bars) != 5 {
		t.Fatalf("%d bars", len(bars))
	}
	nan := math.NaN()
	sd2 := func(a, b float64) float64 { return math.Abs(a-b) / math.Sqrt2 } // sample stddev of two values
	r := func(a, b float64) float64 { return math.Log(a / b) }
	want := []stocklake.Indicators{
		{Bars: 1, SMA: nan, EMAFast: nan, EMASlow: nan, Volatility: nan, ZClose: nan, ZVolume: nan},
		{Bars: 2, SMA: nan, EMAFast: 10.5, EMASlow: nan, Volatility: nan, ZClose: nan, ZVolume: nan},
		// EMA(2): alpha 2/3; EMA(3) seeds with mean(10,11,12).
		{Bars: 3, SMA: 11, EMAFast: 10.5 + 2.0/3*(12-10.5), EMASlow: 11, Volatility: sd2(r(11, 10), r(12, 11)), ZClose: nan, ZVolume: nan},
		// z against the 3 bars before: closes 10,11,12 (mean 11, sd 1); volumes 100..300 (mean 200, sd 100).
		{Bars: 4, SMA: 12, EMAFast: 11.5 + 2.0/3*(13-11.5), EMASlow: 11 + 0.5*(13-11), Volatility: sd2(r(12, 11), r(13, 12)), ZClose: 2, ZVolume: 2},
		{Bars: 5, SMA: 37.0 / 3, EMAFast: 12.5 + 2.0/3*(12-12.5), EMASlow: 12 + 0.5*(12-12), Volatility: sd2(r(13, 12), r(12, 13)), ZClose: 0, ZVolume: 7},
	}
	for i, w := range want {
		g := bars[i].Indicators
		if g.Bars != w.Bars || !near(g.SMA, w.SMA) || !near(g.EMAFast, w.EMAFast) || !near(g.EMASlow, w.EMASlow) ||
			!near(g.Volatility, w.Volatility) || !near(g.ZClose, w.ZClose) || !near(g.ZVolume, w.ZVolume) {
			t.Errorf("bar %d indicators\n got %+v\nwant %+v", i+1, g, w)
		}
	}
}

func TestIndicatorsConstantSeriesZIsNaN(t *testing.T) {
	e := newEngine(t, Config{ZPeriod: 2, VolatilityPeriod: 2})
	bars := oneBarPerMinute(t, e, []float64{5, 5, 5, 6}, []float64{1, 1, 1, 1})
	last := bars[3].Indicators
	if !math.IsNaN(last.ZClose) || !math.IsNaN(last.ZVolume) {
		t.Errorf("z against zero spread = %v, %v, want NaN", last.ZClose, last.ZVolume)
	}
	if bars[2].Indicators.Volatility != 0 {
		t.Errorf("volatility of a constant series = %v, want 0", bars[2].Indicators.Volatility)
	}
}

func TestIndicatorsPerWindowSize(t *testing.T) {
	e := newEngine(t, Config{Windows: []time.Duration{time.Minute, 2 * time.Minute}, SMAPeriod: 2})
	bars := oneBarPerMinute(t, e, []float64{10, 20, 30, 40}, []float64{1, 1, 1, 1})
	var oneMin, twoMin []float64
	for _, b := range bars {
		if b.Window == time.Minute {
			oneMin = append(oneMin, b.Indicators.SMA)
		} else {
			twoMin = append(twoMin, b.Indicators.SMA)
		}
	}
	if len(oneMin) != 4 || oneMin[3] != 35 || len(twoMin) != 2 || twoMin[1] != 30 {
		t.Fatalf("SMA(2) per size: 1m %v, 2m %v; want 1m ending 35 and 2m [NaN 30] (closes 20, 40)", oneMin, twoMin)
	}
}

func TestIndicatorsJSON(t *testing.T) {
	in := stocklake.Indicators{Bars: 3, SMA: 1.5, EMAFast: math.NaN(), EMASlow: 2, Volatility: math.NaN(), ZClose: -1, ZVolume: math.NaN()}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"bars":3,"sma":1.5,"ema_fast":null,"ema_slow":2,"volatility":null,"z_close":-1,"z_volume":null}`; string(b) != want {
		t.Errorf("json = %s\nwant %s", b, want)
	}
	var back stocklake.Indicators
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Bars != 3 || back.SMA != 1.5 || !math.IsNaN(back.EMAFast) || back.ZClose != -1 || !math.IsNaN(back.ZVolume) {
		t.Errorf("round trip = %+v", back)
	}
}
