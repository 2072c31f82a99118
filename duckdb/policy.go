package duckdb

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/stocklake/stocklake"
)

// ConsoleTableFunctions are the table functions a query may call when its
// context carries stocklake.WithCatalogOnly (the dashboard's console): they
// compute rows from their arguments and read nothing.
var ConsoleTableFunctions = []string{"generate_series", "range", "unnest"}

// consoleDeniedFunctions are functions refused under
// stocklake.WithCatalogOnly besides every table function outside
// ConsoleTableFunctions: they reveal the engine's configuration (such as
// allowed_directories, the lake's absolute path), its variables or the
// statement as rewritten, write to its log, or run serialized SQL.
var consoleDeniedFunctions = map[string]bool{
	"current_setting": true, "getvariable": true, "current_query": true, "write_log": true,
	"json_execute_serialized_sql": true, "json_deserialize_sql": true, "query": true, "query_table": true,
	"glob": true, "checkpoint": true, "force_checkpoint": true,
}

// consoleDeniedPrefixes name families of functions refused under
// stocklake.WithCatalogOnly: file readers and engine introspection.
var consoleDeniedPrefixes = []string{"read_", "parquet_", "sniff_", "duckdb_", "pragma_", "iceberg_", "delta_", "arrow_", "enable_", "disable_"}

// checkCatalogOnly refuses what a console query may not use: table
// functions outside ConsoleTableFunctions, the functions of
// consoleDeniedFunctions and consoleDeniedPrefixes, anywhere in the
// statement (subqueries, CTEs, lateral joins, method calls such as
// 'x'.read_text()).
func checkCatalogOnly(tree node) error {
	var err error
	var visit func(v any)
	visit = func(v any) {
		if err != nil {
			return
		}
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				visit(e)
			}
		case node:
			if x["type"] == "TABLE_FUNCTION" {
				fn, _ := x["function"].(node)
				name := strings.ToLower(str(fn["function_name"]))
				if !slices.Contains(ConsoleTableFunctions, name) {
					err = fmt.Errorf("table function %s is not available in the console: query the catalog's tables (SHOW TABLES lists them); the table functions allowed here are %s (docs/security.md): %w",
						name, strings.Join(ConsoleTableFunctions, ", "), stocklake.ErrInvalid)
					return
				}
			}
			if x["class"] == "FUNCTION" {
				if name := strings.ToLower(str(x["function_name"])); deniedInConsole(name) {
					err = fmt.Errorf("function %s is not available in the console: it reads files or shows the server's configuration (docs/security.md): %w", name, stocklake.ErrInvalid)
					return
				}
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys) // the first offence in a stable order
			for _, k := range keys {
				visit(x[k])
			}
		}
	}
	visit(tree)
	return err
}

func deniedInConsole(name string) bool {
	if consoleDeniedFunctions[name] {
		return true
	}
	for _, p := range consoleDeniedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
