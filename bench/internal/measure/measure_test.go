package measure

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

func TestCommas(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", -1234: "-1,234", -123: "-123"} {
		if got := Commas(in); got != want {
			t.Errorf("Commas(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestMetric(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# HELP x\nstocklake_sink_rows_total_other 5\nstocklake_sink_rows_total{table=\"t\"} 42\n")
	}))
	defer ln.Close()
	if err := WaitPort(ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	if v, ok := Metric(ln.Addr().String(), "stocklake_sink_rows_total"); !ok || v != 42 {
		t.Errorf("Metric = %v, %v; want 42, true", v, ok)
	}
	if _, ok := Metric(ln.Addr().String(), "missing"); ok {
		t.Error("Metric found a metric that is not there")
	}
}

func TestProcessCPU(t *testing.T) {
	// Spin for up to 2 s of wall time; a tenth of that must show as CPU.
	start, x := time.Now(), 0
	for ProcessCPU(os.Getpid()) < 20*time.Millisecond && time.Since(start) < 2*time.Second {
		for i := range 1_000_000 {
			x += i
		}
	}
	if cpu := ProcessCPU(os.Getpid()); cpu < 20*time.Millisecond {
		t.Errorf("ProcessCPU = %v after spinning for %v (x=%d)", cpu, time.Since(start), x)
	}
	if ProcessCPU(-1) != 0 {
		t.Error("ProcessCPU of no process is not 0")
	}
}
