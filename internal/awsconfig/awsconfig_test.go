package awsconfig

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestRetriesAreLogged(t *testing.T) {
	var buf bytes.Buffer
	cfg, err := Load(context.Background(), Options{Service: "s3", Region: "us-east-1", AccessKey: "a", SecretKey: "b",
		MaxRetries: 2, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	before := Retries("s3")
	r := cfg.Retryer()
	if r.MaxAttempts() != 3 {
		t.Errorf("MaxAttempts = %d, want 3 (2 retries)", r.MaxAttempts())
	}
	if _, err := r.RetryDelay(1, errors.New("dial tcp 127.0.0.1:9000: connect: connection refused")); err != nil {
		t.Fatal(err)
	}
	if got := Retries("s3") - before; got != 1 {
		t.Errorf("Retries(s3) grew by %d, want 1", got)
	}
	out := buf.String()
	for _, want := range []string{"retrying AWS request", "service=s3", "attempt=1", "connection refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
}

func TestBadEndpoint(t *testing.T) {
	_, err := Load(context.Background(), Options{Service: "s3", Endpoint: "127.0.0.1:9000"})
	if err == nil || !strings.Contains(err.Error(), "not an http:// or https:// URL") {
		t.Errorf("Load with a bare host:port endpoint = %v, want a message that asks for a URL", err)
	}
}
