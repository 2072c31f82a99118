package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
)

// Metric families each component serves.
var (
	processFamilies = []string{"go_goroutines", "go_gc_duration_seconds", "go_memstats_alloc_bytes", "go_info",
		"process_cpu_seconds_total", "process_resident_memory_bytes", "stocklake_aws_retries_total"}
	sinkFamilies = []string{"stocklake_sink_records_total", "stocklake_sink_rows_total", "stocklake_sink_objects_total",
		"stocklake_sink_bytes_total", "stocklake_sink_dead_letters_total", "stocklake_sink_commits_total",
		"stocklake_sink_retries_total", "stocklake_sink_buffered_bytes", "stocklake_sink_lag_records",
		"stocklake_sink_dead_letters_truncated_total", "stocklake_sink_open_partitions", "stocklake_sink_commit_failures_total",
		"stocklake_sink_fenced_batches_total", "stocklake_sink_partitions"}
	analyzeFamilies = []string{"stocklake_analyze_ticks_total", "stocklake_analyze_rejected_total",
		"stocklake_analyze_future_ticks_total", "stocklake_analyze_ignored_checkpoints_total", "stocklake_analyze_late_ticks_total",
		"stocklake_analyze_bars_total", "stocklake_analyze_provisional_bars_total", "stocklake_analyze_alerts_total",
		"stocklake_analyze_commits_total", "stocklake_analyze_aborts_total", "stocklake_analyze_commit_seconds_total",
		"stocklake_analyze_checkpoints_total", "stocklake_analyze_state_bytes_total", "stocklake_analyze_restores_total",
		"stocklake_analyze_watermark_seconds", "stocklake_analyze_partitions"}
	compactFamilies = []string{"stocklake_compact_passes_total", "stocklake_compact_files_rewritten_total", "stocklake_compact_bytes_rewritten_total",
		"stocklake_compact_snapshots_expired_total", "stocklake_compact_orphans_removed_total", "stocklake_compact_manifests_rewritten_total",
		"stocklake_compact_maintenance_passes_total"}
	dashboardFamilies = []string{"stocklake_board_bars_total", "stocklake_board_alerts_total", "stocklake_http_stream_clients"}
)

// TestCommandMetrics runs every command that serves /metrics (sink and
// analyze on --metrics-addr, serve and demo on --http) on an embedded
// broker and reads its /metrics: every family appears exactly once (one
// registry, each collector registered once), the Go and process
// collectors and the AWS retry counters are there, and so are the metrics
// of every component the command runs, with their labels.
func TestCommandMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four commands")
	}
	broker, err := kafka.StartBroker(kafka.BrokerConfig{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	with := func(lists ...[]string) []string {
		var all []string
		for _, l := range lists {
			all = append(all, l...)
		}
		return all
	}
	sinkSample := `stocklake_sink_records_total{table="ticks"} `
	analyzeSample := `stocklake_analyze_ticks_total{group="stocklake-analyze",input="ticks"} `
	awsSample := `stocklake_aws_retries_total{service="s3"} `
	for _, c := range []struct {
		name     string
		args     func(addr string) []string
		families []string
		samples  []string
	}{
		{"sink", func(addr string) []string {
			return []string{"sink", "--brokers", broker.Addr(), "--topic", "ticks", "--lake", "file://" + t.TempDir(), "--table-format", "hive", "--metrics-addr", addr}
		}, with(processFamilies, sinkFamilies), []string{sinkSample, awsSample}},
		{"analyze", func(addr string) []string {
			return []string{"analyze", "--brokers", broker.Addr(), "--in", "ticks", "--metrics-addr", addr}
		}, with(processFamilies, analyzeFamilies), []string{analyzeSample, awsSample}},
		{"serve", func(addr string) []string {
			return []string{"serve", "--brokers", broker.Addr(), "--http", addr, "--catalog", "", "--lake", ""}
		}, with(processFamilies, dashboardFamilies), []string{awsSample}},
		{"demo", func(addr string) []string {
			return []string{"demo", "--data", t.TempDir(), "--table-format", "hive", "--http", addr, "--rate", "100"}
		}, with(processFamilies, sinkFamilies, analyzeFamilies, dashboardFamilies, compactFamilies), []string{sinkSample, analyzeSample, awsSample}},
		{"maintain", func(addr string) []string {
			dir := t.TempDir()
			return []string{"maintain", "--lake", "file://" + dir + "/lake", "--catalog", "sqlite://" + dir + "/catalog.db", "--every", "1h", "--metrics-addr", addr}
		}, with(processFamilies, compactFamilies), []string{awsSample}},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := "127.0.0.1:" + strconv.Itoa(freePort(t, false))
			body := scrapeCommand(t, append(c.args(addr), "--log-level", "warn"), addr)
			types := map[string]int{}
			sc := bufio.NewScanner(strings.NewReader(body))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				if f := strings.Fields(sc.Text()); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
					types[f[2]]++
				}
			}
			for name, n := range types {
				if n != 1 {
					t.Errorf("%s: family %s is served %d times, want once", c.name, name, n)
				}
			}
			for _, name := range c.families {
				if types[name] != 1 {
					t.Errorf("%s: family %s is served %d times, want once", c.name, name, types[name])
				}
			}
			for _, s := range c.samples {
				if !strings.Contains(body, "\n"+s) {
					t.Errorf("%s: no sample %q", c.name, s)
				}
			}
			if t.Failed() {
				t.Logf("/metrics:\n%s", body)
			}
		})
	}
}

// scrapeCommand runs the command line args in this process until its
// /metrics on addr answers, returns that answer and stops the command.
func scrapeCommand(t *testing.T, args []string, addr string) string {
	t.Helper()
	root := rootCommand()
	if err := root.Parse(interspersed(root, args)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.Run(ctx) }()
	ended := false
	defer func() {
		cancel()
		if ended {
			return
		}
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("%s: %v", args[0], err)
			}
		case <-time.After(90 * time.Second):
			t.Errorf("%s did not stop within 90s of its context's end", args[0])
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-done:
			ended = true
			t.Fatalf("%s ended before serving /metrics: %v", args[0], err)
		default:
		}
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(b)
			}
			err = rerr
			if err == nil {
				err = errors.New(resp.Status)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /metrics on %s did not answer in 60s: %v", args[0], addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMetricsAddrPProfLoopback: through the command line, --pprof on a
// --metrics-addr that is not a loopback address is a configuration error
// (the endpoint has no token), before anything runs.
func TestMetricsAddrPProfLoopback(t *testing.T) {
	for _, args := range [][]string{
		{"sink", "--brokers", "127.0.0.1:1", "--lake", "file://" + t.TempDir(), "--metrics-addr", "0.0.0.0:0", "--pprof"},
		{"analyze", "--brokers", "127.0.0.1:1", "--metrics-addr", "0.0.0.0:0", "--pprof"},
	} {
		root := rootCommand()
		if err := root.Parse(args); err != nil {
			t.Fatal(err)
		}
		err := root.Run(context.Background())
		if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s: %v, want a configuration error about loopback", strings.Join(args, " "), err)
		}
	}
}
