package stocklake

import (
	"fmt"
	"time"
)

// DefaultMaxFuture is how far ahead of the wall clock an event time may be
// before a record is refused (sink and analyzer): 5 minutes. A feed's clock
// skew fits inside it; a tick stamped 9999-12-31 does not, and would
// otherwise push watermarks and partitions into the far future for good.
const DefaultMaxFuture = 5 * time.Minute

// CheckEventTime returns an ErrInvalid error when t lies more than
// maxFuture after now. A maxFuture of 0 or less disables the check.
func CheckEventTime(t, now time.Time, maxFuture time.Duration) error {
	if maxFuture > 0 && t.Sub(now) > maxFuture {
		return fmt.Errorf("event time %s is %s ahead of the wall clock (%s), more than the %s allowed: %w",
			t.UTC().Format(time.RFC3339Nano), t.Sub(now).Round(time.Second), now.UTC().Format(time.RFC3339), maxFuture, ErrInvalid)
	}
	return nil
}
