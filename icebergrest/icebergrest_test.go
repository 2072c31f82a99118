package icebergrest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	ice "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/icebergrest"
)

// scanTable scans an iceberg-go table and returns its row count and the sum
// of its size column.
func scanTable(t *testing.T, tbl *table.Table) (int, float64) {
	t.Helper()
	_, recs, err := tbl.Scan().ToArrowRecords(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rows, sum := 0, 0.0
	for rec, err := range recs {
		if err != nil {
			t.Fatal(err)
		}
		col := rec.Column(rec.Schema().FieldIndices("size")[0]).(*array.Float64)
		for i := 0; i < col.Len(); i++ {
			sum += col.Value(i)
		}
		rows += int(rec.NumRows())
		rec.Release()
	}
	return rows, sum
}

// TestRESTClientReads: iceberg-go's REST client, a real client of the spec,
// lists namespaces and tables, loads the table the sink's commit code wrote
// and scans it to the same rows and sum as were committed; missing
// namespaces and tables are the spec's 404s.
func TestRESTClientReads(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "")
	uri := serve(t, icebergrest.Config{Catalog: f.cat, Token: testToken})
	cat, err := rest.NewCatalog(ctx, "stocklake", uri, rest.WithOAuthToken(testToken))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()

	nss, err := cat.ListNamespaces(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmtIdents(nss); got != "market other" {
		t.Errorf("namespaces: %s, want market other", got)
	}
	var tables []table.Identifier
	for id, err := range cat.ListTables(ctx, table.Identifier{"market"}) {
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, id)
	}
	if got := fmtIdents(tables); got != "market.ticks" {
		t.Errorf("tables of market: %s, want market.ticks", got)
	}
	if ok, err := cat.CheckNamespaceExists(ctx, table.Identifier{"market"}); err != nil || !ok {
		t.Errorf("namespace market exists: %v, %v", ok, err)
	}
	if ok, err := cat.CheckNamespaceExists(ctx, table.Identifier{"nope"}); err != nil || ok {
		t.Errorf("namespace nope exists: %v, %v; want false, nil", ok, err)
	}
	if ok, err := cat.CheckTableExists(ctx, table.Identifier{"market", "ticks"}); err != nil || !ok {
		t.Errorf("table market.ticks exists: %v, %v", ok, err)
	}
	if ok, err := cat.CheckTableExists(ctx, table.Identifier{"market", "nope"}); err != nil || ok {
		t.Errorf("table market.nope exists: %v, %v; want false, nil", ok, err)
	}
	if _, err := cat.LoadNamespaceProperties(ctx, table.Identifier{"market"}); err != nil {
		t.Errorf("properties of market: %v", err)
	}
	if _, err := cat.LoadNamespaceProperties(ctx, table.Identifier{"nope"}); !errors.Is(err, catalog.ErrNoSuchNamespace) {
		t.Errorf("properties of a missing namespace: %v, want ErrNoSuchNamespace", err)
	}
	for _, id := range []table.Identifier{{"market", "nope"}, {"nope", "ticks"}} {
		if _, err := cat.LoadTable(ctx, id); !errors.Is(err, catalog.ErrNoSuchTable) && !errors.Is(err, catalog.ErrNoSuchNamespace) {
			t.Errorf("loading missing %v: %v, want ErrNoSuchTable", id, err)
		}
	}

	tbl, err := cat.LoadTable(ctx, table.Identifier{"market", "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	want, err := f.cat.TableMetadata(ctx, []string{"market"}, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if tbl.MetadataLocation() != want.Location {
		t.Errorf("metadata-location %s, want the catalog's %s", tbl.MetadataLocation(), want.Location)
	}
	rows, sum := scanTable(t, tbl)
	if rows != f.rows || sum != f.sumSize {
		t.Errorf("scan through the REST catalog: %d rows, sum(size) %v; want %d, %v", rows, sum, f.rows, f.sumSize)
	}
	if snap := tbl.CurrentSnapshot(); snap == nil || snap.Summary == nil || !strings.Contains(snap.Summary.Properties[iceberg.SummaryOffsets], `"T:1":1000`) {
		t.Errorf("current snapshot %+v does not carry the offsets", snap)
	}
	// A pruned scan: only 2026-11-27's files.
	scan := tbl.Scan(table.WithRowFilter(ice.GreaterThanEqual(ice.Reference("ts"), "2026-11-27T00:00:00+00:00")))
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 2 {
		t.Errorf("a scan of 2026-11-27 plans %d files, want 2 (pruned by partition)", len(tasks))
	}
}

func fmtIdents(ids []table.Identifier) string {
	var s []string
	for _, id := range ids {
		s = append(s, strings.Join(id, "."))
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

// TestRESTReadOnly: every change through the REST API is refused with 403
// and changes nothing; the table's metadata stays where it was.
func TestRESTReadOnly(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "")
	uri := serve(t, icebergrest.Config{Catalog: f.cat})
	cat, err := rest.NewCatalog(ctx, "stocklake", uri)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	before, err := f.cat.TableMetadata(ctx, []string{"market"}, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.LoadTable(ctx, table.Identifier{"market", "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	tx := tbl.NewTransaction()
	if err := tx.SetProperties(ice.Properties{"owner": "mallory"}); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Commit(ctx)
	checks := map[string]error{"commit": err}
	checks["create namespace"] = cat.CreateNamespace(ctx, table.Identifier{"evil"}, nil)
	checks["drop namespace"] = cat.DropNamespace(ctx, table.Identifier{"other"})
	checks["drop table"] = cat.DropTable(ctx, table.Identifier{"market", "ticks"})
	_, checks["rename table"] = cat.RenameTable(ctx, table.Identifier{"market", "ticks"}, table.Identifier{"market", "gone"})
	_, checks["create table"] = cat.CreateTable(ctx, table.Identifier{"market", "new"}, ice.NewSchema(0, ice.NestedField{ID: 1, Name: "x", Type: ice.PrimitiveTypes.Int32}))
	_, checks["namespace properties"] = cat.UpdateNamespaceProperties(ctx, table.Identifier{"market"}, nil, ice.Properties{"owner": "mallory"})
	_, checks["register table"] = cat.RegisterTable(ctx, table.Identifier{"market", "reg"}, before.Location)
	// The client refuses what the server does not advertise; the server
	// refuses it too.
	for op, err := range checks {
		if !errors.Is(err, rest.ErrForbidden) && !errors.Is(err, rest.ErrEndpointNotSupported) {
			t.Errorf("%s through the REST catalog: %v, want forbidden or not advertised", op, err)
		}
	}
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/v1/namespaces", `{"namespace":["evil"]}`},
		{"DELETE", "/v1/namespaces/other", ""},
		{"POST", "/v1/namespaces/market/properties", `{"updates":{"owner":"mallory"}}`},
		{"POST", "/v1/namespaces/market/tables", `{"name":"new","schema":{"type":"struct","fields":[]}}`},
		{"POST", "/v1/namespaces/market/tables/ticks", `{"requirements":[],"updates":[{"action":"set-properties","updates":{"owner":"mallory"}}]}`},
		{"DELETE", "/v1/namespaces/market/tables/ticks", ""},
		{"DELETE", "/v1/namespaces/market/tables/ticks?purgeRequested=true", ""},
		{"POST", "/v1/namespaces/market/tables/ticks/unregister", "{}"},
		{"POST", "/v1/tables/rename", `{"source":{"namespace":["market"],"name":"ticks"},"destination":{"namespace":["market"],"name":"gone"}}`},
		{"POST", "/v1/namespaces/market/register", `{"name":"reg","metadata-location":"` + before.Location + `"}`},
		{"POST", "/v1/transactions/commit", `{"table-changes":[]}`},
		{"POST", "/v1/namespaces/market/views", "{}"},
		{"PUT", "/v1/namespaces/market/tables/ticks", "{}"},
	} {
		code, body := do(t, r.method, uri+r.path, "", r.body)
		e := errorModel(t, body)
		if code != 403 || e.Code != 403 || e.Type != "ForbiddenException" || !strings.Contains(e.Message, "--iceberg-rest-writable") {
			t.Errorf("%s %s: %d %s, want 403 ForbiddenException naming --iceberg-rest-writable", r.method, r.path, code, body)
		}
	}
	after, err := f.cat.TableMetadata(ctx, []string{"market"}, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if after.Location != before.Location {
		t.Errorf("the table's metadata moved from %s to %s through a read-only catalog", before.Location, after.Location)
	}
	if names, err := f.cat.Tables(ctx, []string{"market"}); err != nil || len(names) != 1 {
		t.Errorf("tables of market after refused changes: %v, %v", names, err)
	}
	if _, err := f.cat.NamespaceProperties(ctx, []string{"other"}); err != nil {
		t.Errorf("namespace other after a refused drop: %v", err)
	}

	// Metrics reports change nothing: accepted.
	if code, body := do(t, http.MethodPost, uri+"/v1/namespaces/market/tables/ticks/metrics", "", `{"report-type":"scan-report"}`); code != 204 {
		t.Errorf("metrics report: %d %s, want 204", code, body)
	}
}

// do sends a request and returns the status and body.
func do(t *testing.T, method, u, token, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type errModel struct {
	Message string
	Type    string
	Code    int
}

// errorModel decodes an IcebergErrorResponse, failing on any other shape.
func errorModel(t *testing.T, body string) errModel {
	t.Helper()
	var e struct {
		Error *errModel `json:"error"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error == nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Errorf("%q is not an IcebergErrorResponse: %v", body, err)
		return errModel{}
	}
	return *e.Error
}

// TestRESTErrors: 404s name the missing namespace or table in the spec's
// shape; hostile names (traversal, separators, NUL, quotes, SQL, huge) are
// just names that do not exist.
func TestRESTErrors(t *testing.T) {
	f := newFixture(t, "")
	uri := serve(t, icebergrest.Config{Catalog: f.cat})
	for _, c := range []struct {
		path, typ string
	}{
		{"/v1/namespaces/nope", "NoSuchNamespaceException"},
		{"/v1/namespaces/nope/tables", "NoSuchNamespaceException"},
		{"/v1/namespaces/nope/tables/ticks", "NoSuchNamespaceException"},
		{"/v1/namespaces/market/tables/nope", "NoSuchTableException"},
		{"/v1/namespaces?parent=nope", "NoSuchNamespaceException"},
		{"/v1/namespaces/market%1F/tables/ticks", "NoSuchNamespaceException"},
		{"/v1/namespaces/market%1Fticks", "NoSuchNamespaceException"},
		{"/v1/namespaces/market/views/v", "NoSuchViewException"},
		// Hostile names: nothing but lookups that find nothing.
		{"/v1/namespaces/..%2F..%2F..%2Fetc/tables/passwd", "NoSuchNamespaceException"},
		{"/v1/namespaces/market/tables/..%2F..%2Fcatalog.db", "NoSuchTableException"},
		{"/v1/namespaces/market/tables/ticks%00", "NoSuchTableException"},
		{"/v1/namespaces/market/tables/ticks'%20OR%20'1'%3D'1", "NoSuchTableException"},
		{"/v1/namespaces/market'--/tables/ticks", "NoSuchNamespaceException"},
		{"/v1/namespaces/market/tables/" + strings.Repeat("x", 20000), "NoSuchTableException"},
		{"/v1/namespaces/" + url.PathEscape("市场") + "/tables/ticks", "NoSuchNamespaceException"},
	} {
		code, body := do(t, http.MethodGet, uri+c.path, "", "")
		e := errorModel(t, body)
		if code != 404 || e.Code != 404 || e.Type != c.typ {
			t.Errorf("GET %.80s: %d %.200s, want 404 %s", c.path, code, body, c.typ)
		}
		if c.typ != "NoSuchViewException" && !strings.HasPrefix(c.path, "/v1/namespaces?") {
			if code, _ := do(t, http.MethodHead, uri+c.path, "", ""); code != 404 {
				t.Errorf("HEAD %.80s: %d, want 404", c.path, code)
			}
		}
	}
	for _, p := range []string{"/v1/namespaces/market", "/v1/namespaces/market/tables/ticks"} {
		if code, _ := do(t, http.MethodHead, uri+p, "", ""); code != 204 {
			t.Errorf("HEAD %s: %d, want 204", p, code)
		}
	}
	// Unknown endpoints: 404 in the same shape.
	code, body := do(t, http.MethodGet, uri+"/v1/namespaces/market/tables/ticks/plan/x", "", "")
	if e := errorModel(t, body); code != 404 || e.Code != 404 {
		t.Errorf("unknown endpoint: %d %s, want 404", code, body)
	}
	// Config advertises what is served, and no commit while read-only.
	code, body = do(t, http.MethodGet, uri+"/v1/config", "", "")
	var cfg struct {
		Defaults, Overrides map[string]string
		Endpoints           []string
	}
	if err := json.Unmarshal([]byte(body), &cfg); code != 200 || err != nil || cfg.Defaults == nil || cfg.Overrides == nil {
		t.Fatalf("config: %d %s %v", code, body, err)
	}
	if !slices.Contains(cfg.Endpoints, "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}") ||
		slices.Contains(cfg.Endpoints, "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}") {
		t.Errorf("read-only config endpoints: %v", cfg.Endpoints)
	}
}

// TestRESTToken: with a token, every request needs it (401 in the spec's
// shape otherwise, never a token in the URL); the OAuth endpoint hands it
// to a client that presents it as its secret, so iceberg-go configured with
// credential=ID:TOKEN works, and refuses any other secret.
func TestRESTToken(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "")
	uri := serve(t, icebergrest.Config{Catalog: f.cat, Token: testToken})
	for _, p := range []string{"/v1/config", "/v1/namespaces", "/v1/namespaces/market/tables/ticks", "/v1/config?token=" + testToken} {
		for _, tok := range []string{"", "wrong-token-wrong-token-wrong"} {
			code, body := do(t, http.MethodGet, uri+p, tok, "")
			if e := errorModel(t, body); code != 401 || e.Type != "NotAuthorizedException" {
				t.Errorf("GET %s with token %q: %d %s, want 401 NotAuthorizedException", p, tok, code, body)
			}
		}
	}
	if code, body := do(t, http.MethodGet, uri+"/v1/namespaces/market/tables/ticks", testToken, ""); code != 200 || !strings.Contains(body, `"metadata-location"`) {
		t.Errorf("load with the token: %d %.200s", code, body)
	}
	if _, err := rest.NewCatalog(ctx, "stocklake", uri); !errors.Is(err, rest.ErrUnauthorized) {
		t.Errorf("a client without the token: %v, want unauthorized", err)
	}
	if _, err := rest.NewCatalog(ctx, "stocklake", uri, rest.WithOAuthToken("wrong-token-wrong-token-wrong")); !errors.Is(err, rest.ErrUnauthorized) {
		t.Errorf("a client with a wrong token: %v, want unauthorized", err)
	}
	cat, err := rest.NewCatalog(ctx, "stocklake", uri, rest.WithCredential("spark:"+testToken))
	if err != nil {
		t.Fatalf("a client with credential=spark:TOKEN: %v", err)
	}
	defer cat.Close()
	tbl, err := cat.LoadTable(ctx, table.Identifier{"market", "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	if rows, _ := scanTable(t, tbl); rows != f.rows {
		t.Errorf("scan with an OAuth-issued token: %d rows, want %d", rows, f.rows)
	}
	bad, err := rest.NewCatalog(ctx, "stocklake", uri, rest.WithCredential("spark:not-the-token-at-all"))
	if err == nil {
		_, err = bad.ListNamespaces(ctx, nil)
		bad.Close()
	}
	if err == nil {
		t.Errorf("a client with a wrong credential listed namespaces")
	}
	// The OAuth endpoint wants a form.
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"x"}, "client_secret": {testToken}}
	resp, err := http.Post(uri+"/v1/oauth/tokens", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || tok.AccessToken != testToken || tok.TokenType != "bearer" {
		t.Errorf("client_credentials with the token: %d %+v %v", resp.StatusCode, tok, err)
	}
	form.Set("client_secret", testToken+"x")
	resp, err = http.Post(uri+"/v1/oauth/tokens", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || strings.Contains(string(b), testToken) {
		t.Errorf("client_credentials with a wrong secret: %d %s, want 401 without the token", resp.StatusCode, b)
	}
}

// TestRESTTableConfig: an s3:// table's config tells clients the endpoint,
// region and path-style access, and carries keys only when the server is
// configured to hand them out; a file:// table's config is empty.
func TestRESTTableConfig(t *testing.T) {
	fake := &fakeCatalog{loc: "s3://bucket/lake/market.db/ticks/metadata/00001-x.metadata.json"}
	load := func(cfg icebergrest.Config) map[string]string {
		t.Helper()
		cfg.Catalog = fake
		code, body := do(t, http.MethodGet, serve(t, cfg)+"/v1/namespaces/market/tables/ticks", "", "")
		var res struct {
			Config map[string]string
		}
		if err := json.Unmarshal([]byte(body), &res); code != 200 || err != nil {
			t.Fatalf("load: %d %s %v", code, body, err)
		}
		return res.Config
	}
	c := load(icebergrest.Config{S3Endpoint: "http://127.0.0.1:9000", S3Region: "eu-west-3"})
	if c["s3.endpoint"] != "http://127.0.0.1:9000" || c["s3.path-style-access"] != "true" || c["client.region"] != "eu-west-3" || c["s3.region"] != "eu-west-3" {
		t.Errorf("s3 table config %v: want the endpoint, path-style and the region", c)
	}
	for k := range c {
		if strings.Contains(k, "secret") || strings.Contains(k, "access-key") || strings.Contains(k, "token") {
			t.Errorf("s3 table config hands out %s without being told to", k)
		}
	}
	c = load(icebergrest.Config{Credentials: func(context.Context) (icebergrest.Credentials, error) {
		return icebergrest.Credentials{AccessKeyID: "AK", SecretAccessKey: "SK", SessionToken: "ST"}, nil
	}})
	if c["s3.access-key-id"] != "AK" || c["s3.secret-access-key"] != "SK" || c["s3.session-token"] != "ST" || c["client.region"] != "us-east-1" {
		t.Errorf("s3 table config with credentials %v", c)
	}
	if _, ok := c["s3.endpoint"]; ok {
		t.Errorf("s3 table config names an endpoint none was configured: %v", c)
	}
	fake.loc = "file:///lake/market.db/ticks/metadata/00001-x.metadata.json"
	if c := load(icebergrest.Config{S3Endpoint: "http://x", Credentials: func(context.Context) (icebergrest.Credentials, error) {
		return icebergrest.Credentials{AccessKeyID: "AK", SecretAccessKey: "SK"}, nil
	}}); len(c) != 0 {
		t.Errorf("file:// table config %v, want none", c)
	}
}

// fakeCatalog serves one table at loc with minimal metadata.
type fakeCatalog struct{ loc string }

func (f *fakeCatalog) Namespaces(context.Context, []string) ([][]string, error) {
	return [][]string{{"market"}}, nil
}
func (f *fakeCatalog) NamespaceProperties(context.Context, []string) (map[string]string, error) {
	return map[string]string{}, nil
}
func (f *fakeCatalog) Tables(context.Context, []string) ([]string, error) {
	return []string{"ticks"}, nil
}
func (f *fakeCatalog) TableMetadata(context.Context, []string, string) (stocklake.IcebergTableMetadata, error) {
	return stocklake.IcebergTableMetadata{Location: f.loc, JSON: []byte(`{"format-version":2}`)}, nil
}
func (f *fakeCatalog) CommitTableUpdates(context.Context, []string, string, []byte, []byte) (stocklake.IcebergTableMetadata, error) {
	return stocklake.IcebergTableMetadata{}, errors.New("not here")
}

// TestRESTWritable: with Writable, a client appends a file through the REST
// catalog (iceberg-go's SQL catalog commits it); a client whose table went
// stale in the meantime is refused with 409 CommitFailed (the same
// compare-and-swap the sink's commits use); the sink's offsets and fencing
// are untouched by foreign snapshots; creating and dropping stay refused.
func TestRESTWritable(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "")
	uri := serve(t, icebergrest.Config{Catalog: f.cat, Writable: true})
	cat, err := rest.NewCatalog(ctx, "stocklake", uri)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	ident := table.Identifier{"market", "ticks"}
	a, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	extra := ticks(250, 2, "rest")
	path := strings.TrimPrefix(f.tbl.DataFileURL(&extra[0], "from-rest.parquet"), "file://")
	writeFile(t, path, encodeTicks(t, extra))
	tx := a.NewTransaction()
	if err := tx.AddFiles(ctx, []string{"file://" + path}, nil, false); err != nil {
		t.Fatal(err)
	}
	a, err = tx.Commit(ctx)
	if err != nil {
		t.Fatalf("append through a writable REST catalog: %v", err)
	}
	if rows, _ := scanTable(t, a); rows != f.rows+250 {
		t.Errorf("after the REST append: %d rows, want %d", rows, f.rows+250)
	}
	md, err := f.cat.TableMetadata(ctx, []string{"market"}, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if md.Location != a.MetadataLocation() {
		t.Errorf("the catalog points at %s, the commit answered %s", md.Location, a.MetadataLocation())
	}

	tx = stale.NewTransaction()
	if err := tx.AddFiles(ctx, []string{"file://" + path}, nil, true); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); !errors.Is(err, table.ErrCommitFailed) || !strings.Contains(err.Error(), "CommitFailedException") {
		t.Errorf("a commit on a stale table: %v, want CommitFailed (409)", err)
	}
	code, body := do(t, http.MethodPost, uri+"/v1/namespaces/market/tables/ticks", "",
		`{"requirements":[{"type":"assert-ref-snapshot-id","ref":"main","snapshot-id":1}],"updates":[]}`)
	if e := errorModel(t, body); code != 409 || e.Type != "CommitFailedException" {
		t.Errorf("a failed requirement: %d %s, want 409 CommitFailedException", code, body)
	}
	code, body = do(t, http.MethodPost, uri+"/v1/namespaces/market/tables/ticks", "", `{"requirements":[{"type":"assert-nonsense"}],"updates":[]}`)
	if e := errorModel(t, body); code != 400 || e.Type != "BadRequestException" {
		t.Errorf("an unknown requirement: %d %s, want 400", code, body)
	}
	code, body = do(t, http.MethodPost, uri+"/v1/namespaces/market/tables/nope", "", `{"requirements":[],"updates":[{"action":"set-properties","updates":{"a":"b"}}]}`)
	if e := errorModel(t, body); code != 404 || e.Type != "NoSuchTableException" {
		t.Errorf("a commit to a missing table: %d %s, want 404 NoSuchTableException", code, body)
	}
	if names, _ := f.cat.Tables(ctx, []string{"market"}); len(names) != 1 {
		t.Errorf("a commit to a missing table created one: %v", names)
	}
	code, body = do(t, http.MethodPost, uri+"/v1/namespaces/market/tables", "", `{"name":"new","schema":{"type":"struct","fields":[]}}`)
	if e := errorModel(t, body); code != 403 || !strings.Contains(e.Message, "commits only") {
		t.Errorf("create table on a writable catalog: %d %s, want 403", code, body)
	}

	// The sink's offsets survive the foreign snapshot, and fencing holds.
	offs, err := f.tbl.Offsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if offs[stocklake.TopicPartition{TopicID: "T", Partition: 1}] != 1000 {
		t.Errorf("offsets after a REST append: %v, want T:1 at 1000", offs)
	}
	if _, err := f.tbl.Commit(ctx, nil, []stocklake.OffsetRange{{TopicPartition: stocklake.TopicPartition{TopicID: "T", Partition: 1}, Start: 999, End: 1001}}); !errors.Is(err, stocklake.ErrFenced) {
		t.Errorf("a sink commit from a wrong offset after a REST append: %v, want ErrFenced", err)
	}
	f.commit(t, []stocklake.OffsetRange{{TopicPartition: stocklake.TopicPartition{TopicID: "T", Partition: 1}, Start: 1000, End: 1010}}, ticks(10, 3, "d"))
	b, err := cat.LoadTable(ctx, ident)
	if err != nil {
		t.Fatal(err)
	}
	if rows, _ := scanTable(t, b); rows != f.rows+250 {
		t.Errorf("after REST and sink commits: %d rows, want %d", rows, f.rows+250)
	}
}
