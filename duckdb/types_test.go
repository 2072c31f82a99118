package duckdb

import (
	"errors"
	"testing"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
)

// TestDuckType renders catalog types read with hive.ParseType. Struct
// field names beyond [A-Za-z0-9_] ("a-b", quoted "c d") are read since the
// shared grammar; this package's own parser refused them.
func TestDuckType(t *testing.T) {
	for in, want := range map[string]string{
		"int":                          "INTEGER",
		"double precision":             "DOUBLE",
		"decimal":                      "DECIMAL(10,0)",
		"decimal(12)":                  "DECIMAL(12,0)",
		"decimal(10,2)":                "DECIMAL(10,2)",
		"varchar(3)":                   "VARCHAR",
		"array<map<string,bigint>>":    "MAP(VARCHAR, BIGINT)[]",
		"struct<a-b:int,`c d`:string>": `STRUCT("a-b" INTEGER, "c d" VARCHAR)`,
	} {
		ht, err := hive.ParseType(in)
		if err != nil {
			t.Errorf("ParseType(%q): %v", in, err)
			continue
		}
		if got, err := duckType(ht); err != nil || got != want {
			t.Errorf("duckType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"geometry", "uniontype<int,string>"} {
		ht, _ := hive.ParseType(bad)
		if got, err := duckType(ht); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("duckType(%q) = %q, %v; want ErrInvalid", bad, got, err)
		}
	}
}
