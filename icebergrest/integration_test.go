package icebergrest_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/trinodb/trino-go-client/trino" // the "trino" database/sql driver

	"github.com/stocklake/stocklake/duckdb"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/icebergrest"
	"github.com/stocklake/stocklake/s3"
	"github.com/stocklake/stocklake/sqlite"
)

// restRead is what testdata/read_rest.py prints.
type restRead struct {
	Namespaces, Tables []string
	PagedNamespaces    []string `json:"paged_namespaces"`
	PagedTables        []string `json:"paged_tables"`
	Rows, Distinct     int
	SumSize            float64 `json:"sum_size"`
	DayRows            int     `json:"day_rows"`
	Offsets            map[string]int64
	MetadataLocation   string `json:"metadata_location"`
}

// readREST runs testdata/read_rest.py (pyiceberg's RestCatalog) against the
// catalog at uri on market.ticks, counting 2026-11-27's rows too.
func readREST(t *testing.T, py, uri, auth string) (restRead, error) {
	t.Helper()
	script, err := filepath.Abs("testdata/read_rest.py")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-P", script, uri, auth, "market.ticks", "2026-11-27T00:00:00+00:00", "2026-11-28T00:00:00+00:00")
	cmd.Dir = t.TempDir()
	// pyiceberg must find the S3 settings in the table's config, not here.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cmd.Dir}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return restRead{}, fmt.Errorf("pyiceberg: %v\n%s", err, stderr.String())
	}
	var got restRead
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("pyiceberg printed %s: %v", out, err)
	}
	t.Logf("pyiceberg (%s): %s", strings.SplitN(auth, "=", 2)[0], bytes.TrimSpace(out))
	return got, nil
}

// checkRead compares what pyiceberg read with the fixture.
func checkRead(t *testing.T, f *fixture, got restRead) {
	t.Helper()
	md, err := f.cat.TableMetadata(context.Background(), []string{"market"}, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows != f.rows || got.Distinct != f.rows || got.SumSize != f.sumSize || got.DayRows != 1000 {
		t.Errorf("pyiceberg through the REST catalog: %d rows, %d distinct, sum(size) %v, %d on 2026-11-27; want %d, %d, %v, 1000",
			got.Rows, got.Distinct, got.SumSize, got.DayRows, f.rows, f.rows, f.sumSize)
	}
	if got.Offsets["T:0"] != 1000 || got.Offsets["T:1"] != 1000 || got.MetadataLocation != md.Location {
		t.Errorf("pyiceberg reads offsets %v at %s; want T:0 and T:1 at 1000, at %s", got.Offsets, got.MetadataLocation, md.Location)
	}
	if strings.Join(got.Namespaces, " ") != "market other" || strings.Join(got.Tables, " ") != "market.ticks" {
		t.Errorf("pyiceberg lists namespaces %v and tables %v", got.Namespaces, got.Tables)
	}
	if !slices.Equal(got.PagedNamespaces, got.Namespaces) || !slices.Equal(got.PagedTables, got.Tables) {
		t.Errorf("pyiceberg with rest-page-size=1 lists namespaces %v and tables %v; want %v and %v", got.PagedNamespaces, got.PagedTables, got.Namespaces, got.Tables)
	}
}

// TestIcebergRESTPyicebergIntegration: pyiceberg (PyPI), not stocklake,
// attaches to the REST catalog with the bearer token, and with
// credential=ID:TOKEN through the OAuth endpoint, lists, loads and scans the
// table the commit code wrote (file:// lake); without the token it is
// refused. Runs when STOCKLAKE_PYTHON is set (`eval "$(scripts/pyenv)"`).
func TestIcebergRESTPyicebergIntegration(t *testing.T) {
	py := os.Getenv("STOCKLAKE_PYTHON")
	if py == "" {
		t.Skip("STOCKLAKE_PYTHON is not set: run `eval \"$(scripts/pyenv)\"` for a Python with pyiceberg")
	}
	f := newFixture(t, "")
	uri := serve(t, icebergrest.Config{Catalog: f.cat, Token: testToken})
	for _, auth := range []string{"token=" + testToken, "credential=pyiceberg:" + testToken} {
		got, err := readREST(t, py, uri, auth)
		if err != nil {
			t.Fatal(err)
		}
		checkRead(t, f, got)
	}
	if _, err := readREST(t, py, uri, "none"); err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(err.Error(), "NotAuthorized") {
		t.Errorf("pyiceberg without the token: %v, want refused (401)", err)
	}
}

// TestIcebergRESTTrinoIntegration: a table on the S3 server (scripts/s3)
// served by the REST catalog with credentials vending on; pyiceberg, given
// only the catalog URI and token, reads it through the endpoint and keys
// of the table config; Trino's Iceberg connector attaches to the same
// catalog (CREATE CATALOG ... "iceberg.catalog.type" = 'rest', OAuth2
// token) and reads the same count, sum(size) and pruned day count.
// Runs when STOCKLAKE_TRINO_URL, STOCKLAKE_S3_ENDPOINT and STOCKLAKE_PYTHON
// are set (scripts/trino, scripts/s3, scripts/pyenv), as in CI.
func TestIcebergRESTTrinoIntegration(t *testing.T) {
	trinoURL, endpoint, py := os.Getenv("STOCKLAKE_TRINO_URL"), os.Getenv("STOCKLAKE_S3_ENDPOINT"), os.Getenv("STOCKLAKE_PYTHON")
	if trinoURL == "" || endpoint == "" || py == "" {
		t.Skip("STOCKLAKE_TRINO_URL, STOCKLAKE_S3_ENDPOINT or STOCKLAKE_PYTHON is not set: run scripts/trino, scripts/s3 and scripts/pyenv")
	}
	ctx := context.Background()
	access, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	bucket := fmt.Sprintf("icerest-%d", time.Now().UnixNano())
	store, err := s3.New(ctx, s3.Config{Bucket: bucket, Prefix: "lake", Endpoint: endpoint, AccessKey: access, SecretKey: secret, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	f := newLakeFixture(t, iceberg.Config{Warehouse: "s3://" + bucket + "/lake", S3Endpoint: endpoint, S3AccessKey: access, S3SecretKey: secret}, store)
	uri := serve(t, icebergrest.Config{Catalog: f.cat, Token: testToken, S3Endpoint: endpoint,
		Credentials: func(context.Context) (icebergrest.Credentials, error) {
			return icebergrest.Credentials{AccessKeyID: access, SecretAccessKey: secret}, nil
		}})
	got, err := readREST(t, py, uri, "token="+testToken)
	if err != nil {
		t.Fatal(err)
	}
	checkRead(t, f, got)

	db, err := sql.Open("trino", strings.Replace(trinoURL, "://", "://stocklake@", 1)+"?source=icebergrest-test")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := fmt.Sprintf("rest_%d", time.Now().UnixNano())
	props := map[string]string{
		"iceberg.catalog.type":              "rest",
		"iceberg.rest-catalog.uri":          uri,
		"iceberg.rest-catalog.security":     "OAUTH2",
		"iceberg.rest-catalog.oauth2.token": testToken,
		"fs.native-s3.enabled":              "true",
		"s3.endpoint":                       endpoint,
		"s3.region":                         "us-east-1",
		"s3.path-style-access":              "true",
		"s3.aws-access-key":                 access,
		"s3.aws-secret-key":                 secret,
	}
	var with []string
	for k, v := range props {
		with = append(with, fmt.Sprintf("%q = '%s'", k, strings.ReplaceAll(v, "'", "''")))
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf("CREATE CATALOG %s USING iceberg WITH (%s)", name, strings.Join(with, ", "))); err != nil {
		t.Fatalf("CREATE CATALOG (does scripts/trino set catalog.management=dynamic and fetch the Iceberg plugin?): %v", err)
	}
	defer func() {
		if _, err := db.ExecContext(context.Background(), "DROP CATALOG "+name); err != nil {
			t.Errorf("DROP CATALOG %s: %v", name, err)
		}
	}()
	var tables []string
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SHOW TABLES FROM %s.market", name))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, s)
	}
	rows.Close()
	if strings.Join(tables, " ") != "ticks" {
		t.Errorf("Trino lists tables %v in market, want [ticks]", tables)
	}
	var n, day int
	var sum float64
	q := fmt.Sprintf(`SELECT count(*), sum(size), count_if(ts >= TIMESTAMP '2026-11-27 00:00:00 UTC' AND ts < TIMESTAMP '2026-11-28 00:00:00 UTC')
		FROM %s.market.ticks`, name)
	if err := db.QueryRowContext(ctx, q).Scan(&n, &sum, &day); err != nil {
		t.Fatal(err)
	}
	t.Logf("Trino: count %d, sum(size) %v, 2026-11-27: %d; pyiceberg: %d, %v, %d", n, sum, day, got.Rows, got.SumSize, got.DayRows)
	if n != got.Rows || sum != got.SumSize || day != got.DayRows || n != f.rows || sum != f.sumSize {
		t.Errorf("Trino reads count %d, sum(size) %v, %d on 2026-11-27; pyiceberg %d, %v, %d; committed %d, %v",
			n, sum, day, got.Rows, got.SumSize, got.DayRows, f.rows, f.sumSize)
	}
	// And stocklake's own engine (DuckDB, files planned by iceberg-go) on
	// the catalog the REST server serves: the same figures.
	hive, err := sqlite.Open(filepath.Join(f.dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer hive.Close()
	e, err := duckdb.New(ctx, duckdb.Config{Catalog: hive, Store: store, Iceberg: f.cat, Database: "market", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	res, err := e.Query(ctx, strings.Replace(q, name+".market.ticks", "ticks", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if !res.Next() {
		t.Fatalf("stocklake's engine returned no row: %v", res.Err())
	}
	v := res.Values()
	en, esum, eday := fmt.Sprint(v[0]), fmt.Sprint(v[1]), fmt.Sprint(v[2])
	t.Logf("stocklake's engine: count %s, sum(size) %s, 2026-11-27: %s", en, esum, eday)
	if en != fmt.Sprint(n) || esum != fmt.Sprint(sum) || eday != fmt.Sprint(day) {
		t.Errorf("stocklake's engine reads count %s, sum(size) %s, %s on 2026-11-27; Trino %d, %v, %d", en, esum, eday, n, sum, day)
	}
	// Writes through Trino are refused by the read-only catalog.
	_, err = db.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s.market.ticks SELECT * FROM %s.market.ticks LIMIT 1", name, name))
	if err == nil {
		t.Errorf("Trino inserted through a read-only REST catalog")
	} else {
		t.Logf("Trino INSERT refused: %.300v", err)
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+name+".market.ticks").Scan(&n); err != nil || n != f.rows {
		t.Errorf("after the refused INSERT Trino counts %d rows (%v), want %d", n, err, f.rows)
	}
}
