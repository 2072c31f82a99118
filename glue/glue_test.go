package glue

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/smithy-go"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/internal/catalogtest"
	"github.com/stocklake/stocklake/internal/gluefake"
)

// fakeCatalog is a Catalog on the in-process fake, retrying a failed
// request twice as a real client would (default 5): once in a few hundred
// runs on a loaded machine, a kept-alive connection to the httptest server
// failed mid-response ("use of closed network connection"), which no test
// here is about. The fake injects no retryable errors, so the retries
// change nothing else.
func fakeCatalog(t *testing.T, f *gluefake.Server, lake stocklake.ObjectStore) *Catalog {
	t.Helper()
	c, err := New(context.Background(), Config{Region: "us-east-1", Endpoint: f.URL, AccessKey: "k", SecretKey: "s", LakeStore: lake, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The integration checks, against the in-process fake, which also holds
// the Catalog to Glue's batch limits and pages every listing.
func TestCatalogOnFake(t *testing.T) {
	f := gluefake.New(t)
	testCatalog(t, fakeCatalog(t, f, nil))
	for op, limit := range map[string]int{"BatchCreatePartition": createBatch, "BatchDeletePartition": deleteBatch, "BatchUpdatePartition": updateBatch} {
		sizes := f.BatchSizes(op)
		if len(sizes) == 0 || slices.Max(sizes) > limit || slices.Max(sizes) != limit {
			t.Errorf("%s batch sizes %v: want full batches of %d", op, sizes, limit)
		}
	}
	// 264 partitions in pages of 7.
	if n := f.Count("GetPartitions"); n < 264/gluefake.Page {
		t.Errorf("%d GetPartitions calls: the listing was not paged", n)
	}
}

func TestConcurrentPartitionsOnFake(t *testing.T) {
	testConcurrentPartitions(t, fakeCatalog(t, gluefake.New(t), nil))
}

func TestCrawlParityOnFake(t *testing.T) {
	l := newParityLake(t)
	testCrawlParity(t, l, fakeCatalog(t, gluefake.New(t), l.store))
}

// Glue numbers a new table's definition 0; stocklake calls it version 1.
func TestVersionNumbers(t *testing.T) {
	ctx := context.Background()
	c := fakeCatalog(t, gluefake.New(t), nil)
	if err := c.CreateDatabase(ctx, stocklake.Database{Name: "d"}); err != nil {
		t.Fatal(err)
	}
	tt := ticksTable("d")
	if err := c.CreateTable(ctx, tt); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateTable(ctx, tt); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetTable(ctx, "d", "ticks")
	if err != nil {
		t.Fatal(err)
	}
	vs, err := c.TableVersions(ctx, "d", "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || len(vs) != 2 || vs[0].Version != 1 || vs[1].Version != 2 {
		t.Errorf("version %d, versions %d: want 2, [1 2]", got.Version, len(vs))
	}
}

// cannedGlue answers every request with one Glue error.
func cannedGlue(t *testing.T, status int, code string) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"__type": code, "Message": "canned " + code})
	}))
	t.Cleanup(s.Close)
	return s, &n
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		status int
		code   string
		want   error
		text   string
	}{
		{400, "EntityNotFoundException", stocklake.ErrNotFound, "canned"},
		{400, "AlreadyExistsException", stocklake.ErrExists, "canned"},
		{400, "AccessDeniedException", stocklake.ErrConfig, "glue:GetTable"},
		{400, "UnrecognizedClientException", stocklake.ErrConfig, "AWS_ACCESS_KEY_ID"},
		{400, "InvalidInputException", stocklake.ErrInvalid, "canned"},
		{400, "ResourceNumberLimitExceededException", stocklake.ErrConfig, "quota"},
		{400, "ThrottlingException", stocklake.ErrUnavailable, "try again later"},
		{500, "InternalServiceException", stocklake.ErrUnavailable, "try again later"},
		{400, "SomethingNewException", stocklake.ErrInvalid, "SomethingNewException"},
	} {
		s, _ := cannedGlue(t, tc.status, tc.code)
		c, err := New(ctx, Config{Region: "us-east-1", Endpoint: s.URL, AccessKey: "k", SecretKey: "s", MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetTable(ctx, "d", "t")
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: error %v, want %v mentioning %q", tc.code, err, tc.want, tc.text)
		}
		var api smithy.APIError
		if errors.As(err, &api) {
			t.Errorf("%s: the error wraps an SDK type: %T", tc.code, api)
		}
	}

	// Nothing listening: unavailable, with the endpoint named.
	c, err := New(ctx, Config{Region: "us-east-1", Endpoint: "http://127.0.0.1:1", AccessKey: "k", SecretKey: "s", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListDatabases(ctx)
	if !errors.Is(err, stocklake.ErrUnavailable) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("unreachable endpoint: %v, want ErrUnavailable naming it", err)
	}

	// A cancelled context is reported as such.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.ListDatabases(cctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// MaxRetries retries server errors that many times.
func TestMaxRetries(t *testing.T) {
	s, n := cannedGlue(t, 500, "InternalServiceException")
	c, err := New(context.Background(), Config{Region: "us-east-1", Endpoint: s.URL, AccessKey: "k", SecretKey: "s", MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetDatabase(context.Background(), "d")
	if !errors.Is(err, stocklake.ErrUnavailable) || n.Load() != 2 {
		t.Errorf("error %v after %d requests, want ErrUnavailable after 2", err, n.Load())
	}
}

// unsetenv clears variables for one test.
func unsetenv(t *testing.T, keys ...string) {
	for _, k := range keys {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

func TestNewConfig(t *testing.T) {
	ctx := context.Background()
	unsetenv(t, "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_GLUE")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	_, err := New(ctx, Config{Endpoint: "ftp://example.com"})
	wantErr(t, "ftp endpoint", err, stocklake.ErrConfig)
	_, err = New(ctx, Config{})
	if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), "glue://us-east-1") {
		t.Errorf("no region: %v, want ErrConfig telling how to set one", err)
	}
	c, err := New(ctx, Config{Endpoint: "http://127.0.0.1:5000"})
	if err != nil || c.Region() != DefaultRegion {
		t.Errorf("endpoint without region: %v, region %q, want %s", err, c.Region(), DefaultRegion)
	}

	// AWS_ENDPOINT_URL_GLUE is honoured, as by every AWS SDK.
	f := gluefake.New(t)
	t.Setenv("AWS_ENDPOINT_URL_GLUE", f.URL)
	c, err = New(ctx, Config{Region: "eu-west-1", AccessKey: "k", SecretKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDatabase(ctx, stocklake.Database{Name: "viaenv"}); err != nil || f.Count("CreateDatabase") != 1 {
		t.Errorf("CreateDatabase through AWS_ENDPOINT_URL_GLUE: %v, %d calls", err, f.Count("CreateDatabase"))
	}
	// An explicit endpoint wins over the variable.
	g := gluefake.New(t)
	c, err = New(ctx, Config{Region: "eu-west-1", Endpoint: g.URL, AccessKey: "k", SecretKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDatabase(ctx, stocklake.Database{Name: "explicit"}); err != nil || g.Count("CreateDatabase") != 1 || f.Count("CreateDatabase") != 1 {
		t.Errorf("explicit endpoint: %v; calls %d there, %d at the variable's", err, g.Count("CreateDatabase"), f.Count("CreateDatabase"))
	}
}

// batches splits work into Glue-sized requests covering every entry once,
// drops the ignorable entry errors and reports the others.
func TestBatches(t *testing.T) {
	c := &Catalog{endpoint: "test"}
	var mu sync.Mutex
	seen := make([]int, 230)
	var sizes []int
	err := c.batches(context.Background(), "adding", len(seen), 25, "AlreadyExistsException", func(_ context.Context, lo, hi int) ([]entryFailure, error) {
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, hi-lo)
		for i := lo; i < hi; i++ {
			seen[i]++
		}
		if lo == 0 {
			return []entryFailure{{values: []string{"a"}, code: "AlreadyExistsException"}}, nil
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(seen, func(n int) bool { return n != 1 }) || len(sizes) != 10 || slices.Max(sizes) != 25 {
		t.Errorf("coverage %v, batch sizes %v", seen, sizes)
	}
	err = c.batches(context.Background(), "adding", 60, 25, "AlreadyExistsException", func(_ context.Context, lo, hi int) ([]entryFailure, error) {
		return []entryFailure{{values: []string{"x", "1"}, code: "InvalidInputException", message: "bad value"}}, nil
	})
	if !errors.Is(err, stocklake.ErrInvalid) || !strings.Contains(err.Error(), "bad value") || !strings.Contains(err.Error(), "2 more") {
		t.Errorf("entry failures: %v", err)
	}
}

// UpdateTable keeps what stocklake does not model; reading drops only the
// EXTERNAL parameter it adds.
func TestTableMapping(t *testing.T) {
	old := &types.Table{
		Owner: aws.String("hadoop"), Retention: 7, TableType: aws.String("EXTERNAL_TABLE"),
		StorageDescriptor: &types.StorageDescriptor{
			Columns:         []types.Column{{Name: aws.String("symbol"), Type: aws.String("string"), Parameters: map[string]string{"iceberg.field.id": "1"}}},
			NumberOfBuckets: -1,
			Parameters:      map[string]string{"sizeKey": "123"},
			SerdeInfo:       &types.SerDeInfo{Name: aws.String("ser"), SerializationLibrary: aws.String("old")},
		},
	}
	tt := ticksTable("d")
	tt.Parameters = map[string]string{"compressionType": "none"}
	in := toTableInput(tt, "ticks", old)
	sd := in.StorageDescriptor
	if aws.ToString(in.Owner) != "hadoop" || in.Retention != 7 || sd.NumberOfBuckets != -1 || sd.Parameters["sizeKey"] != "123" ||
		aws.ToString(sd.SerdeInfo.Name) != "ser" || aws.ToString(sd.SerdeInfo.SerializationLibrary) != tt.SerDe ||
		sd.Columns[0].Parameters["iceberg.field.id"] != "1" || sd.Compressed {
		t.Errorf("unmodelled fields lost: %+v %+v", in, sd)
	}
	if in.Parameters["EXTERNAL"] != "TRUE" || in.Parameters["classification"] != "parquet" {
		t.Errorf("parameters %v: want EXTERNAL=TRUE and classification from the format", in.Parameters)
	}
	if old.StorageDescriptor.Parameters == nil || aws.ToString(old.StorageDescriptor.SerdeInfo.SerializationLibrary) != "old" {
		t.Error("toTableInput changed the old table")
	}

	back := fromTable(types.Table{Name: aws.String("t"), Parameters: in.Parameters, StorageDescriptor: sd, PartitionKeys: in.PartitionKeys,
		VersionId: aws.String("4"), CreateTime: aws.Time(time.Unix(100, 0))})
	if _, ok := back.Parameters["EXTERNAL"]; ok || back.Version != 5 || back.Format != "parquet" || !back.UpdateTime.Equal(back.CreateTime) {
		t.Errorf("fromTable: %+v", back)
	}

	// Without classification the format comes from the SerDe.
	for serde, want := range map[string]string{
		"org.openx.data.jsonserde.JsonSerDe":                          "json",
		"org.apache.hadoop.hive.serde2.OpenCSVSerde":                  "csv",
		"org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe":          "csv",
		"org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe": "parquet",
	} {
		got := fromTable(types.Table{StorageDescriptor: &types.StorageDescriptor{SerdeInfo: &types.SerDeInfo{SerializationLibrary: aws.String(serde)}}})
		if got.Format != want {
			t.Errorf("format of a %s table %q, want %q", serde, got.Format, want)
		}
	}
}

func TestCrawlLog(t *testing.T) {
	ctx := context.Background()
	lake := tempLake(t)
	c, err := New(ctx, Config{Region: "us-east-1", Endpoint: "http://127.0.0.1:1", LakeStore: lake})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CrawlState(ctx, "lake", "file:///l")
	wantErr(t, "CrawlState before any crawl", err, stocklake.ErrNotFound)
	wantErr(t, "RecordCrawl without ID", c.RecordCrawl(ctx, stocklake.CrawlRun{}), stocklake.ErrInvalid)

	t0 := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	run := func(db string, min int) stocklake.CrawlRun {
		start := t0.Add(time.Duration(min) * time.Minute)
		return stocklake.CrawlRun{ID: start.Format("20060102T150405.000Z") + "-abc", Database: db, LakeURL: "file:///l",
			Start: start, End: start.Add(time.Second), PartitionsAdded: min}
	}
	r1, r2, r3 := run("lake", 1), run("other", 2), run("Lake", 3)
	for _, r := range []stocklake.CrawlRun{r1, r2, r3} {
		if err := c.RecordCrawl(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(runs []stocklake.CrawlRun, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range runs {
			out = append(out, r.ID)
		}
		return out
	}
	if got := ids(c.ListCrawls(ctx, "LAKE", 0)); !slices.Equal(got, []string{r3.ID, r1.ID}) {
		t.Errorf("crawls of lake %v", got)
	}
	if got := ids(c.ListCrawls(ctx, "", 2)); !slices.Equal(got, []string{r3.ID, r2.ID}) {
		t.Errorf("newest 2 crawls %v", got)
	}
	if got := ids(c.ListCrawls(ctx, "lake", 1)); !slices.Equal(got, []string{r3.ID}) {
		t.Errorf("newest crawl of lake %v", got)
	}
	r1.Error = "failed"
	if err := c.RecordCrawl(ctx, r1); err != nil {
		t.Fatal(err)
	}
	all, err := c.ListCrawls(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[2].ID != r1.ID || all[2].Error != "failed" || !all[2].Start.Equal(r1.Start) || all[2].PartitionsAdded != 1 {
		t.Errorf("after recording r1 again: %+v", all)
	}

	// IDs and names that are not plain key segments stay in their folder.
	odd := stocklake.CrawlRun{ID: "../a/b", Database: ".hidden", Start: t0}
	if err := c.RecordCrawl(ctx, odd); err != nil {
		t.Fatal(err)
	}
	if got := ids(c.ListCrawls(ctx, ".hidden", 0)); !slices.Equal(got, []string{odd.ID}) {
		t.Errorf("odd crawl %v", got)
	}

	st := stocklake.CrawlState{Database: "Lake", LakeURL: "file:///l", Folders: []string{"b/", "a/", "b/", ""}, RunID: r3.ID}
	if err := c.PutCrawlState(ctx, st); err != nil {
		t.Fatal(err)
	}
	got, err := c.CrawlState(ctx, "lake", "file:///l")
	if err != nil {
		t.Fatal(err)
	}
	if got.Database != "lake" || got.LakeURL != st.LakeURL || got.RunID != r3.ID || !slices.Equal(got.Folders, []string{"", "a/", "b/"}) || got.UpdateTime.IsZero() {
		t.Errorf("crawl state %+v", got)
	}
	_, err = c.CrawlState(ctx, "lake", "file:///l/ticks")
	wantErr(t, "state of another location", err, stocklake.ErrNotFound)
	st.Folders = []string{"c/"}
	if err := c.PutCrawlState(ctx, st); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.CrawlState(ctx, "lake", "file:///l"); !reflect.DeepEqual(got.Folders, []string{"c/"}) {
		t.Errorf("replaced state folders %v", got.Folders)
	}

	// Everything sits in the folder crawls skip.
	objs, err := lake.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if !strings.HasPrefix(o.Key, "_stocklake/crawler/glue/us-east-1/default/") {
			t.Errorf("crawl log object %s outside _stocklake/crawler/glue/us-east-1/default/", o.Key)
		}
	}
	if len(objs) != 5 {
		t.Errorf("%d crawl log objects, want 4 runs and 1 state", len(objs))
	}

	// Without a lake there is nowhere to keep them.
	bare, err := New(ctx, Config{Region: "us-east-1", Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "RecordCrawl without a lake", bare.RecordCrawl(ctx, r1), stocklake.ErrConfig)
	_, err = bare.ListCrawls(ctx, "", 0)
	wantErr(t, "ListCrawls without a lake", err, stocklake.ErrConfig)
	_, err = bare.CrawlState(ctx, "lake", "file:///l")
	wantErr(t, "CrawlState without a lake", err, stocklake.ErrConfig)
	wantErr(t, "PutCrawlState without a lake", bare.PutCrawlState(ctx, st), stocklake.ErrConfig)
}

func TestConformanceOnFake(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) stocklake.Catalog { return fakeCatalog(t, gluefake.New(t), nil) })
}

// A CreateTable or DeleteTable whose answer is lost is retried by the SDK;
// the retry finds the work done (AlreadyExists, EntityNotFound). That is
// success when the table is the one requested, and still ErrExists when
// another writer made a different one. CI once failed on this against
// moto, which dropped a connection after creating the table.
func TestRetriedCreateAndDeleteTable(t *testing.T) {
	ctx := context.Background()
	f := gluefake.New(t)
	var mu sync.Mutex
	drop := map[string]int{} // answers still to lose, per operation
	f.DropAnswer = func(op string) bool {
		mu.Lock()
		defer mu.Unlock()
		if drop[op] > 0 {
			drop[op]--
			return true
		}
		return false
	}
	lose := func(op string) {
		mu.Lock()
		drop[op] = 1
		mu.Unlock()
	}
	c := fakeCatalog(t, f, nil)
	if err := c.CreateDatabase(ctx, stocklake.Database{Name: "db"}); err != nil {
		t.Fatal(err)
	}
	tbl := stocklake.Table{Database: "db", Name: "ticks", Location: "s3://lake/ticks/", Format: stocklake.FormatParquet,
		Columns:       []stocklake.Column{{Name: "symbol", Type: "string"}, {Name: "price", Type: "double"}},
		PartitionKeys: []stocklake.Column{{Name: "dt", Type: "string"}}, Parameters: map[string]string{"compressionType": "zstd"}}

	lose("CreateTable")
	if err := c.CreateTable(ctx, tbl); err != nil {
		t.Fatalf("CreateTable whose first answer was lost: %v, want success", err)
	}
	if n := f.Count("CreateTable"); n != 2 {
		t.Errorf("%d CreateTable requests, want 2 (the lost one and its retry)", n)
	}
	if got, err := c.GetTable(ctx, "db", "ticks"); err != nil || !slices.Equal(got.Columns, tbl.Columns) {
		t.Errorf("table after the retried create: %+v, %v", got, err)
	}
	// Not retried: an existing table is ErrExists, even the same one.
	wantErr(t, "CreateTable of an existing table", c.CreateTable(ctx, tbl), stocklake.ErrExists)
	// Retried, but the table there is another writer's: still ErrExists.
	other := tbl
	other.Columns = []stocklake.Column{{Name: "symbol", Type: "string"}}
	lose("CreateTable")
	wantErr(t, "retried CreateTable of a different table", c.CreateTable(ctx, other), stocklake.ErrExists)

	lose("DeleteTable")
	if err := c.DeleteTable(ctx, "db", "ticks"); err != nil {
		t.Fatalf("DeleteTable whose first answer was lost: %v, want success", err)
	}
	if _, err := c.GetTable(ctx, "db", "ticks"); !errors.Is(err, stocklake.ErrNotFound) {
		t.Errorf("table after the retried delete: %v, want ErrNotFound", err)
	}
	wantErr(t, "DeleteTable of a missing table", c.DeleteTable(ctx, "db", "ticks"), stocklake.ErrNotFound)
}
