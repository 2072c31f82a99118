package analyze

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

// lockedBuffer is a log sink safe for the sender's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestWebhookURLRedacted: a webhook URL carries its secret in the path
// (Slack) or query; neither logs nor errors may show it.
func TestWebhookURLRedacted(t *testing.T) {
	const secret = "XXXXsecretXXXX"
	for _, bad := range []string{"ftp://hooks.example/services/T0/B0/" + secret, "hooks.example/services/" + secret, "https:///" + secret} {
		_, err := NewWebhook(WebhookConfig{URL: bad})
		if err == nil {
			t.Fatalf("NewWebhook(%q) accepted it", bad)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("NewWebhook error shows the secret: %v", err)
		}
	}
	// A receiver that refuses connections: the delivery error names the URL.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for _, u := range []string{"http://" + addr + "/services/T0/B0/" + secret, "http://" + addr + "/hook?token=" + secret, "http://user:" + secret + "@" + addr + "/"} {
		wh, err := NewWebhook(WebhookConfig{URL: u, Tries: 1, Backoff: time.Millisecond, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		wh.Notify(stocklake.Alert{Rule: "r", Symbol: "AAPL", Kind: stocklake.AlertMove, Time: time.Now()})
		for wh.Stats().Failed == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		wh.Close(context.Background())
	}
	out := logs.String()
	if !strings.Contains(out, "not delivered") || !strings.Contains(out, addr) {
		t.Fatalf("expected delivery failures naming the host in the log, got:\n%s", out)
	}
	if strings.Contains(out, secret) {
		t.Errorf("the log shows the webhook secret:\n%s", out)
	}
}
