package stocklake

import (
	"context"
	"time"
)

// QueryState is the lifecycle state of a query, as in Amazon Athena.
type QueryState string

// Query states, in the order a query moves through them.
const (
	QueryQueued    QueryState = "QUEUED"
	QueryRunning   QueryState = "RUNNING"
	QuerySucceeded QueryState = "SUCCEEDED"
	QueryFailed    QueryState = "FAILED"
	QueryCancelled QueryState = "CANCELLED"
)

// ResultColumn names and types one column of a query result; Type is a
// Trino/Athena type name (varchar, bigint, double, timestamp(3), date, ...).
type ResultColumn struct {
	Name string
	Type string
}

// QueryStats are the costs of a query, as Athena reports them.
type QueryStats struct {
	BytesScanned int64         // bytes read from the lake
	FilesScanned int64         // objects read
	Duration     time.Duration // engine execution time
}

// Rows is a query result read row by row. Values of a row are Go values:
// nil, bool, int64, float64, string, []byte, time.Time, or nested
// []any / map[string]any.
type Rows interface {
	Columns() []ResultColumn
	// Next advances to the next row; it returns false at the end or on error.
	Next() bool
	// Values returns the current row; the slice is valid until Next.
	Values() []any
	Err() error
	// Stats is complete once Next has returned false.
	Stats() QueryStats
	Close() error
}

// Engine runs SQL over the tables of a Catalog: embedded DuckDB, Amazon
// Athena or Trino. Catalog databases appear as schemas, catalog tables as
// relations. Statements are Trino SQL (what Athena users write).
type Engine interface {
	// Query runs one statement. Canceling ctx cancels the query.
	Query(ctx context.Context, sql string) (Rows, error)
	Close() error
}
