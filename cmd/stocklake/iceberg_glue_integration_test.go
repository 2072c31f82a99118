package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/glue"
)

// symbolAgg is what every reader must agree on, per symbol: rows, sum(size),
// min(ts) and max(ts).
type symbolAgg struct {
	N     int64
	Size  float64
	MinTS time.Time
	MaxTS time.Time
}

func (a symbolAgg) String() string {
	return fmt.Sprintf("n=%d size=%g ts=[%s, %s]", a.N, a.Size, a.MinTS.Format(time.RFC3339Nano), a.MaxTS.Format(time.RFC3339Nano))
}

// TestIcebergGlueTrinoIntegration lands ticks from a real Kafka topic (three
// partitions, two UTC days) with the real binary, `stocklake sink
// --table-format iceberg --catalog glue://… --lake s3://…` (moto's Glue,
// versitygw), in two runs with more ticks between them (the second in a
// new consumer group: it resumes from the table's offsets in Glue). Then
// the Glue table is an Iceberg table as Athena expects, and the expected
// produced set, pyiceberg (StaticTable from the Glue table's
// metadata_location) and each engine through `stocklake query` (Trino's
// Iceberg connector on the same Glue and S3) agree on the rows, rows per
// symbol, sum(size) and min/max ts.
func TestIcebergGlueTrinoIntegration(t *testing.T) {
	env := requireEnv(t, "STOCKLAKE_KAFKA_BROKERS", "STOCKLAKE_S3_ENDPOINT", "STOCKLAKE_GLUE_ENDPOINT", "STOCKLAKE_TRINO_URL")
	py := pythonWithPyarrow(t)
	ctx := context.Background()
	brokers := env["STOCKLAKE_KAFKA_BROKERS"]
	trinoURL, err := url.Parse(env["STOCKLAKE_TRINO_URL"])
	if err != nil {
		t.Fatal(err)
	}
	catURL := "glue://us-east-1?endpoint=" + url.QueryEscape(env["STOCKLAKE_GLUE_ENDPOINT"])
	bucket := uniqueName("iceglue-")
	lake := fmt.Sprintf("s3://%s/lake?endpoint=%s&create_bucket=true", bucket, url.QueryEscape(env["STOCKLAKE_S3_ENDPOINT"]))
	database := strings.ReplaceAll(uniqueName("iceglue_"), "-", "_")
	topic, _, p := newTopic(t, brokers, "iceglue-")
	table := strings.ReplaceAll(topic, "-", "_")

	// The engines that read the table through `stocklake query`, by name;
	// each runs the same SQL on the unqualified table name.
	engines := []struct{ name, url string }{
		{"duckdb", "duckdb://"},
		{"trino", "trino://" + trinoURL.Host + "?catalog=iceberg&register=none"},
		// The Hive catalog on the same Glue redirects Iceberg tables.
		{"trino-hive-glue", "trino://" + trinoURL.Host + "?catalog=glue&register=none"},
	}

	want := map[string]symbolAgg{}
	base := time.Date(2026, 11, 26, 23, 59, 0, 0, time.UTC)
	produced := 0
	produce := func(prefix string, n int) {
		for i := 0; i < n; i++ {
			tk := stocklake.Tick{Symbol: []string{"AAPL", "MSFT", "NVDA", "BRK.B", "TSLA"}[i%5],
				Time:  base.Add(time.Duration(produced)*37*time.Millisecond + time.Duration(i%1000)*time.Microsecond),
				Price: 100 + float64(i%100)/10, Size: float64(1 + (i*7)%9), Exchange: "XNAS", TradeID: prefix + strconv.Itoa(i), Source: "test"}
			if err := p.Produce(ctx, stocklake.Record{Key: []byte(tk.Symbol), Value: tk.AppendJSON(nil)}); err != nil {
				t.Fatal(err)
			}
			a, ok := want[tk.Symbol]
			if !ok || tk.Time.Before(a.MinTS) {
				a.MinTS = tk.Time
			}
			if tk.Time.After(a.MaxTS) {
				a.MaxTS = tk.Time
			}
			a.N++
			a.Size += tk.Size
			want[tk.Symbol] = a
			produced++
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(stocklakeBinary(t), args...)
		cmd.Env = envWith()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		done := make(chan struct{})
		timer := time.AfterFunc(2*time.Minute, func() {
			select {
			case <-done:
			default:
				cmd.Process.Kill()
			}
		})
		out, err := cmd.Output()
		close(done)
		timer.Stop()
		if err != nil {
			t.Fatalf("stocklake %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out
	}
	sink := func(group string) {
		run("sink", "--brokers", brokers, "--topic", topic, "--group", group, "--lake", lake, "--catalog", catURL,
			"--database", database, "--table-format", "iceberg", "--exit-when-idle", "--flush-interval", "200ms",
			"--max-rows", "1500", "--log-level", "warn")
	}
	produce("a", 4000)
	sink(uniqueName("g1-"))
	produce("b", 2500)
	sink(uniqueName("g2-"))

	// The Glue table, as stocklake's Glue catalog (and Athena) sees it.
	gc, err := glue.New(ctx, glue.Config{Region: "us-east-1", Endpoint: env["STOCKLAKE_GLUE_ENDPOINT"]})
	if err != nil {
		t.Fatal(err)
	}
	gt, err := gc.GetTable(ctx, database, table)
	if err != nil {
		t.Fatal(err)
	}
	meta := gt.Parameters[stocklake.ParamMetadataLocation]
	if !gt.IsIceberg() || !strings.HasPrefix(meta, "s3://"+bucket+"/lake/"+database+".db/"+table+"/metadata/") ||
		gt.Parameters[stocklake.ParamPreviousMetadataLocation] == "" || len(gt.Columns) != 8 {
		t.Errorf("Glue table %s.%s: parameters %v, %d columns; want table_type=ICEBERG, metadata_location under the table, a previous one, 8 columns",
			database, table, gt.Parameters, len(gt.Columns))
	}

	readers := map[string]map[string]symbolAgg{"produced": want}
	readers["pyiceberg"] = pyicebergAggregates(t, py, meta)
	sql := "SELECT symbol, count(*) AS n, sum(size) AS size, min(ts) AS min_ts, max(ts) AS max_ts FROM " + table + " GROUP BY symbol ORDER BY symbol"
	for _, e := range engines {
		out := run("query", "--catalog", catURL, "--engine", e.url, "--lake", lake, "--database", database, "--format", "json", sql)
		readers[e.name] = queryAggregates(t, e.name, out)
	}
	for _, name := range slices.Sorted(maps.Keys(readers)) {
		got := readers[name]
		total := int64(0)
		for _, a := range got {
			total += a.N
		}
		t.Logf("%-10s %d rows, %d symbols", name, total, len(got))
		if name == "produced" {
			continue
		}
		if total != int64(produced) {
			t.Errorf("%s reads %d rows, want %d", name, total, produced)
		}
		for _, sym := range slices.Sorted(maps.Keys(want)) {
			if g, w := got[sym], want[sym]; g.N != w.N || g.Size != w.Size || !g.MinTS.Equal(w.MinTS) || !g.MaxTS.Equal(w.MaxTS) {
				t.Errorf("%s, symbol %s: %v; produced %v", name, sym, g, w)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s reads symbols %v, want %v", name, slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
		}
	}
}

// parseUTC reads a time as stocklake's JSON output and the pyiceberg script
// write it: "2006-01-02 15:04:05.999999" in UTC, optionally with " UTC".
func parseUTC(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", strings.TrimSuffix(s, " UTC"), time.UTC)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return tm
}

// queryAggregates reads the JSON lines of `stocklake query --format json`
// for the test's per-symbol SQL.
func queryAggregates(t *testing.T, engine string, out []byte) map[string]symbolAgg {
	t.Helper()
	got := map[string]symbolAgg{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var row struct {
			Symbol string
			N      int64
			Size   float64
			Min    string `json:"min_ts"`
			Max    string `json:"max_ts"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("%s printed %q: %v", engine, sc.Text(), err)
		}
		got[row.Symbol] = symbolAgg{N: row.N, Size: row.Size, MinTS: parseUTC(t, row.Min), MaxTS: parseUTC(t, row.Max)}
	}
	return got
}

// pyicebergAggregates runs iceberg/testdata/aggregate_pyiceberg.py on the
// table's metadata file.
func pyicebergAggregates(t *testing.T, py, metadataLocation string) map[string]symbolAgg {
	t.Helper()
	var raw map[string]struct {
		N     int64
		Size  float64
		MinTS string `json:"min_ts"`
		MaxTS string `json:"max_ts"`
	}
	pythonJSON(t, py, &raw, "iceberg/testdata/aggregate_pyiceberg.py", metadataLocation)
	got := map[string]symbolAgg{}
	for sym, a := range raw {
		got[sym] = symbolAgg{N: a.N, Size: a.Size, MinTS: parseUTC(t, a.MinTS), MaxTS: parseUTC(t, a.MaxTS)}
	}
	return got
}
