package stocklake

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Wire versions and Kafka content-type headers of live-analytics records.
// Readers accept records whose "v" field is missing or equal to the version.
const (
	// BarWireVersion is the version of the bar JSON written by Bar.AppendJSON.
	BarWireVersion = 1
	// AlertWireVersion is the version of the alert JSON written by Alert.AppendJSON.
	AlertWireVersion = 1
	// BarContentType is the "content-type" header of bar records.
	BarContentType = "application/vnd.stocklake.bar.v1+json"
	// AlertContentType is the "content-type" header of alert records.
	AlertContentType = "application/vnd.stocklake.alert.v1+json"
	// LateTickContentType is the "content-type" header of late-tick
	// records. Their value is also a valid tick (see LateTick).
	LateTickContentType = "application/vnd.stocklake.late-tick.v1+json"
)

// WindowLabel names a window size the way topics and records spell it: the
// largest of the units h, m, s, ms and us that divides it exactly, e.g.
// "1s", "1m", "5m", "1h", "24h", "90s", "250ms". time.ParseDuration reads
// the label back. A size of 0 or less gives "".
func WindowLabel(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}, {time.Microsecond, "us"}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(d), 10) + "ns"
}

// parseWindowLabel reads a WindowLabel.
func parseWindowLabel(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("window %q is not a positive duration such as 1m", s)
	}
	return d, nil
}

// appendJSONFloat appends f as a JSON number that always reads as floating
// point: with a decimal point or an exponent ("1500.0", not "1500"), so
// schema inference over JSON records (the sink's --schema json) types the
// field as double in every file. NaN and infinities, which JSON lacks,
// are written as null.
func appendJSONFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.AppendFloat(dst, f, 'e', -1, 64)
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	for _, c := range dst[n:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, '.', '0')
}

func appendField(dst []byte, name string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}

// AppendJSON appends the bar's wire-format JSON to dst and returns it. ind
// are the bar's indicators; nil (or ind.Bars == 0, as on provisional bars)
// writes none.
//
// Wire format (JSON, version 1), one object per Kafka record, keyed by symbol:
//
//		{"v":1,"symbol":"AAPL","window":"1m","ts":1764167400000000,"end":1764167460000000,
//		 "open":189.25,"high":189.5,"low":189.0,"close":189.4,"volume":12500.0,"vwap":189.31,
//		 "trades":42,"first_ts":1764167400012000,"last_ts":1764167459987000,"final":true,
//		 "bars":20,"sma":188.7,"ema_fast":188.9,"ema_slow":188.2,"volatility":0.0012,
//		 "z_close":1.3,"z_volume":-0.4}
//
//	  - v: wire format version (1).
//	  - symbol: instrument symbol.
//	  - window: window size as WindowLabel writes it ("1s", "1m", "5m", "1h").
//	  - ts: window start, integer microseconds since the Unix epoch, UTC (the
//	    bar's event time: the sink detects "ts" as the event-time field).
//	  - end: exclusive window end, microseconds (ts + window).
//	  - open, high, low, close, volume, vwap: as in Bar; always written with a
//	    decimal point or an exponent.
//	  - trades: number of ticks in the bar.
//	  - first_ts, last_ts: event times of the first and last tick, microseconds.
//	  - final: true for the one final bar of a window, false for provisional
//	    updates while it is open.
//	  - bars, sma, ema_fast, ema_slow, volatility, z_close, z_volume: the
//	    Indicators as of this bar, on final bars only. An indicator that is
//	    not yet defined (NaN: too few bars, zero spread) is left out rather
//	    than written as null, so a JSON column never starts out untyped.
//
// Unknown fields are ignored by ParseBar so the format can grow.
func (b *Bar) AppendJSON(dst []byte, ind *Indicators) []byte {
	dst = append(dst, `{"v":1,"symbol":`...)
	dst = appendJSONString(dst, b.Symbol)
	dst = appendField(dst, "window")
	dst = appendJSONString(dst, WindowLabel(b.Window))
	dst = appendField(dst, "ts")
	dst = strconv.AppendInt(dst, b.Start.UnixMicro(), 10)
	dst = appendField(dst, "end")
	dst = strconv.AppendInt(dst, b.Start.Add(b.Window).UnixMicro(), 10)
	for _, f := range [...]struct {
		name string
		v    float64
	}{{"open", b.Open}, {"high", b.High}, {"low", b.Low}, {"close", b.Close}, {"volume", b.Volume}, {"vwap", b.VWAP}} {
		dst = appendField(dst, f.name)
		dst = appendJSONFloat(dst, f.v)
	}
	dst = appendField(dst, "trades")
	dst = strconv.AppendInt(dst, b.Trades, 10)
	dst = appendField(dst, "first_ts")
	dst = strconv.AppendInt(dst, b.FirstTime.UnixMicro(), 10)
	dst = appendField(dst, "last_ts")
	dst = strconv.AppendInt(dst, b.LastTime.UnixMicro(), 10)
	dst = appendField(dst, "final")
	dst = strconv.AppendBool(dst, b.Final)
	if ind != nil && ind.Bars > 0 {
		dst = appendField(dst, "bars")
		dst = strconv.AppendInt(dst, ind.Bars, 10)
		for _, f := range [...]struct {
			name string
			v    float64
		}{{"sma", ind.SMA}, {"ema_fast", ind.EMAFast}, {"ema_slow", ind.EMASlow}, {"volatility", ind.Volatility}, {"z_close", ind.ZClose}, {"z_volume", ind.ZVolume}} {
			if !math.IsNaN(f.v) && !math.IsInf(f.v, 0) {
				dst = appendField(dst, f.name)
				dst = appendJSONFloat(dst, f.v)
			}
		}
	}
	return append(dst, '}')
}

// barWire mirrors the bar wire format for encoding/json.
type barWire struct {
	V       *int    `json:"v"`
	Symbol  string  `json:"symbol"`
	Window  string  `json:"window"`
	TS      *int64  `json:"ts"`
	End     *int64  `json:"end"`
	Open    float64 `json:"open"`
	High    float64 `json:"high"`
	Low     float64 `json:"low"`
	Close   float64 `json:"close"`
	Volume  float64 `json:"volume"`
	VWAP    float64 `json:"vwap"`
	Trades  int64   `json:"trades"`
	FirstTS int64   `json:"first_ts"`
	LastTS  int64   `json:"last_ts"`
	Final   bool    `json:"final"`
	// The indicators (bars, sma, ...), flattened into the bar object.
	indicatorsWire
}

// ParseBar decodes one wire-format bar (see Bar.AppendJSON) and its
// indicators; indicators that are absent or null are NaN, and a bar without
// indicators has Indicators.Bars == 0. Errors wrap ErrInvalid.
func ParseBar(data []byte) (Bar, Indicators, error) {
	var w barWire
	if err := json.Unmarshal(data, &w); err != nil {
		return Bar{}, Indicators{}, fmt.Errorf("bar is not a JSON object in wire format v1: %w: %w", err, ErrInvalid)
	}
	if w.V != nil && *w.V != BarWireVersion {
		return Bar{}, Indicators{}, fmt.Errorf("bar wire version %d is not supported (want %d): %w", *w.V, BarWireVersion, ErrInvalid)
	}
	if w.Symbol == "" {
		return Bar{}, Indicators{}, fmt.Errorf("bar has no symbol: %w", ErrInvalid)
	}
	if w.TS == nil {
		return Bar{}, Indicators{}, fmt.Errorf("bar %s has no ts (window start, microseconds): %w", w.Symbol, ErrInvalid)
	}
	size, err := parseWindowLabel(w.Window)
	if err != nil {
		if w.End == nil || *w.End <= *w.TS {
			return Bar{}, Indicators{}, fmt.Errorf("bar %s: %w: %w", w.Symbol, err, ErrInvalid)
		}
		size = time.Duration(*w.End-*w.TS) * time.Microsecond
	}
	b := Bar{
		Symbol: w.Symbol, Window: size, Start: time.UnixMicro(*w.TS).UTC(),
		Open: w.Open, High: w.High, Low: w.Low, Close: w.Close, Volume: w.Volume, VWAP: w.VWAP,
		Trades: w.Trades, FirstTime: time.UnixMicro(w.FirstTS).UTC(), LastTime: time.UnixMicro(w.LastTS).UTC(),
		Final: w.Final,
	}
	return b, w.indicators(), nil
}

// AppendJSON appends the alert's wire-format JSON to dst and returns it.
//
// Wire format (JSON, version 1), one object per Kafka record, keyed by symbol:
//
//		{"v":1,"rule":"aapl-200","symbol":"AAPL","kind":"cross",
//		 "message":"AAPL crossed above 200 at 200.5","value":200.5,"threshold":200.0,
//		 "ts":1764167400012000,"window":"1m"}
//
//	  - rule, symbol, kind, message: as in Alert; kind is cross, move,
//	    volume_spike or zscore.
//	  - value, threshold: as in Alert; value is null when not finite.
//	  - ts: the alert's event time, integer microseconds since the Unix epoch.
//	  - window: the bar window the rule watches (WindowLabel); absent for
//	    rules evaluated on every tick.
func (a *Alert) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"v":1,"rule":`...)
	dst = appendJSONString(dst, a.Rule)
	dst = appendField(dst, "symbol")
	dst = appendJSONString(dst, a.Symbol)
	dst = appendField(dst, "kind")
	dst = appendJSONString(dst, a.Kind)
	dst = appendField(dst, "message")
	dst = appendJSONString(dst, a.Message)
	dst = appendField(dst, "value")
	dst = appendJSONFloat(dst, a.Value)
	dst = appendField(dst, "threshold")
	dst = appendJSONFloat(dst, a.Threshold)
	dst = appendField(dst, "ts")
	dst = strconv.AppendInt(dst, a.Time.UnixMicro(), 10)
	if a.Window > 0 {
		dst = appendField(dst, "window")
		dst = appendJSONString(dst, WindowLabel(a.Window))
	}
	return append(dst, '}')
}

type alertWire struct {
	V         *int     `json:"v"`
	Rule      string   `json:"rule"`
	Symbol    string   `json:"symbol"`
	Kind      string   `json:"kind"`
	Message   string   `json:"message"`
	Value     *float64 `json:"value"`
	Threshold *float64 `json:"threshold"`
	TS        *int64   `json:"ts"`
	Window    string   `json:"window"`
}

// ParseAlert decodes one wire-format alert (see Alert.AppendJSON). Errors
// wrap ErrInvalid.
func ParseAlert(data []byte) (Alert, error) {
	var w alertWire
	if err := json.Unmarshal(data, &w); err != nil {
		return Alert{}, fmt.Errorf("alert is not a JSON object in wire format v1: %w: %w", err, ErrInvalid)
	}
	if w.V != nil && *w.V != AlertWireVersion {
		return Alert{}, fmt.Errorf("alert wire version %d is not supported (want %d): %w", *w.V, AlertWireVersion, ErrInvalid)
	}
	if w.Rule == "" || w.Symbol == "" || w.TS == nil {
		return Alert{}, fmt.Errorf("alert lacks rule, symbol or ts: %w", ErrInvalid)
	}
	a := Alert{Rule: w.Rule, Symbol: w.Symbol, Kind: w.Kind, Message: w.Message,
		Value: valueOrNaN(w.Value), Threshold: valueOrNaN(w.Threshold), Time: time.UnixMicro(*w.TS).UTC()}
	if w.Window != "" {
		d, err := parseWindowLabel(w.Window)
		if err != nil {
			return Alert{}, fmt.Errorf("alert %s: %w: %w", w.Rule, err, ErrInvalid)
		}
		a.Window = d
	}
	return a, nil
}

// LateTick is a tick that arrived after its window had closed for at least
// one window size, as the analyzer sends it to the late-tick topic.
//
// Wire format: the tick's own wire format (Tick.AppendJSON, version 1) with
// two more fields, so every tick reader (ParseTick, the sink) reads it as
// the tick it is:
//
//		{"v":1,"symbol":"AAPL","ts":1764165600123456,"price":189.25,"size":100,
//		 "trade_id":"42","source":"sim","late_windows":["1m","5m"],"watermark":1764165662000000}
//
//	  - late_windows: the window sizes (WindowLabel) whose window had closed;
//	    the tick is not in those bars but counts in the other sizes' bars.
//	  - watermark: the watermark the tick was late against, microseconds.
type LateTick struct {
	Tick      Tick
	Windows   []time.Duration
	Watermark time.Time
}

// AppendJSON appends the late tick's wire-format JSON to dst and returns it.
func (l *LateTick) AppendJSON(dst []byte) []byte {
	dst = l.Tick.AppendJSON(dst)
	dst = dst[:len(dst)-1] // drop the tick's closing brace
	dst = appendField(dst, "late_windows")
	dst = append(dst, '[')
	for i, w := range l.Windows {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, WindowLabel(w))
	}
	dst = append(dst, ']')
	dst = appendField(dst, "watermark")
	dst = strconv.AppendInt(dst, l.Watermark.UnixMicro(), 10)
	return append(dst, '}')
}

// ParseLateTick decodes one wire-format late tick. A plain tick parses
// with no Windows and a zero Watermark. Errors wrap ErrInvalid.
func ParseLateTick(data []byte) (LateTick, error) {
	t, err := ParseTick(data)
	if err != nil {
		return LateTick{}, err
	}
	var w struct {
		LateWindows []string `json:"late_windows"`
		Watermark   *int64   `json:"watermark"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return LateTick{}, fmt.Errorf("late tick: %w: %w", err, ErrInvalid)
	}
	l := LateTick{Tick: t}
	for _, s := range w.LateWindows {
		d, err := parseWindowLabel(strings.TrimSpace(s))
		if err != nil {
			return LateTick{}, fmt.Errorf("late tick %s: late_windows: %w: %w", t.Symbol, err, ErrInvalid)
		}
		l.Windows = append(l.Windows, d)
	}
	if w.Watermark != nil {
		l.Watermark = time.UnixMicro(*w.Watermark).UTC()
	}
	return l, nil
}
