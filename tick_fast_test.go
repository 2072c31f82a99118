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
