package stream

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

func TestBarHandComputed(t *testing.T) {
	e := newEngine(t, Config{Windows: []time.Duration{time.Minute}})
	var out Output
	process(t, e, 0, tick("AAPL", at(5*time.Second), 100, 10, "1"), &out)
	process(t, e, 0, tick("AAPL", at(10*time.Second), 102, 5, "2"), &out)
	process(t, e, 0, tick("AAPL", at(20*time.Second), 99, 20, "3"), &out)
	process(t, e, 0, tick("AAPL", at(50*time.Second), 101, 15, "4"), &out)
	if len(out.Bars) != 0 {
		t.Fatalf("bars before the window closed: %v", out.Bars)
	}
	process(t, e, 0, tick("AAPL", at(60*time.Second), 50, 1, "5"), &out)
	want := stocklake.Bar{
		Symbol: "AAPL", Window: time.Minute, Start: base,
		Open: 100, High: 102, Low: 99, Close: 101, Volume: 50,
		VWAP:   (100*10 + 102*5 + 99*20 + 101*15) / 50.0, // 100.1
		Trades: 4, FirstTime: at(5 * time.Second), LastTime: at(50 * time.Second), Final: true,
	}
	if len(out.Bars) != 1 || out.Bars[0].Bar != want {
		t.Fatalf("bars = %+v\nwant %+v", out.Bars, want)
	}
	if out.Bars[0].VWAP != 100.1 {
		t.Errorf("VWAP = %v, want 100.1", out.Bars[0].VWAP)
	}
	if out.Bars[0].Indicators.Bars != 1 {
		t.Errorf("Indicators.Bars = %d, want 1", out.Bars[0].Indicators.Bars)
	}
}

func TestBarTieBreaksAndOrder(t *testing.T) {
	e := newEngine(t, Config{Windows: []time.Duration{time.Minute}, Delay: 30 * time.Second})
	var out Output
	ts := at(10 * time.Second)
	// Arrival order differs from event order; ties at ts broken by trade ID
	// as strings: "10" < "9" < "a".
	process(t, e, 0, tick("X", at(40*time.Second), 7, 1, "z"), &out) // latest: close
	process(t, e, 0, tick("X", ts, 2, 1, "9"), &out)
	process(t, e, 0, tick("X", ts, 1, 1, "10"), &out) // smallest (ts, id): open
	process(t, e, 0, tick("X", ts, 3, 1, "a"), &out)
	process(t, e, 0, tick("X", at(40*time.Second), 6, 1, "y"), &out) // same ts as close, smaller id
	e.AdvanceTo(at(time.Minute), &out)
	b := finals(&out)
	if len(b) != 1 {
		t.Fatalf("final bars = %+v", out.Bars)
	}
	if b[0].Open != 1 || b[0].Close != 7 || b[0].High != 7 || b[0].Low != 1 || b[0].Trades != 5 {
		t.Errorf("bar = %+v, want open 1 close 7 high 7 low 1 trades 5", b[0].Bar)
	}
	if !b[0].FirstTime.Equal(ts) || !b[0].LastTime.Equal(at(40*time.Second)) {
		t.Errorf("first/last = %v/%v", b[0].FirstTime, b[0].LastTime)
	}
}

func TestBarExactDuplicates(t *testing.T) {
	e := newEngine(t, Config{})
	var out Output
	ts := at(time.Second)
	process(t, e, 0, tick("X", ts, 10, 1, "1"), &out)
	process(t, e, 0, tick("X", ts, 11, 1, "1"), &out)
	process(t, e, 0, tick("X", ts, 12, 1, "1"), &out)
	e.AdvanceTo(at(time.Minute), &out)
	b := finals(&out)
	if len(b) != 1 || b[0].Open != 10 || b[0].Close != 12 || b[0].Trades != 3 || b[0].Volume != 3 {
		t.Fatalf("bar = %+v, want open from the first duplicate (10), close from the last (12), 3 trades", out.Bars)
	}
}

func TestBarZeroVolume(t *testing.T) {
	e := newEngine(t, Config{})
	var out Output
	process(t, e, 0, tick("X", at(time.Second), 10, 0, "1"), &out)
	process(t, e, 0, tick("X", at(2*time.Second), 12, 0, "2"), &out)
	e.AdvanceTo(at(time.Minute), &out)
	b := finals(&out)
	if len(b) != 1 || b[0].Volume != 0 || b[0].VWAP != 12 || b[0].Trades != 2 {
		t.Fatalf("bar = %+v, want volume 0 and VWAP = close 12", out.Bars)
	}
}

func TestBadTicksRejected(t *testing.T) {
	e := newEngine(t, Config{})
	var out Output
	good := func() *stocklake.Tick { return tick("X", at(time.Second), 10, 1, "1") }
	cases := map[string]func(*stocklake.Tick){
		"NaN price":      func(t *stocklake.Tick) { t.Price = math.NaN() },
		"Inf price":      func(t *stocklake.Tick) { t.Price = math.Inf(1) },
		"zero price":     func(t *stocklake.Tick) { t.Price = 0 },
		"NaN size":       func(t *stocklake.Tick) { t.Size = math.NaN() },
		"negative size":  func(t *stocklake.Tick) { t.Size = -1 },
		"Inf size":       func(t *stocklake.Tick) { t.Size = math.Inf(1) },
		"no symbol":      func(t *stocklake.Tick) { t.Symbol = "" },
		"no time":        func(t *stocklake.Tick) { t.Time = time.Time{} },
		"before 1970":    func(t *stocklake.Tick) { t.Time = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC) },
		"year 20000":     func(t *stocklake.Tick) { t.Time = time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"no trade id":    func(t *stocklake.Tick) { t.TradeID = "" },
		"bad partition":  nil,
		"huge partition": nil,
	}
	n := 0
	for name, mut := range cases {
		tk := good()
		part := int32(0)
		switch name {
		case "bad partition":
			part = -1
		case "huge partition":
			part = MaxPartitions
		default:
			mut(tk)
		}
		err := e.Process(part, tk, &out)
		if !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
		n++
	}
	if st := e.Stats(); st.Rejected != int64(n) || st.Ticks != 0 || st.Symbols != 0 {
		t.Errorf("stats = %+v, want %d rejected and no state", st, n)
	}
	// A zero size is valid.
	process(t, e, 0, tick("X", at(time.Second), 10, 0, "1"), &out)
	e.AdvanceTo(at(time.Hour), &out)
	if b := finals(&out); len(b) != 1 || b[0].Trades != 1 {
		t.Fatalf("bars after bad ticks = %+v, want only the good one", out.Bars)
	}
}

// refBar computes what SQL computes over ticks of one symbol and window:
// open/close by (ts, trade_id), exact sums rounded once.
type refKey struct {
	sym   string
	size  time.Duration
	start int64
}

func reference(ticks []*stocklake.Tick, sizes []time.Duration) map[refKey]stocklake.Bar {
	groups := map[refKey][]*stocklake.Tick{}
	for _, tk := range ticks {
		for _, w := range sizes {
			us := tk.Time.UnixMicro()
			k := refKey{tk.Symbol, w, us - us%w.Microseconds()}
			groups[k] = append(groups[k], tk)
		}
	}
	bars := map[refKey]stocklake.Bar{}
	for k, g := range groups {
		g = slices.Clone(g)
		slices.SortStableFunc(g, func(a, b *stocklake.Tick) int {
			if c := a.Time.Compare(b.Time); c != 0 {
				return c
			}
			switch {
			case a.TradeID < b.TradeID:
				return -1
			case a.TradeID > b.TradeID:
				return 1
			}
			return 0
		})
		vol, pv := new(big.Float).SetPrec(2000), new(big.Float).SetPrec(2000)
		b := stocklake.Bar{Symbol: k.sym, Window: k.size, Start: time.UnixMicro(k.start).UTC(),
			Open: g[0].Price, Close: g[len(g)-1].Price, High: g[0].Price, Low: g[0].Price,
			Trades: int64(len(g)), FirstTime: g[0].Time, LastTime: g[len(g)-1].Time, Final: true}
		for _, tk := range g {
			b.High, b.Low = max(b.High, tk.Price), min(b.Low, tk.Price)
			vol.Add(vol, big.NewFloat(tk.Size))
			pv.Add(pv, big.NewFloat(tk.Price*tk.Size))
		}
		b.Volume, _ = vol.Float64()
		p, _ := pv.Float64()
		b.VWAP = b.Close
		if b.Volume > 0 {
			b.VWAP = p / b.Volume
		}
		bars[k] = b
	}
	return bars
}

// randomTicks returns ticks in event-time order for nsym symbols over d, with
// prices of two decimals and sizes of whole shares (sometimes fractional).
func randomTicks(rng *rand.Rand, nsym, n int, d time.Duration) []*stocklake.Tick {
	ticks := make([]*stocklake.Tick, n)
	price := make([]float64, nsym)
	for i := range price {
		price[i] = 50 + float64(rng.IntN(200))
	}
	step := d / time.Duration(n)
	for i := range ticks {
		s := rng.IntN(nsym)
		price[s] = math.Max(1, price[s]+float64(rng.IntN(21)-10)/100)
		size := float64(1 + rng.IntN(500))
		if rng.IntN(10) == 0 {
			size = rng.Float64() * 3
		}
		ts := base.Add(time.Duration(i)*step + time.Duration(rng.Int64N(int64(step)))).Truncate(time.Microsecond)
		if rng.IntN(20) == 0 && i > 0 {
			ts = ticks[i-1].Time // equal timestamps
		}
		ticks[i] = tick("S"+strconv.Itoa(s), ts, math.Round(price[s]*100)/100, size, strconv.Itoa(i))
	}
	return ticks
}

// shuffleWithin returns ticks in an arrival order whose event times are out
// of order by less than d: each tick is sorted by ts + U[0, d).
func shuffleWithin(rng *rand.Rand, ticks []*stocklake.Tick, d time.Duration) []*stocklake.Tick {
	type keyed struct {
		k  int64
		tk *stocklake.Tick
	}
	ks := make([]keyed, len(ticks))
	for i, tk := range ticks {
		ks[i] = keyed{tk.Time.UnixMicro() + rng.Int64N(d.Microseconds()), tk}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return int(a.k - b.k) })
	out := make([]*stocklake.Tick, len(ks))
	for i := range ks {
		out[i] = ks[i].tk
	}
	return out
}

func runBars(t *testing.T, cfg Config, ticks []*stocklake.Tick) map[refKey]stocklake.Bar {
	t.Helper()
	e := newEngine(t, cfg)
	var out Output
	for _, tk := range ticks {
		process(t, e, 0, tk, &out)
	}
	e.AdvanceTo(at(24*time.Hour), &out)
	if len(out.Late) != 0 {
		t.Fatalf("%d late ticks, want none; first %+v", len(out.Late), out.Late[0])
	}
	bars := map[refKey]stocklake.Bar{}
	for _, b := range finals(&out) {
		k := refKey{b.Symbol, b.Window, b.Start.UnixMicro()}
		if _, dup := bars[k]; dup {
			t.Fatalf("two final bars for %v", k)
		}
		bars[k] = b.Bar
	}
	return bars
}

func TestOutOfOrderWithinDelayEqualsSQL(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []time.Duration{time.Second, time.Minute, 5 * time.Minute}
	ticks := randomTicks(rng, 7, 20000, 20*time.Minute)
	want := reference(ticks, sizes)
	for _, delay := range []time.Duration{time.Second, 3 * time.Second} {
		shuffled := shuffleWithin(rng, ticks, delay)
		inversions := 0
		for i := 1; i < len(shuffled); i++ {
			if shuffled[i].Time.Before(shuffled[i-1].Time) {
				inversions++
			}
		}
		if inversions < 100 {
			t.Fatalf("only %d out-of-order ticks; the test needs more", inversions)
		}
		for _, cfg := range []Config{
			{Windows: sizes, Delay: delay},
			{Windows: sizes, Delay: delay / 2, Lateness: delay - delay/2, Provisional: time.Second},
		} {
			got := runBars(t, cfg, shuffled)
			inOrder := runBars(t, cfg, ticks)
			if len(got) != len(want) {
				t.Fatalf("delay %v: %d bars, want %d", delay, len(got), len(want))
			}
			for k, w := range want {
				if g := got[k]; g != w {
					t.Fatalf("delay %v: bar %v\n got %+v\nwant %+v", delay, k, g, w)
				}
				if g := inOrder[k]; g != w {
					t.Fatalf("in order: bar %v\n got %+v\nwant %+v", k, g, w)
				}
			}
		}
	}
}

func TestWindowAlignment(t *testing.T) {
	e := newEngine(t, Config{Windows: []time.Duration{5 * time.Minute, time.Hour, 24 * time.Hour}})
	var out Output
	ts := time.Date(2026, 11, 26, 14, 37, 12, 345678000, time.UTC)
	process(t, e, 0, tick("X", ts, 1, 1, "1"), &out)
	e.AdvanceTo(ts.Add(48*time.Hour), &out)
	want := map[time.Duration]time.Time{
		5 * time.Minute: time.Date(2026, 11, 26, 14, 35, 0, 0, time.UTC),
		time.Hour:       time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC),
		24 * time.Hour:  time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC),
	}
	if len(out.Bars) != 3 {
		t.Fatalf("bars = %+v", out.Bars)
	}
	for _, b := range out.Bars {
		if !b.Start.Equal(want[b.Window]) || b.Start.Location() != time.UTC {
			t.Errorf("%v bar starts %v, want %v UTC", b.Window, b.Start, want[b.Window])
		}
		if !b.End().Equal(want[b.Window].Add(b.Window)) {
			t.Errorf("%v bar ends %v", b.Window, b.End())
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Windows: []time.Duration{-time.Second}},
		{Windows: []time.Duration{time.Nanosecond}},
		{Windows: []time.Duration{time.Minute, time.Minute}},
		{Windows: make([]time.Duration, MaxWindows+1)},
		{Delay: -1},
		{Lateness: 2 * MaxDuration},
		{ZPeriod: 1},
		{SMAPeriod: -3},
		{Rules: []Rule{{Name: "r", Kind: stocklake.AlertMove, Window: 5 * time.Minute, Percent: 2}}},
		{Rules: []Rule{{Name: "r", Kind: "bogus"}}},
		{Rules: []Rule{{Name: "r", Kind: stocklake.AlertCross, Level: 1}, {Name: "r", Kind: stocklake.AlertCross, Level: 2}}},
	} {
		if _, err := New(cfg); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("New(%+v) err = %v, want ErrConfig", cfg, err)
		}
	}
	e := newEngine(t, Config{Windows: []time.Duration{time.Hour, time.Second, time.Minute}})
	if got := fmt.Sprint(e.Config().Windows); got != "[1s 1m0s 1h0m0s]" {
		t.Errorf("windows = %s, want sorted", got)
	}
}
