package analyze

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/stocklake/stocklake"
)

// Webhook defaults.
const (
	DefaultWebhookQueue    = 1024
	DefaultWebhookTimeout  = 5 * time.Second
	DefaultWebhookTries    = 5
	DefaultWebhookBackoff  = 200 * time.Millisecond
	DefaultWebhookMaxDelay = 10 * time.Second
)

// WebhookHeaderAlertID is the request header carrying an alert's identity,
// rule/symbol/event-time-µs, so a receiver can drop repeated deliveries.
const WebhookHeaderAlertID = "Stocklake-Alert-Id"

// WebhookConfig configures a Webhook. Zero values take the defaults stated.
type WebhookConfig struct {
	// URL receives one HTTP POST per alert with the alert's wire-format
	// JSON (stocklake.Alert.AppendJSON) as the body. Required: http or https.
	URL string
	// Queue bounds the alerts waiting to be sent; when it is full the oldest
	// is dropped and counted. Default DefaultWebhookQueue (1024).
	Queue int
	// Timeout bounds one request. Default 5s.
	Timeout time.Duration
	// Tries is how many times one alert is tried (the first included) on a
	// network error, 408, 429 or 5xx answer, with exponential backoff and
	// jitter between tries. Other 4xx answers are not retried. Default 5.
	Tries int
	// Backoff is the first wait between tries, doubling up to MaxDelay.
	// Defaults 200ms and 10s.
	Backoff, MaxDelay time.Duration
	// Client sends the requests; default an http.Client without timeout
	// (Timeout applies per request).
	Client *http.Client
	// Logger for failed deliveries; default slog.Default().
	Logger *slog.Logger
}

// WebhookStats are a Webhook's counters.
type WebhookStats struct {
	Sent    int64 // alerts delivered (2xx)
	Failed  int64 // alerts given up after their tries or a 4xx answer
	Dropped int64 // alerts dropped because the queue was full
	Retries int64 // failed tries that were retried
	Queued  int   // alerts waiting now
}

// Webhook posts alerts to an HTTP endpoint from its own goroutine, so the
// stream never waits for it: Notify only queues, dropping the oldest alert
// when the queue is full. Delivery is at most once per Notify (an alert
// queued when the process dies is lost); the alerts topic is the durable
// record. Make one with NewWebhook, then Close it.
type Webhook struct {
	cfg WebhookConfig
	log *slog.Logger

	mu     sync.Mutex
	queue  []stocklake.Alert // ring buffer
	head   int
	n      int
	wake   chan struct{}
	closed bool

	sent, failed, dropped, retries atomic.Int64

	cancel context.CancelFunc
	done   chan struct{}
}

// RedactURL returns a webhook URL fit for logs and errors: scheme and host
// only. Webhook URLs carry their secret in the path or query (Slack's
// https://hooks.slack.com/services/T…/B…/SECRET), or in user info.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable URL, not shown)"
	}
	out := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		out += "/…"
	}
	return out
}

// NewWebhook checks cfg and starts the sender.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook URL %s: want http://HOST/PATH or https://HOST/PATH: %w", RedactURL(cfg.URL), stocklake.ErrConfig)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultWebhookQueue
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultWebhookTimeout
	}
	if cfg.Tries <= 0 {
		cfg.Tries = DefaultWebhookTries
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultWebhookBackoff
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = DefaultWebhookMaxDelay
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Webhook{
		cfg: cfg, log: cfg.Logger.With("component", "webhook", "url", RedactURL(cfg.URL)),
		queue: make([]stocklake.Alert, cfg.Queue), wake: make(chan struct{}, 1),
		cancel: cancel, done: make(chan struct{}),
	}
	go w.run(ctx)
	return w, nil
}

// Notify queues an alert for delivery and returns at once. When the queue
// is full the oldest queued alert is dropped (and counted in Dropped).
func (w *Webhook) Notify(a stocklake.Alert) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.dropped.Add(1)
		return
	}
	if w.n == len(w.queue) {
		w.queue[w.head] = stocklake.Alert{}
		w.head = (w.head + 1) % len(w.queue)
		w.n--
		w.dropped.Add(1)
	}
	w.queue[(w.head+w.n)%len(w.queue)] = a
	w.n++
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Stats returns the webhook's counters.
func (w *Webhook) Stats() WebhookStats {
	w.mu.Lock()
	q := w.n
	w.mu.Unlock()
	return WebhookStats{Sent: w.sent.Load(), Failed: w.failed.Load(), Dropped: w.dropped.Load(), Retries: w.retries.Load(), Queued: q}
}

// Close stops accepting alerts, keeps sending the queued ones until ctx is
// done, then stops the sender and returns.
func (w *Webhook) Close(ctx context.Context) {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		w.cancel()
		<-w.done
	}
}

func (w *Webhook) pop() (stocklake.Alert, bool, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == 0 {
		return stocklake.Alert{}, false, w.closed
	}
	a := w.queue[w.head]
	w.queue[w.head] = stocklake.Alert{}
	w.head = (w.head + 1) % len(w.queue)
	w.n--
	return a, true, false
}

func (w *Webhook) run(ctx context.Context) {
	defer close(w.done)
	defer w.cancel()
	for {
		a, ok, closed := w.pop()
		if !ok {
			if closed {
				return
			}
			select {
			case <-w.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		if err := w.deliver(ctx, &a); err != nil {
			w.failed.Add(1)
			if ctx.Err() != nil {
				return
			}
			w.log.Warn("alert not delivered to the webhook", "rule", a.Rule, "symbol", a.Symbol, "err", err)
		} else {
			w.sent.Add(1)
		}
	}
}

// deliver posts one alert, retrying as WebhookConfig.Tries says.
func (w *Webhook) deliver(ctx context.Context, a *stocklake.Alert) error {
	body := a.AppendJSON(nil)
	id := a.Rule + "/" + a.Symbol + "/" + strconv.FormatInt(a.Time.UnixMicro(), 10)
	exp := backoff.NewExponentialBackOff()
	exp.InitialInterval, exp.MaxInterval = w.cfg.Backoff, w.cfg.MaxDelay
	tries := 0
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		tries++
		if tries > 1 {
			w.retries.Add(1)
		}
		return struct{}{}, w.post(ctx, body, id)
	}, backoff.WithBackOff(exp), backoff.WithMaxTries(uint(w.cfg.Tries)), backoff.WithMaxElapsedTime(0))
	return err
}

func (w *Webhook) post(ctx context.Context, body []byte, id string) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return backoff.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(WebhookHeaderAlertID, id)
	req.Header.Set("User-Agent", "stocklake/"+stocklake.Version)
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // it quotes the whole URL
			ue.URL = RedactURL(ue.URL)
		}
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("webhook answered %s", resp.Status)
	default:
		return backoff.Permanent(errors.New("webhook answered " + resp.Status + "; check the URL and the receiver"))
	}
}
