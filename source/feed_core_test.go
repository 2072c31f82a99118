package source

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func TestNewFeedConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  FeedConfig
		want string
	}{
		{"nope", FeedConfig{Symbols: []string{"X"}}, "unknown live feed"},
		{BinanceType, FeedConfig{}, "no symbols"},
		{BinanceType, FeedConfig{Symbols: []string{""}}, "empty symbol"},
		{BinanceType, FeedConfig{Symbols: []string{"a,b"}}, "comma"},
		{BinanceType, FeedConfig{Symbols: []string{"btcusdt"}, Endpoint: "http//x"}, "not a ws:// or wss:// URL"},
		{BinanceType, FeedConfig{Symbols: []string{"btcusdt"}, Count: -1}, "count"},
		{BinanceType, FeedConfig{Symbols: []string{"btcusdt"}, ReadTimeout: -1}, "timeouts"},
		{FinnhubType, FeedConfig{Symbols: []string{"AAPL"}, Key: "k", Endpoint: "ftp://x"}, "not a ws://"},
	} {
		_, err := NewFeed(tc.name, tc.cfg)
		if err == nil || !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewFeed(%q, %+v) = %v, want an ErrConfig mentioning %q", tc.name, tc.cfg, err, tc.want)
		}
	}
	many := make([]string, binanceMaxStreams+1)
	for i := range many {
		many[i] = "sym" + strconv.Itoa(i)
	}
	if _, err := NewFeed(BinanceType, FeedConfig{Symbols: many}); err == nil {
		t.Errorf("%d Binance streams accepted, the limit is %d", len(many), binanceMaxStreams)
	}
}

func TestNewFeedDefaults(t *testing.T) {
	for _, name := range FeedTypes {
		f, err := NewFeed(name, FeedConfig{Symbols: []string{"AAPL"}, Key: "k", Secret: "s"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c := f.Config()
		if c.PingInterval != DefaultFeedPingInterval || c.ReadTimeout != DefaultFeedReadTimeout ||
			c.HandshakeTimeout != DefaultFeedHandshakeTimeout || c.InitialBackoff != DefaultFeedInitialBackoff ||
			c.MaxBackoff != DefaultFeedMaxBackoff || c.DedupWindow != DefaultFeedDedupWindow {
			t.Errorf("%s: defaults not filled in: %+v", name, c)
		}
		if !strings.HasPrefix(c.Endpoint, "wss://") {
			t.Errorf("%s: default endpoint %q", name, c.Endpoint)
		}
		if f.Name() != name || f.DefaultTopic() != "ticks" {
			t.Errorf("%s: Name %q DefaultTopic %q", name, f.Name(), f.DefaultTopic())
		}
	}
}

func TestFeedBackoff(t *testing.T) {
	f := &Feed{cfg: FeedConfig{InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}}
	for _, tc := range []struct {
		n      int
		lo, hi time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{4, 400 * time.Millisecond, 800 * time.Millisecond},
		{5, 500 * time.Millisecond, time.Second}, // capped
		{50, 500 * time.Millisecond, time.Second},
	} {
		if got := f.backoff(tc.n, 0); got != tc.lo {
			t.Errorf("backoff(%d, 0) = %v, want %v", tc.n, got, tc.lo)
		}
		if got := f.backoff(tc.n, 0.999999); got < tc.lo || got > tc.hi {
			t.Errorf("backoff(%d, ~1) = %v, want within [%v, %v]", tc.n, got, tc.lo, tc.hi)
		}
	}
}

// TestFeedDecimalExact checks the claim in Feed's doc: a decimal string of
// up to 15 significant digits comes back unchanged (trailing zeros
// dropped) from ParseFloat and AppendJSON's formatting.
func TestFeedDecimalExact(t *testing.T) {
	for in, want := range map[string]string{
		"97123.45000000":    "97123.45",
		"0.00120000":        "0.0012",
		"0.00000001":        "0.00000001",
		"0.1":               "0.1",
		"0.3":               "0.3",
		"126.55":            "126.55",
		"233.265":           "233.265",
		"123456789.012345":  "123456789.012345",
		"100":               "100",
		"1e2":               "100",
		"999999999999999":   "999999999999999",
		"0.000000000000001": "0.000000000000001",
	} {
		f, err := feedDecimal(in)
		if err != nil {
			t.Errorf("feedDecimal(%q): %v", in, err)
			continue
		}
		if got := strconv.FormatFloat(f, 'f', -1, 64); got != want {
			t.Errorf("%q -> %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"", "abc", "0x1p-2", "Inf", "NaN", "1_000", "97,123.47", ".", "-"} {
		if _, err := feedDecimal(bad); err == nil {
			t.Errorf("feedDecimal(%q) accepted", bad)
		}
	}
}

func TestFeedEpoch(t *testing.T) {
	want := time.Date(2025, 11, 28, 14, 30, 0, 123456000, time.UTC)
	for _, n := range []int64{1764340200123456789, 1764340200123456} {
		if got := feedEpoch(n); !got.Equal(want) {
			t.Errorf("feedEpoch(%d) = %v, want %v", n, got, want)
		}
	}
	if got, w := feedEpoch(1764340200123), want.Truncate(time.Millisecond); !got.Equal(w) {
		t.Errorf("feedEpoch(ms) = %v, want %v", got, w)
	}
}

func TestFeedDedupWindow(t *testing.T) {
	var st feedSymbol
	for i := uint64(0); i < 5; i++ {
		if st.remember(i, 3) {
			t.Fatalf("id %d reported as seen", i)
		}
	}
	// The window holds the last 3 ids: 2, 3, 4.
	for _, id := range []uint64{4, 3, 2} {
		if !st.remember(id, 3) {
			t.Errorf("id %d not seen, but it is among the last 3", id)
		}
	}
	if st.remember(1, 3) {
		t.Error("id 1 seen, but it left the window")
	}
	if st.remember(2, 3) { // 1 took the place of the oldest, 2
		t.Error("id 2 seen after it left the window")
	}
	if len(st.ring) != 3 || len(st.seen) != 3 {
		t.Errorf("window holds %d ids (%d in the set), want 3", len(st.ring), len(st.seen))
	}
}

func TestFeedRunStops(t *testing.T) {
	binance := func() FeedConfig { return FeedConfig{Symbols: []string{"btcusdt", "ethusdt"}} }

	t.Run("emit error", func(t *testing.T) {
		boom := errors.New("boom")
		n := 0
		res := runFeedScript(t, BinanceType, "session.json", binance(), feedRunOpts{lenient: true, emit: func(stocklake.Record) error {
			if n++; n == 2 {
				return boom
			}
			return nil
		}})
		if res.err != boom {
			t.Errorf("Run returned %v, want emit's error unchanged", res.err)
		}
		if len(res.records) != 2 {
			t.Errorf("emit called %d times, want 2", len(res.records))
		}
	})

	t.Run("context canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		res := runFeedScript(t, BinanceType, "session.json", binance(), feedRunOpts{lenient: true, ctx: ctx, emit: func(stocklake.Record) error {
			cancel()
			return nil
		}})
		if !errors.Is(res.err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", res.err)
		}
	})

	t.Run("duration", func(t *testing.T) {
		cfg := binance()
		cfg.Duration = 300 * time.Millisecond
		res := runFeedScript(t, BinanceType, "session.json", cfg)
		if res.err != nil {
			t.Errorf("Run returned %v, want nil once the duration is over", res.err)
		}
		if len(res.records) != 7 {
			t.Errorf("got %d records, want the script's 7", len(res.records))
		}
	})

	t.Run("max attempts", func(t *testing.T) {
		cfg := binance()
		cfg.MaxAttempts = 3
		res := runFeedScript(t, BinanceType, "unavailable.json", cfg)
		if !errors.Is(res.err, stocklake.ErrUnavailable) || !strings.Contains(res.err.Error(), "503") {
			t.Errorf("Run returned %v, want ErrUnavailable naming the last failure (HTTP 503)", res.err)
		}
		if n := res.server.conns.Load(); n != 3 {
			t.Errorf("%d attempts, want MaxAttempts = 3", n)
		}
	})
}

func TestFeedHandshakeTimeout(t *testing.T) {
	res := runFeedScript(t, AlpacaType, "handshake_timeout.json", FeedConfig{
		Symbols: []string{"AAPL"}, Key: "test-key", Secret: "test-secret", Count: 1,
		HandshakeTimeout: 300 * time.Millisecond,
	})
	if res.err != nil || len(res.records) != 1 {
		t.Fatalf("Run: %v, %d records; want 1 record after a reconnect", res.err, len(res.records))
	}
	dis := eventsOf(res.events, FeedDisconnected)
	if len(dis) != 1 || !strings.Contains(dis[0].Err.Error(), "no subscription confirmation") {
		t.Errorf("disconnects %+v, want one for the missing handshake", dis)
	}
}
