package query

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

// TestStoredResultTypes reads a stored result's time values back as
// time.Time, as the engines return them (they came back as strings), and
// timestamps with a zone other than UTC (they failed).
func TestStoredResultTypes(t *testing.T) {
	for _, c := range []struct {
		text, typ string
		want      time.Time
	}{
		{"14:05:01.123", "time(3)", time.Date(0, 1, 1, 14, 5, 1, 123000000, time.UTC)},
		{"2026-11-26 14:05:01.000 +05:30", "timestamp(3) with time zone", time.Date(2026, 11, 26, 8, 35, 1, 0, time.UTC)},
		{"2026-11-26 14:05:01.000 UTC", "timestamp(3) with time zone", time.Date(2026, 11, 26, 14, 5, 1, 0, time.UTC)},
	} {
		ex := Execution{ID: "x", Columns: []stocklake.ResultColumn{{Name: "c", Type: c.typ}}}
		r := newCSVRows(io.NopCloser(strings.NewReader("\"c\"\n\""+c.text+"\"\n")), ex)
		if !r.Next() {
			t.Errorf("%s %q: no row: %v", c.typ, c.text, r.Err())
			continue
		}
		if v, ok := r.Values()[0].(time.Time); !ok || !v.Equal(c.want) {
			t.Errorf("%s %q = %#v, want %v", c.typ, c.text, r.Values()[0], c.want)
		}
		r.Close()
	}
}
