package source

import (
	"testing"
)

func TestFeedBinanceSession(t *testing.T) {
	res := checkFeedSession(t, BinanceType, FeedConfig{Symbols: []string{"btcusdt", "ETHUSDT"}})
	gaps := eventsOf(res.events, FeedGap)
	if len(gaps) != 2 {
		t.Fatalf("got %d gap events, want 2: %+v", len(gaps), gaps)
	}
	if g := gaps[0]; g.Symbol != "BTCUSDT" || g.Missing != 2 || g.FromID != "5003" || g.ToID != "5004" {
		t.Errorf("first gap %+v, want BTCUSDT 5003-5004 (2 missing)", g)
	}
	if g := gaps[1]; g.Symbol != "ETHUSDT" || g.Missing != 1 || g.FromID != "7002" || g.ToID != "7002" {
		t.Errorf("second gap %+v, want ETHUSDT 7002 (missed while disconnected)", g)
	}
	dups := eventsOf(res.events, FeedDuplicate)
	if len(dups) != 2 || dups[0].TradeID != "5002" || dups[1].TradeID != "5005" {
		t.Errorf("duplicates %+v, want the repeated 5002 and 5005", dups)
	}
}

func TestFeedBinanceSubscriptionRejected(t *testing.T) {
	checkRefused(t, BinanceType, "subscribe_rejected.json", FeedConfig{Symbols: []string{"btcusdt"}},
		"binance rejected the subscription", "btcusdt", "too many streams")
}

func TestFeedBinanceNeedsNoKey(t *testing.T) {
	f, err := NewFeed(BinanceType, FeedConfig{Symbols: []string{" BTCUSDT ", "ethusdt", "btcusdt"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Symbols(); len(got) != 2 || got[0] != "btcusdt" || got[1] != "ethusdt" {
		t.Errorf("symbols %q, want lowercased and deduplicated [btcusdt ethusdt]", got)
	}
	if got := f.Config().Endpoint; got != "wss://stream.binance.com:9443/stream" {
		t.Errorf("default endpoint %q", got)
	}
	if _, err := NewFeed(BinanceType, FeedConfig{Symbols: []string{"btc-usdt"}}); err == nil {
		t.Error("a symbol with a dash was accepted")
	}
}

func TestFeedBinanceRefusedLocation(t *testing.T) {
	checkRefused(t, BinanceType, "refused_location.json", FeedConfig{Symbols: []string{"btcusdt"}},
		"HTTP 451", "stream.binance.us")
}
