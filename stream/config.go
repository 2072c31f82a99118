package stream

import (
	"fmt"
	"slices"
	"time"

	"github.com/stocklake/stocklake"
)

// Limits on configuration and input.
const (
	// MaxWindows is the most window sizes one Engine computes.
	MaxWindows = 16
	// MaxDuration bounds window sizes, Delay, Lateness, Provisional and cooldowns.
	MaxDuration = 366 * 24 * time.Hour
	// MaxPartitions bounds input partition numbers: 0 to MaxPartitions-1.
	MaxPartitions = 1 << 16
	// MaxPeriod bounds indicator periods and rule bar counts.
	MaxPeriod = 10000
)

// Indicator period defaults, in bars.
const (
	DefaultSMAPeriod        = 20
	DefaultEMAFast          = 12
	DefaultEMASlow          = 26
	DefaultVolatilityPeriod = 20
	DefaultZPeriod          = 20
)

// maxEventTime is the latest accepted event time: 9999-12-31T23:59:59.999999Z.
var maxEventTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()

// Config configures an Engine. The zero value is usable: one-minute windows,
// in-order input, no lateness, no provisional bars, default indicator
// periods and no alert rules.
type Config struct {
	// Windows are the tumbling window sizes, each a whole number of
	// microseconds from 1µs to MaxDuration, at most MaxWindows of them, no
	// duplicates. Default: one minute.
	Windows []time.Duration
	// Delay is how far out of order ticks may arrive and still count: the
	// watermark is the (minimum over partitions of the) maximum event time
	// seen minus Delay. Default 0: ticks are expected in event-time order.
	Delay time.Duration
	// Lateness is how long after the watermark passes a window's end the
	// window stays open for late ticks before its Final bar is emitted.
	// Default 0. The Final bar of [start, end) comes when the watermark
	// reaches end + Lateness, so Delay and Lateness add up; Lateness differs
	// in that provisional bars mark the on-time point (watermark >= end).
	Lateness time.Duration
	// Provisional is the event-time interval between provisional
	// (non-final) bars of one symbol's window: after a tick updates a window,
	// a provisional bar is emitted if the window has had none yet or its
	// last event time is at least Provisional past the one the previous
	// provisional bar carried. Default 0: no provisional bars.
	Provisional time.Duration

	// SMAPeriod is the number of bars in the simple moving average of close. Default 20.
	SMAPeriod int
	// EMAFast and EMASlow are the periods of the two exponential moving
	// averages of close (alpha = 2/(period+1)). Defaults 12 and 26.
	EMAFast, EMASlow int
	// VolatilityPeriod is the number of log returns of close in the rolling
	// volatility (sample standard deviation). Default 20; at least 2.
	VolatilityPeriod int
	// ZPeriod is the number of previous bars the z-scores of close and
	// volume are measured against. Default 20; at least 2.
	ZPeriod int

	// Rules are the alert rules, e.g. from LoadRules. Each rule's window must
	// be one of Windows.
	Rules []Rule
}

// withDefaults returns a copy of c with defaults filled in and windows sorted.
func (c Config) withDefaults() Config {
	if len(c.Windows) == 0 {
		c.Windows = []time.Duration{time.Minute}
	} else {
		c.Windows = slices.Clone(c.Windows)
		slices.Sort(c.Windows)
	}
	def := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	def(&c.SMAPeriod, DefaultSMAPeriod)
	def(&c.EMAFast, DefaultEMAFast)
	def(&c.EMASlow, DefaultEMASlow)
	def(&c.VolatilityPeriod, DefaultVolatilityPeriod)
	def(&c.ZPeriod, DefaultZPeriod)
	c.Rules = slices.Clone(c.Rules)
	for i := range c.Rules {
		c.Rules[i].normalize()
	}
	return c
}

// validate checks a defaulted config.
func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("stream: "+format+": %w", append(args, stocklake.ErrConfig)...)
	}
	if len(c.Windows) > MaxWindows {
		return bad("%d window sizes, want at most %d", len(c.Windows), MaxWindows)
	}
	for i, w := range c.Windows {
		switch {
		case w <= 0 || w > MaxDuration:
			return bad("window size %v is out of range, want 1µs to %v", w, MaxDuration)
		case w%time.Microsecond != 0:
			return bad("window size %v is not a whole number of microseconds", w)
		case i > 0 && c.Windows[i-1] == w:
			return bad("window size %v is listed twice", w)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"delay", c.Delay}, {"lateness", c.Lateness}, {"provisional interval", c.Provisional}} {
		if d.v < 0 || d.v > MaxDuration {
			return bad("%s %v is out of range, want 0 to %v", d.name, d.v, MaxDuration)
		}
	}
	for _, p := range []struct {
		name string
		v    int
		min  int
	}{
		{"SMA period", c.SMAPeriod, 1}, {"fast EMA period", c.EMAFast, 1}, {"slow EMA period", c.EMASlow, 1},
		{"volatility period", c.VolatilityPeriod, 2}, {"z-score period", c.ZPeriod, 2},
	} {
		if p.v < p.min || p.v > MaxPeriod {
			return bad("%s is %d, want %d to %d bars", p.name, p.v, p.min, MaxPeriod)
		}
	}
	names := make(map[string]bool, len(c.Rules))
	for i := range c.Rules {
		r := &c.Rules[i]
		if err := r.Validate(); err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		if names[r.Name] {
			return bad("%sthere are two rules named %q; rename one", r.where(), r.Name)
		}
		names[r.Name] = true
		if r.Window != 0 && !slices.Contains(c.Windows, r.Window) {
			return bad("%srule %q watches %v bars, but the windows are %v; add %v to the windows", r.where(), r.Name, r.Window, c.Windows, r.Window)
		}
	}
	return nil
}
