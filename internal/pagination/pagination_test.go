package pagination

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stocklake/stocklake"
)

// TestPage: pages follow each other by token to every key once; a key
// added before the token's position does not shift later pages; tokens not
// issued here are ErrInvalid.
func TestPage(t *testing.T) {
	keys := []string{"a", "b", "c\x1fd", "e", "ü"}
	var got []string
	tok, pages := "", 0
	for {
		p, next, err := Page(keys, tok, 2)
		if err != nil {
			t.Fatal(err)
		}
		got, pages = append(got, p...), pages+1
		if next == "" || pages > 5 {
			break
		}
		tok = next
		keys = append([]string{"0"}, keys...) // sorts before every token
	}
	if !slices.Equal(got, []string{"a", "b", "c\x1fd", "e", "ü"}) || pages != 3 {
		t.Errorf("pages %v in %d, want every key once in 3", got, pages)
	}
	for _, bad := range []string{"!!", "a b", strings.Repeat("A", MaxTokenBytes+1)} {
		if _, _, err := Page(keys, bad, 2); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("token %.20q: %v, want ErrInvalid", bad, err)
		}
	}
	if _, _, err := Page(keys, "", 0); !errors.Is(err, stocklake.ErrInvalid) {
		t.Errorf("size 0: %v, want ErrInvalid", err)
	}
}

func TestParam(t *testing.T) {
	for v, want := range map[string]int{"": 7, "0": 0, "10": 10} {
		if n, err := Param(url.Values{"n": {v}}, "n", 7, 0, 10); n != want || err != nil {
			t.Errorf("n=%q: %d, %v; want %d", v, n, err, want)
		}
	}
	for _, v := range []string{"-1", "11", "x", "1.5", "99999999999999999999999"} {
		if _, err := Param(url.Values{"n": {v}}, "n", 7, 0, 10); !errors.Is(err, stocklake.ErrInvalid) || !strings.Contains(err.Error(), "n=") {
			t.Errorf("n=%q: %v, want ErrInvalid naming n", v, err)
		}
	}
}
