package athena_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsathena "github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/athena"
)

// motoAthena returns the endpoint of a moto server's Athena API
// (AWS_ENDPOINT_URL_ATHENA, printed by scripts/glue start), or skips.
// moto runs no queries: results are queued on its /moto-api/static/athena/
// query-results endpoint and handed out in order, one per started query,
// and its state manager decides how queries move through their states.
func motoAthena(t *testing.T) string {
	t.Helper()
	ep := os.Getenv("AWS_ENDPOINT_URL_ATHENA")
	if ep == "" {
		t.Skip(`AWS_ENDPOINT_URL_ATHENA not set; start moto with: eval "$(scripts/glue start)"`)
	}
	resp, err := http.Get(ep + "/moto-api/data.json")
	if err != nil {
		t.Fatalf("%s does not answer: %v", ep, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Skipf("%s is not a moto server (GET /moto-api/data.json: %s); this test needs moto's result queue", ep, resp.Status)
	}
	return ep
}

func motoPost(t *testing.T, ep, path string, body any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(ep+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %s", path, resp.Status)
	}
}

// transition sets how moto moves Athena queries through their states:
// "manual" with times N advances a query one state every N polls.
func transition(t *testing.T, ep string, progression string, times int) {
	t.Helper()
	tr := map[string]any{"progression": progression}
	if progression == "manual" {
		tr["times"] = times
	}
	motoPost(t, ep, "/moto-api/state-manager/set-transition", map[string]any{"model_name": "athena::execution", "transition": tr})
}

func str(s string) map[string]any { return map[string]any{"VarCharValue": s} }

type stateLog struct {
	mu     sync.Mutex
	id     string
	states []stocklake.QueryState
}

func (l *stateLog) record(id string, s stocklake.QueryState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.id = id
	l.states = append(l.states, s)
}

// reset forgets the states recorded so far.
func (l *stateLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.id, l.states = "", nil
}

func (l *stateLog) get() (string, []stocklake.QueryState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.id, append([]stocklake.QueryState(nil), l.states...)
}

// queryQueued queues result in moto for the next query execution and runs
// sql through e (of workgroup wg). moto, unlike Athena, ignores
// StartQueryExecution's ClientRequestToken: when it drops a connection
// after starting a query, the SDK's retry starts a second execution, and
// the queued result went to the first. Such a run (more than one new
// execution in wg) is tried again, at most three times in all; log, the
// engine's state log, is reset before each try.
func queryQueued(t *testing.T, sdk *awsathena.Client, wg, ep string, e stocklake.Engine, log *stateLog, sql string, result map[string]any) stocklake.Rows {
	t.Helper()
	ctx := context.Background()
	executions := func() int {
		n := 0
		p := awsathena.NewListQueryExecutionsPaginator(sdk, &awsathena.ListQueryExecutionsInput{WorkGroup: aws.String(wg)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n += len(out.QueryExecutionIds)
		}
		return n
	}
	for attempt := 1; ; attempt++ {
		before := executions()
		log.reset()
		motoPost(t, ep, "/moto-api/static/athena/query-results", map[string]any{"results": []any{result}})
		r, err := e.Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		n := executions() - before
		if n == 1 || attempt == 3 {
			return r
		}
		r.Close()
		t.Logf("%s: %d executions started (an SDK retry moto did not recognise); trying again", sql, n)
	}
}

func TestAthenaIntegration(t *testing.T) {
	ep := motoAthena(t)
	ctx := context.Background()
	t.Cleanup(func() {
		motoPost(t, ep, "/moto-api/state-manager/unset-transition", map[string]any{"model_name": "athena::execution"})
	})
	sdk := awsathena.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")},
		func(o *awsathena.Options) { o.BaseEndpoint = aws.String(ep) })
	wg := fmt.Sprintf("stocklake-it-%d", time.Now().UnixNano())
	if _, err := sdk.CreateWorkGroup(ctx, &awsathena.CreateWorkGroupInput{Name: aws.String(wg)}); err != nil {
		t.Fatal(err)
	}
	log := &stateLog{}
	e, err := athena.New(ctx, athena.Config{
		WorkGroup: wg, Database: "market", OutputLocation: "s3://stocklake-it/query-results",
		Region: "us-east-1", AccessKey: "testing", SecretKey: "testing",
		PollInterval: 5 * time.Millisecond, MaxPollInterval: 20 * time.Millisecond,
		OnState: log.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	t.Run("results", func(t *testing.T) {
		// Two polls per state: the engine sees QUEUED, RUNNING, SUCCEEDED.
		transition(t, ep, "manual", 2)
		header := []any{str("symbol"), str("trades"), str("vwap"), str("halted"), str("dt"), str("last_time"), str("notional"), str("raw"), str("tags")}
		row := func(vals ...any) map[string]any { return map[string]any{"Data": vals} }
		info := func(name, typ string, p, s int) map[string]any {
			return map[string]any{"Name": name, "Label": name, "Type": typ, "Precision": p, "Scale": s, "Nullable": "UNKNOWN", "CaseSensitive": false}
		}
		r := queryQueued(t, sdk, wg, ep, e, log, "SELECT symbol, count(*) AS trades FROM ticks GROUP BY 1", map[string]any{
			"rows": []any{
				row(header...), // Athena's first row of a SELECT: the column labels
				row(str("AAPL"), str("6300"), str("231.5"), str("false"), str("2026-11-24"), str("2026-11-24 20:59:59.123"), str("1234.50"), str("de ad"), str("[a, b]")),
				row(str("MSFT"), str("12"), str("NaN"), str("true"), str("2026-11-25"), str("2026-11-25 14:30:00.000"), map[string]any{}, map[string]any{}, map[string]any{}),
			},
			"column_info": []any{
				info("symbol", "varchar", 2147483647, 0), info("trades", "bigint", 19, 0), info("vwap", "double", 17, 0),
				info("halted", "boolean", 0, 0), info("dt", "date", 0, 0), info("last_time", "timestamp", 3, 0),
				info("notional", "decimal", 18, 2), info("raw", "varbinary", 0, 0), info("tags", "array", 0, 0),
			},
		})
		defer r.Close()
		wantCols := "[{symbol varchar} {trades bigint} {vwap double} {halted boolean} {dt date} {last_time timestamp(3)} {notional decimal(18,2)} {raw varbinary} {tags array}]"
		if got := fmt.Sprint(r.Columns()); got != wantCols {
			t.Errorf("columns\n got %s\nwant %s", got, wantCols)
		}
		var rows [][]any
		for r.Next() {
			rows = append(rows, append([]any(nil), r.Values()...))
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 {
			t.Fatalf("got %d rows, want 2 (the header skipped): %v", len(rows), rows)
		}
		a := rows[0]
		if a[0] != "AAPL" || a[1] != int64(6300) || a[2] != 231.5 || a[3] != false || a[6] != "1234.50" || a[8] != "[a, b]" {
			t.Errorf("row 1 = %#v", a)
		}
		if d, ok := a[4].(time.Time); !ok || !d.Equal(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("date = %#v", a[4])
		}
		if ts, ok := a[5].(time.Time); !ok || !ts.Equal(time.Date(2026, 11, 24, 20, 59, 59, 123e6, time.UTC)) {
			t.Errorf("timestamp = %#v", a[5])
		}
		if b, ok := a[7].([]byte); !ok || !bytes.Equal(b, []byte{0xde, 0xad}) {
			t.Errorf("varbinary = %#v", a[7])
		}
		b := rows[1]
		if f, ok := b[2].(float64); !ok || !math.IsNaN(f) {
			t.Errorf("NaN = %#v", b[2])
		}
		if b[6] != nil || b[7] != nil || b[8] != nil {
			t.Errorf("NULLs = %#v", b[6:])
		}
		id, states := log.get()
		if fmt.Sprint(states) != "[QUEUED RUNNING SUCCEEDED]" {
			t.Errorf("states seen: %v", states)
		}
		if qid := r.(interface{ QueryID() string }).QueryID(); qid == "" || qid != id {
			t.Errorf("query ID %q, states reported for %q", qid, id)
		}
		// What Athena recorded: the statement, database, workgroup and
		// output location.
		out, err := sdk.GetQueryExecution(ctx, &awsathena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		qe := out.QueryExecution
		if aws.ToString(qe.Query) != "SELECT symbol, count(*) AS trades FROM ticks GROUP BY 1" ||
			aws.ToString(qe.QueryExecutionContext.Database) != "market" || aws.ToString(qe.WorkGroup) != wg ||
			!strings.HasPrefix(aws.ToString(qe.ResultConfiguration.OutputLocation), "s3://stocklake-it/query-results/") {
			t.Errorf("execution recorded: query %q, database %q, workgroup %q, output %q", aws.ToString(qe.Query),
				aws.ToString(qe.QueryExecutionContext.Database), aws.ToString(qe.WorkGroup), aws.ToString(qe.ResultConfiguration.OutputLocation))
		}
		if st := r.Stats(); st.BytesScanned != 0 || st.Duration != 0 {
			t.Errorf("stats %+v; moto reports zeros", st)
		}
	})

	t.Run("DDL has no header row", func(t *testing.T) {
		transition(t, ep, "immediate", 0)
		r := queryQueued(t, sdk, wg, ep, e, log, "SHOW TABLES", map[string]any{
			"rows":        []any{map[string]any{"Data": []any{str("ticks")}}, map[string]any{"Data": []any{str("trades")}}},
			"column_info": []any{map[string]any{"Name": "tab_name", "Type": "string"}},
		})
		var got []any
		for r.Next() {
			got = append(got, r.Values()[0])
		}
		r.Close()
		if r.Err() != nil || fmt.Sprint(got) != "[ticks trades]" {
			t.Errorf("SHOW TABLES: %v, %v", got, r.Err())
		}
	})

	t.Run("cancel", func(t *testing.T) {
		// The query never leaves QUEUED until stopped.
		transition(t, ep, "manual", 1_000_000)
		log := &stateLog{}
		e, err := athena.New(ctx, athena.Config{WorkGroup: wg, Region: "us-east-1", AccessKey: "testing", SecretKey: "testing",
			PollInterval: 5 * time.Millisecond, MaxPollInterval: 20 * time.Millisecond, OnState: log.record})
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err = e.Query(cctx, "SELECT 1")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Query after the deadline: %v, want context.DeadlineExceeded", err)
		}
		id, _ := log.get()
		out, err := sdk.GetQueryExecution(ctx, &awsathena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		if s := out.QueryExecution.Status.State; s != types.QueryExecutionStateCancelled {
			t.Errorf("query %s is %s in Athena, want CANCELLED (StopQueryExecution)", id, s)
		}
	})

	t.Run("cancelled elsewhere", func(t *testing.T) {
		transition(t, ep, "manual", 1_000_000)
		stopped := make(chan struct{})
		var once sync.Once
		e, err := athena.New(ctx, athena.Config{WorkGroup: wg, Region: "us-east-1", AccessKey: "testing", SecretKey: "testing",
			PollInterval: 5 * time.Millisecond, MaxPollInterval: 20 * time.Millisecond,
			OnState: func(id string, s stocklake.QueryState) {
				once.Do(func() {
					go func() {
						defer close(stopped)
						sdk.StopQueryExecution(ctx, &awsathena.StopQueryExecutionInput{QueryExecutionId: aws.String(id)})
					}()
				})
			}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Query(ctx, "SELECT 1")
		<-stopped
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "cancelled in Athena") {
			t.Errorf("query stopped by another client: %v", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		transition(t, ep, "immediate", 0)
		e, err := athena.New(ctx, athena.Config{WorkGroup: "no-such-workgroup", Region: "us-east-1", AccessKey: "testing", SecretKey: "testing"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Query(ctx, "SELECT 1")
		if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), "no-such-workgroup") {
			t.Errorf("unknown workgroup: %v, want ErrConfig naming it", err)
		}
	})
}
