package compact

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stocklake/stocklake"
)

// TestTierBins checks which files of a partition still being written are
// merged: a file only into a bin 4 times its size, or twice its size when
// the bin fills a file to 3/4 of the target (here 96 of 128).
func TestTierBins(t *testing.T) {
	const target, done = 128, 96
	ones := func(n int) []int64 { return slices.Repeat([]int64{1}, n) }
	for _, tc := range []struct {
		name  string
		sizes []int64
		want  [][]int64 // bins, each smallest first
	}{
		{"two small files are not rewritten for nothing", []int64{1, 1}, nil},
		{"nor three", []int64{1, 1, 1}, nil},
		{"four equal files make one 4x bigger", []int64{5, 5, 5, 5}, [][]int64{{5, 5, 5, 5}}},
		{"a merged file waits for 3x its size of new rows", append(ones(20), 10), [][]int64{ones(20)}},
		{"and joins when they are there", append(ones(30), 10), [][]int64{append(ones(30), 10)}},
		{"a bin spans tiers while its largest file is a quarter of it", []int64{1, 1, 1, 1, 8, 8, 8, 8}, [][]int64{{1, 1, 1, 1, 8, 8, 8, 8}}},
		{"a file above a quarter of the target waits", []int64{1, 1, 1, 1, 40}, [][]int64{{1, 1, 1, 1}}},
		{"a nearly full file is not rewritten for a few rows", []int64{90, 7}, nil},
		{"two halves fill a file", []int64{50, 50}, [][]int64{{50, 50}}},
		{"three files of 40 fill one", []int64{40, 40, 40}, [][]int64{{40, 40, 40}}},
		{"two of 40 do not", []int64{40, 40}, nil},
		{"bins stop at the target", append(ones(200), 30), [][]int64{ones(128), append(ones(72), 30)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := make([]stocklake.TableDataFile, len(tc.sizes))
			for i, s := range tc.sizes {
				files[i] = stocklake.TableDataFile{URL: fmt.Sprintf("f%03d", i), Size: s}
			}
			var got [][]int64
			for _, b := range tierBins(files, target, done) {
				var sizes []int64
				for _, f := range b {
					sizes = append(sizes, f.Size)
				}
				got = append(got, sizes)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("bins of %v: %v, want %v", tc.sizes, got, tc.want)
			}
		})
	}
}
