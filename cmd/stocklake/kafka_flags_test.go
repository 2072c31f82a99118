package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peterbourgon/ff/v3"

	"github.com/stocklake/stocklake"
)

// parseKafkaFlags parses args (and STOCKLAKE_* variables) as a subcommand
// does and returns the Kafka configuration.
func parseKafkaFlags(t *testing.T, args ...string) (kafkaFlags, error) {
	t.Helper()
	var kf kafkaFlags
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("config", "", "")
	kf.register(fs)
	if err := ff.Parse(fs, args, ffOptions()...); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	_, err := kf.config()
	return kf, err
}

// TestKafkaSecurityFlags checks the Kafka TLS and SASL flags: PLAIN is
// refused without TLS unless --allow-plaintext-sasl, the password comes
// from the flag, STOCKLAKE_KAFKA_SASL_PASSWORD or a file (not two of
// them), --kafka-tls-ca implies TLS, AWS_MSK_IAM gets the AWS default
// credential chain.
func TestKafkaSecurityFlags(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.pem")

	refused := [][]string{
		{"--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-user", "u", "--kafka-sasl-password", "p"},
		{"--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-user", "u", "--kafka-sasl-password", "p", "--kafka-sasl-password-file", pwFile},
		{"--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-user", "u", "--kafka-sasl-password-file", empty},
		{"--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-user", "u", "--kafka-sasl-password-file", filepath.Join(dir, "missing")},
		{"--kafka-sasl-mechanism", "AWS_MSK_IAM"},
		{"--kafka-sasl-mechanism", "OAUTHBEARER"},
		{"--kafka-sasl-user", "u", "--kafka-sasl-password", "p"},
	}
	for _, args := range refused {
		if _, err := parseKafkaFlags(t, args...); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("%q: %v, want ErrConfig", args, err)
		}
	}
	_, err := parseKafkaFlags(t, refused[0]...)
	if err == nil || !strings.Contains(err.Error(), "--allow-plaintext-sasl") {
		t.Errorf("PLAIN without TLS: %v, want a refusal naming --allow-plaintext-sasl", err)
	}

	if _, err := parseKafkaFlags(t, append(refused[0], "--allow-plaintext-sasl")...); err != nil {
		t.Errorf("PLAIN with --allow-plaintext-sasl: %v", err)
	}
	if _, err := parseKafkaFlags(t, append(refused[0], "--kafka-tls")...); err != nil {
		t.Errorf("PLAIN with --kafka-tls: %v", err)
	}

	kf, err := parseKafkaFlags(t, "--kafka-sasl-mechanism", "scram-sha-512", "--kafka-sasl-user", "u", "--kafka-sasl-password-file", pwFile, "--kafka-tls-ca", ca)
	if err != nil {
		t.Fatal(err)
	}
	kc, _ := kf.config()
	if kc.SASLPassword != "from-file" || kc.SASLMechanism != "SCRAM-SHA-512" || !kc.TLS || kc.TLSCAFile != ca {
		t.Errorf("config = %+v, want the file's password, SCRAM-SHA-512 and TLS with the CA", kc)
	}

	t.Setenv("STOCKLAKE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
	t.Setenv("STOCKLAKE_KAFKA_SASL_USER", "envuser")
	t.Setenv("STOCKLAKE_KAFKA_SASL_PASSWORD", "from-env")
	t.Setenv("STOCKLAKE_KAFKA_TLS", "true")
	kf, err = parseKafkaFlags(t)
	if err != nil {
		t.Fatal(err)
	}
	if kc, _ := kf.config(); kc.SASLUser != "envuser" || kc.SASLPassword != "from-env" || !kc.TLS {
		t.Errorf("config from the environment = %+v", kc)
	}

	t.Setenv("STOCKLAKE_KAFKA_SASL_MECHANISM", "AWS_MSK_IAM")
	t.Setenv("STOCKLAKE_KAFKA_SASL_USER", "")
	t.Setenv("STOCKLAKE_KAFKA_SASL_PASSWORD", "")
	// Static credentials through the default chain, as an instance role's.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "session")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	kf, err = parseKafkaFlags(t)
	if err != nil {
		t.Fatal(err)
	}
	kc, _ = kf.config()
	if kc.MSKIAM == nil {
		t.Fatal("AWS_MSK_IAM: no credentials function")
	}
	auth, err := kc.MSKIAM(context.Background())
	if err != nil || auth.AccessKey != "AKIDEXAMPLE" || auth.SecretKey != "secret" || auth.SessionToken != "session" {
		t.Errorf("AWS_MSK_IAM credentials = %+v, %v", auth, err)
	}
}

// TestKafkaFlagsInHelp checks every Kafka flag is in the help of each
// subcommand that talks to Kafka, with its environment variable.
func TestKafkaFlagsInHelp(t *testing.T) {
	root := rootCommand()
	checked := 0
	for _, sub := range root.Subcommands {
		if sub.FlagSet.Lookup("brokers") == nil || sub.Name == "broker" {
			continue
		}
		checked++
		help := sub.UsageFunc(sub)
		for _, f := range []string{"kafka-tls", "kafka-tls-ca", "kafka-sasl-mechanism", "kafka-sasl-user", "kafka-sasl-password", "kafka-sasl-password-file", "allow-plaintext-sasl"} {
			env := "STOCKLAKE_" + strings.ToUpper(strings.ReplaceAll(f, "-", "_"))
			found := false
			for line := range strings.Lines(help) {
				if strings.Contains(line, "--"+f+" ") && strings.Contains(line, env) {
					found = true
				}
			}
			if !found {
				t.Errorf("stocklake %s --help lacks --%s with %s", sub.Name, f, env)
			}
		}
	}
	if checked < 5 {
		t.Errorf("checked %d subcommands with --brokers, want produce, consume, sink, analyze, serve at least", checked)
	}
}
