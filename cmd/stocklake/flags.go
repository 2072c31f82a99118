package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssasl "github.com/twmb/franz-go/pkg/sasl/aws"

	"github.com/dustin/go-humanize"
	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/peterbourgon/ff/v3/ffyaml"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/internal/awsconfig"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/schemaregistry"
)

// Defaults shared by several subcommands.
const (
	defaultSeed    = 1 // simulator seed of produce and demo
	defaultDataDir = "./stocklake-data"
	defaultLake    = "file://./stocklake-data/lake"
	defaultCatalog = "sqlite://./stocklake-data/catalog.db"
	defaultEngine  = "duckdb://"
	defaultBrokers = kafka.DefaultListen
)

// ffOptions makes every flag readable from STOCKLAKE_<FLAG> and a YAML
// --config file.
func ffOptions() []ff.Option {
	return []ff.Option{
		ff.WithEnvVarPrefix("STOCKLAKE"),
		ff.WithConfigFileFlag("config"),
		ff.WithConfigFileParser(ffyaml.Parser),
		ff.WithAllowMissingConfigFile(false),
	}
}

// newCommand builds a subcommand with the conventions every stocklake
// subcommand shares: env vars, --config, usage listing every flag with its
// default and environment variable.
func newCommand(name, shortUsage, shortHelp, longHelp string, fs *flag.FlagSet, exec func(ctx context.Context, args []string) error) *ffcli.Command {
	fs.String("config", "", "YAML file with flag values (keys are flag names)")
	return &ffcli.Command{
		Name:       name,
		ShortUsage: shortUsage,
		ShortHelp:  shortHelp,
		LongHelp:   longHelp,
		FlagSet:    fs,
		Options:    ffOptions(),
		UsageFunc:  usage,
		Exec:       exec,
	}
}

// usage prints a command's help with every flag, its default and its
// environment variable.
func usage(c *ffcli.Command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "USAGE\n  %s\n\n", c.ShortUsage)
	if c.LongHelp != "" {
		fmt.Fprintf(&b, "%s\n\n", c.LongHelp)
	} else if c.ShortHelp != "" {
		fmt.Fprintf(&b, "%s\n\n", c.ShortHelp)
	}
	if len(c.Subcommands) > 0 {
		fmt.Fprintf(&b, "SUBCOMMANDS\n")
		tw := tabwriter.NewWriter(&b, 0, 2, 2, ' ', 0)
		for _, s := range c.Subcommands {
			fmt.Fprintf(tw, "  %s\t%s\n", s.Name, s.ShortHelp)
		}
		tw.Flush()
		b.WriteString("\n")
	}
	n := 0
	c.FlagSet.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintf(&b, "FLAGS (each also read from the environment variable shown)\n")
		tw := tabwriter.NewWriter(&b, 0, 2, 2, ' ', 0)
		c.FlagSet.VisitAll(func(f *flag.Flag) {
			def := " (default " + f.DefValue + ")"
			switch {
			case f.DefValue == "" && strings.Contains(f.Usage, "(default"):
				def = "" // the usage says what an empty value means
			case f.DefValue == "":
				def = ` (default "")`
			}
			env := "STOCKLAKE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
			fmt.Fprintf(tw, "  --%s\t%s%s\t%s\n", f.Name, f.Usage, def, env)
		})
		tw.Flush()
	}
	return b.String()
}

// kafkaFlags are the flags that say how to reach Kafka.
type kafkaFlags struct {
	brokers, saslMechanism, saslUser, saslPassword, saslPasswordFile, tlsCA string
	tls, allowPlaintextSASL                                                 bool
}

func (k *kafkaFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&k.brokers, "brokers", defaultBrokers, "Kafka bootstrap brokers, comma-separated host:port")
	fs.BoolVar(&k.tls, "kafka-tls", false, "connect to Kafka with TLS (e.g. Amazon MSK, or self-run brokers with a SASL_SSL listener)")
	fs.StringVar(&k.tlsCA, "kafka-tls-ca", "", "PEM file of the CA certificates that sign the brokers' TLS certificates; implies --kafka-tls (default: the system's roots)")
	fs.StringVar(&k.saslMechanism, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM (Amazon MSK IAM, AWS default-chain credentials such as the instance role; needs --kafka-tls) (default: none)")
	fs.StringVar(&k.saslUser, "kafka-sasl-user", "", "SASL user name (PLAIN, SCRAM)")
	fs.StringVar(&k.saslPassword, "kafka-sasl-password", "", "SASL password (PLAIN, SCRAM); prefer the environment variable or --kafka-sasl-password-file to the command line")
	fs.StringVar(&k.saslPasswordFile, "kafka-sasl-password-file", "", "file holding the SASL password (trailing newline ignored), instead of --kafka-sasl-password")
	fs.BoolVar(&k.allowPlaintextSASL, "allow-plaintext-sasl", false, "allow SASL PLAIN without --kafka-tls, which sends the password in clear text")
}

func (k *kafkaFlags) config() (kafka.Config, error) {
	brokers, err := kafka.ParseBrokers(k.brokers)
	if err != nil {
		return kafka.Config{}, withFlagHint(err)
	}
	password := k.saslPassword
	if k.saslPasswordFile != "" {
		if password != "" {
			return kafka.Config{}, fmt.Errorf("both --kafka-sasl-password and --kafka-sasl-password-file are set; pass one: %w", stocklake.ErrConfig)
		}
		b, err := os.ReadFile(k.saslPasswordFile)
		if err != nil {
			return kafka.Config{}, fmt.Errorf("--kafka-sasl-password-file: %w: %w", err, stocklake.ErrConfig)
		}
		password = strings.TrimRight(string(b), "\r\n")
		if password == "" {
			return kafka.Config{}, fmt.Errorf("--kafka-sasl-password-file %s is empty: %w", k.saslPasswordFile, stocklake.ErrConfig)
		}
	}
	kc := kafka.Config{
		Brokers: brokers, TLS: k.tls || k.tlsCA != "", TLSCAFile: k.tlsCA,
		SASLMechanism: strings.ToUpper(k.saslMechanism), SASLUser: k.saslUser, SASLPassword: password,
		AllowPlaintextSASL: k.allowPlaintextSASL,
	}
	if kc.SASLMechanism == kafka.SASLAWSMSKIAM {
		kc.MSKIAM = mskIAMCredentials()
	}
	if err := kc.Validate(); err != nil {
		return kafka.Config{}, withFlagHint(err)
	}
	return kc, nil
}

// mskIAMCredentials returns the credentials AWS_MSK_IAM signs with: the AWS
// default chain (environment, config files, SSO, the EC2 instance role),
// loaded once and refreshed by the SDK's cache as they expire.
func mskIAMCredentials() func(context.Context) (awssasl.Auth, error) {
	var (
		once  sync.Once
		creds aws.CredentialsProvider
		err   error
	)
	return func(ctx context.Context) (awssasl.Auth, error) {
		once.Do(func() {
			var cfg aws.Config
			cfg, err = awsconfig.Load(ctx, awsconfig.Options{Service: "kafka"})
			creds = cfg.Credentials
		})
		if err != nil {
			return awssasl.Auth{}, err
		}
		if creds == nil {
			return awssasl.Auth{}, fmt.Errorf("AWS_MSK_IAM: no AWS credentials found (instance role, AWS_PROFILE, AWS_ACCESS_KEY_ID): %w", stocklake.ErrConfig)
		}
		c, err := creds.Retrieve(ctx)
		if err != nil {
			return awssasl.Auth{}, fmt.Errorf("AWS_MSK_IAM: AWS credentials: %w: %w", err, stocklake.ErrConfig)
		}
		return awssasl.Auth{AccessKey: c.AccessKeyID, SecretKey: c.SecretAccessKey, SessionToken: c.SessionToken, UserAgent: "stocklake"}, nil
	}
}

// logFlags configure structured logging.
type logFlags struct {
	level, format string
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&l.format, "log-format", "text", "log format: text or json")
}

// logger makes the process logger, writing to stderr.
func (l *logFlags) logger() (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(l.level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error: %w", l.level, stocklake.ErrConfig)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch l.format {
	case "text":
		h = slog.NewTextHandler(os.Stderr, opts)
	case "json":
		h = slog.NewJSONHandler(os.Stderr, opts)
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json: %w", l.format, stocklake.ErrConfig)
	}
	log := slog.New(h)
	slog.SetDefault(log)
	return log, nil
}

// byteSize is a flag holding a size such as 256MiB or 1GB.
type byteSize int64

func (b *byteSize) String() string { return humanize.IBytes(uint64(*b)) }

func (b *byteSize) Set(s string) error {
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return fmt.Errorf("%q is not a size like 256MiB or 1GB", s)
	}
	*b = byteSize(n)
	return nil
}

// noArgs rejects positional arguments for commands that take none.
func noArgs(name string, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s takes no arguments, got %q; flags go before them? run 'stocklake %s --help': %w", name, args, name, errUsage)
	}
	return nil
}

// newLineWriter buffers output written line by line.
func newLineWriter(f *os.File) *bufio.Writer { return bufio.NewWriterSize(f, 64<<10) }

// registryFlags say how to reach a Confluent-compatible Schema Registry.
type registryFlags struct {
	url, user, password, ca string
}

func (r *registryFlags) register(fs *flag.FlagSet, use string) {
	fs.StringVar(&r.url, "registry", "", "Confluent-compatible Schema Registry URL, e.g. http://127.0.0.1:8081 or Apicurio's http://HOST:8080/apis/ccompat/v7; "+use+` ("" disables)`)
	fs.StringVar(&r.user, "registry-user", "", "Schema Registry basic-auth user (Confluent Cloud: the API key) (default: none)")
	fs.StringVar(&r.password, "registry-password", "", "Schema Registry basic-auth password (Confluent Cloud: the API secret); prefer the environment variable to the command line")
	fs.StringVar(&r.ca, "registry-ca", "", "PEM file of CA certificates to trust for an https registry, besides the system's")
}

// client returns the registry client, or nil when --registry is unset.
func (r *registryFlags) client() (*schemaregistry.Client, error) {
	if r.url == "" {
		if r.user != "" || r.ca != "" {
			return nil, fmt.Errorf("--registry-user or --registry-ca is set without --registry: %w", stocklake.ErrConfig)
		}
		return nil, nil
	}
	cl, err := schemaregistry.New(schemaregistry.Config{URL: r.url, User: r.user, Password: r.password, CAFile: r.ca})
	if err != nil {
		return nil, withFlagHint(err)
	}
	return cl, nil
}
