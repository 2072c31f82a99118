// Package trino implements stocklake.Engine on a Trino server, through the
// Trino Go client (github.com/trinodb/trino-go-client).
//
// Trino reads the lake through its Hive connector. The Engine makes the
// tables of a stocklake catalog visible there: for each catalog database it
// creates a schema in a Trino catalog (default "lake", a Hive catalog with a
// file metastore, as scripts/trino configures), and for each table an
// external table over the table's location with the same columns, format
// and partition keys (partition columns last), then registers the table's
// partitions: one by one (system.register_partition), or, for many
// partitions in key=value folders, with one system.sync_partition_metadata
// call followed by removing any folder the catalog does not list. Each
// table carries a digest of its definition (table property
// stocklake.fingerprint), so an Engine knows which registrations are
// current. Before each query (RegisterAuto) it re-reads the catalog,
// recreates tables whose definition changed, drops tables that are gone
// (external tables: the files stay) and adds or removes partitions; when
// nothing changed this costs only the catalog reads.
//
// Iceberg tables (table_type=ICEBERG, e.g. written by `stocklake sink
// --table-format iceberg --catalog glue://…`) are not registered: Trino's
// Iceberg connector reads them from the same Glue Data Catalog (a catalog
// named by Config.IcebergCatalog, "iceberg" in scripts/trino), so queries
// name them iceberg.DATABASE.TABLE; a query that names one in TrinoCatalog
// is told so.
//
// When Trino's own catalog already shows the same tables, e.g. a Hive
// catalog on the same AWS Glue Data Catalog (hive.metastore=glue; scripts/trino
// configures one named "glue"), set Config.Register to RegisterNone and
// Config.TrinoCatalog to that catalog: nothing is registered.
//
// Locations: s3:// stays as it is. file:// becomes local:// relative to
// Config.LocalRoot (the server's local.location), because Trino 476 lists a
// file:// table as empty. Formats: Parquet, ORC and Avro as such; JSON
// (OpenX SerDe) as OPENX_JSON, without the SerDe's column mappings, so a
// JSON column the crawler renamed (a key such as "Adj Close") reads as NULL;
// CSV with quotes (OpenCSVSerde) as CSV, whose columns must all be strings;
// CSV without quotes (LazySimpleSerDe) as TEXTFILE, where timestamps must
// be written as yyyy-mm-dd hh:mm:ss[.f]. A table Trino cannot read is
// skipped; Sync reports it and queries that name it say why.
//
// Values follow the stocklake.Rows contract: boolean -> bool, tinyint to
// bigint -> int64, real and double -> float64, decimal -> string (exact),
// varchar and char -> string, varbinary -> []byte, date, time and timestamp
// -> time.Time (the session time zone is UTC), array -> []any, map and row
// -> map[string]any. ResultColumn types are Trino's, lowercase, with
// varchar and char lengths dropped (varchar(3) -> varchar), as Athena
// reports them. QueryStats come from Trino's statement statistics:
// BytesScanned is physicalInputBytes, Duration the elapsed time;
// FilesScanned stays 0 (Trino reports splits, not files). The Rows also
// have a QueryID() string method: Trino's query ID.
package trino

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	trinoclient "github.com/trinodb/trino-go-client/trino"

	"github.com/stocklake/stocklake"
)

// Type is the URL scheme of this engine: trino://HOST:PORT.
const Type = "trino"

// Defaults used when the matching Config field is zero.
const (
	DefaultUser           = "stocklake"
	DefaultTrinoCatalog   = "lake"
	DefaultIcebergCatalog = "iceberg"
	DefaultLocalRoot      = "/"
	DefaultSource         = "stocklake"
	DefaultDatabase       = "default"
	DefaultRetryTimeout   = 20 * time.Second
)

// RegisterMode says when the Engine registers catalog tables in Trino.
type RegisterMode string

// Register modes.
const (
	// RegisterAuto syncs Trino with the catalog before every query; the
	// check costs a read of the catalog, and Trino is only contacted for
	// what changed. The default.
	RegisterAuto RegisterMode = "auto"
	// RegisterOnce syncs when the Engine is created and when Sync is called.
	RegisterOnce RegisterMode = "once"
	// RegisterNone never touches Trino's catalog: its tables are already
	// there (e.g. Trino's Hive connector on the same Glue Data Catalog).
	RegisterNone RegisterMode = "none"
)

var _ stocklake.Engine = (*Engine)(nil)

// Config says how to reach Trino and which catalog to show it.
type Config struct {
	// URL of the Trino coordinator, e.g. http://127.0.0.1:8081; required.
	// A user in the URL (http://alice@host:8081) overrides User.
	URL string
	// User is the Trino user queries run as; default "stocklake".
	User string
	// Source names the client in Trino's query list; default "stocklake".
	Source string
	// TrinoCatalog is the Trino catalog that holds the tables: a Hive
	// catalog that can read the lake's locations; default "lake".
	TrinoCatalog string
	// IcebergCatalog is the Trino catalog that reads the stocklake
	// catalog's Iceberg tables (table_type=ICEBERG) itself: an Iceberg
	// catalog on the same Glue Data Catalog, as scripts/trino configures
	// ("iceberg"). Iceberg tables are never registered in TrinoCatalog;
	// queries name them IcebergCatalog.DATABASE.TABLE. Default "iceberg".
	IcebergCatalog string
	// Catalog is the stocklake catalog whose databases and tables are
	// registered in TrinoCatalog; required unless Register is RegisterNone.
	Catalog stocklake.Catalog
	// Database is the schema of unqualified table names; default
	// "default", as in Athena.
	Database string
	// Register says when tables are registered; default RegisterAuto.
	Register RegisterMode
	// LocalRoot is the directory the Trino server's local file system is
	// rooted at (local.location; TRINO_LAKE_DIR of scripts/trino). Trino
	// reads file:///x as LocalRoot/x, so file:// table locations are
	// rewritten relative to it, and locations outside it are refused.
	// Default "/".
	LocalRoot string
	// SessionProperties are Trino session properties for every query,
	// e.g. {"query_max_execution_time": "10m"}; default none.
	SessionProperties map[string]string
	// HTTPClient sends the requests; default a client with no timeout
	// (queries are bounded by their context).
	HTTPClient *http.Client
	// RetryTimeout is how long one HTTP request is retried while the
	// server cannot be reached or answers 502, 503 or 504 (e.g. while it
	// starts); default 20 s.
	RetryTimeout time.Duration
}

// Engine runs SQL on Trino over the tables of a stocklake catalog. It is
// safe for concurrent use.
type Engine struct {
	db        *sql.DB
	cfg       Config
	base      string // coordinator base URL, without user
	user      string
	http      *http.Client
	localRoot string

	syncMu  sync.Mutex
	state   map[string]*registered // by database + "." + table
	schemas map[string]bool        // schemas known to exist
	skip    map[string]error       // tables that could not be registered, by database.table
	known   bool                   // state was loaded from Trino
	// tsPrecision is the precision of timestamp columns in CREATE TABLE:
	// the server's hive.timestamp-precision, learned from its refusals.
	tsPrecision int
}

// New connects to Trino, checks that it answers and, unless cfg.Register is
// RegisterNone, registers the catalog's tables.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("trino: no server URL: give one like http://127.0.0.1:8081 (scripts/trino start prints it): %w", stocklake.ErrConfig)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("trino: server URL %q is not an http:// or https:// URL: %w", cfg.URL, stocklake.ErrConfig)
	}
	if cfg.User == "" {
		cfg.User = DefaultUser
	}
	if u.User != nil && u.User.Username() != "" {
		cfg.User = u.User.Username()
	}
	if cfg.Source == "" {
		cfg.Source = DefaultSource
	}
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	if cfg.TrinoCatalog == "" {
		cfg.TrinoCatalog = DefaultTrinoCatalog
	}
	if cfg.IcebergCatalog == "" {
		cfg.IcebergCatalog = DefaultIcebergCatalog
	}
	switch cfg.Register {
	case "":
		cfg.Register = RegisterAuto
	case RegisterAuto, RegisterOnce, RegisterNone:
	default:
		return nil, fmt.Errorf("trino: register mode %q: want auto, once or none: %w", cfg.Register, stocklake.ErrConfig)
	}
	if cfg.Register != RegisterNone && cfg.Catalog == nil {
		return nil, fmt.Errorf("trino: no catalog to register: give Config.Catalog, or set Register to none: %w", stocklake.ErrConfig)
	}
	if cfg.LocalRoot == "" {
		cfg.LocalRoot = DefaultLocalRoot
	}
	if !path.IsAbs(cfg.LocalRoot) {
		return nil, fmt.Errorf("trino: local root %q is not an absolute path: %w", cfg.LocalRoot, stocklake.ErrConfig)
	}
	if cfg.RetryTimeout <= 0 {
		cfg.RetryTimeout = DefaultRetryTimeout
	}
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = observer{base: base}
	u.User = nil
	u.Path = strings.TrimSuffix(u.Path, "/")
	baseURL := u.String()
	server := *u
	server.User = url.User(cfg.User)
	conn, err := trinoclient.NewConnector(&trinoclient.Config{
		ServerURI:           server.String(),
		Source:              cfg.Source,
		Catalog:             cfg.TrinoCatalog,
		Schema:              cfg.Database,
		SessionProperties:   cfg.SessionProperties,
		TimeZone:            "UTC",
		HTTPClient:          hc,
		RequestRetryTimeout: &cfg.RetryTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("trino: %w: %w", err, stocklake.ErrConfig)
	}
	e := &Engine{
		db:        sql.OpenDB(conn),
		cfg:       cfg,
		base:      baseURL,
		user:      cfg.User,
		http:      hc,
		localRoot: path.Clean(cfg.LocalRoot),
		state:     map[string]*registered{},
		schemas:   map[string]bool{},
		// scripts/trino reads timestamps in microseconds, as stocklake
		// writes them; Trino's default is milliseconds.
		tsPrecision: 6,
		skip:        map[string]error{},
	}
	if err := e.exec(ctx, "SELECT 1"); err != nil {
		e.db.Close()
		return nil, err
	}
	if cfg.Register != RegisterNone {
		if err := e.Sync(ctx); err != nil && !isTableErrors(err) {
			e.db.Close()
			return nil, err
		}
	}
	return e, nil
}

// Close closes the connections to Trino; tables stay registered.
func (e *Engine) Close() error { return e.db.Close() }

// Query runs one Trino SQL statement. With RegisterAuto it first brings
// Trino's view of the catalog up to date. It returns when the first rows
// (or the end of the result) arrive, so a long aggregation returns when it
// is done. Canceling ctx cancels the query in Trino, at any time, as does
// closing the Rows early.
func (e *Engine) Query(ctx context.Context, query string) (stocklake.Rows, error) {
	if e.cfg.Register == RegisterAuto {
		if err := e.Sync(ctx); err != nil && !isTableErrors(err) {
			return nil, err
		}
	}
	r, err := e.query(ctx, query)
	if err != nil {
		return nil, e.withSkipped(err)
	}
	r.skipped = e.withSkipped
	return r, nil
}

// withSkipped adds to a query error the tables that could not be
// registered, when the error says a table is missing.
func (e *Engine) withSkipped(err error) error {
	var te *trinoclient.ErrTrino
	// SCHEMA_NOT_FOUND too: a database of Iceberg tables only has no
	// schema in the Hive catalog.
	if !errors.As(err, &te) || (te.ErrorName != "TABLE_NOT_FOUND" && te.ErrorName != "SCHEMA_NOT_FOUND") {
		return err
	}
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	if len(e.skip) == 0 {
		return err
	}
	var notes []string
	for name, why := range e.skip {
		notes = append(notes, name+": "+why.Error())
	}
	return fmt.Errorf("%w (tables that could not be registered in Trino: %s)", err, strings.Join(notes, "; "))
}

// progress records the statistics the Trino client reports while a query
// runs.
type progress struct {
	mu    sync.Mutex
	id    string
	state string
	bytes int64 // physical input bytes
	ms    int64 // elapsed time
}

// Update implements trinoclient.ProgressUpdater.
func (p *progress) Update(info trinoclient.QueryProgressInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if info.QueryId != "" {
		p.id = info.QueryId
	}
	p.state = info.QueryStats.State
	p.bytes = info.QueryStats.PhysicalInputBytes
	p.ms = info.QueryStats.ElapsedTimeMillis
}

func (p *progress) setID(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.id = id
}

func (p *progress) get() (id, state string, bytes, ms int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.id, p.state, p.bytes, p.ms
}

// progressKey is the context key of a statement's *progress.
type progressKey struct{}

// observer notes the query ID of each statement from the URLs the client
// follows (/v1/statement/queued/ID/... and /v1/statement/executing/ID/...):
// the client delivers progress updates without blocking and may drop
// every one of a short query, but it follows at least one such URL.
type observer struct{ base http.RoundTripper }

func (o observer) RoundTrip(req *http.Request) (*http.Response, error) {
	if p, ok := req.Context().Value(progressKey{}).(*progress); ok {
		if id := statementID(req.URL.Path); id != "" {
			p.setID(id)
		}
	}
	return o.base.RoundTrip(req)
}

// statementID returns the query ID in a statement URL path, or "".
func statementID(p string) string {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(parts) >= 4 && parts[0] == "v1" && parts[1] == "statement" && (parts[2] == "queued" || parts[2] == "executing") {
		return parts[3]
	}
	return ""
}

// query starts a statement and returns its rows.
func (e *Engine) query(ctx context.Context, query string) (*rows, error) {
	p := &progress{}
	ctx = context.WithValue(ctx, progressKey{}, p)
	// The client keeps the progress callback on the connection: every
	// statement passes its own, so none reports into another's.
	sr, err := e.db.QueryContext(ctx, query,
		sql.Named("X-Trino-Progress-Callback", trinoclient.ProgressUpdater(p)),
		sql.Named("X-Trino-Progress-Callback-Period", time.Nanosecond))
	if err != nil {
		return nil, e.wrap(ctx, err)
	}
	cts, err := sr.ColumnTypes()
	if err != nil {
		sr.Close()
		return nil, e.wrap(ctx, err)
	}
	r := &rows{e: e, ctx: ctx, sr: sr, p: p, start: time.Now()}
	r.cols = make([]stocklake.ResultColumn, len(cts))
	r.types = make([]*sqlType, len(cts))
	for i, ct := range cts {
		t := columnType(ct)
		r.types[i] = t
		r.cols[i] = stocklake.ResultColumn{Name: ct.Name(), Type: t.resultType()}
	}
	r.dest = make([]any, len(cts))
	r.ptrs = make([]any, len(cts))
	for i := range r.dest {
		r.ptrs[i] = &r.dest[i]
	}
	r.vals = make([]any, len(cts))
	return r, nil
}

// columnType rebuilds a column's Trino type from what database/sql tells.
func columnType(ct *sql.ColumnType) *sqlType {
	name := strings.ToLower(ct.DatabaseTypeName())
	if strings.ContainsAny(name, "(<") {
		if t, err := parseTrinoType(name); err == nil {
			return t
		}
	}
	t, err := parseTrinoType(name)
	if err != nil {
		t = &sqlType{name: name}
	}
	switch t.name {
	case "decimal":
		if p, s, ok := ct.DecimalSize(); ok {
			t.params = []string{strconv.FormatInt(p, 10), strconv.FormatInt(s, 10)}
		}
	case "time", "timestamp":
		if p, _, ok := ct.DecimalSize(); ok {
			t.params = []string{strconv.FormatInt(p, 10)}
		}
	}
	return t
}

// exec runs a statement and discards its rows.
func (e *Engine) exec(ctx context.Context, query string) error {
	r, err := e.query(ctx, query)
	if err != nil {
		return err
	}
	for r.Next() {
	}
	if err := r.Err(); err != nil {
		r.Close()
		return err
	}
	return r.Close()
}

// texts runs a query and returns its rows with every value as text.
func (e *Engine) texts(ctx context.Context, query string) ([][]string, error) {
	r, err := e.query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out [][]string
	for r.Next() {
		row := make([]string, len(r.vals))
		for i, v := range r.vals {
			switch x := v.(type) {
			case nil:
				row[i] = ""
			case string:
				row[i] = x
			default:
				row[i] = fmt.Sprint(x)
			}
		}
		out = append(out, row)
	}
	return out, r.Err()
}

// wrap turns a client error into one that wraps a stocklake sentinel.
func (e *Engine) wrap(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("trino: query cancelled: %w", ctxErr)
	}
	if errors.Is(err, trinoclient.ErrQueryCancelled) {
		return fmt.Errorf("trino: query cancelled in Trino: %w", context.Canceled)
	}
	var te *trinoclient.ErrTrino
	if errors.As(err, &te) {
		msg := fmt.Sprintf("trino: %s (%s)", te.Message, te.ErrorName)
		if te.ErrorLocation.LineNumber > 0 {
			msg += fmt.Sprintf(" at line %d column %d", te.ErrorLocation.LineNumber, te.ErrorLocation.ColumnNumber)
		}
		switch te.ErrorName {
		case "TABLE_NOT_FOUND", "SCHEMA_NOT_FOUND", "CATALOG_NOT_FOUND", "COLUMN_NOT_FOUND", "FUNCTION_NOT_FOUND", "NOT_FOUND":
			return &queryError{msg: msg, sentinel: stocklake.ErrNotFound, trino: te}
		case "ALREADY_EXISTS", "TABLE_ALREADY_EXISTS", "SCHEMA_ALREADY_EXISTS":
			return &queryError{msg: msg, sentinel: stocklake.ErrExists, trino: te}
		}
		switch te.ErrorType {
		case "USER_ERROR":
			return &queryError{msg: msg, sentinel: stocklake.ErrInvalid, trino: te}
		case "INSUFFICIENT_RESOURCES":
			return &queryError{msg: msg + "; retry later or give Trino more memory", sentinel: stocklake.ErrUnavailable, trino: te}
		}
		return &queryError{msg: msg, trino: te}
	}
	var ne net.Error
	var oe *net.OpError
	var qf *trinoclient.ErrQueryFailed
	switch {
	case errors.As(err, &oe), errors.As(err, &ne):
		return fmt.Errorf("trino: cannot reach %s: %v; is Trino running (scripts/trino start)?: %w", e.base, err, stocklake.ErrUnavailable)
	case errors.As(err, &qf) && (qf.StatusCode == http.StatusServiceUnavailable || qf.StatusCode == http.StatusBadGateway || qf.StatusCode == http.StatusGatewayTimeout):
		return fmt.Errorf("trino: %s answered %d; retry when it has started: %w", e.base, qf.StatusCode, stocklake.ErrUnavailable)
	}
	return fmt.Errorf("trino: %w", err)
}

// queryError is a query failure reported by Trino. It wraps a stocklake
// sentinel when one fits, and the client's *trinoclient.ErrTrino.
type queryError struct {
	msg      string
	sentinel error
	trino    *trinoclient.ErrTrino
}

func (q *queryError) Error() string { return q.msg }

func (q *queryError) Unwrap() []error {
	if q.sentinel == nil {
		return []error{q.trino}
	}
	return []error{q.sentinel, q.trino}
}

// rows implements stocklake.Rows over database/sql rows from the client.
type rows struct {
	e     *Engine
	ctx   context.Context
	sr    *sql.Rows
	p     *progress
	start time.Time

	cols  []stocklake.ResultColumn
	types []*sqlType
	dest  []any
	ptrs  []any
	vals  []any

	err     error
	done    bool
	stats   stocklake.QueryStats
	skipped func(error) error
}

func (r *rows) Columns() []stocklake.ResultColumn { return r.cols }

func (r *rows) Next() bool {
	if r.done {
		return false
	}
	if !r.sr.Next() {
		r.finish(r.sr.Err())
		return false
	}
	if err := r.sr.Scan(r.ptrs...); err != nil {
		r.finish(err)
		return false
	}
	for i, v := range r.dest {
		cv, err := convert(r.types[i], v)
		if err != nil {
			r.finish(fmt.Errorf("column %s: %w", r.cols[i].Name, err))
			return false
		}
		r.vals[i] = cv
	}
	return true
}

// finish records the end of the rows: the error, if any, and the stats.
func (r *rows) finish(err error) {
	r.done = true
	if err != nil {
		err = r.e.wrap(r.ctx, err)
		if r.skipped != nil {
			err = r.skipped(err)
		}
		r.err = err
	}
	r.sr.Close()
	r.stats = r.e.finalStats(r.ctx, r.p, time.Since(r.start))
}

func (r *rows) Values() []any { return r.vals }

func (r *rows) Err() error { return r.err }

func (r *rows) Stats() stocklake.QueryStats { return r.stats }

// Close ends the rows; a query still running in Trino is cancelled.
func (r *rows) Close() error {
	if !r.done {
		r.done = true
		err := r.sr.Close()
		r.stats = r.e.finalStats(r.ctx, r.p, time.Since(r.start))
		if err != nil && !errors.Is(err, io.EOF) {
			return r.e.wrap(r.ctx, err)
		}
	}
	return nil
}

// QueryID is Trino's ID of the query, once known (after the first row or
// the end of the rows); empty before.
func (r *rows) QueryID() string {
	id, _, _, _ := r.p.get()
	return id
}

// finalStats returns a query's costs. The client reports progress without
// blocking and may drop updates, so unless the last one seen says the
// query finished, the stats are read from the coordinator's query info
// (GET /v1/query/ID). FilesScanned stays zero: Trino reports splits, not
// files.
func (e *Engine) finalStats(ctx context.Context, p *progress, wall time.Duration) stocklake.QueryStats {
	id, state, bytes, ms := p.get()
	st := stocklake.QueryStats{BytesScanned: bytes, Duration: time.Duration(ms) * time.Millisecond}
	if state == "FINISHED" || id == "" {
		if st.Duration == 0 {
			st.Duration = wall
		}
		return st
	}
	if info, err := e.queryInfo(context.WithoutCancel(ctx), id); err == nil {
		st.BytesScanned, st.Duration = info.bytes, info.elapsed
	}
	if st.Duration == 0 {
		st.Duration = wall
	}
	return st
}

type queryInfo struct {
	state   string
	bytes   int64
	elapsed time.Duration
}

// queryInfo reads GET /v1/query/{id}: the coordinator's full account of a
// query.
func (e *Engine) queryInfo(ctx context.Context, id string) (queryInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/v1/query/"+url.PathEscape(id), nil)
	if err != nil {
		return queryInfo{}, err
	}
	req.Header.Set("X-Trino-User", e.user)
	resp, err := e.http.Do(req)
	if err != nil {
		return queryInfo{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return queryInfo{}, fmt.Errorf("GET /v1/query/%s: %s", id, resp.Status)
	}
	var body struct {
		State      string `json:"state"`
		QueryStats struct {
			ElapsedTime           string `json:"elapsedTime"`
			PhysicalInputDataSize string `json:"physicalInputDataSize"`
		} `json:"queryStats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return queryInfo{}, err
	}
	info := queryInfo{state: body.State}
	info.bytes, _ = parseDataSize(body.QueryStats.PhysicalInputDataSize)
	info.elapsed, _ = parseAirliftDuration(body.QueryStats.ElapsedTime)
	return info, nil
}

// parseDataSize parses an Airlift data size such as "1234B", "1.5kB", "2MB".
func parseDataSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{{"PB", 1 << 50}, {"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"kB", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, err
			}
			return int64(f*u.mult + 0.5), nil
		}
	}
	return 0, fmt.Errorf("data size %q has no unit", s)
}

// parseAirliftDuration parses an Airlift duration such as "1.23s", "450.00ms", "2.00m".
func parseAirliftDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		d      time.Duration
	}{{"ns", time.Nanosecond}, {"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				continue
			}
			return time.Duration(f * float64(u.d)), nil
		}
	}
	return 0, fmt.Errorf("duration %q has no unit", s)
}
