// Package kafka connects stocklake to Apache Kafka (or any Kafka-protocol
// broker) with franz-go: client configuration, topic administration, a
// producer with back-pressure, and an embedded broker for the one-process
// default.
package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	awssasl "github.com/twmb/franz-go/pkg/sasl/aws"
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
	// TLS enables TLS, verifying the brokers with the system's root
	// certificates (as MSK needs) or TLSCAFile. Default off.
	TLS bool
	// TLSCAFile is a PEM file of the certificate authorities the brokers'
	// certificates must chain to instead of the system's; it implies TLS.
	// Default "": the system's roots.
	TLSCAFile string
	// SASLMechanism is "" (no authentication, the default), "PLAIN",
	// "SCRAM-SHA-256", "SCRAM-SHA-512" or "AWS_MSK_IAM" (Amazon MSK's IAM
	// access control, with credentials from MSKIAM; needs TLS).
	SASLMechanism string
	// SASLUser and SASLPassword are the PLAIN and SCRAM credentials.
	SASLUser     string
	SASLPassword string
	// AllowPlaintextSASL permits SASL PLAIN without TLS, which sends the
	// password in clear text; default false (refused).
	AllowPlaintextSASL bool
	// MSKIAM returns the AWS credentials AWS_MSK_IAM signs with, e.g. the
	// instance role's; it is called for each connection and must return
	// fresh ones. Required for AWS_MSK_IAM.
	MSKIAM func(context.Context) (awssasl.Auth, error)
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
		return nil, stocklake.SettingErr(fmt.Errorf("no Kafka brokers given; want host:port[,host:port]: %w", stocklake.ErrConfig), "kafka.Config.Brokers")
	}
	return out, nil
}

// SASL mechanism names Config.SASLMechanism accepts.
const (
	SASLPlain     = "PLAIN"
	SASLScram256  = "SCRAM-SHA-256"
	SASLScram512  = "SCRAM-SHA-512"
	SASLAWSMSKIAM = "AWS_MSK_IAM"
)

// Validate checks that c's security settings make sense together: a known
// SASL mechanism with the credentials it needs, no credentials without a
// mechanism, no PLAIN password in clear text (unless AllowPlaintextSASL),
// TLS for AWS_MSK_IAM. Errors wrap stocklake.ErrConfig and name the flags.
func (c Config) Validate() error {
	tlsOn := c.TLS || c.TLSCAFile != ""
	mech := strings.ToUpper(c.SASLMechanism)
	switch mech {
	case "":
		if c.SASLUser != "" || c.SASLPassword != "" {
			return stocklake.SettingErr(fmt.Errorf("a Kafka SASL user or password is set but no mechanism; set the mechanism to SCRAM-SHA-512 (or PLAIN, SCRAM-SHA-256): %w", stocklake.ErrConfig), "kafka.Config.SASLMechanism")
		}
	case SASLPlain, SASLScram256, SASLScram512:
		if c.SASLUser == "" || c.SASLPassword == "" {
			return stocklake.SettingErr(fmt.Errorf("SASL %s needs a user and a password: %w", mech, stocklake.ErrConfig), "kafka.Config.SASLUser", "kafka.Config.SASLPassword")
		}
		if mech == SASLPlain && !tlsOn && !c.AllowPlaintextSASL {
			return stocklake.SettingErr(fmt.Errorf("SASL PLAIN without TLS sends the Kafka password in clear text; turn on TLS (with the CA if the brokers' certificate is private), use SCRAM-SHA-512, or allow plaintext SASL to accept the risk: %w", stocklake.ErrConfig),
				"kafka.Config.TLS", "kafka.Config.TLSCAFile", "kafka.Config.SASLMechanism", "kafka.Config.AllowPlaintextSASL")
		}
	case SASLAWSMSKIAM:
		if c.SASLUser != "" || c.SASLPassword != "" {
			return stocklake.SettingErr(fmt.Errorf("SASL AWS_MSK_IAM takes AWS credentials (instance role, AWS_PROFILE, ...), not a SASL user or password: %w", stocklake.ErrConfig), "kafka.Config.SASLUser", "kafka.Config.SASLPassword")
		}
		if !tlsOn {
			return stocklake.SettingErr(fmt.Errorf("SASL AWS_MSK_IAM needs TLS (MSK's IAM listener is TLS on port 9098): %w", stocklake.ErrConfig), "kafka.Config.TLS")
		}
		if c.MSKIAM == nil {
			return fmt.Errorf("SASL AWS_MSK_IAM has no AWS credentials source: %w", stocklake.ErrConfig)
		}
	default:
		return fmt.Errorf("SASL mechanism %q is not supported; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM: %w", c.SASLMechanism, stocklake.ErrConfig)
	}
	return nil
}

// tlsConfig is the TLS client configuration of c, nil without TLS.
func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.TLS && c.TLSCAFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, stocklake.SettingErr(fmt.Errorf("Kafka TLS CA file: %w: %w", err, stocklake.ErrConfig), "kafka.Config.TLSCAFile")
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, stocklake.SettingErr(fmt.Errorf("Kafka TLS CA file %s holds no PEM certificate: %w", c.TLSCAFile, stocklake.ErrConfig), "kafka.Config.TLSCAFile")
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// Opts returns the franz-go options shared by every client made from c.
func (c Config) Opts() ([]kgo.Opt, error) {
	if len(c.Brokers) == 0 {
		return nil, stocklake.SettingErr(fmt.Errorf("no Kafka brokers given; want host:port: %w", stocklake.ErrConfig), "kafka.Config.Brokers")
	}
	if err := c.Validate(); err != nil {
		return nil, err
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
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	switch strings.ToUpper(c.SASLMechanism) {
	case SASLPlain:
		opts = append(opts, kgo.SASL(plain.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsMechanism()))
	case SASLScram256:
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha256Mechanism()))
	case SASLScram512:
		opts = append(opts, kgo.SASL(scram.Auth{User: c.SASLUser, Pass: c.SASLPassword}.AsSha512Mechanism()))
	case SASLAWSMSKIAM:
		opts = append(opts, kgo.SASL(awssasl.ManagedStreamingIAM(c.MSKIAM)))
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
		return nil, fmt.Errorf("kafka client: %w: %w", err, stocklake.ErrConfig)
	}
	return cl, nil
}

// Ping checks that the cluster answers within ctx, with an error that says
// which brokers were tried.
func Ping(ctx context.Context, cl *kgo.Client, brokers []string) error {
	if err := cl.Ping(ctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("reaching Kafka at %s: %w", strings.Join(brokers, ","), ctx.Err())
		}
		return fmt.Errorf("cannot reach Kafka at %s (%w); is the broker running? Start one with `stocklake broker` or scripts/kafka start: %w",
			strings.Join(brokers, ","), err, stocklake.ErrUnavailable)
	}
	return nil
}

// TopicSpec describes a topic to create on demand.
type TopicSpec struct {
	Name string
	// Partitions of the topic; default DefaultPartitions (3), -1 for the
	// broker's default.
	Partitions int32
	// ReplicationFactor; default -1: the broker's default.
	ReplicationFactor int16
	Configs           map[string]string
}

// EnsureTopic creates a topic unless it exists, waits until the cluster
// knows it, and returns its topic ID in Kafka's base64 form. An existing
// topic is left as it is.
func EnsureTopic(ctx context.Context, cl *kgo.Client, spec TopicSpec) (string, error) {
	adm := kadm.NewClient(cl)
	if spec.Partitions == 0 {
		spec.Partitions = DefaultPartitions
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
	if err == nil && resp.Err != nil {
		err = resp.Err
		if resp.ErrMessage != "" {
			err = fmt.Errorf("%w (%s)", resp.Err, resp.ErrMessage)
		}
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return "", fmt.Errorf("create topic %q: %w: %w", spec.Name, err, stocklake.ErrUnavailable)
	}
	return TopicID(ctx, cl, spec.Name)
}

// TopicID returns the topic's ID (base64, as Kafka prints it). Object names
// in the lake include it so a re-created topic, whose offsets start again at
// 0, never overwrites older objects. Brokers that predate topic IDs yield
// "0". It waits up to 30 seconds for a topic just created to show.
func TopicID(ctx context.Context, cl *kgo.Client, topic string) (string, error) {
	d, err := waitTopic(ctx, cl, topic)
	if err != nil {
		return "", err
	}
	if d.ID == (kadm.TopicID{}) {
		return "0", nil
	}
	return base64.RawURLEncoding.EncodeToString(d.ID[:]), nil
}

// TopicPartitions returns how many partitions the topic has, waiting up to
// 30 seconds for a topic just created to show.
func TopicPartitions(ctx context.Context, cl *kgo.Client, topic string) (int, error) {
	d, err := waitTopic(ctx, cl, topic)
	if err != nil {
		return 0, err
	}
	return len(d.Partitions), nil
}

// waitTopic returns the topic's metadata once the cluster has it with its
// partitions. A topic just created, or a broker just started, can take a
// while to show the topic in its metadata; it waits up to 30 seconds.
func waitTopic(ctx context.Context, cl *kgo.Client, topic string) (kadm.TopicDetail, error) {
	adm := kadm.NewClient(cl)
	var lastErr error
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			lastErr = err
		} else if d, ok := md.Topics[topic]; ok && d.Err == nil && len(d.Partitions) > 0 {
			return d, nil
		} else if ok && d.Err != nil {
			lastErr = d.Err
		}
		select {
		case <-ctx.Done():
			return kadm.TopicDetail{}, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	if lastErr == nil {
		lastErr = errors.New("no partitions yet")
	}
	return kadm.TopicDetail{}, fmt.Errorf("topic %q: no metadata (%w); create it first, check its name, or check that the brokers are healthy: %w", topic, lastErr, stocklake.ErrNotFound)
}
