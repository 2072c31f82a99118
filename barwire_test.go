package stocklake

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestWindowLabel(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Second: "1s", time.Minute: "1m", 5 * time.Minute: "5m", time.Hour: "1h", 24 * time.Hour: "24h",
		90 * time.Second: "90s", 250 * time.Millisecond: "250ms", 1500 * time.Microsecond: "1500us", 0: "",
	} {
		if got := WindowLabel(d); got != want {
			t.Errorf("WindowLabel(%v) = %q, want %q", d, got, want)
		}
		if d > 0 {
			if back, err := time.ParseDuration(WindowLabel(d)); err != nil || back != d {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v", WindowLabel(d), back, err, d)
			}
		}
	}
}

func TestBarJSONRoundTrip(t *testing.T) {
	start := time.Date(2026, 11, 23, 14, 31, 0, 0, time.UTC)
	b := Bar{Symbol: `A"B`, Window: time.Minute, Start: start, Open: 189.25, High: 190, Low: 1e-7, Close: 189.4,
		Volume: 12500, VWAP: 189.3125, Trades: 42, FirstTime: start.Add(12 * time.Millisecond),
		LastTime: start.Add(59987 * time.Millisecond), Final: true}
	ind := Indicators{Bars: 20, SMA: 188.7, EMAFast: math.NaN(), EMASlow: 188.2, Volatility: 0.0012, ZClose: -1.25, ZVolume: math.NaN()}
	data := b.AppendJSON(nil, &ind)
	s := string(data)
	for _, want := range []string{`"ts":1795444260000000`, `"end":1795444320000000`, `"high":190.0`, `"volume":12500.0`, `"low":1e-07`, `"window":"1m"`, `"bars":20`} {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %s", s, want)
		}
	}
	if strings.Contains(s, "ema_fast") || strings.Contains(s, "null") {
		t.Errorf("undefined indicators must be left out: %s", s)
	}
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatalf("not JSON: %v: %s", err, s)
	}
	got, gotInd, err := ParseBar(data)
	if err != nil {
		t.Fatal(err)
	}
	if got != b {
		t.Errorf("bar round trip:\n got %+v\nwant %+v", got, b)
	}
	if gotInd.Bars != 20 || gotInd.SMA != 188.7 || !math.IsNaN(gotInd.EMAFast) || gotInd.EMASlow != 188.2 ||
		gotInd.Volatility != 0.0012 || gotInd.ZClose != -1.25 || !math.IsNaN(gotInd.ZVolume) {
		t.Errorf("indicators round trip: %+v", gotInd)
	}

	b.Final = false
	prov := b.AppendJSON(nil, nil)
	if strings.Contains(string(prov), `"bars"`) || !strings.Contains(string(prov), `"final":false`) {
		t.Errorf("provisional bar: %s", prov)
	}
	if _, ind, err := ParseBar(prov); err != nil || ind.Bars != 0 || !math.IsNaN(ind.SMA) {
		t.Errorf("provisional bar parses to %+v, %v", ind, err)
	}
}

func TestParseBarRejects(t *testing.T) {
	for _, in := range []string{`[]`, `{"v":2,"symbol":"A","ts":1,"window":"1m"}`, `{"symbol":"A","window":"1m"}`,
		`{"ts":1,"window":"1m"}`, `{"symbol":"A","ts":1,"window":"soon"}`} {
		if _, _, err := ParseBar([]byte(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseBar(%s) = %v, want ErrInvalid", in, err)
		}
	}
}

func TestAlertJSONRoundTrip(t *testing.T) {
	for _, a := range []Alert{
		{Rule: "aapl-200", Symbol: "AAPL", Kind: AlertCross, Message: "AAPL crossed above 200 at 200.5", Value: 200.5, Threshold: 200,
			Time: time.Date(2026, 11, 23, 14, 31, 0, 12000, time.UTC)},
		{Rule: "spike", Symbol: "MSFT", Kind: AlertVolumeSpike, Message: "x", Value: 3.5, Threshold: 3,
			Time: time.Date(2026, 11, 23, 14, 32, 0, 0, time.UTC), Window: 5 * time.Minute},
	} {
		data := a.AppendJSON(nil)
		if !json.Valid(data) {
			t.Fatalf("invalid JSON: %s", data)
		}
		got, err := ParseAlert(data)
		if err != nil {
			t.Fatal(err)
		}
		if got != a {
			t.Errorf("alert round trip:\n got %+v\nwant %+v", got, a)
		}
	}
	if _, err := ParseAlert([]byte(`{"v":1,"symbol":"A"}`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("alert without rule: %v", err)
	}
}

func TestLateTickJSON(t *testing.T) {
	l := LateTick{
		Tick: Tick{Symbol: "AAPL", Time: time.UnixMicro(1764165600123456).UTC(), Price: 189.25, Size: 100, TradeID: "42",
			Conditions: []string{"@"}, Source: "sim"},
		Windows:   []time.Duration{time.Minute, 5 * time.Minute},
		Watermark: time.UnixMicro(1764165662000000).UTC(),
	}
	data := l.AppendJSON(nil)
	if !json.Valid(data) {
		t.Fatalf("invalid JSON: %s", data)
	}
	tick, err := ParseTick(data)
	if err != nil || !reflect.DeepEqual(tick, l.Tick) {
		t.Fatalf("a late tick must read as its tick: %+v, %v", tick, err)
	}
	got, err := ParseLateTick(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, l) {
		t.Errorf("late tick round trip:\n got %+v\nwant %+v", got, l)
	}
}
