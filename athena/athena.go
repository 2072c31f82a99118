// Package athena implements stocklake.Engine on Amazon Athena, with
// aws-sdk-go-v2.
//
// Athena reads table definitions from the AWS Glue Data Catalog, so the
// tables it sees are those of a glue:// stocklake catalog; no registration
// is needed. That includes Iceberg tables (table_type=ICEBERG, as
// `stocklake sink --table-format iceberg --catalog glue://…` writes them),
// which Athena engine v3 reads through their metadata, with time travel
// (FOR TIMESTAMP AS OF, FOR VERSION AS OF); they have no partitions to
// register or repair, and the Engine sends nothing but the query. A query is started with StartQueryExecution in a workgroup,
// polled with GetQueryExecution (backing off from Config.PollInterval to
// Config.MaxPollInterval) until it succeeds, fails or is cancelled, and its
// rows are paged with GetQueryResults. Canceling the context of a running
// query stops it with StopQueryExecution.
//
// Values arrive from Athena as text and are converted by column type:
// boolean -> bool, tinyint..bigint -> int64, real/double -> float64,
// date/timestamp/time -> time.Time (UTC unless the value carries a zone),
// varbinary -> []byte, decimal -> string (exact), varchar/char and every
// other type -> string. Athena renders arrays, maps and rows as text
// ("[1, 2]", "{a=1}") that cannot be read back unambiguously; they stay
// strings.
package athena

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsathena "github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/smithy-go"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/internal/awsconfig"
	"github.com/stocklake/stocklake/sqltext"
)

// Type is the URL scheme of this engine: athena://WORKGROUP.
const Type = "athena"

// Defaults used when the matching Config field is zero.
const (
	DefaultWorkGroup       = "primary"
	DefaultDatabase        = "default"
	DefaultDataCatalog     = "AwsDataCatalog"
	DefaultRegion          = "us-east-1"
	DefaultPollInterval    = 100 * time.Millisecond
	DefaultMaxPollInterval = 2 * time.Second
	DefaultPageSize        = 1000 // the most GetQueryResults returns
	DefaultMaxRetries      = 5
)

var _ stocklake.Engine = (*Engine)(nil)

// Config says which Athena workgroup runs the queries and how to reach it.
type Config struct {
	// WorkGroup runs the queries; default "primary".
	WorkGroup string
	// Database is the Glue database of unqualified table names; default
	// "default".
	Database string
	// DataCatalog is the Athena data catalog; default "AwsDataCatalog"
	// (the account's Glue Data Catalog).
	DataCatalog string
	// OutputLocation is where Athena writes results, e.g.
	// s3://bucket/lake/query-results/; default the workgroup's setting
	// (Athena fails queries when neither is set).
	OutputLocation string
	// Region of the workgroup; default from AWS_REGION or the AWS config
	// files, else us-east-1.
	Region string
	// Endpoint overrides the Athena endpoint, e.g. http://127.0.0.1:5000
	// for a test server; default AWS_ENDPOINT_URL_ATHENA or
	// AWS_ENDPOINT_URL, else Amazon Athena in Region.
	Endpoint string
	// AccessKey and SecretKey (and optionally SessionToken) are static
	// credentials; default the AWS credential chain.
	AccessKey    string
	SecretKey    string
	SessionToken string
	// PollInterval is the first wait between GetQueryExecution calls; each
	// wait is 1.5 times the previous one, up to MaxPollInterval. Defaults
	// 100 ms and 2 s.
	PollInterval    time.Duration
	MaxPollInterval time.Duration
	// PageSize is how many rows each GetQueryResults call asks for;
	// default 1000, the most Athena returns.
	PageSize int32
	// MaxRetries is how many times a failed request (throttling, server
	// errors, connection failures) is retried with backoff; default 5,
	// negative for none.
	MaxRetries int
	// OnState, when set, is called with Athena's query ID and each new
	// state the engine sees while it polls: QUEUED, RUNNING, then
	// SUCCEEDED, FAILED or CANCELLED. Default none.
	OnState func(queryID string, state stocklake.QueryState)
}

// Engine runs SQL on Amazon Athena. It is safe for concurrent use.
type Engine struct {
	client   *awsathena.Client
	cfg      Config
	endpoint string // for messages
}

// New returns an engine for cfg. It does not contact Athena: bad
// credentials or an unknown workgroup are reported by the first query.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.WorkGroup == "" {
		cfg.WorkGroup = DefaultWorkGroup
	}
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	if cfg.DataCatalog == "" {
		cfg.DataCatalog = DefaultDataCatalog
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.MaxPollInterval <= 0 {
		cfg.MaxPollInterval = DefaultMaxPollInterval
	}
	if cfg.MaxPollInterval < cfg.PollInterval {
		cfg.MaxPollInterval = cfg.PollInterval
	}
	if cfg.PageSize <= 0 || cfg.PageSize > DefaultPageSize {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.OutputLocation != "" {
		u, err := url.Parse(cfg.OutputLocation)
		if err != nil || u.Scheme != "s3" || u.Host == "" {
			return nil, fmt.Errorf("athena: output location %q is not an s3://bucket/prefix/ URL: %w", cfg.OutputLocation, stocklake.ErrConfig)
		}
		if !strings.HasSuffix(cfg.OutputLocation, "/") {
			cfg.OutputLocation += "/"
		}
	}
	awsCfg, err := awsconfig.Load(ctx, awsconfig.Options{Service: "athena", Region: cfg.Region, Endpoint: cfg.Endpoint,
		AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey, SessionToken: cfg.SessionToken,
		MaxRetries: cfg.MaxRetries, DefaultMaxRetries: DefaultMaxRetries, NoRetryBudget: false})
	if err != nil {
		return nil, err
	}
	if awsCfg.Region == "" {
		awsCfg.Region = DefaultRegion
	}
	client := awsathena.NewFromConfig(awsCfg, func(o *awsathena.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	endpoint := "Amazon Athena (" + awsCfg.Region + ")"
	if e := client.Options().BaseEndpoint; e != nil {
		endpoint = *e
	}
	return &Engine{client: client, cfg: cfg, endpoint: endpoint}, nil
}

// Close releases nothing: the engine holds no connections of its own.
func (e *Engine) Close() error { return nil }

// Query runs one statement in Athena and returns when it has finished: its
// rows are then paged from Athena as they are read. Canceling ctx while
// the query runs stops it in Athena.
func (e *Engine) Query(ctx context.Context, sql string) (stocklake.Rows, error) {
	in := &awsathena.StartQueryExecutionInput{
		QueryString: aws.String(sql),
		WorkGroup:   aws.String(e.cfg.WorkGroup),
		QueryExecutionContext: &types.QueryExecutionContext{
			Catalog:  aws.String(e.cfg.DataCatalog),
			Database: aws.String(e.cfg.Database),
		},
	}
	if e.cfg.OutputLocation != "" {
		in.ResultConfiguration = &types.ResultConfiguration{OutputLocation: aws.String(e.cfg.OutputLocation)}
	}
	out, err := e.client.StartQueryExecution(ctx, in)
	if err != nil {
		return nil, e.wrap(ctx, "starting the query", err)
	}
	id := aws.ToString(out.QueryExecutionId)
	qe, err := e.wait(ctx, id)
	if err != nil {
		return nil, err
	}
	r := &rows{e: e, ctx: ctx, id: id, dml: qe.StatementType == types.StatementTypeDml, stats: stats(qe)}
	r.pages = awsathena.NewGetQueryResultsPaginator(e.client, &awsathena.GetQueryResultsInput{
		QueryExecutionId: aws.String(id),
		MaxResults:       aws.Int32(e.cfg.PageSize),
	})
	// Read the first page now: it carries the columns.
	if !r.fetch() {
		if r.err != nil {
			return nil, r.err
		}
	}
	return r, nil
}

// wait polls a query until it ends and returns its final description, or
// an error for a failed or cancelled query. Canceling ctx stops the query.
func (e *Engine) wait(ctx context.Context, id string) (*types.QueryExecution, error) {
	delay := e.cfg.PollInterval
	var last types.QueryExecutionState
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			e.stop(ctx, id)
			return nil, fmt.Errorf("athena: query %s cancelled: %w", id, ctx.Err())
		case <-timer.C:
		}
		out, err := e.client.GetQueryExecution(ctx, &awsathena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)})
		if err != nil {
			if ctx.Err() != nil {
				e.stop(ctx, id)
				return nil, fmt.Errorf("athena: query %s cancelled: %w", id, ctx.Err())
			}
			return nil, e.wrap(ctx, "polling query "+id, err)
		}
		qe := out.QueryExecution
		if qe == nil || qe.Status == nil {
			return nil, fmt.Errorf("athena: query %s: GetQueryExecution returned no status: %w", id, stocklake.ErrUnavailable)
		}
		if st := qe.Status.State; st != last && e.cfg.OnState != nil {
			e.cfg.OnState(id, stocklake.QueryState(st))
		}
		last = qe.Status.State
		switch qe.Status.State {
		case types.QueryExecutionStateSucceeded:
			return qe, nil
		case types.QueryExecutionStateFailed:
			return nil, failure(id, qe.Status)
		case types.QueryExecutionStateCancelled:
			return nil, fmt.Errorf("athena: query %s was cancelled in Athena (StopQueryExecution by someone else, or the workgroup's limits): %w",
				id, context.Canceled)
		}
		timer.Reset(delay)
		delay = min(time.Duration(float64(delay)*1.5), e.cfg.MaxPollInterval)
	}
}

// stop asks Athena to stop a query, even though ctx is done.
func (e *Engine) stop(ctx context.Context, id string) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	e.client.StopQueryExecution(sctx, &awsathena.StopQueryExecutionInput{QueryExecutionId: aws.String(id)})
}

// QueryError is a query that Athena ran and that failed.
type QueryError struct {
	QueryID string
	// Reason is Athena's StateChangeReason, e.g. "line 1:8: Column 'x'
	// cannot be resolved".
	Reason string
	// Category is Athena's error category: 1 system, 2 user, 3 other; 0
	// when not given.
	Category int32
	// Type is Athena's error type code; 0 when not given.
	Type     int32
	sentinel error
}

func (q *QueryError) Error() string {
	s := "athena: query " + q.QueryID + " failed: " + q.Reason
	if q.Category == 1 {
		s += " (an Athena system error; retrying may help)"
	}
	return s
}

// Unwrap returns the stocklake sentinel that fits: ErrNotFound for missing
// tables, schemas or columns, ErrInvalid for other user errors,
// ErrUnavailable for system errors.
func (q *QueryError) Unwrap() error { return q.sentinel }

func failure(id string, st *types.QueryExecutionStatus) error {
	q := &QueryError{QueryID: id, Reason: aws.ToString(st.StateChangeReason)}
	if ae := st.AthenaError; ae != nil {
		q.Category = aws.ToInt32(ae.ErrorCategory)
		q.Type = aws.ToInt32(ae.ErrorType)
		if q.Reason == "" {
			q.Reason = aws.ToString(ae.ErrorMessage)
		}
	}
	if q.Reason == "" {
		q.Reason = "no reason given"
	}
	upper := strings.ToUpper(q.Reason)
	switch {
	case strings.Contains(upper, "TABLE_NOT_FOUND") || strings.Contains(upper, "SCHEMA_NOT_FOUND") ||
		strings.Contains(upper, "DOES NOT EXIST") || strings.Contains(upper, "CANNOT BE RESOLVED"):
		q.sentinel = stocklake.ErrNotFound
	case q.Category == 1:
		q.sentinel = stocklake.ErrUnavailable
	default:
		q.sentinel = stocklake.ErrInvalid
	}
	return q
}

func stats(qe *types.QueryExecution) stocklake.QueryStats {
	var s stocklake.QueryStats
	if st := qe.Statistics; st != nil {
		s.BytesScanned = aws.ToInt64(st.DataScannedInBytes)
		s.Duration = time.Duration(aws.ToInt64(st.EngineExecutionTimeInMillis)) * time.Millisecond
	}
	// Athena does not report how many objects a query read.
	return s
}

// wrap turns an SDK error into one that wraps a stocklake sentinel.
func (e *Engine) wrap(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("athena: %s: %w", op, ctx.Err())
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg := fmt.Sprintf("athena: %s: %s: %s", op, ae.ErrorCode(), ae.ErrorMessage())
		switch ae.ErrorCode() {
		case "ResourceNotFoundException", "MetadataException":
			return fmt.Errorf("%s: %w", msg, stocklake.ErrNotFound)
		case "TooManyRequestsException", "ThrottlingException", "InternalServerException", "ServiceUnavailable":
			return fmt.Errorf("%s; retry later: %w", msg, stocklake.ErrUnavailable)
		case "UnrecognizedClientException", "InvalidSignatureException", "AccessDeniedException", "ExpiredTokenException":
			return fmt.Errorf("%s; check the AWS credentials and the workgroup's permissions: %w", msg, stocklake.ErrConfig)
		case "InvalidRequestException":
			if strings.Contains(ae.ErrorMessage(), "WorkGroup") {
				return fmt.Errorf("%s; create workgroup %q or choose another (athena://WORKGROUP): %w", msg, e.cfg.WorkGroup, stocklake.ErrConfig)
			}
			return fmt.Errorf("%s: %w", msg, stocklake.ErrInvalid)
		}
		return fmt.Errorf("%s: %w", msg, stocklake.ErrInvalid)
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("athena: %s: cannot reach %s: %w: %w", op, e.endpoint, err, stocklake.ErrUnavailable)
	}
	return fmt.Errorf("athena: %s at %s: %w", op, e.endpoint, err)
}

// rows pages a succeeded query's results.
type rows struct {
	e     *Engine
	ctx   context.Context
	id    string
	dml   bool // SELECT-like: the first row of the first page is the header
	pages *awsathena.GetQueryResultsPaginator
	first bool // the first page has been read

	cols  []stocklake.ResultColumn
	kinds []string // base type names, lowercase
	buf   []types.Row
	vals  []any
	err   error
	done  bool
	stats stocklake.QueryStats
}

// QueryID is Athena's QueryExecutionId of the query.
func (r *rows) QueryID() string { return r.id }

func (r *rows) Columns() []stocklake.ResultColumn { return r.cols }

// fetch reads the next page into buf; false at the end or on error.
func (r *rows) fetch() bool {
	for len(r.buf) == 0 {
		if !r.pages.HasMorePages() {
			return false
		}
		page, err := r.pages.NextPage(r.ctx)
		if err != nil {
			r.err = r.e.wrap(r.ctx, "reading the results of query "+r.id, err)
			return false
		}
		if page.ResultSet == nil {
			continue
		}
		r.buf = page.ResultSet.Rows
		if !r.first {
			r.first = true
			if md := page.ResultSet.ResultSetMetadata; md != nil {
				r.columns(md.ColumnInfo)
			}
			if r.dml && len(r.buf) > 0 {
				r.buf = r.buf[1:] // the header: column labels
			}
		}
	}
	return true
}

func (r *rows) columns(info []types.ColumnInfo) {
	r.cols = make([]stocklake.ResultColumn, len(info))
	r.kinds = make([]string, len(info))
	for i, c := range info {
		base, full := columnType(c)
		r.kinds[i] = base
		r.cols[i] = stocklake.ResultColumn{Name: aws.ToString(c.Name), Type: full}
	}
	r.vals = make([]any, len(info))
}

// columnType returns the base type name and the ResultColumn type of a
// column: decimal(p,s), timestamp(p) and time(p) carry their parameters,
// varchar and char do not (as the Trino engine reports them).
func columnType(c types.ColumnInfo) (base, full string) {
	t := strings.ToLower(strings.TrimSpace(aws.ToString(c.Type)))
	base = t
	if i := strings.IndexByte(t, '('); i > 0 {
		base = t[:i]
	}
	switch base {
	case "decimal":
		if !strings.Contains(t, "(") && c.Precision > 0 {
			return base, fmt.Sprintf("decimal(%d,%d)", c.Precision, c.Scale)
		}
	case "varchar", "char", "string":
		return base, base
	case "timestamp", "time":
		if !strings.Contains(t, "(") && c.Precision > 0 {
			return base, fmt.Sprintf("%s(%d)", base, c.Precision)
		}
	case "timestamp with time zone", "time with time zone":
		if c.Precision > 0 {
			kind, _, _ := strings.Cut(base, " ")
			return base, fmt.Sprintf("%s(%d) with time zone", kind, c.Precision)
		}
	}
	return base, t
}

func (r *rows) Next() bool {
	if r.done {
		return false
	}
	if len(r.buf) == 0 && !r.fetch() {
		r.done = true
		return false
	}
	row := r.buf[0]
	r.buf = r.buf[1:]
	if len(r.vals) != len(row.Data) && r.cols == nil {
		r.vals = make([]any, len(row.Data))
	}
	for i := range r.vals {
		if i >= len(row.Data) || row.Data[i].VarCharValue == nil {
			r.vals[i] = nil
			continue
		}
		kind := ""
		if i < len(r.kinds) {
			kind = r.kinds[i]
		}
		v, err := sqltext.ParseValue(*row.Data[i].VarCharValue, kind)
		if err != nil {
			name := strconv.Itoa(i)
			if i < len(r.cols) {
				name = r.cols[i].Name
			}
			r.err = fmt.Errorf("athena: query %s: column %s: %w", r.id, name, err)
			r.done = true
			return false
		}
		r.vals[i] = v
	}
	return true
}

func (r *rows) Values() []any { return r.vals }

func (r *rows) Err() error { return r.err }

// Stats are known as soon as the query has finished, before any row.
func (r *rows) Stats() stocklake.QueryStats { return r.stats }

// Close stops reading; the results stay in Athena's output location.
func (r *rows) Close() error {
	r.done = true
	return nil
}
