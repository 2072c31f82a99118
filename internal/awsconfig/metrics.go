package awsconfig

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stocklake/stocklake/internal/metrics"
)

// services are the AWS services whose retries RegisterMetrics exposes.
var services = []string{"s3", "glue", "athena"}

// RegisterMetrics registers stocklake_aws_retries_total{service=...}, the
// process's Retries per service (s3, glue, athena) into reg.
func RegisterMetrics(reg prometheus.Registerer) error {
	for _, svc := range services {
		m := metrics.Funcs{Prefix: "stocklake_", Labels: prometheus.Labels{"service": svc}}
		if err := metrics.Register(reg, m.Counter("aws_retries_total", "AWS requests retried (by the SDK, with backoff) in this process.",
			func() int64 { return Retries(svc) })); err != nil {
			return err
		}
	}
	return nil
}
