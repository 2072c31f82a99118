package stocklake

import "strconv"

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat is strconv.ParseFloat(string(b), 64) with a fast path for
// the plain decimals prices and sizes are ("249.28", "-3", "0.001"): when
// the digits without the point form an integer m below 2^53 and there are
// at most 22 digits after the point, m and 10^frac are exact float64s and
// their quotient, one IEEE division, is the correctly rounded value, which
// is what ParseFloat returns (its own exact path does the same). Anything
// else (exponents, more digits, signs other than a leading '-', inf, NaN,
// underscores, empty input) goes to ParseFloat itself, errors included.
func parseFloat(b []byte) (float64, error) {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		i, neg = 1, true
	}
	var m uint64
	digits, frac, point := 0, 0, false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
			if point {
				frac++
			}
			if digits > 19 { // m might overflow: let ParseFloat decide
				return strconv.ParseFloat(viewString(b), 64)
			}
		case c == '.' && !point:
			point = true
		default:
			return strconv.ParseFloat(viewString(b), 64)
		}
	}
	if digits == 0 || m >= 1<<53 || frac >= len(pow10) {
		return strconv.ParseFloat(viewString(b), 64)
	}
	f := float64(m) / pow10[frac]
	if neg {
		f = -f
	}
	return f, nil
}
