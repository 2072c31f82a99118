package sqltext

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

func TestParseValue(t *testing.T) {
	for _, c := range []struct {
		s, typ string
		want   any
	}{
		{"42", "bigint", int64(42)},
		{"-7", "int", int64(-7)},
		{"2.5", "double", 2.5},
		{"1E-09", "real", 1e-9},
		{"-Infinity", "double", math.Inf(-1)},
		{"true", "boolean", true},
		{"2026-11-26", "date", time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)},
		{"2026-11-26 14:05:01.123456", "timestamp(6)", time.Date(2026, 11, 26, 14, 5, 1, 123456000, time.UTC)},
		{"2026-11-26 14:05:01.123 UTC", "timestamp(3) with time zone", time.Date(2026, 11, 26, 14, 5, 1, 123000000, time.UTC)},
		{"2026-11-26 14:05:01.123 +05:30", "timestamp(3) with time zone", time.Date(2026, 11, 26, 8, 35, 1, 123000000, time.UTC)},
		{"2026-11-26T14:05:01Z", "timestamp with time zone", time.Date(2026, 11, 26, 14, 5, 1, 0, time.UTC)},
		{"2026-11-26 14:05:01.000 America/New_York", "timestamp(3) with time zone", time.Date(2026, 11, 26, 19, 5, 1, 0, time.UTC)},
		// Go's "MST" layout, which the Trino engine's copy tried first,
		// reads the zone IDs CET or PRC (Trino writes them) as zones at UTC.
		{"2026-11-26 14:05:01.000 CET", "timestamp(3) with time zone", time.Date(2026, 11, 26, 13, 5, 1, 0, time.UTC)},
		{"2026-11-26 14:05:01.000 PRC", "timestamp(3) with time zone", time.Date(2026, 11, 26, 6, 5, 1, 0, time.UTC)},
		{"14:05:01.123", "time(3)", time.Date(0, 1, 1, 14, 5, 1, 123000000, time.UTC)},
		{"0a ff", "varbinary", []byte{0x0a, 0xff}},
		{"12.50", "decimal(4,2)", "12.50"},
		{"[1, 2]", "array(integer)", "[1, 2]"},
		{"x", "varchar", "x"},
	} {
		got, err := ParseValue(c.s, c.typ)
		if err != nil {
			t.Errorf("ParseValue(%q, %q): %v", c.s, c.typ, err)
			continue
		}
		if w, ok := c.want.(time.Time); ok {
			if g, ok := got.(time.Time); !ok || !g.Equal(w) {
				t.Errorf("ParseValue(%q, %q) = %v, want %v", c.s, c.typ, got, w)
			}
			continue
		}
		if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", c.want) {
			t.Errorf("ParseValue(%q, %q) = %#v, want %#v", c.s, c.typ, got, c.want)
		}
	}
	for _, c := range []struct{ s, typ string }{
		{"x", "bigint"}, {"x", "double"}, {"yes", "boolean"}, {"2026-13-01", "date"}, {"zz", "varbinary"},
		{"2026-11-26 14:05:01 Nowhere/Zone", "timestamp with time zone"},
	} {
		if v, err := ParseValue(c.s, c.typ); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("ParseValue(%q, %q) = %v, %v; want ErrInvalid", c.s, c.typ, v, err)
		}
	}
}

// TestFormatParseRoundTrip reads back what FormatValue writes, with the
// same Go type, for each scalar type and a nested one.
func TestFormatParseRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 26, 14, 5, 1, 123456000, time.UTC)
	for _, c := range []struct {
		v   any
		typ string
	}{
		{int64(-3), "bigint"}, {2.5, "double"}, {math.NaN(), "double"}, {false, "boolean"}, {"a,\"b\"", "varchar"},
		{ts, "timestamp(6)"}, {ts, "timestamp(6) with time zone"}, {ts.Truncate(24 * time.Hour), "date"},
		{time.Date(0, 1, 1, 14, 5, 1, 123000000, time.UTC), "time(3)"}, {[]byte{1, 2}, "varbinary"},
		{[]any{"a", map[string]any{"k": 1.5}}, "array(row(k double))"},
	} {
		s := FormatValue(c.v, c.typ)
		got, err := ParseFormatted(s, c.typ)
		if err != nil {
			t.Errorf("ParseFormatted(%q, %q): %v", s, c.typ, err)
			continue
		}
		if fmt.Sprintf("%T %v", got, got) != fmt.Sprintf("%T %v", c.v, c.v) {
			t.Errorf("%#v as %s = %q, read back as %T %v", c.v, c.typ, s, got, got)
		}
	}
}
