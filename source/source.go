// Package source produces market data for stocklake as stocklake.Records:
// a deterministic trade simulator (Simulator, "sim") and a replay of
// historical price files (CSVReplay, "csv:PATH").
//
// Both sources hand emit records whose Value is a fresh byte slice that the
// source never writes again, so emit may retain it (a Kafka producer does,
// until the record is acknowledged). Values are carved from shared 32 KiB
// blocks to keep allocation cheap; retaining one Value keeps its block
// alive. Key and Headers are shared between records and must be treated as
// read-only.
package source

import (
	"context"
	"time"

	_ "time/tzdata" // the simulator's session calendar needs America/New_York on any machine
)

// Source type names, as used by `stocklake produce --source`.
const (
	// SimulatorType names the simulator source.
	SimulatorType = "sim"
	// CSVType names the CSV replay source (csv:PATH).
	CSVType = "csv"
)

// slabSize is the size of the blocks record values are carved from.
const slabSize = 32 << 10

// slab hands out non-overlapping byte slices from large blocks, so that
// values can be retained by their receiver without one allocation each.
type slab struct {
	buf []byte
}

// reserve makes sure at least n bytes can be appended to s.buf without the
// slice growing, and returns the offset where the next value starts.
func (s *slab) reserve(n int) int {
	if cap(s.buf)-len(s.buf) < n {
		size := slabSize
		if n > size {
			size = n
		}
		s.buf = make([]byte, 0, size)
	}
	return len(s.buf)
}

// take returns the bytes appended since start, capacity-limited so that an
// append by the receiver cannot overwrite the next value.
func (s *slab) take(start int) []byte {
	return s.buf[start:len(s.buf):len(s.buf)]
}

// sleepUntil waits until the wall clock reaches t, returning ctx.Err() if
// ctx is done first. It reuses *timer across calls.
func sleepUntil(ctx context.Context, timer **time.Timer, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	if *timer == nil {
		*timer = time.NewTimer(d)
	} else {
		(*timer).Reset(d)
	}
	select {
	case <-ctx.Done():
		(*timer).Stop()
		return ctx.Err()
	case <-(*timer).C:
		return nil
	}
}
