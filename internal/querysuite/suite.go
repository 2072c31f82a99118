package querysuite

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

// Result is a query result: column names and rows of Go values.
type Result struct {
	Columns []string
	Rows    [][]any
}

// expected computes each query's result from the fixture data, by name of
// its .sql file.
var expected = map[string]func(f *Fixture) Result{
	"seed_avg_close":       avgClose,
	"seed_avg_close_csv":   avgClose,
	"seed_top_volume_days": topVolumeDays,
	"seed_yearly_ohlc":     yearlyOHLC,
	"seed_volatility":      volatility,
	"ticks_candles_1m":     candles,
	"ticks_vwap_daily":     vwapDaily,
	"ticks_last_price":     lastPrice,
	"ticks_hourly_trino":   hourly,
}

// Case is one query of the suite.
type Case struct {
	Name string // file name without .sql
	SQL  string
	Want Result
}

// Cases reads the queries in dir (testdata/queries) and computes their
// expected results from f. A .sql file without a computation is an error.
func Cases(dir string, f *Fixture) ([]Case, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no .sql files in %s", dir)
	}
	var out []Case
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(filepath.Base(p), ".sql")
		want, ok := expected[name]
		if !ok {
			return nil, fmt.Errorf("%s has no expected result: add one to querysuite.expected", p)
		}
		out = append(out, Case{Name: name, SQL: string(b), Want: want(f)})
	}
	return out, nil
}

// Run runs every case on eng as a subtest and compares its result with the
// expected one: same column names, same rows in order, numbers equal to a
// relative 1e-9, times equal to the millisecond.
func Run(t *testing.T, eng stocklake.Engine, dir string, f *Fixture) {
	t.Helper()
	cases, err := Cases(dir, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			got, err := Query(context.Background(), eng, c.SQL)
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			if err := Compare(got, c.Want); err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
		})
	}
}

// Query runs sql and reads its whole result.
func Query(ctx context.Context, eng stocklake.Engine, sql string) (Result, error) {
	rows, err := eng.Query(ctx, sql)
	if err != nil {
		return Result{}, err
	}
	defer rows.Close()
	var r Result
	for _, c := range rows.Columns() {
		r.Columns = append(r.Columns, c.Name)
	}
	for rows.Next() {
		r.Rows = append(r.Rows, append([]any(nil), rows.Values()...))
	}
	return r, rows.Err()
}

// Compare reports the first difference between got and want.
func Compare(got, want Result) error {
	if strings.Join(got.Columns, ",") != strings.Join(want.Columns, ",") {
		return fmt.Errorf("columns %v, want %v", got.Columns, want.Columns)
	}
	if len(got.Rows) != len(want.Rows) {
		return fmt.Errorf("%d rows, want %d; first got %v, first want %v", len(got.Rows), len(want.Rows), first(got.Rows), first(want.Rows))
	}
	for i := range want.Rows {
		if len(got.Rows[i]) != len(want.Rows[i]) {
			return fmt.Errorf("row %d has %d values, want %d", i, len(got.Rows[i]), len(want.Rows[i]))
		}
		for j := range want.Rows[i] {
			if !Equal(got.Rows[i][j], want.Rows[i][j]) {
				return fmt.Errorf("row %d column %s = %v (%T), want %v (%T)\n got row  %v\n want row %v",
					i, want.Columns[j], got.Rows[i][j], got.Rows[i][j], want.Rows[i][j], want.Rows[i][j], got.Rows[i], want.Rows[i])
			}
		}
	}
	return nil
}

func first(rows [][]any) []any {
	if len(rows) == 0 {
		return nil
	}
	return rows[0]
}

// Equal compares values across engines: numbers of any Go type by value
// (relative tolerance 1e-9), times to the millisecond, dates against
// "YYYY-MM-DD" strings.
func Equal(got, want any) bool {
	if got == nil || want == nil {
		return got == nil && want == nil
	}
	if g, ok := number(got); ok {
		w, ok := number(want)
		if !ok {
			return false
		}
		if g == w {
			return true
		}
		return math.Abs(g-w) <= 1e-9*math.Max(math.Abs(g), math.Abs(w))
	}
	gt, gok := asTime(got)
	wt, wok := asTime(want)
	if gok && wok {
		return gt.Truncate(time.Millisecond).Equal(wt.Truncate(time.Millisecond))
	}
	return fmt.Sprint(got) == fmt.Sprint(want)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	return 0, false
}

func asTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		for _, l := range []string{"2006-01-02", "2006-01-02 15:04:05.999999999", time.RFC3339Nano} {
			if t, err := time.Parse(l, x); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// byIndex groups prices by index, in index order.
func byIndex(ps []Price) ([]string, map[string][]Price) {
	m := map[string][]Price{}
	for _, p := range ps {
		m[p.Index] = append(m[p.Index], p)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, m
}

func avgClose(f *Fixture) Result {
	r := Result{Columns: []string{"index", "avg_close", "days"}}
	keys, m := byIndex(f.Prices)
	for _, k := range keys {
		var s float64
		for _, p := range m[k] {
			s += p.Close
		}
		r.Rows = append(r.Rows, []any{k, s / float64(len(m[k])), int64(len(m[k]))})
	}
	return r
}

func topVolumeDays(f *Fixture) Result {
	ps := append([]Price(nil), f.Prices...)
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Vol != b.Vol {
			return a.Vol > b.Vol
		}
		if a.Index != b.Index {
			return a.Index < b.Index
		}
		return a.Date.Before(b.Date)
	})
	r := Result{Columns: []string{"index", "date", "volume"}}
	for _, p := range ps[:min(10, len(ps))] {
		r.Rows = append(r.Rows, []any{p.Index, p.Date, p.Vol})
	}
	return r
}

func yearlyOHLC(f *Fixture) Result {
	r := Result{Columns: []string{"index", "year", "open", "high", "low", "close"}}
	keys, m := byIndex(f.Prices)
	for _, k := range keys {
		years := map[int][]Price{}
		var ys []int
		for _, p := range m[k] {
			y := p.Date.Year()
			if _, ok := years[y]; !ok {
				ys = append(ys, y)
			}
			years[y] = append(years[y], p)
		}
		sort.Ints(ys)
		for _, y := range ys {
			ps := years[y]
			sort.Slice(ps, func(i, j int) bool { return ps[i].Date.Before(ps[j].Date) })
			hi, lo := math.Inf(-1), math.Inf(1)
			for _, p := range ps {
				hi, lo = math.Max(hi, p.High), math.Min(lo, p.Low)
			}
			r.Rows = append(r.Rows, []any{k, int64(y), ps[0].Open, hi, lo, ps[len(ps)-1].Close})
		}
	}
	return r
}

func volatility(f *Fixture) Result {
	r := Result{Columns: []string{"index", "avg_range", "max_range"}}
	keys, m := byIndex(f.Prices)
	for _, k := range keys {
		var s, mx float64
		mx = math.Inf(-1)
		for _, p := range m[k] {
			v := (p.High - p.Low) / p.Open
			s += v
			mx = math.Max(mx, v)
		}
		r.Rows = append(r.Rows, []any{k, s / float64(len(m[k])), mx})
	}
	sort.SliceStable(r.Rows, func(i, j int) bool { return r.Rows[i][1].(float64) > r.Rows[j][1].(float64) })
	return r
}

func candles(f *Fixture) Result {
	r := Result{Columns: []string{"symbol", "minute", "open", "high", "low", "close", "volume", "trades"}}
	type candle struct {
		first, last stocklake.Tick
		hi, lo, vol float64
		n           int64
	}
	cs := map[time.Time]*candle{}
	var mins []time.Time
	for _, t := range f.Ticks {
		ts := t.Time.UTC()
		if t.Symbol != "MSFT" || ts.Format("2006-01-02") != "2026-11-24" || ts.Hour() != 15 {
			continue
		}
		m := ts.Truncate(time.Minute)
		c, ok := cs[m]
		if !ok {
			c = &candle{first: t, last: t, hi: t.Price, lo: t.Price}
			cs[m] = c
			mins = append(mins, m)
		}
		if t.Time.Before(c.first.Time) {
			c.first = t
		}
		if t.Time.After(c.last.Time) {
			c.last = t
		}
		c.hi, c.lo = math.Max(c.hi, t.Price), math.Min(c.lo, t.Price)
		c.vol += t.Size
		c.n++
	}
	sort.Slice(mins, func(i, j int) bool { return mins[i].Before(mins[j]) })
	for _, m := range mins {
		c := cs[m]
		r.Rows = append(r.Rows, []any{"MSFT", m, c.first.Price, c.hi, c.lo, c.last.Price, c.vol, c.n})
	}
	return r
}

func vwapDaily(f *Fixture) Result {
	type key struct{ sym, dt string }
	type agg struct {
		pv, v float64
		n     int64
	}
	m := map[key]*agg{}
	for _, t := range f.Ticks {
		k := key{t.Symbol, t.Time.UTC().Format("2006-01-02")}
		a := m[k]
		if a == nil {
			a = &agg{}
			m[k] = a
		}
		a.pv += t.Price * t.Size
		a.v += t.Size
		a.n++
	}
	keys := make([]key, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].sym != keys[j].sym {
			return keys[i].sym < keys[j].sym
		}
		return keys[i].dt < keys[j].dt
	})
	r := Result{Columns: []string{"symbol", "dt", "vwap", "volume", "trades"}}
	for _, k := range keys {
		a := m[k]
		r.Rows = append(r.Rows, []any{k.sym, k.dt, a.pv / a.v, a.v, a.n})
	}
	return r
}

func lastPrice(f *Fixture) Result {
	last := map[string]stocklake.Tick{}
	for _, t := range f.Ticks {
		if l, ok := last[t.Symbol]; !ok || t.Time.After(l.Time) {
			last[t.Symbol] = t
		}
	}
	syms := make([]string, 0, len(last))
	for s := range last {
		syms = append(syms, s)
	}
	sort.Strings(syms)
	r := Result{Columns: []string{"symbol", "last_price", "last_time"}}
	for _, s := range syms {
		r.Rows = append(r.Rows, []any{s, last[s].Price, last[s].Time.UTC()})
	}
	return r
}

func hourly(f *Fixture) Result {
	type agg struct {
		n    int64
		syms map[string]bool
	}
	m := map[time.Time]*agg{}
	for _, t := range f.Ticks {
		ts := t.Time.UTC()
		if d := ts.Format("2006-01-02"); d < "2026-11-23" || d > "2026-11-24" {
			continue
		}
		h := ts.Truncate(time.Hour)
		a := m[h]
		if a == nil {
			a = &agg{syms: map[string]bool{}}
			m[h] = a
		}
		a.n++
		a.syms[t.Symbol] = true
	}
	hours := make([]time.Time, 0, len(m))
	for h := range m {
		hours = append(hours, h)
	}
	sort.Slice(hours, func(i, j int) bool { return hours[i].Before(hours[j]) })
	r := Result{Columns: []string{"hour_start", "dow", "trades", "symbols", "epoch_s"}}
	for _, h := range hours {
		dow := int64(h.Weekday())
		if dow == 0 {
			dow = 7
		}
		r.Rows = append(r.Rows, []any{h.Format("2006-01-02 15:04"), dow, m[h].n, int64(len(m[h].syms)), float64(h.Unix())})
	}
	return r
}
