// Package pagination reads the paging parameters of stocklake's HTTP list
// APIs the same way in every server (the dashboard's offset and limit, the
// Iceberg REST catalog's pageSize and pageToken) and pages sorted keys
// with opaque tokens.
package pagination

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"sort"
	"strconv"

	"github.com/stocklake/stocklake"
)

// Param parses the whole-number query parameter name of q: def when it is
// absent or empty. A value that is not a whole number from lo to hi is an
// error wrapping stocklake.ErrInvalid that says what is allowed (answer it
// with 400).
func Param(q url.Values, name string, def, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo {
		return 0, fmt.Errorf("%s=%.40q: want a whole number from %d to %d: %w", name, v, lo, hi, stocklake.ErrInvalid)
	}
	if n > hi {
		return 0, fmt.Errorf("%s=%d: at most %d: %w", name, n, hi, stocklake.ErrInvalid)
	}
	return n, nil
}

// MaxTokenBytes bounds a page token: longer ones were not issued here.
const MaxTokenBytes = 64 << 10

// Page returns the keys of sorted (ascending, no repeats) that come after
// the key token names ("" for the first page), at most size of them, and
// the token of the page after this one: "" when this is the last. A token
// is the last key of its page, base64url-encoded: pages stay right when
// keys are added or removed between requests (keyset paging). A token
// that was not issued by Page is an error wrapping stocklake.ErrInvalid.
func Page(sorted []string, token string, size int) (page []string, next string, err error) {
	if size < 1 {
		return nil, "", fmt.Errorf("page size %d: want at least 1: %w", size, stocklake.ErrInvalid)
	}
	from := 0
	if token != "" {
		last, err := base64.RawURLEncoding.DecodeString(token)
		if len(token) > MaxTokenBytes || err != nil {
			return nil, "", fmt.Errorf("page token of %d bytes: not a token this server issued; start again without one: %w", len(token), stocklake.ErrInvalid)
		}
		from = sort.Search(len(sorted), func(i int) bool { return sorted[i] > string(last) })
	}
	page = sorted[from:]
	if len(page) > size {
		page = page[:size]
		next = base64.RawURLEncoding.EncodeToString([]byte(page[size-1]))
	}
	return page, next, nil
}
