package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stocklake/stocklake"
)

// TestFaultCommitDelay checks the STOCKLAKE_FAULT_COMMIT_DELAY knob: unset
// or 0 installs no hook, a bad value is a configuration error naming the
// variable, and a duration installs a hook that logs the hold (the line
// the kill cases wait for) and gives up when its context ends.
func TestFaultCommitDelay(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	for _, v := range []string{"", "0", "0s"} {
		t.Setenv(faultCommitDelayEnv, v)
		if hook, err := faultCommitDelay(log); err != nil || hook != nil {
			t.Errorf("%s=%q: hook set %v, err %v; want no hook", faultCommitDelayEnv, v, hook != nil, err)
		}
	}
	for _, v := range []string{"soon", "-1s", "500"} {
		t.Setenv(faultCommitDelayEnv, v)
		_, err := faultCommitDelay(log)
		if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), faultCommitDelayEnv) {
			t.Errorf("%s=%q: err %v, want a configuration error naming the variable", faultCommitDelayEnv, v, err)
		}
	}
	t.Setenv(faultCommitDelayEnv, "1h")
	hook, err := faultCommitDelay(log)
	if err != nil || hook == nil {
		t.Fatalf("%s=1h: hook set %v, err %v", faultCommitDelayEnv, hook != nil, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	hook(ctx, 2, 1200) // returns at once: the context has ended
	if !strings.Contains(buf.String(), `"msg":"fault injection: batch written, commit held","partition":2,"end":1200`) {
		t.Errorf("the hook did not log the held commit with its partition and end offset:\n%s", buf.String())
	}
}

// TestSinkMemoryLimit checks the Go memory limit `stocklake sink` derives
// from --max-buffer-bytes: the bound, never below the floor, and none when
// GOMEMLIMIT is set (the user's value, or off, wins).
func TestSinkMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		bound int64
		env   string
		want  int64
		set   bool
	}{
		{256 << 20, "", 256 << 20, true},
		{1 << 30, "", 1 << 30, true},
		{32 << 20, "", minSinkMemoryLimit, true},
		{256 << 20, "1GiB", 0, false},
		{256 << 20, "off", 0, false},
	} {
		got, set := sinkMemoryLimit(tc.bound, tc.env)
		if got != tc.want || set != tc.set {
			t.Errorf("sinkMemoryLimit(%d, %q) = %d, %v; want %d, %v", tc.bound, tc.env, got, set, tc.want, tc.set)
		}
	}
}
