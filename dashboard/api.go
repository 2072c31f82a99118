package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"regexp"
	"strings"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/internal/pagination"
	"github.com/stocklake/stocklake/query"
	"github.com/stocklake/stocklake/sqltext"
)

// intParam reads a non-negative integer query parameter with a default and
// a maximum; bad values are a 400.
// intParam is the whole-number query parameter name: def when absent;
// false (and a 400 answered) unless it is from 0 to maxVal.
func intParam(w nethttp.ResponseWriter, r *nethttp.Request, name string, def, maxVal int) (int, bool) {
	n, err := pagination.Param(r.URL.Query(), name, def, 0, maxVal)
	if err != nil {
		writeError(w, 400, err.Error())
		return 0, false
	}
	return n, true
}

func (s *Server) readyz(w nethttp.ResponseWriter, _ *nethttp.Request) {
	select {
	case <-s.ready:
		writeJSON(w, 200, map[string]string{"status": "ready"})
	default:
		writeError(w, nethttp.StatusServiceUnavailable, "not ready: the dashboard's data source has not started")
	}
}

func (s *Server) openapi(w nethttp.ResponseWriter, _ *nethttp.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(openapiYAML)
}

// config tells the app what the server offers; it needs no token, so the
// app can ask for one.
func (s *Server) config(w nethttp.ResponseWriter, _ *nethttp.Request) {
	var ws []string
	for _, d := range s.board.Windows() {
		ws = append(ws, stocklake.WindowLabel(d))
	}
	src := ""
	if s.cfg.Source != nil {
		src = s.cfg.Source.Name()
	}
	writeJSON(w, 200, map[string]any{
		"token_required": s.cfg.Token != "", "version": stocklake.Version, "windows": ws, "source": src,
		"database": s.cfg.Database, "max_rows": s.cfg.MaxRows, "query": s.runner != nil && s.cfg.Engine != nil,
		"catalog": s.cfg.Catalog != nil, "crawl": s.cfg.Crawl != nil,
	})
}

func (s *Server) symbols(w nethttp.ResponseWriter, _ *nethttp.Request) {
	writeJSON(w, 200, map[string]any{"symbols": s.board.Symbols()})
}

func (s *Server) bars(w nethttp.ResponseWriter, r *nethttp.Request) {
	sym := r.URL.Query().Get("symbol")
	if sym == "" {
		writeError(w, 400, "symbol is required, e.g. /api/bars?symbol=AAPL&window=1m")
		return
	}
	win := r.URL.Query().Get("window")
	var d time.Duration
	if win == "" {
		ws := s.board.Windows()
		if len(ws) == 0 {
			writeError(w, 404, "no bars yet; is the data source running?")
			return
		}
		d = ws[0]
	} else {
		var err error
		if d, err = time.ParseDuration(win); err != nil || d <= 0 {
			writeError(w, 400, fmt.Sprintf("window=%q is not a window size such as 1s, 1m or 5m", win))
			return
		}
	}
	limit, ok := intParam(w, r, "limit", DefaultMaxBars, 100_000)
	if !ok {
		return
	}
	if !s.board.HasSymbol(sym) {
		writeError(w, 404, fmt.Sprintf("unknown symbol %q; GET /api/symbols lists them", sym))
		return
	}
	writeJSON(w, 200, map[string]any{"symbol": sym, "window": stocklake.WindowLabel(d), "bars": s.board.Bars(sym, d, limit)})
}

func (s *Server) alerts(w nethttp.ResponseWriter, r *nethttp.Request) {
	limit, ok := intParam(w, r, "limit", 100, 10_000)
	if !ok {
		return
	}
	writeJSON(w, 200, map[string]any{"alerts": s.board.Alerts(r.URL.Query().Get("symbol"), limit)})
}

// stream sends server-sent events: "symbol" (a SymbolSummary), "bar" (a
// wire-format bar) and "alert" (a wire-format alert), at most every 250ms
// per key, plus a comment every 15s to keep proxies from closing it.
func (s *Server) stream(w nethttp.ResponseWriter, r *nethttp.Request) {
	fl, ok := w.(nethttp.Flusher)
	if !ok {
		writeError(w, 500, "streaming is not supported by this connection")
		return
	}
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		w.Header().Set("Retry-After", "10")
		writeError(w, nethttp.StatusServiceUnavailable, fmt.Sprintf("too many event-stream clients (the limit is %d); close other dashboard tabs or raise --max-stream-clients", s.cfg.MaxStreamClients))
		return
	}
	sub := s.board.subscribe(r.URL.Query().Get("symbol"))
	defer s.board.unsubscribe(sub)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(200)
	fmt.Fprint(w, "retry: 2000\n: stocklake event stream\n\n")
	fl.Flush()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		case <-keepalive.C:
			if _, err := io.WriteString(w, ": keepalive\n\n"); err != nil {
				return
			}
			fl.Flush()
		case <-sub.wake:
			for _, e := range sub.drain() {
				if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.kind, e.data); err != nil {
					return
				}
			}
			fl.Flush()
			select { // coalesce bursts
			case <-time.After(250 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	}
}

func (s *Server) needRunner(w nethttp.ResponseWriter, engine bool) bool {
	if s.runner == nil || (engine && s.cfg.Engine == nil) {
		writeError(w, 503, "the SQL console is not configured on this server; start it with --lake and --engine")
		return false
	}
	return true
}

func (s *Server) startQuery(w nethttp.ResponseWriter, r *nethttp.Request) {
	if !s.needRunner(w, true) {
		return
	}
	var req struct {
		SQL string `json:"sql"`
	}
	dec := json.NewDecoder(nethttp.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(&req); err != nil {
		writeError(w, 400, `body must be JSON like {"sql": "SELECT ..."} (at most 1 MiB): `+err.Error())
		return
	}
	if strings.TrimSpace(req.SQL) == "" {
		writeError(w, 400, `sql is empty; send {"sql": "SELECT ..."}`)
		return
	}
	// The runner refuses what is not read-only (ErrInvalid: 400).
	ex, err := s.runner.Start(s.ctx, req.SQL)
	if err != nil {
		if errors.Is(err, query.ErrQueueFull) {
			w.Header().Set("Retry-After", "5")
		}
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, 202, map[string]any{"id": ex.ID, "state": ex.State})
}

// validID accepts the UUIDs the runner makes, so no path tricks reach the lake.
var validID = regexp.MustCompile(`^[0-9a-fA-F-]{8,64}$`)

// queryView is an execution as the API shows it.
type queryView struct {
	query.Execution
	// PageIndex stays internal (it shadows Execution's).
	PageIndex *struct{} `json:"page_index,omitempty"`
	EngineMS  int64     `json:"engine_ms"`
	TotalMS   int64     `json:"total_ms"`
}

func (s *Server) view(ex query.Execution) queryView {
	return queryView{Execution: ex, EngineMS: ex.EngineTime.Milliseconds(), TotalMS: ex.TotalTime.Milliseconds()}
}

// queryID is the {id} of a query route; false (and an error answered)
// without a query runner or when it is no query ID.
func (s *Server) queryID(w nethttp.ResponseWriter, r *nethttp.Request) (string, bool) {
	if !s.needRunner(w, false) {
		return "", false
	}
	id := r.PathValue("id")
	if !validID.MatchString(id) {
		writeError(w, 400, fmt.Sprintf("%q is not a query ID", id))
		return "", false
	}
	return id, true
}

func (s *Server) getQuery(w nethttp.ResponseWriter, r *nethttp.Request) {
	id, ok := s.queryID(w, r)
	if !ok {
		return
	}
	offset, ok := intParam(w, r, "offset", 0, int(s.cfg.MaxRows))
	if !ok {
		return
	}
	limit, ok := intParam(w, r, "limit", DefaultPageSize, MaxPageSize)
	if !ok {
		return
	}
	ex, err := s.runner.Get(r.Context(), id)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	out := map[string]any{"query": s.view(ex)}
	if ex.State == stocklake.QuerySucceeded {
		rows, err := s.runner.ResultsPage(r.Context(), id, int64(offset), int64(limit))
		if err != nil {
			writeError(w, statusOf(err), err.Error())
			return
		}
		defer rows.Close()
		cols := rows.Columns()
		page := [][]*string{}
		for len(page) < limit && rows.Next() {
			vals := rows.Values()
			row := make([]*string, len(vals))
			for j, v := range vals {
				if v != nil {
					t := sqltext.FormatValue(v, cols[j].Type)
					row[j] = &t
				}
			}
			page = append(page, row)
		}
		if err := rows.Err(); err != nil {
			writeError(w, 500, "read result: "+err.Error())
			return
		}
		cv := make([]columnView, len(cols))
		for i, c := range cols {
			cv[i] = columnView{Name: c.Name, Type: c.Type}
		}
		out["columns"], out["rows"], out["offset"], out["limit"] = cv, page, offset, limit
	}
	writeJSON(w, 200, out)
}

func (s *Server) queryCSV(w nethttp.ResponseWriter, r *nethttp.Request) {
	id, ok := s.queryID(w, r)
	if !ok {
		return
	}
	rows, err := s.runner.Results(r.Context(), id)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	defer rows.Close()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+id+`.csv"`)
	if _, err := query.Write(w, rows, query.FormatCSV); err != nil {
		s.log.Warn("write CSV", "id", id, "err", err)
	}
}

func (s *Server) cancelQuery(w nethttp.ResponseWriter, r *nethttp.Request) {
	if !s.needRunner(w, false) {
		return
	}
	if !s.runner.Cancel(r.PathValue("id")) {
		writeError(w, 404, "no query with that ID is running in this server")
		return
	}
	writeJSON(w, 200, map[string]any{"id": r.PathValue("id"), "cancelled": true})
}

func (s *Server) queries(w nethttp.ResponseWriter, r *nethttp.Request) {
	if !s.needRunner(w, false) {
		return
	}
	limit, ok := intParam(w, r, "limit", 50, 1000)
	if !ok {
		return
	}
	exs, err := s.runner.List(r.Context(), limit)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	out := make([]queryView, len(exs))
	for i, ex := range exs {
		out[i] = s.view(ex)
	}
	writeJSON(w, 200, map[string]any{"queries": out})
}

func (s *Server) needCatalog(w nethttp.ResponseWriter) bool {
	if s.cfg.Catalog == nil {
		writeError(w, 503, "no catalog is configured on this server; start it with --catalog")
		return false
	}
	return true
}

func (s *Server) databases(w nethttp.ResponseWriter, r *nethttp.Request) {
	if !s.needCatalog(w) {
		return
	}
	dbs, err := s.cfg.Catalog.ListDatabases(r.Context())
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	type dbView struct {
		Name        string    `json:"name"`
		Description string    `json:"description,omitempty"`
		LocationURI string    `json:"location,omitempty"`
		CreateTime  time.Time `json:"create_time,omitzero"`
	}
	out := make([]dbView, len(dbs))
	for i, d := range dbs {
		out[i] = dbView{d.Name, d.Description, d.LocationURI, d.CreateTime}
	}
	writeJSON(w, 200, map[string]any{"databases": out})
}

// tableView is a catalog table as the API shows it.
type tableView struct {
	Database      string            `json:"database"`
	Name          string            `json:"name"`
	Columns       []columnView      `json:"columns"`
	PartitionKeys []columnView      `json:"partition_keys"`
	Location      string            `json:"location"`
	Format        string            `json:"format"`
	Version       int               `json:"version"`
	Parameters    map[string]string `json:"parameters,omitempty"`
	UpdateTime    time.Time         `json:"update_time,omitzero"`
	Partitions    *[]partitionView  `json:"partitions,omitempty"`
	PartitionN    *int              `json:"partition_count,omitempty"`
	Versions      *[]map[string]any `json:"versions,omitempty"`
}

type columnView struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Comment string `json:"comment,omitempty"`
}

type partitionView struct {
	Values   []string  `json:"values"`
	Location string    `json:"location"`
	Created  time.Time `json:"create_time,omitzero"`
}

func columns(cs []stocklake.Column) []columnView {
	out := make([]columnView, len(cs))
	for i, c := range cs {
		out[i] = columnView{c.Name, c.Type, c.Comment}
	}
	return out
}

func viewTable(t stocklake.Table) tableView {
	return tableView{Database: t.Database, Name: t.Name, Columns: columns(t.Columns), PartitionKeys: columns(t.PartitionKeys),
		Location: t.Location, Format: t.Format, Version: t.Version, Parameters: t.Parameters, UpdateTime: t.UpdateTime}
}

func (s *Server) tables(w nethttp.ResponseWriter, r *nethttp.Request) {
	if !s.needCatalog(w) {
		return
	}
	db := r.URL.Query().Get("database")
	if db == "" {
		db = s.cfg.Database
	}
	ts, err := s.cfg.Catalog.ListTables(r.Context(), db)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	out := make([]tableView, len(ts))
	for i, t := range ts {
		out[i] = viewTable(t)
	}
	writeJSON(w, 200, map[string]any{"database": db, "tables": out})
}

func (s *Server) table(w nethttp.ResponseWriter, r *nethttp.Request) {
	if !s.needCatalog(w) {
		return
	}
	limit, ok := intParam(w, r, "partitions", 500, 100_000)
	if !ok {
		return
	}
	db, name := r.PathValue("db"), r.PathValue("name")
	t, err := s.cfg.Catalog.GetTable(r.Context(), db, name)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	parts, err := s.cfg.Catalog.ListPartitions(r.Context(), db, name)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	v := viewTable(t)
	n := len(parts)
	pv := []partitionView{}
	for i := len(parts) - 1; i >= 0 && len(pv) < limit; i-- { // newest last in the catalog: show newest first
		pv = append(pv, partitionView{parts[i].Values, parts[i].Location, parts[i].CreateTime})
	}
	v.Partitions, v.PartitionN = &pv, &n
	if vs, err := s.cfg.Catalog.TableVersions(r.Context(), db, name); err == nil {
		hist := []map[string]any{}
		for _, x := range vs {
			hist = append(hist, map[string]any{"version": x.Version, "columns": len(x.Columns), "update_time": x.UpdateTime})
		}
		v.Versions = &hist
	}
	writeJSON(w, 200, v)
}

// crawlView is a crawl run as the API shows it.
type crawlView struct {
	stocklake.CrawlRun
	DurationMS int64  `json:"duration_ms"`
	Summary    string `json:"summary"`
}

func viewCrawl(c stocklake.CrawlRun) crawlView {
	return crawlView{CrawlRun: c, DurationMS: c.Duration().Milliseconds(), Summary: c.Summary()}
}

func (s *Server) crawls(w nethttp.ResponseWriter, r *nethttp.Request) {
	if !s.needCatalog(w) {
		return
	}
	limit, ok := intParam(w, r, "limit", 50, 1000)
	if !ok {
		return
	}
	cl, ok := s.cfg.Catalog.(stocklake.CrawlLog)
	if !ok {
		writeJSON(w, 200, map[string]any{"crawls": []crawlView{}, "note": "this catalog keeps no crawl history"})
		return
	}
	runs, err := cl.ListCrawls(r.Context(), r.URL.Query().Get("database"), limit)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	out := make([]crawlView, len(runs))
	for i, c := range runs {
		out[i] = viewCrawl(c)
	}
	writeJSON(w, 200, map[string]any{"crawls": out})
}

// crawl runs a crawl now and answers with its run; one at a time.
func (s *Server) crawl(w nethttp.ResponseWriter, r *nethttp.Request) {
	if s.cfg.Crawl == nil {
		writeError(w, 503, "crawling is not configured on this server; start it with --lake and --catalog")
		return
	}
	s.crawlMu.Lock()
	if s.crawling {
		s.crawlMu.Unlock()
		writeError(w, 409, "a crawl is already running; wait for it and look at /api/crawls")
		return
	}
	s.crawling = true
	s.crawlMu.Unlock()
	defer func() {
		s.crawlMu.Lock()
		s.crawling = false
		s.crawlMu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Minute)
	defer cancel()
	run, err := s.cfg.Crawl(ctx)
	if err != nil {
		writeError(w, statusOf(err), "crawl failed: "+err.Error())
		return
	}
	writeJSON(w, 200, viewCrawl(run))
}

func (s *Server) health(w nethttp.ResponseWriter, r *nethttp.Request) {
	h := Health{Time: time.Now().UTC(), Status: "ok", Partitions: []PartitionLag{}}
	src := ""
	if s.cfg.Source != nil {
		src = s.cfg.Source.Name()
	}
	h.Feed = s.board.status(src)
	if s.cfg.Sink != nil {
		st := s.cfg.Sink()
		h.Sink = &st
		if st.LastError != "" {
			h.LastError = "sink: " + st.LastError
		}
	}
	if s.cfg.Tables != nil {
		ts, err := s.cfg.Tables(r.Context())
		if err != nil && !errors.Is(err, context.Canceled) {
			h.LastError = "lake tables: " + err.Error()
		}
		h.Tables = ts
	}
	if s.probe != nil {
		if err := s.probe.probe(r.Context(), &h); err != nil && !errors.Is(err, context.Canceled) {
			h.LastError = "kafka: " + err.Error()
		}
	}
	if h.LastError == "" && h.Feed.LastError != "" {
		h.LastError = "board: " + h.Feed.LastError
	}
	if h.LastError != "" {
		h.Status = "degraded"
	}
	writeJSON(w, 200, h)
}
