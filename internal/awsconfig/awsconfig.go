// Package awsconfig loads the aws-sdk-go-v2 configuration that the S3, Glue
// and Athena backends share: region, static or default-chain credentials,
// an endpoint check and the retry policy.
package awsconfig

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/stocklake/stocklake"
)

// Options says how to reach one AWS service.
type Options struct {
	// Service names the backend in error messages, e.g. "s3".
	Service string
	// Region; default from AWS_REGION or the AWS config files.
	Region string
	// Endpoint, if set, must be an http:// or https:// URL; the caller
	// applies it to its client.
	Endpoint string
	// AccessKey, SecretKey and SessionToken are static credentials; default
	// the AWS credential chain (environment, config files, SSO, instance role).
	AccessKey, SecretKey, SessionToken string
	// MaxRetries is how many times a failed request is retried; 0 takes
	// DefaultMaxRetries, negative retries nothing.
	MaxRetries        int
	DefaultMaxRetries int
	// NoRetryBudget turns off the SDK's client-side retry token bucket, so
	// a client waiting out an outage, or running requests in parallel,
	// never runs out of retries.
	NoRetryBudget bool
	// Logger gets a warning for each retried request, with its error, so
	// an outage shows while the SDK waits it out; default slog.Default().
	Logger *slog.Logger
}

// Load checks o and loads the AWS configuration. Errors wrap
// stocklake.ErrConfig.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return aws.Config{}, fmt.Errorf("%s: endpoint %q is not an http:// or https:// URL: %w", o.Service, o.Endpoint, stocklake.ErrConfig)
		}
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	attempts := o.DefaultMaxRetries + 1
	if o.MaxRetries > 0 {
		attempts = o.MaxRetries + 1
	} else if o.MaxRetries < 0 {
		attempts = 1
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return loggingRetryer{RetryerV2: retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = attempts
				if o.NoRetryBudget {
					so.RateLimiter = ratelimit.None
				}
			}), log: log, service: o.Service, attempts: attempts}
		}),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.AccessKey != "" || o.SecretKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, o.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("%s: loading the AWS configuration (AWS_* variables, ~/.aws/config): %w: %w", o.Service, err, stocklake.ErrConfig)
	}
	return cfg, nil
}

// retries counts the retried requests of this process per service.
var retries sync.Map // service -> *atomic.Int64

// Retries is how many requests to service ("s3", "glue", "athena") this
// process has retried, for metrics: an outage shows here while the SDK
// waits it out.
func Retries(service string) int64 {
	if c, ok := retries.Load(service); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

// loggingRetryer is the SDK's retryer, logging and counting each retry it
// decides on.
type loggingRetryer struct {
	aws.RetryerV2
	log      *slog.Logger
	service  string
	attempts int
}

// RetryDelay is the wrapped retryer's, logged.
func (r loggingRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	d, derr := r.RetryerV2.RetryDelay(attempt, err)
	if derr == nil {
		c, _ := retries.LoadOrStore(r.service, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
		r.log.Warn("retrying AWS request", "service", r.service, "attempt", attempt, "of", r.attempts, "backoff", d.Round(time.Millisecond), "err", err)
	}
	return d, derr
}
