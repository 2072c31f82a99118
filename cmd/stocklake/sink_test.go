package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
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
// from --max-buffer-bytes: the bound less the resident file pages (the
// binary's code, outside Go's accounting: left in, the process peaked at
// 272 MiB of RSS with the default 256 MiB bound) and the headroom, never
// below the floor, the whole bound when the file pages are not known, and
// none when GOMEMLIMIT is set (the user's value, or off, wins).
func TestSinkMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		bound, fileRSS int64
		env            string
		want           int64
		set            bool
	}{
		{256 << 20, 100 << 20, "", 256<<20 - 100<<20 - sinkMemoryHeadroom, true},
		{1 << 30, 100 << 20, "", 1<<30 - 100<<20 - sinkMemoryHeadroom, true},
		{256 << 20, 0, "", 256 << 20, true},
		{1 << 30, 0, "", 1 << 30, true},
		{200 << 20, 100 << 20, "", minSinkMemoryLimit, true},
		{32 << 20, 0, "", minSinkMemoryLimit, true},
		{256 << 20, 100 << 20, "1GiB", 0, false},
		{256 << 20, 100 << 20, "off", 0, false},
	} {
		got, set := sinkMemoryLimit(tc.bound, tc.env, tc.fileRSS)
		if got != tc.want || set != tc.set {
			t.Errorf("sinkMemoryLimit(%d, %q, %d) = %d, %v; want %d, %v", tc.bound, tc.env, tc.fileRSS, got, set, tc.want, tc.set)
		}
	}
}

// TestParseRssFile reads the resident file-backed memory from a
// /proc/PID/status text, and 0 from one without it or with a figure that
// is not a number.
func TestParseRssFile(t *testing.T) {
	status := "Name:\tstocklake\nVmRSS:\t  262144 kB\nRssAnon:\t  155648 kB\nRssFile:\t  104448 kB\nRssShmem:\t       0 kB\n"
	for _, tc := range []struct {
		status string
		want   int64
	}{
		{status, 104448 << 10},
		{"Name:\tstocklake\nVmRSS:\t 1 kB\n", 0},
		{"RssFile:\t 99999999999999999999999 kB\n", 0},
		{"RssFile:\tlots\n", 0},
		{"", 0},
	} {
		if got := parseRssFile([]byte(tc.status)); got != tc.want {
			t.Errorf("parseRssFile(%q) = %d, want %d", tc.status, got, tc.want)
		}
	}
	if runtime.GOOS == "linux" {
		if got := residentFileBytes(); got <= 0 {
			t.Errorf("residentFileBytes() = %d on Linux, want the test binary's resident file pages (> 0)", got)
		}
	}
}
