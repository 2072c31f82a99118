package iceberg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/stocklake/stocklake"

	"github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

var _ stocklake.IcebergRegistrar = (*Catalog)(nil)

// registerer is iceberg-go's Glue catalog's RegisterTable.
type registerer interface {
	RegisterTable(ctx context.Context, identifier table.Identifier, metadataLocation string) (*table.Table, error)
}

// RegisterIcebergTable registers the existing Iceberg table whose metadata
// file is metadataLocation as database.name (iceberg-go v0.7.0's SQL catalog
// has no RegisterTable: the row is inserted as its CreateTable does; in Glue
// it is iceberg-go's RegisterTable, a Glue table with table_type=ICEBERG),
// creating the database's namespace when missing. It reads the metadata
// file first; see stocklake.IcebergRegistrar for the rest.
func (c *Catalog) RegisterIcebergTable(ctx context.Context, database, name, metadataLocation string) (bool, error) {
	if err := checkName(database, name); err != nil {
		return false, err
	}
	database, name = c.names(database, name)
	what := database + "." + name
	ident := table.Identifier{database, name}
	tbl, err := table.NewFromLocation(ctx, ident, metadataLocation, iceio.LoadFSFunc(c.props, metadataLocation), c.cat)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, fmt.Errorf("iceberg: registering %s: %s is not a readable Iceberg metadata file: %v: %w", what, metadataLocation, err, stocklake.ErrInvalid)
	}
	for attempt := 0; ; attempt++ {
		cur, err := c.OpenTable(ctx, database, name)
		if err == nil {
			if same := strings.TrimSuffix(cur.Location(), "/") == strings.TrimSuffix(tbl.Location(), "/"); same {
				return false, nil
			}
			return false, fmt.Errorf("iceberg: registering %s (at %s): the name is taken by the Iceberg table at %s: crawl with a table prefix or drop that table: %w",
				what, tbl.Location(), cur.Location(), stocklake.ErrExists)
		}
		if !errors.Is(err, stocklake.ErrNotFound) {
			return false, err
		}
		if c.db == nil { // Glue
			if err := c.ensureNamespace(ctx, database); err != nil {
				return false, err
			}
			_, err := c.cat.(registerer).RegisterTable(ctx, ident, metadataLocation)
			if err == nil {
				return true, nil
			}
			if attempt == 0 && errors.Is(err, catalog.ErrTableAlreadyExists) { // registered meanwhile: compare again
				continue
			}
			return false, fail("registering "+what, err)
		}
		// One catalog entry per table: another name for the same folder would
		// go stale (and lose its metadata file) as the table is committed to.
		prefix := strings.TrimSuffix(tbl.Location(), "/") + "/metadata/"
		var ns, other string
		err = c.db.QueryRowContext(ctx,
			"SELECT table_namespace, table_name FROM iceberg_tables WHERE catalog_name = ? AND substr(metadata_location, 1, ?) = ? LIMIT 1",
			c.name, len(prefix), prefix).Scan(&ns, &other)
		if err == nil {
			return false, fmt.Errorf("iceberg: registering %s: the table at %s is already registered as %s.%s: %w", what, tbl.Location(), ns, other, stocklake.ErrExists)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, fail("registering "+what, err)
		}
		if err := c.ensureNamespace(ctx, database); err != nil {
			return false, err
		}
		_, err = c.db.ExecContext(ctx,
			"INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, previous_metadata_location, iceberg_type) VALUES (?, ?, ?, ?, NULL, ?)",
			c.name, database, name, metadataLocation, sqlcat.TableType)
		if err != nil && strings.Contains(err.Error(), "iceberg_type") { // a catalog in the older schema
			_, err = c.db.ExecContext(ctx,
				"INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, previous_metadata_location) VALUES (?, ?, ?, ?, NULL)",
				c.name, database, name, metadataLocation)
		}
		if err == nil {
			return true, nil
		}
		if attempt == 0 && strings.Contains(err.Error(), "UNIQUE") { // registered meanwhile: compare again
			continue
		}
		return false, fail("registering "+what, err)
	}
}
