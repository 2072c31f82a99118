package metrics

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stocklake/stocklake"
)

func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestServePProf: the metrics endpoint (no token) serves the profiler
// only when asked for, and only on loopback.
func TestServePProf(t *testing.T) {
	for _, on := range []bool{false, true} {
		addr, stop, err := New().Serve("127.0.0.1:0", on, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := 404
		if on {
			want = 200
		}
		if got, _ := get(t, addr, "/debug/pprof/goroutine?debug=1"); got != want {
			t.Errorf("pprof=%v: /debug/pprof/goroutine answered %d, want %d", on, got, want)
		}
		if got, body := get(t, addr, "/metrics"); got != 200 || !strings.Contains(body, "\ngo_goroutines ") {
			t.Errorf("/metrics answered %d %.200q, want the Go collector", got, body)
		}
		if got, _ := get(t, addr, "/healthz"); got != 200 {
			t.Errorf("/healthz answered %d", got)
		}
		stop()
	}
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "10.0.0.5:0", "localhost.example.com:0", "nonsense"} {
		if _, _, err := New().Serve(addr, true, nil); !errors.Is(err, stocklake.ErrConfig) || !errors.Is(err, ErrPProfOffLoopback) {
			t.Errorf("pprof on %s: %v, want a configuration error", addr, err)
		}
	}
	if _, _, err := New().Serve("127.0.0.1:nonsense", false, nil); !errors.Is(err, stocklake.ErrConfig) {
		t.Errorf("metrics on a bad address: %v, want a configuration error", err)
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LocalHost": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true, "[::1]": true,
		"": false, "0.0.0.0": false, "::": false, "10.0.0.5": false, "localhost.example.com": false, "example.com": false,
	} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestRegistry: New registers the Go and process collectors once; a
// component's metrics read their functions at scrape time; registering a
// component twice is an error, not a second copy.
func TestRegistry(t *testing.T) {
	reg := New()
	var n atomic.Int64
	register := func(reg prometheus.Registerer) error {
		m := Funcs{Prefix: "stocklake_test_", Labels: prometheus.Labels{"table": "t"}}
		return Register(reg, m.Counter("things_total", "Things.", n.Load), m.GaugeInt("level", "Level.", n.Load))
	}
	if err := register(reg); err != nil {
		t.Fatal(err)
	}
	if err := register(reg); err == nil {
		t.Error("registering a component twice: no error")
	}
	n.Store(42)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, f := range fams {
		seen[f.GetName()]++
		if f.GetName() == "stocklake_test_things_total" {
			m := f.GetMetric()
			if len(m) != 1 || m[0].GetCounter().GetValue() != 42 || m[0].GetLabel()[0].GetValue() != "t" {
				t.Errorf("stocklake_test_things_total = %v, want one sample 42 with table=t", m)
			}
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "stocklake_test_things_total", "stocklake_test_level"} {
		if seen[name] != 1 {
			t.Errorf("%s gathered %d times, want once", name, seen[name])
		}
	}
}
