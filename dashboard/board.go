package dashboard

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stocklake/stocklake"
)

// Source feeds a Board with bars and alerts until ctx is canceled: from the
// analyzer's topics (KafkaSource) or computed from ticks (TickSource).
// Run returns nil when ctx is canceled.
type Source interface {
	Run(ctx context.Context, b *Board) error
	// Name describes the source for the health page, e.g. "kafka bars.1m,bars.5m".
	Name() string
}

// Defaults of a Board.
const (
	DefaultMaxBars   = 500 // bars kept per symbol and window
	DefaultMaxAlerts = 200 // alerts kept
	sparkPoints      = 60
)

// SymbolSummary is one row of the live board.
type SymbolSummary struct {
	Symbol        string    `json:"symbol"`
	Last          float64   `json:"last"`
	Open          float64   `json:"open"`   // first price the board saw
	Change        float64   `json:"change"` // Last - Open
	ChangePercent float64   `json:"change_percent"`
	Volume        float64   `json:"volume"` // traded since the board started, over its smallest window
	Trades        int64     `json:"trades"`
	Time          time.Time `json:"time"`  // event time of the last tick
	Spark         []float64 `json:"spark"` // closes of the last bars of the smallest window, oldest first
}

type seriesKey struct {
	symbol string
	window time.Duration
}

type boardBar struct {
	bar stocklake.Bar
	ind stocklake.Indicators
}

type symbolState struct {
	sum    SymbolSummary
	window time.Duration // smallest window seen: volume, trades and spark come from it
}

// Board holds the live state the dashboard shows: a summary per symbol,
// recent bars per symbol and window, recent alerts, and the clients of
// the event stream. It is safe for concurrent use.
type Board struct {
	maxBars, maxAlerts int

	mu      sync.RWMutex
	symbols map[string]*symbolState
	series  map[seriesKey][]boardBar
	alerts  []stocklake.Alert // oldest first
	windows map[time.Duration]bool

	subMu sync.Mutex
	subs  map[*subscriber]struct{}

	bars, alertCount atomic.Int64
	lastEvent        atomic.Int64 // unix nanos of the last bar or alert
	errMu            sync.Mutex
	lastErr          string
}

// NewBoard returns an empty board keeping maxBars bars per symbol and window
// (default DefaultMaxBars) and maxAlerts alerts (default DefaultMaxAlerts).
func NewBoard(maxBars, maxAlerts int) *Board {
	if maxBars <= 0 {
		maxBars = DefaultMaxBars
	}
	if maxAlerts <= 0 {
		maxAlerts = DefaultMaxAlerts
	}
	return &Board{maxBars: maxBars, maxAlerts: maxAlerts, symbols: map[string]*symbolState{},
		series: map[seriesKey][]boardBar{}, windows: map[time.Duration]bool{}, subs: map[*subscriber]struct{}{}}
}

// AddBar records a provisional or final bar with its indicators: it replaces
// the bar of the same window start, or is appended when newer; older bars
// that were already dropped are ignored.
func (b *Board) AddBar(bar stocklake.Bar, ind stocklake.Indicators) {
	if bar.Symbol == "" || bar.Window <= 0 {
		return
	}
	b.mu.Lock()
	k := seriesKey{bar.Symbol, bar.Window}
	s := b.series[k]
	i := sort.Search(len(s), func(i int) bool { return !s[i].bar.Start.Before(bar.Start) })
	var dVol float64 // change of the symbol's volume and trades
	var dTr int64
	switch {
	case i < len(s) && s[i].bar.Start.Equal(bar.Start):
		dVol, dTr = bar.Volume-s[i].bar.Volume, bar.Trades-s[i].bar.Trades
		s[i] = boardBar{bar, ind}
	case i == len(s):
		dVol, dTr = bar.Volume, bar.Trades
		s = append(s, boardBar{bar, ind})
	case len(s) < b.maxBars:
		dVol, dTr = bar.Volume, bar.Trades
		s = slices.Insert(s, i, boardBar{bar, ind})
	}
	if len(s) > b.maxBars {
		s = slices.Delete(s, 0, len(s)-b.maxBars)
	}
	b.series[k] = s
	b.windows[bar.Window] = true
	sym := b.updateSymbol(bar, dVol, dTr)
	b.mu.Unlock()

	b.bars.Add(1)
	b.lastEvent.Store(time.Now().UnixNano())
	b.publish(event{kind: "bar", key: "bar/" + bar.Symbol + "/" + stocklake.WindowLabel(bar.Window), data: bar.AppendJSON(nil, &ind)})
	if data, err := json.Marshal(sym); err == nil {
		b.publish(event{kind: "symbol", key: "symbol/" + bar.Symbol, data: data})
	}
}

// updateSymbol folds a bar into its symbol's summary, the bar having
// changed its window's volume and trades by dVol and dTr; b.mu is held.
func (b *Board) updateSymbol(bar stocklake.Bar, dVol float64, dTr int64) SymbolSummary {
	st := b.symbols[bar.Symbol]
	if st == nil {
		st = &symbolState{window: bar.Window, sum: SymbolSummary{Symbol: bar.Symbol, Open: bar.Open}}
		b.symbols[bar.Symbol] = st
	}
	if bar.Window < st.window {
		// A smaller window appeared: count from it from now on.
		st.window = bar.Window
	}
	if !bar.LastTime.Before(st.sum.Time) {
		st.sum.Last, st.sum.Time = bar.Close, bar.LastTime
	}
	if bar.Window == st.window {
		st.sum.Volume += dVol
		st.sum.Trades += dTr
		s := b.series[seriesKey{bar.Symbol, st.window}]
		from := max(0, len(s)-sparkPoints)
		st.sum.Spark = st.sum.Spark[:0]
		for _, x := range s[from:] {
			st.sum.Spark = append(st.sum.Spark, x.bar.Close)
		}
	}
	st.sum.Change = st.sum.Last - st.sum.Open
	if st.sum.Open != 0 {
		st.sum.ChangePercent = finite(st.sum.Change / st.sum.Open * 100)
	}
	out := st.sum
	out.Spark = slices.Clone(st.sum.Spark)
	return out
}

// AddAlert records an alert.
func (b *Board) AddAlert(a stocklake.Alert) {
	b.mu.Lock()
	b.alerts = append(b.alerts, a)
	if len(b.alerts) > b.maxAlerts {
		b.alerts = slices.Delete(b.alerts, 0, len(b.alerts)-b.maxAlerts)
	}
	b.mu.Unlock()
	b.alertCount.Add(1)
	b.lastEvent.Store(time.Now().UnixNano())
	b.publish(event{kind: "alert", data: a.AppendJSON(nil)})
}

// SetError records the source's last error, shown on the health page.
func (b *Board) SetError(err error) {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	if err == nil {
		b.lastErr = ""
		return
	}
	b.lastErr = err.Error()
}

// Symbols returns the summaries of every symbol, sorted by symbol.
func (b *Board) Symbols() []SymbolSummary {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]SymbolSummary, 0, len(b.symbols))
	for _, st := range b.symbols {
		s := st.sum
		s.Spark = slices.Clone(st.sum.Spark)
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, c SymbolSummary) int { return cmpString(a.Symbol, c.Symbol) })
	return out
}

func cmpString(a, c string) int {
	switch {
	case a < c:
		return -1
	case a > c:
		return 1
	}
	return 0
}

// HasSymbol reports whether the board has seen a symbol.
func (b *Board) HasSymbol(symbol string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.symbols[symbol] != nil
}

// Windows returns the window sizes the board has bars of, ascending.
func (b *Board) Windows() []time.Duration {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]time.Duration, 0, len(b.windows))
	for w := range b.windows {
		out = append(out, w)
	}
	slices.Sort(out)
	return out
}

// Bars returns up to limit of the newest bars of a symbol and window,
// oldest first, as wire-format JSON (stocklake.Bar.AppendJSON).
func (b *Board) Bars(symbol string, window time.Duration, limit int) []json.RawMessage {
	b.mu.RLock()
	defer b.mu.RUnlock()
	s := b.series[seriesKey{symbol, window}]
	if limit > 0 && len(s) > limit {
		s = s[len(s)-limit:]
	}
	out := make([]json.RawMessage, len(s))
	for i := range s {
		out[i] = s[i].bar.AppendJSON(nil, &s[i].ind)
	}
	return out
}

// Alerts returns up to limit of the newest alerts, newest first, of one
// symbol ("" for all), as wire-format JSON (stocklake.Alert.AppendJSON).
func (b *Board) Alerts(symbol string, limit int) []json.RawMessage {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := []json.RawMessage{}
	for i := len(b.alerts) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		if symbol == "" || b.alerts[i].Symbol == symbol {
			out = append(out, b.alerts[i].AppendJSON(nil))
		}
	}
	return out
}

// FeedStatus is the board's account of its source, for the health page.
type FeedStatus struct {
	Source    string    `json:"source"`
	Bars      int64     `json:"bars"`
	Alerts    int64     `json:"alerts"`
	Symbols   int       `json:"symbols"`
	Clients   int       `json:"stream_clients"`
	LastEvent time.Time `json:"last_event,omitzero"`
	LastError string    `json:"last_error,omitempty"`
}

func (b *Board) status(source string) FeedStatus {
	st := FeedStatus{Source: source, Bars: b.bars.Load(), Alerts: b.alertCount.Load()}
	if t := b.lastEvent.Load(); t > 0 {
		st.LastEvent = time.Unix(0, t).UTC()
	}
	b.mu.RLock()
	st.Symbols = len(b.symbols)
	b.mu.RUnlock()
	b.subMu.Lock()
	st.Clients = len(b.subs)
	b.subMu.Unlock()
	b.errMu.Lock()
	st.LastError = b.lastErr
	b.errMu.Unlock()
	return st
}

// event is one server-sent event. Events with a key are coalesced: a
// subscriber that has not sent the previous event of that key yet gets
// only the newest.
type event struct {
	kind, key string
	data      []byte
}

// subscriber is one event-stream client: pending keyed events (newest
// wins) and unkeyed ones in order, bounded.
type subscriber struct {
	symbol string // "" for all
	mu     sync.Mutex
	keyed  map[string]event
	order  []string
	queue  []event
	wake   chan struct{}
}

const maxQueued = 1000

func (b *Board) subscribe(symbol string) *subscriber {
	s := &subscriber{symbol: symbol, keyed: map[string]event{}, wake: make(chan struct{}, 1)}
	b.subMu.Lock()
	b.subs[s] = struct{}{}
	b.subMu.Unlock()
	return s
}

func (b *Board) unsubscribe(s *subscriber) {
	b.subMu.Lock()
	delete(b.subs, s)
	b.subMu.Unlock()
}

func (b *Board) publish(e event) {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	for s := range b.subs {
		s.push(e)
	}
}

func (s *subscriber) push(e event) {
	if s.symbol != "" && e.kind == "bar" && !hasPrefixSymbol(e.key, s.symbol) {
		return
	}
	s.mu.Lock()
	if e.key != "" {
		if _, ok := s.keyed[e.key]; !ok {
			s.order = append(s.order, e.key)
		}
		s.keyed[e.key] = e
	} else if len(s.queue) < maxQueued {
		s.queue = append(s.queue, e)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func hasPrefixSymbol(key, symbol string) bool {
	p := "bar/" + symbol + "/"
	return len(key) > len(p) && key[:len(p)] == p
}

// drain takes the pending events, in order.
func (s *subscriber) drain() []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.queue
	s.queue = nil
	for _, k := range s.order {
		out = append(out, s.keyed[k])
	}
	s.order = s.order[:0]
	clear(s.keyed)
	return out
}

// finite returns f, or 0 when it is NaN or infinite (JSON has neither).
func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}
