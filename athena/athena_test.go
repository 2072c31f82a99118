package athena_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/athena"
)

// fakeAthena is an Athena JSON API with scripted queries: each started
// query walks through states (one per GetQueryExecution) and pages its
// rows MaxResults at a time.
type fakeAthena struct {
	mu      sync.Mutex
	states  []string // states a new query goes through
	reason  string   // StateChangeReason of a FAILED query
	rows    [][]*string
	cols    []map[string]any
	dml     bool
	queries map[string]*fakeQuery
	calls   map[string]int
	pages   []int // MaxResults asked for, per GetQueryResults
	stopped []string
}

type fakeQuery struct {
	sql   string
	polls int
	state string
}

func newFakeAthena(t *testing.T) (*fakeAthena, *athena.Engine) {
	f := &fakeAthena{states: []string{"QUEUED", "RUNNING", "SUCCEEDED"}, dml: true, queries: map[string]*fakeQuery{}, calls: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	e, err := athena.New(context.Background(), athena.Config{
		Endpoint: srv.URL, Region: "us-east-1", AccessKey: "k", SecretKey: "s", WorkGroup: "wg", Database: "market",
		OutputLocation: "s3://bucket/query-results", PollInterval: time.Millisecond, MaxPollInterval: 2 * time.Millisecond,
		PageSize: 2, MaxRetries: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f, e
}

func (f *fakeAthena) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonAthena.")
	var in map[string]any
	json.NewDecoder(r.Body).Decode(&in)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(v)
	}
	id, _ := in["QueryExecutionId"].(string)
	switch op {
	case "StartQueryExecution":
		if in["WorkGroup"] != "wg" || in["QueryExecutionContext"].(map[string]any)["Database"] != "market" ||
			in["ResultConfiguration"].(map[string]any)["OutputLocation"] != "s3://bucket/query-results/" {
			w.WriteHeader(400)
			reply(map[string]any{"__type": "InvalidRequestException", "Message": fmt.Sprintf("unexpected input %v", in)})
			return
		}
		id := "q" + strconv.Itoa(len(f.queries)+1)
		f.queries[id] = &fakeQuery{sql: in["QueryString"].(string)}
		reply(map[string]any{"QueryExecutionId": id})
	case "GetQueryExecution":
		q := f.queries[id]
		if q.state != "CANCELLED" {
			q.state = f.states[min(q.polls, len(f.states)-1)]
		}
		q.polls++
		status := map[string]any{"State": q.state}
		if q.state == "FAILED" {
			status["StateChangeReason"] = f.reason
			status["AthenaError"] = map[string]any{"ErrorCategory": 2, "ErrorType": 1006}
		}
		st := "DML"
		if !f.dml {
			st = "UTILITY"
		}
		reply(map[string]any{"QueryExecution": map[string]any{
			"QueryExecutionId": id, "Query": q.sql, "StatementType": st, "Status": status,
			"Statistics": map[string]any{"DataScannedInBytes": 123456, "EngineExecutionTimeInMillis": 789},
		}})
	case "StopQueryExecution":
		f.queries[id].state = "CANCELLED"
		f.stopped = append(f.stopped, id)
		reply(map[string]any{})
	case "GetQueryResults":
		max := int(in["MaxResults"].(float64))
		f.pages = append(f.pages, max)
		start := 0
		if tok, ok := in["NextToken"].(string); ok {
			start, _ = strconv.Atoi(tok)
		}
		end := min(start+max, len(f.rows))
		var rows []any
		for _, r := range f.rows[start:end] {
			var data []any
			for _, v := range r {
				if v == nil {
					data = append(data, map[string]any{})
				} else {
					data = append(data, map[string]any{"VarCharValue": *v})
				}
			}
			rows = append(rows, map[string]any{"Data": data})
		}
		out := map[string]any{"ResultSet": map[string]any{"Rows": rows, "ResultSetMetadata": map[string]any{"ColumnInfo": f.cols}}}
		if end < len(f.rows) {
			out["NextToken"] = strconv.Itoa(end)
		}
		reply(out)
	default:
		w.WriteHeader(400)
		reply(map[string]any{"__type": "UnknownOperationException", "Message": op})
	}
}

func sp(s string) *string { return &s }

func TestQueryPagesTypedRows(t *testing.T) {
	f, e := newFakeAthena(t)
	f.cols = []map[string]any{
		{"Name": "symbol", "Type": "varchar", "Precision": 2147483647},
		{"Name": "n", "Type": "integer"},
		{"Name": "price", "Type": "double"},
		{"Name": "at", "Type": "timestamp", "Precision": 3},
		{"Name": "zoned", "Type": "timestamp with time zone", "Precision": 3},
		{"Name": "amount", "Type": "decimal", "Precision": 10, "Scale": 2},
	}
	f.rows = [][]*string{{sp("symbol"), sp("n"), sp("price"), sp("at"), sp("zoned"), sp("amount")}}
	for i := range 5 {
		f.rows = append(f.rows, []*string{sp(fmt.Sprintf("S%d", i)), sp(strconv.Itoa(i)), sp("1.5"),
			sp("2026-11-26 14:00:00.250"), sp("2026-11-26 14:00:00.000 America/New_York"), nil})
	}
	r, err := e.Query(context.Background(), "SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := fmt.Sprint(r.Columns()); got != "[{symbol varchar} {n integer} {price double} {at timestamp(3)} {zoned timestamp(3) with time zone} {amount decimal(10,2)}]" {
		t.Errorf("columns %s", got)
	}
	var n int
	for r.Next() {
		v := r.Values()
		if v[0] != fmt.Sprintf("S%d", n) || v[1] != int64(n) || v[2] != 1.5 || v[5] != nil {
			t.Errorf("row %d = %#v", n, v)
		}
		if at := v[3].(time.Time); !at.Equal(time.Date(2026, 11, 26, 14, 0, 0, 250e6, time.UTC)) {
			t.Errorf("timestamp %v", at)
		}
		ny, _ := time.LoadLocation("America/New_York")
		if z := v[4].(time.Time); !z.Equal(time.Date(2026, 11, 26, 14, 0, 0, 0, ny)) {
			t.Errorf("zoned timestamp %v", z)
		}
		n++
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("%d rows, want 5 (6 with the header)", n)
	}
	// 6 rows (header included) in pages of 2.
	if fmt.Sprint(f.pages) != "[2 2 2]" {
		t.Errorf("GetQueryResults pages %v, want three of 2 rows", f.pages)
	}
	if st := r.Stats(); st.BytesScanned != 123456 || st.Duration != 789*time.Millisecond {
		t.Errorf("stats %+v", st)
	}
	if f.calls["GetQueryExecution"] != 3 {
		t.Errorf("polled %d times, want 3 (QUEUED, RUNNING, SUCCEEDED)", f.calls["GetQueryExecution"])
	}
}

func TestQueryUtilityHasNoHeader(t *testing.T) {
	f, e := newFakeAthena(t)
	f.dml = false
	f.cols = []map[string]any{{"Name": "tab_name", "Type": "string"}}
	f.rows = [][]*string{{sp("ticks")}, {sp("trades")}, {sp("prices")}}
	r, err := e.Query(context.Background(), "SHOW TABLES")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for r.Next() {
		got = append(got, r.Values()[0].(string))
	}
	if fmt.Sprint(got) != "[ticks trades prices]" || r.Err() != nil {
		t.Errorf("rows %v, err %v", got, r.Err())
	}
}

func TestQueryFailed(t *testing.T) {
	f, e := newFakeAthena(t)
	f.states = []string{"QUEUED", "FAILED"}
	f.reason = "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.market.nope' does not exist"
	_, err := e.Query(context.Background(), "SELECT * FROM nope")
	var qe *athena.QueryError
	if !errors.As(err, &qe) || qe.QueryID != "q1" || qe.Category != 2 || qe.Type != 1006 {
		t.Fatalf("error %v (%T), want *athena.QueryError for q1", err, err)
	}
	if !errors.Is(err, stocklake.ErrNotFound) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("error %v: want ErrNotFound with Athena's reason", err)
	}
	f.reason = "SYNTAX_ERROR: line 1:1: mismatched input 'SELEC'"
	_, err = e.Query(context.Background(), "SELEC 1")
	if !errors.Is(err, stocklake.ErrInvalid) {
		t.Errorf("syntax error %v: want ErrInvalid", err)
	}
}

func TestQueryCancelStops(t *testing.T) {
	f, e := newFakeAthena(t)
	f.states = []string{"QUEUED", "RUNNING"} // runs until stopped
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := e.Query(ctx, "SELECT 1")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fmt.Sprint(f.stopped) != "[q1]" || f.queries["q1"].state != "CANCELLED" {
		t.Errorf("stopped %v, state %s; want StopQueryExecution of q1", f.stopped, f.queries["q1"].state)
	}
}

func TestNewChecksConfig(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []athena.Config{
		{OutputLocation: "/tmp/results"},
		{OutputLocation: "s3:///no-bucket"},
		{Endpoint: "127.0.0.1:5000"},
	} {
		if _, err := athena.New(ctx, cfg); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("New(%+v): %v, want ErrConfig", cfg, err)
		}
	}
}

// TestIcebergQueryRunsAlone: Athena reads a Glue Iceberg table
// (table_type=ICEBERG) natively, time travel included, so a query on one
// is the one statement sent: no partition registration or repair (MSCK
// REPAIR TABLE, ALTER TABLE ADD PARTITION), which Athena refuses on Iceberg
// tables.
func TestIcebergQueryRunsAlone(t *testing.T) {
	f, e := newFakeAthena(t)
	f.cols = []map[string]any{{"Name": "n", "Type": "bigint"}}
	f.rows = [][]*string{{sp("n")}, {sp("42")}}
	sql := "SELECT count(*) AS n FROM ticks FOR TIMESTAMP AS OF TIMESTAMP '2026-11-26 14:00:00 UTC' WHERE ts >= TIMESTAMP '2026-11-26 00:00:00 UTC'"
	r, err := e.Query(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
	}
	r.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queries) != 1 || f.queries["q1"].sql != sql || f.calls["StartQueryExecution"] != 1 {
		t.Errorf("statements sent %v, want only the query", f.queries)
	}
}
