// Package sqlite implements stocklake.Catalog, and the optional
// stocklake.CrawlLog, on an embedded SQLite file: the default catalog,
// sqlite://PATH. It uses modernc.org/sqlite, a pure-Go SQLite, so the binary
// needs no cgo.
//
// The file is opened in WAL mode with a busy timeout, so several processes
// can share it: a crawler and a sink registering partitions at the same time,
// and any number of readers. Like the Glue Data Catalog, database and table
// names are stored in lower case and looked up case-insensitively.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stocklake/stocklake"
	sqlitedriver "modernc.org/sqlite"
)

// Type is the URL scheme of this backend: sqlite://PATH.
const Type = "sqlite"

// BusyTimeout is how long a statement waits for another process's write lock
// before failing with stocklake.ErrUnavailable: 30 seconds.
const BusyTimeout = 30 * time.Second

// schemaVersion is the version of the tables below, kept in PRAGMA
// user_version; a file written by a newer stocklake is refused.
const schemaVersion = 1

const schema = `
CREATE TABLE IF NOT EXISTS databases (
	name         TEXT PRIMARY KEY,
	description  TEXT NOT NULL DEFAULT '',
	location_uri TEXT NOT NULL DEFAULT '',
	parameters   TEXT NOT NULL DEFAULT '{}',
	create_time  INTEGER NOT NULL
);
-- Every definition of every table; the current one has the highest version.
CREATE TABLE IF NOT EXISTS table_versions (
	database    TEXT NOT NULL REFERENCES databases(name) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	version     INTEGER NOT NULL,
	location    TEXT NOT NULL,
	format      TEXT NOT NULL,
	definition  TEXT NOT NULL, -- JSON of stocklake.Table
	create_time INTEGER NOT NULL,
	update_time INTEGER NOT NULL,
	PRIMARY KEY (database, name, version)
);
CREATE TABLE IF NOT EXISTS partitions (
	database    TEXT NOT NULL,
	table_name  TEXT NOT NULL,
	vals        TEXT NOT NULL, -- JSON array of the partition values
	location    TEXT NOT NULL,
	parameters  TEXT NOT NULL DEFAULT '{}',
	create_time INTEGER NOT NULL,
	PRIMARY KEY (database, table_name, vals)
);
CREATE TABLE IF NOT EXISTS crawls (
	id         TEXT PRIMARY KEY,
	database   TEXT NOT NULL,
	lake_url   TEXT NOT NULL,
	start_time INTEGER NOT NULL,
	end_time   INTEGER NOT NULL,
	run        TEXT NOT NULL -- JSON of stocklake.CrawlRun
);
CREATE INDEX IF NOT EXISTS crawls_by_start ON crawls (database, start_time);
CREATE TABLE IF NOT EXISTS crawl_states (
	database    TEXT NOT NULL,
	lake_url    TEXT NOT NULL,
	run_id      TEXT NOT NULL,
	update_time INTEGER NOT NULL,
	PRIMARY KEY (database, lake_url)
);
CREATE TABLE IF NOT EXISTS crawl_folders (
	database TEXT NOT NULL,
	lake_url TEXT NOT NULL,
	folder   TEXT NOT NULL,
	PRIMARY KEY (database, lake_url, folder)
) WITHOUT ROWID;
`

var (
	_ stocklake.Catalog  = (*Catalog)(nil)
	_ stocklake.CrawlLog = (*Catalog)(nil)
)

// Catalog is a Glue-style catalog in a SQLite file. It is safe for concurrent
// use by several goroutines and several processes.
type Catalog struct {
	db   *sql.DB
	path string
}

// Open opens the catalog in the SQLite file at path, creating the file, its
// parent folder and the schema when missing. The path ":memory:" gives a
// private in-memory catalog, handy in tests.
func Open(path string) (*Catalog, error) {
	if path == "" {
		return nil, fmt.Errorf("sqlite: empty catalog path: give a file, e.g. sqlite://./stocklake-data/catalog.db: %w", stocklake.ErrConfig)
	}
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sqlite: catalog path %q contains '?': choose a path without it: %w", path, stocklake.ErrConfig)
	}
	memory := path == ":memory:"
	if !memory {
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("sqlite: creating the catalog folder %s: %w: %w", dir, err, stocklake.ErrConfig)
			}
		}
	}
	dsn := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate",
		path, BusyTimeout.Milliseconds())
	if !memory {
		dsn += "&_pragma=journal_mode(WAL)"
	}
	c := &Catalog{path: path}
	err := RetryBusy(func() error {
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return fmt.Errorf("sqlite: opening catalog %s: %w: %w", path, err, stocklake.ErrConfig)
		}
		if memory {
			// Each connection would see its own empty in-memory database.
			db.SetMaxOpenConns(1)
		}
		c.db = db
		if err := c.migrate(context.Background()); err != nil {
			db.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// RetryBusy calls open, which opens a SQLite file and sets it up, again
// while it fails with Busy, pausing 10ms doubling to 500ms between calls,
// until BusyTimeout has passed; it returns open's last error. Processes
// that open a new file at the same moment race to switch it to WAL and
// create its tables, and SQLite answers the losers "database is locked" at
// once, without waiting for its busy timeout.
func RetryBusy(open func() error) error {
	for start, pause := time.Now(), 10*time.Millisecond; ; pause = min(2*pause, 500*time.Millisecond) {
		err := open()
		if err == nil || !Busy(err) || time.Since(start) > BusyTimeout {
			return err
		}
		time.Sleep(pause)
	}
}

// Busy reports whether err is SQLite's answer that another connection
// holds the lock (SQLITE_BUSY, SQLITE_LOCKED), also when a library passed
// it on as text only ("database is locked").
func Busy(err error) bool {
	if err == nil {
		return false
	}
	var se *sqlitedriver.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
			return true
		}
	}
	return strings.Contains(err.Error(), "database is locked") || strings.Contains(err.Error(), "SQLITE_BUSY")
}

// Path is the catalog's file, as given to Open.
func (c *Catalog) Path() string { return c.path }

// Close closes the database file.
func (c *Catalog) Close() error { return c.db.Close() }

func (c *Catalog) migrate(ctx context.Context) error {
	var v int
	if err := c.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return c.fail("opening catalog "+c.path, err)
	}
	if v > schemaVersion {
		return fmt.Errorf("sqlite: catalog %s has schema version %d, newer than this stocklake understands (%d): upgrade stocklake: %w",
			c.path, v, schemaVersion, stocklake.ErrConfig)
	}
	return c.inTx(ctx, "creating the catalog schema", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
		return err
	})
}

// fail wraps a driver error: lock contention becomes ErrUnavailable, other
// errors keep the driver's message.
func (c *Catalog) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	for _, sentinel := range []error{stocklake.ErrNotFound, stocklake.ErrExists, stocklake.ErrInvalid, stocklake.ErrConfig, stocklake.ErrUnavailable} {
		if errors.Is(err, sentinel) {
			return err
		}
	}
	if Busy(err) {
		return fmt.Errorf("sqlite: %s: catalog %s stayed locked by another process for %v: retry: %w: %w",
			op, c.path, BusyTimeout, err, stocklake.ErrUnavailable)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return fmt.Errorf("sqlite: %s in %s: %w: %w", op, c.path, err, stocklake.ErrUnavailable)
}

// inTx runs fn in an immediate (write-locking) transaction.
func (c *Catalog) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return c.fail(op, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return c.fail(op, err)
	}
	return c.fail(op, tx.Commit())
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// marshal encodes v as JSON text; only times outside years 0-9999 can fail.
func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("sqlite: cannot store %T: %w: %w", v, err, stocklake.ErrInvalid)
	}
	return string(b), nil
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// CreateDatabase creates a database; an existing one wraps ErrExists.
func (c *Catalog) CreateDatabase(ctx context.Context, db stocklake.Database) error {
	n, err := stocklake.CatalogName("database", db.Name)
	if err != nil {
		return err
	}
	if db.CreateTime.IsZero() {
		db.CreateTime = now()
	}
	params := db.Parameters
	if params == nil {
		params = map[string]string{}
	}
	ps, err := marshal(params)
	if err != nil {
		return err
	}
	return c.inTx(ctx, "creating database "+n, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO databases (name, description, location_uri, parameters, create_time)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
			n, db.Description, db.LocationURI, ps, micros(db.CreateTime))
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return fmt.Errorf("sqlite: database %s: %w", n, stocklake.ErrExists)
		}
		return nil
	})
}

type scanner interface{ Scan(dest ...any) error }

func scanDatabase(s scanner) (stocklake.Database, error) {
	var db stocklake.Database
	var params string
	var created int64
	if err := s.Scan(&db.Name, &db.Description, &db.LocationURI, &params, &created); err != nil {
		return db, err
	}
	db.CreateTime = fromMicros(created)
	if err := json.Unmarshal([]byte(params), &db.Parameters); err != nil {
		return db, fmt.Errorf("sqlite: database %s has corrupt parameters (%v): restore the catalog file from a backup: %w", db.Name, err, stocklake.ErrInvalid)
	}
	return db, nil
}

const databaseColumns = `name, description, location_uri, parameters, create_time`

// GetDatabase returns a database; a missing one wraps ErrNotFound.
func (c *Catalog) GetDatabase(ctx context.Context, dbName string) (stocklake.Database, error) {
	n, err := stocklake.CatalogName("database", dbName)
	if err != nil {
		return stocklake.Database{}, err
	}
	db, err := scanDatabase(c.db.QueryRowContext(ctx, `SELECT `+databaseColumns+` FROM databases WHERE name = ?`, n))
	if errors.Is(err, sql.ErrNoRows) {
		return db, fmt.Errorf("sqlite: database %s: %w: create it, or crawl a lake into it", n, stocklake.ErrNotFound)
	}
	return db, c.fail("reading database "+n, err)
}

// ListDatabases returns every database, sorted by name.
func (c *Catalog) ListDatabases(ctx context.Context) ([]stocklake.Database, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+databaseColumns+` FROM databases ORDER BY name`)
	if err != nil {
		return nil, c.fail("listing databases", err)
	}
	defer rows.Close()
	var out []stocklake.Database
	for rows.Next() {
		db, err := scanDatabase(rows)
		if err != nil {
			return nil, c.fail("listing databases", err)
		}
		out = append(out, db)
	}
	return out, c.fail("listing databases", rows.Err())
}

// encodeTable is the JSON stored for each table version; name, version and
// times live in their own columns.
func encodeTable(t stocklake.Table) (string, error) {
	t.Database, t.Name, t.Version = "", "", 0
	t.CreateTime, t.UpdateTime = time.Time{}, time.Time{}
	return marshal(t)
}

const tableColumns = `database, name, version, definition, create_time, update_time`

func scanTable(s scanner) (stocklake.Table, error) {
	var t stocklake.Table
	var db, n, def string
	var version int
	var created, updated int64
	if err := s.Scan(&db, &n, &version, &def, &created, &updated); err != nil {
		return t, err
	}
	if err := json.Unmarshal([]byte(def), &t); err != nil {
		return t, fmt.Errorf("sqlite: table %s.%s version %d has a corrupt definition (%v): delete the table and crawl again: %w", db, n, version, err, stocklake.ErrInvalid)
	}
	t.Database, t.Name, t.Version = db, n, version
	t.CreateTime, t.UpdateTime = fromMicros(created), fromMicros(updated)
	return t, nil
}

func checkTable(t stocklake.Table) (db, tbl string, err error) {
	if db, tbl, err = stocklake.CatalogNames(t.Database, t.Name); err != nil {
		return
	}
	if t.Location == "" {
		return db, tbl, fmt.Errorf("sqlite: table %s.%s has no location: %w", db, tbl, stocklake.ErrInvalid)
	}
	seen := map[string]bool{}
	for _, col := range slices.Concat(t.Columns, t.PartitionKeys) {
		k := strings.ToLower(col.Name)
		if k == "" || col.Type == "" {
			return db, tbl, fmt.Errorf("sqlite: table %s.%s has a column without a name or type: %w", db, tbl, stocklake.ErrInvalid)
		}
		if seen[k] {
			return db, tbl, fmt.Errorf("sqlite: table %s.%s has column %s twice (names are case-insensitive, partition keys included): %w",
				db, tbl, k, stocklake.ErrInvalid)
		}
		seen[k] = true
	}
	return db, tbl, nil
}

func databaseExists(ctx context.Context, tx *sql.Tx, db string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM databases WHERE name = ?`, db).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: database %s: %w: create it first", db, stocklake.ErrNotFound)
	}
	return err
}

// currentTable reads the newest version of a table inside tx.
func currentTable(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, db, tbl string) (stocklake.Table, error) {
	t, err := scanTable(q.QueryRowContext(ctx, `SELECT `+tableColumns+` FROM table_versions
		WHERE database = ? AND name = ? ORDER BY version DESC LIMIT 1`, db, tbl))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("sqlite: table %s.%s: %w", db, tbl, stocklake.ErrNotFound)
	}
	return t, err
}

func insertTable(ctx context.Context, tx *sql.Tx, db, tbl string, t stocklake.Table) error {
	def, err := encodeTable(t)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO table_versions (database, name, version, location, format, definition, create_time, update_time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		db, tbl, t.Version, t.Location, t.Format, def, micros(t.CreateTime), micros(t.UpdateTime))
	return err
}

// CreateTable creates a table as version 1. An existing table wraps
// ErrExists, a missing database ErrNotFound.
func (c *Catalog) CreateTable(ctx context.Context, t stocklake.Table) error {
	db, tbl, err := checkTable(t)
	if err != nil {
		return err
	}
	t.Version = 1
	if t.CreateTime.IsZero() {
		t.CreateTime = now()
	}
	t.UpdateTime = t.CreateTime
	return c.inTx(ctx, "creating table "+db+"."+tbl, func(tx *sql.Tx) error {
		if err := databaseExists(ctx, tx, db); err != nil {
			return err
		}
		if _, err := currentTable(ctx, tx, db, tbl); err == nil {
			return fmt.Errorf("sqlite: table %s.%s: %w", db, tbl, stocklake.ErrExists)
		} else if !errors.Is(err, stocklake.ErrNotFound) {
			return err
		}
		return insertTable(ctx, tx, db, tbl, t)
	})
}

// UpdateTable stores a new definition of an existing table as the next
// version (t.Version is ignored) and keeps the old ones. The table's
// CreateTime is kept; UpdateTime becomes now.
func (c *Catalog) UpdateTable(ctx context.Context, t stocklake.Table) error {
	db, tbl, err := checkTable(t)
	if err != nil {
		return err
	}
	return c.inTx(ctx, "updating table "+db+"."+tbl, func(tx *sql.Tx) error {
		old, err := currentTable(ctx, tx, db, tbl)
		if err != nil {
			return err
		}
		t.Version = old.Version + 1
		t.CreateTime = old.CreateTime
		t.UpdateTime = now()
		return insertTable(ctx, tx, db, tbl, t)
	})
}

// GetTable returns the current definition of a table; a missing one wraps
// ErrNotFound.
func (c *Catalog) GetTable(ctx context.Context, database, table string) (stocklake.Table, error) {
	db, tbl, err := stocklake.CatalogNames(database, table)
	if err != nil {
		return stocklake.Table{}, err
	}
	t, err := currentTable(ctx, c.db, db, tbl)
	return t, c.fail("reading table "+db+"."+tbl, err)
}

// ListTables returns the current definition of every table in a database,
// sorted by name; a missing database wraps ErrNotFound.
func (c *Catalog) ListTables(ctx context.Context, database string) ([]stocklake.Table, error) {
	db, err := stocklake.CatalogName("database", database)
	if err != nil {
		return nil, err
	}
	if _, err := c.GetDatabase(ctx, db); err != nil {
		return nil, err
	}
	rows, err := c.db.QueryContext(ctx, `SELECT `+tableColumns+` FROM table_versions v
		WHERE database = ? AND version = (SELECT MAX(version) FROM table_versions w WHERE w.database = v.database AND w.name = v.name)
		ORDER BY name`, db)
	if err != nil {
		return nil, c.fail("listing tables of "+db, err)
	}
	defer rows.Close()
	var out []stocklake.Table
	for rows.Next() {
		t, err := scanTable(rows)
		if err != nil {
			return nil, c.fail("listing tables of "+db, err)
		}
		out = append(out, t)
	}
	return out, c.fail("listing tables of "+db, rows.Err())
}

// DeleteTable deletes a table, its versions and its partitions; a missing
// table wraps ErrNotFound.
func (c *Catalog) DeleteTable(ctx context.Context, database, table string) error {
	db, tbl, err := stocklake.CatalogNames(database, table)
	if err != nil {
		return err
	}
	return c.inTx(ctx, "deleting table "+db+"."+tbl, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM table_versions WHERE database = ? AND name = ?`, db, tbl)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return fmt.Errorf("sqlite: table %s.%s: %w", db, tbl, stocklake.ErrNotFound)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM partitions WHERE database = ? AND table_name = ?`, db, tbl)
		return err
	})
}

// TableVersions returns every stored definition of a table, oldest first; a
// missing table wraps ErrNotFound.
func (c *Catalog) TableVersions(ctx context.Context, database, table string) ([]stocklake.Table, error) {
	db, tbl, err := stocklake.CatalogNames(database, table)
	if err != nil {
		return nil, err
	}
	rows, err := c.db.QueryContext(ctx, `SELECT `+tableColumns+` FROM table_versions
		WHERE database = ? AND name = ? ORDER BY version`, db, tbl)
	if err != nil {
		return nil, c.fail("reading versions of "+db+"."+tbl, err)
	}
	defer rows.Close()
	var out []stocklake.Table
	for rows.Next() {
		t, err := scanTable(rows)
		if err != nil {
			return nil, c.fail("reading versions of "+db+"."+tbl, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, c.fail("reading versions of "+db+"."+tbl, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sqlite: table %s.%s: %w", db, tbl, stocklake.ErrNotFound)
	}
	return out, nil
}

// partitionTable checks, inside tx, that a table exists and returns how many
// partition keys it has.
func partitionTable(ctx context.Context, tx *sql.Tx, db, tbl string) (int, error) {
	t, err := currentTable(ctx, tx, db, tbl)
	if err != nil {
		return 0, err
	}
	return len(t.PartitionKeys), nil
}

// AddPartitions adds partitions to a table in one transaction, ignoring ones
// whose values already exist. Each partition needs one value per partition
// key (ErrInvalid otherwise); a missing table wraps ErrNotFound.
func (c *Catalog) AddPartitions(ctx context.Context, database, table string, parts []stocklake.Partition) error {
	db, tbl, err := stocklake.CatalogNames(database, table)
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return nil
	}
	created := now()
	return c.inTx(ctx, "adding partitions to "+db+"."+tbl, func(tx *sql.Tx) error {
		keys, err := partitionTable(ctx, tx, db, tbl)
		if err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO partitions (database, table_name, vals, location, parameters, create_time)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, p := range parts {
			if len(p.Values) != keys {
				return fmt.Errorf("sqlite: partition %q of %s.%s has %d values, the table has %d partition keys: %w",
					p.Values, db, tbl, len(p.Values), keys, stocklake.ErrInvalid)
			}
			params := p.Parameters
			if params == nil {
				params = map[string]string{}
			}
			ct := p.CreateTime
			if ct.IsZero() {
				ct = created
			}
			vals, err := marshal(p.Values)
			if err != nil {
				return err
			}
			ps, err := marshal(params)
			if err != nil {
				return err
			}
			if _, err := stmt.ExecContext(ctx, db, tbl, vals, p.Location, ps, micros(ct)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListPartitions returns a table's partitions sorted by their values; a
// missing table wraps ErrNotFound.
func (c *Catalog) ListPartitions(ctx context.Context, database, table string) ([]stocklake.Partition, error) {
	db, tbl, err := stocklake.CatalogNames(database, table)
	if err != nil {
		return nil, err
	}
	if _, err := c.GetTable(ctx, db, tbl); err != nil {
		return nil, err
	}
	op := "listing partitions of " + db + "." + tbl
	rows, err := c.db.QueryContext(ctx, `SELECT vals, location, parameters, create_time FROM partitions
		WHERE database = ? AND table_name = ?`, db, tbl)
	if err != nil {
		return nil, c.fail(op, err)
	}
	defer rows.Close()
	var out []stocklake.Partition
	for rows.Next() {
		var p stocklake.Partition
		var vals, params string
		var created int64
		if err := rows.Scan(&vals, &p.Location, &params, &created); err != nil {
			return nil, c.fail(op, err)
		}
		if err := json.Unmarshal([]byte(vals), &p.Values); err != nil {
			return nil, c.fail(op, fmt.Errorf("sqlite: %s: corrupt partition values %s (%v): %w", op, vals, err, stocklake.ErrInvalid))
		}
		if err := json.Unmarshal([]byte(params), &p.Parameters); err != nil {
			return nil, c.fail(op, fmt.Errorf("sqlite: %s: corrupt partition parameters %s (%v): %w", op, params, err, stocklake.ErrInvalid))
		}
		p.CreateTime = fromMicros(created)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, c.fail(op, err)
	}
	slices.SortFunc(out, func(a, b stocklake.Partition) int { return slices.Compare(a.Values, b.Values) })
	return out, nil
}

// DeletePartitions removes partitions by their values in one transaction;
// missing ones are ignored, a missing table wraps ErrNotFound.
func (c *Catalog) DeletePartitions(ctx context.Context, database, table string, values [][]string) error {
	db, tbl, err := stocklake.CatalogNames(database, table)
	if err != nil {
		return err
	}
	if len(values) == 0 {
		return nil
	}
	return c.inTx(ctx, "deleting partitions of "+db+"."+tbl, func(tx *sql.Tx) error {
		if _, err := partitionTable(ctx, tx, db, tbl); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `DELETE FROM partitions WHERE database = ? AND table_name = ? AND vals = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, v := range values {
			vals, err := marshal(v)
			if err != nil {
				return err
			}
			if _, err := stmt.ExecContext(ctx, db, tbl, vals); err != nil {
				return err
			}
		}
		return nil
	})
}

// UpdatePartition replaces the location and parameters of the partition
// with p.Values in one statement, keeping its creation time. A missing
// partition or table wraps ErrNotFound.
func (c *Catalog) UpdatePartition(ctx context.Context, database, table string, p stocklake.Partition) error {
	db, tbl, err := stocklake.CatalogNames(database, table)
	if err != nil {
		return err
	}
	return c.inTx(ctx, "updating a partition of "+db+"."+tbl, func(tx *sql.Tx) error {
		keys, err := partitionTable(ctx, tx, db, tbl)
		if err != nil {
			return err
		}
		if len(p.Values) != keys {
			return fmt.Errorf("sqlite: partition %q of %s.%s has %d values, the table has %d partition keys: %w",
				p.Values, db, tbl, len(p.Values), keys, stocklake.ErrInvalid)
		}
		params := p.Parameters
		if params == nil {
			params = map[string]string{}
		}
		vals, err := marshal(p.Values)
		if err != nil {
			return err
		}
		ps, err := marshal(params)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE partitions SET location = ?, parameters = ? WHERE database = ? AND table_name = ? AND vals = ?`,
			p.Location, ps, db, tbl, vals)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("sqlite: partition %q of %s.%s does not exist: %w", p.Values, db, tbl, stocklake.ErrNotFound)
		}
		return nil
	})
}

// RecordCrawl stores a finished crawl in the history; recording the same ID
// again replaces it.
func (c *Catalog) RecordCrawl(ctx context.Context, run stocklake.CrawlRun) error {
	if run.ID == "" {
		return fmt.Errorf("sqlite: crawl run without an ID: %w", stocklake.ErrInvalid)
	}
	db := strings.ToLower(run.Database)
	rs, err := marshal(run)
	if err != nil {
		return err
	}
	return c.inTx(ctx, "recording crawl "+run.ID, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO crawls (id, database, lake_url, start_time, end_time, run)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET database = excluded.database, lake_url = excluded.lake_url,
				start_time = excluded.start_time, end_time = excluded.end_time, run = excluded.run`,
			run.ID, db, run.LakeURL, micros(run.Start), micros(run.End), rs)
		return err
	})
}

// ListCrawls returns crawls of a database (of every database when database
// is empty), newest first, at most limit (all when limit <= 0).
func (c *Catalog) ListCrawls(ctx context.Context, database string, limit int) ([]stocklake.CrawlRun, error) {
	if limit <= 0 {
		limit = -1
	}
	db := strings.ToLower(strings.TrimSpace(database))
	rows, err := c.db.QueryContext(ctx, `SELECT run FROM crawls WHERE ? = '' OR database = ?
		ORDER BY start_time DESC, id DESC LIMIT ?`, db, db, limit)
	if err != nil {
		return nil, c.fail("listing crawls", err)
	}
	defer rows.Close()
	var out []stocklake.CrawlRun
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, c.fail("listing crawls", err)
		}
		var run stocklake.CrawlRun
		if err := json.Unmarshal([]byte(s), &run); err != nil {
			return nil, c.fail("listing crawls", fmt.Errorf("sqlite: corrupt crawl record (%v): %w", err, stocklake.ErrInvalid))
		}
		out = append(out, run)
	}
	return out, c.fail("listing crawls", rows.Err())
}

// CrawlState returns the folders earlier crawls of lakeURL into database have
// read; before the first crawl it wraps ErrNotFound.
func (c *Catalog) CrawlState(ctx context.Context, database, lakeURL string) (stocklake.CrawlState, error) {
	db := strings.ToLower(strings.TrimSpace(database))
	s := stocklake.CrawlState{Database: db, LakeURL: lakeURL}
	var updated int64
	err := c.db.QueryRowContext(ctx, `SELECT run_id, update_time FROM crawl_states WHERE database = ? AND lake_url = ?`,
		db, lakeURL).Scan(&s.RunID, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("sqlite: no crawl of %s into %s yet: %w", lakeURL, db, stocklake.ErrNotFound)
	}
	if err != nil {
		return s, c.fail("reading crawl state", err)
	}
	s.UpdateTime = fromMicros(updated)
	rows, err := c.db.QueryContext(ctx, `SELECT folder FROM crawl_folders WHERE database = ? AND lake_url = ? ORDER BY folder`,
		db, lakeURL)
	if err != nil {
		return s, c.fail("reading crawl state", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return s, c.fail("reading crawl state", err)
		}
		s.Folders = append(s.Folders, f)
	}
	return s, c.fail("reading crawl state", rows.Err())
}

// PutCrawlState replaces the crawl state of s.LakeURL in s.Database, in one
// transaction.
func (c *Catalog) PutCrawlState(ctx context.Context, s stocklake.CrawlState) error {
	db := strings.ToLower(strings.TrimSpace(s.Database))
	if s.UpdateTime.IsZero() {
		s.UpdateTime = now()
	}
	return c.inTx(ctx, "saving crawl state", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO crawl_states (database, lake_url, run_id, update_time) VALUES (?, ?, ?, ?)
			ON CONFLICT (database, lake_url) DO UPDATE SET run_id = excluded.run_id, update_time = excluded.update_time`,
			db, s.LakeURL, s.RunID, micros(s.UpdateTime)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM crawl_folders WHERE database = ? AND lake_url = ?`, db, s.LakeURL); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO crawl_folders (database, lake_url, folder) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, f := range s.Folders {
			if _, err := stmt.ExecContext(ctx, db, s.LakeURL, f); err != nil {
				return err
			}
		}
		return nil
	})
}
