package stream

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/stocklake/stocklake"
)

// Bar is a bar computed by an Engine: the candle, the input partition its
// ticks came from and, on final bars, the indicators as of that bar.
type Bar struct {
	stocklake.Bar
	Partition  int32
	Indicators stocklake.Indicators // on final bars; zero (Bars == 0) on provisional ones
}

// Late is a tick that arrived after its window had closed, for at least one
// window size. Send it to a side topic; it is not in those bars.
type Late struct {
	Partition int32
	Tick      stocklake.Tick  // a copy; Conditions shares the caller's slice
	Windows   []time.Duration // sizes whose window had closed; the tick counts in the other sizes' bars
	Watermark time.Time       // the watermark the tick was late against
}

// Output collects what an Engine emits, in emission order. The Engine only
// appends; the caller hands the contents on and calls Reset.
type Output struct {
	Bars   []Bar             // provisional and final bars
	Late   []Late            // late ticks
	Alerts []stocklake.Alert // alerts, in the order their rules fired
}

// Reset empties o, keeping its capacity.
func (o *Output) Reset() {
	clear(o.Late)
	clear(o.Alerts)
	o.Bars, o.Late, o.Alerts = o.Bars[:0], o.Late[:0], o.Alerts[:0]
}

// Len is the number of bars, late ticks and alerts in o.
func (o *Output) Len() int { return len(o.Bars) + len(o.Late) + len(o.Alerts) }

// Stats are an Engine's counters and sizes.
type Stats struct {
	Ticks       int64     // ticks accepted, late ones included
	Late        int64     // ticks late for at least one window size
	Rejected    int64     // invalid ticks refused by Process
	Partitions  int       // input partitions with state
	Symbols     int       // (partition, symbol) states
	OpenWindows int       // windows not yet closed
	Watermark   time.Time // zero before any data
}

// Engine computes bars, indicators and alerts; see the package
// documentation for the semantics. Create one with New.
type Engine struct {
	cfg                   Config
	sizes                 []int64 // window sizes in µs, ascending
	delay, lateness, prov int64
	onTime                bool // emit a provisional bar when the watermark passes a window's end
	ringCap               int
	rules                 []compiledRule

	byID   []*partition // indexed by partition number
	parts  []*partition // ascending partition number
	wm     int64        // watermark, µs; noTime before any data
	floor  int64        // lowest watermark, from AdvanceTo; noTime if none
	minMax int64        // minimum over partitions with data of their maximum event time
	next   int64        // watermark at which fire has work to do

	rejected int64
	free     [][]*symbol // recycled bucket lists
}

type compiledRule struct {
	Rule
	size     int   // index into sizes; -1 for tick rules
	cooldown int64 // µs
}

// partition is the state of one input partition.
type partition struct {
	id          int32
	maxTs       int64 // maximum event time seen; noTime if none
	wm          int64 // watermark applied to this partition's windows
	syms        map[string]*symbol
	queues      []queue // per window size: open windows by end
	ticks, late int64
}

// symbol is the state of one symbol in one partition.
type symbol struct {
	name        string
	series      []series // per window size
	ticks, late int64
	last        float64 // price of the latest tick to arrive, for tick rules
	hasLast     bool
	tickRules   []int32 // indices into Engine.rules
	barRules    []int32
	fired       []int64 // per rule: Time of its latest alert; nil without rules
}

// bucket lists the symbols with an open window ending at end.
type bucket struct {
	end    int64
	onTime bool // the on-time provisional bars were emitted
	syms   []*symbol
}

// queue holds a partition's buckets of one window size, ascending end.
type queue struct {
	b    []bucket
	head int
}

// New returns an Engine for cfg; it checks cfg and wraps stocklake.ErrConfig.
func New(cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:      cfg,
		delay:    cfg.Delay.Microseconds(),
		lateness: cfg.Lateness.Microseconds(),
		prov:     cfg.Provisional.Microseconds(),
		wm:       noTime,
		floor:    noTime,
		minMax:   noTime,
		next:     math.MaxInt64,
	}
	e.onTime = e.prov > 0 && e.lateness > 0
	for _, w := range cfg.Windows {
		e.sizes = append(e.sizes, w.Microseconds())
	}
	e.ringCap = max(cfg.SMAPeriod, cfg.EMAFast, cfg.EMASlow, cfg.VolatilityPeriod+1, cfg.ZPeriod+1)
	for _, r := range cfg.Rules {
		c := compiledRule{Rule: r, size: -1, cooldown: r.Cooldown.Microseconds()}
		if r.Window != 0 {
			c.size = slices.Index(cfg.Windows, r.Window)
			e.ringCap = max(e.ringCap, 2, r.Bars+1)
		}
		e.rules = append(e.rules, c)
	}
	return e, nil
}

// Config returns the engine's configuration with defaults filled in and
// windows sorted ascending.
func (e *Engine) Config() Config {
	c := e.cfg
	c.Windows = slices.Clone(c.Windows)
	c.Rules = slices.Clone(c.Rules)
	return c
}

// Watermark returns the current watermark, or the zero time before any data.
func (e *Engine) Watermark() time.Time {
	if e.wm == noTime {
		return time.Time{}
	}
	return time.UnixMicro(e.wm).UTC()
}

// Partitions returns the partitions that have state, ascending.
func (e *Engine) Partitions() []int32 {
	ids := make([]int32, len(e.parts))
	for i, p := range e.parts {
		ids[i] = p.id
	}
	return ids
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	st := Stats{Rejected: e.rejected, Partitions: len(e.parts), Watermark: e.Watermark()}
	for _, p := range e.parts {
		st.Ticks += p.ticks
		st.Late += p.late
		st.Symbols += len(p.syms)
		for _, s := range p.syms {
			for i := range s.series {
				st.OpenWindows += len(s.series[i].open)
			}
		}
	}
	return st
}

// LateBySymbol returns how many late ticks each symbol has had, over all
// partitions.
func (e *Engine) LateBySymbol() map[string]int64 {
	m := map[string]int64{}
	for _, p := range e.parts {
		for name, s := range p.syms {
			if s.late > 0 {
				m[name] += s.late
			}
		}
	}
	return m
}

// Process adds one tick from an input partition (0 to MaxPartitions-1) and
// appends to out what follows: provisional bars of the tick's windows, the
// tick itself if late, tick alerts, then the final bars (with their alerts)
// of windows closed by the watermark moving. An invalid tick (see
// stocklake.Tick.Validate; event times must also be before year 10000) is
// rejected with an error wrapping stocklake.ErrInvalid and changes nothing
// but Stats().Rejected.
func (e *Engine) Process(partition int32, t *stocklake.Tick, out *Output) error {
	if err := t.Validate(); err != nil {
		e.rejected++
		return err
	}
	ts := t.Time.UnixMicro()
	if ts > maxEventTime {
		e.rejected++
		return fmt.Errorf("tick %s has event time %v, after year 9999: %w", t.Symbol, t.Time, stocklake.ErrInvalid)
	}
	if partition < 0 || partition >= MaxPartitions {
		e.rejected++
		return fmt.Errorf("tick %s comes from partition %d, want 0 to %d: %w", t.Symbol, partition, MaxPartitions-1, stocklake.ErrInvalid)
	}
	p := e.partition(partition)
	s := p.syms[t.Symbol]
	if s == nil {
		s = e.newSymbol(p, strings.Clone(t.Symbol))
	}
	lw := max(p.wm, e.wm)
	pv := t.Price * t.Size
	var missed uint32
	for i, w := range e.sizes {
		start := ts - ts%w
		end := start + w
		if end+e.lateness <= lw {
			missed |= 1 << i
			continue
		}
		sr := &s.series[i]
		win := sr.find(start)
		if win == nil {
			win = sr.insert(start)
			e.register(p, i, end, s, end <= lw)
		}
		win.add(ts, t.TradeID, t.Price, t.Size, pv)
		if e.prov > 0 && (win.provAt == noTime || win.last-win.provAt >= e.prov) {
			e.provisional(p, s, i, win, out)
		}
	}
	s.ticks++
	p.ticks++
	if missed != 0 {
		s.late++
		p.late++
		l := Late{Partition: p.id, Tick: *t, Watermark: time.UnixMicro(lw).UTC()}
		for i := range e.sizes {
			if missed&(1<<i) != 0 {
				l.Windows = append(l.Windows, e.cfg.Windows[i])
			}
		}
		out.Late = append(out.Late, l)
	}
	if len(s.tickRules) > 0 {
		e.tickAlerts(s, t.Price, ts, out)
	}
	s.last, s.hasLast = t.Price, true
	if ts > p.maxTs {
		old := p.maxTs
		p.maxTs = ts
		if old == noTime || old <= e.minMax {
			e.minMax = e.computeMin()
		}
		e.advance(out)
	}
	return nil
}

// AdvanceTo raises the watermark to at least t, closing windows even when
// no ticks arrive, and appends the resulting bars and alerts to out. Call
// it when input is idle, e.g. with the wall clock minus the delay; ticks
// older than the new watermark's windows become late. The watermark never
// moves back: an earlier t does nothing.
func (e *Engine) AdvanceTo(t time.Time, out *Output) {
	if t.IsZero() {
		return
	}
	us := t.UnixMicro()
	if t.After(time.UnixMicro(maxEventTime)) {
		us = maxEventTime
	}
	if us > e.floor {
		e.floor = us
		e.advance(out)
	}
}

// RemovePartition drops a partition's state, e.g. when it is revoked from
// this consumer (snapshot it first). Its event times no longer hold back
// the watermark.
func (e *Engine) RemovePartition(id int32) {
	if id < 0 || int(id) >= len(e.byID) || e.byID[id] == nil {
		return
	}
	e.byID[id] = nil
	e.parts = slices.DeleteFunc(e.parts, func(p *partition) bool { return p.id == id })
	e.minMax = e.computeMin()
	e.next = e.computeNext()
}

// partition returns the state of partition id, creating it.
func (e *Engine) partition(id int32) *partition {
	if int(id) < len(e.byID) {
		if p := e.byID[id]; p != nil {
			return p
		}
	} else {
		e.byID = append(e.byID, make([]*partition, int(id)+1-len(e.byID))...)
	}
	p := &partition{id: id, maxTs: noTime, wm: e.wm, syms: map[string]*symbol{}, queues: make([]queue, len(e.sizes))}
	e.byID[id] = p
	i, _ := slices.BinarySearchFunc(e.parts, id, func(p *partition, id int32) int { return int(p.id) - int(id) })
	e.parts = slices.Insert(e.parts, i, p)
	return p
}

// newSymbol creates the state of a symbol in p.
func (e *Engine) newSymbol(p *partition, name string) *symbol {
	s := &symbol{name: name, series: make([]series, len(e.sizes))}
	for i := range s.series {
		s.series[i].hist.resize(e.ringCap)
	}
	for i := range e.rules {
		r := &e.rules[i]
		if !r.matches(name) {
			continue
		}
		if r.size < 0 {
			s.tickRules = append(s.tickRules, int32(i))
		} else {
			s.barRules = append(s.barRules, int32(i))
		}
	}
	if len(s.tickRules)+len(s.barRules) > 0 {
		s.fired = make([]int64, len(e.rules))
		for i := range s.fired {
			s.fired[i] = noTime
		}
	}
	p.syms[name] = s
	return s
}

// register records that s has an open window of size i ending at end.
func (e *Engine) register(p *partition, i int, end int64, s *symbol, onTime bool) {
	q := &p.queues[i]
	j := len(q.b)
	for j > q.head && q.b[j-1].end > end {
		j--
	}
	if j > q.head && q.b[j-1].end == end {
		q.b[j-1].syms = append(q.b[j-1].syms, s)
		return
	}
	if q.head > 0 && 2*q.head >= len(q.b) {
		n := copy(q.b, q.b[q.head:])
		clear(q.b[n:])
		q.b = q.b[:n]
		j -= q.head
		q.head = 0
	}
	var syms []*symbol
	if n := len(e.free); n > 0 {
		syms, e.free = e.free[n-1], e.free[:n-1]
	}
	q.b = slices.Insert(q.b, j, bucket{end: end, onTime: onTime, syms: append(syms, s)})
	trig := end + e.lateness
	if e.onTime && !onTime {
		trig = end
	}
	e.next = min(e.next, trig)
}

// computeMin returns the minimum over partitions with data of their
// maximum event time, or noTime.
func (e *Engine) computeMin() int64 {
	m := int64(noTime)
	for _, p := range e.parts {
		if p.maxTs != noTime && (m == noTime || p.maxTs < m) {
			m = p.maxTs
		}
	}
	return m
}

// advance recomputes the watermark and closes what it passes.
func (e *Engine) advance(out *Output) {
	w := e.floor
	if e.minMax != noTime {
		w = max(w, e.minMax-e.delay)
	}
	if w <= e.wm {
		return
	}
	e.wm = w
	if w >= e.next {
		e.fire(out)
	}
}

// trigger returns the watermark at which q has work: the first final close
// or on-time provisional.
func (q *queue) trigger(lateness int64, onTime bool) int64 {
	if q.head == len(q.b) {
		return math.MaxInt64
	}
	t := q.b[q.head].end + lateness
	if onTime {
		for j := q.head; j < len(q.b); j++ {
			if !q.b[j].onTime {
				t = min(t, q.b[j].end)
				break
			}
		}
	}
	return t
}

func (e *Engine) computeNext() int64 {
	next := int64(math.MaxInt64)
	for _, p := range e.parts {
		for i := range p.queues {
			next = min(next, p.queues[i].trigger(e.lateness, e.onTime))
		}
	}
	return next
}

// fire emits the final and on-time bars the watermark has reached, by
// partition, window size (ascending), window end and symbol name.
func (e *Engine) fire(out *Output) {
	next := int64(math.MaxInt64)
	for _, p := range e.parts {
		p.wm = max(p.wm, e.wm)
		for i := range p.queues {
			q := &p.queues[i]
			for q.head < len(q.b) && q.b[q.head].end+e.lateness <= p.wm {
				b := q.b[q.head]
				q.b[q.head] = bucket{}
				q.head++
				if q.head == len(q.b) {
					q.b, q.head = q.b[:0], 0
				}
				e.closeBucket(p, i, b, out)
			}
			if e.onTime {
				for j := q.head; j < len(q.b) && q.b[j].end <= p.wm; j++ {
					if !q.b[j].onTime {
						q.b[j].onTime = true
						e.onTimeBucket(p, i, &q.b[j], out)
					}
				}
			}
			next = min(next, q.trigger(e.lateness, e.onTime))
		}
	}
	e.next = next
}

func byName(a, b *symbol) int { return strings.Compare(a.name, b.name) }

// closeBucket emits the final bars of the windows in b.
func (e *Engine) closeBucket(p *partition, i int, b bucket, out *Output) {
	slices.SortFunc(b.syms, byName)
	start := b.end - e.sizes[i]
	for _, s := range b.syms {
		sr := &s.series[i]
		win := sr.find(start)
		if win == nil {
			continue
		}
		e.final(p, s, i, win, out)
		sr.remove(start)
	}
	clear(b.syms)
	e.free = append(e.free, b.syms[:0])
}

// onTimeBucket emits provisional bars for the changed windows in b.
func (e *Engine) onTimeBucket(p *partition, i int, b *bucket, out *Output) {
	slices.SortFunc(b.syms, byName)
	start := b.end - e.sizes[i]
	for _, s := range b.syms {
		if win := s.series[i].find(start); win != nil && win.dirty {
			e.provisional(p, s, i, win, out)
		}
	}
}

func (e *Engine) provisional(p *partition, s *symbol, i int, win *window, out *Output) {
	out.Bars = append(out.Bars, Bar{Partition: p.id})
	win.bar(&out.Bars[len(out.Bars)-1].Bar, s.name, e.cfg.Windows[i], false)
	win.provAt = win.last
	win.dirty = false
}

// final emits the final bar of win with its indicators and bar alerts.
func (e *Engine) final(p *partition, s *symbol, i int, win *window, out *Output) {
	out.Bars = append(out.Bars, Bar{Partition: p.id})
	b := &out.Bars[len(out.Bars)-1]
	win.bar(&b.Bar, s.name, e.cfg.Windows[i], true)
	sr := &s.series[i]
	sr.hist.push(b.Close, b.Volume)
	b.Indicators = e.indicators(sr)
	if len(s.barRules) > 0 {
		e.barAlerts(s, i, &b.Bar, out)
	}
}
