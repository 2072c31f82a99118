package stocklake

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Data formats of a catalog table (Glue's "classification").
const (
	FormatParquet = "parquet"
	FormatJSON    = "json"
	FormatCSV     = "csv"
)

// DefaultDatabase is the catalog database the commands use unless told
// otherwise: "stocklake".
const DefaultDatabase = "stocklake"

// Database is a namespace of tables, as in the Glue Data Catalog.
type Database struct {
	Name        string
	Description string
	LocationURI string
	Parameters  map[string]string
	CreateTime  time.Time
}

// Column is a table column with a Glue/Hive type name: boolean, int, bigint,
// double, string, timestamp, date, decimal(p,s), array<T>, struct<a:T,...>.
type Column struct {
	Name    string
	Type    string
	Comment string
}

// Table is a catalog table over files in a lake location, in Glue's terms.
type Table struct {
	Database      string
	Name          string
	Description   string
	Columns       []Column // data columns, in file order
	PartitionKeys []Column // Hive-style partition keys, outermost first
	Location      string   // URL of the table's root folder, ending in '/'
	Format        string   // FormatParquet, FormatJSON or FormatCSV
	InputFormat   string   // Hadoop input format class, as Athena and Trino expect
	OutputFormat  string   // Hadoop output format class
	SerDe         string   // serialization library class
	SerDeParams   map[string]string
	Parameters    map[string]string // e.g. classification, compressionType
	Version       int               // schema version, 1 for a new table
	CreateTime    time.Time
	UpdateTime    time.Time
}

// Partition is one Hive-style partition of a table.
type Partition struct {
	Values     []string // one value per partition key, in key order
	Location   string   // URL of the partition's folder, ending in '/'
	Parameters map[string]string
	CreateTime time.Time
}

// Catalog stores databases, tables and partitions: an embedded SQLite file or
// the AWS Glue Data Catalog. Missing things wrap ErrNotFound; creating an
// existing database or table wraps ErrExists.
type Catalog interface {
	CreateDatabase(ctx context.Context, db Database) error
	GetDatabase(ctx context.Context, name string) (Database, error)
	ListDatabases(ctx context.Context) ([]Database, error)

	CreateTable(ctx context.Context, t Table) error
	// UpdateTable replaces a table's definition and keeps the old one as a
	// schema version.
	UpdateTable(ctx context.Context, t Table) error
	GetTable(ctx context.Context, database, name string) (Table, error)
	ListTables(ctx context.Context, database string) ([]Table, error)
	DeleteTable(ctx context.Context, database, name string) error
	// TableVersions returns every stored definition of a table, oldest first.
	TableVersions(ctx context.Context, database, name string) ([]Table, error)

	// AddPartitions adds partitions, ignoring ones that already exist.
	AddPartitions(ctx context.Context, database, table string, parts []Partition) error
	ListPartitions(ctx context.Context, database, table string) ([]Partition, error)
	// DeletePartitions removes partitions by their values; missing ones are ignored.
	DeletePartitions(ctx context.Context, database, table string, values [][]string) error
	// UpdatePartition replaces the location and parameters of the
	// partition with p.Values in one step: readers see either the old or
	// the new partition, never neither (the compactor's location swap).
	// sqlite and AWS Glue keep its creation time. A missing partition or
	// table wraps ErrNotFound.
	UpdatePartition(ctx context.Context, database, table string, p Partition) error

	Close() error
}

// CatalogNames normalizes a database and a table name the way the Glue
// Data Catalog does (and the SQLite catalog with it): trimmed and
// lower-cased. An empty name, or one longer than Glue's 255 bytes, wraps
// ErrInvalid.
func CatalogNames(database, table string) (db, tbl string, err error) {
	if db, err = CatalogName("database", database); err != nil {
		return "", "", err
	}
	if tbl, err = CatalogName("table", table); err != nil {
		return "", "", err
	}
	return db, tbl, nil
}

// CatalogName is CatalogNames of one name; kind ("database" or "table")
// names it in the error.
func CatalogName(kind, name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" {
		return "", fmt.Errorf("catalog: empty %s name: %w", kind, ErrInvalid)
	}
	if len(n) > 255 {
		return "", fmt.Errorf("catalog: %s name %.40q... is longer than Glue's 255 bytes: %w", kind, n, ErrInvalid)
	}
	return n, nil
}
