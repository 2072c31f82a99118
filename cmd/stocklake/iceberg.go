package main

import (
	"context"
	"fmt"
	"net/url"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/glue"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/sqlite"
)

// openIcebergCatalog opens the Iceberg catalog of the catalog URL catURL:
// the file of a sqlite:// catalog, or the AWS Glue Data Catalog of a
// glue:// one, with the lake as its warehouse (store is the lake; lakeURL's
// S3 settings, endpoint and region, are passed to iceberg-go's file IO).
func openIcebergCatalog(ctx context.Context, catURL, lakeURL string, store stocklake.ObjectStore) (*iceberg.Catalog, error) {
	if catURL == "" {
		return nil, fmt.Errorf("--table-format iceberg needs --catalog sqlite://PATH (e.g. %s) or glue://REGION: the Iceberg tables live in that catalog: %w", defaultCatalog, stocklake.ErrConfig)
	}
	u, err := parseBackendURL("catalog", catURL)
	if err != nil {
		return nil, err
	}
	cfg := iceberg.Config{Warehouse: store.URL()}
	switch u.Scheme {
	case sqlite.Type:
		cfg.SQLitePath = filePath(u)
	case glue.Type:
		gc, err := glueConfig(catURL, u)
		if err != nil {
			return nil, err
		}
		cfg.Glue = &iceberg.GlueConfig{Region: gc.Region, Endpoint: gc.Endpoint, CatalogID: gc.CatalogID, MaxRetries: gc.MaxRetries}
	default:
		return nil, fmt.Errorf("--table-format iceberg: catalog %q: Iceberg tables live in sqlite://PATH or glue://REGION catalogs: %w", catURL, stocklake.ErrConfig)
	}
	if lu, err := url.Parse(lakeURL); err == nil && lu.Scheme == "s3" {
		q := lu.Query()
		cfg.S3Region, cfg.S3Endpoint = q.Get("region"), q.Get("endpoint")
	}
	return iceberg.Open(ctx, cfg)
}

// openIcebergTable opens the Iceberg tick table database.name that
// `stocklake sink --table-format iceberg` commits to (see
// openIcebergCatalog), creating it (day(ts) partitioning) when missing. The
// table lives under the lake, so the sink writes its data files through
// store. The returned function closes the catalog.
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
