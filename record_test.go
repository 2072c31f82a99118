package stocklake

import (
	"math"
	"testing"
)

// TestDeadLetterSource: the HeaderSource value round-trips through
// ParseDeadLetterSource, and values that are not one are refused.
func TestDeadLetterSource(t *testing.T) {
	for _, tc := range []struct {
		topic     string
		partition int32
		offset    int64
		want      string
	}{
		{"ticks", 0, 0, "ticks/0/0"},
		{"ticks.v2_raw-x", 2, 1041, "ticks.v2_raw-x/2/1041"},
		{"t", math.MaxInt32, math.MaxInt64, "t/2147483647/9223372036854775807"},
	} {
		s := DeadLetterSource(tc.topic, tc.partition, tc.offset)
		if s != tc.want {
			t.Errorf("DeadLetterSource(%q, %d, %d) = %q, want %q", tc.topic, tc.partition, tc.offset, s, tc.want)
		}
		topic, p, off, ok := ParseDeadLetterSource(s)
		if !ok || topic != tc.topic || p != tc.partition || off != tc.offset {
			t.Errorf("ParseDeadLetterSource(%q) = %q, %d, %d, %v; want %q, %d, %d", s, topic, p, off, ok, tc.topic, tc.partition, tc.offset)
		}
	}
	for _, bad := range []string{"", "ticks", "ticks/0", "ticks/0/1/2", "ticks/x/1", "ticks/0/x", "ticks/2147483648/1", "ticks/0/9223372036854775808", "ticks/0/1 "} {
		if topic, p, off, ok := ParseDeadLetterSource(bad); ok {
			t.Errorf("ParseDeadLetterSource(%q) = %q, %d, %d, true; want not ok", bad, topic, p, off)
		}
	}
}
