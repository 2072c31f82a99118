package main

import (
	"context"
	"fmt"

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
	cat, err := openIcebergCatalog(ctx, u, lakeURL, store)
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
