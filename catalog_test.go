package stocklake

import (
	"errors"
	"strings"
	"testing"
)

// TestCatalogNames: names are trimmed and lower-cased as Glue does; empty
// names and names longer than 255 bytes are refused with ErrInvalid,
// naming which one.
func TestCatalogNames(t *testing.T) {
	db, tbl, err := CatalogNames("  Market\t", "Ticks_V2 ")
	if err != nil || db != "market" || tbl != "ticks_v2" {
		t.Errorf("CatalogNames = %q, %q, %v; want market, ticks_v2", db, tbl, err)
	}
	if n, err := CatalogName("table", strings.Repeat("É", 127)); err != nil || n != strings.Repeat("é", 127) {
		t.Errorf("a 254-byte name: %q, %v; want it lower-cased", n, err)
	}
	for _, tc := range []struct{ db, tbl, want string }{
		{"", "t", "empty database name"},
		{"d", " \t", "empty table name"},
		{strings.Repeat("d", 256), "t", "database name"},
		{"d", strings.Repeat("t", 256), "table name"},
	} {
		if _, _, err := CatalogNames(tc.db, tc.tbl); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CatalogNames(%.20q, %.20q) = %v; want ErrInvalid naming the %s", tc.db, tc.tbl, err, tc.want)
		}
	}
}
