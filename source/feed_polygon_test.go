package source

import (
	"strings"
	"testing"
)

func TestFeedPolygonSession(t *testing.T) {
	res := checkFeedSession(t, PolygonType, FeedConfig{Symbols: []string{"AAPL", "msft"}, Key: "test-key"})
	errs := eventsOf(res.events, FeedServerError)
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "Maximum number of websocket connections") {
		t.Errorf("server errors %+v, want the max_connections status", errs)
	}
	var dead bool
	for _, e := range eventsOf(res.events, FeedDisconnected) {
		if e.Err != nil && strings.Contains(e.Err.Error(), "presumed dead") {
			dead = true
		}
	}
	if !dead {
		t.Error("the silent connection was not reported as dead")
	}
}

func TestFeedPolygonBadKey(t *testing.T) {
	t.Setenv("POLYGON_API_KEY", "bad-key")
	checkRefused(t, PolygonType, "auth_failed.json", FeedConfig{Symbols: []string{"AAPL"}},
		"auth_failed", "POLYGON_API_KEY")
}

func TestFeedPolygonNeedsKey(t *testing.T) {
	t.Setenv("POLYGON_API_KEY", "")
	if _, err := NewFeed(PolygonType, FeedConfig{Symbols: []string{"AAPL"}}); err == nil || !strings.Contains(err.Error(), "POLYGON_API_KEY") {
		t.Fatalf("err %v, want one naming POLYGON_API_KEY", err)
	}
}
