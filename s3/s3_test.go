package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/internal/objectstoretest"
)

// fake is an in-process S3 server (gofakes3) that counts requests.
type fake struct {
	URL   string
	mu    sync.Mutex
	calls map[string]int // "METHOD kind" -> count
}

// newFake starts a fake S3 server; wrap, when set, sits in front of it.
func newFake(t testing.TB, wrap func(http.Handler) http.Handler) *fake {
	t.Helper()
	f := &fake{calls: map[string]int{}}
	var h http.Handler = gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := "other"
		q := r.URL.Query()
		switch {
		case q.Has("partNumber"):
			kind = "part"
		case q.Has("uploads"):
			kind = "create-multipart"
		case q.Has("uploadId"):
			kind = "multipart"
		}
		f.mu.Lock()
		f.calls[r.Method+" "+kind]++
		f.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	// Reads that stop early make gofakes3 log failed writes; not news.
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.Start()
	t.Cleanup(ts.Close)
	f.URL = ts.URL
	return f
}

func (f *fake) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

func (f *fake) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.calls)
}

// testConfig returns a configuration for a fake server at endpoint.
func testConfig(endpoint, bucket string) Config {
	return Config{
		Bucket:     bucket,
		Prefix:     "lake/v1",
		Endpoint:   endpoint,
		AccessKey:  "stocklake",
		SecretKey:  "stocklake-secret",
		PartSize:   MinPartSize,
		MaxRetries: 2,
	}
}

func newTestStore(t testing.TB, cfg Config, create bool) *ObjectStore {
	t.Helper()
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if create {
		if err := s.CreateBucket(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestConformance(t *testing.T) {
	objectstoretest.Run(t, func(t *testing.T) stocklake.ObjectStore {
		return newTestStore(t, testConfig(newFake(t, nil).URL, "lake"), true)
	})
}

// TestConformanceWithoutRanges runs the contract against a server that
// ignores Range headers and always sends whole objects.
func TestConformanceWithoutRanges(t *testing.T) {
	stripRange := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del("Range")
			h.ServeHTTP(w, r)
		})
	}
	objectstoretest.Run(t, func(t *testing.T) stocklake.ObjectStore {
		return newTestStore(t, testConfig(newFake(t, stripRange).URL, "lake"), true)
	})
}

func TestMultipart(t *testing.T) {
	f := newFake(t, nil)
	s := newTestStore(t, testConfig(f.URL, "lake"), true)
	ctx := t.Context()

	f.reset()
	if err := s.Put(ctx, "small", bytes.NewReader(make([]byte, MinPartSize))); err != nil {
		t.Fatal(err)
	}
	if n := f.count("PUT other"); n != 1 || f.count("PUT part") != 0 {
		t.Errorf("an object of exactly the part size: %d PutObject, %d UploadPart; want one PutObject", n, f.count("PUT part"))
	}

	f.reset()
	body := make([]byte, 12<<20)
	_, _ = rand.Read(body)
	if err := s.Put(ctx, "big", struct{ *bytes.Reader }{bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	if n := f.count("PUT part"); n != 3 {
		t.Errorf("12 MiB with 5 MiB parts: %d UploadPart calls, want 3", n)
	}
	if f.count("POST create-multipart") != 1 || f.count("POST multipart") != 1 {
		t.Errorf("calls %v, want one CreateMultipartUpload and one CompleteMultipartUpload", f.calls)
	}
	got, err := s.GetRange(ctx, "big", 0, -1)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("reading the multipart object back: %d bytes, %v", len(got), err)
	}
}

func TestMissingBucket(t *testing.T) {
	f := newFake(t, nil)
	s := newTestStore(t, testConfig(f.URL, "no-such-bucket"), false)
	ctx := t.Context()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), "create it") || !strings.Contains(err.Error(), "no-such-bucket") {
			t.Errorf("%s on a missing bucket: %v; want ErrConfig saying to create the bucket", op, err)
		}
		if errors.Is(err, stocklake.ErrNotFound) {
			t.Errorf("%s on a missing bucket looks like a missing object: %v", op, err)
		}
	}
	check("Put", s.Put(ctx, "k", strings.NewReader("x")))
	_, err := s.Stat(ctx, "k")
	check("Stat", err)
	_, err = s.Get(ctx, "k")
	check("Get", err)
	_, err = s.List(ctx, "")
	check("List", err)

	if err := s.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateBucket(ctx); err != nil {
		t.Errorf("CreateBucket of an existing bucket: %v", err)
	}
	if err := s.Put(ctx, "k", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "missing"); !errors.Is(err, stocklake.ErrNotFound) {
		t.Errorf("Stat of a missing key once the bucket exists: %v, want ErrNotFound", err)
	}
}

// assertNoSDKTypes checks that err does not expose aws-sdk or smithy types.
func assertNoSDKTypes(t *testing.T, err error) {
	t.Helper()
	var api smithy.APIError
	var re *smithyhttp.ResponseError
	var op *smithy.OperationError
	if errors.As(err, &api) || errors.As(err, &re) || errors.As(err, &op) {
		t.Errorf("error %v exposes an SDK type", err)
	}
}

func TestUnavailable(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	endpoint := ts.URL
	ts.Close() // nothing listens there now
	cfg := testConfig(endpoint, "lake")
	cfg.MaxRetries = -1
	s := newTestStore(t, cfg, false)
	err := s.Put(t.Context(), "k", strings.NewReader("x"))
	if !errors.Is(err, stocklake.ErrUnavailable) || !strings.Contains(err.Error(), endpoint) || !strings.Contains(err.Error(), "s3://lake/lake/v1/k") {
		t.Errorf("Put to a closed port: %v; want ErrUnavailable naming the endpoint and object", err)
	}
	assertNoSDKTypes(t, err)
	_, err = s.List(t.Context(), "")
	if !errors.Is(err, stocklake.ErrUnavailable) {
		t.Errorf("List from a closed port: %v; want ErrUnavailable", err)
	}
}

func TestRetries(t *testing.T) {
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`<Error><Code>InternalError</Code><Message>try later</Message></Error>`))
	}))
	t.Cleanup(ts.Close)
	for _, tc := range []struct{ maxRetries, want int }{{-1, 1}, {2, 3}} {
		calls.Store(0)
		cfg := testConfig(ts.URL, "lake")
		cfg.MaxRetries = tc.maxRetries
		s := newTestStore(t, cfg, false)
		_, err := s.Stat(t.Context(), "k")
		if !errors.Is(err, stocklake.ErrUnavailable) {
			t.Errorf("Stat against a failing server: %v, want ErrUnavailable", err)
		}
		assertNoSDKTypes(t, err)
		if got := int(calls.Load()); got != tc.want {
			t.Errorf("MaxRetries %d: %d requests, want %d", tc.maxRetries, got, tc.want)
		}
	}
}

func TestNotFoundHasNoSDKTypes(t *testing.T) {
	s := newTestStore(t, testConfig(newFake(t, nil).URL, "lake"), true)
	_, err := s.Get(t.Context(), "missing")
	if !errors.Is(err, stocklake.ErrNotFound) || !strings.Contains(err.Error(), "s3://lake/lake/v1/missing") {
		t.Errorf("Get(missing): %v; want ErrNotFound naming the object", err)
	}
	assertNoSDKTypes(t, err)
}

func TestPrefix(t *testing.T) {
	f := newFake(t, nil)
	cfg := testConfig(f.URL, "lake")
	cfg.Prefix = "/lake/v1/"
	s := newTestStore(t, cfg, true)
	cfg.Prefix = ""
	root := newTestStore(t, cfg, false)
	ctx := t.Context()
	if got, want := s.URL(), "s3://lake/lake/v1"; got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
	if got, want := root.URL(), "s3://lake/"; got != want {
		t.Errorf("URL() without prefix = %q, want %q", got, want)
	}
	if err := s.Put(ctx, "a/b", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"lake/v10/c", "other", "lake/v1/folder/"} {
		if _, err := root.client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("lake"), Key: aws.String(k), Body: strings.NewReader("")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := root.Stat(ctx, "lake/v1/a/b"); err != nil {
		t.Errorf("object not stored under the prefix: %v", err)
	}
	l, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 1 || l[0].Key != "a/b" {
		t.Errorf("List under the prefix = %+v, want only a/b", l)
	}
}

func TestConfig(t *testing.T) {
	ctx := t.Context()
	for name, cfg := range map[string]Config{
		"no bucket":       {},
		"tiny parts":      {Bucket: "b", PartSize: 1 << 20},
		"bad endpoint":    {Bucket: "b", Endpoint: "127.0.0.1:9000"},
		"escaping prefix": {Bucket: "b", Prefix: "a/../.."},
	} {
		if _, err := New(ctx, cfg); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("%s: New: %v, want ErrConfig", name, err)
		}
	}

	// Keep the machine's AWS configuration out of the defaults.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	s, err := New(ctx, Config{Bucket: "b", AccessKey: "k", SecretKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	o := s.client.Options()
	if o.Region != DefaultRegion || o.UsePathStyle || o.BaseEndpoint != nil {
		t.Errorf("defaults: region %q, path style %v, endpoint %v; want us-east-1, virtual-hosted, Amazon S3", o.Region, o.UsePathStyle, o.BaseEndpoint)
	}
	no := false
	s, err = New(ctx, Config{Bucket: "b", Endpoint: "https://s3.example.com", PathStyle: &no, Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	if o := s.client.Options(); o.UsePathStyle || o.Region != "eu-west-1" {
		t.Errorf("PathStyle false, region eu-west-1: got path style %v, region %q", o.UsePathStyle, o.Region)
	}

	// AWS_ENDPOINT_URL_S3 is honoured, with path-style URLs by default.
	f := newFake(t, nil)
	t.Setenv("AWS_ENDPOINT_URL_S3", f.URL)
	cfg := testConfig("", "env-bucket")
	s = newTestStore(t, cfg, true)
	if !s.client.Options().UsePathStyle {
		t.Error("an endpoint from AWS_ENDPOINT_URL_S3 should default to path-style URLs")
	}
	if err := s.Put(ctx, "k", strings.NewReader("x")); err != nil {
		t.Fatalf("Put through AWS_ENDPOINT_URL_S3: %v", err)
	}
	if f.count("PUT other") == 0 {
		t.Error("the server named by AWS_ENDPOINT_URL_S3 got no PutObject")
	}
}

// TestS3Integration runs the contract against a real S3 server named by
// STOCKLAKE_S3_ENDPOINT (e.g. http://127.0.0.1:9000, see scripts/s3), with
// credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Each store
// gets a new bucket, emptied and removed at the end.
func TestS3Integration(t *testing.T) {
	endpoint := os.Getenv("STOCKLAKE_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("STOCKLAKE_S3_ENDPOINT not set (start a server with scripts/s3 start)")
	}
	objectstoretest.Run(t, func(t *testing.T) stocklake.ObjectStore {
		return newIntegrationStore(t, endpoint)
	})
	t.Run("MissingBucket", func(t *testing.T) {
		s, err := New(t.Context(), Config{Bucket: "stocklake-test-missing-" + randomHex(), Endpoint: endpoint})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Stat(t.Context(), "k")
		if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), "create it") {
			t.Errorf("Stat on a missing bucket: %v; want ErrConfig saying to create it", err)
		}
	})
	// What a real server answers to credentials that are wrong (not stale)
	// is fatal; see wrap.
	t.Run("WrongCredentials", func(t *testing.T) {
		good := newIntegrationStore(t, endpoint)
		for name, cfg := range map[string]Config{
			"unknown access key": {AccessKey: "no-such-key-" + randomHex(), SecretKey: "x"},
			"wrong secret key":   {AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"), SecretKey: "wrong-" + randomHex()},
		} {
			if cfg.AccessKey == "" {
				t.Fatal("AWS_ACCESS_KEY_ID is not set; scripts/s3 start prints it")
			}
			cfg.Bucket, cfg.Prefix, cfg.Endpoint, cfg.MaxRetries = good.bucket, "lake", endpoint, -1
			s, err := New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Put(t.Context(), "k", strings.NewReader("x"))
			if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), "check the credentials") {
				t.Errorf("%s: Put: %v; want ErrConfig saying to check the credentials", name, err)
			}
		}
	})
}

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newIntegrationStore(t *testing.T, endpoint string) *ObjectStore {
	t.Helper()
	cfg := Config{
		Bucket:   "stocklake-test-" + randomHex(),
		Prefix:   "lake",
		Endpoint: endpoint,
		PartSize: MinPartSize,
	}
	s, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeBucket(t, s) })
	return s
}

// removeBucket deletes every object and unfinished upload in the store's
// bucket, then the bucket.
func removeBucket(t testing.TB, s *ObjectStore) {
	ctx := context.Background()
	b := aws.String(s.bucket)
	p := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{Bucket: b})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Errorf("cleaning up bucket %s: %v", s.bucket, err)
			return
		}
		for _, o := range page.Contents {
			if _, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: b, Key: o.Key}); err != nil {
				t.Errorf("cleaning up %s: %v", aws.ToString(o.Key), err)
			}
		}
	}
	if ups, err := s.client.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: b}); err == nil {
		for _, u := range ups.Uploads {
			_, _ = s.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: b, Key: u.Key, UploadId: u.UploadId})
		}
	}
	if _, err := s.client.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: b}); err != nil {
		t.Errorf("deleting bucket %s: %v", s.bucket, err)
	}
}

// BenchmarkPut uploads 64 MiB objects (16 MiB parts) to the in-process fake;
// the MB/s column is Put's throughput.
func BenchmarkPut(b *testing.B) {
	cfg := testConfig(newFake(b, nil).URL, "lake")
	cfg.PartSize = 0 // default
	s := newTestStore(b, cfg, true)
	body := make([]byte, 64<<20)
	_, _ = rand.Read(body)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := s.Put(b.Context(), "bench/object.bin", bytes.NewReader(body)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutIntegration uploads 64 MiB objects (16 MiB parts) to the
// server named by STOCKLAKE_S3_ENDPOINT, like TestS3Integration.
func BenchmarkPutIntegration(b *testing.B) {
	endpoint := os.Getenv("STOCKLAKE_S3_ENDPOINT")
	if endpoint == "" {
		b.Skip("STOCKLAKE_S3_ENDPOINT not set")
	}
	s, err := New(b.Context(), Config{Bucket: "stocklake-bench-" + randomHex(), Endpoint: endpoint})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.CreateBucket(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { removeBucket(b, s) })
	body := make([]byte, 64<<20)
	_, _ = rand.Read(body)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := s.Put(b.Context(), "bench/object.bin", bytes.NewReader(body)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestErrorClassification serves S3 error bodies and checks the sentinel
// each maps to: only errors that no wait can fix are ErrConfig or
// ErrInvalid (callers such as the sink stop on those); throttling,
// expired or refused credentials, clock skew and unknown 4xx answers are
// ErrUnavailable, which callers retry. Each error names the object and the
// S3 code, and exposes no SDK type.
func TestErrorClassification(t *testing.T) {
	var status atomic.Int32
	var code atomic.Value
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.Header().Set("x-amz-request-id", "req-1")
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
			`<Error><Code>` + code.Load().(string) + `</Code><Message>crafted by the test</Message><RequestId>req-1</RequestId></Error>`))
	}))
	t.Cleanup(ts.Close)
	cfg := testConfig(ts.URL, "lake")
	cfg.MaxRetries = -1
	s := newTestStore(t, cfg, false)
	s.bucketOK.Store(true)
	for _, tc := range []struct {
		status int
		code   string
		want   error
	}{
		// Retried: waiting (or a refreshed credential, a policy fix, the
		// SDK's clock correction) can fix these.
		{400, "ExpiredToken", stocklake.ErrUnavailable},
		{400, "TokenRefreshRequired", stocklake.ErrUnavailable},
		{400, "InvalidToken", stocklake.ErrUnavailable},
		{403, "AccessDenied", stocklake.ErrUnavailable},
		{403, "RequestTimeTooSkewed", stocklake.ErrUnavailable},
		{403, "SomethingNew", stocklake.ErrUnavailable},
		{503, "SlowDown", stocklake.ErrUnavailable},
		{429, "TooManyRequests", stocklake.ErrUnavailable},
		{400, "RequestTimeout", stocklake.ErrUnavailable},
		{409, "OperationAborted", stocklake.ErrUnavailable},
		{400, "SomethingNew", stocklake.ErrUnavailable},
		{418, "Teapot", stocklake.ErrUnavailable},
		// Fatal: the settings are wrong, and stay wrong.
		{404, "NoSuchBucket", stocklake.ErrConfig},
		{403, "InvalidAccessKeyId", stocklake.ErrConfig},
		{403, "SignatureDoesNotMatch", stocklake.ErrConfig},
		{404, "XAdminUserNotFound", stocklake.ErrConfig}, // versitygw: unknown access key
		{301, "PermanentRedirect", stocklake.ErrConfig},
		{400, "AuthorizationHeaderMalformed", stocklake.ErrConfig},
		{400, "InvalidBucketName", stocklake.ErrConfig},
		{400, "KeyTooLongError", stocklake.ErrInvalid},
	} {
		status.Store(int32(tc.status))
		code.Store(tc.code)
		ops := map[string]error{"put": s.Put(t.Context(), "a/k", strings.NewReader("x"))}
		_, ops["get"] = s.Get(t.Context(), "a/k")
		_, ops["list"] = s.List(t.Context(), "a/")
		for op, err := range ops {
			if !errors.Is(err, tc.want) {
				t.Errorf("%s answered HTTP %d %s: %v; want %v", op, tc.status, tc.code, err, tc.want)
				continue
			}
			for _, other := range []error{stocklake.ErrConfig, stocklake.ErrInvalid, stocklake.ErrUnavailable, stocklake.ErrNotFound} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("%s answered HTTP %d %s: %v is also %v", op, tc.status, tc.code, err, other)
				}
			}
			if tc.code != "NoSuchBucket" && !strings.Contains(err.Error(), tc.code) {
				t.Errorf("%s answered %s: %v does not name the code", op, tc.code, err)
			}
			assertNoSDKTypes(t, err)
		}
	}
	// HEAD answers have no body: the status alone decides.
	for _, tc := range []struct {
		status int
		want   error
	}{{403, stocklake.ErrUnavailable}, {400, stocklake.ErrUnavailable}, {409, stocklake.ErrUnavailable}, {503, stocklake.ErrUnavailable}} {
		status.Store(int32(tc.status))
		code.Store("Ignored")
		if _, err := s.Stat(t.Context(), "a/k"); !errors.Is(err, tc.want) {
			t.Errorf("stat answered HTTP %d: %v; want %v", tc.status, err, tc.want)
		}
	}
}
