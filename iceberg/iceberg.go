// Package iceberg keeps lake tables as Apache Iceberg tables, on
// github.com/apache/iceberg-go: a catalog in the Iceberg SQL catalog schema
// (the iceberg_tables table that iceberg-go's catalog/sql, pyiceberg's
// SqlCatalog and Java's JdbcCatalog use) inside stocklake's SQLite catalog
// file, or in the AWS Glue Data Catalog (iceberg-go's catalog/glue: Glue
// tables with table_type=ICEBERG and metadata_location, as Athena and
// Trino read them), tick tables with hidden partitioning on the event
// time, and commits that add already-written Parquet files and advance
// Kafka offsets in one atomic snapshot (see Table.Commit and
// docs/iceberg.md).
//
// It returns stocklake root types only; iceberg-go's types stay inside.
package iceberg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/sqlite"

	ice "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	iceio "github.com/apache/iceberg-go/io"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // registers s3:// file IO
	"github.com/apache/iceberg-go/table"
)

// Type is the table format this package implements, as in
// `stocklake sink --table-format iceberg`.
const Type = stocklake.TableFormatIceberg

// DefaultCatalogName is the catalog name stored in the iceberg_tables rows,
// and the name to give pyiceberg's SqlCatalog: "stocklake".
const DefaultCatalogName = "stocklake"

// BusyTimeout is how long a catalog statement waits for another process's
// write lock on the SQLite file: sqlite.BusyTimeout, 30 seconds.
const BusyTimeout = sqlite.BusyTimeout

// Config says where the Iceberg catalog and the table files live.
type Config struct {
	// SQLitePath is the SQLite catalog file (the path of a sqlite:// catalog
	// URL); required unless Glue is set. It may be the file of stocklake's
	// sqlite catalog: the Iceberg tables iceberg_tables and
	// iceberg_namespace_properties live beside its tables.
	SQLitePath string
	// Glue, when set, keeps the tables in the AWS Glue Data Catalog (a
	// glue:// catalog URL) instead of a SQLite file; default nil.
	Glue *GlueConfig
	// Warehouse is the lake's URL, under which tables are created as
	// WAREHOUSE/DATABASE.db/TABLE: file:///abs/dir or s3://bucket/prefix;
	// required.
	Warehouse string
	// Name is the catalog name recorded in iceberg_tables; default
	// DefaultCatalogName.
	Name string

	// S3 settings, used when Warehouse is s3://. Region defaults to the
	// Glue catalog's region, else us-east-1; Endpoint (e.g.
	// http://127.0.0.1:9000) selects an S3-compatible server and
	// path-style URLs; empty keys use the AWS credential chain.
	S3Region       string
	S3Endpoint     string
	S3AccessKey    string
	S3SecretKey    string
	S3SessionToken string
}

// Catalog is an Iceberg catalog: the Iceberg SQL catalog in a SQLite file,
// or AWS Glue. It is safe for concurrent use, also by several processes
// sharing the file or the Glue catalog.
type Catalog struct {
	cat       catalog.Catalog
	db        *sql.DB // nil for Glue
	name      string
	warehouse string // without a trailing '/'
	props     ice.Properties
	// locate returns the metadata_location the catalog records for a
	// table: one cheap read that tells whether a loaded table is current.
	locate func(ctx context.Context, database, table string) (string, error)
	// lowerNames lower-cases database and table names, as Glue does.
	lowerNames bool
}

// Open opens the Iceberg catalog: in AWS Glue when cfg.Glue is set, else in
// cfg.SQLitePath, creating the file and the Iceberg SQL catalog tables when
// missing.
func Open(ctx context.Context, cfg Config) (*Catalog, error) {
	warehouse, err := normalizeWarehouse(cfg.Warehouse)
	if err != nil {
		return nil, err
	}
	props := ice.Properties{"warehouse": warehouse}
	if strings.HasPrefix(warehouse, "s3://") {
		region := cfg.S3Region
		if region == "" {
			region = "us-east-1"
		}
		props[iceio.S3Region] = region
		if cfg.S3Endpoint != "" {
			props[iceio.S3EndpointURL] = cfg.S3Endpoint
			props["s3.force-virtual-addressing"] = "false"
		}
		if cfg.S3AccessKey != "" {
			props[iceio.S3AccessKeyID] = cfg.S3AccessKey
			props[iceio.S3SecretAccessKey] = cfg.S3SecretKey
		}
		if cfg.S3SessionToken != "" {
			props[iceio.S3SessionToken] = cfg.S3SessionToken
		}
	}
	if cfg.Glue != nil {
		if cfg.SQLitePath != "" {
			return nil, fmt.Errorf("iceberg: both a SQLite file and Glue given as the catalog: choose one: %w", stocklake.ErrConfig)
		}
		return openGlue(ctx, cfg, warehouse, props)
	}
	return openSQLite(cfg, warehouse, props)
}

// openSQLite opens the Iceberg SQL catalog in the SQLite file
// cfg.SQLitePath.
func openSQLite(cfg Config, warehouse string, props ice.Properties) (*Catalog, error) {
	if cfg.SQLitePath == "" || cfg.SQLitePath == ":memory:" {
		return nil, fmt.Errorf("iceberg: no SQLite catalog file given: use a catalog URL like sqlite://./stocklake-data/catalog.db: %w", stocklake.ErrConfig)
	}
	if strings.ContainsRune(cfg.SQLitePath, '?') {
		return nil, fmt.Errorf("iceberg: catalog path %q contains '?': choose a path without it: %w", cfg.SQLitePath, stocklake.ErrConfig)
	}
	name := cfg.Name
	if name == "" {
		name = DefaultCatalogName
	}
	if dir := filepath.Dir(cfg.SQLitePath); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("iceberg: creating the catalog folder %s: %v: %w", dir, err, stocklake.ErrConfig)
		}
	}
	// The same settings as the sqlite package: WAL so readers never block,
	// a busy timeout so writers in several processes queue for the lock,
	// and immediate transactions so a read-then-write never deadlocks.
	dsn := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate",
		cfg.SQLitePath, BusyTimeout.Milliseconds())
	var (
		db  *sql.DB
		cat *sqlcat.Catalog
	)
	err := sqlite.RetryBusy(func() error {
		var err error
		if db, err = sql.Open("sqlite", dsn); err != nil {
			return fmt.Errorf("iceberg: opening catalog %s: %v: %w", cfg.SQLitePath, err, stocklake.ErrConfig)
		}
		if cat, err = sqlcat.NewCatalog(name, db, sqlcat.SQLite, props); err != nil {
			db.Close()
			return fail(fmt.Sprintf("opening the Iceberg catalog in %s", cfg.SQLitePath), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c := &Catalog{cat: cat, db: db, name: name, warehouse: warehouse, props: props}
	c.locate = func(ctx context.Context, database, table string) (string, error) {
		var loc string
		err := db.QueryRowContext(ctx,
			"SELECT metadata_location FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?",
			name, database, table).Scan(&loc)
		return loc, err
	}
	return c, nil
}

// normalizeWarehouse checks a lake URL and drops its trailing '/'.
func normalizeWarehouse(w string) (string, error) {
	u, err := url.Parse(w)
	if err != nil || w == "" {
		return "", fmt.Errorf("iceberg: warehouse %q is not a lake URL: give file:///abs/dir or s3://bucket/prefix: %w", w, stocklake.ErrConfig)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return "", fmt.Errorf("iceberg: warehouse %q must be an absolute file:///path: %w", w, stocklake.ErrConfig)
		}
	case "s3":
		if u.Host == "" {
			return "", fmt.Errorf("iceberg: warehouse %q has no bucket: give s3://bucket/prefix: %w", w, stocklake.ErrConfig)
		}
	default:
		return "", fmt.Errorf("iceberg: warehouse %q: scheme %q is not supported: give file:///abs/dir or s3://bucket/prefix: %w", w, u.Scheme, stocklake.ErrConfig)
	}
	w = strings.TrimRight(w, "/")
	if err := checkFileURL(w); err != nil {
		return "", fmt.Errorf("iceberg: warehouse: %v: choose a lake folder whose path has only letters, digits and \"/._~+=-\": %w", err, stocklake.ErrConfig)
	}
	return w, nil
}

// Name is the catalog name stored in iceberg_tables.
func (c *Catalog) Name() string { return c.name }

// Warehouse is the lake URL tables are created under.
func (c *Catalog) Warehouse() string { return c.warehouse }

// Close closes the catalog's database handle.
func (c *Catalog) Close() error {
	var err error
	if cl, ok := c.cat.(catalog.Closer); ok {
		err = cl.Close()
	}
	if c.db != nil {
		err = errors.Join(err, c.db.Close())
	}
	return err
}

// notIceberg reports whether err is iceberg-go's Glue catalog refusing a
// table of the name that is not an Iceberg table (a Hive table).
func notIceberg(err error) bool {
	return strings.Contains(err.Error(), "is not an iceberg table") || strings.Contains(err.Error(), "is not an EXTERNAL_TABLE")
}

// names normalizes a database and table name for the catalog: Glue
// lower-cases them.
func (c *Catalog) names(database, name string) (string, string) {
	if c.lowerNames {
		return strings.ToLower(database), strings.ToLower(name)
	}
	return database, name
}

// ensureNamespace creates the database's namespace when missing.
func (c *Catalog) ensureNamespace(ctx context.Context, database string) error {
	ns := table.Identifier{database}
	ok, err := c.cat.CheckNamespaceExists(ctx, ns)
	if err != nil {
		return fail("checking database "+database, err)
	}
	if ok {
		return nil
	}
	err = c.cat.CreateNamespace(ctx, ns, nil)
	if err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
		return fail("creating database "+database, err)
	}
	return nil
}

// ListTables returns the names of the Iceberg tables of a database.
func (c *Catalog) ListTables(ctx context.Context, database string) ([]string, error) {
	database, _ = c.names(database, "")
	var out []string
	for id, err := range c.cat.ListTables(ctx, table.Identifier{database}) {
		if err != nil {
			if errors.Is(err, catalog.ErrNoSuchNamespace) {
				return nil, nil
			}
			return nil, fail("listing the tables of "+database, err)
		}
		out = append(out, id[len(id)-1])
	}
	return out, nil
}

// fail maps iceberg-go errors to stocklake sentinels.
func fail(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("iceberg: %s: %w", op, err)
	case errors.Is(err, catalog.ErrNoSuchTable) || errors.Is(err, catalog.ErrNoSuchNamespace):
		return fmt.Errorf("iceberg: %s: %v: %w", op, err, stocklake.ErrNotFound)
	case errors.Is(err, catalog.ErrTableAlreadyExists) || errors.Is(err, catalog.ErrNamespaceAlreadyExists):
		return fmt.Errorf("iceberg: %s: %v: %w", op, err, stocklake.ErrExists)
	}
	for _, s := range []error{stocklake.ErrNotFound, stocklake.ErrExists, stocklake.ErrInvalid, stocklake.ErrConfig, stocklake.ErrUnavailable, stocklake.ErrFenced} {
		if errors.Is(err, s) {
			return fmt.Errorf("iceberg: %s: %w", op, err)
		}
	}
	if notIceberg(err) {
		return fmt.Errorf("iceberg: %s: %v: the catalog has a table of that name that is not an Iceberg table (e.g. a Hive table of the sink or the crawler): choose another table name, or drop that one: %w", op, err, stocklake.ErrConfig)
	}
	if sqlite.Busy(err) {
		return fmt.Errorf("iceberg: %s: the catalog file stayed locked by another process: retry: %v: %w", op, err, stocklake.ErrUnavailable)
	}
	return fmt.Errorf("iceberg: %s: %v: %w", op, err, stocklake.ErrUnavailable)
}
