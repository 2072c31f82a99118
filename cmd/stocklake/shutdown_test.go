package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/source"
)

// stuckProc is a process whose output goes to a pipe, read into memory
// (a file would be subject to the process's file size limit).
type stuckProc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func (p *stuckProc) logContains(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Contains(p.out.Bytes(), []byte(s))
}

func (p *stuckProc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stuckSink starts the built binary as a sink that is stuck retrying: it
// runs with a file size limit of 64 KiB (prlimit --fsize), so its manifest
// is written but each Parquet object fails with EFBIG and is retried. It
// returns once the sink has logged a retry of an object write.
func stuckSink(t *testing.T, extra ...string) *stuckProc {
	t.Helper()
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	b, err := kafka.StartBroker(kafka.BrokerConfig{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	kc := kafka.Config{Brokers: []string{b.Addr()}}
	p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sim, err := source.NewSimulator(source.SimulatorConfig{Seed: 1, Count: 30_000})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Run(ctx, func(r stocklake.Record) error { return p.Produce(ctx, r) }); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	lake := filepath.Join(t.TempDir(), "lake")
	args := append([]string{"--fsize=65536", stocklakeBinary(t), "sink", "--brokers", b.Addr(), "--topic", "ticks", "--lake", "file://" + lake,
		"--table-format", "hive", "--flush-interval", "200ms"}, extra...)
	sp := &stuckProc{cmd: exec.Command(prlimit, args...), done: make(chan struct{})}
	sp.cmd.Env = envWith()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	sp.cmd.Stdout, sp.cmd.Stderr = pw, pw
	if err := sp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := pr.Read(buf)
			sp.mu.Lock()
			sp.out.Write(buf[:n])
			sp.mu.Unlock()
			if err != nil {
				break
			}
		}
		sp.err = sp.cmd.Wait()
		close(sp.done)
	}()
	t.Cleanup(func() {
		sp.cmd.Process.Kill()
		<-sp.done
		if t.Failed() {
			sp.mu.Lock()
			b := sp.out.Bytes()
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("---- sink output (tail) ----\n%s", b)
			sp.mu.Unlock()
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for !sp.logContains(`msg=retrying`) || !sp.logContains("file too large") {
		if !sp.running() || time.Now().After(deadline) {
			t.Fatalf("the sink did not get stuck retrying a write (running: %v)", sp.running())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return sp
}

// exitWithin waits for p to exit and fails if it takes longer than limit.
func exitWithin(t *testing.T, p *stuckProc, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("the sink is still running %s after the signal", limit)
	}
	return time.Since(start)
}

// TestSinkStopsOnSIGTERMWhileRetrying sends SIGTERM to a sink stuck
// retrying a write: it must give up within its --shutdown-timeout (10s)
// and exit, not retry on for minutes.
func TestSinkStopsOnSIGTERMWhileRetrying(t *testing.T) {
	sk := stuckSink(t)
	sk.cmd.Process.Signal(syscall.SIGTERM)
	took := exitWithin(t, sk, 30*time.Second)
	t.Logf("the sink exited %s after SIGTERM: %v", took.Round(100*time.Millisecond), sk.err)
}

// TestSecondSignalExitsAtOnce sends SIGTERM twice to a sink whose shutdown
// would wait five minutes: the second signal must end it at once, with the
// shell's status for SIGTERM.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	sk := stuckSink(t, "--shutdown-timeout", "5m")
	sk.cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(10 * time.Second)
	for !sk.logContains("shutting down") {
		if time.Now().After(deadline) {
			t.Fatal("the sink did not acknowledge SIGTERM")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !sk.running() {
		t.Fatalf("the sink exited on the first signal (%v); the test needs a slow shutdown", sk.err)
	}
	sk.cmd.Process.Signal(syscall.SIGTERM)
	exitWithin(t, sk, 10*time.Second)
	var ee *exec.ExitError
	if !errors.As(sk.err, &ee) || ee.ExitCode() != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit: %v, want status %d", sk.err, 128+int(syscall.SIGTERM))
	}
}
