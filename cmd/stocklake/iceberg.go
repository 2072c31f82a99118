package main

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/sqlite"
)

// openIcebergTable returns the Iceberg table database.name that
// `stocklake sink --table-format iceberg` commits to; the sink creates it
// from its first records when missing (a tick table partitioned by
// day(ts), or a JSON table partitioned by day(time field)). The Iceberg
// catalog lives in the file of the sqlite:// catalog catURL, and the table
// under the lake (the warehouse), so the sink writes its data files
// through store. lakeURL's S3 settings (endpoint, region) are passed to
// iceberg-go's file IO. The returned function closes the catalog.
func openIcebergTable(ctx context.Context, catURL, lakeURL string, store stocklake.ObjectStore, database, name string) (*iceberg.LazyTable, func() error, error) {
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
	cfg := iceberg.Config{SQLitePath: filePath(u), Warehouse: store.URL()}
	if lu, err := url.Parse(lakeURL); err == nil && lu.Scheme == "s3" {
		q := lu.Query()
		cfg.S3Region, cfg.S3Endpoint = q.Get("region"), q.Get("endpoint")
	}
	cat, err := iceberg.Open(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	lazy, err := cat.LazyTable(database, name)
	if err != nil {
		cat.Close()
		return nil, nil, err
	}
	tbl, err := lazy.Table(ctx)
	if err != nil {
		cat.Close()
		return nil, nil, err
	}
	if tbl != nil {
		// The sink asks for a partition path once per hour of event time.
		if p := tbl.Partitioning(); p != "none" && !slices.ContainsFunc([]string{"day(", "hour(", "month("}, func(fn string) bool { return strings.HasPrefix(p, fn) }) || strings.Contains(p, ",") {
			cat.Close()
			return nil, nil, fmt.Errorf("Iceberg table %s.%s is partitioned by %s: the sink writes only tables partitioned by day, hour or month of a time column, or not at all yet: %w",
				database, name, p, stocklake.ErrConfig)
		}
	}
	return lazy, cat.Close, nil
}
