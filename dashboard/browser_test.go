package dashboard

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDashboardBrowserIntegration builds stocklake, runs `stocklake demo`
// (subtest iceberg: the default table format, an Iceberg ticks table;
// subtest hive: --table-format hive) and drives the dashboard in headless Chromium (web/browser.mjs through
// playwright-core): the board updates, a candle chart draws and its last
// bar changes, a console query returns rows and downloads as CSV, a DROP
// and a glob() are refused, crawl now works. The demo runs with --token:
// no request may carry the token in its URL (browsers keep URLs). It saves a screenshot of each page under STOCKLAKE_SCREENSHOTS
// (default a temporary directory) and prints the path.
//
// It runs when STOCKLAKE_BROWSER names a Chromium binary (e.g.
// /usr/bin/chromium) and needs node with http/web/node_modules installed
// (cd dashboard/web && npm ci).
func TestDashboardBrowserIntegration(t *testing.T) {
	chromium := os.Getenv("STOCKLAKE_BROWSER")
	if chromium == "" {
		t.Skip("set STOCKLAKE_BROWSER=/usr/bin/chromium (and run npm ci in dashboard/web) to run the browser test")
	}
	if _, err := os.Stat("web/node_modules/playwright-core"); err != nil {
		t.Fatalf("web/node_modules/playwright-core is missing: run cd dashboard/web && npm ci")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "stocklake")
	build := exec.Command("go", "build", "-o", bin, "../cmd/stocklake")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Run("iceberg", func(t *testing.T) { browserDemo(t, chromium, bin, "iceberg") })
	t.Run("hive", func(t *testing.T) { browserDemo(t, chromium, bin, "hive", "--table-format", "hive") })
}

// browserDemo runs the demo with the extra flags and web/browser.mjs
// against its dashboard; the screenshots go to the folder name under
// STOCKLAKE_SCREENSHOTS.
func browserDemo(t *testing.T, chromium, bin, name string, extra ...string) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const token = "browser-test-token-0123456789"
	demo := exec.CommandContext(ctx, bin, append([]string{"demo", "--data", filepath.Join(dir, "data"), "--http", addr,
		"--duration", "4m", "--flush-interval", "2s", "--rate", "2000", "--token", token}, extra...)...)
	demo.Cancel = func() error { return demo.Process.Signal(os.Interrupt) }
	demo.WaitDelay = 30 * time.Second
	stderr, err := demo.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	up := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "dashboard: http://") {
				once = true
				close(up)
			}
			if strings.Contains(sc.Text(), "level=ERROR") || strings.Contains(sc.Text(), "panic") {
				t.Logf("demo: %s", sc.Text())
			}
		}
	}()
	defer func() {
		demo.Process.Signal(os.Interrupt)
		if err := demo.Wait(); err != nil {
			t.Errorf("demo did not shut down cleanly: %v", err)
		}
	}()
	select {
	case <-up:
	case <-time.After(60 * time.Second):
		t.Fatal("demo did not start its dashboard within 60s")
	}
	time.Sleep(5 * time.Second) // a first lake flush so the ticks table exists

	shots := os.Getenv("STOCKLAKE_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(os.TempDir(), "stocklake-screenshots")
	}
	if abs, err := filepath.Abs(filepath.Join(shots, name)); err == nil {
		shots = abs
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	node := exec.CommandContext(ctx, "node", "browser.mjs")
	node.Dir = "web"
	node.Env = append(os.Environ(), "BASE_URL=http://"+addr, "CHROMIUM="+chromium, "SHOTS="+shots, "TOKEN="+token)
	out, err := node.CombinedOutput()
	t.Logf("browser test output:\n%s", out)
	t.Logf("screenshots of each page: %s", shots)
	if err != nil {
		t.Fatalf("browser test failed: %v", err)
	}
}
