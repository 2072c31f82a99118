package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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
