package source

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stocklake/stocklake"
)

// This file holds a local WebSocket server that plays the recorded-style
// conversations under testdata/feeds/<feed>/ (see the README there), and
// the checks shared by the per-feed tests.

const feedFixtures = "../testdata/feeds"

type feedScript struct {
	Doc      string              `json:"doc"`
	Sessions []feedScriptSession `json:"sessions"`
	Stats    map[string]int64    `json:"stats"`
}

type feedScriptSession struct {
	Note       string            `json:"note"`
	HTTPStatus int               `json:"http_status"`
	Path       string            `json:"path"`
	Query      map[string]string `json:"query"`
	Steps      []feedScriptStep  `json:"steps"`
}

type feedScriptStep struct {
	Note   string          `json:"note"`
	Send   json.RawMessage `json:"send"`
	Raw    *string         `json:"raw"`
	Binary *string         `json:"binary"`
	Expect json.RawMessage `json:"expect"`
	Ping   bool            `json:"ping"`
	Stall  bool            `json:"stall"`
	Close  int             `json:"close"`
	Reason string          `json:"reason"`
	Drop   bool            `json:"drop"`
}

func loadFeedScript(t *testing.T, feed, name string) *feedScript {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(feedFixtures, feed, name))
	if err != nil {
		t.Fatal(err)
	}
	var s feedScript
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("%s/%s: %v", feed, name, err)
	}
	return &s
}

// scriptServer serves one script session per incoming connection.
type scriptServer struct {
	script *feedScript
	srv    *httptest.Server
	conns  atomic.Int32
	wg     sync.WaitGroup

	mu     sync.Mutex
	errs   []string
	client [][]string // messages received, per session
}

func newScriptServer(t *testing.T, s *feedScript) *scriptServer {
	ss := &scriptServer{script: s, client: make([][]string, len(s.Sessions))}
	ss.srv = httptest.NewServer(ss)
	t.Cleanup(ss.srv.Close)
	return ss
}

func (ss *scriptServer) errorf(format string, a ...any) {
	ss.mu.Lock()
	ss.errs = append(ss.errs, fmt.Sprintf(format, a...))
	ss.mu.Unlock()
}

// wsURL returns the server's address as a ws:// URL with path.
func (ss *scriptServer) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(ss.srv.URL, "http") + path
}

// finish waits for the sessions to end and fails t with what went wrong
// on the server side.
func (ss *scriptServer) finish(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() { ss.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("script server: a session did not end")
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, e := range ss.errs {
		t.Error("script server: " + e)
	}
}

// finishQuietly waits for the sessions to end, ignoring script mismatches.
func (ss *scriptServer) finishQuietly() {
	done := make(chan struct{})
	go func() { ss.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

func (ss *scriptServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ss.wg.Add(1)
	defer ss.wg.Done()
	n := int(ss.conns.Add(1)) - 1
	if n >= len(ss.script.Sessions) {
		http.Error(w, "no more sessions in the script", http.StatusServiceUnavailable)
		return
	}
	sess := &ss.script.Sessions[n]
	if sess.Path != "" && r.URL.Path != sess.Path {
		ss.errorf("session %d: path %q, want %q", n, r.URL.Path, sess.Path)
	}
	for k, v := range sess.Query {
		if got := r.URL.Query().Get(k); got != v {
			ss.errorf("session %d: query %s=%q, want %q", n, k, got, v)
		}
	}
	if sess.HTTPStatus != 0 {
		http.Error(w, http.StatusText(sess.HTTPStatus), sess.HTTPStatus)
		return
	}
	var deaf atomic.Bool
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OnPingReceived: func(context.Context, []byte) bool { return !deaf.Load() },
	})
	if err != nil {
		ss.errorf("session %d: accept: %v", n, err)
		return
	}
	defer c.CloseNow()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	msgs := make(chan []byte, 64)
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		defer close(msgs)
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			ss.mu.Lock()
			ss.client[n] = append(ss.client[n], string(b))
			ss.mu.Unlock()
			msgs <- b
		}
	}()
	go func() {
		<-gone // the client left: abort a step that waits for it
		cancel()
	}()
	for i, st := range sess.Steps {
		where := fmt.Sprintf("session %d step %d", n, i)
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		var err error
		switch {
		case st.Send != nil:
			var buf bytes.Buffer
			if err = json.Compact(&buf, st.Send); err == nil {
				err = c.Write(wctx, websocket.MessageText, buf.Bytes())
			}
		case st.Raw != nil:
			err = c.Write(wctx, websocket.MessageText, []byte(*st.Raw))
		case st.Binary != nil:
			err = c.Write(wctx, websocket.MessageBinary, []byte(*st.Binary))
		case st.Expect != nil:
			select {
			case b, ok := <-msgs:
				if !ok {
					err = fmt.Errorf("client left instead of sending %s", st.Expect)
				} else if !jsonMatches(st.Expect, b) {
					err = fmt.Errorf("client sent %s, want %s", b, st.Expect)
				}
			case <-wctx.Done():
				err = fmt.Errorf("client sent nothing, want %s", st.Expect)
			}
		case st.Ping:
			if err = c.Ping(wctx); err != nil {
				err = fmt.Errorf("client did not answer a ping: %w", err)
			}
		case st.Stall:
			deaf.Store(true)
			select {
			case <-gone:
			case <-wctx.Done():
				err = errors.New("client kept a silent connection for 5s")
			}
		case st.Close != 0:
			_ = c.Close(websocket.StatusCode(st.Close), st.Reason)
		case st.Drop:
			_ = c.CloseNow()
		default:
			err = errors.New("empty step")
		}
		wcancel()
		if err != nil {
			ss.errorf("%s: %v", where, err)
			return
		}
		if st.Stall || st.Close != 0 || st.Drop {
			return
		}
	}
	// The script is over: keep the connection until the client leaves.
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		ss.errorf("session %d: client did not leave", n)
	}
}

// jsonMatches reports whether got equals want, where a "*" in want
// matches any value.
func jsonMatches(want, got []byte) bool {
	var w, g any
	if json.Unmarshal(want, &w) != nil || json.Unmarshal(got, &g) != nil {
		return false
	}
	return jsonValueMatches(w, g)
}

func jsonValueMatches(w, g any) bool {
	if w == "*" {
		return true
	}
	switch w := w.(type) {
	case map[string]any:
		g, ok := g.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok || !jsonValueMatches(wv, gv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := g.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !jsonValueMatches(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(w, g)
}

// testFeedConfig returns cfg with short timings, so that reconnects,
// stalls and backoffs take milliseconds, and a logger writing to t.
func testFeedConfig(t *testing.T, cfg FeedConfig) FeedConfig {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&cfg.PingInterval, 100*time.Millisecond)
	set(&cfg.ReadTimeout, time.Second)
	set(&cfg.HandshakeTimeout, 2*time.Second)
	set(&cfg.InitialBackoff, 2*time.Millisecond)
	set(&cfg.MaxBackoff, 20*time.Millisecond)
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 10
	}
	cfg.Logger = slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return cfg
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// feedRunResult is what a scripted run produced.
type feedRunResult struct {
	feed    *Feed
	server  *scriptServer
	records []stocklake.Record
	events  []FeedEvent
	err     error
}

// feedRunOpts changes how runFeedScript runs.
type feedRunOpts struct {
	// emit, if set, is called after each record is collected; its error
	// is returned to the feed.
	emit func(stocklake.Record) error
	// ctx, if set, is the run's context.
	ctx context.Context
	// lenient skips the server-side checks, for runs that stop mid-script.
	lenient bool
}

// runFeedScript runs the feed name against the fixture until Run returns,
// with cfg's endpoint pointed at the script server.
func runFeedScript(t *testing.T, name, fixture string, cfg FeedConfig, opts ...feedRunOpts) *feedRunResult {
	var o feedRunOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	t.Helper()
	script := loadFeedScript(t, name, fixture)
	ss := newScriptServer(t, script)
	path := "/"
	for _, s := range script.Sessions {
		if s.Path != "" {
			path = s.Path
			break
		}
	}
	cfg = testFeedConfig(t, cfg)
	cfg.Endpoint = ss.wsURL(path)
	res := &feedRunResult{server: ss}
	var mu sync.Mutex
	cfg.OnEvent = func(e FeedEvent) {
		mu.Lock()
		res.events = append(res.events, e)
		mu.Unlock()
	}
	f, err := NewFeed(name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	res.feed = f
	parent := o.ctx
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, 20*time.Second)
	defer cancel()
	res.err = f.Run(ctx, func(r stocklake.Record) error {
		res.records = append(res.records, r)
		if o.emit != nil {
			return o.emit(r)
		}
		return nil
	})
	if errors.Is(res.err, context.DeadlineExceeded) {
		t.Fatalf("run did not finish: %d records, stats %+v", len(res.records), f.Stats())
	}
	if o.lenient {
		ss.finishQuietly()
	} else {
		ss.finish(t)
	}
	return res
}

// checkFeedSession runs <feed>/session.json and checks the records against
// <feed>/ticks.jsonl byte for byte, the record envelope, the absence of
// duplicate trades, and the counters against the script's stats.
func checkFeedSession(t *testing.T, name string, cfg FeedConfig) *feedRunResult {
	t.Helper()
	want := readTicksJSONL(t, filepath.Join(feedFixtures, name, "ticks.jsonl"))
	cfg.Count = int64(len(want))
	res := runFeedScript(t, name, "session.json", cfg)
	if res.err != nil {
		t.Fatalf("Run: %v", res.err)
	}
	if len(res.records) != len(want) {
		t.Fatalf("got %d records, want %d", len(res.records), len(want))
	}
	seen := map[string]bool{}
	for i, r := range res.records {
		if string(r.Value) != want[i] {
			t.Errorf("record %d:\n got %s\nwant %s", i, r.Value, want[i])
		}
		tick, err := stocklake.ParseTick(r.Value)
		if err != nil {
			t.Errorf("record %d does not parse back: %v", i, err)
			continue
		}
		if string(r.Key) != tick.Symbol {
			t.Errorf("record %d: key %q, want the symbol %q", i, r.Key, tick.Symbol)
		}
		if !r.Timestamp.Equal(tick.Time) {
			t.Errorf("record %d: timestamp %v, want the event time %v", i, r.Timestamp, tick.Time)
		}
		if len(r.Headers) != 1 || r.Headers[0].Key != "content-type" || string(r.Headers[0].Value) != stocklake.TickContentType {
			t.Errorf("record %d: headers %v, want one content-type %s", i, r.Headers, stocklake.TickContentType)
		}
		if tick.Source != name {
			t.Errorf("record %d: source %q, want %q", i, tick.Source, name)
		}
		id := tick.Symbol + "|" + tick.Exchange + "|" + tick.TradeID
		if seen[id] {
			t.Errorf("record %d: trade %s emitted twice", i, id)
		}
		seen[id] = true
	}
	checkFeedStats(t, res.feed.Stats(), res.server.script.Stats)
	if got, want := int(res.server.conns.Load()), len(res.server.script.Sessions); got != want {
		t.Errorf("client made %d connection attempts, want %d (one per script session)", got, want)
	}
	return res
}

func checkFeedStats(t *testing.T, got FeedStats, want map[string]int64) {
	t.Helper()
	v := reflect.ValueOf(got)
	for k, w := range want {
		f := v.FieldByName(k)
		if !f.IsValid() {
			t.Errorf("fixture stats: no counter %q", k)
			continue
		}
		if f.Int() != w {
			t.Errorf("stats %s = %d, want %d (all: %+v)", k, f.Int(), w, got)
		}
	}
}

func readTicksJSONL(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// eventsOf returns the events of kind k.
func eventsOf(evs []FeedEvent, k FeedEventKind) []FeedEvent {
	var out []FeedEvent
	for _, e := range evs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// checkRefused runs a fixture in which the provider rejects the key (or,
// for Binance, the subscription or the location) and checks that Run stops
// at once, without retrying, with an ErrConfig error that mentions each of
// mention (the environment variables, for a key).
func checkRefused(t *testing.T, name, fixture string, cfg FeedConfig, mention ...string) {
	t.Helper()
	res := runFeedScript(t, name, fixture, cfg)
	if res.err == nil {
		t.Fatal("Run returned nil after a refusal")
	}
	if !errors.Is(res.err, stocklake.ErrConfig) {
		t.Errorf("error %v does not wrap ErrConfig", res.err)
	}
	for _, m := range mention {
		if !strings.Contains(res.err.Error(), m) {
			t.Errorf("error %q does not mention %s", res.err, m)
		}
	}
	if n := res.server.conns.Load(); n != 1 {
		t.Errorf("client tried %d times, want 1: a refusal must not be retried", n)
	}
	if d := res.feed.Stats().Disconnects; d != 0 {
		t.Errorf("%d disconnects counted, want 0 (no retry)", d)
	}
	t.Logf("error: %v", res.err)
}
