package main

import (
	"math"
	"math/big"
	"strings"
	"testing"
)

func TestCompareAnswers(t *testing.T) {
	stocklake := func() answer {
		return answer{
			{"S001", normalize(int64(10)), 100.000000000001, 99.5, 101.0},
			{"S000", normalize(int64(12)), 50.0, math.NaN(), 51.0},
		}
	}
	// DuckDB directly: other row order, a HUGEINT count, float noise.
	direct := answer{
		{"S000", normalize(big.NewInt(12)), 50.00000000000003, math.NaN(), 51.0},
		{"S001", normalize(int32(10)), 100.0, 99.5, 101.0},
	}
	if d := compareAnswers(stocklake(), direct, 1e-9); len(d) != 0 {
		t.Errorf("equal answers reported as different: %v", d)
	}
	for _, tc := range []struct {
		name string
		edit func(a answer) answer
		want string
	}{
		{"vwap off", func(a answer) answer { a[0][2] = 100.001; return a }, "column 2"},
		{"count off", func(a answer) answer { a[1][1] = normalize(int64(13)); return a }, "column 1"},
		{"symbol", func(a answer) answer { a[1][0] = "S002"; return a }, "row"},
		{"row missing", func(a answer) answer { return a[:1] }, "row count"},
		{"row extra", func(a answer) answer { return append(a, []any{"S009", 1.0, 1.0, 1.0, 1.0}) }, "only stocklake"},
		{"null", func(a answer) answer { a[0][3] = nil; return a }, "column 3"},
	} {
		d := compareAnswers(tc.edit(stocklake()), direct, 1e-9)
		if len(d) == 0 || !strings.Contains(strings.Join(d, "\n"), tc.want) {
			t.Errorf("%s: differences %q, want one mentioning %q", tc.name, d, tc.want)
		}
	}
}
