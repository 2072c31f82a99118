// Package glue implements stocklake.Catalog, and stocklake.CrawlLog, on the
// AWS Glue Data Catalog with aws-sdk-go-v2, so that tables crawled by
// stocklake are queryable by Amazon Athena, Trino (hive.metastore=glue),
// Spark and EMR as they are.
//
// # URL
//
// The catalog URL glue://REGION[?endpoint=URL&catalog_id=ACCOUNT&max_retries=N]
// maps onto Config:
//
//	glue://us-east-1                                 AWS Glue in us-east-1
//	glue://                                          region from AWS_REGION or ~/.aws/config
//	glue://us-east-1?endpoint=http://127.0.0.1:5000  a Glue API server for tests (scripts/glue)
//	glue://eu-west-1?catalog_id=123456789012         another account's catalog (cross-account)
//
// Without endpoint, AWS_ENDPOINT_URL_GLUE and then AWS_ENDPOINT_URL apply, as
// in every AWS SDK. Credentials come from the AWS default chain
// (environment, ~/.aws files, SSO, instance or task role) unless static
// keys are set in Config.
//
// # Mapping
//
// A stocklake.Table becomes a Glue table of type EXTERNAL_TABLE whose
// StorageDescriptor carries the columns, location, input and output format,
// SerDe and its parameters; partition keys become PartitionKeys, and
// Table.Parameters the table parameters, plus EXTERNAL=TRUE (as Athena's
// CREATE EXTERNAL TABLE writes, so Hive and Spark never delete the data) and
// classification=Table.Format when missing. Reading a table back drops that
// EXTERNAL=TRUE and takes Format from classification. When a table has a
// Format but no InputFormat, OutputFormat or SerDe, the ones Athena and Trino
// expect for the format are filled in. Glue fields stocklake does not model
// (owner, retention, bucketing, SerDe name, column parameters, ...) are kept
// by UpdateTable.
//
// Each partition gets a copy of its table's StorageDescriptor with its own
// location, which is what Athena's ALTER TABLE ADD PARTITION and Glue's
// crawler write and what Trino needs to read it. When UpdateTable changes the
// columns or the format, the partitions' descriptors are updated to match,
// as Athena otherwise fails with HIVE_PARTITION_SCHEMA_MISMATCH (Glue
// crawler's "update all new and existing partitions with metadata from the
// table").
//
// Names of databases, tables, columns and partition keys are lower-cased,
// as Glue does (and the SQLite catalog does for databases and tables).
//
// Locations are stored as given. Athena reads only s3:// locations, so
// crawl an s3:// lake for Athena; a file:// lake keeps its file:// URLs,
// which Trino's Hive connector reads with local file system access enabled
// and which suit tests against a local Glue API server.
//
// Table versions are Glue's own: UpdateTable archives the previous
// definition and TableVersions returns them through GetTableVersions.
// Table.Version is Glue's VersionId plus one, because Glue numbers a new
// table's definition 0 and stocklake numbers it 1. (moto's Glue server
// numbers from 1, so its tables report versions one higher.)
//
// # Iceberg tables
//
// A Glue table with parameter table_type=ICEBERG (stocklake.Table.IsIceberg)
// is an Apache Iceberg table, written by package iceberg (`stocklake sink
// --table-format iceberg --catalog glue://…`), Athena, Spark or pyiceberg.
// It is listed and read like any table (its Format is empty: the format is
// the Iceberg metadata's), but UpdateTable, AddPartitions and
// UpdatePartition refuse it with stocklake.ErrInvalid: its schema and files
// live in the metadata file named by its metadata_location parameter, and
// it has no Hive partitions. The crawler leaves such tables and their
// folders alone.
//
// # Crawl history
//
// Glue has no place for stocklake's crawl history and incremental-crawl
// state, so the Catalog keeps them as small JSON objects in the lake given as
// Config.LakeStore, under _stocklake/crawler/glue/REGION/CATALOG/, a folder
// crawls skip. Without a LakeStore the CrawlLog methods fail with
// stocklake.ErrConfig.
package glue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsglue "github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/internal/awsconfig"
)

// Type is the URL scheme of this backend: glue://REGION.
const Type = "glue"

// Defaults used when the matching Config field is zero.
const (
	// DefaultMaxRetries is how many times a failed request is retried.
	DefaultMaxRetries = 5
	// DefaultRegion is used only with an endpoint override and no region
	// configured anywhere, e.g. for a local Glue API server.
	DefaultRegion = "us-east-1"
)

// Glue's limits on batch operations.
const (
	createBatch = 100 // BatchCreatePartition
	updateBatch = 100 // BatchUpdatePartition
	deleteBatch = 25  // BatchDeletePartition
	// batchConcurrency is how many batch requests run at once.
	batchConcurrency = 4
)

var (
	_ stocklake.Catalog  = (*Catalog)(nil)
	_ stocklake.CrawlLog = (*Catalog)(nil)
)

// Config says which Glue Data Catalog to use and how to reach it.
type Config struct {
	// Region of the catalog; default from AWS_REGION or the AWS config
	// files. Required unless an endpoint is set, in which case it defaults
	// to us-east-1.
	Region string
	// Endpoint overrides the Glue endpoint, e.g. http://127.0.0.1:5000 for
	// a test server; default AWS_ENDPOINT_URL_GLUE or AWS_ENDPOINT_URL,
	// else AWS Glue in Region.
	Endpoint string
	// CatalogID is the AWS account ID that owns the catalog; default the
	// caller's account.
	CatalogID string
	// AccessKey and SecretKey (and optionally SessionToken) are static
	// credentials; default the AWS credential chain (environment, config
	// files, SSO, instance role).
	AccessKey    string
	SecretKey    string
	SessionToken string
	// MaxRetries is how many times a failed request (throttling, server
	// errors, connection failures) is retried with exponential backoff;
	// default 5, negative for none.
	MaxRetries int
	// LakeStore is the lake whose _stocklake/crawler/ folder keeps the
	// crawl history and incremental-crawl state (see CrawlLog); default
	// none, which makes those methods fail with stocklake.ErrConfig.
	LakeStore stocklake.ObjectStore
}

// Catalog is a stocklake catalog in the AWS Glue Data Catalog. It is safe
// for concurrent use.
type Catalog struct {
	client    *awsglue.Client
	catalogID *string
	region    string
	endpoint  string // for messages
	lake      stocklake.ObjectStore
	logPrefix string // crawl-log folder in the lake, ending in '/'
	cfg       Config // as given to New, with the region resolved
}

// New returns a catalog for cfg. It does not contact Glue: bad credentials
// or an unreachable endpoint are reported by the first operation.
func New(ctx context.Context, cfg Config) (*Catalog, error) {
	awsCfg, err := awsconfig.Load(ctx, awsconfig.Options{Service: "glue", Region: cfg.Region, Endpoint: cfg.Endpoint,
		AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey, SessionToken: cfg.SessionToken,
		MaxRetries: cfg.MaxRetries, DefaultMaxRetries: DefaultMaxRetries, NoRetryBudget: true})
	if err != nil {
		return nil, err
	}
	client := awsglue.NewFromConfig(awsCfg, func(o *awsglue.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		if o.Region == "" && o.BaseEndpoint != nil {
			o.Region = DefaultRegion
		}
	})
	region := client.Options().Region
	if region == "" {
		return nil, fmt.Errorf("glue: no AWS region: write it in the catalog URL (glue://us-east-1) or set AWS_REGION: %w", stocklake.ErrConfig)
	}
	cfg.Region = region
	c := &Catalog{client: client, region: region, lake: cfg.LakeStore, cfg: cfg}
	if e := client.Options().BaseEndpoint; e != nil {
		c.endpoint = *e
	} else {
		c.endpoint = "AWS Glue (" + region + ")"
	}
	catalog := "default"
	if cfg.CatalogID != "" {
		c.catalogID = aws.String(cfg.CatalogID)
		catalog = cfg.CatalogID
	}
	c.logPrefix = "_stocklake/crawler/glue/" + keySegment(region) + "/" + keySegment(catalog) + "/"
	return c, nil
}

// Config is the configuration the catalog was made with, its region
// resolved (from the AWS configuration when the Config left it empty), so
// another client (iceberg-go's Glue catalog) can reach the same catalog.
func (c *Catalog) Config() Config { return c.cfg }

// Region is the AWS region of the catalog.
func (c *Catalog) Region() string { return c.region }

// Close releases nothing: the SDK client needs no closing.
func (c *Catalog) Close() error { return nil }

// fail turns an SDK error into one that wraps a stocklake sentinel and tells
// the user what to do. Only the SDK error's text is kept, never its types.
// op says what was being done, e.g. "creating table db.t".
func (c *Catalog) fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return fmt.Errorf("glue: %s: %w", op, cerr)
	}
	action := "glue:*"
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		action = "glue:" + oe.OperationName
	}
	status := 0
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return c.apiError(op, action, status, api.ErrorCode(), api.ErrorMessage())
	}
	var sigErr *v4.SigningError
	if errors.As(err, &sigErr) || strings.Contains(err.Error(), "get identity") || strings.Contains(err.Error(), "retrieve credentials") {
		return fmt.Errorf("glue: %s: no usable AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE: %s: %w",
			op, rootCause(err), stocklake.ErrConfig)
	}
	var nerr net.Error
	if errors.As(err, &nerr) || status >= 500 {
		return fmt.Errorf("glue: %s: cannot reach %s: %s: check the endpoint and region, and that the server is running: %w",
			op, c.endpoint, rootCause(err), stocklake.ErrUnavailable)
	}
	return fmt.Errorf("glue: %s at %s: %s: %w", op, c.endpoint, rootCause(err), stocklake.ErrUnavailable)
}

// apiError maps a Glue error code to a stocklake sentinel.
func (c *Catalog) apiError(op, action string, status int, code, msg string) error {
	detail := code
	if msg != "" {
		detail += ": " + msg
	}
	switch code {
	case "EntityNotFoundException":
		return fmt.Errorf("glue: %s: %s: %w", op, detail, stocklake.ErrNotFound)
	case "AlreadyExistsException":
		return fmt.Errorf("glue: %s: %s: %w", op, detail, stocklake.ErrExists)
	case "InvalidInputException", "ValidationException", "InvalidStateException":
		return fmt.Errorf("glue: %s: %s: fix the name, type or value Glue names: %w", op, detail, stocklake.ErrInvalid)
	case "AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "InvalidSignatureException",
		"SignatureDoesNotMatch", "InvalidClientTokenId", "ExpiredTokenException", "ExpiredToken",
		"MissingAuthenticationTokenException", "IncompleteSignature", "InvalidAccessKeyId":
		return fmt.Errorf("glue: %s at %s: %s: check the AWS credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE) and that the identity may call %s (and has Lake Formation permissions, if enabled): %w",
			op, c.endpoint, detail, action, stocklake.ErrConfig)
	case "GlueEncryptionException":
		return fmt.Errorf("glue: %s: %s: the catalog is encrypted with a KMS key this identity may not use: grant it kms:Decrypt and kms:GenerateDataKey: %w",
			op, detail, stocklake.ErrConfig)
	case "ResourceNumberLimitExceededException":
		return fmt.Errorf("glue: %s: %s: a Glue quota is reached (tables, partitions or table versions): delete old tables or table versions, or ask AWS for a higher quota: %w",
			op, detail, stocklake.ErrConfig)
	case "ThrottlingException", "InternalServiceException", "OperationTimeoutException", "ServiceUnavailableException",
		"ConcurrentModificationException", "ResourceNotReadyException":
		return fmt.Errorf("glue: %s at %s: %s, still failing after retries: try again later: %w", op, c.endpoint, detail, stocklake.ErrUnavailable)
	}
	switch {
	case status == 401 || status == 403:
		return fmt.Errorf("glue: %s at %s: %s (HTTP %d): check the AWS credentials and that the identity may call %s: %w",
			op, c.endpoint, detail, status, action, stocklake.ErrConfig)
	case status == 404:
		return fmt.Errorf("glue: %s at %s: %s (HTTP 404): is this a Glue endpoint? check the endpoint URL: %w", op, c.endpoint, detail, stocklake.ErrConfig)
	case status >= 500 || status == 429:
		return fmt.Errorf("glue: %s at %s: %s (HTTP %d), still failing after retries: try again later: %w", op, c.endpoint, detail, status, stocklake.ErrUnavailable)
	}
	return fmt.Errorf("glue: %s: %s (HTTP %d): %w", op, detail, status, stocklake.ErrInvalid)
}

// entryError maps the error of one entry of a batch request.
func (c *Catalog) entryError(op string, values []string, code, msg string) error {
	return c.apiError(fmt.Sprintf("%s, partition %q", op, values), "glue:*", 0, code, msg)
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
