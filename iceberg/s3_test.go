package iceberg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/s3"
)

// s3Lake runs the commit cycle on an s3:// warehouse: the Parquet files
// are put by stocklake's own S3 store, as the sink does, and iceberg-go's
// S3 IO writes the metadata and reads the footers.
// When py is set (a Python with pyiceberg), pyiceberg reads the table too,
// through the endpoint and keys in the environment.
//
// With glue set, the catalog is that Glue API instead of a SQLite file (and
// pyiceberg, which reads the SQLite catalog, is not run).
func s3Lake(t *testing.T, endpoint, accessKey, secretKey, bucket, py string, glue *GlueConfig) {
	ctx := context.Background()
	store, err := s3.New(ctx, s3.Config{Bucket: bucket, Endpoint: endpoint, AccessKey: accessKey, SecretKey: secretKey, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		SQLitePath: filepath.Join(t.TempDir(), "catalog.db"),
		Warehouse:  "s3://" + bucket + "/lake/",
		S3Endpoint: endpoint, S3AccessKey: accessKey, S3SecretKey: secretKey,
	}
	if glue != nil {
		cfg.SQLitePath, cfg.Glue = "", glue
	}
	database := "market"
	if glue != nil { // Glue databases outlive the test: one per run
		database = "market_" + strings.ReplaceAll(bucket, "-", "_")
	}
	c, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tbl, err := c.CreateTickTable(ctx, database, "ticks", TableOptions{Partitioning: "hour(ts)"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "s3://" + bucket + "/lake/" + database + ".db/ticks"; tbl.Location() != want {
		t.Errorf("location = %s, want %s", tbl.Location(), want)
	}
	put := func(name string, ts []stocklake.Tick) stocklake.LakeFile {
		url := tbl.Location() + "/data/" + name
		key := strings.TrimPrefix(url, "s3://"+bucket+"/")
		if err := store.Put(ctx, key, bytes.NewReader(encodeTicks(t, ts))); err != nil {
			t.Fatal(err)
		}
		return stocklake.LakeFile{URL: url}
	}
	var files []stocklake.LakeFile
	byHour := map[int][]stocklake.Tick{}
	for _, tk := range ticks(240, 0, "x") {
		byHour[tk.Time.Hour()] = append(byHour[tk.Time.Hour()], tk)
	}
	total := 0
	for h := range 3 { // one file per hour partition
		files = append(files, put(fmt.Sprintf("ts_hour=2026-11-26-%02d/f.parquet", h), byHour[h]))
		total += len(byHour[h])
	}
	if _, err := tbl.Commit(ctx, files, []stocklake.OffsetRange{rng("T", 0, 0, int64(total))}); err != nil {
		t.Fatal(err)
	}
	// A second process fenced on S3 too.
	c2, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	t2, err := c2.OpenTable(ctx, database, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if off, err := t2.Offsets(ctx); err != nil || off[tp("T", 0)] != int64(total) {
		t.Errorf("offsets = %v, %v; want T:0 at %d", off, err, total)
	}
	if _, err := t2.Commit(ctx, nil, []stocklake.OffsetRange{rng("T", 0, 0, int64(total))}); !errors.Is(err, stocklake.ErrFenced) {
		t.Errorf("re-commit: %v, want ErrFenced", err)
	}
	// A conflict: the second process commits partition 1 after the first
	// read the table for its commit of partition 0; the first retries on
	// top of it (a conflict found by the pinned head, on any catalog).
	late := put("ts_hour=2026-11-26-05/late.parquet", byHour[5])
	other := put("ts_hour=2026-11-26-06/other.parquet", byHour[6])
	attempts := 0
	tbl.beforeCommit = func(attempt int) {
		attempts = attempt
		if attempt == 1 {
			if _, err := t2.Commit(ctx, []stocklake.LakeFile{other}, []stocklake.OffsetRange{rng("T", 1, 0, int64(len(byHour[6])))}); err != nil {
				t.Errorf("the second process's commit: %v", err)
			}
		}
	}
	if _, err := tbl.Commit(ctx, []stocklake.LakeFile{late}, []stocklake.OffsetRange{rng("T", 0, int64(total), int64(total+len(byHour[5])))}); err != nil || attempts != 2 {
		t.Errorf("commit after a conflict: %v on attempt %d, want success on attempt 2", err, attempts)
	}
	rows, distinct, n := scanCount(t, t2, nil)
	all := total + len(byHour[5]) + len(byHour[6])
	if rows != all || distinct != all || n != 5 {
		t.Errorf("scan on S3: %d rows, %d distinct, %d files; want %d, %d, 5", rows, distinct, n, all, all)
	}
	if py != "" && glue == nil {
		got := readWithPyiceberg(t, py, cfg.SQLitePath, cfg.Warehouse, "market.ticks", "2026-11-26")
		if got.Rows != all || got.Distinct != all || got.DayRows != all || got.Offsets["T:0"] != int64(total+len(byHour[5])) {
			t.Errorf("pyiceberg on S3 reads %+v; want %d rows, all distinct and on 2026-11-26, offset T:0 at %d", got, all, total+len(byHour[5]))
		}
	}
	// The metadata is in the bucket, under the table.
	objs, err := store.List(ctx, "lake/"+database+".db/ticks/metadata/")
	if err != nil || len(objs) < 3 {
		t.Errorf("metadata objects: %d, %v", len(objs), err)
	}
}

func TestS3Warehouse(t *testing.T) {
	srv := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	defer srv.Close()
	s3Lake(t, srv.URL, "key", "secret", "lake-bucket", "", nil)
}

// TestGlueS3Warehouse is the same cycle with the catalog in (fake) Glue.
func TestGlueS3Warehouse(t *testing.T) {
	srv := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	defer srv.Close()
	s3Lake(t, srv.URL, "key", "secret", "lake-bucket", "", newGlueLake(t).config().Glue)
}

// TestIcebergS3Integration runs the same cycle against the real S3 server
// that `eval "$(scripts/s3 start)"` starts (STOCKLAKE_S3_ENDPOINT), and has
// pyiceberg read the table when STOCKLAKE_PYTHON is set too (as in CI).
func TestIcebergS3Integration(t *testing.T) {
	endpoint := os.Getenv("STOCKLAKE_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("STOCKLAKE_S3_ENDPOINT is not set: run `eval \"$(scripts/s3 start)\"`")
	}
	s3Lake(t, endpoint, os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"),
		fmt.Sprintf("iceberg-%d", time.Now().UnixNano()), os.Getenv("STOCKLAKE_PYTHON"), nil)
}

// TestIcebergGlueS3Integration runs the cycle with the catalog in the Glue
// API of `eval "$(scripts/glue start)"` (moto: STOCKLAKE_GLUE_ENDPOINT) and
// the warehouse on the real S3 server. moto ignores UpdateTable's
// VersionId, so the conflict here is the one the pinned head finds; the
// race inside Glue's compare-and-swap window is TestGlueCASRace's.
func TestIcebergGlueS3Integration(t *testing.T) {
	endpoint, glue := os.Getenv("STOCKLAKE_S3_ENDPOINT"), os.Getenv("STOCKLAKE_GLUE_ENDPOINT")
	if endpoint == "" || glue == "" {
		t.Skip("STOCKLAKE_S3_ENDPOINT or STOCKLAKE_GLUE_ENDPOINT is not set: run `eval \"$(scripts/s3 start)\"; eval \"$(scripts/glue start)\"`")
	}
	s3Lake(t, endpoint, os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"),
		fmt.Sprintf("iceglue-%d", time.Now().UnixNano()), "", &GlueConfig{Region: "us-east-1", Endpoint: glue})
}

// TestDataFilesDuringS3Outage: when the S3 server stops between the
// table's refresh and the reading of a new data file's footer, the commit
// fails as unavailable (the sink retries it), not as a bad file (the sink
// would stop: the fault suite's S3 outage case caught it so). A file that
// reads whole but is no Parquet is still a bad file.
func TestDataFilesDuringS3Outage(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	defer srv.Close()
	store, err := s3.New(ctx, s3.Config{Bucket: "outage", Endpoint: srv.URL, AccessKey: "key", SecretKey: "secret", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := Open(ctx, Config{SQLitePath: filepath.Join(t.TempDir(), "catalog.db"), Warehouse: "s3://outage/lake", S3Endpoint: srv.URL, S3AccessKey: "key", S3SecretKey: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tbl, err := c.CreateTickTable(ctx, "market", "ticks", TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	put := func(name string, body []byte) stocklake.LakeFile {
		key := "lake/market.db/ticks/data/ts_day=2026-11-26/" + name
		if err := store.Put(ctx, key, bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		return stocklake.LakeFile{URL: "s3://outage/" + key}
	}
	good := put("a.parquet", encodeTicks(t, ticks(10, 0, "a")))
	bad := put("b.parquet", []byte("not parquet at all"))
	it, err := tbl.refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.dataFiles(ctx, it, []stocklake.LakeFile{bad}); !errors.Is(err, stocklake.ErrInvalid) {
		t.Errorf("a file that is no Parquet: %v, want ErrInvalid", err)
	}
	srv.Close()
	_, err = tbl.dataFiles(ctx, it, []stocklake.LakeFile{good})
	if !errors.Is(err, stocklake.ErrUnavailable) || errors.Is(err, stocklake.ErrInvalid) {
		t.Errorf("a data file while S3 is down: %v, want ErrUnavailable", err)
	}
}
