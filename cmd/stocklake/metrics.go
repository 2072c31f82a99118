package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/internal/awsconfig"
	"github.com/stocklake/stocklake/sink"
)

// metricFactory makes Prometheus metrics that read live counters, named
// prefix+name and carrying constant labels.
type metricFactory struct {
	prefix string
	labels prometheus.Labels
}

func (m metricFactory) counter(name, help string, f func() int64) prometheus.Collector {
	return m.counterFloat(name, help, func() float64 { return float64(f()) })
}

func (m metricFactory) counterFloat(name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.prefix + name, Help: help, ConstLabels: m.labels}, f)
}

func (m metricFactory) gauge(name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: m.prefix + name, Help: help, ConstLabels: m.labels}, f)
}

func (m metricFactory) gaugeInt(name, help string, f func() int64) prometheus.Collector {
	return m.gauge(name, help, func() float64 { return float64(f()) })
}

// sinkCollector exposes a sink's counters as Prometheus metrics.
func sinkCollector(s *sink.Sink) []prometheus.Collector {
	st := s.Stats()
	m := metricFactory{prefix: "stocklake_sink_", labels: prometheus.Labels{"table": s.Table()}}
	return []prometheus.Collector{
		m.counter("records_total", "Records consumed from Kafka.", st.Records.Load),
		m.counter("rows_total", "Rows written to the lake and committed.", st.Rows.Load),
		m.counter("objects_total", "Objects written to the lake.", st.Objects.Load),
		m.counter("bytes_total", "Bytes written to the lake.", st.Bytes.Load),
		m.counter("dead_letters_total", "Records sent to the dead-letter topic.", st.DeadLetters.Load),
		m.counter("dead_letters_truncated_total", "Dead letters too large for the dead-letter topic, sent as a truncated copy.", st.DeadLettersTruncated.Load),
		m.gaugeInt("open_partitions", "Lake partitions (Parquet writers) open now.", st.OpenPartitions.Load),
		m.counter("commits_total", "Offset commits.", st.Commits.Load),
		m.counter("retries_total", "Writes or commits that failed and were retried.", st.Retries.Load),
		m.counter("commit_failures_total", "Offset commits that failed; their batches stay in the manifest and the commit is retried.", st.CommitFailures.Load),
		m.counter("fenced_batches_total", "Batches refused because another sink had taken the partition over (this sink was paused past its session); nothing of them was written.", st.Fenced.Load),
		m.gaugeInt("partitions", "Kafka partitions the sink owns.", st.Partitions.Load),
		m.gaugeInt("buffered_bytes", "Bytes of records buffered, not yet written.", st.Buffered.Load),
		m.gaugeInt("lag_records", "Records in the topic not yet consumed.", st.Lag.Load),
	}
}

// serveMetrics serves /metrics and /healthz on addr, and Go's profiler on
// /debug/pprof/ when pprofOn, until stop is called. The endpoint has no
// token, so the profiler (which shows the command line and can stall the
// process) is refused on an address other than a loopback one.
func serveMetrics(addr string, pprofOn bool, cs ...[]prometheus.Collector) (stop func(), err error) {
	if pprofOn {
		host, _, err := net.SplitHostPort(addr)
		if err != nil || !isLoopbackHost(host) {
			return nil, fmt.Errorf("--pprof on metrics address %s: the metrics endpoint has no token, so the profiler is served only on loopback; use --metrics-addr 127.0.0.1:PORT: %w", addr, stocklake.ErrConfig)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, svc := range []string{"s3", "glue", "athena"} {
		m := metricFactory{prefix: "stocklake_", labels: prometheus.Labels{"service": svc}}
		reg.MustRegister(m.counter("aws_retries_total", "AWS requests retried (by the SDK, with backoff) in this process.", func() int64 { return awsconfig.Retries(svc) }))
	}
	for _, c := range cs {
		reg.MustRegister(c...)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if pprofOn {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics address %s: %v: %w", addr, err, stocklake.ErrConfig)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("metrics server", "err", err)
		}
	}()
	slog.Info("serving metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// isLoopbackHost reports whether host is localhost or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
