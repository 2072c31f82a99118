// Package bearer checks the bearer token of an HTTP request the way every
// stocklake server does (the dashboard, the Iceberg REST catalog).
package bearer

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// Authorized reports whether r carries "Authorization: Bearer TOKEN" with
// the given token; with an empty token every request is. The scheme is
// matched in any case (RFC 9110), the token in constant time. A token in
// the URL is never accepted: browsers and proxies keep URLs in logs.
func Authorized(r *http.Request, token string) bool {
	if token == "" {
		return true
	}
	return Matches(r.Header.Get("Authorization"), token)
}

// Matches reports whether an Authorization header value is "Bearer TOKEN"
// with the given, non-empty token.
func Matches(header, token string) bool {
	scheme, got, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return Equal(strings.TrimSpace(got), token)
}

// Equal compares a presented secret with the configured token in constant
// time; an empty token never matches.
func Equal(got, token string) bool {
	return got != "" && token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}
