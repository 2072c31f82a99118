package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The fault-injection suite (TestFault*Integration) runs the real binary
// against real servers, injects one failure per test and ends with an
// independent count of the lake (pyarrow, scripts/verify_lake.py) against
// what was produced. STOCKLAKE_FAULTS=full runs every case at the length
// the issue names (20 kills, a 30 s Kafka outage, a 60 s S3 outage);
// otherwise shortened lengths keep CI quick. Each case appends one JSON line
// to the file named by STOCKLAKE_FAULT_REPORT, for bench/run's report.

// faultsFull reports whether STOCKLAKE_FAULTS=full asks for full lengths.
func faultsFull() bool { return os.Getenv("STOCKLAKE_FAULTS") == "full" }

// faultLength returns short in the CI run and full under STOCKLAKE_FAULTS=full.
func faultLength[T any](short, full T) T {
	if faultsFull() {
		return full
	}
	return short
}

// faultCase is one line of the fault report.
type faultCase struct {
	Case       string  `json:"case"`
	Detail     string  `json:"detail"`
	Full       bool    `json:"full"`
	Produced   int64   `json:"produced"`
	Landed     int64   `json:"landed"`
	Distinct   int64   `json:"distinct"`
	Duplicates int64   `json:"duplicates"`
	DLQ        int64   `json:"dlq"`
	Result     string  `json:"result"`
	Seconds    float64 `json:"seconds"`
	// The kill cases' counts: SIGKILLs sent, those that came after the
	// sink had been assigned partitions and had written a batch, and those
	// that interrupted a batch written but not committed.
	Kills            int `json:"kills,omitempty"`
	KillsAssigned    int `json:"kills_after_assignment,omitempty"`
	KillsUncommitted int `json:"kills_uncommitted,omitempty"`
	// The compactor kill case: kills that left a compaction pending.
	KillsInCompaction int `json:"kills_in_compaction,omitempty"`
}

// newFaultCase starts a report line that is written when the test ends,
// with its result (pass or fail) and duration.
func newFaultCase(t *testing.T, name string) *faultCase {
	fc := &faultCase{Case: name, Full: faultsFull()}
	start := time.Now()
	t.Cleanup(func() {
		fc.Seconds = time.Since(start).Round(100 * time.Millisecond).Seconds()
		fc.Result = "pass"
		if t.Failed() {
			fc.Result = "fail"
		}
		line, _ := json.Marshal(fc)
		t.Logf("fault report: %s", line)
		path := os.Getenv("STOCKLAKE_FAULT_REPORT")
		if path == "" {
			return
		}
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Errorf("fault report: %v", err)
			return
		}
		defer f.Close()
		f.Write(append(line, '\n'))
	})
	return fc
}

// lakeCount is verify_lake.py's answer.
type lakeCount struct {
	Files      int64 `json:"files"`
	Rows       int64 `json:"rows"`
	Distinct   int64 `json:"distinct"`
	Duplicated int64 `json:"duplicated_keys"`
}

// verifyLake counts the lake's table with pyarrow and fails the test unless
// it holds exactly n distinct ticks. extraEnv points pyarrow at a test's own
// S3 server.
func verifyLake(t *testing.T, fc *faultCase, lake, table string, n int64, extraEnv ...string) {
	t.Helper()
	countExactlyOnce(t, fc, "pyarrow count of "+lake, "the lake", n, extraEnv, "verify_lake.py", lake, table)
	// And by the offsets: `stocklake verify` (the binary) must find no gap
	// and no overlap. extraEnv reaches it too (S3 settings; a case whose
	// dead letters may leave gaps passes STOCKLAKE_BROKERS).
	verifyOffsets(t, extraEnv, "--lake", lake, "--table", table)
}

// countExactlyOnce runs the Python counter scripts/SCRIPT with args (it
// prints a lakeCount as JSON), records the count in fc and fails the test
// unless what holds exactly n distinct ticks, each once.
func countExactlyOnce(t *testing.T, fc *faultCase, logAs, what string, n int64, env []string, script string, args ...string) {
	t.Helper()
	py := pythonWithPyarrow(t)
	cmd := exec.Command(py, append([]string{"-P", filepath.Join(repoRoot(t), "scripts", script)}, append(args, strconv.FormatInt(n, 10))...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Logf("%s: %s", logAs, bytes.TrimSpace(out))
	var c lakeCount
	if jerr := json.Unmarshal(bytes.TrimSpace(out), &c); jerr != nil {
		t.Fatalf("%s: %v (%v)\n%s", script, jerr, err, stderr.String())
	}
	fc.Produced, fc.Landed, fc.Distinct, fc.Duplicates = n, c.Rows, c.Distinct, c.Duplicated
	if err != nil || c.Rows != n || c.Distinct != n || c.Duplicated != 0 {
		t.Fatalf("%s does not hold each of the %d produced ticks exactly once: %+v", what, n, c)
	}
}

// verifyOffsets runs `stocklake verify` (the binary) with args and env and
// fails the test unless it finds the table's offsets complete.
func verifyOffsets(t *testing.T, env []string, args ...string) {
	t.Helper()
	vc := exec.Command(stocklakeBinary(t), append([]string{"verify"}, args...)...)
	vc.Dir = t.TempDir() // no default catalog file: the table format is found from the lake or the flags
	vc.Env = envWith(env...)
	vout, verr := vc.CombinedOutput()
	t.Logf("stocklake verify:\n%s", vout)
	if verr != nil {
		t.Fatalf("stocklake verify %q: %v: the table's offsets are not complete", args, verr)
	}
}

// freePort returns a TCP port nobody listens on; with pair set, the next
// port is free too (Kafka's controller listener).
func freePort(t *testing.T, pair bool) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		if !pair {
			l.Close()
			return p
		}
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		l.Close()
		if err == nil {
			l2.Close()
			return p
		}
	}
	t.Fatal("no free port pair found")
	return 0
}

// ownService is a server of the test's own, started with scripts/<name> on
// free ports under STOCKLAKE_FAULT_SERVICE_DIR (default
// $TMPDIR/stocklake-fault-services), so stopping it disturbs no other test.
// .ci/run stops any left there if a test dies before its cleanup.
type ownService struct {
	t    *testing.T
	name string // kafka or s3
	port int
	env  map[string]string // the script's exports
}

func faultServiceDir() string {
	if d := os.Getenv("STOCKLAKE_FAULT_SERVICE_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "stocklake-fault-services")
}

// startOwnService starts a fresh instance and stops it when the test ends.
func startOwnService(t *testing.T, name string) *ownService {
	s := &ownService{t: t, name: name, port: freePort(t, name == "kafka")}
	t.Cleanup(s.stop)
	s.start(false)
	return s
}

func (s *ownService) scriptEnv(keep bool) []string {
	k := "0"
	if keep {
		k = "1"
	}
	switch s.name {
	case "kafka":
		return envWith("STOCKLAKE_SERVICE_DIR="+faultServiceDir(), "KAFKA_PORT="+strconv.Itoa(s.port), "KAFKA_KEEP_DATA="+k, "KAFKA_HEAP=512m")
	default:
		return envWith("STOCKLAKE_SERVICE_DIR="+faultServiceDir(), "S3_PORT="+strconv.Itoa(s.port), "S3_KEEP_DATA="+k)
	}
}

// start runs `scripts/<name> start`; keep restarts on the data of the last run.
func (s *ownService) start(keep bool) {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot(s.t), "scripts", s.name), "start")
	cmd.Env = s.scriptEnv(keep)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		s.t.Fatalf("scripts/%s start: %v\n%s", s.name, err, stderr.String())
	}
	s.env = map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok {
			s.env[k] = v
		}
	}
}

// stop runs `scripts/<name> stop` (SIGTERM: a clean shutdown).
func (s *ownService) stop() {
	cmd := exec.Command(filepath.Join(repoRoot(s.t), "scripts", s.name), "stop")
	cmd.Env = s.scriptEnv(true)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Errorf("scripts/%s stop: %v\n%s", s.name, err, out)
	}
}

// proc is a stocklake process the test starts, signals and waits for.
type proc struct {
	t       *testing.T
	name    string
	cmd     *exec.Cmd
	logPath string
	metrics string // host:port of --metrics-addr, if any
	done    chan struct{}
	err     error
}

// startProc starts the binary with args; its output goes to a log file that
// is printed if the test fails. metrics adds --metrics-addr on a free port.
func startProc(t *testing.T, name string, metrics bool, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, done: make(chan struct{}), logPath: filepath.Join(t.TempDir(), name+".log")}
	if metrics {
		p.metrics = fmt.Sprintf("127.0.0.1:%d", freePort(t, false))
		args = append(args, "--metrics-addr", p.metrics)
	}
	f, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(stocklakeBinary(t), args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			b, _ := os.ReadFile(p.logPath)
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("---- %s log (tail) ----\n%s", name, b)
		}
	})
	return p
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// wait waits for the process to exit on its own and fails unless it exits 0.
func (p *proc) wait(timeout time.Duration) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit within %v", p.name, timeout)
	}
	if p.err != nil {
		p.t.Fatalf("%s failed: %v", p.name, p.err)
	}
}

// terminate sends SIGTERM and fails unless the process exits cleanly.
func (p *proc) terminate() {
	p.t.Helper()
	if !p.running() {
		p.t.Fatalf("%s exited before it was asked to stop: %v", p.name, p.err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(3 * time.Minute)
}

// kill sends SIGKILL and waits for the process to go.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// metric reads one sample from the process's Prometheus endpoint.
func (p *proc) metric(name string) (float64, error) {
	resp, err := http.Get("http://" + p.metrics + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			f := strings.Fields(line)
			return strconv.ParseFloat(f[len(f)-1], 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// log is the process's output so far.
func (p *proc) log() []byte {
	b, _ := os.ReadFile(p.logPath)
	return b
}

// logContains reports whether the process's output contains s.
func (p *proc) logContains(s string) bool { return bytes.Contains(p.log(), []byte(s)) }

// peakRSS samples the process's resident memory from /proc every 200 ms
// until stop is called, and returns the highest value in bytes.
func (p *proc) peakRSS() (stop func() int64) {
	var mu sync.Mutex
	var peak int64
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			if rss := rssBytes(p.cmd.Process.Pid); rss > 0 {
				mu.Lock()
				peak = max(peak, rss)
				mu.Unlock()
			}
			select {
			case <-quit:
				return
			case <-p.done:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(quit)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

func rssBytes(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// waitCaughtUp waits until group has committed every partition of topic up
// to its end offset: everything produced is durable in the lake.
func waitCaughtUp(t *testing.T, ctx context.Context, brokers, group, topic string, timeout time.Duration, alive ...*proc) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(timeout)
	var lag int64 = -1
	for time.Now().Before(deadline) {
		for _, p := range alive {
			if !p.running() {
				t.Fatalf("%s exited while the group caught up: %v", p.name, p.err)
			}
		}
		if l, err := groupLag(ctx, adm, group, topic); err == nil {
			if l == 0 {
				return
			}
			lag = l
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("group %s still %d records behind %s after %v", group, lag, topic, timeout)
}

// committedLag is groupLag through a client of its own.
func committedLag(t *testing.T, ctx context.Context, brokers, group, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	lag, err := groupLag(ctx, kadm.NewClient(cl), group, topic)
	if err != nil {
		t.Fatal(err)
	}
	return lag
}

// groupLag is the records of topic not yet committed by group.
func groupLag(ctx context.Context, adm *kadm.Client, group, topic string) (int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return 0, err
	}
	var lag int64
	parts := 0
	ends.Each(func(o kadm.ListedOffset) {
		parts++
		c, ok := committed.Lookup(topic, o.Partition)
		switch {
		case !ok:
			lag += o.Offset
		case c.At < o.Offset:
			lag += o.Offset - c.At
		}
	})
	if parts == 0 {
		return 0, fmt.Errorf("topic %s has no partitions yet", topic)
	}
	return lag, nil
}
