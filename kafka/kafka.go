// Package kafka connects stocklake to Apache Kafka (or any Kafka-protocol
// broker) with franz-go: client configuration, topic administration, a
// producer with back-pressure, and an embedded broker for the one-process
// default.
package kafka

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/stocklake/stocklake"
)

// Config says how to reach a Kafka cluster.
type Config struct {
	// Brokers are seed addresses, host:port. Required.
	Brokers []string
	// ClientID names this client in broker logs; default "stocklake".
	ClientID string
	// TLS enables TLS with the system's root certificates (as MSK requires).
	TLS bool
	// SASLMechanism is "", "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512".
	SASLMechanism string
	SASLUser      string
	SASLPassword  string
	// Logger receives the Kafka client's own logs at its level (warnings
	// and errors unless the logger is at debug level); nil: none.
	Logger *slog.Logger
}

// clientLogger adapts slog to franz-go's logger.
type clientLogger struct{ log *slog.Logger }

func (l clientLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case l.log.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelDebug
	case l.log.Enabled(ctx, slog.LevelInfo):
		return kgo.LogLevelWarn // the client's info logs are chatty
	case l.log.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	}
	return kgo.LogLevelError
}

func (l clientLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lvl = slog.LevelError
	case kgo.LogLevelWarn:
		lvl = slog.LevelWarn
	case kgo.LogLevelInfo:
		lvl = slog.LevelInfo
	}
	l.log.Log(context.Background(), lvl, msg, append([]any{"component", "kafka-client"}, keyvals...)...)
}

// ParseBrokers splits a comma-separated broker list and checks each address.
func ParseBrokers(s string) ([]string, error) {
	var out []string
	for _, b := range strings.Split(s, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		if !strings.Contains(b, ":") {
			return nil, fmt.Errorf("broker %q has no port; write host:port, e.g. 127.0.0.1:9092: %w", b, stocklake.ErrConfig)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no Kafka brokers given; pass --brokers host:port[,host:port] or set STOCKLAKE_BROKERS: %w", stocklake.ErrConfig)
	}
	return out, nil
}

// Opts returns the franz-go options shared by every client made from c.
func (c Config) Opts() ([]kgo.Opt, error) {
	if len(c.Brokers) == 0 {
		return nil, fmt.Errorf("no Kafka brokers given; pass --brokers host:port: %w", stocklake.ErrConfig)
	}
	id := c.ClientID
	if id == "" {
		id = "stocklake"
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(id),
		kgo.DialTimeout(10 * time.Second),
		kgo.RetryTimeout(2 * time.Minute),
	}
	if c.Logger != nil {
		opts = append(opts, kgo.WithLogger(clientLogger{c.Logger}))
	}
	if c.TLS {
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case "":
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("SASL mechanism %q is not supported; use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512: %w", c.SASLMechanism, stocklake.ErrConfig)
	}
	return opts, nil
}

// NewClient makes a franz-go client from c plus extra options.
func (c Config) NewClient(extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := c.Opts()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %v: %w", err, stocklake.ErrConfig)
	}
	return cl, nil
}

// Ping checks that the cluster answers within ctx, with an error that says
// which brokers were tried.
func Ping(ctx context.Context, cl *kgo.Client, brokers []string) error {
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("cannot reach Kafka at %s (%v); is the broker running? Start one with `stocklake broker` or scripts/kafka start: %w",
			strings.Join(brokers, ","), err, stocklake.ErrUnavailable)
	}
	return nil
}

// TopicSpec describes a topic to create on demand.
type TopicSpec struct {
	Name              string
	Partitions        int32 // default 3
	ReplicationFactor int16 // default -1: the broker's default
	Configs           map[string]string
}

// EnsureTopic creates a topic unless it exists, and returns its topic ID in
// Kafka's base64 form. An existing topic is left as it is.
func EnsureTopic(ctx context.Context, cl *kgo.Client, spec TopicSpec) (string, error) {
	adm := kadm.NewClient(cl)
	if spec.Partitions == 0 {
		spec.Partitions = 3
	}
	if spec.ReplicationFactor == 0 {
		spec.ReplicationFactor = -1
	}
	var cfg map[string]*string
	if len(spec.Configs) > 0 {
		cfg = make(map[string]*string, len(spec.Configs))
		for k, v := range spec.Configs {
			cfg[k] = &v
		}
	}
	resp, err := adm.CreateTopic(ctx, spec.Partitions, spec.ReplicationFactor, cfg, spec.Name)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return "", fmt.Errorf("create topic %q: %v: %w", spec.Name, err, stocklake.ErrUnavailable)
	}
	return TopicID(ctx, cl, spec.Name)
}

// TopicID returns the topic's ID (base64, as Kafka prints it). Object names
// in the lake include it so a re-created topic, whose offsets start again at
// 0, never overwrites older objects. Brokers that predate topic IDs yield
// "0".
func TopicID(ctx context.Context, cl *kgo.Client, topic string) (string, error) {
	adm := kadm.NewClient(cl)
	var lastErr error
	// A topic just created, or a broker just started, can take a while to
	// show the topic in its metadata; wait up to 30 seconds.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			lastErr = err
		} else if d, ok := md.Topics[topic]; ok && d.Err == nil {
			if d.ID == (kadm.TopicID{}) {
				return "0", nil
			}
			return base64.RawURLEncoding.EncodeToString(d.ID[:]), nil
		} else if ok {
			lastErr = d.Err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("topic %q: no metadata (%v); create it first or check --topic: %w", topic, lastErr, stocklake.ErrNotFound)
}
