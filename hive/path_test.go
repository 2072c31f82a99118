package hive

import (
	"errors"
	"slices"
	"testing"

	"github.com/stocklake/stocklake"
)

func TestEscape(t *testing.T) {
	for v, want := range map[string]string{
		"":                   DefaultPartitionName,
		"NYSE":               "NYSE",
		"NYA/X":              "NYA%2FX",
		"UP%10":              "UP%2510",
		"a=b":                "a%3Db",
		"with space":         "with space",
		"Zürich":             "Zürich",
		"2026-11-26 14:00":   "2026-11-26 14%3A00",
		"\"#%'*/:=?\\{[]^":   "%22%23%25%27%2A%2F%3A%3D%3F%5C%7B%5B%5D%5E",
		"tab\tnl\n\x7f":      "tab%09nl%0A%7F",
		"}<>|~!@$&()+,;":     "}<>|~!@$&()+,;",
		DefaultPartitionName: DefaultPartitionName,
	} {
		if got := Escape(v); got != want {
			t.Errorf("Escape(%q) = %q, want %q", v, got, want)
		}
		if got := string(AppendEscape([]byte("x"), v)); got != "x"+want {
			t.Errorf("AppendEscape(x, %q) = %q, want %q", v, got, "x"+want)
		}
	}
}

func TestUnescape(t *testing.T) {
	for s, want := range map[string]string{
		"NYA%2FX":            "NYA/X",
		"UP%2510":            "UP%10",
		"a%3db":              "a=b",
		"100%":               "100%",
		"5%zz%2F":            "5%zz/", // url.PathUnescape fails on the whole text
		"%2":                 "%2",
		"%41%":               "A%",
		"Zürich":             "Zürich",
		"with+plus":          "with+plus",
		"%C3%BC":             "ü",
		DefaultPartitionName: DefaultPartitionName,
	} {
		if got := Unescape(s); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzEscapeRoundTrip(f *testing.F) {
	for _, s := range []string{"NYA/X", "UP%10", "a=b", "Zürich", "%%", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		e := Escape(v)
		for i := 0; i < len(e); i++ {
			if e[i] == '/' || e[i] == '=' {
				t.Fatalf("Escape(%q) = %q holds %q", v, e, e[i])
			}
		}
		if v != "" && Unescape(e) != v {
			t.Fatalf("Unescape(Escape(%q)) = %q", v, Unescape(e))
		}
	})
}

func TestPartitionPath(t *testing.T) {
	keys := []string{"DT", "exchange", "symbol"}
	vals := []string{"2026-11-26", "NYA/X", ""}
	p := PartitionPath(keys, vals)
	if want := "dt=2026-11-26/exchange=NYA%2FX/symbol=" + DefaultPartitionName; p != want {
		t.Fatalf("PartitionPath = %q, want %q", p, want)
	}
	if got := PartitionPath(keys[:2], vals[:1]); got != "dt=2026-11-26/exchange="+DefaultPartitionName {
		t.Errorf("PartitionPath with a missing value = %q", got)
	}
	k, v, err := ParsePartitionPath("/" + p + "/")
	if err != nil || !slices.Equal(k, []string{"dt", "exchange", "symbol"}) || !slices.Equal(v, []string{"2026-11-26", "NYA/X", DefaultPartitionName}) {
		t.Errorf("ParsePartitionPath(%q) = %q, %q, %v", p, k, v, err)
	}
	if k, v, err := ParsePartitionPath(""); err != nil || k != nil || v != nil {
		t.Errorf("ParsePartitionPath(\"\") = %q, %q, %v", k, v, err)
	}
	for _, bad := range []string{"dt=1/plain", "=x", "a=1//b=2"} {
		if _, _, err := ParsePartitionPath(bad); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("ParsePartitionPath(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	if k, v, ok := SplitPartitionSegment("k="); !ok || k != "k" || v != "" {
		t.Errorf("SplitPartitionSegment(k=) = %q, %q, %v", k, v, ok)
	}
	if IsPartitionSegment("=v") || IsPartitionSegment("plain") || !IsPartitionSegment("k=v=w") {
		t.Error("IsPartitionSegment")
	}
}
