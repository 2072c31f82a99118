package stocklake

import (
	"errors"
	"testing"
	"time"
)

func TestCheckEventTime(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		t       time.Time
		max     time.Duration
		refused bool
	}{
		{now, DefaultMaxFuture, false},
		{now.Add(DefaultMaxFuture), DefaultMaxFuture, false},
		{now.Add(DefaultMaxFuture + time.Second), DefaultMaxFuture, true},
		{time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), DefaultMaxFuture, true},
		{time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), 0, false},
		{time.Unix(0, 0), DefaultMaxFuture, false},
	} {
		err := CheckEventTime(tc.t, now, tc.max)
		if (err != nil) != tc.refused || err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckEventTime(%s, max %s) = %v, want refused=%v", tc.t, tc.max, err, tc.refused)
		}
	}
}
