package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/glue"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/s3"
	"github.com/stocklake/stocklake/sqlite"
)

// openIcebergTable opens the Iceberg tick table database.name that
// `stocklake sink --table-format iceberg` commits to, creating it (day(ts)
// partitioning) when missing. The Iceberg catalog lives in the file of the
// sqlite:// catalog catURL, and the table under the lake (the warehouse),
// so the sink writes its data files through store. The returned function
// closes the catalog.
func openIcebergTable(ctx context.Context, catURL string, store stocklake.ObjectStore, database, name string) (*iceberg.Table, func() error, error) {
	if catURL == "" {
		return nil, nil, fmt.Errorf("--table-format iceberg needs --catalog sqlite://PATH (e.g. %s): the Iceberg catalog lives in that file: %w", defaultCatalog, stocklake.ErrConfig)
	}
	u, err := parseBackendURL("catalog", catURL)
	if err != nil {
		return nil, nil, err
	}
	if u.Scheme != sqlite.Type {
		return nil, nil, fmt.Errorf("--table-format iceberg: catalog %q: only sqlite://PATH catalogs hold Iceberg tables yet (Glue and REST are not done): %w", catURL, stocklake.ErrConfig)
	}
	cat, err := openIcebergCatalog(ctx, filePath(u), store)
	if err != nil {
		return nil, nil, err
	}
	tbl, err := cat.OpenOrCreateTickTable(ctx, database, name, iceberg.TableOptions{})
	if err != nil {
		cat.Close()
		return nil, nil, err
	}
	switch p := tbl.Partitioning(); p {
	case "day(ts)", "hour(ts)", "month(ts)", "none":
	default:
		cat.Close()
		return nil, nil, fmt.Errorf("Iceberg table %s.%s is partitioned by %s: the sink writes only tables partitioned by day(ts), hour(ts), month(ts) or not at all yet: %w",
			database, name, p, stocklake.ErrConfig)
	}
	return tbl, cat.Close, nil
}

// openIcebergCatalog opens the Iceberg catalog in the SQLite file path with
// the lake store as its warehouse; an s3:// store's region and endpoint go
// to iceberg-go's file IO (keys come from the AWS credential chain). Without
// a store (only existing tables are read) the warehouse is the lake folder
// beside the catalog file.
func openIcebergCatalog(ctx context.Context, path string, store stocklake.ObjectStore) (*iceberg.Catalog, error) {
	cfg := iceberg.Config{SQLitePath: path}
	if store != nil {
		cfg.Warehouse = store.URL()
	} else {
		abs, err := filepath.Abs(filepath.Join(filepath.Dir(path), "lake"))
		if err != nil {
			return nil, fmt.Errorf("catalog %s: %w: %w", path, err, stocklake.ErrConfig)
		}
		cfg.Warehouse = "file://" + filepath.ToSlash(abs)
	}
	if s, ok := store.(*s3.ObjectStore); ok {
		cfg.S3Region, cfg.S3Endpoint = s.Endpoint()
	}
	return iceberg.Open(ctx, cfg)
}

// sqliteIceberg opens the Iceberg catalog in the file of a sqlite catalog;
// nil for other catalogs. close closes it (a no-op for nil).
func sqliteIceberg(ctx context.Context, cat stocklake.Catalog, store stocklake.ObjectStore) (*iceberg.Catalog, func() error, error) {
	sc, ok := cat.(*sqlite.Catalog)
	if !ok || sc.Path() == "" || sc.Path() == ":memory:" {
		return nil, func() error { return nil }, nil
	}
	ic, err := openIcebergCatalog(ctx, sc.Path(), store)
	if err != nil {
		return nil, nil, err
	}
	return ic, ic.Close, nil
}

// engineIceberg is the Iceberg catalog an engine over cat reads Iceberg
// tables from: the one in the file of a sqlite catalog; nil for other
// catalogs (Glue's Iceberg tables are not read yet). close closes it.
func engineIceberg(ctx context.Context, cat stocklake.Catalog, store stocklake.ObjectStore) (stocklake.IcebergTables, func() error, error) {
	ic, closeIce, err := sqliteIceberg(ctx, cat, store)
	if ic == nil {
		return nil, closeIce, err
	}
	return ic, closeIce, nil
}

// closingEngine is an engine that closes more than itself.
type closingEngine struct {
	stocklake.Engine
	also func() error
}

func (e closingEngine) Close() error { return errors.Join(e.Engine.Close(), e.also()) }

// crawlIceberg is where a crawl into cat registers the Iceberg tables it
// finds: the Iceberg catalog in a sqlite catalog's file, or, for glue://, a
// registrar that refuses (not done yet). close closes it.
func crawlIceberg(ctx context.Context, cat stocklake.Catalog, store stocklake.ObjectStore) (reg stocklake.IcebergRegistrar, close func() error, err error) {
	if _, ok := cat.(*glue.Catalog); ok {
		return glueIcebergNotYet{}, func() error { return nil }, nil
	}
	ic, closeIce, err := sqliteIceberg(ctx, cat, store)
	if ic == nil {
		return nil, closeIce, err
	}
	return ic, closeIce, nil
}

// glueIcebergNotYet refuses to register Iceberg tables in Glue.
type glueIcebergNotYet struct{}

func (glueIcebergNotYet) RegisterIcebergTable(ctx context.Context, database, name, metadataLocation string) (bool, error) {
	folder := metadataLocation
	if i := strings.LastIndex(folder, "/metadata/"); i > 0 {
		folder = folder[:i]
	}
	return false, fmt.Errorf("%s is an Iceberg table, and registering Iceberg tables in a glue:// catalog is not done yet (issue 16): "+
		"crawl into a sqlite:// catalog, or skip the folder with --exclude: %w", folder, stocklake.ErrConfig)
}
