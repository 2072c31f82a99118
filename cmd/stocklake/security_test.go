package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stocklake/stocklake"
)

// TestBrokerListen: the embedded broker has no authentication, so it
// refuses a non-loopback address without --allow-remote.
func TestBrokerListen(t *testing.T) {
	for _, c := range []struct {
		addr   string
		remote bool
		ok     bool
	}{
		{"127.0.0.1:9092", false, true}, {"localhost:0", false, true}, {"[::1]:9092", false, true},
		{":9092", false, false}, {"0.0.0.0:9092", false, false}, {"10.0.0.5:9092", false, false}, {"[::]:9092", false, false},
		{"0.0.0.0:9092", true, true}, {"nonsense", true, false},
	} {
		err := checkBrokerListen(c.addr, c.remote)
		if (err == nil) != c.ok {
			t.Errorf("checkBrokerListen(%q, %v) = %v, want ok=%v", c.addr, c.remote, err, c.ok)
		}
		if err != nil && !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("checkBrokerListen(%q): %v does not wrap ErrConfig", c.addr, err)
		}
	}
	// Through the command line: a configuration error (exit 2), before
	// anything listens.
	root := rootCommand()
	if err := root.Parse([]string{"broker", "--listen", "0.0.0.0:0", "--data", ""}); err != nil {
		t.Fatal(err)
	}
	err := root.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "--allow-remote") {
		t.Errorf("stocklake broker --listen 0.0.0.0:0: %v, want a refusal naming --allow-remote", err)
	}
}
