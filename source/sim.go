package source

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/stocklake/stocklake"
)

// DefaultStart is the event time a Simulator starts at unless told
// otherwise: the open of the regular session on Monday 2026-11-23, 09:30 in
// New York (14:30 UTC). A fixed day keeps runs reproducible.
var DefaultStart = time.Date(2026, 11, 23, 14, 30, 0, 0, time.UTC)

// Simulator defaults and limits.
const (
	// DefaultSymbols is the number of simulated instruments: the built-in list.
	DefaultSymbols = 50
	// MaxSymbols bounds SimulatorConfig.Symbols.
	MaxSymbols = 1_000_000
	// DefaultTickInterval is the mean event-time gap between ticks when the
	// simulator is not paced: about 23.4 million ticks per session.
	DefaultTickInterval = time.Millisecond
	// DefaultOutOfOrderMax bounds how far back an out-of-order tick moves
	// when OutOfOrderFraction is set but OutOfOrderMax is not.
	DefaultOutOfOrderMax = 2 * time.Second
)

// Session and market-model constants.
const (
	sessionOpenHour, sessionOpenMinute = 9, 30
	sessionSeconds                     = 6.5 * 3600 // 09:30 to 16:00
	tradingDaysPerYear                 = 252
	jumpsPerSession                    = 1.0   // mean price jumps per symbol per session
	jumpSigma                          = 0.015 // log-return standard deviation of a jump
	overnightShare                     = 0.25  // overnight variance as a share of a day's
)

// Condition code sets (CTA/UTP sale conditions). Shared, never modified.
var (
	condRegular   = []string{"@"}
	condOddLot    = []string{"@", "I"}      // odd lot
	condISO       = []string{"@", "F"}      // intermarket sweep
	condISOOddLot = []string{"@", "F", "I"} // odd-lot intermarket sweep
	condOpen      = []string{"@", "O"}      // opening print
	condClose     = []string{"@", "6"}      // closing print
)

// newYork is the market's time zone. time/tzdata is imported by this
// package, so loading cannot fail; the fixed-offset fallback is a guard only.
var newYork = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		return time.FixedZone("EST", -5*3600)
	}
	return loc
}()

// SimulatorConfig configures a Simulator. The zero value is valid: 50
// symbols, seed 0, unpaced, unbounded.
type SimulatorConfig struct {
	// Symbols is how many instruments to simulate. Default 50: the built-in
	// list of liquid US stocks and ETFs (AAPL, MSFT, NVDA, ..., SPY, QQQ),
	// taken in order when fewer are asked for. Beyond 50, generated symbols
	// ZAAA, ZAAB, ... are added with prices and volatilities drawn from Seed.
	// At most MaxSymbols.
	Symbols int
	// Seed makes runs reproducible: the same Seed and configuration give
	// byte-identical records (with the same Go and stocklake versions).
	// Default 0, itself a valid seed.
	Seed int64
	// Rate paces emission at this many ticks per second of wall-clock time,
	// in batches of about a millisecond's worth. Default 0: as fast as emit
	// accepts them. Pacing never changes the records, only when they go out.
	Rate float64
	// Count stops the run after this many ticks. Default 0: unbounded.
	Count int64
	// Duration stops the run after this much wall-clock time. Default 0: no
	// limit.
	Duration time.Duration
	// Start is the event time of the simulation's beginning. Default
	// DefaultStart (Monday 2026-11-23 09:30 New York). A time outside a
	// regular session (09:30-16:00 New York, Monday to Friday; holidays are
	// not modelled) moves to the next session's open.
	Start time.Time
	// Speed is how many seconds of event time pass per second of wall-clock
	// time when Rate > 0: the mean event-time gap between ticks is
	// Speed/Rate seconds. Default 1, event time keeps pace with the wall
	// clock; 60 runs a minute of the session per second. Ignored when Rate
	// is 0 or TickInterval is set.
	Speed float64
	// TickInterval is the mean event-time gap between consecutive ticks of
	// all symbols together, averaged over the session; gaps are exponential
	// and shorter near the open and the close (U-shaped activity). It
	// overrides Speed. Default Speed/Rate seconds when Rate > 0, else
	// DefaultTickInterval (1ms).
	TickInterval time.Duration
	// OutOfOrderFraction is the fraction of ticks, from 0 to 1, whose event
	// time is moved back by a random amount of up to OutOfOrderMax (never
	// before the session open), to exercise late-data handling downstream.
	// The simulation clock itself does not move back. Default 0.
	OutOfOrderFraction float64
	// OutOfOrderMax bounds how far back an out-of-order tick moves. Default
	// DefaultOutOfOrderMax (2s) when OutOfOrderFraction > 0.
	OutOfOrderMax time.Duration
}

// Simulator generates realistic US equity trades: geometric Brownian motion
// per symbol with its own annual volatility, an intraday U-shaped activity
// and volatility curve over the 09:30-16:00 New York session, occasional
// price jumps and overnight gaps, bid-ask bounce, round-lot, odd-lot and
// block trade sizes, opening and closing prints, sale condition codes and
// the venue (MIC) each trade printed on, off-exchange (FINRA TRF) included.
//
// Each record has Key = symbol, Value = the tick's wire-format JSON
// (stocklake.Tick.AppendJSON, source "sim"), a content-type header of
// stocklake.TickContentType, and Timestamp = event time. trade_id is a
// per-symbol counter starting at 1. Event time advances through the
// session and then jumps to the next weekday's open.
//
// A Simulator holds only its configuration; each Run starts afresh from the
// seed and may run concurrently with others.
type Simulator struct {
	cfg     SimulatorConfig
	specs   []symbolSpec
	startNs int64 // open of the first session, Unix ns
	offset  float64
	meanGap float64 // seconds
	oooMax  int64   // microseconds
}

var _ stocklake.Source = (*Simulator)(nil)

// NewSimulator validates cfg, fills in its defaults and returns a Simulator.
// Errors wrap stocklake.ErrConfig.
func NewSimulator(cfg SimulatorConfig) (*Simulator, error) {
	bad := func(format string, a ...any) (*Simulator, error) {
		return nil, fmt.Errorf("simulator: "+format+": %w", append(a, stocklake.ErrConfig)...)
	}
	switch {
	case cfg.Symbols < 0 || cfg.Symbols > MaxSymbols:
		return bad("symbols is %d, want 1 to %d (0 for the default %d)", cfg.Symbols, MaxSymbols, DefaultSymbols)
	case !(cfg.Rate >= 0) || math.IsInf(cfg.Rate, 0):
		return bad("rate is %v ticks/s, want a finite number >= 0 (0 for unpaced)", cfg.Rate)
	case cfg.Count < 0:
		return bad("count is %d, want >= 0 (0 for unbounded)", cfg.Count)
	case cfg.Duration < 0:
		return bad("duration is %v, want >= 0 (0 for no limit)", cfg.Duration)
	case !(cfg.Speed >= 0) || math.IsInf(cfg.Speed, 0):
		return bad("speed is %v, want a finite number >= 0 (0 for the default 1)", cfg.Speed)
	case cfg.TickInterval < 0:
		return bad("tick interval is %v, want >= 0 (0 for the default)", cfg.TickInterval)
	case !(cfg.OutOfOrderFraction >= 0 && cfg.OutOfOrderFraction <= 1):
		return bad("out-of-order fraction is %v, want 0 to 1", cfg.OutOfOrderFraction)
	case cfg.OutOfOrderMax < 0:
		return bad("out-of-order max is %v, want >= 0", cfg.OutOfOrderMax)
	}
	if cfg.Symbols == 0 {
		cfg.Symbols = DefaultSymbols
	}
	if cfg.Speed == 0 {
		cfg.Speed = 1
	}
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	if cfg.OutOfOrderFraction > 0 && cfg.OutOfOrderMax == 0 {
		cfg.OutOfOrderMax = DefaultOutOfOrderMax
	}
	s := &Simulator{cfg: cfg}
	switch {
	case cfg.TickInterval > 0:
		s.meanGap = cfg.TickInterval.Seconds()
	case cfg.Rate > 0:
		s.meanGap = cfg.Speed / cfg.Rate
	default:
		s.meanGap = DefaultTickInterval.Seconds()
	}
	s.oooMax = cfg.OutOfOrderMax.Microseconds()
	if s.oooMax < 1 {
		s.oooMax = 1
	}
	open, off := sessionAt(cfg.Start)
	s.startNs, s.offset = open.UnixNano(), off
	s.specs = universe(cfg.Symbols, cfg.Seed)
	return s, nil
}

// Name returns "sim".
func (s *Simulator) Name() string { return SimulatorType }

// DefaultTopic returns "ticks".
func (s *Simulator) DefaultTopic() string { return stocklake.TopicTicks }

// Symbols returns the simulated symbols in order.
func (s *Simulator) Symbols() []string {
	out := make([]string, len(s.specs))
	for i := range s.specs {
		out[i] = s.specs[i].symbol
	}
	return out
}

// Config returns the configuration with defaults filled in.
func (s *Simulator) Config() SimulatorConfig { return s.cfg }

// Run emits ticks until Count ticks were emitted or Duration elapsed
// (returning nil), ctx is done (returning ctx.Err()) or emit fails
// (returning its error unchanged). With Rate > 0 it emits a batch of about
// a millisecond's worth of ticks and then sleeps until the next batch is
// due; after falling more than a second behind (a slow emit) it restarts the
// schedule instead of bursting to catch up.
func (s *Simulator) Run(ctx context.Context, emit func(stocklake.Record) error) error {
	g := s.newState()
	rate, count := s.cfg.Rate, s.cfg.Count
	batch := int64(256)
	if rate > 0 {
		batch = min(max(int64(rate/1000), 1), 8192)
	}
	start := time.Now()
	var deadline time.Time
	if s.cfg.Duration > 0 {
		deadline = start.Add(s.cfg.Duration)
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	base, baseN := start, int64(0)
	for n := int64(0); ; {
		m := batch
		if count > 0 {
			if count-n < m {
				m = count - n
			}
			if m <= 0 {
				return nil
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if rate > 0 {
			due := base.Add(time.Duration(float64(n-baseN) / rate * float64(time.Second)))
			now := time.Now()
			switch {
			case now.Sub(due) > time.Second:
				base, baseN = now, n
			case due.After(now):
				if !deadline.IsZero() && due.After(deadline) {
					if err := sleepUntil(ctx, &timer, deadline); err != nil {
						return err
					}
					return nil
				}
				if err := sleepUntil(ctx, &timer, due); err != nil {
					return err
				}
			}
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return nil
		}
		for i := int64(0); i < m; i++ {
			if err := emit(g.next()); err != nil {
				return err
			}
		}
		n += m
	}
}

// sessionAt returns the open of the regular session t falls in and t's
// offset from it in seconds, or the next session's open and 0 when t is
// outside regular hours.
func sessionAt(t time.Time) (open time.Time, offset float64) {
	ny := t.In(newYork)
	y, m, d := ny.Date()
	open = time.Date(y, m, d, sessionOpenHour, sessionOpenMinute, 0, 0, newYork)
	if wd := ny.Weekday(); wd != time.Saturday && wd != time.Sunday {
		if off := t.Sub(open).Seconds(); off >= 0 && off < sessionSeconds {
			return open, off
		}
		if t.Before(open) {
			return open, 0
		}
	}
	return nextOpen(open), 0
}

// nextOpen returns the open of the first weekday session after the day of open.
func nextOpen(open time.Time) time.Time {
	ny := open.In(newYork)
	y, m, d := ny.Date()
	for i := 1; ; i++ {
		next := time.Date(y, m, d+i, sessionOpenHour, sessionOpenMinute, 0, 0, newYork)
		if wd := next.Weekday(); wd != time.Saturday && wd != time.Sunday {
			return next
		}
	}
}

// universe returns the first n instruments: the built-in ones, then
// generated ones drawn from seed.
func universe(n int, seed int64) []symbolSpec {
	specs := make([]symbolSpec, 0, n)
	specs = append(specs, builtinSymbols[:min(n, len(builtinSymbols))]...)
	if n <= len(builtinSymbols) {
		return specs
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x756e6976657273)) // "univers"
	for k := 0; len(specs) < n; k++ {
		listing := "XNAS"
		switch r := rng.Float64(); {
		case r < 0.4:
			listing = "XNYS"
		case r < 0.5:
			listing = "ARCX"
		}
		specs = append(specs, symbolSpec{
			symbol:  generatedSymbol(k),
			listing: listing,
			price:   math.Round(math.Exp(math.Log(5)+rng.Float64()*math.Log(100))*100) / 100, // $5 to $500
			vol:     0.15 + rng.Float64()*0.6,
			weight:  0.2 + rng.Float64()*1.8,
		})
	}
	return specs
}

// simSymbol is one instrument's state during a run.
type simSymbol struct {
	spec    *symbolSpec
	key     []byte
	listing int     // index into listingMICs
	mid     float64 // efficient price
	sigma   float64 // volatility per square root of session second
	last    float64 // session offset of the last tick, seconds
	nextID  uint64
	opened  bool // had its opening print this session
}

// simState is the state of one Run.
type simState struct {
	rng     *rand.Rand
	syms    []simSymbol
	pick    alias
	venue   []alias // per listing exchange
	openNs  int64   // current session open, Unix ns
	off     float64 // seconds since the session open
	meanGap float64
	closing int // index of the next closing print, -1 during the session
	oooFrac float64
	oooMax  int64
	tick    stocklake.Tick
	headers []stocklake.Header
	values  slab
}

func (s *Simulator) newState() *simState {
	g := &simState{
		rng:     rand.New(rand.NewPCG(uint64(s.cfg.Seed), 0x7469636b73)), // "ticks"
		syms:    make([]simSymbol, len(s.specs)),
		openNs:  s.startNs,
		off:     s.offset,
		meanGap: s.meanGap,
		closing: -1,
		oooFrac: s.cfg.OutOfOrderFraction,
		oooMax:  s.oooMax,
		headers: []stocklake.Header{{Key: "content-type", Value: []byte(stocklake.TickContentType)}},
	}
	g.headers = g.headers[:1:1]
	g.tick.Source = SimulatorType
	weights := make([]float64, len(s.specs))
	perSqrtSecond := 1 / math.Sqrt(tradingDaysPerYear*sessionSeconds)
	for i := range s.specs {
		sp := &s.specs[i]
		sym := &g.syms[i]
		sym.spec = sp
		sym.key = []byte(sp.symbol)
		sym.key = sym.key[:len(sym.key):len(sym.key)]
		for j, mic := range listingMICs {
			if mic == sp.listing {
				sym.listing = j
			}
		}
		sym.mid = sp.price
		sym.sigma = sp.vol * perSqrtSecond
		sym.last = g.off
		weights[i] = sp.weight
	}
	g.pick = newAlias(weights)
	vw := make([]float64, len(venues))
	for _, mic := range listingMICs {
		for j, v := range venues {
			vw[j] = v.weight
			if v.mic == mic {
				vw[j] += listingBonus
			}
		}
		g.venue = append(g.venue, newAlias(vw))
	}
	return g
}

// next simulates one trade and returns it as a record.
func (g *simState) next() stocklake.Record {
	var (
		sym   *simSymbol
		price float64
		size  float64
		exch  string
		conds []string
	)
	if g.closing < 0 {
		x := 2*g.off/sessionSeconds - 1 // -1 at the open, 0 at midday, 1 at the close
		x2 := x * x
		g.off += g.rng.ExpFloat64() * g.meanGap * 2 / (1 + 3*x2) // activity is 4x higher at the ends than at midday
		if g.off >= sessionSeconds {
			g.off, g.closing = sessionSeconds, 0
		}
	}
	if g.closing >= 0 {
		// Closing auction: one print per symbol at 16:00:00 on its listing exchange.
		sym = &g.syms[g.closing]
		g.closing++
		price = roundPrice(sym.mid, 100)
		size = 100 * float64(20+int(g.rng.ExpFloat64()*300*sym.spec.weight))
		exch, conds = listingMICs[sym.listing], condClose
	} else {
		sym = &g.syms[g.pick.sample(g.rng)]
		dt := g.off - sym.last
		sym.last = g.off
		x := 2*g.off/sessionSeconds - 1
		sd := sym.sigma * math.Sqrt(dt*(1+2*x*x)*0.6) // variance U-shaped too, mean 1
		ret := sd*g.rng.NormFloat64() - 0.5*sd*sd
		if g.rng.Float64() < jumpsPerSession/sessionSeconds*dt {
			ret += jumpSigma * g.rng.NormFloat64()
		}
		sym.mid *= math.Exp(ret)
		price, size, exch, conds = g.trade(sym)
	}
	sym.nextID++

	us := g.openNs/1000 + int64(g.off*1e6)
	if g.oooFrac > 0 && g.rng.Float64() < g.oooFrac {
		us -= 1 + g.rng.Int64N(g.oooMax)
		us = max(us, g.openNs/1000)
	}
	ts := time.UnixMicro(us).UTC()

	g.tick.Symbol = sym.spec.symbol
	g.tick.Time = ts
	g.tick.Price = price
	g.tick.Size = size
	g.tick.Exchange = exch
	g.tick.TradeID = strconv.FormatUint(sym.nextID, 10)
	g.tick.Conditions = conds
	start := g.values.reserve(256 + len(sym.spec.symbol))
	g.values.buf = g.tick.AppendJSON(g.values.buf)
	rec := stocklake.Record{Key: sym.key, Value: g.values.take(start), Headers: g.headers, Timestamp: ts}

	if g.closing >= len(g.syms) {
		g.nextSession()
	}
	return rec
}

// trade draws the details of a continuous-session trade in sym.
func (g *simState) trade(sym *simSymbol) (price, size float64, exch string, conds []string) {
	mid := sym.mid
	if !sym.opened {
		// Opening print on the listing exchange.
		sym.opened = true
		size = 100 * float64(10+int(g.rng.ExpFloat64()*150*sym.spec.weight))
		return roundPrice(mid, 100), size, listingMICs[sym.listing], condOpen
	}
	// Bid-ask bounce: trades print at the bid or the ask.
	half := max(0.005, mid*0.5e-4)
	if g.rng.Uint64()&1 == 0 {
		mid -= half
	} else {
		mid += half
	}
	exch = venues[g.venue[sym.listing].sample(g.rng)].mic
	offExchange := exch == "FINN" || exch == "FINY"

	// Sizes: odd lots are commoner in high-priced names; otherwise mostly
	// 100 shares, some multiples, a few thousands and rare blocks.
	oddShare := 0.15
	switch {
	case mid >= 500:
		oddShare = 0.6
	case mid >= 200:
		oddShare = 0.45
	case mid >= 50:
		oddShare = 0.3
	}
	odd := false
	switch r := g.rng.Float64(); {
	case r < oddShare:
		odd = true
		size = float64(min(1+int(g.rng.ExpFloat64()*15), 99))
	case r < oddShare+(1-oddShare)*0.65:
		size = 100
	case r < oddShare+(1-oddShare)*0.95:
		size = 100 * float64(min(2+int(g.rng.ExpFloat64()*2), 9))
	case r < oddShare+(1-oddShare)*0.997:
		size = 100 * float64(min(10+int(g.rng.ExpFloat64()*12), 99))
	default:
		size = 100 * float64(min(100+int(g.rng.ExpFloat64()*200), 1000)) // block
	}

	price = roundPrice(mid, 100)
	conds = condRegular
	if offExchange {
		if g.rng.Float64() < 0.2 {
			price = roundPrice(sym.mid, 10000) // sub-penny price improvement
		}
		if odd {
			conds = condOddLot
		}
		return price, size, exch, conds
	}
	iso := g.rng.Float64() < 0.12
	switch {
	case iso && odd:
		conds = condISOOddLot
	case iso:
		conds = condISO
	case odd:
		conds = condOddLot
	}
	return price, size, exch, conds
}

// roundPrice rounds p to 1/perDollar (cents for 100), and to 1/10000 below
// one dollar as US sub-dollar stocks trade; never to zero.
func roundPrice(p, perDollar float64) float64 {
	if p < 1 {
		perDollar = 10000
	}
	r := math.Round(p*perDollar) / perDollar
	if r <= 0 {
		r = 0.0001
	}
	return r
}

// nextSession moves the clock to the next weekday's open and applies the
// overnight gap to every symbol.
func (g *simState) nextSession() {
	g.openNs = nextOpen(time.Unix(0, g.openNs)).UnixNano()
	g.off, g.closing = 0, -1
	on := math.Sqrt(overnightShare * sessionSeconds)
	for i := range g.syms {
		sym := &g.syms[i]
		sd := sym.sigma * on
		sym.mid *= math.Exp(sd*g.rng.NormFloat64() - 0.5*sd*sd)
		sym.last, sym.opened = 0, false
	}
}

// alias samples indices in proportion to weights in O(1) (Vose's alias method).
type alias struct {
	prob  []float64
	alias []int32
}

func newAlias(weights []float64) alias {
	n := len(weights)
	a := alias{prob: make([]float64, n), alias: make([]int32, n)}
	var sum float64
	for _, w := range weights {
		sum += w
	}
	scaled := make([]float64, n)
	var small, large []int32
	for i, w := range weights {
		scaled[i] = w * float64(n) / sum
		if scaled[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small, large = small[:len(small)-1], large[:len(large)-1]
		a.prob[s], a.alias[s] = scaled[s], l
		scaled[l] += scaled[s] - 1
		if scaled[l] < 1 {
			small = append(small, l)
		} else {
			large = append(large, l)
		}
	}
	for _, i := range large {
		a.prob[i], a.alias[i] = 1, i
	}
	for _, i := range small {
		a.prob[i], a.alias[i] = 1, i
	}
	return a
}

// sample draws an index using one 64-bit random number: the high half picks
// a column, the low half decides between it and its alias.
func (a *alias) sample(r *rand.Rand) int {
	u := r.Uint64()
	i := int((u >> 32) * uint64(len(a.prob)) >> 32)
	if float64(u&0xffffffff)*(1.0/(1<<32)) < a.prob[i] {
		return i
	}
	return int(a.alias[i])
}
