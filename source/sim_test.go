package source

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

// collect runs src and returns the records it emitted.
func collect(t testing.TB, src stocklake.Source) []stocklake.Record {
	t.Helper()
	var recs []stocklake.Record
	err := src.Run(context.Background(), func(r stocklake.Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return recs
}

func newSim(t testing.TB, cfg SimulatorConfig) *Simulator {
	t.Helper()
	s, err := NewSimulator(cfg)
	if err != nil {
		t.Fatalf("NewSimulator(%+v): %v", cfg, err)
	}
	return s
}

func concat(recs []stocklake.Record) []byte {
	var b bytes.Buffer
	for _, r := range recs {
		b.Write(r.Key)
		b.WriteByte(' ')
		b.Write(r.Value)
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(r.Timestamp.UnixMicro(), 10))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func TestSimulatorDeterministic(t *testing.T) {
	cfg := SimulatorConfig{Seed: 42, Count: 20000}
	a := concat(collect(t, newSim(t, cfg)))
	b := concat(collect(t, newSim(t, cfg)))
	if !bytes.Equal(a, b) {
		t.Fatal("same seed and config gave different records")
	}
	// The same Simulator run twice starts afresh.
	s := newSim(t, cfg)
	collect(t, s)
	if c := concat(collect(t, s)); !bytes.Equal(a, c) {
		t.Fatal("second Run of one Simulator differs from the first")
	}
	cfg.Seed = 43
	if d := concat(collect(t, newSim(t, cfg))); bytes.Equal(a, d) {
		t.Fatal("different seeds gave identical records")
	}
	// Pacing must not change the records.
	cfg.Seed, cfg.Count, cfg.TickInterval = 42, 2000, time.Millisecond
	unpaced := concat(collect(t, newSim(t, cfg)))
	cfg.Rate = 200000
	if paced := concat(collect(t, newSim(t, cfg))); !bytes.Equal(unpaced, paced) {
		t.Fatal("pacing changed the records")
	}
}

func TestSimulatorTicksValid(t *testing.T) {
	// A long tick interval makes the run cross several sessions, so the
	// closing auction, the overnight roll and weekend skipping are covered.
	s := newSim(t, SimulatorConfig{Seed: 7, Count: 200000, TickInterval: 500 * time.Millisecond})
	recs := collect(t, s)
	if len(recs) != 200000 {
		t.Fatalf("got %d records, want 200000", len(recs))
	}
	ids := map[string]map[string]bool{}
	symbols := map[string]bool{}
	for _, sym := range s.Symbols() {
		symbols[sym] = true
	}
	var last int64
	sessions := map[string]bool{}
	var closes, opens, odd, blocks, offExchange int
	sizes := map[float64]int{}
	for i, r := range recs {
		tk, err := stocklake.ParseTick(r.Value)
		if err != nil {
			t.Fatalf("record %d %s: %v", i, r.Value, err)
		}
		if err := tk.Validate(); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if string(r.Key) != tk.Symbol || !symbols[tk.Symbol] {
			t.Fatalf("record %d: key %q, symbol %q", i, r.Key, tk.Symbol)
		}
		if len(r.Headers) != 1 || r.Headers[0].Key != "content-type" || string(r.Headers[0].Value) != stocklake.TickContentType {
			t.Fatalf("record %d: headers %+v", i, r.Headers)
		}
		if !r.Timestamp.Equal(tk.Time) {
			t.Fatalf("record %d: timestamp %v, tick time %v", i, r.Timestamp, tk.Time)
		}
		if tk.Price <= 0 || math.IsNaN(tk.Price) || tk.Size <= 0 || tk.Size != math.Trunc(tk.Size) {
			t.Fatalf("record %d: price %v size %v", i, tk.Price, tk.Size)
		}
		if tk.Source != "sim" || tk.Exchange == "" || len(tk.Conditions) == 0 {
			t.Fatalf("record %d: %s", i, r.Value)
		}
		us := tk.Time.UnixMicro()
		if us < last {
			t.Fatalf("record %d: event time %v before previous %v", i, tk.Time, time.UnixMicro(last).UTC())
		}
		last = us
		ny := tk.Time.In(newYork)
		if wd := ny.Weekday(); wd == time.Saturday || wd == time.Sunday {
			t.Fatalf("record %d: trade on a %v", i, wd)
		}
		if hm := ny.Hour()*100 + ny.Minute(); hm < 930 || hm > 1600 || (hm == 1600 && (ny.Second() != 0 || ny.Nanosecond() != 0)) {
			t.Fatalf("record %d: trade at %v outside 09:30-16:00 New York", i, ny)
		}
		sessions[ny.Format("2006-01-02")] = true
		if ids[tk.Symbol] == nil {
			ids[tk.Symbol] = map[string]bool{}
		}
		if ids[tk.Symbol][tk.TradeID] {
			t.Fatalf("record %d: trade_id %s repeated for %s", i, tk.TradeID, tk.Symbol)
		}
		ids[tk.Symbol][tk.TradeID] = true
		switch tk.Conditions[len(tk.Conditions)-1] {
		case "6":
			closes++
		case "O":
			opens++
		case "I":
			odd++
		}
		if tk.Size >= 10000 {
			blocks++
		}
		if tk.Exchange == "FINN" || tk.Exchange == "FINY" {
			offExchange++
		}
		sizes[tk.Size]++
	}
	// 200000 ticks x 0.5s = ~27.8 hours of session time: 4 to 5 sessions.
	if len(sessions) < 4 {
		t.Errorf("crossed %d sessions (%v), want at least 4", len(sessions), sessions)
	}
	if len(ids) != 50 {
		t.Errorf("%d symbols traded, want 50", len(ids))
	}
	if closes < 150 || closes%50 != 0 {
		t.Errorf("%d closing prints, want a multiple of 50 symbols, >= 150", closes)
	}
	if opens < 150 {
		t.Errorf("%d opening prints, want >= 150", opens)
	}
	n := float64(len(recs))
	if f := float64(sizes[100]) / n; f < 0.25 || f > 0.6 {
		t.Errorf("share of 100-share trades %.2f, want 0.25-0.6", f)
	}
	if f := float64(odd) / n; f < 0.1 || f > 0.5 {
		t.Errorf("share of odd lots %.2f, want 0.1-0.5", f)
	}
	if f := float64(blocks) / n; f <= 0 || f > 0.02 {
		t.Errorf("share of blocks %.4f, want (0, 0.02]", f)
	}
	if f := float64(offExchange) / n; f < 0.2 || f > 0.5 {
		t.Errorf("share of off-exchange trades %.2f, want 0.2-0.5", f)
	}
}

func TestSimulatorPricesMove(t *testing.T) {
	// Over one session prices move but stay plausible.
	recs := collect(t, newSim(t, SimulatorConfig{Seed: 1, Count: 23400, TickInterval: time.Second}))
	first, lastPrice := map[string]float64{}, map[string]float64{}
	for _, r := range recs {
		tk, err := stocklake.ParseTick(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := first[tk.Symbol]; !ok {
			first[tk.Symbol] = tk.Price
		}
		lastPrice[tk.Symbol] = tk.Price
	}
	moved := 0
	for sym, p0 := range first {
		r := lastPrice[sym] / p0
		if r < 0.7 || r > 1.3 {
			t.Errorf("%s moved from %v to %v in one session", sym, p0, lastPrice[sym])
		}
		if r != 1 {
			moved++
		}
	}
	if moved < 40 {
		t.Errorf("only %d of %d symbols' prices moved", moved, len(first))
	}
	if p := first["AAPL"]; p < 200 || p > 260 {
		t.Errorf("AAPL opened at %v, want near 230", p)
	}
}

func TestSimulatorDefaults(t *testing.T) {
	s := newSim(t, SimulatorConfig{})
	cfg := s.Config()
	if cfg.Symbols != 50 || cfg.Speed != 1 || !cfg.Start.Equal(DefaultStart) {
		t.Fatalf("defaults: %+v", cfg)
	}
	if s.Name() != "sim" || s.DefaultTopic() != "ticks" {
		t.Fatalf("name %q topic %q", s.Name(), s.DefaultTopic())
	}
	syms := s.Symbols()
	if len(syms) != 50 || syms[0] != "AAPL" {
		t.Fatalf("symbols %v", syms)
	}
	recs := collect(t, newSim(t, SimulatorConfig{Count: 1}))
	if got, want := recs[0].Timestamp, DefaultStart; got.Before(want) || got.Sub(want) > time.Second {
		t.Fatalf("first tick at %v, want just after %v", got, want)
	}
}

func TestSimulatorGeneratedSymbols(t *testing.T) {
	s := newSim(t, SimulatorConfig{Symbols: 1000, Seed: 3})
	syms := s.Symbols()
	seen := map[string]bool{}
	for _, sym := range syms {
		if seen[sym] {
			t.Fatalf("symbol %s repeated", sym)
		}
		seen[sym] = true
	}
	if len(syms) != 1000 || syms[49] != "XLF" || syms[50] != "ZAAA" || syms[999] != "ZBKN" {
		t.Fatalf("got %d symbols, [49..51]=%v, last %s", len(syms), syms[49:52], syms[999])
	}
	if generatedSymbol(17576) != "ZBAAA" {
		t.Fatalf("generatedSymbol(17576) = %s", generatedSymbol(17576))
	}
	recs := collect(t, newSim(t, SimulatorConfig{Symbols: 1000, Seed: 3, Count: 50000}))
	traded := map[string]bool{}
	for _, r := range recs {
		if _, err := stocklake.ParseTick(r.Value); err != nil {
			t.Fatal(err)
		}
		traded[string(r.Key)] = true
	}
	if len(traded) < 900 {
		t.Fatalf("only %d of 1000 symbols traded in 50000 ticks", len(traded))
	}
	few := newSim(t, SimulatorConfig{Symbols: 3})
	if got := few.Symbols(); len(got) != 3 || got[2] != "NVDA" {
		t.Fatalf("Symbols: 3 gave %v", got)
	}
}

func TestSimulatorStart(t *testing.T) {
	cases := []struct{ start, want string }{
		{"2026-11-24T15:00:00Z", "2026-11-24T15:00:00Z"}, // Tuesday 10:00 New York: inside the session
		{"2026-11-24T12:00:00Z", "2026-11-24T14:30:00Z"}, // 07:00 New York: that day's open
		{"2026-11-24T22:00:00Z", "2026-11-25T14:30:00Z"}, // after the close: next day
		{"2026-11-27T22:00:00Z", "2026-11-30T14:30:00Z"}, // Friday evening: Monday
		{"2026-11-28T15:00:00Z", "2026-11-30T14:30:00Z"}, // Saturday
		{"2026-07-01T13:30:00Z", "2026-07-01T13:30:00Z"}, // summer time: 09:30 EDT is 13:30 UTC
	}
	for _, c := range cases {
		start, _ := time.Parse(time.RFC3339, c.start)
		want, _ := time.Parse(time.RFC3339, c.want)
		recs := collect(t, newSim(t, SimulatorConfig{Start: start, Count: 1}))
		if got := recs[0].Timestamp; got.Before(want) || got.Sub(want) > time.Second {
			t.Errorf("Start %s: first tick at %v, want just after %v", c.start, got, want)
		}
	}
}

func TestSimulatorOutOfOrder(t *testing.T) {
	const maxLag = 500 * time.Millisecond
	recs := collect(t, newSim(t, SimulatorConfig{Seed: 9, Count: 100000, OutOfOrderFraction: 0.05, OutOfOrderMax: maxLag}))
	var high int64
	late := 0
	for i, r := range recs {
		us := r.Timestamp.UnixMicro()
		if us < high {
			late++
			if lag := time.Duration(high-us) * time.Microsecond; lag > maxLag+50*time.Millisecond {
				// The running maximum may itself be an in-order tick just
				// after the late one's true time, so allow a little slack.
				t.Fatalf("record %d is %v late, want <= %v", i, lag, maxLag)
			}
		} else {
			high = us
		}
	}
	// With a 1ms mean gap, most of the 5% jittered by up to 500ms land behind
	// an earlier tick.
	if f := float64(late) / float64(len(recs)); f < 0.02 || f > 0.06 {
		t.Fatalf("%.3f of ticks out of order, want about 0.05", f)
	}
}

func TestSimulatorCountDurationCancel(t *testing.T) {
	recs := collect(t, newSim(t, SimulatorConfig{Count: 1234}))
	if len(recs) != 1234 {
		t.Fatalf("Count 1234 gave %d records", len(recs))
	}

	s := newSim(t, SimulatorConfig{Duration: 50 * time.Millisecond, Rate: 1000})
	n := 0
	if err := s.Run(context.Background(), func(stocklake.Record) error { n++; return nil }); err != nil {
		t.Fatalf("Duration run: %v", err)
	}
	if n == 0 || n > 1000 {
		t.Fatalf("50ms at 1000/s emitted %d ticks", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err := newSim(t, SimulatorConfig{}).Run(ctx, func(stocklake.Record) error {
		if n++; n == 5000 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run returned %v, want context.Canceled", err)
	}
	if n < 5000 || n > 5000+256 {
		t.Fatalf("cancelled run emitted %d ticks, want about 5000", n)
	}

	// Cancelling while paced stops the sleep.
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err = newSim(t, SimulatorConfig{Rate: 1}).Run(ctx, func(stocklake.Record) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("paced run returned %v, want context.DeadlineExceeded", err)
	}

	boom := errors.New("boom")
	err = newSim(t, SimulatorConfig{}).Run(context.Background(), func(stocklake.Record) error { return boom })
	if err != boom {
		t.Fatalf("emit error: got %v, want it unchanged", err)
	}
}

func TestSimulatorPacing(t *testing.T) {
	// Loose bound only: a paced run must not be faster than its rate.
	const rate, count = 20000, 4000 // 200ms
	s := newSim(t, SimulatorConfig{Rate: rate, Count: count})
	start := time.Now()
	recs := collect(t, s)
	elapsed := time.Since(start)
	if len(recs) != count {
		t.Fatalf("got %d records", len(recs))
	}
	// The first batch goes out at once, so the floor is (count-batch)/rate.
	if min := time.Duration(float64(count-rate/1000) / rate * float64(time.Second)); elapsed < min {
		t.Fatalf("%d ticks at %d/s took %v, want at least %v", count, rate, elapsed, min)
	}
}

func TestSimulatorValuesNotReused(t *testing.T) {
	s := newSim(t, SimulatorConfig{Count: 5000})
	var kept []stocklake.Record
	var copies [][]byte
	err := s.Run(context.Background(), func(r stocklake.Record) error {
		kept = append(kept, r)
		copies = append(copies, bytes.Clone(r.Value))
		r.Value = append(r.Value, "garbage"...) // must not clobber the next value
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range kept {
		if !bytes.Equal(kept[i].Value, copies[i]) {
			t.Fatalf("value %d changed after emit: %s", i, kept[i].Value)
		}
	}
}

func TestSimulatorConfigErrors(t *testing.T) {
	for _, cfg := range []SimulatorConfig{
		{Symbols: -1},
		{Symbols: MaxSymbols + 1},
		{Rate: -1},
		{Rate: math.NaN()},
		{Rate: math.Inf(1)},
		{Count: -1},
		{Duration: -time.Second},
		{Speed: -2},
		{TickInterval: -1},
		{OutOfOrderFraction: 1.5},
		{OutOfOrderFraction: math.NaN()},
		{OutOfOrderMax: -1},
	} {
		if _, err := NewSimulator(cfg); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("NewSimulator(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}

func TestSpeedSetsEventTime(t *testing.T) {
	// At 1000 ticks/s and speed 60, 1000 ticks span about a minute of event time.
	s := newSim(t, SimulatorConfig{Speed: 60, Rate: 1000})
	if got := s.meanGap; got != 0.06 {
		t.Fatalf("mean gap %v s, want 0.06", got)
	}
	recs := collect(t, newSim(t, SimulatorConfig{Seed: 5, Count: 10000, TickInterval: 6 * time.Millisecond, Start: time.Date(2026, 11, 24, 17, 0, 0, 0, time.UTC)}))
	span := recs[len(recs)-1].Timestamp.Sub(recs[0].Timestamp)
	// Midday activity is half the session average, so gaps are longer.
	if span < 40*time.Second || span > 150*time.Second {
		t.Fatalf("10000 ticks at a 6ms mean gap spanned %v", span)
	}
}

func TestAlias(t *testing.T) {
	a := newAlias([]float64{1, 2, 7, 0})
	counts := make([]int, 4)
	g := newSim(t, SimulatorConfig{}).newState()
	for i := 0; i < 100000; i++ {
		counts[a.sample(g.rng)]++
	}
	if counts[3] != 0 {
		t.Fatalf("zero-weight index drawn %d times", counts[3])
	}
	for i, want := range []float64{0.1, 0.2, 0.7} {
		if f := float64(counts[i]) / 100000; math.Abs(f-want) > 0.01 {
			t.Errorf("index %d drawn %.3f of the time, want %.1f", i, f, want)
		}
	}
}

func BenchmarkSimulator(b *testing.B) {
	s := newSim(b, SimulatorConfig{Count: int64(b.N)})
	var bytesOut int64
	b.ReportAllocs()
	b.ResetTimer()
	err := s.Run(context.Background(), func(r stocklake.Record) error {
		bytesOut += int64(len(r.Value))
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ticks/s")
	b.SetBytes(bytesOut / int64(max(b.N, 1)))
}
