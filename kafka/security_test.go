package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	awssasl "github.com/twmb/franz-go/pkg/sasl/aws"

	"github.com/stocklake/stocklake"
)

func noCreds(context.Context) (awssasl.Auth, error) { return awssasl.Auth{}, nil }

// TestValidateSecurity checks the combinations of TLS and SASL settings
// Validate accepts and refuses, and that Opts refuses what Validate does.
func TestValidateSecurity(t *testing.T) {
	b := []string{"a:1"}
	ok := []Config{
		{Brokers: b},
		{Brokers: b, TLS: true},
		{Brokers: b, SASLMechanism: "PLAIN", SASLUser: "u", SASLPassword: "p", TLS: true},
		{Brokers: b, SASLMechanism: "plain", SASLUser: "u", SASLPassword: "p", TLSCAFile: "ca.pem"},
		{Brokers: b, SASLMechanism: "PLAIN", SASLUser: "u", SASLPassword: "p", AllowPlaintextSASL: true},
		{Brokers: b, SASLMechanism: "SCRAM-SHA-256", SASLUser: "u", SASLPassword: "p"},
		{Brokers: b, SASLMechanism: "SCRAM-SHA-512", SASLUser: "u", SASLPassword: "p", TLS: true},
		{Brokers: b, SASLMechanism: "AWS_MSK_IAM", TLS: true, MSKIAM: noCreds},
	}
	for _, c := range ok {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", c, err)
		}
	}
	bad := []struct {
		c    Config
		want string
	}{
		{Config{Brokers: b, SASLMechanism: "PLAIN", SASLUser: "u", SASLPassword: "p"}, "clear text"},
		{Config{Brokers: b, SASLMechanism: "GSSAPI"}, "not supported"},
		{Config{Brokers: b, SASLUser: "u", SASLPassword: "p"}, "no mechanism"},
		{Config{Brokers: b, SASLPassword: "p"}, "no mechanism"},
		{Config{Brokers: b, SASLMechanism: "SCRAM-SHA-512", SASLUser: "u"}, "needs a user and a password"},
		{Config{Brokers: b, SASLMechanism: "SCRAM-SHA-256", SASLPassword: "p", TLS: true}, "needs a user and a password"},
		{Config{Brokers: b, SASLMechanism: "AWS_MSK_IAM", MSKIAM: noCreds}, "needs TLS"},
		{Config{Brokers: b, SASLMechanism: "AWS_MSK_IAM", TLS: true}, "no AWS credentials"},
		{Config{Brokers: b, SASLMechanism: "AWS_MSK_IAM", TLS: true, MSKIAM: noCreds, SASLUser: "u"}, "not a SASL user or password"},
	}
	for _, tc := range bad {
		err := tc.c.Validate()
		if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want ErrConfig with %q", tc.c, err, tc.want)
		}
		if _, err := tc.c.Opts(); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("Opts(%+v) = %v, want ErrConfig", tc.c, err)
		}
	}
	// A CA file that is missing or holds no certificate.
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ca := range []string{filepath.Join(dir, "missing.pem"), junk} {
		if _, err := (Config{Brokers: b, TLSCAFile: ca}).Opts(); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("Opts with --kafka-tls-ca %s = %v, want ErrConfig", ca, err)
		}
	}
}

// testCA makes a CA and a server certificate for 127.0.0.1 signed by it;
// it returns the CA's PEM file and the server's TLS certificate.
func testCA(t *testing.T) (string, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stocklake test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestSCRAMOverTLS connects through a kfake cluster that requires TLS and
// SASL SCRAM-SHA-512: with the CA file and the right password a record
// goes through; a wrong password, no CA file (system roots) or no TLS do
// not get in.
func TestSCRAMOverTLS(t *testing.T) {
	caFile, cert := testCA(t)
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "stocklake", "s3cret-pass"),
		kfake.SeedTopics(1, "t"),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	good := Config{Brokers: brokers, TLSCAFile: caFile, SASLMechanism: "SCRAM-SHA-512", SASLUser: "stocklake", SASLPassword: "s3cret-pass"}

	produce := func(c Config) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cl, err := c.NewClient(kgo.RecordRetries(0), kgo.RetryTimeout(2*time.Second), kgo.RequestRetries(0))
		if err != nil {
			return err
		}
		defer cl.Close()
		return cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("x")}).FirstErr()
	}
	if err := produce(good); err != nil {
		t.Fatalf("SCRAM over TLS with the CA file: %v", err)
	}
	wrong := good
	wrong.SASLPassword = "guess"
	noCA := good
	noCA.TLSCAFile, noCA.TLS = "", true
	noTLS := good
	noTLS.TLSCAFile = ""
	for name, c := range map[string]Config{"wrong password": wrong, "system roots": noCA, "no TLS": noTLS} {
		err := produce(c)
		if err == nil {
			t.Errorf("%s: produced, want an error", name)
		}
		t.Logf("%s: %v", name, err)
	}
}
