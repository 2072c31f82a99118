package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	nethttp "net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/glue"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/icebergrest"
	"github.com/stocklake/stocklake/internal/awsconfig"
	"github.com/stocklake/stocklake/s3"
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

// openIcebergTable returns the Iceberg table database.name that
// `stocklake sink --table-format iceberg` commits to (in the catalog of
// openIcebergCatalog); the sink creates it from its first records when
// missing (a tick table, or a JSON table), partitioned by partitioning
// (--partition-by, iceberg.ParsePartitioning; "" is day of the event
// time). An existing table keeps its partitioning: a partitioning that
// differs from it is refused, and so is one a new table of schema (the
// --schema, "" when the records decide) cannot have. The table lives under the lake, so the sink
// writes its data files through store. The returned function closes the
// catalog.
func openIcebergTable(ctx context.Context, catURL, lakeURL string, store stocklake.ObjectStore, database, name, partitioning, schema string) (*iceberg.LazyTable, func() error, error) {
	cat, err := openIcebergCatalog(ctx, "--table-format iceberg", catURL, lakeURL, store)
	if err != nil {
		return nil, nil, err
	}
	lazy, err := cat.LazyTable(database, name)
	if err == nil {
		lazy.Partitioning, lazy.Schema = partitioning, schema
		err = lazy.Check(ctx)
	}
	if err != nil {
		cat.Close()
		return nil, nil, err
	}
	return lazy, cat.Close, nil
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

// openSQLiteIceberg opens the Iceberg catalog in the SQLite file path with
// the lake store as its warehouse; an s3:// store's region and endpoint go
// to iceberg-go's file IO (keys come from the AWS credential chain). Without
// a store (only existing tables are read) the warehouse is the lake folder
// beside the catalog file.
func openSQLiteIceberg(ctx context.Context, path string, store stocklake.ObjectStore) (*iceberg.Catalog, error) {
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
	ic, err := openSQLiteIceberg(ctx, sc.Path(), store)
	if err != nil {
		return nil, nil, err
	}
	return ic, ic.Close, nil
}

// catalogIceberg is the Iceberg catalog beside cat: the one in the file of
// a sqlite catalog, or iceberg-go's Glue catalog on the same Glue Data
// Catalog as a glue catalog; nil for other catalogs (an in-memory sqlite
// one). store is the lake (the warehouse of new tables; an s3:// lake's
// endpoint and region reach iceberg-go's file IO). close closes it.
func catalogIceberg(ctx context.Context, cat stocklake.Catalog, store stocklake.ObjectStore) (*iceberg.Catalog, func() error, error) {
	gc, ok := cat.(*glue.Catalog)
	if !ok {
		return sqliteIceberg(ctx, cat, store)
	}
	g := gc.Config()
	cfg := iceberg.Config{Glue: &iceberg.GlueConfig{Region: g.Region, Endpoint: g.Endpoint, CatalogID: g.CatalogID, MaxRetries: g.MaxRetries}}
	if store != nil {
		cfg.Warehouse = store.URL()
	}
	if s, ok := store.(*s3.ObjectStore); ok {
		cfg.S3Region, cfg.S3Endpoint = s.Endpoint()
	}
	ic, err := iceberg.Open(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return ic, ic.Close, nil
}

// engineIceberg is the Iceberg catalog an engine over cat reads Iceberg
// tables from (see catalogIceberg); nil when cat has none. close closes it.
func engineIceberg(ctx context.Context, cat stocklake.Catalog, store stocklake.ObjectStore) (stocklake.IcebergTables, func() error, error) {
	ic, closeIce, err := catalogIceberg(ctx, cat, store)
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
// finds (see catalogIceberg); nil when cat has no Iceberg catalog. close
// closes it.
func crawlIceberg(ctx context.Context, cat stocklake.Catalog, store stocklake.ObjectStore) (reg stocklake.IcebergRegistrar, close func() error, err error) {
	ic, closeIce, err := catalogIceberg(ctx, cat, store)
	if ic == nil {
		return nil, closeIce, err
	}
	return ic, closeIce, nil
}
