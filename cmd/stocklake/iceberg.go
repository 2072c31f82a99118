package main

import (
	"context"
	"fmt"
	"net/url"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/sqlite"
)

// openIcebergTable opens the Iceberg tick table database.name that
// `stocklake sink --table-format iceberg` commits to, creating it (day(ts)
// partitioning) when missing. The Iceberg catalog lives in the file of the
// sqlite:// catalog catURL, and the table under the lake (the warehouse),
// so the sink writes its data files through store. lakeURL's S3 settings
// (endpoint, region) are passed to iceberg-go's file IO. The returned
// function closes the catalog.
func openIcebergTable(ctx context.Context, catURL, lakeURL string, store stocklake.ObjectStore, database, name string) (*iceberg.Table, func() error, error) {
	cat, err := openIcebergCatalog(ctx, catURL, lakeURL, store)
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

// icebergCatalogConfig is the Iceberg catalog configuration of the
// sqlite:// catalog catURL, with the lake as its warehouse.
func icebergCatalogConfig(catURL, lakeURL string, store stocklake.ObjectStore) (iceberg.Config, error) {
	if catURL == "" {
		return iceberg.Config{}, fmt.Errorf("--table-format iceberg needs --catalog sqlite://PATH (e.g. %s): the Iceberg catalog lives in that file: %w", defaultCatalog, stocklake.ErrConfig)
	}
	u, err := parseBackendURL("catalog", catURL)
	if err != nil {
		return iceberg.Config{}, err
	}
	if u.Scheme != sqlite.Type {
		return iceberg.Config{}, fmt.Errorf("--table-format iceberg: catalog %q: only sqlite://PATH catalogs hold Iceberg tables yet (Glue and REST are not done): %w", catURL, stocklake.ErrConfig)
	}
	cfg := iceberg.Config{SQLitePath: filePath(u), Warehouse: store.URL()}
	if lu, err := url.Parse(lakeURL); err == nil && lu.Scheme == "s3" {
		q := lu.Query()
		cfg.S3Region, cfg.S3Endpoint = q.Get("region"), q.Get("endpoint")
	}
	return cfg, nil
}

// openIcebergCatalog opens the Iceberg catalog of icebergCatalogConfig.
func openIcebergCatalog(ctx context.Context, catURL, lakeURL string, store stocklake.ObjectStore) (*iceberg.Catalog, error) {
	cfg, err := icebergCatalogConfig(catURL, lakeURL, store)
	if err != nil {
		return nil, err
	}
	return iceberg.Open(ctx, cfg)
}
