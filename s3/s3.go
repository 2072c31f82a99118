// Package s3 implements stocklake.ObjectStore on Amazon S3 or any
// S3-compatible server (versitygw, SeaweedFS, Ceph, R2, ...), using
// aws-sdk-go-v2. Large objects are uploaded in parts by the SDK's transfer
// manager; every request is retried with exponential backoff.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/internal/awsconfig"
)

// Type is the URL scheme of this backend: s3://bucket/prefix.
const Type = "s3"

// Defaults used when the matching Config field is zero.
const (
	DefaultRegion     = "us-east-1"
	DefaultPartSize   = 16 << 20 // 16 MiB
	DefaultMaxRetries = 10
	// MinPartSize is the smallest part S3 accepts in a multipart upload.
	MinPartSize = 5 << 20
	// MaxPartSize is the largest part S3 accepts in a multipart upload.
	MaxPartSize = 5 << 30
)

var _ stocklake.ObjectStore = (*ObjectStore)(nil)

// Config locates a lake in S3 and says how to reach it.
type Config struct {
	// Bucket holds the lake; required.
	Bucket string
	// Prefix is the folder inside Bucket that holds the lake, e.g. "lake";
	// default "" (the whole bucket). Keys are relative to it.
	Prefix string
	// Region of the bucket; default from AWS_REGION or the AWS config
	// files, else us-east-1.
	Region string
	// Endpoint overrides the S3 endpoint, e.g. http://127.0.0.1:9000 for an
	// S3-compatible server; default AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL,
	// else Amazon S3.
	Endpoint string
	// PathStyle selects path-style URLs (http://host/bucket/key) when true
	// and virtual-hosted ones (http://bucket.host/key) when false; default
	// (nil) true when an endpoint is set, else false.
	PathStyle *bool
	// AccessKey and SecretKey (and optionally SessionToken) are static
	// credentials; default the AWS credential chain (environment, config
	// files, SSO, instance role).
	AccessKey    string
	SecretKey    string
	SessionToken string
	// PartSize is the size of the parts of a multipart upload; objects
	// larger than it are uploaded in parts. Default 16 MiB, at least 5 MiB.
	PartSize int64
	// MaxRetries is how many times a failed request is retried, with
	// exponential backoff up to 20 s; default 10, negative for none.
	MaxRetries int
}

// ObjectStore is a lake in an S3 bucket under a prefix. It is safe for
// concurrent use.
type ObjectStore struct {
	bucket   string
	prefix   string // "" or ends with '/'
	endpoint string // for messages
	client   *awss3.Client
	uploader *transfermanager.Client
	bucketOK atomic.Bool // the bucket is known to exist
}

// New returns a store for cfg. It does not contact S3: a missing bucket or
// bad credentials are reported by the first operation.
func New(ctx context.Context, cfg Config) (*ObjectStore, error) {
	if cfg.Bucket == "" {
		return nil, fmt.Errorf("s3: no bucket given: use a lake URL like s3://bucket/prefix: %w", stocklake.ErrConfig)
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		if err := checkKey(prefix); err != nil {
			return nil, fmt.Errorf("s3: prefix %q: %w", cfg.Prefix, stocklake.ErrConfig)
		}
		prefix += "/"
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < MinPartSize || partSize > MaxPartSize {
		return nil, fmt.Errorf("s3: part size %d is out of range: choose between 5 MiB and 5 GiB: %w", partSize, stocklake.ErrConfig)
	}
	awsCfg, err := awsconfig.Load(ctx, awsconfig.Options{Service: "s3", Region: cfg.Region, Endpoint: cfg.Endpoint,
		AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey, SessionToken: cfg.SessionToken,
		MaxRetries: cfg.MaxRetries, DefaultMaxRetries: DefaultMaxRetries, NoRetryBudget: true})
	if err != nil {
		return nil, err
	}
	if awsCfg.Region == "" {
		awsCfg.Region = DefaultRegion
	}
	client := awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = o.BaseEndpoint != nil
		// Objects uploaded in parts carry no whole-object checksum; that is
		// expected, not worth a log line per read.
		o.DisableLogOutputChecksumValidationSkipped = true
		if cfg.PathStyle != nil {
			o.UsePathStyle = *cfg.PathStyle
		}
	})
	endpoint := "Amazon S3 (" + awsCfg.Region + ")"
	if e := client.Options().BaseEndpoint; e != nil {
		endpoint = *e
	}
	s := &ObjectStore{
		bucket:   cfg.Bucket,
		prefix:   prefix,
		endpoint: endpoint,
		client:   client,
		uploader: transfermanager.New(client, func(o *transfermanager.Options) {
			o.PartSizeBytes = partSize
			o.MultipartUploadThreshold = partSize + 1
			// Abort a failed multipart upload even when ctx is done, so
			// its parts do not linger (and cost) in the bucket.
			o.FailTimeout = 30 * time.Second
		}),
	}
	return s, nil
}

// Endpoint is the store's region and S3 endpoint URL ("" for Amazon S3),
// for other S3 clients of the same lake (iceberg-go's file IO).
func (s *ObjectStore) Endpoint() (region, endpoint string) {
	o := s.client.Options()
	if o.BaseEndpoint != nil {
		endpoint = *o.BaseEndpoint
	}
	return o.Region, endpoint
}

// URL returns s3://bucket/prefix (without a trailing slash).
func (s *ObjectStore) URL() string {
	return "s3://" + s.bucket + "/" + strings.TrimSuffix(s.prefix, "/")
}

// Bucket returns the name of the bucket.
func (s *ObjectStore) Bucket() string { return s.bucket }

// CreateBucket creates the bucket in the configured region. A bucket that
// already exists and that the caller can use is not an error.
func (s *ObjectStore) CreateBucket(ctx context.Context) error {
	in := &awss3.CreateBucketInput{Bucket: aws.String(s.bucket)}
	if r := s.client.Options().Region; r != "" && r != DefaultRegion {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(r),
		}
	}
	_, err := s.client.CreateBucket(ctx, in)
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		var exists *types.BucketAlreadyExists
		if errors.As(err, &exists) {
			// Some servers say so for the caller's own buckets too.
			if _, herr := s.client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(s.bucket)}); herr == nil {
				s.bucketOK.Store(true)
				return nil
			}
			return fmt.Errorf("s3: bucket %q already exists and belongs to another account: choose another name: %w", s.bucket, stocklake.ErrExists)
		}
		return s.wrap(ctx, "create bucket", "", err)
	}
	s.bucketOK.Store(true)
	return nil
}

// Put uploads body, in parts when it is larger than the part size, and
// returns once S3 has acknowledged the whole object. A failed multipart
// upload is aborted.
func (s *ObjectStore) Put(ctx context.Context, key string, body io.Reader) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return s.wrap(ctx, "put", key, err)
	}
	_, err := s.uploader.UploadObject(ctx, &transfermanager.UploadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
		Body:   body,
	})
	if err != nil {
		return s.wrap(ctx, "put", key, err)
	}
	s.bucketOK.Store(true)
	return nil
}

// Get opens an object for reading; a missing key wraps stocklake.ErrNotFound.
func (s *ObjectStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
	})
	if err != nil {
		return nil, s.wrap(ctx, "get", key, err)
	}
	s.bucketOK.Store(true)
	return &body{rc: out.Body, s: s, key: key}, nil
}

// GetRange reads length bytes at offset, fewer at the end of the object;
// length < 0 reads to the end. An offset past the end wraps
// stocklake.ErrInvalid.
func (s *ObjectStore) GetRange(ctx context.Context, key string, offset, length int64) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("s3: get %s: negative offset %d: %w", s.location(key), offset, stocklake.ErrInvalid)
	}
	if length == 0 {
		return s.emptyRange(ctx, key, offset)
	}
	rng := fmt.Sprintf("bytes=%d-", offset)
	if length > 0 && offset+length > offset { // not past MaxInt64
		rng = fmt.Sprintf("bytes=%d-%d", offset, offset+length-1)
	}
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
		Range:  aws.String(rng),
	}, func(o *awss3.Options) {
		// Some servers send the whole object's checksum with a range,
		// which can never match the bytes of the range.
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	if err != nil {
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "InvalidRange" {
			// The offset is at or past the end (or the object is empty).
			return s.emptyRange(ctx, key, offset)
		}
		return nil, s.wrap(ctx, "get", key, err)
	}
	defer out.Body.Close()
	s.bucketOK.Store(true)
	var r io.Reader = out.Body
	if out.ContentRange == nil {
		// The server ignored Range and sent the whole object.
		size := aws.ToInt64(out.ContentLength)
		if offset > size {
			return nil, fmt.Errorf("s3: get %s: offset %d is past the end of the %d-byte object: %w", s.location(key), offset, size, stocklake.ErrInvalid)
		}
		if _, err := io.CopyN(io.Discard, r, offset); err != nil {
			return nil, s.wrapRead(key, err)
		}
		if length > 0 {
			r = io.LimitReader(r, length)
		}
	}
	var buf bytes.Buffer
	if n := aws.ToInt64(out.ContentLength); n > 0 && out.ContentRange != nil {
		buf.Grow(int(n))
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, s.wrapRead(key, err)
	}
	return buf.Bytes(), nil
}

// emptyRange answers a read of nothing at offset: empty when offset is at
// most the object's size, ErrInvalid past it, ErrNotFound without object.
func (s *ObjectStore) emptyRange(ctx context.Context, key string, offset int64) ([]byte, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	if offset > info.Size {
		return nil, fmt.Errorf("s3: get %s: offset %d is past the end of the %d-byte object: %w", s.location(key), offset, info.Size, stocklake.ErrInvalid)
	}
	return []byte{}, nil
}

// Stat describes an object; a missing key wraps stocklake.ErrNotFound.
func (s *ObjectStore) Stat(ctx context.Context, key string) (stocklake.ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return stocklake.ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
	})
	if err != nil {
		return stocklake.ObjectInfo{}, s.wrap(ctx, "stat", key, err)
	}
	s.bucketOK.Store(true)
	return stocklake.ObjectInfo{
		Key:     key,
		Size:    aws.ToInt64(out.ContentLength),
		ModTime: aws.ToTime(out.LastModified),
	}, nil
}

// List returns the objects whose keys start with prefix, sorted by key.
// Zero-byte "folder" objects whose keys end in '/' (made by some consoles)
// are skipped.
func (s *ObjectStore) List(ctx context.Context, prefix string) ([]stocklake.ObjectInfo, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	p := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix + prefix),
	})
	var out []stocklake.ObjectInfo
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.wrap(ctx, "list", prefix+"*", err)
		}
		for _, o := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(o.Key), s.prefix)
			if !ok || key == "" || strings.HasSuffix(key, "/") {
				continue
			}
			out = append(out, stocklake.ObjectInfo{
				Key:     key,
				Size:    aws.ToInt64(o.Size),
				ModTime: aws.ToTime(o.LastModified),
			})
		}
	}
	s.bucketOK.Store(true)
	slices.SortFunc(out, func(a, b stocklake.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete removes an object; deleting a missing key is not an error.
func (s *ObjectStore) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
	})
	if err != nil {
		err = s.wrap(ctx, "delete", key, err)
		if errors.Is(err, stocklake.ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}

// location names an object for messages.
func (s *ObjectStore) location(key string) string {
	return "s3://" + s.bucket + "/" + s.prefix + key
}

// wrap turns an SDK error into one that wraps a stocklake sentinel and tells
// the user what to do. SDK types are not wrapped, only their text is kept.
//
// The sentinel decides what a caller does: the sink's retry loop stops on
// ErrConfig and ErrInvalid (the process exits; restarted with the same
// settings it fails the same way) and retries everything else with backoff,
// logging each attempt and counting it in its retry metric. So only errors
// that waiting can never fix are fatal:
//
//   - ErrConfig: NoSuchBucket (create the bucket or fix the lake URL);
//     InvalidAccessKeyId and SignatureDoesNotMatch (the access key does not
//     exist or the secret key is wrong: the configured credentials are
//     wrong, not stale; versitygw says XAdminUserNotFound, HTTP 404, for an
//     unknown key); PermanentRedirect, AuthorizationHeaderMalformed and
//     IllegalLocationConstraintException (the bucket is in another region);
//     InvalidBucketName.
//   - ErrInvalid: KeyTooLongError and InvalidObjectName: this request can
//     never succeed, whatever the server's state (keys are also checked
//     before any request, see checkKey).
//   - ErrNotFound: NoSuchKey and other 404s (a missing object).
//   - ErrUnavailable, retried: HTTP 5xx, 429, SlowDown, RequestTimeout;
//     ExpiredToken, TokenRefreshRequired and InvalidToken (temporary
//     credentials, which the SDK's provider refreshes); AccessDenied and
//     any other 401 or 403 (a bucket or key policy, an SCP, a KMS grant or
//     a new role can be fixed while the writer waits, and a restart would
//     not fix it sooner); RequestTimeTooSkewed (the SDK corrects its clock
//     offset from the server's answer); and every 4xx not named above, so
//     a server's unknown answer delays the writer instead of stopping it.
//     Network errors are ErrUnavailable too.
func (s *ObjectStore) wrap(ctx context.Context, op, key string, err error) error {
	loc := s.location(key)
	if key == "" {
		loc = "s3://" + s.bucket
	}
	if cerr := ctx.Err(); cerr != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, cerr)) {
		return fmt.Errorf("s3: %s %s: %w", op, loc, cerr)
	}
	var (
		api    smithy.APIError
		status int
	)
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	if errors.As(err, &api) {
		code, msg := api.ErrorCode(), api.ErrorMessage()
		detail := code
		if msg != "" {
			detail += ": " + msg
		}
		switch {
		case code == "NoSuchBucket":
			return s.noBucket(op, loc)
		case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "XAdminUserNotFound":
			return fmt.Errorf("s3: %s %s at %s: %s: the access key or secret key is wrong: check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE): %w",
				op, loc, s.endpoint, detail, stocklake.ErrConfig)
		case code == "NoSuchKey" || (code == "NotFound" && status == 404) || status == 404:
			if op != "get" && op != "stat" && op != "delete" {
				return fmt.Errorf("s3: %s %s: %s: %w", op, loc, detail, stocklake.ErrNotFound)
			}
			// A HEAD of a missing object and a missing bucket look alike.
			if !s.bucketOK.Load() && s.bucketMissing(ctx) {
				return s.noBucket(op, loc)
			}
			return fmt.Errorf("s3: %s %s: no such object: %w", op, loc, stocklake.ErrNotFound)
		case code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" || code == "IllegalLocationConstraintException":
			return fmt.Errorf("s3: %s %s: %s: the bucket is in another region: set the region (AWS_REGION): %w", op, loc, detail, stocklake.ErrConfig)
		case code == "InvalidBucketName":
			return fmt.Errorf("s3: %s %s: %s: fix the bucket name in the lake URL: %w", op, loc, detail, stocklake.ErrConfig)
		case code == "KeyTooLongError" || code == "InvalidObjectName":
			return fmt.Errorf("s3: %s %s: %s (HTTP %d): the server refuses this object name: %w", op, loc, detail, status, stocklake.ErrInvalid)
		case code == "ExpiredToken" || code == "TokenRefreshRequired" || code == "InvalidToken":
			return fmt.Errorf("s3: %s %s at %s: %s (HTTP %d): the temporary credentials expired or are not valid; "+
				"retrying with refreshed ones (check the credential source if this persists): %w", op, loc, s.endpoint, detail, status, stocklake.ErrUnavailable)
		case code == "AccessDenied" || status == 401 || status == 403:
			return fmt.Errorf("s3: %s %s at %s: %s (HTTP %d): access denied; retrying: check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE) and the bucket, key and KMS policies: %w",
				op, loc, s.endpoint, detail, status, stocklake.ErrUnavailable)
		case code == "RequestTimeTooSkewed":
			return fmt.Errorf("s3: %s %s at %s: %s (HTTP %d): this machine's clock differs from the server's; retrying (sync the clock with NTP): %w",
				op, loc, s.endpoint, detail, status, stocklake.ErrUnavailable)
		case status >= 500 || status == 429 || code == "SlowDown" || code == "ServiceUnavailable" || code == "InternalError" || code == "RequestTimeout":
			return fmt.Errorf("s3: %s %s at %s: %s (HTTP %d), still failing after retries: %w", op, loc, s.endpoint, detail, status, stocklake.ErrUnavailable)
		default:
			// An answer this list does not know: delay, do not stop.
			return fmt.Errorf("s3: %s %s at %s: unexpected answer %s (HTTP %d); retrying: %w", op, loc, s.endpoint, detail, status, stocklake.ErrUnavailable)
		}
	}
	if status == 404 {
		return fmt.Errorf("s3: %s %s: no such object: %w", op, loc, stocklake.ErrNotFound)
	}
	var sigErr *v4.SigningError
	if errors.As(err, &sigErr) || strings.Contains(err.Error(), "get identity:") {
		return fmt.Errorf("s3: %s %s: no usable AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the lake's access key: %s: %w",
			op, loc, rootCause(err), stocklake.ErrConfig)
	}
	var nerr net.Error
	if errors.As(err, &nerr) || status >= 500 {
		return fmt.Errorf("s3: %s %s: cannot reach %s: %s: check the endpoint and that the server is running: %w",
			op, loc, s.endpoint, rootCause(err), stocklake.ErrUnavailable)
	}
	return fmt.Errorf("s3: %s %s at %s: %s: %w", op, loc, s.endpoint, rootCause(err), stocklake.ErrUnavailable)
}

// wrapRead wraps an error met while reading an object's body.
func (s *ObjectStore) wrapRead(key string, err error) error {
	return fmt.Errorf("s3: reading %s from %s: %s: %w", s.location(key), s.endpoint, rootCause(err), stocklake.ErrUnavailable)
}

// noBucket is the error for a bucket that does not exist.
func (s *ObjectStore) noBucket(op, loc string) error {
	return fmt.Errorf("s3: %s %s: bucket %q does not exist at %s: create it (e.g. aws s3 mb s3://%s) or fix the lake URL: %w",
		op, loc, s.bucket, s.endpoint, s.bucket, stocklake.ErrConfig)
}

// bucketMissing reports whether HeadBucket says the bucket does not exist.
func (s *ObjectStore) bucketMissing(ctx context.Context) bool {
	_, err := s.client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	if err == nil {
		s.bucketOK.Store(true)
		return false
	}
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == 404
}

// rootCause returns the part of err a user needs: the network error when
// there is one, without the SDK's operation and retry wrappers.
func rootCause(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Error()
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.Error()
	}
	return err.Error()
}

// body turns errors met while reading an object into stocklake errors.
type body struct {
	rc  io.ReadCloser
	s   *ObjectStore
	key string
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		err = b.s.wrapRead(b.key, err)
	}
	return n, err
}

func (b *body) Close() error { return b.rc.Close() }

// checkKey accepts the keys a file lake accepts too, so that a lake can move
// between a directory and a bucket: '/'-separated segments, none empty, "."
// or "..", no leading '/', no NUL byte, at most 1024 bytes.
func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("s3: empty key: %w", stocklake.ErrInvalid)
	}
	if len(key) > 1024 {
		return fmt.Errorf("s3: key %.40q... is longer than 1024 bytes: %w", key, stocklake.ErrInvalid)
	}
	if strings.HasPrefix(key, "/") || strings.ContainsRune(key, 0) {
		return fmt.Errorf("s3: key %q must be a relative '/'-separated path: %w", key, stocklake.ErrInvalid)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("s3: key %q has an empty, \".\" or \"..\" segment: %w", key, stocklake.ErrInvalid)
		}
	}
	return nil
}

// checkPrefix accepts prefixes of valid keys; the last segment may be
// partial or empty.
func checkPrefix(prefix string) error {
	if strings.HasPrefix(prefix, "/") || strings.ContainsRune(prefix, 0) {
		return fmt.Errorf("s3: list prefix %q must be a relative '/'-separated path: %w", prefix, stocklake.ErrInvalid)
	}
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		if err := checkKey(prefix[:i]); err != nil {
			return fmt.Errorf("s3: list prefix %q: %w", prefix, stocklake.ErrInvalid)
		}
	}
	return nil
}
