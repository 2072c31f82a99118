package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/stocklake/stocklake"
)

// Live feed type names, as used by `stocklake produce --source`.
const (
	// BinanceType names the Binance public trade stream (no key needed).
	BinanceType = "binance"
	// AlpacaType names the Alpaca market data v2 stock stream.
	AlpacaType = "alpaca"
	// PolygonType names the Polygon.io (now Massive) stocks stream.
	PolygonType = "polygon"
	// FinnhubType names the Finnhub trade stream.
	FinnhubType = "finnhub"
)

// FeedTypes lists the live feeds NewFeed accepts.
var FeedTypes = []string{BinanceType, AlpacaType, PolygonType, FinnhubType}

// Feed defaults; see FeedConfig.
const (
	DefaultFeedPingInterval     = 20 * time.Second
	DefaultFeedReadTimeout      = 60 * time.Second
	DefaultFeedHandshakeTimeout = 10 * time.Second
	DefaultFeedInitialBackoff   = 500 * time.Millisecond
	DefaultFeedMaxBackoff       = 30 * time.Second
	DefaultFeedDedupWindow      = 1024
)

// feedReadLimit bounds one WebSocket message. Polygon's official client
// allows 1 MB; a wildcard subscription can batch many trades in one frame.
const feedReadLimit = 4 << 20

// FeedConfig configures a live Feed. Symbols is required; everything else
// has a default.
type FeedConfig struct {
	// Symbols to subscribe to, as the provider spells them: AAPL for the
	// stock feeds, BINANCE:BTCUSDT for Finnhub crypto, btcusdt for Binance
	// (case does not matter for Alpaca, Polygon and Binance). Polygon and
	// Alpaca accept "*" for every symbol.
	Symbols []string
	// Endpoint overrides the provider's WebSocket URL (ws:// or wss://),
	// for tests, another data plan or a regional host. Default: the
	// provider's public endpoint, see each feed's doc.
	Endpoint string
	// Key overrides the API key from the provider's environment variable
	// (APCA_API_KEY_ID, POLYGON_API_KEY, FINNHUB_API_KEY). Binance needs none.
	Key string
	// Secret overrides APCA_API_SECRET_KEY; only Alpaca uses a secret.
	Secret string
	// Logger receives connection, subscription, gap and error messages.
	// Default: discard.
	Logger *slog.Logger
	// OnEvent, if set, is called synchronously from Run for every
	// connection, subscription, disconnect, gap, duplicate, malformed frame
	// and provider error. It must not block for long.
	OnEvent func(FeedEvent)
	// Count stops the run after this many ticks. Default 0: unbounded.
	Count int64
	// Duration stops the run after this much wall-clock time. Default 0:
	// no limit.
	Duration time.Duration
	// PingInterval is how long a connection may be quiet before the client
	// pings the server. Default DefaultFeedPingInterval (20s).
	PingInterval time.Duration
	// ReadTimeout is how long a connection may go without any frame (data,
	// ping or pong) before it is presumed dead and replaced. Default
	// DefaultFeedReadTimeout (60s).
	ReadTimeout time.Duration
	// HandshakeTimeout bounds dialling plus authentication and subscription.
	// Default DefaultFeedHandshakeTimeout (10s).
	HandshakeTimeout time.Duration
	// InitialBackoff is the first reconnect delay; each failed attempt
	// doubles it up to MaxBackoff, with jitter (the wait is between half
	// and all of the current step). Default DefaultFeedInitialBackoff (500ms).
	InitialBackoff time.Duration
	// MaxBackoff caps the reconnect delay. Default DefaultFeedMaxBackoff (30s).
	MaxBackoff time.Duration
	// MaxAttempts makes Run give up (with an error wrapping
	// stocklake.ErrUnavailable) after this many consecutive failed
	// connection attempts. Default 0: retry forever.
	MaxAttempts int
	// DedupWindow is how many recent trade ids are remembered per symbol to
	// drop duplicates, e.g. trades a server replays after a reconnect, on
	// feeds whose ids are not sequential. Default DefaultFeedDedupWindow (1024).
	DedupWindow int
}

// FeedEventKind says what a FeedEvent reports.
type FeedEventKind string

// Feed event kinds.
const (
	// FeedConnected: a WebSocket connection is open.
	FeedConnected FeedEventKind = "connected"
	// FeedSubscribed: authentication and subscription succeeded; trades flow.
	FeedSubscribed FeedEventKind = "subscribed"
	// FeedDisconnected: the connection (or an attempt) ended; Err says why,
	// Delay how long until the next attempt, Attempt which attempt that is.
	FeedDisconnected FeedEventKind = "disconnected"
	// FeedGap: trade ids of Symbol were skipped (sequential ids only, i.e.
	// Binance); Missing says how many, FromID and ToID the first and last.
	FeedGap FeedEventKind = "gap"
	// FeedDuplicate: a trade of Symbol with TradeID was seen before and dropped.
	FeedDuplicate FeedEventKind = "duplicate"
	// FeedMalformed: a frame or trade could not be used and was skipped; Err says why.
	FeedMalformed FeedEventKind = "malformed"
	// FeedServerError: the provider reported an error or limit (Code, Message),
	// e.g. a connection limit or rate limit.
	FeedServerError FeedEventKind = "server_error"
	// FeedCorrection: the provider corrected or cancelled an earlier trade
	// (Alpaca); the correction is logged, not applied.
	FeedCorrection FeedEventKind = "correction"
)

// FeedEvent is one thing that happened to a live feed's connection.
type FeedEvent struct {
	Feed    string
	Kind    FeedEventKind
	Time    time.Time
	Symbol  string
	TradeID string
	// Gap: number of trade ids skipped and the first and last of them.
	Missing      int64
	FromID, ToID string
	// Server errors: the provider's code (0 if it has none) and message.
	Code    int
	Message string
	Err     error
	// Disconnects: the attempt about to be made and the wait before it.
	Attempt int
	Delay   time.Duration
}

// FeedStats are a Feed's counters since it was created.
type FeedStats struct {
	Connects     int64 // WebSocket connections opened
	Subscribes   int64 // successful subscription handshakes
	Disconnects  int64 // connections or attempts that ended with an error
	Trades       int64 // ticks emitted
	Duplicates   int64 // trades dropped as already seen
	Gaps         int64 // jumps in sequential trade ids
	Missing      int64 // trade ids skipped across all gaps
	Malformed    int64 // frames or trades skipped as unusable
	ServerErrors int64 // error and limit messages from the provider
	Heartbeats   int64 // pings received from the server (WebSocket or JSON)
	Corrections  int64 // trade corrections and cancels received
}

// Feed is a live market-data source: a WebSocket client for one provider
// that authenticates, subscribes to trades, keeps the connection alive and
// normalises every trade into a stocklake.Tick.
//
// Each record has Key = symbol, Value = the tick's wire-format JSON
// (stocklake.Tick.AppendJSON, source = the feed name), a content-type
// header of stocklake.TickContentType, and Timestamp = event time.
//
// Robustness: the client answers WebSocket pings, pings a quiet server
// itself and replaces a connection that shows no frame for ReadTimeout.
// After a disconnect it reconnects with jittered exponential backoff and
// subscribes again. Trades a server repeats are dropped (by sequential id
// on Binance, otherwise by a per-symbol window of recent ids) and skipped
// sequential ids are reported as gaps. Malformed frames are counted, logged
// and skipped. A rejected key ends Run with an error naming the environment
// variable; rate and connection limits are logged and retried.
//
// Prices and sizes are parsed with strconv.ParseFloat from the exact
// decimal text the provider sent (a string on Binance, the JSON number's
// literal elsewhere), so the float64 is the one nearest that decimal and
// AppendJSON writes the same decimal back (trailing zeros dropped) for any
// value of up to 15 significant digits.
//
// Run must not be called concurrently on one Feed (providers limit
// connections per key); Stats accumulate across runs.
type Feed struct {
	name  string
	cfg   FeedConfig
	proto feedProtocol
	log   *slog.Logger
	seed  maphash.Seed

	connects, subscribes, disconnects, trades, duplicates, gaps, missing,
	malformed, serverErrors, heartbeats, corrections atomic.Int64
}

var _ stocklake.Source = (*Feed)(nil)

// feedProtocol is one provider's wire protocol. A protocol value keeps the
// state of the current connection and is reset by open.
type feedProtocol interface {
	// dialURL returns the address to connect to, with the key when the
	// provider takes it in the URL.
	dialURL() (string, error)
	// open is called when a connection is up, before any frame is read.
	open(s *feedSession) error
	// frame handles one message from the server.
	frame(s *feedSession, b []byte) error
}

// feedSpec describes a provider for NewFeed.
type feedSpec struct {
	endpoint  string // default WebSocket URL
	keyEnv    string // environment variable of the key; "" if none is needed
	secretEnv string // environment variable of the secret; "" if none is needed
	maxAge    time.Duration
	symbols   func([]string) ([]string, error) // normalises and checks symbols
	newProto  func(f *Feed) feedProtocol
}

func feedSpecFor(name string) (feedSpec, bool) {
	switch name {
	case BinanceType:
		return binanceSpec, true
	case AlpacaType:
		return alpacaSpec, true
	case PolygonType:
		return polygonSpec, true
	case FinnhubType:
		return finnhubSpec, true
	}
	return feedSpec{}, false
}

// NewFeed validates cfg, fills in its defaults, reads the provider's key
// from its environment variable unless cfg.Key is set, and returns the
// feed called name: one of FeedTypes. Errors wrap stocklake.ErrConfig and
// name the variable to set when a key is missing.
func NewFeed(name string, cfg FeedConfig) (*Feed, error) {
	spec, ok := feedSpecFor(name)
	if !ok {
		return nil, fmt.Errorf("unknown live feed %q, want one of %s: %w", name, strings.Join(FeedTypes, ", "), stocklake.ErrConfig)
	}
	bad := func(format string, a ...any) (*Feed, error) {
		return nil, fmt.Errorf(name+": "+format+": %w", append(a, stocklake.ErrConfig)...)
	}
	switch {
	case len(cfg.Symbols) == 0:
		return nil, stocklake.SettingErr(fmt.Errorf("%s: no symbols: name at least one, e.g. %s: %w", name, exampleSymbols(name), stocklake.ErrConfig), "source.FeedConfig.Symbols")
	case cfg.Count < 0:
		return bad("count is %d, want >= 0 (0 for unbounded)", cfg.Count)
	case cfg.Duration < 0:
		return bad("duration is %v, want >= 0 (0 for no limit)", cfg.Duration)
	case cfg.PingInterval < 0, cfg.ReadTimeout < 0, cfg.HandshakeTimeout < 0, cfg.InitialBackoff < 0, cfg.MaxBackoff < 0:
		return bad("timeouts and backoffs must be >= 0 (0 for the defaults)")
	case cfg.MaxAttempts < 0:
		return bad("max attempts is %d, want >= 0 (0 to retry forever)", cfg.MaxAttempts)
	case cfg.DedupWindow < 0:
		return bad("dedup window is %d, want >= 0 (0 for the default %d)", cfg.DedupWindow, DefaultFeedDedupWindow)
	}
	syms, err := spec.symbols(cfg.Symbols)
	if err != nil {
		return bad("%v", err)
	}
	cfg.Symbols = syms
	if cfg.Endpoint == "" {
		cfg.Endpoint = spec.endpoint
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("endpoint %q is not a ws:// or wss:// URL", cfg.Endpoint)
	}
	if spec.keyEnv != "" && cfg.Key == "" {
		cfg.Key = strings.TrimSpace(os.Getenv(spec.keyEnv))
	}
	if spec.secretEnv != "" && cfg.Secret == "" {
		cfg.Secret = strings.TrimSpace(os.Getenv(spec.secretEnv))
	}
	switch {
	case spec.keyEnv != "" && spec.secretEnv != "" && (cfg.Key == "" || cfg.Secret == ""):
		return bad("no API key: set %s and %s", spec.keyEnv, spec.secretEnv)
	case spec.keyEnv != "" && cfg.Key == "":
		return bad("no API key: set %s", spec.keyEnv)
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = DefaultFeedPingInterval
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = DefaultFeedReadTimeout
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = DefaultFeedHandshakeTimeout
	}
	if cfg.InitialBackoff == 0 {
		cfg.InitialBackoff = DefaultFeedInitialBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = DefaultFeedMaxBackoff
	}
	if cfg.MaxBackoff < cfg.InitialBackoff {
		cfg.MaxBackoff = cfg.InitialBackoff
	}
	if cfg.DedupWindow == 0 {
		cfg.DedupWindow = DefaultFeedDedupWindow
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Feed{name: name, cfg: cfg, log: log.With("feed", name), seed: maphash.MakeSeed()}
	f.proto = spec.newProto(f)
	return f, nil
}

func exampleSymbols(name string) string {
	switch name {
	case BinanceType:
		return "btcusdt,ethusdt"
	case FinnhubType:
		return "AAPL,BINANCE:BTCUSDT"
	}
	return "AAPL,MSFT"
}

// Name returns the feed's type name, e.g. "binance".
func (f *Feed) Name() string { return f.name }

// DefaultTopic returns "ticks".
func (f *Feed) DefaultTopic() string { return stocklake.TopicTicks }

// Symbols returns the subscribed symbols as sent to the provider.
func (f *Feed) Symbols() []string { return append([]string(nil), f.cfg.Symbols...) }

// Config returns the configuration with defaults filled in.
func (f *Feed) Config() FeedConfig { return f.cfg }

// Stats returns the feed's counters.
func (f *Feed) Stats() FeedStats {
	return FeedStats{
		Connects: f.connects.Load(), Subscribes: f.subscribes.Load(), Disconnects: f.disconnects.Load(),
		Trades: f.trades.Load(), Duplicates: f.duplicates.Load(), Gaps: f.gaps.Load(), Missing: f.missing.Load(),
		Malformed: f.malformed.Load(), ServerErrors: f.serverErrors.Load(), Heartbeats: f.heartbeats.Load(),
		Corrections: f.corrections.Load(),
	}
}

func (f *Feed) event(e FeedEvent) {
	if f.cfg.OnEvent == nil {
		return
	}
	e.Feed = f.name
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	f.cfg.OnEvent(e)
}

// feedError is a connection-ending error with how to go on.
type feedError struct {
	err        error
	fatal      bool          // do not reconnect: Run returns err
	retryAfter time.Duration // wait at least this long before reconnecting
}

func (e *feedError) Error() string { return e.err.Error() }
func (e *feedError) Unwrap() error { return e.err }

// fatalf returns an error that ends Run; it wraps stocklake.ErrConfig.
func fatalf(format string, a ...any) error {
	return &feedError{err: fmt.Errorf(format+": %w", append(a, stocklake.ErrConfig)...), fatal: true}
}

// settingFatalf is fatalf for an error that setting (a FeedConfig field)
// can fix: a stocklake.SettingError.
func settingFatalf(setting, format string, a ...any) error {
	e := fatalf(format, a...).(*feedError)
	e.err = stocklake.SettingErr(e.err, setting)
	return e
}

// authError is the error for a rejected key: it names where the key came
// from so the user knows what to fix.
func (f *Feed) authError(detail string) error {
	spec, _ := feedSpecFor(f.name)
	var where string
	switch {
	case spec.secretEnv != "":
		where = fmt.Sprintf("check %s and %s", spec.keyEnv, spec.secretEnv)
	default:
		where = fmt.Sprintf("check %s", spec.keyEnv)
	}
	if f.cfg.Key != strings.TrimSpace(os.Getenv(spec.keyEnv)) {
		where += fmt.Sprintf(" (the key in use came from the configuration, not from %s)", spec.keyEnv)
	}
	return settingFatalf("source.FeedConfig.Key", "%s rejected the API key (%s): %s", f.name, detail, where)
}

// emitError carries an error from emit, which Run returns unchanged.
type emitError struct{ err error }

func (e *emitError) Error() string { return e.err.Error() }

// errFeedDone ends a session once Count ticks are out.
var errFeedDone = errors.New("count reached")

// feedSymbol is the per-symbol state of a run.
type feedSymbol struct {
	key     []byte // record key, shared by the symbol's records
	lastSeq int64  // last sequential trade id (Binance)
	haveSeq bool
	ring    []uint64 // recent id hashes, oldest at pos once full
	pos     int
	seen    map[uint64]struct{}
}

// feedRun is the state of one Run.
type feedRun struct {
	f       *Feed
	emit    func(stocklake.Record) error
	headers []stocklake.Header
	symbols map[string]*feedSymbol
	values  slab
	count   int64
}

func (r *feedRun) symbol(name string) *feedSymbol {
	st := r.symbols[name]
	if st == nil {
		st = &feedSymbol{key: []byte(name)}
		r.symbols[name] = st
	}
	return st
}

// remember reports whether h was seen among the symbol's last window ids,
// and records it if not.
func (st *feedSymbol) remember(h uint64, window int) bool {
	if st.seen == nil {
		st.seen = make(map[uint64]struct{})
	}
	if _, ok := st.seen[h]; ok {
		return true
	}
	if len(st.ring) < window {
		st.ring = append(st.ring, h)
	} else {
		delete(st.seen, st.ring[st.pos])
		st.ring[st.pos] = h
		st.pos = (st.pos + 1) % window
	}
	st.seen[h] = struct{}{}
	return false
}

// Run connects, subscribes and emits ticks until Count ticks were emitted or
// Duration elapsed (returning nil), ctx is done (returning ctx.Err()), emit
// fails (returning its error unchanged), the provider rejects the key or
// the subscription (returning an error wrapping stocklake.ErrConfig) or
// MaxAttempts consecutive attempts failed (wrapping stocklake.ErrUnavailable).
// Connection losses in between are repaired by reconnecting.
func (f *Feed) Run(ctx context.Context, emit func(stocklake.Record) error) error {
	r := &feedRun{
		f: f, emit: emit,
		headers: []stocklake.Header{{Key: "content-type", Value: []byte(stocklake.TickContentType)}},
		symbols: make(map[string]*feedSymbol),
	}
	runCtx := ctx
	if f.cfg.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, f.cfg.Duration)
		defer cancel()
	}
	stopped := func() (bool, error) {
		if ctx.Err() != nil {
			return true, ctx.Err()
		}
		if runCtx.Err() != nil {
			return true, nil // Duration elapsed
		}
		return false, nil
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	failures := 0
	for {
		healthy, err := r.session(runCtx)
		if errors.Is(err, errFeedDone) {
			return nil
		}
		var ee *emitError
		if errors.As(err, &ee) {
			return ee.err
		}
		if stop, err := stopped(); stop {
			return err
		}
		var fe *feedError
		if errors.As(err, &fe) && fe.fatal {
			f.log.Error("giving up", "err", err)
			return fe.err
		}
		if healthy {
			failures = 0
		}
		failures++
		f.disconnects.Add(1)
		if f.cfg.MaxAttempts > 0 && failures >= f.cfg.MaxAttempts {
			f.log.Error("giving up", "attempts", failures, "err", err)
			return fmt.Errorf("%s: %d connection attempts in a row failed, the last with: %w: %w", f.name, failures, err, stocklake.ErrUnavailable)
		}
		delay := f.backoff(failures, rand.Float64())
		if fe != nil && fe.retryAfter > delay {
			delay = fe.retryAfter
		}
		f.log.Warn("disconnected; reconnecting", "err", err, "attempt", failures, "in", delay)
		f.event(FeedEvent{Kind: FeedDisconnected, Err: err, Attempt: failures, Delay: delay})
		if err := sleepUntil(runCtx, &timer, time.Now().Add(delay)); err != nil {
			_, err := stopped()
			return err
		}
	}
}

// backoff returns the wait before attempt n (1-based): the step doubles
// from InitialBackoff up to MaxBackoff, and the wait is drawn between half
// the step and the whole step (jitter j in [0,1)), so that many clients
// cut off together do not come back together.
func (f *Feed) backoff(n int, j float64) time.Duration {
	step := f.cfg.InitialBackoff
	for i := 1; i < n && step < f.cfg.MaxBackoff; i++ {
		step *= 2
	}
	if step > f.cfg.MaxBackoff {
		step = f.cfg.MaxBackoff
	}
	return step/2 + time.Duration(j*float64(step/2))
}

// feedSession is one WebSocket connection.
type feedSession struct {
	r          *feedRun
	f          *Feed
	conn       *websocket.Conn
	ctx        context.Context
	started    time.Time
	lastFrame  atomic.Int64 // UnixNano of the last frame of any kind
	subscribed atomic.Bool
	trades     int64
}

// session dials, lets the protocol authenticate and subscribe, and reads
// frames until the connection ends. healthy reports whether it got as far
// as streaming, so that backoff starts over.
func (r *feedRun) session(ctx context.Context) (healthy bool, err error) {
	f := r.f
	s := &feedSession{r: r, f: f}
	u, err := f.proto.dialURL()
	if err != nil {
		return false, &feedError{err: err, fatal: true}
	}
	touch := func() { s.lastFrame.Store(time.Now().UnixNano()) }
	opts := &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool {
			touch()
			f.heartbeats.Add(1)
			return true // the library answers with a pong carrying the same payload
		},
		OnPongReceived: func(context.Context, []byte) { touch() },
	}
	dctx, cancel := context.WithTimeout(ctx, f.cfg.HandshakeTimeout)
	conn, resp, err := websocket.Dial(dctx, u, opts)
	cancel()
	if err != nil {
		return false, f.dialError(resp, err)
	}
	conn.SetReadLimit(feedReadLimit)
	s.conn, s.started = conn, time.Now()
	touch()
	f.connects.Add(1)
	f.log.Info("connected", "endpoint", redactURL(f.cfg.Endpoint))
	f.event(FeedEvent{Kind: FeedConnected})

	sctx, scancel := context.WithCancelCause(ctx)
	s.ctx = sctx
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.watchdog(sctx, scancel)
	}()
	defer func() {
		scancel(nil)
		_ = conn.CloseNow()
		wg.Wait()
		healthy = s.subscribed.Load() && (s.trades > 0 || time.Since(s.started) >= f.cfg.MaxBackoff)
	}()

	if err := f.proto.open(s); err != nil {
		return false, err
	}
	for {
		typ, b, err := conn.Read(sctx)
		if err != nil {
			if ctx.Err() == nil {
				if cause := context.Cause(sctx); cause != nil && !errors.Is(cause, context.Canceled) {
					err = cause
				}
			}
			return false, f.readError(err)
		}
		touch()
		if typ != websocket.MessageText {
			// All four providers send JSON text; a binary frame is malformed.
			s.malformed("binary frame where JSON text was expected", b)
			continue
		}
		if err := f.proto.frame(s, b); err != nil {
			if errors.Is(err, errFeedDone) {
				_ = conn.Close(websocket.StatusNormalClosure, "")
			}
			return false, err
		}
	}
}

// watchdog pings a quiet connection, replaces a dead one and enforces the
// handshake timeout and the provider's connection age limit.
func (s *feedSession) watchdog(ctx context.Context, cancel context.CancelCauseFunc) {
	cfg := &s.f.cfg
	tick := min(cfg.PingInterval, cfg.ReadTimeout, cfg.HandshakeTimeout) / 4
	tick = max(tick, 5*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	spec, _ := feedSpecFor(s.f.name)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if !s.subscribed.Load() && now.Sub(s.started) > cfg.HandshakeTimeout {
			cancel(fmt.Errorf("no subscription confirmation within %v", cfg.HandshakeTimeout))
			return
		}
		if spec.maxAge > 0 && now.Sub(s.started) > spec.maxAge {
			cancel(fmt.Errorf("connection is %v old; %s closes connections after 24h, so reconnecting now", spec.maxAge, s.f.name))
			return
		}
		idle := now.Sub(time.Unix(0, s.lastFrame.Load()))
		if idle >= cfg.ReadTimeout {
			cancel(fmt.Errorf("no data, ping or pong for %v: connection presumed dead", idle.Round(time.Millisecond)))
			return
		}
		if idle >= cfg.PingInterval {
			pctx, pcancel := context.WithTimeout(ctx, cfg.ReadTimeout-idle)
			_ = s.conn.Ping(pctx) // a pong updates lastFrame; a missing one shows up as idleness
			pcancel()
		}
	}
}

// dialError classifies a failed dial: a rejected key or a bad request ends
// the run, a rate limit waits for Retry-After, anything else is retried.
func (f *Feed) dialError(resp *http.Response, err error) error {
	err = redactError(err, f.cfg.Key)
	if resp == nil {
		return &feedError{err: fmt.Errorf("connecting to %s: %w", redactURL(f.cfg.Endpoint), err)}
	}
	status := resp.StatusCode
	spec, _ := feedSpecFor(f.name)
	switch {
	case (status == http.StatusUnauthorized || status == http.StatusForbidden) && spec.keyEnv != "":
		return f.authError(fmt.Sprintf("HTTP %d %s", status, http.StatusText(status)))
	case status == http.StatusUnavailableForLegalReasons || status == http.StatusForbidden:
		// Binance answers 451 to connections from countries it does not serve.
		if f.name == BinanceType {
			return settingFatalf("source.FeedConfig.Endpoint", "%s refused the connection from this location with HTTP %d %s; from the US use the endpoint wss://stream.binance.us:9443/stream",
				f.name, status, http.StatusText(status))
		}
		return fatalf("%s refused the connection from this location with HTTP %d %s", f.name, status, http.StatusText(status))
	case status == http.StatusTooManyRequests || status == 418: // 418: Binance's IP ban after too many 429s
		wait := retryAfter(resp.Header.Get("Retry-After"))
		msg := fmt.Sprintf("HTTP %d %s: too many connections or requests", status, http.StatusText(status))
		f.serverError(status, msg)
		return &feedError{err: fmt.Errorf("%s rate-limited the connection (%s)", f.name, msg), retryAfter: wait}
	case status == http.StatusBadRequest || status == http.StatusNotFound:
		return fatalf("%s refused the connection with HTTP %d %s: check the endpoint %s and the symbols", f.name, status, http.StatusText(status), redactURL(f.cfg.Endpoint))
	}
	return &feedError{err: fmt.Errorf("connecting to %s: HTTP %d: %w", redactURL(f.cfg.Endpoint), status, err)}
}

func retryAfter(h string) time.Duration {
	if secs, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	return 0
}

// readError describes why reading stopped.
func (f *Feed) readError(err error) error {
	if code := websocket.CloseStatus(err); code != -1 {
		var ce websocket.CloseError
		errors.As(err, &ce)
		return &feedError{err: fmt.Errorf("server closed the connection: %d %s", code, ce.Reason)}
	}
	return &feedError{err: redactError(err, f.cfg.Key)}
}

// send writes v as a JSON text frame.
func (s *feedSession) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.f.cfg.HandshakeTimeout)
	defer cancel()
	if err := s.conn.Write(ctx, websocket.MessageText, b); err != nil {
		return &feedError{err: fmt.Errorf("sending to %s: %w", s.f.name, redactError(err, s.f.cfg.Key))}
	}
	return nil
}

// setSubscribed marks the handshake as done.
func (s *feedSession) setSubscribed() {
	if s.subscribed.Swap(true) {
		return
	}
	s.f.subscribes.Add(1)
	s.f.log.Info("subscribed", "symbols", len(s.f.cfg.Symbols))
	s.f.event(FeedEvent{Kind: FeedSubscribed})
}

// heartbeat counts an application-level ping from the server.
func (s *feedSession) heartbeat() { s.f.heartbeats.Add(1) }

// malformed counts and logs a frame or trade that cannot be used. Logging
// is sampled so that a broken stream does not flood the log.
func (s *feedSession) malformed(reason string, b []byte) {
	n := s.f.malformed.Add(1)
	if n <= 10 || n%1000 == 0 {
		s.f.log.Warn("skipping malformed message", "reason", reason, "frame", excerpt(b), "malformed_so_far", n)
	}
	s.f.event(FeedEvent{Kind: FeedMalformed, Err: fmt.Errorf("%s: %w", reason, stocklake.ErrInvalid), Message: excerpt(b)})
}

func (s *feedSession) serverError(code int, msg string) { s.f.serverError(code, msg) }

func (f *Feed) serverError(code int, msg string) {
	f.serverErrors.Add(1)
	f.log.Warn("provider reported an error", "code", code, "message", msg)
	f.event(FeedEvent{Kind: FeedServerError, Code: code, Message: msg})
}

func excerpt(b []byte) string {
	const n = 200
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// trade validates t and emits it, unless it repeats a trade already
// emitted; raw is the provider's message, for the log. seq >= 0 is a sequential per-symbol trade id (Binance): ids at or
// below the last one are duplicates and jumps are gaps. Otherwise dedupKey
// identifies the trade within its symbol.
func (s *feedSession) trade(t *stocklake.Tick, dedupKey string, seq int64, raw []byte) error {
	f, r := s.f, s.r
	t.Source = f.name
	if err := t.Validate(); err != nil {
		s.malformed(err.Error(), raw)
		return nil
	}
	st := r.symbol(t.Symbol)
	if seq >= 0 {
		if st.haveSeq {
			switch {
			case seq <= st.lastSeq:
				s.duplicate(t)
				return nil
			case seq > st.lastSeq+1:
				n := seq - st.lastSeq - 1
				from, to := strconv.FormatInt(st.lastSeq+1, 10), strconv.FormatInt(seq-1, 10)
				f.gaps.Add(1)
				f.missing.Add(n)
				f.log.Warn("trade ids skipped", "symbol", t.Symbol, "missing", n, "from", from, "to", to)
				f.event(FeedEvent{Kind: FeedGap, Symbol: t.Symbol, Missing: n, FromID: from, ToID: to})
			}
		}
		st.lastSeq, st.haveSeq = seq, true
	} else if st.remember(maphash.String(f.seed, dedupKey), f.cfg.DedupWindow) {
		s.duplicate(t)
		return nil
	}
	size := 160 + 6*(len(t.Symbol)+len(t.TradeID)+len(t.Exchange)+len(t.Source))
	for _, c := range t.Conditions {
		size += 6*len(c) + 3
	}
	start := r.values.reserve(size)
	r.values.buf = t.AppendJSON(r.values.buf)
	rec := stocklake.Record{Key: st.key, Value: r.values.take(start), Headers: r.headers, Timestamp: t.Time}
	if err := r.emit(rec); err != nil {
		return &emitError{err: err}
	}
	s.trades++
	f.trades.Add(1)
	r.count++
	if f.cfg.Count > 0 && r.count >= f.cfg.Count {
		return errFeedDone
	}
	return nil
}

func (s *feedSession) duplicate(t *stocklake.Tick) {
	s.f.duplicates.Add(1)
	s.f.log.Debug("dropping duplicate trade", "symbol", t.Symbol, "trade_id", t.TradeID)
	s.f.event(FeedEvent{Kind: FeedDuplicate, Symbol: t.Symbol, TradeID: t.TradeID})
}

// priceSize parses a trade's price and size texts (feedDecimal); a bad
// one is reported as malformed, naming "price" or sizeName, and ok is
// false.
func (s *feedSession) priceSize(raw []byte, price, size, sizeName string) (p, sz float64, ok bool) {
	p, err := feedDecimal(price)
	if err != nil {
		s.malformed("price: "+err.Error(), raw)
		return 0, 0, false
	}
	if sz, err = feedDecimal(size); err != nil {
		s.malformed(sizeName+": "+err.Error(), raw)
		return 0, 0, false
	}
	return p, sz, true
}

// feedDecimal parses the exact decimal text of a price or size, as sent by
// the provider (a JSON string or a JSON number's literal), with
// strconv.ParseFloat. Only plain decimal notation is accepted: no hex,
// Inf, NaN or underscores.
func feedDecimal(s string) (float64, error) {
	if s == "" {
		return 0, errors.New("missing")
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
		default:
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	if digits == 0 {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	return v, nil
}

// feedEpoch converts an integer Unix timestamp whose unit the provider
// leaves open (Polygon documents milliseconds on its stream and
// nanoseconds in its REST API) to a time truncated to microseconds, by
// magnitude: below 1e14 it is milliseconds, below 1e17 microseconds,
// otherwise nanoseconds. Every date from 1973 to 5138 is read correctly.
func feedEpoch(n int64) time.Time {
	switch {
	case n < 1e14:
		return time.UnixMicro(n * 1000).UTC()
	case n < 1e17:
		return time.UnixMicro(n).UTC()
	}
	return time.UnixMicro(n / 1000).UTC()
}

// feedSymbolList trims the symbols, applies norm, drops repeats and checks
// that each is non-empty and free of spaces and commas.
func feedSymbolList(in []string, norm func(string) string) ([]string, error) {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		s = norm(strings.TrimSpace(s))
		if s == "" {
			return nil, errors.New("empty symbol")
		}
		if strings.ContainsAny(s, " \t\r\n,\"\\") {
			return nil, fmt.Errorf("symbol %q has a space, comma, quote or backslash", s)
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// redactURL drops the query string (Finnhub's token) from a URL for logs.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(endpoint)"
	}
	u.RawQuery, u.User = "", nil
	return u.String()
}

// redactedError is err with the API key blanked out of its message; net/http
// errors quote the URL, which carries Finnhub's token.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redactError(err error, key string) error {
	if err == nil || key == "" || !strings.Contains(err.Error(), key) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), key, "REDACTED"), err: err}
}
