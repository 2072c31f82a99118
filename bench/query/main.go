// Command query benchmarks stocklake's embedded SQL engine against DuckDB
// used directly, on the same Parquet files.
//
// It generates a lake of ticks as the sink writes them (zstd Parquet under
// ticks/dt=YYYY-MM-DD/hour=HH/, one file per hour of trading, 14:00-21:00
// UTC), crawls it into a SQLite catalog, and times two queries:
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
//	go run ./bench/query -ticks 50000000 -days 30 -dir /tmp/stocklake-bench [-json FILE]
//
// The lake is kept in -dir and reused when it already holds the same size.
// With -json FILE it also writes the figures as a JSON object.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log"
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
	flag.Parse()
	ctx := context.Background()
	res := result{Bench: "query", Ticks: *ticks, Days: *days, Symbols: *symbols, Runs: *runs, Threads: threadsName(*threads), GenerateSeconds: -1}

	lakeDir := filepath.Join(*dir, "lake")
	marker := filepath.Join(*dir, fmt.Sprintf("generated-%d-%d-%d", *ticks, *days, *symbols))
	if _, err := os.Stat(marker); err != nil {
		os.RemoveAll(*dir)
		start := time.Now()
		if err := generate(ctx, lakeDir, *dir, *ticks, *days, *symbols); err != nil {
			log.Fatal(err)
		}
		res.GenerateSeconds = time.Since(start).Seconds()
		os.WriteFile(marker, nil, 0o644)
	}
	store, err := file.New(lakeDir)
	if err != nil {
		log.Fatal(err)
	}
	cat, err := sqlite.Open(filepath.Join(*dir, "catalog.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer cat.Close()
	eng, err := duckdb.New(ctx, duckdb.Config{Catalog: cat, Store: store, CacheDir: filepath.Join(*dir, "cache"), Threads: *threads})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()
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

	parts, err := cat.ListPartitions(ctx, querysuite.Database, "ticks")
	if err != nil {
		log.Fatal(err)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Values[0] < parts[j].Values[0] })
	mid := parts[len(parts)/2].Values[0]
	glob := filepath.Join(lakeDir, "ticks", "*", "*", "*.parquet")
	const agg = "SELECT symbol, count(*) AS trades, sum(price * size) / sum(size) AS vwap, min(price) AS low, max(price) AS high FROM %s %s GROUP BY symbol ORDER BY symbol"
	queries := []struct{ name, where string }{
		{"scan", ""},
		{"pruned", "WHERE dt = '" + mid + "'"},
	}
	fmt.Printf("lake: %d ticks, %d days, %d symbols, %d partitions, DuckDB threads %s\n", *ticks, *days, *symbols, len(parts), threadsName(*threads))
	res.Partitions = len(parts)
	res.LakeBytes = dirSize(lakeDir)
	var full int64
	for _, q := range queries {
		slSQL := fmt.Sprintf(agg, "market.ticks", q.where)
		dSQL := fmt.Sprintf(agg, "read_parquet('"+glob+"', hive_partitioning = true)", q.where)
		var stats stocklake.QueryStats
		times := timeRuns(*runs, func() (int, error) {
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
			q.name, slTime.Round(time.Millisecond), dTime.Round(time.Millisecond), float64(slTime)/float64(dTime),
			human(stats.BytesScanned), stats.FilesScanned, 100*float64(stats.BytesScanned)/float64(max(full, 1)),
			human(slIO.read), human(slIO.rchar), human(dIO.read), human(dIO.rchar))
		res.Queries = append(res.Queries, queryResult{Name: q.name, SQL: slSQL, DirectSQL: strings.ReplaceAll(dSQL, lakeDir, "DIR/lake"),
			StocklakeMS: msOf(slTime), DirectMS: msOf(dTime), Ratio: float64(slTime) / float64(dTime),
			BytesScanned: stats.BytesScanned, FilesScanned: stats.FilesScanned,
			PctOfFull: 100 * float64(stats.BytesScanned) / float64(max(full, 1))})
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			log.Fatal(err)
		}
	}
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
	Queries         []queryResult `json:"queries"`
}

type queryResult struct {
	Name         string  `json:"name"`
	SQL          string  `json:"sql"`
	DirectSQL    string  `json:"direct_sql"`
	StocklakeMS  float64 `json:"stocklake_ms"` // median
	DirectMS     float64 `json:"direct_ms"`    // median
	Ratio        float64 `json:"ratio"`
	BytesScanned int64   `json:"bytes_scanned"`
	FilesScanned int64   `json:"files_scanned"`
	PctOfFull    float64 `json:"pct_of_full_scan"`
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

// generate writes the lake and crawls it.
func generate(ctx context.Context, lakeDir, dir string, ticks int64, days, symbols int) error {
	store, err := file.New(lakeDir)
	if err != nil {
		return err
	}
	syms := make([]string, symbols)
	for i := range syms {
		syms[i] = fmt.Sprintf("S%03d", i)
	}
	perHour := int(ticks / int64(days*7*symbols))
	cfg := querysuite.TickConfig{Symbols: syms, Days: days, PerHour: perHour, Start: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)}
	start := time.Now()
	var n int64
	err = querysuite.GenerateTicks(cfg, func(hour time.Time, batch []stocklake.Tick) error {
		err := querysuite.WriteTicks(ctx, store, hour, batch, n)
		n += int64(len(batch))
		return err
	})
	if err != nil {
		return err
	}
	log.Printf("wrote %d ticks in %v", n, time.Since(start).Round(time.Second))
	cat, err := sqlite.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		return err
	}
	defer cat.Close()
	c, err := crawler.New(store, cat, crawler.Config{Database: querysuite.Database})
	if err != nil {
		return err
	}
	run, err := c.Run(ctx)
	if err != nil {
		return err
	}
	log.Print(run.Summary())
	return nil
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
