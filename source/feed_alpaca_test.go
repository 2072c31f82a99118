package source

import (
	"testing"
)

func TestFeedAlpacaSession(t *testing.T) {
	res := checkFeedSession(t, AlpacaType, FeedConfig{Symbols: []string{"aapl", "MSFT"}, Key: "test-key", Secret: "test-secret"})
	errs := eventsOf(res.events, FeedServerError)
	if len(errs) != 1 || errs[0].Code != 406 {
		t.Errorf("server errors %+v, want the 406 connection limit", errs)
	}
	if len(eventsOf(res.events, FeedSubscribed)) != 2 {
		t.Error("want two subscriptions: the first and the one after the reconnect")
	}
}

func TestFeedAlpacaBadKey(t *testing.T) {
	t.Setenv("APCA_API_KEY_ID", "bad-key")
	t.Setenv("APCA_API_SECRET_KEY", "bad-secret")
	checkRefused(t, AlpacaType, "auth_failed.json", FeedConfig{Symbols: []string{"AAPL"}},
		"402 auth failed", "APCA_API_KEY_ID", "APCA_API_SECRET_KEY")
}

func TestFeedAlpacaNeedsKeyAndSecret(t *testing.T) {
	t.Setenv("APCA_API_KEY_ID", "k")
	t.Setenv("APCA_API_SECRET_KEY", "")
	_, err := NewFeed(AlpacaType, FeedConfig{Symbols: []string{"AAPL"}})
	if err == nil || !contains(err.Error(), "APCA_API_KEY_ID", "APCA_API_SECRET_KEY") {
		t.Fatalf("err %v, want one naming APCA_API_KEY_ID and APCA_API_SECRET_KEY", err)
	}
	t.Setenv("APCA_API_SECRET_KEY", "s")
	f, err := NewFeed(AlpacaType, FeedConfig{Symbols: []string{"AAPL"}})
	if err != nil {
		t.Fatal(err)
	}
	if c := f.Config(); c.Key != "k" || c.Secret != "s" {
		t.Errorf("key %q secret %q, want them from the environment", c.Key, c.Secret)
	}
}
