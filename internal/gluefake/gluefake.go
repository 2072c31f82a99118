// Package gluefake is an in-process stand-in for the part of the AWS Glue
// API that stocklake's glue package and iceberg-go's Glue catalog use, for
// unit tests.
package gluefake

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server speaks Glue's JSON protocol at its URL. Unlike moto it enforces
// Glue's batch limits, paginates every listing in small pages (Page items),
// numbers table versions from 0 and refuses an UpdateTable whose VersionId
// is not the table's current one (ConcurrentModificationException), as AWS
// Glue does. It is only an extra to the integration tests against
// scripts/glue.
type Server struct {
	*httptest.Server
	// BeforeUpdateTable, when set, runs at the start of every UpdateTable
	// request, before the server reads the table, with the request's
	// database and table names: a test makes another writer commit there
	// to race a compare-and-swap. Set it before the requests start.
	BeforeUpdateTable func(database, table string)
	// DropAnswer, when set, is asked after every request is carried out
	// with its operation's name (CreateTable, ...): true closes the
	// connection without an answer, as a network that loses a response
	// does, so the client retries a request that took effect. Set it
	// before the requests start.
	DropAnswer func(op string) bool

	mu     sync.Mutex
	dbs    map[string]obj
	tables map[string]map[string]*fakeTable // database -> name
	calls  map[string]int
	sizes  map[string][]int // batch sizes per operation
}

type obj = map[string]any

type fakeTable struct {
	created  float64
	versions []obj // TableInput per version, oldest first; ids from 0
	parts    map[string]obj
}

// Page is how many items a listing returns per page.
const Page = 7

// New starts a Server, stopped when the test ends.
func New(t testing.TB) *Server {
	f := &Server{dbs: map[string]obj{}, tables: map[string]map[string]*fakeTable{}, calls: map[string]int{}, sizes: map[string][]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

type fakeError struct{ code, msg string }

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSGlue.")
	var in obj
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	if op == "UpdateTable" && f.BeforeUpdateTable != nil {
		ti, _ := in["TableInput"].(obj)
		f.BeforeUpdateTable(lower(in["DatabaseName"]), lower(ti["Name"]))
	}
	f.mu.Lock()
	f.calls[op]++
	out, ferr := f.do(op, in)
	f.mu.Unlock()
	if f.DropAnswer != nil && f.DropAnswer(op) {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if ferr != nil {
		w.Header().Set("X-Amzn-ErrorType", ferr.code)
		w.WriteHeader(400)
		json.NewEncoder(w).Encode(obj{"__type": ferr.code, "Message": ferr.msg})
		return
	}
	json.NewEncoder(w).Encode(out)
}

func str(v any) string { s, _ := v.(string); return s }

func lower(v any) string { return strings.ToLower(str(v)) }

func now() float64 { return float64(time.Now().UnixMilli()) / 1000 }

func values(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, str(x))
	}
	return out
}

func partKey(v any) string { return strings.Join(values(v), "\x00") }

// page returns items[from NextToken] of at most Page and the next token.
func page[T any](in obj, items []T) ([]T, any) {
	start, _ := strconv.Atoi(str(in["NextToken"]))
	end := min(start+Page, len(items))
	var next any
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[start:end], next
}

func (f *Server) table(in obj, nameKey string) (*fakeTable, *fakeError) {
	db := lower(in["DatabaseName"])
	if _, ok := f.dbs[db]; !ok {
		return nil, &fakeError{"EntityNotFoundException", "Database " + db + " not found."}
	}
	t, ok := f.tables[db][lower(in[nameKey])]
	if !ok {
		return nil, &fakeError{"EntityNotFoundException", "Table " + lower(in[nameKey]) + " not found."}
	}
	return t, nil
}

func (f *Server) tableOut(db, name string, t *fakeTable, v int) obj {
	o := maps.Clone(t.versions[v])
	o["Name"], o["DatabaseName"], o["CreateTime"], o["VersionId"] = name, db, t.created, strconv.Itoa(v)
	o["UpdateTime"] = t.created + float64(v)
	return o
}

func (f *Server) batch(op string, list []any, limit int) *fakeError {
	f.sizes[op] = append(f.sizes[op], len(list))
	if len(list) > limit {
		return &fakeError{"ValidationException", fmt.Sprintf("1 validation error detected: list must have length less than or equal to %d", limit)}
	}
	return nil
}

func (f *Server) do(op string, in obj) (obj, *fakeError) {
	switch op {
	case "CreateDatabase":
		d := maps.Clone(in["DatabaseInput"].(obj))
		n := lower(d["Name"])
		if _, ok := f.dbs[n]; ok {
			return nil, &fakeError{"AlreadyExistsException", "Database already exists."}
		}
		d["Name"], d["CreateTime"] = n, now()
		f.dbs[n], f.tables[n] = d, map[string]*fakeTable{}
		return obj{}, nil
	case "GetDatabase":
		d, ok := f.dbs[lower(in["Name"])]
		if !ok {
			return nil, &fakeError{"EntityNotFoundException", "Database " + lower(in["Name"]) + " not found."}
		}
		return obj{"Database": d}, nil
	case "GetDatabases":
		var list []obj
		for _, n := range slices.Sorted(maps.Keys(f.dbs)) {
			list = append(list, f.dbs[n])
		}
		items, next := page(in, list)
		return obj{"DatabaseList": items, "NextToken": next}, nil
	case "DeleteDatabase":
		n := lower(in["Name"])
		if _, ok := f.dbs[n]; !ok {
			return nil, &fakeError{"EntityNotFoundException", "Database " + n + " not found."}
		}
		delete(f.dbs, n)
		delete(f.tables, n)
		return obj{}, nil
	case "CreateTable":
		db := lower(in["DatabaseName"])
		if _, ok := f.dbs[db]; !ok {
			return nil, &fakeError{"EntityNotFoundException", "Database " + db + " not found."}
		}
		ti := in["TableInput"].(obj)
		n := lower(ti["Name"])
		if _, ok := f.tables[db][n]; ok {
			return nil, &fakeError{"AlreadyExistsException", "Table already exists."}
		}
		f.tables[db][n] = &fakeTable{created: now(), versions: []obj{ti}, parts: map[string]obj{}}
		return obj{}, nil
	case "UpdateTable":
		ti := in["TableInput"].(obj)
		t, err := f.table(obj{"DatabaseName": in["DatabaseName"], "Name": ti["Name"]}, "Name")
		if err != nil {
			return nil, err
		}
		if v, ok := in["VersionId"]; ok && str(v) != strconv.Itoa(len(t.versions)-1) {
			return nil, &fakeError{"ConcurrentModificationException", "version " + str(v) + " is not the latest"}
		}
		t.versions = append(t.versions, ti)
		return obj{}, nil
	case "GetTable":
		t, err := f.table(in, "Name")
		if err != nil {
			return nil, err
		}
		return obj{"Table": f.tableOut(lower(in["DatabaseName"]), lower(in["Name"]), t, len(t.versions)-1)}, nil
	case "GetTables":
		db := lower(in["DatabaseName"])
		if _, ok := f.dbs[db]; !ok {
			return nil, &fakeError{"EntityNotFoundException", "Database " + db + " not found."}
		}
		var list []obj
		for _, n := range slices.Sorted(maps.Keys(f.tables[db])) {
			t := f.tables[db][n]
			list = append(list, f.tableOut(db, n, t, len(t.versions)-1))
		}
		items, next := page(in, list)
		return obj{"TableList": items, "NextToken": next}, nil
	case "DeleteTable":
		if _, err := f.table(in, "Name"); err != nil {
			return nil, err
		}
		delete(f.tables[lower(in["DatabaseName"])], lower(in["Name"]))
		return obj{}, nil
	case "GetTableVersions":
		t, err := f.table(in, "TableName")
		if err != nil {
			return nil, err
		}
		var list []obj
		for v := len(t.versions) - 1; v >= 0; v-- { // newest first
			list = append(list, obj{"VersionId": strconv.Itoa(v), "Table": f.tableOut(lower(in["DatabaseName"]), lower(in["TableName"]), t, v)})
		}
		items, next := page(in, list)
		return obj{"TableVersions": items, "NextToken": next}, nil
	case "BatchCreatePartition":
		t, err := f.table(in, "TableName")
		if err != nil {
			return nil, err
		}
		list, _ := in["PartitionInputList"].([]any)
		if err := f.batch(op, list, 100); err != nil {
			return nil, err
		}
		var errs []obj
		for _, p := range list {
			p := maps.Clone(p.(obj))
			k := partKey(p["Values"])
			if _, ok := t.parts[k]; ok {
				errs = append(errs, obj{"PartitionValues": p["Values"], "ErrorDetail": obj{"ErrorCode": "AlreadyExistsException", "ErrorMessage": "Partition already exists."}})
				continue
			}
			p["CreationTime"] = now()
			t.parts[k] = p
		}
		return obj{"Errors": errs}, nil
	case "BatchDeletePartition":
		t, err := f.table(in, "TableName")
		if err != nil {
			return nil, err
		}
		list, _ := in["PartitionsToDelete"].([]any)
		if err := f.batch(op, list, 25); err != nil {
			return nil, err
		}
		var errs []obj
		for _, p := range list {
			k := partKey(p.(obj)["Values"])
			if _, ok := t.parts[k]; !ok {
				errs = append(errs, obj{"PartitionValues": p.(obj)["Values"], "ErrorDetail": obj{"ErrorCode": "EntityNotFoundException", "ErrorMessage": "Partition not found."}})
				continue
			}
			delete(t.parts, k)
		}
		return obj{"Errors": errs}, nil
	case "BatchUpdatePartition":
		t, err := f.table(in, "TableName")
		if err != nil {
			return nil, err
		}
		list, _ := in["Entries"].([]any)
		if err := f.batch(op, list, 100); err != nil {
			return nil, err
		}
		var errs []obj
		for _, e := range list {
			e := e.(obj)
			k := partKey(e["PartitionValueList"])
			old, ok := t.parts[k]
			if !ok {
				errs = append(errs, obj{"PartitionValueList": e["PartitionValueList"], "ErrorDetail": obj{"ErrorCode": "EntityNotFoundException"}})
				continue
			}
			p := maps.Clone(e["PartitionInput"].(obj))
			p["CreationTime"] = old["CreationTime"]
			t.parts[k] = p
		}
		return obj{"Errors": errs}, nil
	case "GetPartitions", "GetPartition":
		t, err := f.table(in, "TableName")
		if err != nil {
			return nil, err
		}
		if op == "GetPartition" {
			p, ok := t.parts[partKey(in["PartitionValues"])]
			if !ok {
				return nil, &fakeError{"EntityNotFoundException", "Partition not found."}
			}
			return obj{"Partition": p}, nil
		}
		var list []obj
		for _, k := range slices.Sorted(maps.Keys(t.parts)) {
			p := t.parts[k]
			if in["ExcludeColumnSchema"] == true {
				p = maps.Clone(p)
				if sd, ok := p["StorageDescriptor"].(obj); ok {
					sd = maps.Clone(sd)
					delete(sd, "Columns")
					p["StorageDescriptor"] = sd
				}
			}
			list = append(list, p)
		}
		items, next := page(in, list)
		return obj{"Partitions": items, "NextToken": next}, nil
	}
	return nil, &fakeError{"InvalidInputException", "the fake does not implement " + op}
}

// Count is how many requests of op (e.g. "GetPartitions") the server got.
func (f *Server) Count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// BatchSizes lists the number of entries of each batch request of op.
func (f *Server) BatchSizes(op string) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sizes[op])
}
