// Package dashboard serves stocklake's web dashboard and JSON API: a live
// board of symbols fed from Kafka's bars and alerts topics (Source),
// candlestick charts with indicators and alerts, a SQL console over the
// lake, a catalog browser and the pipeline's health, plus Prometheus
// metrics on /metrics and probes on /healthz and /readyz.
//
// The API is described in openapi.yaml (served at /api/openapi.yaml). The
// front end is built from web/ into web/dist, which is embedded, so the
// binary needs no network at run time.
//
// Safety (docs/security.md has the threat model):
//   - Listen refuses an address other than a loopback one unless a bearer
//     token (at least MinTokenLength characters) is configured; with a token,
//     every /api, /metrics and /debug/pprof request must carry
//     "Authorization: Bearer TOKEN" (the scheme in any case). A token in the
//     query string is not accepted: browsers keep URLs in their history.
//   - On loopback, only loopback and localhost Host values (plus
//     Config.AllowedHosts) are served, against DNS rebinding.
//   - Requests that change something (POST, DELETE) are refused when they
//     come from another origin (Origin or Sec-Fetch-Site, with
//     net/http.CrossOriginProtection), and POST bodies must be
//     Content-Type: application/json, so a cross-site form cannot send one.
//   - Every answer forbids framing (CSP frame-ancestors 'none').
//   - Serve bounds connections, header and body read times, idle time and
//     event-stream clients.
//   - The console runs only read-only statements (query.CheckReadOnly) over
//     catalog tables and pure functions (stocklake.WithCatalogOnly), with
//     row, byte, time, scan and queue limits.
package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	nethttp "net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/internal/bearer"
	"github.com/stocklake/stocklake/internal/metrics"
	"github.com/stocklake/stocklake/query"
)

// Defaults of Config.
const (
	DefaultAddr         = "127.0.0.1:8080"
	DefaultMaxRows      = 10_000
	DefaultQueryTimeout = 5 * time.Minute
	DefaultPageSize     = 100
	MaxPageSize         = 1000
	DefaultDatabase     = stocklake.DefaultDatabase
	// DefaultMaxResultBytes fails a console query whose result CSV is larger.
	DefaultMaxResultBytes = 64 << 20
	// DefaultMaxQueued is how many console queries may wait for one of the
	// query.DefaultConcurrency (4) slots; more get 429.
	DefaultMaxQueued = 8
	// DefaultMaxBytesScanned fails a console query that would read more
	// from the lake.
	DefaultMaxBytesScanned = 10 << 30
	// MinTokenLength is the shortest bearer token accepted.
	MinTokenLength = 16
	// DefaultMaxConns caps open connections to the server.
	DefaultMaxConns = 256
	// DefaultMaxStreamClients caps clients of /api/stream.
	DefaultMaxStreamClients = 32
	// DefaultReadHeaderTimeout, DefaultReadTimeout and DefaultIdleTimeout
	// bound how long a client may take to send headers, a whole request,
	// and how long an idle keep-alive connection is kept.
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
)

// Config configures a Server. Every part is optional: endpoints whose part
// is missing answer 503 with a JSON error saying what to configure.
type Config struct {
	// Token, when set, is the bearer token every /api and /metrics request
	// must carry; at least MinTokenLength characters. Required to listen on
	// a non-loopback address.
	Token string
	// AllowedHosts are Host header values (names, without port) served
	// besides loopback addresses and localhost while the server listens on
	// loopback, e.g. a name that points at 127.0.0.1; "*" allows any. Off
	// loopback every Host is served (the token protects the server).
	AllowedHosts []string
	// MaxConns caps open connections; default DefaultMaxConns (256).
	MaxConns int
	// ReadHeaderTimeout, ReadTimeout and IdleTimeout bound a client's time
	// to send headers, to send a whole request, and an idle keep-alive
	// connection; defaults DefaultReadHeaderTimeout (10s),
	// DefaultReadTimeout (30s), DefaultIdleTimeout (2m).
	ReadHeaderTimeout, ReadTimeout, IdleTimeout time.Duration
	// MaxStreamClients caps clients of /api/stream; more get 503. Default
	// DefaultMaxStreamClients (32).
	MaxStreamClients int
	// PProf serves Go's profiler on /debug/pprof/ (behind the token, like
	// the API); default off.
	PProf bool
	// TLSCert and TLSKey, when both set, make Serve speak HTTPS with this
	// certificate and key (PEM files).
	TLSCert, TLSKey string

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
	// MaxRows caps the rows a console query returns (query.Config.MaxRows);
	// default 10,000.
	MaxRows int64
	// QueryTimeout fails a console query that runs longer; default 5 minutes.
	QueryTimeout time.Duration
	// MaxResultBytes fails a console query whose result (as CSV) is larger;
	// default DefaultMaxResultBytes (64 MiB).
	MaxResultBytes int64
	// MaxQueued is how many console queries may wait to run; more are
	// refused with 429. Default DefaultMaxQueued (8).
	MaxQueued int
	// MaxBytesScanned fails a console query that reads more; default
	// DefaultMaxBytesScanned (10 GiB), negative for no limit.
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
	// Tables reports the lake's tables (file counts, last maintenance)
	// for the health page; nil: not shown. It is called on every health
	// request: cache in it what is costly to find out.
	Tables func(ctx context.Context) ([]TableHealth, error)

	// Mounts are more handlers, each served under its path prefix (such as
	// "/iceberg/"; the prefix without its trailing slash is stripped from
	// the request path), behind the Host and cross-origin guards and
	// counted in the request metrics, but not behind the token or the JSON
	// body rule: a mounted handler checks what it needs itself (the
	// Iceberg REST catalog checks the same token). Default none.
	Mounts map[string]nethttp.Handler

	// Metrics is the process's registry, served on /metrics; the server
	// registers its own metrics (stocklake_http_*, stocklake_board_*) into
	// it. Components running in the process register theirs before or
	// after New. Default a new metrics.New() (Go and process collectors).
	Metrics *metrics.Registry
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

	// ctx outlives requests: console queries and crawls run in it.
	ctx    context.Context
	cancel context.CancelFunc

	crawlMu  sync.Mutex
	crawling bool
	ready    chan struct{}
	requests *prometheus.CounterVec
	handler  nethttp.Handler
	cop      *nethttp.CrossOriginProtection

	// public is set by Listen on a non-loopback address: every Host is
	// served then (the token guards the server).
	public  bool
	streams chan struct{} // one slot per /api/stream client
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
	if cfg.MaxResultBytes <= 0 {
		cfg.MaxResultBytes = DefaultMaxResultBytes
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	switch {
	case cfg.MaxBytesScanned == 0:
		cfg.MaxBytesScanned = DefaultMaxBytesScanned
	case cfg.MaxBytesScanned < 0:
		cfg.MaxBytesScanned = 0
	}
	if cfg.Topic == "" {
		cfg.Topic = stocklake.TopicTicks
	}
	if cfg.DLQTopic == "" {
		cfg.DLQTopic = stocklake.DeadLetterTopic(cfg.Topic)
	}
	if cfg.SinkGroup == "" {
		cfg.SinkGroup = stocklake.DefaultSinkGroup
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	if err := checkToken(cfg.Token); err != nil {
		return nil, err
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxStreamClients <= 0 {
		cfg.MaxStreamClients = DefaultMaxStreamClients
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, stocklake.SettingErr(fmt.Errorf("TLS needs both a certificate and a key: %w", stocklake.ErrConfig), "dashboard.Config.TLSCert", "dashboard.Config.TLSKey")
	}
	s := &Server{cfg: cfg, board: cfg.Board, log: cfg.Logger, ready: make(chan struct{}), streams: make(chan struct{}, cfg.MaxStreamClients)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.Store != nil {
		r, err := query.New(query.Config{Engine: cfg.Engine, EngineName: cfg.EngineName, Store: cfg.Store,
			Timeout: cfg.QueryTimeout, MaxBytesScanned: cfg.MaxBytesScanned, MaxRows: cfg.MaxRows, MaxResultBytes: cfg.MaxResultBytes,
			MaxQueued: cfg.MaxQueued, CatalogOnly: true, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		s.runner = r
	}
	s.probe = newProber(cfg.Kafka, cfg.Topic, cfg.DLQTopic, cfg.SinkGroup)
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stocklake_http_requests_total",
		Help: "HTTP requests served, by route and status code."}, []string{"route", "code"})
	b := s.board
	m := metrics.Funcs{Prefix: "stocklake_"}
	if err := metrics.Register(cfg.Metrics, s.requests,
		m.Counter("board_bars_total", "Bars received by the dashboard board.", b.bars.Load),
		m.Counter("board_alerts_total", "Alerts received by the dashboard board.", b.alertCount.Load),
		m.Gauge("http_stream_clients", "Clients connected to /api/stream.",
			func() float64 { b.subMu.Lock(); defer b.subMu.Unlock(); return float64(len(b.subs)) }),
	); err != nil {
		return nil, fmt.Errorf("dashboard: %w: %w", err, stocklake.ErrConfig)
	}
	s.routes()
	return s, nil
}

// Handler returns the server's handler: API, metrics, probes and the app,
// behind the Host, origin and framing guards.
func (s *Server) Handler() nethttp.Handler { return s.handler }

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

// checkToken refuses a token shorter than MinTokenLength.
func checkToken(token string) error {
	if token != "" && len(token) < MinTokenLength {
		return fmt.Errorf("the token has %d characters, want at least %d; make one with: openssl rand -hex 24: %w", len(token), MinTokenLength, stocklake.ErrConfig)
	}
	return nil
}

// CheckAddr returns an error wrapping stocklake.ErrConfig when addr is not a
// loopback address (127.0.0.0/8, ::1, localhost) and token is empty, or
// when the token is shorter than MinTokenLength.
func CheckAddr(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %v; write HOST:PORT such as %s: %w", addr, err, DefaultAddr, stocklake.ErrConfig)
	}
	if err := checkToken(token); err != nil {
		return err
	}
	if token != "" || metrics.IsLoopbackHost(host) {
		return nil
	}
	return stocklake.SettingErr(fmt.Errorf("refusing to serve on %s without a token: anyone who can reach it could read the lake; set a token, or bind 127.0.0.1: %w", addr, stocklake.ErrConfig), "dashboard.Config.Token")
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
	host, _, _ := net.SplitHostPort(addr)
	s.public = !metrics.IsLoopbackHost(host)
	return ln, nil
}

// Scheme is "https" when the server has a TLS certificate, else "http".
func (s *Server) Scheme() string {
	if s.cfg.TLSCert != "" {
		return "https"
	}
	return "http"
}

// Serve serves on ln until ctx is canceled, then shuts down gracefully. At
// most Config.MaxConns connections are open at once; a client has
// Config.ReadHeaderTimeout to send its headers and Config.ReadTimeout for
// the whole request; idle connections close after Config.IdleTimeout.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &nethttp.Server{Handler: s.handler, ReadHeaderTimeout: s.cfg.ReadHeaderTimeout, ReadTimeout: s.cfg.ReadTimeout,
		IdleTimeout: s.cfg.IdleTimeout, MaxHeaderBytes: 64 << 10, BaseContext: func(net.Listener) context.Context { return s.ctx },
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	ln = limitListener(ln, s.cfg.MaxConns)
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLSCert != "" {
			errc <- srv.ServeTLS(ln, s.cfg.TLSCert, s.cfg.TLSKey)
			return
		}
		errc <- srv.Serve(ln)
	}()
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

// authorized checks the bearer token, if one is configured: the
// Authorization header's scheme is matched in any case (RFC 9110). A token
// in the URL is not accepted.
func (s *Server) authorized(r *nethttp.Request) bool {
	return bearer.Authorized(r, s.cfg.Token)
}

// hostAllowed reports whether a request's Host may be served: any when the
// server listens off loopback, else loopback addresses, localhost (and
// *.localhost) and Config.AllowedHosts. It defeats DNS rebinding, where a
// web page's own name is made to resolve to 127.0.0.1.
func (s *Server) hostAllowed(hostport string) bool {
	if s.public {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, a := range s.cfg.AllowedHosts {
		if a == "*" || strings.EqualFold(strings.TrimSpace(a), host) {
			return true
		}
	}
	return false
}

// securityHeaders are sent with every answer: no framing (clickjacking),
// no MIME sniffing, no referrer leaving the page.
func securityHeaders(h nethttp.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// guard wraps the routes in the checks every request passes: Host (DNS
// rebinding), then cross-origin protection for POST and DELETE (CSRF).
func (s *Server) guard(next nethttp.Handler) nethttp.Handler {
	s.cop = nethttp.NewCrossOriginProtection()
	s.cop.SetDenyHandler(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		writeError(w, nethttp.StatusForbidden, "cross-origin request refused: this server takes changes only from its own pages (Origin "+r.Header.Get("Origin")+")")
	}))
	protected := s.cop.Handler(next)
	return nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		securityHeaders(w.Header())
		if !s.hostAllowed(r.Host) {
			writeError(w, nethttp.StatusMisdirectedRequest, fmt.Sprintf("host %q is not served here: open the dashboard at http://localhost or 127.0.0.1, or start the server with --allowed-hosts %s", r.Host, hostOnly(r.Host)))
			return
		}
		protected.ServeHTTP(w, r)
	})
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// jsonBody refuses a POST body that is not declared as JSON: browsers send
// text/plain, form and multipart bodies cross-site without asking, never
// application/json.
func jsonBody(w nethttp.ResponseWriter, r *nethttp.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, nethttp.StatusUnsupportedMediaType, "send the request with Content-Type: application/json")
		return false
	}
	return true
}

// limitListener accepts at most n connections at once; more wait in the
// kernel's backlog until one closes.
func limitListener(ln net.Listener, n int) net.Listener {
	return &limitedListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitedListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{} // closed by Close: a waiting Accept returns
	closeOnce sync.Once
}

func (l *limitedListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitedListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
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
	case errors.Is(err, query.ErrQueueFull):
		return nethttp.StatusTooManyRequests
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

// handle registers a route; protected routes check the token, POST bodies
// must be JSON. Panics in handlers are recovered into a JSON 500 without a
// stack trace.
func (s *Server) handle(pattern string, protected bool, h nethttp.HandlerFunc) {
	s.register(pattern, protected, true, h)
}

// register is handle, with the JSON body rule optional (mounts).
func (s *Server) register(pattern string, protected, jsonOnly bool, h nethttp.HandlerFunc) {
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
		if jsonOnly && r.Method == nethttp.MethodPost && !jsonBody(sw, r) {
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
	s.handle("GET /metrics", true, s.cfg.Metrics.Handler().ServeHTTP)
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
	if s.cfg.PProf {
		s.handle("GET /debug/pprof/", true, metrics.PProf)
	}
	s.handle("/api/", true, func(w nethttp.ResponseWriter, r *nethttp.Request) {
		writeError(w, nethttp.StatusNotFound, fmt.Sprintf("no API endpoint %s %s; see /api/openapi.yaml", r.Method, r.URL.Path))
	})
	for prefix, h := range s.cfg.Mounts {
		s.register(prefix, false, false, nethttp.StripPrefix(strings.TrimSuffix(prefix, "/"), h).ServeHTTP)
	}
	s.handle("/", false, s.static)
	s.handler = s.guard(s.mux)
}
