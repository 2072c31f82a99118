package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	nethttp "net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/glue"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/icebergrest"
	"github.com/stocklake/stocklake/internal/awsconfig"
	"github.com/stocklake/stocklake/sqlite"
)

// icebergCatalogConfig is the Iceberg catalog configuration of the catalog
// URL catURL: the file of a sqlite:// catalog, or the AWS Glue Data Catalog
// of a glue:// one, with the lake (store, at lakeURL) as its warehouse;
// lakeURL's S3 settings (endpoint, region) go to iceberg-go's file IO. what
// names the feature in errors ("--table-format iceberg").
func icebergCatalogConfig(what, catURL, lakeURL string, store stocklake.ObjectStore) (iceberg.Config, error) {
	if catURL == "" {
		return iceberg.Config{}, fmt.Errorf("%s needs --catalog sqlite://PATH (e.g. %s) or glue://REGION: the Iceberg tables live in that catalog: %w", what, defaultCatalog, stocklake.ErrConfig)
	}
	u, err := parseBackendURL("catalog", catURL)
	if err != nil {
		return iceberg.Config{}, err
	}
	if store == nil {
		return iceberg.Config{}, fmt.Errorf("%s needs --lake: the Iceberg tables live under it: %w", what, stocklake.ErrConfig)
	}
	cfg := iceberg.Config{Warehouse: store.URL()}
	switch u.Scheme {
	case sqlite.Type:
		cfg.SQLitePath = filePath(u)
	case glue.Type:
		gc, err := glueConfig(catURL, u)
		if err != nil {
			return iceberg.Config{}, err
		}
		cfg.Glue = &iceberg.GlueConfig{Region: gc.Region, Endpoint: gc.Endpoint, CatalogID: gc.CatalogID, MaxRetries: gc.MaxRetries}
	default:
		return iceberg.Config{}, fmt.Errorf("%s: catalog %q: Iceberg tables live in sqlite://PATH or glue://REGION catalogs: %w", what, catURL, stocklake.ErrConfig)
	}
	if lu, err := url.Parse(lakeURL); err == nil && lu.Scheme == "s3" {
		q := lu.Query()
		cfg.S3Region, cfg.S3Endpoint = q.Get("region"), q.Get("endpoint")
	}
	return cfg, nil
}

// openIcebergCatalog opens the Iceberg catalog of icebergCatalogConfig.
func openIcebergCatalog(ctx context.Context, what, catURL, lakeURL string, store stocklake.ObjectStore) (*iceberg.Catalog, error) {
	cfg, err := icebergCatalogConfig(what, catURL, lakeURL, store)
	if err != nil {
		return nil, err
	}
	return iceberg.Open(ctx, cfg)
}

// openIcebergTable opens the Iceberg tick table database.name that
// `stocklake sink --table-format iceberg` commits to (see
// openIcebergCatalog), creating it (day(ts) partitioning) when missing. The
// table lives under the lake, so the sink writes its data files through
// store. The returned function closes the catalog.
func openIcebergTable(ctx context.Context, catURL, lakeURL string, store stocklake.ObjectStore, database, name string) (*iceberg.Table, func() error, error) {
	cat, err := openIcebergCatalog(ctx, "--table-format iceberg", catURL, lakeURL, store)
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

// icebergRESTPath is where serve mounts the Iceberg REST catalog: clients
// use http://ADDR/iceberg as the catalog URI.
const icebergRESTPath = "/iceberg"

// icebergRESTFlags are serve's flags of the Iceberg REST catalog.
type icebergRESTFlags struct {
	enabled, writable, vend bool
}

func (f *icebergRESTFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.enabled, "iceberg-rest", false, "also serve the Iceberg REST catalog API over the Iceberg tables of the --catalog sqlite:// file, at /iceberg (catalog URI http://ADDR/iceberg), behind --token")
	fs.BoolVar(&f.writable, "iceberg-rest-writable", false, "let REST clients commit to existing tables (appends, property changes; optimistic, like the sink's commits); otherwise every change is refused with 403")
	fs.BoolVar(&f.vend, "iceberg-rest-vend-credentials", false, "hand this server's S3 credentials (the AWS credential chain) to REST clients in the config of s3:// tables; otherwise clients bring their own keys")
}

// handler opens the Iceberg catalog of catURL and returns the REST catalog
// over it, guarded by token, and a function that closes the catalog.
func (f *icebergRESTFlags) handler(ctx context.Context, catURL, lakeURL string, store stocklake.ObjectStore, token string, log *slog.Logger) (nethttp.Handler, func(), error) {
	cat, err := openIcebergCatalog(ctx, "--iceberg-rest", catURL, lakeURL, store)
	if err != nil {
		return nil, nil, err
	}
	cfg := icebergrest.Config{Catalog: cat, Token: token, Writable: f.writable, Logger: log}
	if lu, err := url.Parse(lakeURL); err == nil && lu.Scheme == "s3" {
		q := lu.Query()
		cfg.S3Endpoint, cfg.S3Region = q.Get("endpoint"), q.Get("region")
		cfg.S3PathStyle, _ = strconv.ParseBool(q.Get("path_style"))
	}
	if f.vend {
		if !strings.HasPrefix(store.URL(), "s3://") {
			cat.Close()
			return nil, nil, fmt.Errorf("--iceberg-rest-vend-credentials: the lake %s is not on s3://, there are no credentials to hand out: %w", store.URL(), stocklake.ErrConfig)
		}
		aws, err := awsconfig.Load(ctx, awsconfig.Options{Service: "s3"})
		if err != nil {
			cat.Close()
			return nil, nil, err
		}
		cfg.Credentials = func(ctx context.Context) (icebergrest.Credentials, error) {
			if aws.Credentials == nil {
				return icebergrest.Credentials{}, fmt.Errorf("no AWS credentials found (AWS_ACCESS_KEY_ID, AWS_PROFILE, instance role)")
			}
			c, err := aws.Credentials.Retrieve(ctx)
			return icebergrest.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}, err
		}
	}
	srv, err := icebergrest.New(cfg)
	if err != nil {
		cat.Close()
		return nil, nil, err
	}
	return srv, func() { cat.Close() }, nil
}
