package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stocklake/stocklake/internal/awsconfig"
	"github.com/stocklake/stocklake/internal/metrics"
)

// newMetrics returns the process's one registry: the Go and process
// collectors and the AWS SDK's retry counters. Every command that serves
// /metrics makes it once; components register their own metrics into it.
func newMetrics() *metrics.Registry {
	reg := metrics.New()
	if err := awsconfig.RegisterMetrics(reg); err != nil {
		panic(err) // a fresh registry holds no AWS metrics yet
	}
	return reg
}

// metricsFlags are --metrics-addr and --pprof of the commands without a
// dashboard (sink, analyze).
type metricsFlags struct {
	addr  string
	pprof bool
}

func (f *metricsFlags) register(fs *flag.FlagSet, example string) {
	fs.StringVar(&f.addr, "metrics-addr", "", `serve Prometheus metrics on this address, e.g. `+example+` ("" disables)`)
	fs.BoolVar(&f.pprof, "pprof", false, "also serve Go's profiler on --metrics-addr under /debug/pprof/ (loopback addresses only: the endpoint has no token)")
}

// serve registers the components' metrics (their RegisterMetrics methods)
// into a new process registry and serves it on --metrics-addr until stop
// is called. Without --metrics-addr it does nothing.
func (f *metricsFlags) serve(log *slog.Logger, components ...func(prometheus.Registerer) error) (stop func(), err error) {
	if f.addr == "" {
		return func() {}, nil
	}
	reg := newMetrics()
	for _, register := range components {
		if err := register(reg); err != nil {
			return nil, err
		}
	}
	_, stop, err = reg.Serve(f.addr, f.pprof, log)
	if err != nil {
		hint := "give a free HOST:PORT, e.g. --metrics-addr 127.0.0.1:PORT"
		if errors.Is(err, metrics.ErrPProfOffLoopback) {
			hint = "use --metrics-addr 127.0.0.1:PORT, or drop --pprof"
		}
		return nil, fmt.Errorf("--metrics-addr: %w; %s", err, hint)
	}
	return stop, nil
}
