// Package query gives any stocklake.Engine Amazon Athena's semantics:
// every statement gets a query ID (a UUID) and moves through QUEUED,
// RUNNING and then SUCCEEDED, FAILED or CANCELLED; its result is written to
// the lake as CSV with a JSON metadata file beside it, as Athena writes
// <id>.csv and <id>.csv.metadata to its output location; the history of
// queries is those metadata files, so every process sharing the lake sees
// the same history and can print a past result by ID. Queries are limited
// by a timeout, a bytes-scanned cutoff and a row limit, canceled with their context
// (Ctrl-C), and only read-only statements run (CheckReadOnly).
//
// Layout in the lake, under Config.Prefix (default "query-results/"):
//
//	query-results/<id>.csv            the result, Athena's CSV dialect
//	query-results/<id>.csv.metadata   Execution as JSON: state, SQL, times,
//	                                  columns, rows, bytes scanned, error
//
// IDs are version-7 UUIDs, which sort by submission time, so the newest
// queries are the last keys of a listing.
package query

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/google/uuid"

	"github.com/stocklake/stocklake"
)

// Defaults of Config.
const (
	DefaultPrefix      = "query-results/"
	DefaultTimeout     = 30 * time.Minute // Athena's default DML timeout
	DefaultConcurrency = 4
	DefaultMaxQueued   = 16
)

// ErrQueueFull reports a query refused because Config.MaxQueued queries
// already wait; retrying later may succeed. It wraps stocklake.ErrUnavailable.
var ErrQueueFull = fmt.Errorf("query queue full: %w", stocklake.ErrUnavailable)

// Config configures a Runner. Engine and Store are required.
type Config struct {
	// Engine runs the statements.
	Engine stocklake.Engine
	// EngineName is recorded in each execution, e.g. "duckdb".
	EngineName string
	// Store is the lake that receives results and history.
	Store stocklake.ObjectStore
	// Prefix is the folder of results in Store; default "query-results/".
	Prefix string
	// Timeout fails a query that runs longer; default 30 minutes, negative
	// for none.
	Timeout time.Duration
	// MaxBytesScanned fails a query that reads more bytes from the lake;
	// default 0, no limit. Engines that know a query's size in advance
	// (DuckDB) refuse it before reading anything; for others the result is
	// discarded once the engine reports the bytes.
	MaxBytesScanned int64
	// Concurrency is how many queries of this Runner run at once; more
	// wait as QUEUED. Default 4.
	Concurrency int
	// MaxQueued is how many queries may wait for a slot; Start refuses more
	// with ErrQueueFull, before writing anything to the lake. Default 16.
	MaxQueued int
	// MaxRows stops a result at this many rows; the query still succeeds,
	// with Execution.Truncated set when the engine had more. Default 0, no
	// limit.
	MaxRows int64
	// MaxResultBytes fails a query whose result CSV would be larger;
	// default 0, no limit.
	MaxResultBytes int64
	// CatalogOnly runs every statement under stocklake.WithCatalogOnly:
	// catalog tables and pure functions only (for servers; see
	// docs/security.md).
	CatalogOnly bool
	// Logger for diagnostics; default slog.Default().
	Logger *slog.Logger
}

// Execution is the record of one query: its metadata file.
type Execution struct {
	ID        string               `json:"id"`
	SQL       string               `json:"sql"`
	State     stocklake.QueryState `json:"state"`
	Error     string               `json:"error,omitempty"` // why it failed or was cancelled
	Engine    string               `json:"engine,omitempty"`
	Submitted time.Time            `json:"submitted"`
	Started   time.Time            `json:"started,omitzero"`
	Completed time.Time            `json:"completed,omitzero"`
	// Columns of the result; set once it succeeded.
	Columns []stocklake.ResultColumn `json:"columns,omitempty"`
	// Rows in the result.
	Rows int64 `json:"rows"`
	// Truncated reports a result cut at Config.MaxRows: the engine had
	// more rows.
	Truncated    bool  `json:"truncated"`
	BytesScanned int64 `json:"bytes_scanned"`
	FilesScanned int64 `json:"files_scanned"`
	// EngineTime is the engine's execution time; TotalTime runs from
	// submission to completion, queueing and writing the result included.
	EngineTime time.Duration `json:"engine_time_ns"`
	TotalTime  time.Duration `json:"total_time_ns"`
	// ResultURL is the result CSV's location in the lake.
	ResultURL string `json:"result_url,omitempty"`
	// PageIndex locates rows in the result CSV, for ResultsPage.
	PageIndex *PageIndex `json:"page_index,omitempty"`
	Host      string     `json:"host,omitempty"`
	PID       int        `json:"pid,omitempty"`
}

// Done reports whether the execution reached a final state.
func (e Execution) Done() bool {
	switch e.State {
	case stocklake.QuerySucceeded, stocklake.QueryFailed, stocklake.QueryCancelled:
		return true
	}
	return false
}

// Summary is a one-line account, e.g. "SUCCEEDED in 1.2s, 3 rows, scanned
// 1.5 MiB in 2 files (query 0193...)".
func (e Execution) Summary() string {
	cut := ""
	if e.Truncated {
		cut = " (cut at the row limit)"
	}
	s := fmt.Sprintf("%s in %v, %d rows%s, scanned %s in %d files (query %s)",
		e.State, e.TotalTime.Round(time.Millisecond), e.Rows, cut, humanize.IBytes(uint64(e.BytesScanned)), e.FilesScanned, e.ID)
	if e.Error != "" {
		s += ": " + e.Error
	}
	return s
}

// Runner runs queries with Athena's semantics. It is safe for concurrent use.
type Runner struct {
	cfg  Config
	slot chan struct{}
	host string

	mu      sync.Mutex
	running map[string]*running
}

type running struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
	exec   Execution
	cause  error // why it failed, once done
}

// errCancelled is the cause of a cancellation through Runner.Cancel.
var errCancelled = errors.New("cancelled by request")

// New returns a Runner. Problems with cfg wrap stocklake.ErrConfig. A
// Runner without an Engine only reads past executions and results.
func New(cfg Config) (*Runner, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("query: a lake for results is required: %w", stocklake.ErrConfig)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	cfg.Prefix = strings.Trim(cfg.Prefix, "/") + "/"
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	host, _ := os.Hostname()
	return &Runner{cfg: cfg, slot: make(chan struct{}, cfg.Concurrency), host: host, running: map[string]*running{}}, nil
}

func (r *Runner) resultKey(id string) string   { return r.cfg.Prefix + id + ".csv" }
func (r *Runner) metadataKey(id string) string { return r.cfg.Prefix + id + ".csv.metadata" }

// Start submits a statement and returns at once with its QUEUED execution;
// the query runs in the background until it finishes, ctx is canceled,
// or Cancel is called. A statement that is not read-only is rejected
// (wrapping stocklake.ErrInvalid) without an execution.
func (r *Runner) Start(ctx context.Context, sql string) (Execution, error) {
	if r.cfg.Engine == nil {
		return Execution{}, fmt.Errorf("query: this runner has no engine; it can only read past results: %w", stocklake.ErrConfig)
	}
	if err := CheckReadOnly(sql); err != nil {
		return Execution{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Execution{}, fmt.Errorf("query: new ID: %w", err)
	}
	ex := Execution{
		ID: id.String(), SQL: sql, State: stocklake.QueryQueued, Engine: r.cfg.EngineName,
		Submitted: time.Now().UTC(), Host: r.host, PID: os.Getpid(),
	}
	qctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	run := &running{cancel: cancel, done: make(chan struct{}), exec: ex}
	r.mu.Lock()
	if n := len(r.running); n >= r.cfg.Concurrency+r.cfg.MaxQueued {
		r.mu.Unlock()
		cancel(nil)
		return Execution{}, fmt.Errorf("%d queries are running or waiting (at most %d run and %d wait); retry when one finishes: %w",
			n, r.cfg.Concurrency, r.cfg.MaxQueued, ErrQueueFull)
	}
	r.running[ex.ID] = run
	r.mu.Unlock()
	if err := r.save(ctx, ex); err != nil {
		r.mu.Lock()
		delete(r.running, ex.ID)
		r.mu.Unlock()
		cancel(nil)
		return Execution{}, err
	}
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	go func() {
		defer stop()
		defer cancel(nil)
		final, cause := r.execute(qctx, ex)
		r.mu.Lock()
		run.exec, run.cause = final, cause
		delete(r.running, ex.ID)
		r.mu.Unlock()
		close(run.done)
	}()
	return ex, nil
}

// Run runs a statement to completion and returns its final execution.
// err is non-nil when the query did not succeed; it wraps
// stocklake.ErrInvalid for bad SQL, stocklake.ErrScanLimit for the
// bytes-scanned cutoff, context.DeadlineExceeded for the timeout and
// context.Canceled when ctx was canceled.
func (r *Runner) Run(ctx context.Context, sql string) (Execution, error) {
	ex, err := r.Start(ctx, sql)
	if err != nil {
		return ex, err
	}
	return r.Wait(context.WithoutCancel(ctx), ex.ID)
}

// Wait blocks until a query finishes and returns its final execution,
// with an error as Run's when it did not succeed. Queries of other
// processes are polled in the lake every second.
func (r *Runner) Wait(ctx context.Context, id string) (Execution, error) {
	r.mu.Lock()
	run := r.running[id]
	r.mu.Unlock()
	if run != nil {
		select {
		case <-run.done:
			return run.exec, finishErr(run.exec, run.cause)
		case <-ctx.Done():
			return Execution{}, ctx.Err()
		}
	}
	for {
		ex, err := r.Get(ctx, id)
		if err != nil || ex.Done() {
			if err == nil {
				err = finishErr(ex, nil)
			}
			return ex, err
		}
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return ex, ctx.Err()
		}
	}
}

// Cancel cancels a query running in this process; it reports whether one
// was found.
func (r *Runner) Cancel(id string) bool {
	r.mu.Lock()
	run := r.running[id]
	r.mu.Unlock()
	if run == nil {
		return false
	}
	run.cancel(errCancelled)
	return true
}

// finishErr is the error of a finished execution: nil when it succeeded.
func finishErr(e Execution, cause error) error {
	switch e.State {
	case stocklake.QuerySucceeded:
		return nil
	case stocklake.QueryCancelled:
		return fmt.Errorf("query %s cancelled: %s: %w", e.ID, e.Error, context.Canceled)
	}
	return &Error{Execution: e, cause: cause}
}

// Error is the error of a failed query. It wraps the cause's sentinel
// (stocklake.ErrInvalid, ErrScanLimit, ErrNotFound, context.DeadlineExceeded)
// when the query ran in this process.
type Error struct {
	Execution Execution
	cause     error
}

func (e *Error) Error() string {
	return fmt.Sprintf("query %s failed: %s", e.Execution.ID, e.Execution.Error)
}

func (e *Error) Unwrap() error { return e.cause }

// execute runs one query through its states and records each; cause is
// why it failed.
func (r *Runner) execute(ctx context.Context, ex Execution) (final Execution, cause error) {
	save := func() {
		// States are recorded even when the query's context is done.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := r.save(sctx, ex); err != nil {
			r.cfg.Logger.Warn("query: recording the state failed", "id", ex.ID, "state", ex.State, "err", err)
		}
	}
	defer func() {
		ex.Completed = time.Now().UTC()
		ex.TotalTime = ex.Completed.Sub(ex.Submitted)
		save()
		final = ex
	}()
	select {
	case r.slot <- struct{}{}:
		defer func() { <-r.slot }()
	case <-ctx.Done():
		ex.State, ex.Error = stocklake.QueryCancelled, cancelReason(ctx)
		return
	}
	ex.State, ex.Started = stocklake.QueryRunning, time.Now().UTC()
	save()

	qctx := ctx
	if r.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		qctx, cancel = context.WithTimeoutCause(ctx, r.cfg.Timeout, stocklake.SettingErr(fmt.Errorf("query timed out after %v, its time limit: %w", r.cfg.Timeout, context.DeadlineExceeded), "query.Config.Timeout"))
		defer cancel()
	}
	if r.cfg.MaxBytesScanned > 0 {
		qctx = stocklake.WithScanLimit(qctx, r.cfg.MaxBytesScanned)
	}
	if r.cfg.CatalogOnly {
		qctx = stocklake.WithCatalogOnly(qctx)
	}
	fail := func(err error) {
		switch {
		case ctx.Err() != nil: // canceled from outside: Ctrl-C or Cancel
			ex.State, ex.Error = stocklake.QueryCancelled, cancelReason(ctx)
		case qctx.Err() != nil:
			cause = context.Cause(qctx)
			ex.State, ex.Error = stocklake.QueryFailed, cause.Error()
		default:
			cause = err
			ex.State, ex.Error = stocklake.QueryFailed, err.Error()
		}
	}
	rows, err := r.cfg.Engine.Query(qctx, ex.SQL)
	if err != nil {
		fail(err)
		return
	}
	defer rows.Close()
	ex.Columns = rows.Columns()
	var limited *limitRows
	if r.cfg.MaxRows > 0 {
		limited = &limitRows{Rows: rows, left: r.cfg.MaxRows}
	}
	// The result goes to a temporary file first: the lake's Put wants the
	// whole body, and a failed query must leave no partial result.
	tmp, err := os.CreateTemp("", "stocklake-result-*.csv")
	if err != nil {
		fail(fmt.Errorf("query: temporary result file: %w", err))
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	idx := &PageIndex{}
	var res stocklake.Rows = rows
	if limited != nil {
		res = limited
	}
	n, err := writeResult(tmp, res, r.cfg.MaxResultBytes, idx)
	st := rows.Stats()
	ex.Rows, ex.BytesScanned, ex.FilesScanned, ex.EngineTime = n, st.BytesScanned, st.FilesScanned, st.Duration
	if err != nil {
		fail(err)
		return
	}
	if max := r.cfg.MaxBytesScanned; max > 0 && st.BytesScanned > max {
		fail(fmt.Errorf("query scanned %s, over the limit of %s; its result was discarded: filter on partition keys or raise the limit: %w",
			humanize.IBytes(uint64(st.BytesScanned)), humanize.IBytes(uint64(max)), stocklake.ErrScanLimit))
		return
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		fail(err)
		return
	}
	if err := r.cfg.Store.Put(qctx, r.resultKey(ex.ID), tmp); err != nil {
		fail(fmt.Errorf("write the result to the lake: %w", err))
		return
	}
	ex.ResultURL = strings.TrimSuffix(r.cfg.Store.URL(), "/") + "/" + r.resultKey(ex.ID)
	ex.PageIndex = idx
	ex.Truncated = limited != nil && limited.more
	ex.State = stocklake.QuerySucceeded
	return
}

// limitRows ends a result after left rows; more records whether the
// engine had another row past them. An error reading that extra row does
// not fail the kept rows.
type limitRows struct {
	stocklake.Rows
	left          int64
	more, stopped bool
}

func (l *limitRows) Next() bool {
	if l.left <= 0 {
		if !l.stopped {
			l.stopped = true
			l.more = l.Rows.Next()
		}
		return false
	}
	l.left--
	return l.Rows.Next()
}

func (l *limitRows) Err() error {
	if l.stopped {
		return nil
	}
	return l.Rows.Err()
}

func cancelReason(ctx context.Context) string {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c.Error()
	}
	if errors.Is(context.Cause(ctx), errCancelled) {
		return errCancelled.Error()
	}
	return "cancelled by the user"
}

// save writes an execution's metadata.
func (r *Runner) save(ctx context.Context, ex Execution) error {
	b, err := json.MarshalIndent(ex, "", "  ")
	if err != nil {
		return err
	}
	if err := r.cfg.Store.Put(ctx, r.metadataKey(ex.ID), bytes.NewReader(b)); err != nil {
		return fmt.Errorf("record query %s in the lake: %w", ex.ID, err)
	}
	return nil
}

// Get returns a query's execution from the lake (or, while it runs in
// this process, from memory). An unknown ID wraps stocklake.ErrNotFound.
func (r *Runner) Get(ctx context.Context, id string) (Execution, error) {
	if err := checkID(id); err != nil {
		return Execution{}, err
	}
	r.mu.Lock()
	run := r.running[id]
	r.mu.Unlock()
	rc, err := r.cfg.Store.Get(ctx, r.metadataKey(id))
	if errors.Is(err, stocklake.ErrNotFound) {
		if run != nil {
			return run.exec, nil
		}
		return Execution{}, fmt.Errorf("query %s is not in %s; list the past queries to find its ID: %w", id, r.cfg.Prefix, stocklake.ErrNotFound)
	}
	if err != nil {
		return Execution{}, err
	}
	defer rc.Close()
	var ex Execution
	if err := json.NewDecoder(rc).Decode(&ex); err != nil {
		return Execution{}, fmt.Errorf("query %s: metadata is not valid JSON: %w: %w", id, err, stocklake.ErrInvalid)
	}
	return ex, nil
}

// List returns the newest executions first, at most limit (all when
// limit <= 0), from the lake: queries of every process that uses it.
func (r *Runner) List(ctx context.Context, limit int) ([]Execution, error) {
	objs, err := r.cfg.Store.List(ctx, r.cfg.Prefix)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, o := range objs {
		rest := strings.TrimPrefix(o.Key, r.cfg.Prefix)
		if id, ok := strings.CutSuffix(rest, ".csv.metadata"); ok && !strings.Contains(id, "/") {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]Execution, 0, len(ids))
	for _, id := range ids {
		ex, err := r.Get(ctx, id)
		if err != nil {
			r.cfg.Logger.Warn("query: unreadable history entry", "id", id, "err", err)
			continue
		}
		out = append(out, ex)
	}
	return out, nil
}

// Results opens the stored result of a succeeded query as Rows, typed by
// the recorded columns. A query without a result (still running, failed)
// wraps stocklake.ErrNotFound.
func (r *Runner) Results(ctx context.Context, id string) (stocklake.Rows, error) {
	ex, err := r.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if ex.State != stocklake.QuerySucceeded {
		msg := fmt.Sprintf("query %s is %s and has no result", id, ex.State)
		if ex.Error != "" {
			msg += ": " + ex.Error
		}
		return nil, fmt.Errorf("%s: %w", msg, stocklake.ErrNotFound)
	}
	rc, err := r.cfg.Store.Get(ctx, r.resultKey(id))
	if err != nil {
		return nil, fmt.Errorf("result of query %s: %w", id, err)
	}
	return newCSVRows(rc, ex), nil
}

// ResultsPage opens the rows of a succeeded query's result from row offset
// on (0-based), reading from the lake only the part of the CSV around
// them (Execution.PageIndex) rather than every row before offset. Reading
// more than limit rows from it may end early. Results without an index
// (written by older versions) are read from the start.
func (r *Runner) ResultsPage(ctx context.Context, id string, offset, limit int64) (stocklake.Rows, error) {
	ex, err := r.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if ex.State != stocklake.QuerySucceeded || ex.PageIndex == nil || ex.PageIndex.Stride <= 0 || len(ex.PageIndex.Offsets) == 0 {
		rows, err := r.Results(ctx, id)
		if err != nil {
			return nil, err
		}
		return skipRows(rows, offset), nil
	}
	idx := ex.PageIndex
	if offset >= ex.Rows {
		return newCSVRowsAt(io.NopCloser(strings.NewReader("")), ex), nil
	}
	k := min(offset/idx.Stride, int64(len(idx.Offsets)-1))
	start := idx.Offsets[k]
	length := int64(-1)
	if j := (offset+limit)/idx.Stride + 1; j < int64(len(idx.Offsets)) {
		length = idx.Offsets[j] - start
	}
	b, err := r.cfg.Store.GetRange(ctx, r.resultKey(id), start, length)
	if err != nil {
		return nil, fmt.Errorf("result of query %s: %w", id, err)
	}
	return skipRows(newCSVRowsAt(io.NopCloser(bytes.NewReader(b)), ex), offset-k*idx.Stride), nil
}

// skipRows advances rows past n rows.
func skipRows(rows stocklake.Rows, n int64) stocklake.Rows {
	for ; n > 0 && rows.Next(); n-- {
	}
	return rows
}

// checkID rejects IDs that could name other objects.
func checkID(id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return fmt.Errorf("query ID %q is not a UUID: %w", id, stocklake.ErrInvalid)
	}
	return nil
}
