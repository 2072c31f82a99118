// Command query benchmarks stocklake's embedded SQL engine against DuckDB
// used directly, on the same Parquet files, in two layouts of the same
// ticks.
//
// It generates ticks as the sink writes them (zstd Parquet under
// ticks/dt=YYYY-MM-DD/hour=HH/, 14:00-21:00 UTC) twice: one file per hour
// of trading, and -small-per-hour objects per hour (default 120: the many
// small objects a sink that commits every 30 s leaves before compaction),
// each lake crawled into its own SQLite catalog, and times two queries on
// each layout:
//
//   - scan: VWAP, trade count and price range per symbol over every day
//   - pruned: the same over one day (dt = the middle day)
//
// each through stocklake (duckdb.Engine: catalog lookup, partition pruning,
// views) and directly in DuckDB over the same files (read_parquet with a
// glob and hive_partitioning, DuckDB pruning by itself). It reports the
// median time of -runs runs, the ratio, the bytes of the files each query
// read as stocklake reports them, and the bytes the process read from disk
// (/proc/self/io read_bytes and rchar, which count page-cache hits too).
//
// Before timing, it checks that both engines give the same answer, and
// that the small-object layout gives the same answers as one file per hour
// (the same ticks): the same rows (sorted), text and integers equal,
// floating-point values equal within a relative tolerance of 1e-9 (the
// engines sum in different orders). If any answers differ, it prints the
// differing rows and exits with status 1 after the report.
//
//	go run ./bench/query -ticks 50000000 -days 30 -dir /tmp/stocklake-bench [-small-per-hour 120] [-json FILE]
//
// The lakes are kept in -dir and reused when they already hold the same
// sizes. With -json FILE it also writes the figures as a JSON object.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/crawler"
	"github.com/stocklake/stocklake/duckdb"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/internal/querysuite"
	"github.com/stocklake/stocklake/sqlite"
)

func main() {
	ticks := flag.Int64("ticks", 50_000_000, "ticks in the generated lake")
	days := flag.Int("days", 30, "days of ticks")
	symbols := flag.Int("symbols", 20, "symbols")
	dir := flag.String("dir", filepath.Join(os.TempDir(), "stocklake-bench-query"), "directory for the lake, catalog and cache")
	runs := flag.Int("runs", 5, "timed runs per query (after one warm-up)")
	threads := flag.Int("threads", 0, "DuckDB threads (0: all cores)")
	jsonOut := flag.String("json", "", "also write the figures as a JSON object to this file")
	small := flag.Int("small-per-hour", 120, "objects per hour in the second layout, as a sink that commits often writes them (120: every 30 s); 0 measures only one file per hour")
	flag.Parse()
	ctx := context.Background()
	res := result{Bench: "query", Ticks: *ticks, Days: *days, Symbols: *symbols, Runs: *runs, Threads: threadsName(*threads), GenerateSeconds: -1, SmallPerHour: *small}

	layouts := []layout{{name: "", dir: filepath.Join(*dir, "hourly"), perHour: 1}}
	if *small > 1 {
		layouts = append(layouts, layout{name: fmt.Sprintf(", %d objects/hour", *small), dir: filepath.Join(*dir, "small"), perHour: *small})
	}
	marker := filepath.Join(*dir, fmt.Sprintf("generated-%d-%d-%d-%d", *ticks, *days, *symbols, *small))
	if _, err := os.Stat(marker); err != nil {
		os.RemoveAll(*dir)
		start := time.Now()
		if err := generate(ctx, layouts, *ticks, *days, *symbols); err != nil {
			log.Fatal(err)
		}
		res.GenerateSeconds = time.Since(start).Seconds()
		os.WriteFile(marker, nil, 0o644)
	}
	direct, err := sql.Open("duckdb", "")
	if err != nil {
		log.Fatal(err)
	}
	defer direct.Close()
	direct.SetMaxOpenConns(1)
	if _, err := direct.Exec("SET TimeZone = 'UTC'"); err != nil {
		log.Fatal(err)
	}
	if *threads > 0 {
		direct.Exec(fmt.Sprintf("SET threads = %d", *threads))
	}
	disagree, total := 0, 0
	// first holds each query's answer on the first layout: the others
	// hold the same ticks, so they must give the same answers.
	first := map[string]answer{}
	for _, l := range layouts {
		qs, d, err := measureLayout(ctx, l, direct, *runs, *threads, &res, first)
		if err != nil {
			log.Fatal(err)
		}
		res.Queries = append(res.Queries, qs...)
		disagree += d
		total += len(qs)
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	if disagree > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d of %d queries got different answers (stocklake vs DuckDB directly, or one layout vs the other)\n", disagree, total)
		os.Exit(1)
	}
}

// layout is one lake of the same ticks: perHour objects per hour
// partition, in dir (lake/ and catalog.db, cache/).
type layout struct {
	name    string // appended to the query names; "" for one file per hour
	dir     string
	perHour int
}

// measureLayout runs the queries on one layout through stocklake and DuckDB
// directly, checks their answers agree with each other and with first (the
// same query's answer on an earlier layout, recorded there when absent),
// times them, and returns their results and how many disagreed.
func measureLayout(ctx context.Context, l layout, direct *sql.DB, runs, threads int, res *result, first map[string]answer) ([]queryResult, int, error) {
	lakeDir := filepath.Join(l.dir, "lake")
	store, err := file.New(lakeDir)
	if err != nil {
		return nil, 0, err
	}
	cat, err := sqlite.Open(filepath.Join(l.dir, "catalog.db"))
	if err != nil {
		return nil, 0, err
	}
	defer cat.Close()
	eng, err := duckdb.New(ctx, duckdb.Config{Catalog: cat, Store: store, CacheDir: filepath.Join(l.dir, "cache"), Threads: threads})
	if err != nil {
		return nil, 0, err
	}
	defer eng.Close()

	parts, err := cat.ListPartitions(ctx, querysuite.Database, "ticks")
	if err != nil {
		return nil, 0, err
	}
	if len(parts) == 0 {
		return nil, 0, fmt.Errorf("no partitions in %s", lakeDir)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Values[0] < parts[j].Values[0] })
	mid := parts[len(parts)/2].Values[0]
	glob := filepath.Join(lakeDir, "ticks", "*", "*", "*.parquet")
	const agg = "SELECT symbol, count(*) AS trades, sum(price * size) / sum(size) AS vwap, min(price) AS low, max(price) AS high FROM %s %s GROUP BY symbol ORDER BY symbol"
	queries := []struct{ name, where string }{
		{"scan", ""},
		{"pruned", "WHERE dt = '" + mid + "'"},
	}
	files := countFiles(lakeDir)
	fmt.Printf("lake%s: %d ticks, %d days, %d symbols, %d partitions, %d files, DuckDB threads %s\n", l.name, res.Ticks, res.Days, res.Symbols, len(parts), files, threadsName(threads))
	if l.perHour == 1 {
		res.Partitions = len(parts)
		res.LakeBytes = dirSize(lakeDir)
	} else {
		res.SmallLakeBytes = dirSize(lakeDir)
	}
	var out []queryResult
	var full int64
	disagree := 0
	for _, q := range queries {
		name := q.name + l.name
		slSQL := fmt.Sprintf(agg, "market.ticks", q.where)
		dSQL := fmt.Sprintf(agg, "read_parquet('"+glob+"', hive_partitioning = true)", q.where)
		slAns, err := queryStocklake(ctx, eng, slSQL)
		if err != nil {
			return nil, 0, fmt.Errorf("%s through stocklake: %w", name, err)
		}
		dAns, err := queryDirect(ctx, direct, dSQL)
		if err != nil {
			return nil, 0, fmt.Errorf("%s in DuckDB directly: %w", name, err)
		}
		diff := compareAnswers(slAns, dAns, 1e-9)
		if len(slAns) == 0 {
			diff = append(diff, "both answers are empty: the query tests nothing")
		}
		if prev, ok := first[q.name]; ok {
			for _, d := range compareAnswers(slAns, prev, 1e-9) {
				diff = append(diff, "vs one file per hour: "+d)
			}
		} else {
			first[q.name] = slAns
		}
		if len(diff) > 0 {
			disagree++
			fmt.Printf("%-7s ANSWERS DIFFER (stocklake %d rows, duckdb direct %d rows):\n", name, len(slAns), len(dAns))
			for _, d := range diff {
				fmt.Println("   " + d)
			}
		} else {
			fmt.Printf("%-7s answers equal: %d rows\n", name, len(slAns))
		}
		var stats stocklake.QueryStats
		times := timeRuns(runs, func() (int, error) {
			rows, err := eng.Query(ctx, slSQL)
			if err != nil {
				return 0, err
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				n++
			}
			stats = rows.Stats()
			return n, rows.Err()
		}, func() (int, error) {
			rows, err := direct.QueryContext(ctx, dSQL)
			if err != nil {
				return 0, err
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				n++
			}
			return n, rows.Err()
		})
		slTime, slIO, dTime, dIO := times[0].median, times[0].io, times[1].median, times[1].io
		if q.name == "scan" {
			full = stats.BytesScanned
		}
		fmt.Printf("%-7s stocklake %8v  duckdb direct %8v  ratio %.3f  | stocklake reports %s in %d files (%.2f%% of the full scan) | disk read per run: stocklake %s (rchar %s), direct %s (rchar %s)\n",
			name, slTime.Round(time.Millisecond), dTime.Round(time.Millisecond), float64(slTime)/float64(dTime),
			human(stats.BytesScanned), stats.FilesScanned, 100*float64(stats.BytesScanned)/float64(max(full, 1)),
			human(slIO.read), human(slIO.rchar), human(dIO.read), human(dIO.rchar))
		out = append(out, queryResult{Name: name, Layout: l.perHour, SQL: slSQL, DirectSQL: strings.ReplaceAll(dSQL, lakeDir, "DIR/lake"),
			StocklakeMS: msOf(slTime), DirectMS: msOf(dTime), Ratio: float64(slTime) / float64(dTime),
			BytesScanned: stats.BytesScanned, FilesScanned: stats.FilesScanned,
			PctOfFull: 100 * float64(stats.BytesScanned) / float64(max(full, 1)),
			Rows:      len(slAns), AnswersEqual: len(diff) == 0})
	}
	return out, disagree, nil
}

// answer is a query result: one []any per row, values normalized (see
// normalize).
type answer [][]any

func queryStocklake(ctx context.Context, eng stocklake.Engine, q string) (answer, error) {
	rows, err := eng.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ans answer
	for rows.Next() {
		vs := rows.Values()
		row := make([]any, len(vs))
		for i, v := range vs {
			row[i] = normalize(v)
		}
		ans = append(ans, row)
	}
	return ans, rows.Err()
}

func queryDirect(ctx context.Context, db *sql.DB, q string) (answer, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var ans answer
	for rows.Next() {
		vs := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vs {
			ptrs[i] = &vs[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vs {
			vs[i] = normalize(v)
		}
		ans = append(ans, vs)
	}
	return ans, rows.Err()
}

// normalize maps a value to a comparable form: every number to float64
// (integers included, so BIGINT and HUGEINT compare alike), []byte to
// string, times to RFC 3339 in UTC, anything else to its fmt text.
func normalize(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case float64:
		return x
	case float32:
		return float64(x)
	case int:
		return float64(x)
	case int8:
		return float64(x)
	case int16:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case uint8:
		return float64(x)
	case uint16:
		return float64(x)
	case uint32:
		return float64(x)
	case uint64:
		return float64(x)
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f
	case string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case fmt.Stringer:
		if f, err := strconv.ParseFloat(x.String(), 64); err == nil {
			return f // e.g. a DECIMAL
		}
		return x.String()
	}
	return fmt.Sprint(v)
}

// rowKey orders rows for comparison: floats rounded to 6 significant
// digits, so that noise in the last digits does not reorder rows.
func rowKey(row []any) string {
	var b strings.Builder
	for _, v := range row {
		switch x := v.(type) {
		case float64:
			fmt.Fprintf(&b, "%.6g\x00", x)
		default:
			fmt.Fprintf(&b, "%v\x00", x)
		}
	}
	return b.String()
}

// compareAnswers sorts both answers and returns what differs (at most 10
// lines): row counts, column counts, and cells, floats within relative
// tolerance tol.
func compareAnswers(a, b answer, tol float64) []string {
	sortAnswer(a)
	sortAnswer(b)
	var diff []string
	if len(a) != len(b) {
		diff = append(diff, fmt.Sprintf("row count: stocklake %d, duckdb direct %d", len(a), len(b)))
	}
	for i := range min(len(a), len(b)) {
		if len(diff) >= 10 {
			diff = append(diff, "...")
			break
		}
		if len(a[i]) != len(b[i]) {
			diff = append(diff, fmt.Sprintf("row %d: stocklake %d columns, duckdb direct %d", i, len(a[i]), len(b[i])))
			continue
		}
		for j := range a[i] {
			if !sameValue(a[i][j], b[i][j], tol) {
				diff = append(diff, fmt.Sprintf("row %d column %d: stocklake %v, duckdb direct %v (rows %v vs %v)", i, j, a[i][j], b[i][j], a[i], b[i]))
				break
			}
		}
	}
	for i := len(b); i < len(a) && len(diff) < 10; i++ {
		diff = append(diff, fmt.Sprintf("only stocklake: %v", a[i]))
	}
	for i := len(a); i < len(b) && len(diff) < 10; i++ {
		diff = append(diff, fmt.Sprintf("only duckdb direct: %v", b[i]))
	}
	return diff
}

func sortAnswer(a answer) {
	sort.SliceStable(a, func(i, j int) bool { return rowKey(a[i]) < rowKey(a[j]) })
}

// sameValue compares normalized values; floats are equal within relative
// tolerance tol (and NaN equals NaN).
func sameValue(x, y any, tol float64) bool {
	fx, okx := x.(float64)
	fy, oky := y.(float64)
	if okx && oky {
		if fx == fy || (math.IsNaN(fx) && math.IsNaN(fy)) {
			return true
		}
		return math.Abs(fx-fy) <= tol*max(math.Abs(fx), math.Abs(fy))
	}
	return x == y
}

// result is the JSON output.
type result struct {
	Bench           string        `json:"bench"`
	Ticks           int64         `json:"ticks"`
	Days            int           `json:"days"`
	Symbols         int           `json:"symbols"`
	Partitions      int           `json:"partitions"`
	LakeBytes       int64         `json:"lake_bytes"`
	Runs            int           `json:"runs"`
	Threads         string        `json:"threads"`
	GenerateSeconds float64       `json:"generate_seconds"` // -1: the lake in -dir was reused
	SmallPerHour    int           `json:"small_per_hour"`   // objects per hour of the second layout (0 or 1: none)
	SmallLakeBytes  int64         `json:"small_lake_bytes"` // its size
	Queries         []queryResult `json:"queries"`
}

type queryResult struct {
	Name         string  `json:"name"`
	Layout       int     `json:"objects_per_hour"` // of the lake queried
	SQL          string  `json:"sql"`
	DirectSQL    string  `json:"direct_sql"`
	StocklakeMS  float64 `json:"stocklake_ms"` // median
	DirectMS     float64 `json:"direct_ms"`    // median
	Ratio        float64 `json:"ratio"`
	BytesScanned int64   `json:"bytes_scanned"`
	FilesScanned int64   `json:"files_scanned"`
	PctOfFull    float64 `json:"pct_of_full_scan"`
	Rows         int     `json:"rows"`          // rows of the answer
	AnswersEqual bool    `json:"answers_equal"` // stocklake's and DuckDB's answers are the same
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// dirSize is the total size of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func threadsName(n int) string {
	if n <= 0 {
		return "all"
	}
	return strconv.Itoa(n)
}

// generate writes the same ticks into each layout's lake, split into its
// objects per hour (contiguous slices of the hour's ticks, in the order the
// sink would have landed them), and crawls each into its catalog.
func generate(ctx context.Context, layouts []layout, ticks int64, days, symbols int) error {
	stores := make([]stocklake.ObjectStore, len(layouts))
	for i, l := range layouts {
		st, err := file.New(filepath.Join(l.dir, "lake"))
		if err != nil {
			return err
		}
		stores[i] = st
	}
	syms := make([]string, symbols)
	for i := range syms {
		syms[i] = fmt.Sprintf("S%03d", i)
	}
	perHour := int(ticks / int64(days*7*symbols))
	cfg := querysuite.TickConfig{Symbols: syms, Days: days, PerHour: perHour, Start: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)}
	start := time.Now()
	var n int64
	err := querysuite.GenerateTicks(cfg, func(hour time.Time, batch []stocklake.Tick) error {
		for i, l := range layouts {
			k := min(l.perHour, len(batch))
			for j := range k {
				lo, hi := j*len(batch)/k, (j+1)*len(batch)/k
				if err := querysuite.WriteTicks(ctx, stores[i], hour, batch[lo:hi], n+int64(lo)); err != nil {
					return err
				}
			}
		}
		n += int64(len(batch))
		return nil
	})
	if err != nil {
		return err
	}
	log.Printf("wrote %d ticks into %d layouts in %v", n, len(layouts), time.Since(start).Round(time.Second))
	for i, l := range layouts {
		cat, err := sqlite.Open(filepath.Join(l.dir, "catalog.db"))
		if err != nil {
			return err
		}
		c, err := crawler.New(stores[i], cat, crawler.Config{Database: querysuite.Database})
		if err != nil {
			cat.Close()
			return err
		}
		run, err := c.Run(ctx)
		cat.Close()
		if err != nil {
			return err
		}
		log.Printf("%s: %s", l.dir, run.Summary())
	}
	return nil
}

// countFiles is the number of Parquet files under dir.
func countFiles(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
			n++
		}
		return nil
	})
	return n
}

type ioCount struct{ read, rchar int64 }

// procIO reads this process's I/O counters.
func procIO() ioCount {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return ioCount{}
	}
	var c ioCount
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "read_bytes":
			c.read = n
		case "rchar":
			c.rchar = n
		}
	}
	return c
}

type timing struct {
	median time.Duration
	io     ioCount // mean per run
}

// timeRuns runs each function once to warm up, then runs them in turn,
// runs times each, so that both see the same machine load, and returns
// each one's median time and I/O per run.
func timeRuns(runs int, fns ...func() (int, error)) []timing {
	out := make([]timing, len(fns))
	times := make([][]time.Duration, len(fns))
	for _, fn := range fns {
		if _, err := fn(); err != nil {
			log.Fatal(err)
		}
	}
	for range runs {
		for i, fn := range fns {
			before := procIO()
			start := time.Now()
			if _, err := fn(); err != nil {
				log.Fatal(err)
			}
			times[i] = append(times[i], time.Since(start))
			after := procIO()
			out[i].io.read += (after.read - before.read) / int64(runs)
			out[i].io.rchar += (after.rchar - before.rchar) / int64(runs)
		}
	}
	for i := range fns {
		sort.Slice(times[i], func(a, b int) bool { return times[i][a] < times[i][b] })
		out[i].median = times[i][len(times[i])/2]
	}
	return out
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
