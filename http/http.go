// Package http serves stocklake's web dashboard and JSON API: a live board
// of symbols, candlestick charts with indicators and alerts, a SQL console
// over the lake, a catalog browser and the pipeline's health, plus
// Prometheus metrics on /metrics and probes on /healthz and /readyz.
//
// The API is described in openapi.yaml (served at /api/openapi.yaml). The
// front end is built from web/ into web/dist, which is embedded, so the
// binary needs no network at run time.
//
// Safety: Listen refuses an address other than a loopback one unless a
// bearer token is configured; with a token, every /api and /metrics request
// must carry "Authorization: Bearer TOKEN" (or access_token=TOKEN in the
// query string, for EventSource and download links). The console runs only
// read-only statements (query.CheckReadOnly), with row and time limits.
package http

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	nethttp "net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/query"
)

// Defaults of Config.
const (
	DefaultAddr         = "127.0.0.1:8080"
	DefaultMaxRows      = 10_000
	DefaultQueryTimeout = 5 * time.Minute
	DefaultPageSize     = 100
	MaxPageSize         = 1000
	DefaultDatabase     = "stocklake"
)

// Config configures a Server. Every part is optional: endpoints whose part
// is missing answer 503 with a JSON error saying what to configure.
type Config struct {
	// Token, when set, is the bearer token every /api and /metrics request
	// must carry. Required to listen on a non-loopback address.
	Token string

	// Board holds the live state; default a new empty Board.
	Board *Board
	// Source feeds Board while the server runs (see Run); nil: none.
	Source Source

	// Catalog is browsed by /api/catalog; crawl history comes from it when
	// it implements stocklake.CrawlLog.
	Catalog stocklake.Catalog
	// Database is the default catalog database; default "stocklake".
	Database string
	// Crawl runs a crawl now, for POST /api/crawl; nil disables it.
	Crawl func(ctx context.Context) (stocklake.CrawlRun, error)

	// Engine runs console queries; results and history go to Store.
	Engine     stocklake.Engine
	EngineName string
	Store      stocklake.ObjectStore
	// MaxRows caps the rows a console query returns; default 10,000.
	MaxRows int64
	// QueryTimeout fails a console query that runs longer; default 5 minutes.
	QueryTimeout time.Duration
	// MaxBytesScanned fails a console query that reads more; default 0, no limit.
	MaxBytesScanned int64

	// Kafka, when set, is used to measure consumer lag, tick rates and
	// dead letters of Topic (default "ticks"), its dead-letter topic
	// (default "<Topic>.dlq") and SinkGroup (default "stocklake-sink").
	Kafka     *kgo.Client
	Topic     string
	DLQTopic  string
	SinkGroup string
	// Sink reports a sink running in this process; nil: none.
	Sink func() SinkStats

	// Collectors are registered on /metrics besides the server's own and
	// the Go and process collectors.
	Collectors []prometheus.Collector
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Server is the dashboard and API. Make one with New; use Handler in
// tests, or Listen and Serve.
type Server struct {
	cfg    Config
	board  *Board
	runner *query.Runner
	log    *slog.Logger
	probe  *prober
	mux    *nethttp.ServeMux
	reg    *prometheus.Registry

	// ctx outlives requests: console queries and crawls run in it.
	ctx    context.Context
	cancel context.CancelFunc

	crawlMu  sync.Mutex
	crawling bool
	ready    chan struct{}
	requests *prometheus.CounterVec
}

// New returns a Server for cfg. Call Close when done.
func New(cfg Config) (*Server, error) {
	if cfg.Board == nil {
		cfg.Board = NewBoard(0, 0)
	}
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	if cfg.MaxRows <= 0 {
		cfg.MaxRows = DefaultMaxRows
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	if cfg.Topic == "" {
		cfg.Topic = "ticks"
	}
	if cfg.DLQTopic == "" {
		cfg.DLQTopic = cfg.Topic + ".dlq"
	}
	if cfg.SinkGroup == "" {
		cfg.SinkGroup = "stocklake-sink"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, board: cfg.Board, log: cfg.Logger, ready: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.Store != nil {
		var eng stocklake.Engine
		if cfg.Engine != nil {
			eng = &limitEngine{Engine: cfg.Engine, max: cfg.MaxRows}
		}
		r, err := query.New(query.Config{Engine: eng, EngineName: cfg.EngineName, Store: cfg.Store,
			Timeout: cfg.QueryTimeout, MaxBytesScanned: cfg.MaxBytesScanned, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		s.runner = r
	}
	s.probe = newProber(cfg.Kafka, cfg.Topic, cfg.DLQTopic, cfg.SinkGroup)
	s.reg = prometheus.NewRegistry()
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stocklake_http_requests_total",
		Help: "HTTP requests served, by route and status code."}, []string{"route", "code"})
	b := s.board
	cs := []prometheus.Collector{
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), s.requests,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stocklake_board_bars_total", Help: "Bars received by the dashboard board."},
			func() float64 { return float64(b.bars.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "stocklake_board_alerts_total", Help: "Alerts received by the dashboard board."},
			func() float64 { return float64(b.alertCount.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stocklake_http_stream_clients", Help: "Clients connected to /api/stream."},
			func() float64 { b.subMu.Lock(); defer b.subMu.Unlock(); return float64(len(b.subs)) }),
	}
	for _, c := range append(cs, cfg.Collectors...) {
		if err := s.reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %v: %w", err, stocklake.ErrConfig)
		}
	}
	s.routes()
	return s, nil
}

// Handler returns the server's handler: API, metrics, probes and the app.
func (s *Server) Handler() nethttp.Handler { return s.mux }

// Run feeds the board from Config.Source until ctx is canceled, retrying
// after errors; it marks the server ready once started. Without a source
// it marks ready and waits.
func (s *Server) Run(ctx context.Context) error {
	s.markReady()
	if s.cfg.Source == nil {
		<-ctx.Done()
		return nil
	}
	for {
		err := s.cfg.Source.Run(ctx, s.board)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.board.SetError(err)
			s.log.Warn("dashboard source failed; retrying in 5s", "source", s.cfg.Source.Name(), "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Second):
		}
	}
}

func (s *Server) markReady() {
	select {
	case <-s.ready:
	default:
		close(s.ready)
	}
}

// Close cancels running console queries and crawls.
func (s *Server) Close() error {
	s.cancel()
	return nil
}

// CheckAddr returns an error wrapping stocklake.ErrConfig when addr is not a
// loopback address (127.0.0.0/8, ::1, localhost) and token is empty.
func CheckAddr(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %v; write HOST:PORT such as %s: %w", addr, err, DefaultAddr, stocklake.ErrConfig)
	}
	if token != "" || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("refusing to serve on %s without a token: anyone who can reach it could read the lake; set --token (or STOCKLAKE_TOKEN), or bind 127.0.0.1: %w", addr, stocklake.ErrConfig)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Listen checks the address against the token rule (CheckAddr) and listens.
func (s *Server) Listen(addr string) (net.Listener, error) {
	if err := CheckAddr(addr, s.cfg.Token); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %v; pick another address: %w", addr, err, stocklake.ErrConfig)
	}
	return ln, nil
}

// Serve serves on ln until ctx is canceled, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &nethttp.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return s.ctx }}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.cancel() // ends event streams
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// authorized checks the bearer token, if one is configured.
func (s *Server) authorized(r *nethttp.Request) bool {
	if s.cfg.Token == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		got = r.URL.Query().Get("access_token")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) == 1
}

// apiError is the JSON body of every error answer.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w nethttp.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	if err := enc.Encode(v); err != nil {
		slog.Debug("write response", "err", err)
	}
}

func writeError(w nethttp.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

// statusOf maps an error to an HTTP status by its sentinel.
func statusOf(err error) int {
	switch {
	case errors.Is(err, stocklake.ErrNotFound):
		return nethttp.StatusNotFound
	case errors.Is(err, stocklake.ErrInvalid), errors.Is(err, stocklake.ErrScanLimit):
		return nethttp.StatusBadRequest
	case errors.Is(err, stocklake.ErrExists):
		return nethttp.StatusConflict
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, stocklake.ErrUnavailable):
		return nethttp.StatusServiceUnavailable
	}
	return nethttp.StatusInternalServerError
}

// statusWriter records the status for metrics.
type statusWriter struct {
	nethttp.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = nethttp.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(nethttp.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() nethttp.ResponseWriter { return w.ResponseWriter }

// handle registers a route; protected routes check the token. Panics in
// handlers are recovered into a JSON 500 without a stack trace.
func (s *Server) handle(pattern string, protected bool, h nethttp.HandlerFunc) {
	route := pattern
	s.mux.HandleFunc(pattern, func(w nethttp.ResponseWriter, r *nethttp.Request) {
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == nethttp.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("http handler panicked", "route", route, "panic", fmt.Sprint(v))
				if sw.code == 0 {
					writeError(sw, nethttp.StatusInternalServerError, "internal error; see the server log")
				}
			}
			s.requests.WithLabelValues(route, fmt.Sprint(sw.code)).Inc()
		}()
		if protected && !s.authorized(r) {
			sw.Header().Set("WWW-Authenticate", `Bearer realm="stocklake"`)
			writeError(sw, nethttp.StatusUnauthorized, "missing or wrong bearer token; send Authorization: Bearer TOKEN")
			return
		}
		h(sw, r)
	})
}

func (s *Server) routes() {
	s.mux = nethttp.NewServeMux()
	s.handle("GET /healthz", false, func(w nethttp.ResponseWriter, _ *nethttp.Request) {
		writeJSON(w, 200, map[string]string{"status": "ok"})
	})
	s.handle("GET /readyz", false, s.readyz)
	s.handle("GET /metrics", true, promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}).ServeHTTP)
	s.handle("GET /api/openapi.yaml", false, s.openapi)
	s.handle("GET /api/config", false, s.config)
	s.handle("GET /api/symbols", true, s.symbols)
	s.handle("GET /api/bars", true, s.bars)
	s.handle("GET /api/alerts", true, s.alerts)
	s.handle("GET /api/stream", true, s.stream)
	s.handle("POST /api/query", true, s.startQuery)
	s.handle("GET /api/query/{id}", true, s.getQuery)
	s.handle("GET /api/query/{id}/csv", true, s.queryCSV)
	s.handle("DELETE /api/query/{id}", true, s.cancelQuery)
	s.handle("GET /api/queries", true, s.queries)
	s.handle("GET /api/catalog/databases", true, s.databases)
	s.handle("GET /api/catalog/tables", true, s.tables)
	s.handle("GET /api/catalog/tables/{db}/{name}", true, s.table)
	s.handle("GET /api/crawls", true, s.crawls)
	s.handle("POST /api/crawl", true, s.crawl)
	s.handle("GET /api/health", true, s.health)
	s.handle("/api/", true, func(w nethttp.ResponseWriter, r *nethttp.Request) {
		writeError(w, nethttp.StatusNotFound, fmt.Sprintf("no API endpoint %s %s; see /api/openapi.yaml", r.Method, r.URL.Path))
	})
	s.handle("/", false, s.static)
}
