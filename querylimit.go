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
