package stocklake

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestParseFloatSameAsStrconv: parseFloat returns exactly what
// strconv.ParseFloat returns (bit for bit, errors alike) on crafted and
// random decimals, including those that leave its fast path.
func TestParseFloatSameAsStrconv(t *testing.T) {
	inputs := []string{"0", "-0", "1", "249.28", "0.1", "0.3", "-3", "1.", ".5", "-.5", "007.50", "9007199254740991",
		"9007199254740992", "9007199254740993", "0.0000000000000000000001", "0.00000000000000000000001",
		"12345678901234567890", "1234567890123456789", "1e3", "1E-3", "+1", "--1", "1.2.3", "", "-", ".", "inf", "NaN",
		"0x1p-2", "1_000", "123456789012345", "1234567890123456", "0.123456789012345", "9.99999999999999", "Inf", "0x10", "179769313486231570000000000000000000000", "4.9406564584124654e-324", "123.456789012345678"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		intDigits, fracDigits := rng.IntN(12), rng.IntN(12)
		s := ""
		if rng.IntN(4) == 0 {
			s = "-"
		}
		for range intDigits {
			s += strconv.Itoa(rng.IntN(10))
		}
		if fracDigits > 0 || rng.IntN(3) == 0 {
			s += "."
		}
		for range fracDigits {
			s += strconv.Itoa(rng.IntN(10))
		}
		inputs = append(inputs, s)
	}
	for i := range 100_000 { // prices as the simulator writes them
		inputs = append(inputs, strconv.FormatFloat(math.Round(rng.Float64()*1e6)/100, 'f', -1, 64), fmt.Sprint(i))
	}
	for _, s := range inputs {
		got, gerr := parseFloat([]byte(s))
		want, werr := strconv.ParseFloat(s, 64)
		if math.Float64bits(got) != math.Float64bits(want) || (gerr == nil) != (werr == nil) {
			t.Fatalf("parseFloat(%q) = %v, %v; strconv.ParseFloat = %v, %v", s, got, gerr, want, werr)
		}
	}
}

func BenchmarkParseFloat(b *testing.B) {
	in := []byte("249.28")
	for b.Loop() {
		if _, err := parseFloat(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStrconvParseFloat(b *testing.B) {
	in := []byte("249.28")
	for b.Loop() {
		if _, err := strconv.ParseFloat(viewString(in), 64); err != nil {
			b.Fatal(err)
		}
	}
}
