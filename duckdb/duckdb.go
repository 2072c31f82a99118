// Package duckdb is the embedded SQL engine: DuckDB (through
// github.com/duckdb/duckdb-go) over the tables of a stocklake.Catalog.
//
// Catalog databases appear as schemas and tables as relations, so
// "SELECT * FROM stocks.ticks" works as in Athena. For each query the
// engine parses the statement with DuckDB's own parser
// (json_serialize_sql), finds the catalog tables it reads, and replaces
// each reference with a temporary view over just the files it needs:
//
//   - Partition pruning: the conjuncts of WHERE (and of inner-join ON
//     clauses) that read only partition keys of a table are evaluated by
//     DuckDB against the catalog's partition list, and only the surviving
//     partitions are listed in the lake. Any expression works (=, IN,
//     BETWEEN, <, LIKE, casts, functions, OR), not just simple comparisons;
//     predicates on the null-supplying side of an outer join are left alone.
//     The view takes partition values from the files' key=value folders
//     (Parquet through DuckDB's filename column, JSON and CSV through
//     hive_partitioning), so DuckDB's own filter pushdown prunes further
//     what the Go side could not (e.g. a filter on a partition key applied
//     outside a subquery). A table with Athena
//     partition projection (projection.enabled=true) has its partition
//     list computed from its projection.* properties and
//     storage.location.template (hive.ProjectPartitions), as Athena does,
//     not read from the catalog.
//   - Formats: Parquet through read_parquet with the catalog's columns as
//     the files' schema, matched by name (a column that files written
//     before a schema change lack reads as NULL, and no file is opened
//     before the scan reads it, so many small files cost no more than in
//     DuckDB itself), JSON lines through
//     read_json with the catalog's columns (keys matched case-insensitively
//     as the OpenX SerDe does, with its mapping.* parameters), CSV through
//     read_csv with the delimiter, quote and header of the SerDe.
//   - Types follow the catalog: Glue types map to DuckDB types; timestamps
//     are TIMESTAMP (not TIMESTAMPTZ) in UTC, as Trino's timestamp.
//   - Lakes: a file:// lake is read in place. Any other lake (s3://) is
//     read through the Go ObjectStore into a local cache directory, since
//     DuckDB's httpfs extension is not available: pruned objects are
//     downloaded once (content-addressed by key, size and modification
//     time) and evicted least-recently-used beyond Config.CacheBytes.
//
// Trino functions that DuckDB lacks or spells differently are bridged by
// macros (see dialect.go and docs/sql.md). SHOW SCHEMAS, SHOW TABLES,
// SHOW COLUMNS, DESCRIBE and SHOW PARTITIONS are answered from the catalog.
//
// The DuckDB instance is sandboxed: it reads files only under the lake and
// cache directories, cannot change its configuration, and accepts only
// queries, so a statement cannot write to the lake or read other files.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/dustin/go-humanize"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/sqltext"
)

// Type is the engine's URL scheme: duckdb://.
const Type = "duckdb"

// Defaults of Config.
const (
	DefaultDatabase   = "default"
	DefaultCacheBytes = 10 << 30
	DefaultFetchers   = 8
	// DefaultMemoryLimit is DuckDB's memory limit unless Config.MemoryLimit
	// says otherwise; larger work spills to CacheDir/tmp.
	DefaultMemoryLimit = "2GB"
	// DefaultMaxTempDirectorySize bounds what a query spills to disk
	// (DuckDB's own default is 90% of the free disk space).
	DefaultMaxTempDirectorySize = "10GB"
	// DefaultMaxThreads caps DuckDB's worker threads when Config.Threads is
	// 0: the number of CPUs, at most 4, so the engine leaves cores to the
	// broker, sink and analyzer it often shares a machine with.
	DefaultMaxThreads = 4
)

// Config configures an Engine. Catalog and Store are required.
type Config struct {
	// Catalog holds the tables.
	Catalog stocklake.Catalog
	// Store is the lake that the catalog's locations point into. Tables
	// whose location lies outside it cannot be read.
	Store stocklake.ObjectStore
	// Database is the schema of unqualified table names; default "default",
	// as in Athena.
	Database string
	// CacheDir holds objects downloaded from a remote lake and temporary
	// links; default <user cache dir>/stocklake/duckdb.
	CacheDir string
	// CacheBytes bounds the downloaded objects kept in CacheDir; default
	// 10 GiB. A query still downloads everything it reads, even beyond it.
	CacheBytes int64
	// Fetchers is how many objects are downloaded at once; default 8.
	Fetchers int
	// Threads is DuckDB's worker thread count; default the number of CPUs,
	// at most DefaultMaxThreads (4).
	Threads int
	// MemoryLimit is DuckDB's memory limit, e.g. "4GB"; default
	// DefaultMemoryLimit (2GB). Larger work spills to CacheDir/tmp.
	MemoryLimit string
	// MaxTempDirectorySize bounds what queries spill to CacheDir/tmp, e.g.
	// "10GB"; a query that needs more fails. Default
	// DefaultMaxTempDirectorySize (10GB).
	MaxTempDirectorySize string
	// Logger for diagnostics; default slog.Default().
	Logger *slog.Logger
	// Iceberg plans scans of Iceberg tables (iceberg.Catalog); nil reads
	// only the Catalog's tables. A table name is looked up in Iceberg
	// first, then in Catalog.
	Iceberg stocklake.IcebergTables
}

// Engine runs Trino-flavoured SQL over catalog tables with an embedded
// DuckDB. It is safe for concurrent use; each query runs on its own
// DuckDB connection.
type Engine struct {
	cfg       Config
	db        *sql.DB
	base      string // store URL without a trailing '/'
	localRoot string // lake directory for file:// lakes, else ""
	cache     *cache
	template  string // serialized "SELECT i FROM stocklake_parts WHERE true"
	// selectTemplate is the serialized "SELECT 1".
	selectTemplate string
	seq            atomic.Int64
	log            *slog.Logger
}

var _ stocklake.Engine = (*Engine)(nil)

// New starts an embedded DuckDB over cfg.Catalog and cfg.Store. Problems
// with the configuration wrap stocklake.ErrConfig.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Catalog == nil || cfg.Store == nil {
		return nil, fmt.Errorf("duckdb: a catalog and a lake are both required: %w", stocklake.ErrConfig)
	}
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	cfg.Database = strings.ToLower(cfg.Database)
	if cfg.CacheBytes <= 0 {
		cfg.CacheBytes = DefaultCacheBytes
	}
	if cfg.Fetchers <= 0 {
		cfg.Fetchers = DefaultFetchers
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Threads <= 0 {
		cfg.Threads = min(runtime.NumCPU(), DefaultMaxThreads)
	}
	if cfg.MemoryLimit == "" {
		cfg.MemoryLimit = DefaultMemoryLimit
	}
	if cfg.MaxTempDirectorySize == "" {
		cfg.MaxTempDirectorySize = DefaultMaxTempDirectorySize
	}
	if cfg.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		cfg.CacheDir = filepath.Join(dir, "stocklake", "duckdb")
	}
	dir, err := filepath.Abs(cfg.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("duckdb: cache directory %q: %w: %w", cfg.CacheDir, err, stocklake.ErrConfig)
	}
	cfg.CacheDir = dir
	for _, d := range []string{"objects", "links", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, stocklake.SettingErr(fmt.Errorf("duckdb: create cache directory (it must be writable): %w: %w", err, stocklake.ErrConfig), "duckdb.Config.CacheDir")
		}
	}
	e := &Engine{cfg: cfg, base: strings.TrimSuffix(cfg.Store.URL(), "/"), log: cfg.Logger}
	u, err := url.Parse(e.base)
	if err != nil {
		return nil, fmt.Errorf("duckdb: lake URL %q: %w: %w", e.base, err, stocklake.ErrConfig)
	}
	allowed := []string{dir + "/"}
	if u.Scheme == "file" {
		e.localRoot = filepath.FromSlash(u.Path)
		allowed = append(allowed, strings.TrimSuffix(e.localRoot, "/")+"/")
	} else {
		e.cache = newCache(cfg.Store, e.base, filepath.Join(dir, "objects"), cfg.CacheBytes, cfg.Fetchers, cfg.Logger)
	}

	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, fmt.Errorf("duckdb: start: %w", err)
	}
	e.db = sql.OpenDB(connector)
	setup := []string{
		"SET GLOBAL TimeZone = 'UTC'",
		"SET GLOBAL integer_division = true", // 5/2 = 2, as in Trino
		"SET GLOBAL temp_directory = " + sqltext.QuoteString(filepath.Join(dir, "tmp")),
	}
	setup = append(setup,
		fmt.Sprintf("SET GLOBAL threads = %d", cfg.Threads),
		"SET GLOBAL memory_limit = "+sqltext.QuoteString(cfg.MemoryLimit),
		"SET GLOBAL max_temp_directory_size = "+sqltext.QuoteString(cfg.MaxTempDirectorySize),
	)
	setup = append(setup, macros...)
	var quoted []string
	for _, a := range allowed {
		quoted = append(quoted, sqltext.QuoteString(a))
	}
	setup = append(setup,
		"SET GLOBAL allowed_directories = ["+strings.Join(quoted, ", ")+"]",
		"SET GLOBAL enable_external_access = false",
		"SET GLOBAL lock_configuration = true",
	)
	conn, err := e.db.Conn(ctx)
	if err != nil {
		e.db.Close()
		return nil, fmt.Errorf("duckdb: connect: %w", err)
	}
	defer conn.Close()
	for _, s := range setup {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			e.db.Close()
			if strings.HasPrefix(s, "SET GLOBAL memory_limit") || strings.HasPrefix(s, "SET GLOBAL threads") || strings.HasPrefix(s, "SET GLOBAL max_temp_directory_size") {
				return nil, fmt.Errorf("duckdb: %s: %w: %w", s, err, stocklake.ErrConfig)
			}
			return nil, fmt.Errorf("duckdb: setting up (%.60s...): %w", s, err)
		}
	}
	if err := conn.QueryRowContext(ctx, "SELECT json_serialize_sql('SELECT i FROM stocklake_parts WHERE true')::VARCHAR, json_serialize_sql('SELECT 1')::VARCHAR").Scan(&e.template, &e.selectTemplate); err != nil {
		e.db.Close()
		return nil, fmt.Errorf("duckdb: setting up: %w", err)
	}
	return e, nil
}

// Close stops the engine. Rows still open are invalid afterwards.
func (e *Engine) Close() error { return e.db.Close() }

// Query runs one statement (Trino SQL). Canceling ctx interrupts it. A
// limit set with stocklake.WithScanLimit is checked before any data is
// read, against the sizes of the files left after partition pruning.
func (e *Engine) Query(ctx context.Context, statement string) (stocklake.Rows, error) {
	start := time.Now()
	// The statement is split once, as DuckDB splits it (the lexer the
	// read-only guard uses), and the table names are rewritten in these
	// tokens.
	toks := sqltext.Lex(statement, sqltext.DuckDB)
	n := len(toks)
	for n > 0 && toks[n-1].IsSymbol(";") {
		n--
	}
	if n == 0 {
		return nil, fmt.Errorf("empty statement: write a query such as SELECT * FROM db.table LIMIT 10: %w", stocklake.ErrInvalid)
	}
	stmt := statement
	if n < len(toks) {
		stmt = statement[:toks[n].Start] // without the trailing semicolons
	}
	toks = toks[:n]
	if toks[0].Is("SHOW") || toks[0].Is("DESCRIBE") || toks[0].Is("DESC") {
		return e.show(ctx, toks, start)
	}
	prefix, i := splitExplain(toks)
	var body string
	var bodyToks []sqltext.Token
	if i < len(toks) {
		// The same tokens, at their offsets in body.
		off := toks[i].Start
		body = stmt[off:]
		bodyToks = make([]sqltext.Token, len(toks)-i)
		for j, t := range toks[i:] {
			t.Start -= off
			t.End -= off
			bodyToks[j] = t
		}
	}

	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("duckdb: connect: %w", err)
	}
	q := &query{e: e, conn: conn, id: e.seq.Add(1)}
	rows, err := q.run(ctx, prefix, body, bodyToks, start)
	if err != nil {
		q.cleanup()
		return nil, err
	}
	return rows, nil
}

// splitExplain separates "EXPLAIN [ANALYZE] [(options)]" from the query it
// explains, which starts at toks[i]. Trino's options (TYPE, FORMAT) are
// dropped.
func splitExplain(toks []sqltext.Token) (prefix string, i int) {
	if !toks[0].Is("EXPLAIN") {
		return "", 0
	}
	i = 1
	prefix = "EXPLAIN "
	if i < len(toks) && toks[i].Is("ANALYZE") {
		prefix = "EXPLAIN ANALYZE "
		i++
		if i < len(toks) && toks[i].Is("VERBOSE") {
			i++
		}
	}
	if i < len(toks) && toks[i].IsSymbol("(") {
		depth := 0
		for ; i < len(toks); i++ {
			if toks[i].IsSymbol("(") {
				depth++
			}
			if toks[i].IsSymbol(")") {
				depth--
				if depth == 0 {
					i++
					break
				}
			}
		}
	}
	return prefix, i
}

// tokenAt returns the index of the token of toks that starts at byte
// offset off, or -1: a location DuckDB reports inside a comment or a
// string as the lexer reads it is no place to rewrite.
func tokenAt(toks []sqltext.Token, off int) int {
	i := sort.Search(len(toks), func(i int) bool { return toks[i].Start >= off })
	if i < len(toks) && toks[i].Start == off {
		return i
	}
	return -1
}

// qualifiedName returns the end offset of the dotted name (a, a.b, a.b.c,
// each part quoted or not) starting at toks[i], and its last part.
func qualifiedName(toks []sqltext.Token, i int) (end int, last string, ok bool) {
	if i < 0 || !toks[i].Name() {
		return 0, "", false
	}
	end, last = toks[i].End, toks[i].Value()
	for j := i + 1; j+1 < len(toks) && j < i+7; j += 2 {
		if !toks[j].IsSymbol(".") || !toks[j+1].Name() {
			break
		}
		end, last = toks[j+1].End, toks[j+1].Value()
	}
	return end, last, true
}

// query is one statement being run.
type query struct {
	e        *Engine
	conn     *sql.Conn
	id       int64
	views    []string
	releases []func()
	links    string // directory of temporary links, if any
	stats    stocklake.QueryStats
}

func (q *query) run(ctx context.Context, prefix, body string, toks []sqltext.Token, start time.Time) (stocklake.Rows, error) {
	body, toks, travels, err := cutTravel(body, toks)
	if err != nil {
		return nil, err
	}
	var js string
	if err := q.conn.QueryRowContext(ctx, "SELECT json_serialize_sql(?::VARCHAR)::VARCHAR", body).Scan(&js); err != nil {
		return nil, q.e.wrap(ctx, err)
	}
	tree, err := parseTree(js)
	if err != nil {
		return nil, err
	}
	catalogOnly := stocklake.CatalogOnly(ctx)
	if catalogOnly {
		if err := checkCatalogOnly(tree); err != nil {
			return nil, err
		}
	}
	an := analyze(tree)

	type edit struct {
		start, end int
		text       string
	}
	var edits []edit
	limit := stocklake.ScanLimit(ctx)
	var scans []*scan
	for _, r := range an.refs {
		if r.schema == "" && r.catalog == "" && an.ctes[strings.ToLower(r.name)] {
			continue
		}
		tr := travels[r.loc]
		if tr != nil {
			tr.used = true
		}
		s, ok, err := q.resolveScan(ctx, r, tr)
		if err != nil {
			return nil, err
		}
		if !ok && catalogOnly {
			return nil, fmt.Errorf("%s.%s is not a catalog table: the console reads only the catalog's tables (SHOW TABLES lists them): %w", r.schema, r.name, stocklake.ErrInvalid)
		}
		if !ok {
			continue
		}
		t := s.table
		if r.loc < 0 {
			return nil, fmt.Errorf("duckdb: cannot locate the reference to %s.%s in the statement: %w", t.Database, t.Name, stocklake.ErrInvalid)
		}
		end, last, ok := qualifiedName(toks, tokenAt(toks, r.loc))
		if !ok || !strings.EqualFold(last, r.name) {
			return nil, fmt.Errorf("duckdb: cannot locate the reference to %s.%s in the statement: %w", t.Database, t.Name, stocklake.ErrInvalid)
		}
		scans = append(scans, s)
		q.stats.BytesScanned += s.bytes
		q.stats.FilesScanned += int64(len(s.files))
		view := fmt.Sprintf("stocklake_v%d_%d", q.id, len(scans))
		text := view
		if r.alias == "" {
			text += " AS " + sqltext.QuoteIdent(r.name)
		}
		edits = append(edits, edit{r.loc, end, text})
		s.view = view
	}
	for _, tr := range travels {
		if !tr.used {
			return nil, fmt.Errorf("%s follows a name that is not an Iceberg table (a CTE or a DuckDB table): time travel reads Iceberg tables only: %w", tr.text, stocklake.ErrInvalid)
		}
	}
	for _, c := range an.calls {
		if c.loc < 0 || c.fmtLoc <= c.loc || c.loc+len(c.name) > len(body) || !strings.EqualFold(body[c.loc:c.loc+len(c.name)], c.name) {
			continue
		}
		k := tokenAt(toks, c.fmtLoc)
		if k < 0 || toks[k].Kind != sqltext.String || tokenAt(toks, c.loc) < 0 {
			continue
		}
		ff := formatFuncs[c.name]
		edits = append(edits, edit{c.loc, c.loc + len(c.name), ff.duck}, edit{c.fmtLoc, toks[k].End, sqltext.QuoteString(ff.translate(c.format))})
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	if limit > 0 && q.stats.BytesScanned > limit {
		return nil, fmt.Errorf("query would scan %s in %d files, over the limit of %s: filter on partition keys (e.g. WHERE dt = '2026-11-26') or raise the limit: %w",
			humanize.IBytes(uint64(q.stats.BytesScanned)), q.stats.FilesScanned, humanize.IBytes(uint64(limit)), stocklake.ErrScanLimit)
	}
	for _, s := range scans {
		if err := q.stage(ctx, s); err != nil {
			return nil, err
		}
		if err := q.createView(ctx, s); err != nil {
			return nil, err
		}
	}
	for i := len(edits) - 1; i >= 0; i-- {
		ed := edits[i]
		body = body[:ed.start] + ed.text + body[ed.end:]
	}
	res, err := q.conn.QueryContext(ctx, prefix+body)
	if err != nil {
		return nil, q.e.wrap(ctx, err)
	}
	types, err := res.ColumnTypes()
	if err != nil {
		res.Close()
		return nil, q.e.wrap(ctx, err)
	}
	cols := make([]stocklake.ResultColumn, len(types))
	rename := len(an.names) == len(types) && prefix == ""
	for i, ct := range types {
		cols[i] = stocklake.ResultColumn{Name: ct.Name(), Type: trinoType(ct.DatabaseTypeName())}
		if rename && an.names[i] != "" {
			cols[i].Name = an.names[i]
		}
	}
	r := &rows{q: q, res: res, cols: cols, start: start, ctx: ctx}
	r.vals = make([]any, len(cols))
	r.ptrs = make([]any, len(cols))
	for i := range r.vals {
		r.ptrs[i] = &r.vals[i]
	}
	return r, nil
}

// tableName is the database and table a reference names. ok is false for
// names that belong to DuckDB itself (information_schema, pg_catalog, ...).
func (e *Engine) tableName(r *tableRef) (database, name string, ok bool, err error) {
	schema := strings.ToLower(r.schema)
	switch strings.ToLower(r.catalog) {
	case "", "awsdatacatalog", "hive", "stocklake":
	default:
		if schema == "" { // DuckDB reads a.b as catalog-less schema a, table b, too
			break
		}
		return "", "", false, fmt.Errorf("catalog %q is unknown: name tables as database.table (or awsdatacatalog.database.table): %w", r.catalog, stocklake.ErrNotFound)
	}
	switch schema {
	case "information_schema", "pg_catalog", "main", "temp", "system":
		return schema, r.name, false, nil
	case "":
		schema = e.cfg.Database
	}
	return schema, strings.ToLower(r.name), true, nil
}

// resolve finds the table of a reference: an Iceberg table (its current
// definition) or a catalog table. ok is false for names that belong to
// DuckDB itself.
func (e *Engine) resolve(ctx context.Context, r *tableRef) (stocklake.Table, bool, error) {
	schema, name, ok, err := e.tableName(r)
	if !ok || err != nil {
		return stocklake.Table{}, ok, err
	}
	if e.cfg.Iceberg != nil {
		plan, err := e.cfg.Iceberg.PlanScan(ctx, schema, name, stocklake.ScanOptions{ColumnsOnly: true})
		if err == nil || !errors.Is(err, stocklake.ErrNotFound) {
			return plan.Table, err == nil, err
		}
	}
	t, err := e.catalogTable(ctx, schema, name)
	return t, err == nil, err
}

// catalogTable reads a table of the Catalog.
func (e *Engine) catalogTable(ctx context.Context, schema, name string) (stocklake.Table, error) {
	t, err := e.cfg.Catalog.GetTable(ctx, schema, name)
	if errors.Is(err, stocklake.ErrNotFound) {
		return t, fmt.Errorf("table %s.%s is not in the catalog: SHOW TABLES FROM %s lists its tables, SHOW SCHEMAS the databases: %w", schema, name, schema, stocklake.ErrNotFound)
	}
	return t, err
}

// resolveScan finds the table of a reference and plans its scan: an
// Iceberg table (Config.Iceberg, at the snapshot of the time-travel clause
// tr) or a catalog table. ok is false for names that belong to DuckDB
// itself. Time travel is refused on anything but an Iceberg table.
func (q *query) resolveScan(ctx context.Context, r *tableRef, tr *travel) (*scan, bool, error) {
	schema, name, ok, err := q.e.tableName(r)
	if err != nil {
		return nil, false, err
	}
	if !ok {
		if tr != nil {
			return nil, false, fmt.Errorf("%s: %s.%s is not an Iceberg table: time travel reads Iceberg tables only: %w", tr.text, schema, name, stocklake.ErrInvalid)
		}
		return nil, false, nil
	}
	if q.e.cfg.Iceberg != nil {
		s, ok, err := q.planIceberg(ctx, schema, name, r, tr)
		if ok || !errors.Is(err, stocklake.ErrNotFound) {
			return s, ok, err
		}
	}
	t, err := q.e.catalogTable(ctx, schema, name)
	if err != nil {
		return nil, false, err
	}
	if tr != nil {
		return nil, false, fmt.Errorf("%s: %s.%s is a Hive table, not an Iceberg table: time travel reads Iceberg tables only: %w", tr.text, schema, name, stocklake.ErrInvalid)
	}
	s, err := q.plan(ctx, t, r)
	if err == nil && q.e.log.Enabled(ctx, slog.LevelDebug) {
		keys := make([]string, len(s.files))
		for i, f := range s.files {
			keys[i] = f.info.Key
		}
		q.e.log.Debug("duckdb: files to read", "table", t.Database+"."+t.Name, "partitions", len(s.parts), "files", keys)
	}
	return s, err == nil, err
}

// cleanup drops the query's views, releases its cached files and returns
// the connection to the pool.
func (q *query) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, v := range q.views {
		if _, err := q.conn.ExecContext(ctx, "DROP VIEW IF EXISTS temp.main."+sqltext.QuoteIdent(v)); err != nil {
			q.e.log.Warn("duckdb: dropping a temporary view failed", "view", v, "err", err)
		}
	}
	q.conn.Close()
	for _, r := range q.releases {
		r()
	}
	if q.links != "" {
		os.RemoveAll(q.links)
	}
}

// wrap turns DuckDB errors into stocklake errors: syntax, binding and
// conversion errors wrap ErrInvalid; interrupts return the context's error.
func (e *Engine) wrap(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("query interrupted: %w", ctx.Err())
	}
	var de *duckdb.Error
	if errors.As(err, &de) {
		switch de.Type {
		case duckdb.ErrorTypeParser, duckdb.ErrorTypeBinder, duckdb.ErrorTypeCatalog, duckdb.ErrorTypeConversion,
			duckdb.ErrorTypeInvalidInput, duckdb.ErrorTypeInvalidType, duckdb.ErrorTypeOutOfRange, duckdb.ErrorTypeMismatchType,
			duckdb.ErrorTypeNotImplemented, duckdb.ErrorTypeSyntax, duckdb.ErrorTypePermission, duckdb.ErrorTypeDivideByZero:
			return fmt.Errorf("%s: %w", strings.TrimSpace(de.Msg), stocklake.ErrInvalid)
		case duckdb.ErrorTypeInterrupt:
			return fmt.Errorf("query interrupted: %w", context.Canceled)
		}
	}
	if errors.Is(err, driver.ErrBadConn) {
		return fmt.Errorf("duckdb: %w: %w", err, stocklake.ErrUnavailable)
	}
	return fmt.Errorf("duckdb: %w", err)
}

// rows adapts database/sql rows to stocklake.Rows.
type rows struct {
	q     *query
	res   *sql.Rows
	ctx   context.Context
	cols  []stocklake.ResultColumn
	vals  []any
	ptrs  []any
	start time.Time
	done  bool
	err   error
}

func (r *rows) Columns() []stocklake.ResultColumn { return r.cols }

func (r *rows) Next() bool {
	if r.done {
		return false
	}
	if !r.res.Next() {
		r.finish(r.res.Err())
		return false
	}
	for i := range r.vals {
		r.vals[i] = nil
	}
	if err := r.res.Scan(r.ptrs...); err != nil {
		r.finish(err)
		return false
	}
	for i, v := range r.vals {
		r.vals[i] = normalize(v)
	}
	return true
}

func (r *rows) finish(err error) {
	r.done = true
	r.err = r.q.e.wrap(r.ctx, err)
	r.q.stats.Duration = time.Since(r.start)
}

func (r *rows) Values() []any { return r.vals }

func (r *rows) Err() error { return r.err }

func (r *rows) Stats() stocklake.QueryStats { return r.q.stats }

func (r *rows) Close() error {
	if !r.done {
		r.done = true
		r.q.stats.Duration = time.Since(r.start)
	}
	err := r.res.Close()
	r.q.cleanup()
	return err
}
