package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kafkaJars returns the Apache Kafka server classpath scripts/kafka fetched
// and a java to run it, or skips the test.
func kafkaJars(t *testing.T) (lib, java string) {
	t.Helper()
	if os.Getenv("STOCKLAKE_KAFKA_BROKERS") == "" {
		t.Skip("set STOCKLAKE_KAFKA_BROKERS (eval \"$(scripts/kafka start)\"), which also fetches the Kafka jars this test runs")
	}
	cache := os.Getenv("STOCKLAKE_CACHE_DIR")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache/stocklake")
	}
	version := os.Getenv("KAFKA_VERSION")
	if version == "" {
		version = "4.1.1"
	}
	lib = filepath.Join(cache, "kafka-"+version, "lib")
	if _, err := os.Stat(filepath.Join(cache, "kafka-"+version, ".complete")); err != nil {
		t.Fatalf("no Kafka %s jars under %s (scripts/kafka start fetches them): %v", version, lib, err)
	}
	for _, j := range []string{os.Getenv("JAVA_HOME") + "/bin/java", "/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "/usr/lib/jvm/temurin-25-jdk-amd64/bin/java"} {
		if fi, err := os.Stat(j); err == nil && !fi.IsDir() {
			return lib, j
		}
	}
	j, err := exec.LookPath("java")
	if err != nil {
		t.Fatal("no java (scripts/kafka needs one too)")
	}
	return lib, j
}

func freePort(t *testing.T) string {
	t.Helper()
	_, p, _ := net.SplitHostPort(freeAddr(t))
	return p
}

// TestSelfRunKafkaSASLIntegration runs real Apache Kafka with the
// configuration stocklake-node writes for a self-run node with the default
// KafkaAuthentication=sasl (SASL_SSL with SCRAM-SHA-512, the broker's PEM
// keystore signed by the release's CA, the SCRAM user added at format time
// as install does), and stocklake's produce and consume with the node's
// profile (the CA file, the password file): records go through; a wrong
// password and a client without TLS do not get in.
func TestSelfRunKafkaSASLIntegration(t *testing.T) {
	lib, java := kafkaJars(t)
	c := loadCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The release (with its Kafka CA) and node 1 rendered from it, on
	// loopback and free ports.
	stage := t.TempDir()
	if out, err := runPublishStage(t, stage); err != nil {
		t.Fatalf("publish --stage: %v\n%s", err, out)
	}
	_, nodes := render(t, scenarios[0])
	port, cport := freePort(t), freePort(t)
	env := strings.ReplaceAll(readFile(t, nodes[0].env), "SL_PRIVATE_IP="+sampleNode1IP, "SL_PRIVATE_IP=127.0.0.1") +
		"SL_KAFKA_PORT=" + port + "\nSL_CONTROLLER_PORT=" + cport + "\n"
	envFile := filepath.Join(t.TempDir(), "node.env")
	if err := os.WriteFile(envFile, []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if out, err := exec.Command("bash", filepath.Join(stage, "stocklake-node"), "render", envFile, root).CombinedOutput(); err != nil {
		t.Fatalf("stocklake-node render: %v\n%s", err, out)
	}

	// The node's /etc and /var/lib/kafka are under root and data here.
	data := t.TempDir()
	conf := filepath.Join(root, "etc/kafka/server.properties")
	props := strings.ReplaceAll(readFile(t, conf), "/etc/kafka/", filepath.Join(root, "etc/kafka")+"/")
	props = strings.ReplaceAll(props, "log.dirs=/var/lib/kafka/data", "log.dirs="+data)
	if err := os.WriteFile(conf, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	// As install_kafka formats node 1: standalone controller, SCRAM user.
	format := exec.CommandContext(ctx, java, "-Xmx256m", "-cp", lib+"/*", "kafka.tools.StorageTool", "format",
		"-t", "c3RvY2tsYWtlLXRlc3QtMQ", "-c", conf, "--standalone",
		"--add-scram", "SCRAM-SHA-512=[name=stocklake,password="+sampleKafkaPassword+"]")
	if out, err := format.CombinedOutput(); err != nil {
		t.Fatalf("kafka-storage format: %v\n%s", err, out)
	}
	var klog bytes.Buffer
	kafka := exec.CommandContext(ctx, java, "-Xms256m", "-Xmx512m", "-cp", lib+"/*", "kafka.Kafka", conf)
	kafka.Stdout, kafka.Stderr = &klog, &klog
	if err := kafka.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		kafka.Process.Signal(os.Interrupt)
		kafka.Wait()
	})
	addr := "127.0.0.1:" + port
	if err := waitPort(addr); err != nil {
		t.Fatalf("%v; Kafka log:\n%s", err, lastLines(klog.String(), 30))
	}

	// The clients' settings: the profile, with the node's /etc under root.
	profile := envFile2(t, filepath.Join(root, "etc/stocklake/stocklake.env"))
	clientEnv := func(extra ...string) []string {
		e := cleanEnv()
		for _, kv := range profile {
			k, v, _ := strings.Cut(kv, "=")
			if strings.HasPrefix(v, "/etc/stocklake/") {
				v = filepath.Join(root, v)
			}
			e = append(e, k+"="+v)
		}
		return append(append(e, "STOCKLAKE_BROKERS="+addr), extra...)
	}
	if !strings.Contains(strings.Join(clientEnv(), "\n"), "STOCKLAKE_KAFKA_SASL_MECHANISM=SCRAM-SHA-512") {
		t.Fatalf("the profile does not use SCRAM: %v", profile)
	}
	runWith := func(env []string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, c.bin, args...)
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	const n = 200
	if out, err := runWith(clientEnv(), "produce", "--topic", "ticks", "--count", fmt.Sprint(n), "--rate", "0"); err != nil {
		t.Fatalf("produce over SASL_SSL: %v\n%s\nKafka log:\n%s", err, lastLines(out, 20), lastLines(klog.String(), 30))
	}
	out, err := runWith(clientEnv(), "consume", "--topic", "ticks", "--count", fmt.Sprint(n), "--idle-timeout", "20s")
	if err != nil {
		t.Fatalf("consume over SASL_SSL: %v\n%s", err, lastLines(out, 20))
	}
	if got := strings.Count(out, `"topic":"ticks"`); got != n {
		t.Errorf("consumed %d records over SASL_SSL, want %d:\n%s", got, n, lastLines(out, 5))
	}

	// Refused: a wrong password, and no TLS (SCRAM in clear).
	wrongPw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(wrongPw, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"wrong password", []string{"STOCKLAKE_KAFKA_SASL_PASSWORD_FILE=" + wrongPw}, "SASL_AUTHENTICATION_FAILED"},
		{"no TLS", []string{"STOCKLAKE_KAFKA_TLS=false", "STOCKLAKE_KAFKA_TLS_CA="}, "tls"},
	} {
		out, err := runWith(clientEnv(tc.extra...), "consume", "--topic", "ticks", "--count", "1", "--idle-timeout", "10s")
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("%s: consume exited with %v, want a failure mentioning %q:\n%s", tc.name, err, tc.want, lastLines(out, 5))
		}
	}
}

// envFile2 is envFile without the empty values (unset flags).
func envFile2(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for _, kv := range envFile(t, path) {
		if !strings.HasSuffix(kv, "=") {
			out = append(out, kv)
		}
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
