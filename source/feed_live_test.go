package source

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

// TestFeedLiveProviders connects to the real providers. It runs only when
// STOCKLAKE_LIVE_FEEDS lists them (e.g. "binance,alpaca"), needs internet
// access and, except for Binance, the provider's key in its usual variable.
// Alpaca uses its always-on test stream (symbol FAKEPACA), so it works
// outside market hours; Polygon and Finnhub see trades only while their
// markets trade (Finnhub's crypto symbols trade around the clock).
func TestFeedLiveProviders(t *testing.T) {
	live := os.Getenv("STOCKLAKE_LIVE_FEEDS")
	if live == "" {
		t.Skip("set STOCKLAKE_LIVE_FEEDS=binance,alpaca,polygon,finnhub to test against the real feeds")
	}
	cases := map[string]FeedConfig{
		BinanceType: {Symbols: []string{"btcusdt", "ethusdt"}},
		AlpacaType:  {Symbols: []string{"FAKEPACA"}, Endpoint: "wss://stream.data.alpaca.markets/v2/test"},
		PolygonType: {Symbols: []string{"AAPL", "MSFT", "SPY"}},
		FinnhubType: {Symbols: []string{"BINANCE:BTCUSDT", "AAPL"}},
	}
	for _, name := range strings.Split(live, ",") {
		name = strings.TrimSpace(name)
		cfg, ok := cases[name]
		if !ok {
			t.Errorf("STOCKLAKE_LIVE_FEEDS: unknown feed %q", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			cfg.Count = 3
			cfg.MaxAttempts = 3
			f, err := NewFeed(name, cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var n int
			err = f.Run(ctx, func(r stocklake.Record) error {
				if _, err := stocklake.ParseTick(r.Value); err != nil {
					t.Errorf("record %s: %v", r.Value, err)
				}
				t.Logf("%s", r.Value)
				n++
				return nil
			})
			if err != nil {
				t.Fatalf("Run: %v (stats %+v)", err, f.Stats())
			}
			if n != 3 {
				t.Errorf("got %d ticks, want 3", n)
			}
		})
	}
}
