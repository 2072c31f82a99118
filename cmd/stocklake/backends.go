package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/athena"
	"github.com/stocklake/stocklake/duckdb"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/glue"
	"github.com/stocklake/stocklake/s3"
	"github.com/stocklake/stocklake/sqlite"
	"github.com/stocklake/stocklake/trino"
)

// This file is the one place where backend URLs are resolved to backends.

// openStore opens a lake by URL:
//
//	file://DIR or a plain path      a local directory (relative paths allowed: file://./lake)
//	s3://BUCKET[/PREFIX]            Amazon S3 or an S3-compatible server
//
// s3:// URLs take optional query parameters endpoint, region, path_style
// (true/false), part_size (bytes) and create_bucket (true: create the bucket
// if missing); otherwise the AWS environment variables and config files
// apply (AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_ACCESS_KEY_ID, ...).
func openStore(ctx context.Context, raw string) (stocklake.ObjectStore, error) {
	u, err := parseBackendURL("lake", raw)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case file.Type, "":
		dir := filePath(u)
		st, err := file.New(dir)
		if err != nil {
			return nil, fmt.Errorf("open lake %s: %w", raw, err)
		}
		return st, nil
	case s3.Type:
		if u.Host == "" {
			return nil, fmt.Errorf("lake URL %q has no bucket; write s3://BUCKET/PREFIX: %w", raw, stocklake.ErrConfig)
		}
		q := u.Query()
		cfg := s3.Config{
			Bucket:   u.Host,
			Prefix:   strings.Trim(u.Path, "/"),
			Region:   q.Get("region"),
			Endpoint: q.Get("endpoint"),
		}
		if v := q.Get("path_style"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("lake URL %q: path_style=%q is not true or false: %w", raw, v, stocklake.ErrConfig)
			}
			cfg.PathStyle = &b
		}
		if v := q.Get("part_size"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("lake URL %q: part_size=%q is not a number of bytes: %w", raw, v, stocklake.ErrConfig)
			}
			cfg.PartSize = n
		}
		st, err := s3.New(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if q.Get("create_bucket") == "true" {
			if err := st.CreateBucket(ctx); err != nil {
				return nil, err
			}
		}
		return st, nil
	}
	return nil, fmt.Errorf("lake URL %q: scheme %q is not supported; use file://DIR or s3://BUCKET/PREFIX: %w", raw, u.Scheme, stocklake.ErrConfig)
}

// parseBackendURL parses a backend URL; a plain path means file://.
func parseBackendURL(what, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("no %s URL given: %w", what, stocklake.ErrConfig)
	}
	if !strings.Contains(raw, "://") {
		return &url.URL{Scheme: "", Path: raw}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s URL %q: %w: %w", what, raw, err, stocklake.ErrConfig)
	}
	return u, nil
}

// filePath returns the local path of a file:// URL; file://./x and
// file://x are relative to the working directory.
func filePath(u *url.URL) string {
	p := u.Host + u.Path
	if u.Host == "" {
		p = u.Path
	}
	if u.Opaque != "" {
		p = u.Opaque
	}
	return filepath.Clean(p)
}

// openCatalog opens a catalog by URL:
//
//	sqlite://PATH     the embedded catalog in a SQLite file (relative paths allowed)
//	glue://[REGION]   the AWS Glue Data Catalog; query parameters endpoint,
//	                  catalog_id and max_retries; region default AWS_REGION
//
// lake is the lake the catalog describes; Glue keeps crawl history in it
// (nil: no crawl history).
func openCatalog(ctx context.Context, raw string, lake stocklake.ObjectStore) (stocklake.Catalog, error) {
	u, err := parseBackendURL("catalog", raw)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case sqlite.Type:
		p := filePath(u)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("catalog %s: %w: %w", raw, err, stocklake.ErrConfig)
		}
		return sqlite.Open(p)
	case glue.Type:
		cfg, err := glueConfig(raw, u)
		if err != nil {
			return nil, err
		}
		cfg.LakeStore = lake
		return glue.New(ctx, cfg)
	}
	return nil, fmt.Errorf("catalog URL %q: scheme %q is not supported; use sqlite://PATH or glue://REGION: %w", raw, u.Scheme, stocklake.ErrConfig)
}

// glueConfig reads the settings of a glue:// catalog URL u (raw as given).
func glueConfig(raw string, u *url.URL) (glue.Config, error) {
	q := u.Query()
	cfg := glue.Config{Region: u.Host, Endpoint: q.Get("endpoint"), CatalogID: q.Get("catalog_id")}
	if v := q.Get("max_retries"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return glue.Config{}, fmt.Errorf("catalog URL %q: max_retries=%q is not a number: %w", raw, v, stocklake.ErrConfig)
		}
		cfg.MaxRetries = n
	}
	return cfg, nil
}

// openEngine opens a SQL engine by URL over the tables of cat, whose data
// lives in lake:
//
//	duckdb://[?threads=N&memory_limit=4GB&cache_dir=DIR]   embedded DuckDB (default)
//	trino://HOST:PORT[?user=U&catalog=lake&register=auto|once|none&local_root=/]
//	                                                        a Trino coordinator (http; trinos:// for https)
//	athena://WORKGROUP[?output=s3://B/P/&region=R&endpoint=URL&catalog=AwsDataCatalog]
//	                                                        Amazon Athena
//
// engineLimits override the resource settings of a duckdb:// engine URL
// when set (the dashboard's --duckdb-* flags).
type engineLimits struct {
	threads              int
	memoryLimit, maxTemp string
}

func openEngine(ctx context.Context, raw string, cat stocklake.Catalog, lake stocklake.ObjectStore, database string, lim ...engineLimits) (stocklake.Engine, string, error) {
	u, err := parseBackendURL("engine", raw)
	if err != nil {
		return nil, "", err
	}
	q := u.Query()
	switch u.Scheme {
	case duckdb.Type:
		cfg := duckdb.Config{Catalog: cat, Store: lake, Database: database, MemoryLimit: q.Get("memory_limit"), CacheDir: q.Get("cache_dir"),
			MaxTempDirectorySize: q.Get("max_temp_directory_size")}
		if v := q.Get("threads"); v != "" {
			if cfg.Threads, err = strconv.Atoi(v); err != nil {
				return nil, "", fmt.Errorf("engine URL %q: threads=%q is not a number: %w", raw, v, stocklake.ErrConfig)
			}
		}
		for _, l := range lim {
			if l.threads > 0 {
				cfg.Threads = l.threads
			}
			if l.memoryLimit != "" {
				cfg.MemoryLimit = l.memoryLimit
			}
			if l.maxTemp != "" {
				cfg.MaxTempDirectorySize = l.maxTemp
			}
		}
		ice, closeIce, err := engineIceberg(ctx, cat, lake)
		if err != nil {
			return nil, "", err
		}
		cfg.Iceberg = ice
		e, err := duckdb.New(ctx, cfg)
		if err != nil {
			closeIce()
			return nil, "", err
		}
		return closingEngine{e, closeIce}, duckdb.Type, nil
	case trino.Type, "trinos":
		if u.Host == "" {
			return nil, "", fmt.Errorf("engine URL %q has no host; write trino://HOST:PORT: %w", raw, stocklake.ErrConfig)
		}
		scheme := "http"
		if u.Scheme == "trinos" {
			scheme = "https"
		}
		cfg := trino.Config{URL: scheme + "://" + u.Host, User: q.Get("user"), TrinoCatalog: q.Get("catalog"),
			Catalog: cat, Database: database, LocalRoot: q.Get("local_root")}
		switch q.Get("register") {
		case "", "auto":
			cfg.Register = trino.RegisterAuto
		case "once":
			cfg.Register = trino.RegisterOnce
		case "none":
			cfg.Register = trino.RegisterNone
		default:
			return nil, "", fmt.Errorf("engine URL %q: register=%q: want auto, once or none: %w", raw, q.Get("register"), stocklake.ErrConfig)
		}
		e, err := trino.New(ctx, cfg)
		return e, trino.Type, err
	case athena.Type:
		if u.Host == "" {
			return nil, "", fmt.Errorf("engine URL %q has no workgroup; write athena://WORKGROUP: %w", raw, stocklake.ErrConfig)
		}
		e, err := athena.New(ctx, athena.Config{WorkGroup: u.Host, Database: database, OutputLocation: q.Get("output"),
			Region: q.Get("region"), Endpoint: q.Get("endpoint"), DataCatalog: q.Get("catalog")})
		return e, athena.Type, err
	}
	return nil, "", fmt.Errorf("engine URL %q: scheme %q is not supported; use duckdb://, athena://WORKGROUP or trino://HOST:PORT: %w", raw, u.Scheme, stocklake.ErrConfig)
}
