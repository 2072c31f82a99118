// Package metrics owns a process's one Prometheus registry and serves it.
//
// New registers the Go runtime and process collectors, once per registry.
// Components declare their own metrics beside their code and register them
// into the registry they are given (sink.Sink.RegisterMetrics,
// analyze.Analyzer.RegisterMetrics, awsconfig.RegisterMetrics, the
// dashboard's dashboard.New), as franz-go's plugin/kprom does. The registry is
// served on /metrics either by the dashboard (dashboard.New, behind its token)
// or, for commands without one, by Registry.Serve on --metrics-addr.
package metrics

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
)

// Registry is a process's Prometheus registry: Go and process collectors
// plus whatever components register into it. Make one with New.
type Registry struct {
	*prometheus.Registry
}

// New returns a registry holding the Go runtime and process collectors.
func New() *Registry {
	r := &Registry{prometheus.NewRegistry()}
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Handler serves the registry in the Prometheus text format (/metrics).
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.Registry, promhttp.HandlerOpts{})
}

// Register registers every collector of cs into reg, stopping at the first
// that cannot be (its name and labels are taken, or it is malformed). It
// is for components' RegisterMetrics methods.
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register metrics: %w (a component registered twice into one registry?)", err)
		}
	}
	return nil
}

// Funcs makes metrics whose value is read from a function at scrape time,
// named Prefix+name and carrying the constant Labels. Components use it to
// expose their atomic counters.
type Funcs struct {
	Prefix string
	Labels prometheus.Labels
}

// Counter is a counter read from f.
func (m Funcs) Counter(name, help string, f func() int64) prometheus.Collector {
	return m.CounterFloat(name, help, func() float64 { return float64(f()) })
}

// CounterFloat is a counter read from f.
func (m Funcs) CounterFloat(name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.Prefix + name, Help: help, ConstLabels: m.Labels}, f)
}

// Gauge is a gauge read from f.
func (m Funcs) Gauge(name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: m.Prefix + name, Help: help, ConstLabels: m.Labels}, f)
}

// GaugeInt is a gauge read from f.
func (m Funcs) GaugeInt(name, help string, f func() int64) prometheus.Collector {
	return m.Gauge(name, help, func() float64 { return float64(f()) })
}

// PProf serves Go's profiler (net/http/pprof) under /debug/pprof/: the
// index, named profiles, cmdline, profile, symbol and trace.
func PProf(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/debug/pprof/") {
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Index(w, r)
	}
}

// ErrPProfOffLoopback is wrapped by Serve's error when the profiler is asked
// for on an address that is not a loopback one.
var ErrPProfOffLoopback = errors.New("the metrics endpoint has no token, so the profiler is served only on a loopback address")

// Serve serves the registry on /metrics and a liveness probe on /healthz at
// addr (host:port; port 0 picks a free one), and Go's profiler on
// /debug/pprof/ when withPProf, until stop is called. The endpoint has no
// token, so the profiler (which shows the command line and can stall the
// process) is refused on an address other than a loopback one (127.0.0.0/8,
// ::1, localhost). Errors wrap stocklake.ErrConfig. listening is the
// address it listens on.
func (r *Registry) Serve(addr string, withPProf bool, log *slog.Logger) (listening string, stop func(), err error) {
	if log == nil {
		log = slog.Default()
	}
	if withPProf {
		host, _, err := net.SplitHostPort(addr)
		if err != nil || !IsLoopbackHost(host) {
			return "", nil, fmt.Errorf("profiler on metrics address %s: %w: %w", addr, ErrPProfOffLoopback, stocklake.ErrConfig)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", r.Handler())
	if withPProf {
		mux.HandleFunc("/debug/pprof/", PProf)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics address %s: %w: %w", addr, err, stocklake.ErrConfig)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	listening = ln.Addr().String()
	log.Info("serving metrics", "addr", "http://"+listening+"/metrics")
	return listening, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// IsLoopbackHost reports whether host (a name or an IP, IPv6 with or
// without brackets) is localhost, in any case, or a loopback IP
// (127.0.0.0/8, ::1). The commands and the dashboard use it for every
// "loopback only without a token" rule.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
