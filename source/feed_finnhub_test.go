package source

import (
	"strings"
	"testing"
)

func TestFeedFinnhubSession(t *testing.T) {
	res := checkFeedSession(t, FinnhubType, FeedConfig{Symbols: []string{"AAPL", "BINANCE:BTCUSDT"}, Key: "test-key"})
	errs := eventsOf(res.events, FeedServerError)
	if len(errs) != 2 || errs[0].Code != 429 || errs[1].Message != "Subscribing to too many symbols" {
		t.Errorf("server errors %+v, want the 429 refusal and the error message", errs)
	}
}

func TestFeedFinnhubBadKey(t *testing.T) {
	t.Setenv("FINNHUB_API_KEY", "bad-key")
	checkRefused(t, FinnhubType, "auth_failed.json", FeedConfig{Symbols: []string{"AAPL"}},
		"HTTP 401", "FINNHUB_API_KEY")
}

func TestFeedFinnhubTokenNotLogged(t *testing.T) {
	f, err := NewFeed(FinnhubType, FeedConfig{Symbols: []string{"AAPL"}, Key: "s3cret", Endpoint: "ws://127.0.0.1:1/"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := f.proto.dialURL()
	if err != nil || !strings.Contains(u, "token=s3cret") {
		t.Fatalf("dial URL %q (%v), want the token as a query parameter", u, err)
	}
	// Nothing listens on port 1: the dial error quotes the URL, which must
	// not show the token.
	err = f.dialError(nil, errorString("dial "+u+": connection refused"))
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q shows the token", err)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
