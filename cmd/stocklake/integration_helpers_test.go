package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stocklake/stocklake/kafka"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// stocklakeBinary builds the command once per test run and returns its path.
func stocklakeBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stocklake-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "stocklake")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = &buildError{out: string(out), err: err}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + e.out }

// uniqueName returns prefix plus random hex, for topics, groups and buckets.
func uniqueName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newTopic creates a topic of three partitions, named prefix plus random
// hex, on the Kafka cluster brokers (a comma-separated list), and returns
// it, the client settings and a producer to it that is closed when the
// test ends.
func newTopic(t *testing.T, brokers, prefix string) (string, kafka.Config, *kafka.Producer) {
	t.Helper()
	topic := uniqueName(prefix)
	kc := kafka.Config{Brokers: strings.Split(brokers, ",")}
	p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	if _, err := kafka.EnsureTopic(context.Background(), p.Client(), kafka.TopicSpec{Name: topic, Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	return topic, kc, p
}

// pythonJSON runs the Python script at a path relative to the repository
// root with py -P and args, in a folder of its own, logs the JSON it
// prints and decodes it into v. The test fails when the script fails
// (with its stderr) or prints something else.
func pythonJSON(t *testing.T, py string, v any, script string, args ...string) {
	t.Helper()
	cmd := exec.Command(py, append([]string{"-P", filepath.Join(repoRoot(t), script)}, args...)...)
	cmd.Dir = t.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	t.Logf("%s: %s", filepath.Base(script), bytes.TrimSpace(out))
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("%s printed %s: %v", script, out, err)
	}
}

// requireEnv skips the test unless every named variable is set.
func requireEnv(t *testing.T, names ...string) map[string]string {
	t.Helper()
	vals := map[string]string{}
	for _, n := range names {
		v := os.Getenv(n)
		if v == "" {
			t.Skipf("%s is not set; run via .ci/run or start the service with scripts/ (see README)", n)
		}
		vals[n] = v
	}
	return vals
}

// pythonWithPyarrow returns the independent reader's interpreter; an
// integration run without it fails rather than skips.
func pythonWithPyarrow(t *testing.T) string {
	t.Helper()
	py := os.Getenv("STOCKLAKE_PYTHON")
	if py == "" {
		t.Fatal("STOCKLAKE_PYTHON is not set: run `eval \"$(scripts/pyenv)\"` to get a Python with pyarrow for the lake check")
	}
	return py
}

// repoRoot is the repository root, two levels above this package.
func repoRoot(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

func envWith(extra ...string) []string {
	env := os.Environ()
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, "STOCKLAKE_") || strings.HasPrefix(e, "STOCKLAKE_PYTHON") {
			out = append(out, e)
		}
	}
	return append(out, extra...)
}
