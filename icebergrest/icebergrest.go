// Package icebergrest serves the Apache Iceberg REST catalog API (the
// OpenAPI spec open-api/rest-catalog-open-api.yaml of apache/iceberg) over a
// stocklake.IcebergCatalog, stocklake's embedded SQLite catalog, so Trino,
// Spark, pyiceberg, DuckDB and iceberg-go attach to the lake's Iceberg
// tables by URL. `stocklake serve --iceberg-rest` mounts it at /iceberg on
// the dashboard's listener, behind the same Host guard, token and TLS.
//
// What it serves (paths relative to the catalog URI; no prefix):
//
//	GET  /v1/config                                   defaults, overrides, the endpoints below
//	POST /v1/oauth/tokens                             the configured token, for clients given credential=…:TOKEN
//	GET  /v1/namespaces[?parent=A%1FB]                one level of namespaces (paged, see below)
//	GET  /v1/namespaces/{ns}, HEAD                    properties, existence
//	GET  /v1/namespaces/{ns}/tables                   table identifiers (paged)
//	GET  /v1/namespaces/{ns}/tables/{t}, HEAD         metadata-location, metadata, config (file IO), existence
//	POST /v1/namespaces/{ns}/tables/{t}/metrics       scan and commit reports, accepted and dropped (204)
//	GET  /v1/namespaces/{ns}/views                    always empty
//	POST /v1/namespaces/{ns}/tables/{t}               commits (requirements + updates), only with Config.Writable
//
// Read-only by default: every other request that would change the catalog
// (create, drop, rename, register, namespace changes, multi-table
// transactions, and commits unless Config.Writable) answers 403 with the
// spec's ErrorModel. Errors are always {"error": {"message", "type",
// "code"}}: 404 NoSuchNamespaceException / NoSuchTableException, 401
// NotAuthorizedException, 409 CommitFailedException, and so on.
//
// Lists are paged as the spec says: with a pageToken parameter (empty for
// the first page) or a pageSize (pyiceberg and iceberg-go send only that on
// their first request), at most pageSize (default DefaultPageSize, at most
// MaxPageSize) items sorted by name, and "next-page-token" names the next
// page (null on the last); without either, everything at once. A pageSize
// that is not a whole number from 1, or a token not issued here, is 400.
//
// Security: with Config.Token set, every request but the OAuth token
// endpoint must carry "Authorization: Bearer TOKEN". Table configs tell
// clients how to reach an s3:// lake (endpoint, region, path-style) and
// never carry secrets unless Config.Credentials is set.
package icebergrest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/internal/bearer"
	"github.com/stocklake/stocklake/internal/pagination"
)

// NamespaceSeparator separates the parts of a multi-level namespace in a
// path or the parent parameter: the spec's default, the unit separator 0x1F
// (%1F in URLs).
const NamespaceSeparator = "\x1f"

// DefaultPageSize is the size of a page of a list asked for with a
// pageToken but no pageSize; MaxPageSize bounds a page (a larger pageSize
// gets pages of MaxPageSize: the spec makes it an upper bound).
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// MaxBodyBytes bounds a request body (a commit, an OAuth form): 8 MiB.
const MaxBodyBytes = 8 << 20

// Credentials are S3 credentials handed to clients in table configs.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Config configures a Server.
type Config struct {
	// Catalog is the catalog served; required.
	Catalog stocklake.IcebergCatalog
	// Token, when set, is the bearer token every request must carry (the
	// OAuth token endpoint hands it out to clients that present it as
	// their client secret). Empty: no authentication, for loopback use.
	Token string
	// Writable allows table commits (POST .../tables/{table}); default off:
	// the catalog is read-only.
	Writable bool

	// S3Endpoint, S3Region and S3PathStyle tell clients how to reach the
	// data files of tables whose metadata lives on s3://: they are sent in
	// every such table's config as s3.endpoint, client.region / s3.region
	// and s3.path-style-access. Empty S3Region: us-east-1. An endpoint
	// (an S3-compatible server) implies path-style.
	S3Endpoint  string
	S3Region    string
	S3PathStyle bool
	// Credentials, when set, is asked for S3 credentials on every load of
	// an s3:// table, and they are sent in the table's config
	// (s3.access-key-id, s3.secret-access-key, s3.session-token), so
	// clients need no keys of their own. Default nil: no secrets leave the
	// server.
	Credentials func(ctx context.Context) (Credentials, error)

	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Server is the REST catalog: an http.Handler for paths starting /v1/
// (mount it with http.StripPrefix under a path of your choice).
type Server struct {
	cfg Config
	mux *http.ServeMux
	log *slog.Logger
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Catalog == nil {
		return nil, fmt.Errorf("icebergrest: no catalog to serve: %w", stocklake.ErrConfig)
	}
	if cfg.S3Region == "" {
		cfg.S3Region = "us-east-1"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	s.routes()
	return s, nil
}

// ServeHTTP serves a request whose path starts with /v1/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !(r.Method == http.MethodPost && r.URL.Path == "/v1/oauth/tokens") && !bearer.Authorized(r, s.cfg.Token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="stocklake"`)
		writeError(w, http.StatusUnauthorized, "NotAuthorizedException",
			"missing or wrong bearer token: configure the client with token=TOKEN (pyiceberg, Spark, iceberg-go) or iceberg.rest-catalog.oauth2.token (Trino)")
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	}
	s.mux.ServeHTTP(w, r)
}

// endpoints are the operations advertised in /v1/config, in the spec's
// "METHOD /v1/{prefix}/..." form.
func (s *Server) endpoints() []string {
	eps := []string{
		"GET /v1/{prefix}/namespaces",
		"GET /v1/{prefix}/namespaces/{namespace}",
		"HEAD /v1/{prefix}/namespaces/{namespace}",
		"GET /v1/{prefix}/namespaces/{namespace}/tables",
		"GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
		"HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
		"POST /v1/{prefix}/namespaces/{namespace}/tables/{table}/metrics",
		"GET /v1/{prefix}/namespaces/{namespace}/views",
	}
	if s.cfg.Writable {
		eps = append(eps, "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}")
	}
	return eps
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/config", s.config)
	m.HandleFunc("POST /v1/oauth/tokens", s.oauthToken)
	m.HandleFunc("GET /v1/namespaces", s.listNamespaces)
	m.HandleFunc("GET /v1/namespaces/{namespace}", s.loadNamespace)
	m.HandleFunc("HEAD /v1/namespaces/{namespace}", s.loadNamespace)
	m.HandleFunc("GET /v1/namespaces/{namespace}/tables", s.listTables)
	m.HandleFunc("GET /v1/namespaces/{namespace}/tables/{table}", s.loadTable)
	m.HandleFunc("HEAD /v1/namespaces/{namespace}/tables/{table}", s.tableExists)
	m.HandleFunc("POST /v1/namespaces/{namespace}/tables/{table}", s.commitTable)
	m.HandleFunc("POST /v1/namespaces/{namespace}/tables/{table}/metrics", s.reportMetrics)
	m.HandleFunc("GET /v1/namespaces/{namespace}/views", s.listViews)
	m.HandleFunc("GET /v1/namespaces/{namespace}/views/{view}", s.loadView)
	m.HandleFunc("/", s.other)
	s.mux = m
}

// errorModel is the spec's ErrorModel, inside IcebergErrorResponse.
type errorModel struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    int    `json:"code"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]errorModel{"error": {Message: msg, Type: typ, Code: status}})
}

// fail answers an error from the catalog by its sentinel; notFound is the
// exception type of a missing object (NoSuchTableException, ...).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error, notFound string) {
	switch {
	case errors.Is(err, stocklake.ErrNotFound):
		writeError(w, http.StatusNotFound, notFound, err.Error())
	case errors.Is(err, stocklake.ErrInvalid):
		writeError(w, http.StatusBadRequest, "BadRequestException", err.Error())
	case errors.Is(err, stocklake.ErrPrecondition):
		writeError(w, http.StatusConflict, "CommitFailedException", err.Error())
	case errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", "the request was canceled")
	default:
		s.log.Warn("iceberg REST catalog", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", err.Error()+"; retry later")
	}
}

// namespace decodes the {namespace} path parameter: parts separated by
// NamespaceSeparator. An empty part is a namespace that cannot exist.
func namespace(r *http.Request) []string {
	return splitNamespace(r.PathValue("namespace"))
}

func splitNamespace(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, NamespaceSeparator)
}

func validNamespace(ns []string) bool {
	if len(ns) == 0 {
		return false
	}
	for _, p := range ns {
		if p == "" {
			return false
		}
	}
	return true
}

func (s *Server) config(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"defaults":  map[string]string{},
		"overrides": map[string]string{},
		"endpoints": s.endpoints(),
	})
}

// oauthToken is the spec's deprecated /v1/oauth/tokens: clients configured
// with credential=CLIENT_ID:SECRET (or a token to exchange) get the
// configured token when SECRET (or the token) is that token. There is no
// other identity: the token is the only secret.
func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request) {
	oauthError := func(status int, code, desc string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		oauthError(http.StatusBadRequest, "invalid_request", "send the token request as application/x-www-form-urlencoded")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(http.StatusBadRequest, "invalid_request", "unreadable token request: "+err.Error())
		return
	}
	if s.cfg.Token == "" {
		oauthError(http.StatusBadRequest, "invalid_request", "this catalog has no token: configure the client without credential or token")
		return
	}
	var presented string
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "client_credentials":
		presented = r.PostForm.Get("client_secret")
	case "urn:ietf:params:oauth:grant-type:token-exchange":
		presented = r.PostForm.Get("subject_token")
	default:
		oauthError(http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q: use client_credentials with the server's token as the client secret", gt))
		return
	}
	if !bearer.Equal(presented, s.cfg.Token) {
		oauthError(http.StatusUnauthorized, "invalid_client", "wrong client secret: give the server's --token as the credential (CLIENT_ID:TOKEN or TOKEN)")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token":      s.cfg.Token,
		"token_type":        "bearer",
		"issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
	})
}

func (s *Server) listNamespaces(w http.ResponseWriter, r *http.Request) {
	parent := splitNamespace(r.URL.Query().Get("parent"))
	if len(parent) > 0 && !validNamespace(parent) {
		writeError(w, http.StatusNotFound, "NoSuchNamespaceException", fmt.Sprintf("namespace %q does not exist", r.URL.Query().Get("parent")))
		return
	}
	nss, err := s.cfg.Catalog.Namespaces(r.Context(), parent)
	if err != nil {
		s.fail(w, r, err, "NoSuchNamespaceException")
		return
	}
	byKey := make(map[string][]string, len(nss))
	keys := make([]string, 0, len(nss))
	for _, ns := range nss {
		k := strings.Join(ns, NamespaceSeparator)
		byKey[k] = ns
		keys = append(keys, k)
	}
	keys, next, ok := page(w, r, keys)
	if !ok {
		return
	}
	out := make([][]string, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	writeJSON(w, http.StatusOK, map[string]any{"namespaces": out, "next-page-token": next})
}

// page returns the page of keys a list request asks for (see the package
// documentation): keys sorted, all of them unless the request has a
// pageToken or a pageSize, and the next page's token (nil: JSON null, no
// more). ok is false when the request's paging parameters are wrong: a 400
// is answered.
func page(w http.ResponseWriter, r *http.Request, keys []string) (out []string, next *string, ok bool) {
	slices.Sort(keys)
	keys = slices.Compact(keys)
	q := r.URL.Query()
	size, err := pagination.Param(q, "pageSize", DefaultPageSize, 1, math.MaxInt32)
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequestException", err.Error())
		return nil, nil, false
	}
	if _, paged := q["pageToken"]; !paged && q.Get("pageSize") == "" {
		return keys, nil, true
	}
	out, tok, err := pagination.Page(keys, q.Get("pageToken"), min(size, MaxPageSize))
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequestException", "pageToken: "+err.Error())
		return nil, nil, false
	}
	if tok != "" {
		next = &tok
	}
	return out, next, true
}

// namespaceParam is the {namespace} of a route; false (and a 404
// answered) when it cannot name a namespace.
func namespaceParam(w http.ResponseWriter, r *http.Request) ([]string, bool) {
	ns := namespace(r)
	if !validNamespace(ns) {
		writeError(w, http.StatusNotFound, "NoSuchNamespaceException", "empty namespace")
		return nil, false
	}
	return ns, true
}

// existingNamespace is the {namespace} of a route and its properties;
// false (and a 404 or another error answered) unless it exists.
func (s *Server) existingNamespace(w http.ResponseWriter, r *http.Request) ([]string, map[string]string, bool) {
	ns, ok := namespaceParam(w, r)
	if !ok {
		return nil, nil, false
	}
	props, err := s.cfg.Catalog.NamespaceProperties(r.Context(), ns)
	if err != nil {
		s.fail(w, r, err, "NoSuchNamespaceException")
		return nil, nil, false
	}
	return ns, props, true
}

// loadNamespace serves GET (properties) and HEAD (existence).
func (s *Server) loadNamespace(w http.ResponseWriter, r *http.Request) {
	ns, props, ok := s.existingNamespace(w, r)
	if !ok {
		return
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"namespace": ns, "properties": props})
}

type tableIdentifier struct {
	Namespace []string `json:"namespace"`
	Name      string   `json:"name"`
}

func (s *Server) listTables(w http.ResponseWriter, r *http.Request) {
	ns, ok := namespaceParam(w, r)
	if !ok {
		return
	}
	names, err := s.cfg.Catalog.Tables(r.Context(), ns)
	if err != nil {
		s.fail(w, r, err, "NoSuchNamespaceException")
		return
	}
	names, next, ok := page(w, r, names)
	if !ok {
		return
	}
	ids := make([]tableIdentifier, len(names))
	for i, n := range names {
		ids[i] = tableIdentifier{Namespace: ns, Name: n}
	}
	writeJSON(w, http.StatusOK, map[string]any{"identifiers": ids, "next-page-token": next})
}

// listViews answers an empty list for an existing namespace: stocklake
// keeps no views, and engines list them beside tables.
func (s *Server) listViews(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := s.existingNamespace(w, r); !ok {
		return
	}
	if _, _, ok := page(w, r, nil); !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"identifiers": []tableIdentifier{}, "next-page-token": nil})
}

func (s *Server) loadView(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "NoSuchViewException", fmt.Sprintf("view %q does not exist: this catalog keeps no views", r.PathValue("view")))
}

// tableErr answers a table operation's error: a missing table in a missing
// namespace is NoSuchNamespaceException, as Java's clients expect.
func (s *Server) tableErr(w http.ResponseWriter, r *http.Request, ns []string, err error) {
	if errors.Is(err, stocklake.ErrNotFound) {
		if _, nerr := s.cfg.Catalog.NamespaceProperties(r.Context(), ns); errors.Is(nerr, stocklake.ErrNotFound) {
			s.fail(w, r, nerr, "NoSuchNamespaceException")
			return
		}
	}
	s.fail(w, r, err, "NoSuchTableException")
}

// tableParams returns the namespace and table of a table route; false (and
// a 404 answered) when they cannot name a table.
func tableParams(w http.ResponseWriter, r *http.Request) ([]string, string, bool) {
	ns, ok := namespaceParam(w, r)
	if !ok {
		return nil, "", false
	}
	name := r.PathValue("table")
	if name == "" {
		writeError(w, http.StatusNotFound, "NoSuchTableException", "empty table name")
		return nil, "", false
	}
	return ns, name, true
}

// loadTableResult is the spec's LoadTableResult (and CommitTableResponse,
// which has no config).
type loadTableResult struct {
	MetadataLocation string            `json:"metadata-location"`
	Metadata         json.RawMessage   `json:"metadata"`
	Config           map[string]string `json:"config,omitempty"`
}

func (s *Server) loadTable(w http.ResponseWriter, r *http.Request) {
	ns, name, ok := tableParams(w, r)
	if !ok {
		return
	}
	md, err := s.cfg.Catalog.TableMetadata(r.Context(), ns, name)
	if err != nil {
		s.tableErr(w, r, ns, err)
		return
	}
	conf, err := s.tableConfig(r.Context(), md.Location)
	if err != nil {
		s.fail(w, r, err, "NoSuchTableException")
		return
	}
	writeJSON(w, http.StatusOK, loadTableResult{MetadataLocation: md.Location, Metadata: md.JSON, Config: conf})
}

func (s *Server) tableExists(w http.ResponseWriter, r *http.Request) {
	ns, name, ok := tableParams(w, r)
	if !ok {
		return
	}
	names, err := s.cfg.Catalog.Tables(r.Context(), ns)
	if err != nil {
		s.fail(w, r, err, "NoSuchTableException")
		return
	}
	for _, n := range names {
		if n == name {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	w.WriteHeader(http.StatusNotFound)
}

// tableConfig is the config of a LoadTableResult: how to reach the files
// of a table whose metadata is at loc.
func (s *Server) tableConfig(ctx context.Context, loc string) (map[string]string, error) {
	u, err := url.Parse(loc)
	if err != nil || (u.Scheme != "s3" && u.Scheme != "s3a") {
		return map[string]string{}, nil
	}
	c := map[string]string{"client.region": s.cfg.S3Region, "s3.region": s.cfg.S3Region}
	if s.cfg.S3Endpoint != "" {
		c["s3.endpoint"] = s.cfg.S3Endpoint
	}
	if s.cfg.S3Endpoint != "" || s.cfg.S3PathStyle {
		c["s3.path-style-access"] = "true"
		c["s3.force-virtual-addressing"] = "false"
	}
	if s.cfg.Credentials != nil {
		cr, err := s.cfg.Credentials(ctx)
		if err != nil {
			return nil, fmt.Errorf("icebergrest: S3 credentials to hand out: %v: %w", err, stocklake.ErrUnavailable)
		}
		if cr.AccessKeyID != "" {
			c["s3.access-key-id"] = cr.AccessKeyID
			c["s3.secret-access-key"] = cr.SecretAccessKey
		}
		if cr.SessionToken != "" {
			c["s3.session-token"] = cr.SessionToken
		}
	}
	return c, nil
}

// reportMetrics accepts a client's scan or commit report and drops it: it
// changes nothing, and answering 403 would make clients log warnings.
func (s *Server) reportMetrics(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.WriteHeader(http.StatusNoContent)
}

// commitTableRequest is the spec's CommitTableRequest.
type commitTableRequest struct {
	Identifier   *tableIdentifier `json:"identifier,omitempty"`
	Requirements json.RawMessage  `json:"requirements"`
	Updates      json.RawMessage  `json:"updates"`
}

func (s *Server) commitTable(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.Writable {
		s.readOnly(w, r)
		return
	}
	ns, name, ok := tableParams(w, r)
	if !ok {
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusBadRequest, "BadRequestException", "send the commit as Content-Type: application/json")
		return
	}
	var req commitTableRequest
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequestException", "unreadable CommitTableRequest: "+err.Error())
		return
	}
	if req.Identifier != nil && (req.Identifier.Name != name || strings.Join(req.Identifier.Namespace, NamespaceSeparator) != strings.Join(ns, NamespaceSeparator)) {
		writeError(w, http.StatusBadRequest, "BadRequestException", "the request's identifier names another table than its path")
		return
	}
	md, err := s.cfg.Catalog.CommitTableUpdates(r.Context(), ns, name, req.Requirements, req.Updates)
	if err != nil {
		switch {
		case errors.Is(err, stocklake.ErrNotFound), errors.Is(err, stocklake.ErrInvalid), errors.Is(err, stocklake.ErrPrecondition):
			s.tableErr(w, r, ns, err)
		default:
			// The metadata may have been written and swapped in: the client
			// must check before retrying.
			s.log.Warn("iceberg REST commit", "table", strings.Join(append(ns, name), "."), "err", err)
			writeError(w, http.StatusInternalServerError, "CommitStateUnknownException", err.Error())
		}
		return
	}
	writeJSON(w, http.StatusOK, loadTableResult{MetadataLocation: md.Location, Metadata: md.JSON})
}

func (s *Server) readOnly(w http.ResponseWriter, r *http.Request) {
	msg := fmt.Sprintf("%s %s: this Iceberg REST catalog is read-only", r.Method, r.URL.Path)
	if s.cfg.Writable {
		msg = fmt.Sprintf("%s %s: this Iceberg REST catalog allows table commits only (no creating, dropping or renaming tables or namespaces)", r.Method, r.URL.Path)
	} else {
		msg += "; start stocklake serve with --iceberg-rest-writable to allow table commits"
	}
	writeError(w, http.StatusForbidden, "ForbiddenException", msg)
}

// other answers everything not served: requests that would change the
// catalog get 403 (read-only), anything else 404.
func (s *Server) other(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		writeError(w, http.StatusNotFound, "NoSuchEndpointException",
			fmt.Sprintf("%s %s is not served by this catalog; GET /v1/config lists its endpoints", r.Method, r.URL.Path))
	default:
		s.readOnly(w, r)
	}
}
