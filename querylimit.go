package stocklake

import (
	"context"
	"errors"
)

// ErrScanLimit reports a query stopped because it would read, or did read,
// more bytes from the lake than its limit allows.
var ErrScanLimit = errors.New("bytes-scanned limit exceeded")

type scanLimitKey struct{}

// WithScanLimit returns a context that asks the Engine running a query to
// read at most maxBytes from the lake (0 or less: no limit). Engines that
// know a query's size before running it (DuckDB from the pruned file list,
// Trino through query_max_scan_physical_bytes) refuse it early with an error
// wrapping ErrScanLimit; others may ignore it, so callers also check
// QueryStats.BytesScanned afterwards.
func WithScanLimit(ctx context.Context, maxBytes int64) context.Context {
	return context.WithValue(ctx, scanLimitKey{}, maxBytes)
}

// ScanLimit returns the limit set by WithScanLimit, or 0 for none.
func ScanLimit(ctx context.Context) int64 {
	n, _ := ctx.Value(scanLimitKey{}).(int64)
	if n < 0 {
		return 0
	}
	return n
}

type catalogOnlyKey struct{}

// WithCatalogOnly returns a context that asks the Engine running a query to
// read nothing but catalog tables: no table functions that read files or
// show the engine's state (DuckDB's read_parquet, glob, read_blob,
// duckdb_settings, ...), no functions that reveal its configuration
// (current_setting), no engine-internal schemas. Servers that run SQL for
// remote users (the dashboard's console) set it; a local CLI user keeps the
// engine's raw functions. Engines whose functions cannot reach the lake or
// the host (Athena, Trino) may ignore it.
func WithCatalogOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, catalogOnlyKey{}, true)
}

// CatalogOnly reports whether WithCatalogOnly was set.
func CatalogOnly(ctx context.Context) bool {
	b, _ := ctx.Value(catalogOnlyKey{}).(bool)
	return b
}
