package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/stocklake/stocklake"
)

// settingFlags maps the library settings a stocklake.SettingError names to
// the flags that set them, so the CLI can tell the user what to pass while
// the libraries' messages say only what is wrong.
var settingFlags = map[string]string{
	"analyze.Config.OutPrefix":        "--out-prefix",
	"crawler.Config.Database":         "--database",
	"duckdb.Config.CacheDir":          "--engine duckdb://?cache_dir=DIR",
	"glue.Config.LakeStore":           "--lake",
	"iceberg.LazyTable.Partitioning":  "--partition-by",
	"dashboard.Config.TLSCert":        "--tls-cert",
	"dashboard.Config.TLSKey":         "--tls-key",
	"compact.Config.Database":         "--database",
	"compact.Config.MaxMemory":        "--max-memory",
	"dashboard.Config.Token":          "--token (or STOCKLAKE_TOKEN)",
	"kafka.BrokerConfig.Listen":       "--listen",
	"kafka.Config.AllowPlaintextSASL": "--allow-plaintext-sasl",
	"kafka.Config.Brokers":            "--brokers (or STOCKLAKE_BROKERS)",
	"kafka.Config.SASLMechanism":      "--kafka-sasl-mechanism",
	"kafka.Config.SASLPassword":       "--kafka-sasl-password (or --kafka-sasl-password-file)",
	"kafka.Config.SASLUser":           "--kafka-sasl-user",
	"kafka.Config.TLS":                "--kafka-tls",
	"kafka.Config.TLSCAFile":          "--kafka-tls-ca",
	"kafka.ProducerConfig.Topic":      "--topic",
	"query.Config.Timeout":            "--timeout",
	"schemaregistry.Config.CAFile":    "--registry-ca",
	"schemaregistry.Config.URL":       "--registry (or STOCKLAKE_REGISTRY)",
	"schemaregistry.Config.User":      "--registry-user and --registry-password",
	"sink.Config.Committer":           "--table-format",
	"sink.Config.Decoder":             "--registry",
	"sink.Config.Format":              "--format",
	"sink.Config.Partitioning":        "--partition-by",
	"sink.Config.Schema":              "--schema",
	"sink.Config.Store":               "--lake file://DIR or s3://BUCKET/PREFIX",
	"sink.Config.Table":               "--table",
	"sink.Config.TimeField":           "--time-field",
	"sink.Config.Topic":               "--topic",
	"source.FeedConfig.Endpoint":      "--endpoint",
	"source.FeedConfig.Key":           "--key",
	"source.FeedConfig.Symbols":       "--symbols",
	"source.CSVConfig.Path":           "--source csv:PATH",
}

// hintFlags makes c and its subcommands, all levels down, add flag hints
// to the errors they return (withFlagHint).
func hintFlags(c *ffcli.Command) {
	if exec := c.Exec; exec != nil {
		c.Exec = func(ctx context.Context, args []string) error { return withFlagHint(exec(ctx, args)) }
	}
	for _, s := range c.Subcommands {
		hintFlags(s)
	}
}

// hintedError is an error whose message already names the flags to change.
type hintedError struct{ error }

func (e hintedError) Unwrap() error { return e.error }

// withFlagHint adds to err the flags that set the settings a
// stocklake.SettingError in its chain names: "...: bad configuration (see
// --topic)". Other errors, and errors already hinted, are returned as they
// are.
func withFlagHint(err error) error {
	var se *stocklake.SettingError
	var done hintedError
	if !errors.As(err, &se) || errors.As(err, &done) {
		return err
	}
	var flags []string
	for _, s := range se.Settings {
		if f, ok := settingFlags[s]; ok && !slices.Contains(flags, f) {
			flags = append(flags, f)
		}
	}
	if len(flags) == 0 {
		return err
	}
	return hintedError{fmt.Errorf("%w (see %s)", err, strings.Join(flags, ", "))}
}
