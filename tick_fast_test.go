package stocklake

import (
	"bytes"
	"testing"
)

// TestIntern: intern returns the string of its bytes for every length up
// to its limit and beyond, for strings that differ in one byte anywhere,
// in length only (trailing NULs) or that collide in the table, however
// the table's entries replace each other; and a string in the table is
// returned without an allocation.
func TestIntern(t *testing.T) {
	var all [][]byte
	for n := range 19 {
		base := bytes.Repeat([]byte{'A'}, n)
		all = append(all, base, append(bytes.Clone(base), 0))
		for i := range n {
			for _, c := range []byte{'B', 0, 0xff} {
				v := bytes.Clone(base)
				v[i] = c
				all = append(all, v)
			}
		}
	}
	for round := range 3 {
		for _, b := range all {
			if got := intern(b); got != string(b) {
				t.Fatalf("round %d: intern(%q) = %q", round, b, got)
			}
		}
	}
	b := []byte("AAPL")
	intern(b)
	if allocs := testing.AllocsPerRun(100, func() { intern(b) }); allocs != 0 {
		t.Errorf("intern of a cached string: %v allocations, want 0", allocs)
	}
}

// TestScanPlainBytes compares scanPlainBytes, which looks at 8 bytes at a
// time, with a byte-at-a-time reading of the same rule, on strings of every
// length up to 24 with each byte that can end or spoil a plain string (and
// its neighbours) at every position, with and without a closing quote.
func TestScanPlainBytes(t *testing.T) {
	ref := func(b []byte, i int) (int, int, bool) {
		if i >= len(b) || b[i] != '"' {
			return 0, i, false
		}
		for j := i + 1; j < len(b); j++ {
			c := b[j]
			if c == '"' {
				return i + 1, j + 1, true
			}
			if c == '\\' || c < 0x20 || c >= 0x80 {
				return 0, i, false
			}
		}
		return 0, i, false
	}
	specials := []byte{'"', '\\', 0, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xff, 'A', 0x01, 0x02}
	n := 0
	for size := range 25 {
		for pos := range size {
			for _, c := range specials {
				for _, tail := range []string{"", `"`, `",x`, `"` + "0123456789abcdef"} {
					body := bytes.Repeat([]byte{'a'}, size)
					body[pos] = c
					if pos > 0 {
						body[pos-1] = 0x01 // a byte just above zero, where a borrow lands
					}
					b := append(append([]byte{' ', '"'}, body...), tail...)
					s1, e1, ok1 := scanPlainBytes(b, 1)
					s2, e2, ok2 := ref(b, 1)
					if s1 != s2 || e1 != e2 || ok1 != ok2 {
						t.Fatalf("scanPlainBytes(%q) = %d, %d, %v; want %d, %d, %v", b, s1, e1, ok1, s2, e2, ok2)
					}
					n++
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no cases")
	}
}
