package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
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

// TestMetricsPProf: the metrics endpoint (no token) serves the profiler
// only when asked for, and only on loopback.
func TestMetricsPProf(t *testing.T) {
	get := func(addr, path string) int {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, on := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		stop, err := serveMetrics(addr, on)
		if err != nil {
			t.Fatal(err)
		}
		want := 404
		if on {
			want = 200
		}
		if got := get(addr, "/debug/pprof/goroutine?debug=1"); got != want {
			t.Errorf("pprof=%v: /debug/pprof/goroutine answered %d, want %d", on, got, want)
		}
		if got := get(addr, "/metrics"); got != 200 {
			t.Errorf("/metrics answered %d", got)
		}
		stop()
	}
	if _, err := serveMetrics("0.0.0.0:0", true); err == nil || !errors.Is(err, stocklake.ErrConfig) {
		t.Errorf("pprof on 0.0.0.0: %v, want a configuration error", err)
	}
}
