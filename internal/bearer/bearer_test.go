package bearer

import (
	"net/http"
	"testing"
)

func TestAuthorized(t *testing.T) {
	const tok = "0123456789abcdef0123"
	for _, c := range []struct {
		header, token string
		ok            bool
	}{
		{"", "", true}, {"Bearer anything", "", true},
		{"Bearer " + tok, tok, true}, {"bearer " + tok, tok, true}, {"BEARER  " + tok + " ", tok, true},
		{"", tok, false}, {"Bearer", tok, false}, {"Bearer ", tok, false}, {tok, tok, false},
		{"Basic " + tok, tok, false}, {"Bearer " + tok + "x", tok, false}, {"Bearer " + tok[:10], tok, false},
	} {
		r, _ := http.NewRequest(http.MethodGet, "http://x/?access_token="+tok, nil)
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		if got := Authorized(r, c.token); got != c.ok {
			t.Errorf("Authorized(%q, token %q) = %v, want %v", c.header, c.token, got, c.ok)
		}
	}
	if Equal("", "") || Equal("x", "") || !Equal(tok, tok) {
		t.Error("Equal: an empty token must never match, the same token must")
	}
}
