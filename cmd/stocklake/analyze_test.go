package main

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

func TestParseWindows(t *testing.T) {
	ws, err := parseWindows(" 1s, 1m,5m ,1h")
	if err != nil || !slices.Equal(ws, []time.Duration{time.Second, time.Minute, 5 * time.Minute, time.Hour}) {
		t.Fatalf("parseWindows = %v, %v", ws, err)
	}
	for _, bad := range []string{"", ",", "1m,1m", "soon", "-1s", "0s"} {
		if _, err := parseWindows(bad); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("parseWindows(%q) = %v, want ErrConfig", bad, err)
		}
	}
}
