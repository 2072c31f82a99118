package trino

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeTrino is a Trino coordinator for tests: it speaks the client
// protocol (POST /v1/statement, then GET nextUri) and keeps a Hive catalog
// in memory, enough for the statements the Engine sends to register
// tables, plus canned answers for other queries.
type fakeTrino struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	stmts   []string              // every statement, in order
	schemas map[string]bool       // schema names
	tables  map[string]*fakeTable // "schema.table"
	folders map[string][][]string // "schema.table" -> key=value folders sync_partition_metadata finds
	canned  map[string]fakeResult // exact SQL -> answer
	results map[string]fakeResult // query id -> answer
	deleted []string              // query ids cancelled with DELETE
	hook    func(sql string) *fakeResult
}

// answerWith makes the fake answer sql with r.
func (f *fakeTrino) answerWith(sql string, r fakeResult) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.canned[sql] = r
}

type fakeTable struct {
	ddl         string
	fingerprint string
	parts       map[string][]string // joined values -> values
	locs        map[string]string   // joined values -> location registered
}

type fakeResult struct {
	cols  [][2]string // name, Trino type
	rows  [][]any
	err   *fakeError
	bytes int64
}

type fakeError struct{ name, typ, msg string }

func newFakeTrino(t *testing.T) *fakeTrino {
	f := &fakeTrino{t: t, schemas: map[string]bool{}, tables: map[string]*fakeTable{}, folders: map[string][][]string{},
		canned: map[string]fakeResult{}, results: map[string]fakeResult{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTrino) statements() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.stmts...)
}

func (f *fakeTrino) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stmts = nil
}

func (f *fakeTrino) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/statement":
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := r.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		sql := b.String()
		f.mu.Lock()
		f.stmts = append(f.stmts, sql)
		id := fmt.Sprintf("q%d", len(f.stmts))
		f.results[id] = f.answer(sql)
		f.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"id": id, "nextUri": f.srv.URL + "/v1/statement/executing/" + id + "/1",
			"stats": map[string]any{"state": "QUEUED"}})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/statement/executing/"):
		id := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/statement/executing/"), "/")[0]
		f.mu.Lock()
		res := f.results[id]
		f.mu.Unlock()
		if res.err != nil {
			json.NewEncoder(w).Encode(map[string]any{"id": id, "stats": map[string]any{"state": "FAILED"},
				"error": map[string]any{"message": res.err.msg, "errorName": res.err.name, "errorType": res.err.typ, "errorCode": 1}})
			return
		}
		cols := make([]any, len(res.cols))
		for i, c := range res.cols {
			t, err := parseTrinoType(c[1])
			if err != nil {
				f.t.Errorf("fake: type %s: %v", c[1], err)
			}
			cols[i] = map[string]any{"name": c[0], "type": c[1], "typeSignature": signature(t)}
		}
		out := map[string]any{"id": id, "columns": cols, "stats": map[string]any{"state": "FINISHED",
			"physicalInputBytes": res.bytes, "processedBytes": res.bytes, "elapsedTimeMillis": 7}}
		if len(res.rows) > 0 {
			out["data"] = res.rows
		}
		json.NewEncoder(w).Encode(out)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/query/"):
		id := strings.TrimPrefix(r.URL.Path, "/v1/query/")
		f.mu.Lock()
		res, ok := f.results[id]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"queryId": id, "state": "FINISHED", "queryStats": map[string]any{
			"elapsedTime": "7.00ms", "physicalInputDataSize": fmt.Sprintf("%dB", res.bytes)}})
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/v1/query/"):
		f.mu.Lock()
		f.deleted = append(f.deleted, strings.TrimPrefix(r.URL.Path, "/v1/query/"))
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// signature renders a parsed type as the JSON type signature Trino sends.
func signature(t *sqlType) map[string]any {
	args := []any{}
	for i, a := range t.args {
		if t.name == "row" {
			args = append(args, map[string]any{"kind": "NAMED_TYPE", "value": map[string]any{
				"fieldName": map[string]any{"name": t.fields[i]}, "typeSignature": signature(a)}})
		} else {
			args = append(args, map[string]any{"kind": "TYPE", "value": signature(a)})
		}
	}
	for _, p := range t.params {
		n, _ := strconv.ParseInt(p, 10, 64)
		args = append(args, map[string]any{"kind": "LONG", "value": n})
	}
	name := t.name
	if t.suffix != "" {
		name += " " + t.suffix
	}
	return map[string]any{"rawType": name, "arguments": args}
}

var (
	reIdent3     = `"lake"\."([^"]+)"\."([^"]+)"`
	reCreateSch  = regexp.MustCompile(`^CREATE SCHEMA IF NOT EXISTS "lake"\."([^"]+)"$`)
	reDropTable  = regexp.MustCompile(`^DROP TABLE IF EXISTS ` + reIdent3 + `$`)
	reCreateTab  = regexp.MustCompile(`(?s)^CREATE TABLE ` + reIdent3 + ` .*ARRAY\['stocklake\.fingerprint'\], ARRAY\['([0-9a-f]+)'\]\)`)
	reCall       = regexp.MustCompile(`(?s)^CALL "lake"\.system\.(\w+)\(schema_name => '([^']+)', table_name => '([^']+)'(.*)\)$`)
	reValues     = regexp.MustCompile(`partition_values => ARRAY\[([^\]]*)\]`)
	reLocation   = regexp.MustCompile(`location => '([^']*)'`)
	rePartitions = regexp.MustCompile(`^SELECT .* FROM ` + `"lake"\."([^"]+)"\."([^"$]+)\$partitions"$`)
	reProperties = regexp.MustCompile(`^SELECT "stocklake\.fingerprint" FROM "lake"\."([^"]+)"\."([^"$]+)\$properties"$`)
	reShowTables = regexp.MustCompile(`^SHOW TABLES FROM "lake"\."([^"]+)"$`)
)

var ok = fakeResult{cols: [][2]string{{"result", "boolean"}}, rows: [][]any{{true}}}

func notFound(msg string) fakeResult {
	return fakeResult{err: &fakeError{name: "TABLE_NOT_FOUND", typ: "USER_ERROR", msg: msg}}
}

// answer runs one statement against the in-memory catalog; f.mu is held.
func (f *fakeTrino) answer(sql string) fakeResult {
	if f.hook != nil {
		if r := f.hook(sql); r != nil {
			return *r
		}
	}
	if r, ok := f.canned[sql]; ok {
		return r
	}
	if sql == "SELECT 1" {
		return fakeResult{cols: [][2]string{{"_col0", "integer"}}, rows: [][]any{{1}}}
	}
	if sql == `SHOW SCHEMAS FROM "lake"` {
		r := fakeResult{cols: [][2]string{{"Schema", "varchar(8)"}}, rows: [][]any{{"information_schema"}}}
		for _, s := range sortedKeys(f.schemas) {
			r.rows = append(r.rows, []any{s})
		}
		return r
	}
	if m := reCreateSch.FindStringSubmatch(sql); m != nil {
		f.schemas[m[1]] = true
		return ok
	}
	if m := reShowTables.FindStringSubmatch(sql); m != nil {
		r := fakeResult{cols: [][2]string{{"Table", "varchar"}}}
		for _, k := range sortedKeys(f.tables) {
			if s, t, _ := strings.Cut(k, "."); s == m[1] {
				r.rows = append(r.rows, []any{t})
			}
		}
		return r
	}
	if m := reDropTable.FindStringSubmatch(sql); m != nil {
		delete(f.tables, m[1]+"."+m[2])
		return ok
	}
	if m := reCreateTab.FindStringSubmatch(sql); m != nil {
		if !f.schemas[m[1]] {
			return fakeResult{err: &fakeError{name: "SCHEMA_NOT_FOUND", typ: "USER_ERROR", msg: "Schema " + m[1] + " does not exist"}}
		}
		key := m[1] + "." + m[2]
		if _, dup := f.tables[key]; dup {
			return fakeResult{err: &fakeError{name: "TABLE_ALREADY_EXISTS", typ: "USER_ERROR", msg: "Table already exists"}}
		}
		f.tables[key] = &fakeTable{ddl: sql, fingerprint: m[3], parts: map[string][]string{}, locs: map[string]string{}}
		return ok
	}
	if m := reProperties.FindStringSubmatch(sql); m != nil {
		t := f.tables[m[1]+"."+m[2]]
		if t == nil {
			return notFound("no table")
		}
		if t.fingerprint == "" {
			return fakeResult{err: &fakeError{name: "COLUMN_NOT_FOUND", typ: "USER_ERROR", msg: "Column 'stocklake.fingerprint' cannot be resolved"}}
		}
		return fakeResult{cols: [][2]string{{"stocklake.fingerprint", "varchar"}}, rows: [][]any{{t.fingerprint}}}
	}
	if m := rePartitions.FindStringSubmatch(sql); m != nil {
		t := f.tables[m[1]+"."+m[2]]
		if t == nil {
			return notFound("no table")
		}
		n := strings.Count(sql, "CAST(")
		r := fakeResult{}
		for i := range n {
			r.cols = append(r.cols, [2]string{fmt.Sprintf("_col%d", i), "varchar"})
		}
		for _, k := range sortedKeys(t.parts) {
			var row []any
			for _, v := range t.parts[k] {
				row = append(row, v)
			}
			r.rows = append(r.rows, row)
		}
		return r
	}
	if m := reCall.FindStringSubmatch(sql); m != nil {
		t := f.tables[m[2]+"."+m[3]]
		if t == nil {
			return notFound("no table")
		}
		switch m[1] {
		case "sync_partition_metadata":
			for _, vs := range f.folders[m[2]+"."+m[3]] {
				t.parts[strings.Join(vs, partSep)] = vs
			}
			return ok
		case "register_partition", "unregister_partition":
			vm := reValues.FindStringSubmatch(m[4])
			var vs []string
			for _, v := range strings.Split(vm[1], ", ") {
				vs = append(vs, strings.Trim(v, "'"))
			}
			k := strings.Join(vs, partSep)
			if m[1] == "register_partition" {
				if _, dup := t.parts[k]; dup {
					return fakeResult{err: &fakeError{name: "ALREADY_EXISTS", typ: "USER_ERROR", msg: "Partition already exists"}}
				}
				t.parts[k] = vs
				t.locs[k] = reLocation.FindStringSubmatch(m[4])[1]
			} else {
				if _, have := t.parts[k]; !have {
					return fakeResult{err: &fakeError{name: "NOT_FOUND", typ: "USER_ERROR", msg: "Partition does not exist"}}
				}
				delete(t.parts, k)
				delete(t.locs, k)
			}
			return ok
		}
	}
	f.t.Errorf("fake Trino: unexpected statement %q", sql)
	return fakeResult{err: &fakeError{name: "NOT_SUPPORTED", typ: "USER_ERROR", msg: "fake: unexpected statement"}}
}

func (f *fakeTrino) partitions(key string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tables[key]
	if t == nil {
		return nil
	}
	var out []string
	for k := range t.parts {
		out = append(out, strings.ReplaceAll(k, partSep, "/"))
	}
	sort.Strings(out)
	return out
}
