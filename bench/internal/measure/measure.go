// Package measure has what the benchmark programs under bench/ share to run
// stocklake processes and measure them: free ports, Prometheus samples,
// CPU time from /proc and number formatting.
package measure

import (
	"bufio"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// FreeAddr returns 127.0.0.1:PORT for a port that nothing listens on.
func FreeAddr() (string, error) {
	p, err := FreePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(p), nil
}

// Stocklake returns bin when it is set, else builds ./cmd/stocklake (the
// benchmarks run from the repository root) into dir and returns that path.
// The build's output goes to stderr.
func Stocklake(bin, dir string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	bin = filepath.Join(dir, "stocklake")
	build := exec.Command("go", "build", "-o", bin, "./cmd/stocklake")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("go build -o %s ./cmd/stocklake: %w", bin, err)
	}
	return bin, nil
}

// StartBroker starts `bin broker`, the embedded Kafka broker, in memory on
// a free port of 127.0.0.1 and returns it once it accepts connections,
// with its address. The caller stops it.
func StartBroker(bin string) (*exec.Cmd, string, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, "", err
	}
	broker := exec.Command(bin, "broker", "--listen", addr, "--data", "", "--log-level", "warn")
	if err := broker.Start(); err != nil {
		return nil, "", err
	}
	if err := WaitPort(addr); err != nil {
		broker.Process.Kill()
		broker.Wait()
		return nil, "", err
	}
	return broker, addr, nil
}

// WaitPort waits up to 10 s for something to accept connections on addr.
func WaitPort(addr string) error {
	for range 200 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s after 10s", addr)
}

// Metric reads the first sample of the metric name from the Prometheus text
// endpoint http://addr/metrics; ok is false when it cannot.
func Metric(addr, name string) (v float64, ok bool) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// ProcessCPU is a running process's user+system CPU time, from /proc; 0 if
// it cannot be read.
func ProcessCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// CPUStat is the machine's CPU counters (in USER_HZ ticks).
type CPUStat struct{ busy, total int64 }

// MachineCPU reads the machine's CPU counters from /proc/stat.
func MachineCPU() CPUStat {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CPUStat{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	var c CPUStat
	for i, f := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseInt(f, 10, 64)
		c.total += n
		if i != 3 && i != 4 { // idle, iowait
			c.busy += n
		}
	}
	return c
}

// BusySince is the fraction of CPU time that was busy between old and c.
func (c CPUStat) BusySince(old CPUStat) float64 {
	if c.total == old.total {
		return 0
	}
	return float64(c.busy-old.busy) / float64(c.total-old.total)
}

// Commas formats f rounded to an integer with thousands separators.
func Commas(f float64) string {
	s := strconv.FormatInt(int64(math.Round(f)), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && c != '-' && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
