// Command report renders the results of bench/run as Markdown and JSON.
//
//	go run ./bench/report -dir RAW [-md bench/RESULTS.md] [-json bench/results.json] [-total SECONDS] [-note TEXT]
//
// RAW is bench/run's raw directory. It holds stages.tsv, one line per stage
// with tab-separated fields
//
//	name  exit-status  seconds  result-file  command  load-average-before
//
// where result-file (relative to RAW, or "-") is the JSON object the stage
// wrote, and optionally faults.jsonl, the fault-injection suite's cases, one
// JSON object per line:
//
//	{"case":"sink SIGKILL x20","detail":"...","produced":1000000,"landed":1000000,
//	 "distinct":1000000,"duplicates":0,"dlq":0,"result":"pass","seconds":73.2}
//
// The machine (CPU, cores, RAM, kernel, Go, git commit) is read from the
// machine this runs on, which bench/run makes the one the benchmarks ran on.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	dir := flag.String("dir", "", "bench/run's raw directory (stages.tsv, result files, faults.jsonl)")
	mdOut := flag.String("md", "bench/RESULTS.md", "Markdown report to write")
	jsonOut := flag.String("json", "bench/results.json", "JSON report to write")
	total := flag.Float64("total", 0, "total run time in seconds (0: the sum of the stages)")
	note := flag.String("note", "", "a line to put under the title, e.g. that sizes are reduced")
	flag.Parse()
	log.SetFlags(0)
	if *dir == "" {
		log.Fatal("report: -dir is required")
	}
	rep := report{Generated: time.Now().UTC().Format(time.RFC3339), Machine: machine(), Note: *note}
	stages, err := readStages(*dir)
	if err != nil {
		log.Fatal(err)
	}
	rep.Stages = stages
	rep.Faults, rep.FaultsRaw, err = readFaults(filepath.Join(*dir, "faults.jsonl"))
	if err != nil {
		log.Fatal(err)
	}
	rep.TotalSeconds = *total
	if rep.TotalSeconds == 0 {
		for _, s := range stages {
			rep.TotalSeconds += s.Seconds
		}
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	old, _ := os.ReadFile(*mdOut)
	if err := os.WriteFile(*mdOut, []byte(keepSections(string(old), markdown(rep))), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s and %s", *mdOut, *jsonOut)
}

type report struct {
	Generated    string            `json:"generated"`
	Note         string            `json:"note,omitempty"`
	Machine      map[string]string `json:"machine"`
	TotalSeconds float64           `json:"total_seconds"`
	Stages       []stage           `json:"stages"`
	Faults       []faultCase       `json:"-"`
	FaultsRaw    []map[string]any  `json:"faults,omitempty"` // as the suite wrote them
}

type stage struct {
	Name    string         `json:"name"`
	Status  int            `json:"exit_status"`
	Seconds float64        `json:"seconds"`
	Command string         `json:"command"`
	Load    string         `json:"load_average_before"`
	Result  map[string]any `json:"result,omitempty"`
}

type faultCase struct {
	Case       string  `json:"case"`
	Detail     string  `json:"detail,omitempty"`
	Produced   int64   `json:"produced"`
	Landed     int64   `json:"landed"`
	Distinct   int64   `json:"distinct"`
	Duplicates int64   `json:"duplicates"`
	DLQ        int64   `json:"dlq"`
	Result     string  `json:"result"`
	Seconds    float64 `json:"seconds"`
}

func readStages(dir string) ([]stage, error) {
	b, err := os.ReadFile(filepath.Join(dir, "stages.tsv"))
	if err != nil {
		return nil, fmt.Errorf("no stages recorded: %v", err)
	}
	var out []stage
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < 6 {
			return nil, fmt.Errorf("stages.tsv: line %q has %d fields, want 6", line, len(f))
		}
		s := stage{Name: f[0], Command: f[4], Load: f[5]}
		s.Status, _ = strconv.Atoi(f[1])
		s.Seconds, _ = strconv.ParseFloat(f[2], 64)
		if f[3] != "-" && f[3] != "" {
			if rb, err := os.ReadFile(filepath.Join(dir, f[3])); err == nil {
				if err := json.Unmarshal(rb, &s.Result); err != nil {
					return nil, fmt.Errorf("%s: %v", f[3], err)
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func readFaults(path string) ([]faultCase, []map[string]any, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var out []faultCase
	var raw []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var c faultCase
		var m map[string]any
		if err := json.Unmarshal(line, &c); err != nil {
			return nil, nil, fmt.Errorf("%s line %d: %v", path, n, err)
		}
		json.Unmarshal(line, &m)
		out, raw = append(out, c), append(raw, m)
	}
	return out, raw, sc.Err()
}

// machine describes this machine.
func machine() map[string]string {
	m := map[string]string{
		"cores": strconv.Itoa(runtime.NumCPU()),
		"os":    runtime.GOOS + "/" + runtime.GOARCH,
		"date":  time.Now().UTC().Format("2006-01-02 15:04 MST"),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				m["ram"] = fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	m["go"] = strings.TrimPrefix(output("go", "env", "GOVERSION"), "go")
	if m["go"] == "" {
		m["go"] = strings.TrimPrefix(runtime.Version(), "go")
	}
	if c := output("git", "rev-parse", "--short=12", "HEAD"); c != "" {
		if output("git", "status", "--porcelain", "--untracked-files=no") != "" {
			c += " (with uncommitted changes)"
		}
		m["commit"] = c
	}
	return m
}

func output(name string, args ...string) string {
	b, err := exec.Command(name, args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func markdown(r report) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# stocklake benchmark results\n\n")
	w("Written by `bench/run` (%s); the whole run took %s. ", r.Machine["date"], dur(r.TotalSeconds))
	w("Every figure comes from the command shown with it; `bench/run` builds `./cmd/stocklake` and each `./bench/...` program once and runs them as shown (`go run` builds the same thing).\n\n")
	if r.Note != "" {
		w("**%s**\n\n", r.Note)
	}
	w("## Machine\n\n| | |\n|---|---|\n")
	for _, k := range []string{"cpu", "cores", "ram", "kernel", "os", "go", "commit", "date"} {
		if v := r.Machine[k]; v != "" {
			w("| %s | %s |\n", k, v)
		}
	}
	w("\nThe machine may be shared: each stage's load average before it started is in the last table.\n\n")

	byName := map[string]stage{}
	for _, s := range r.Stages {
		byName[s.Name] = s
	}
	summary(&b, byName, r.Faults)

	for _, s := range r.Stages {
		switch s.Name {
		case "sink":
			section(&b, s, "Sink throughput", "A topic pre-filled with simulated ticks (in-memory `stocklake broker`, 3 partitions) is landed by `stocklake sink --exit-when-idle` into a fresh `file://` lake, alternately on the same topic as a Hive table (`--table-format hive`) and as an Iceberg table (`--table-format iceberg`, SQLite catalog), three times each; the figures are each format's run of median CPU time (the CPU seconds of every run are listed: one run varies by up to 15% on this machine); then the same ticks written in Avro through the schema registry stand-in to a second topic, landed as a Hive table (`bench/sink.sh --format avro`); CPU and peak RSS are the sink process's (GNU time). Wall time includes joining the group and the idle check at the end.", []row{
				{"ticks", "ticks", count},
				{"Hive: records/s (wall)", "records_per_second", count},
				{"Hive: records per CPU-second (user+sys)", "records_per_cpu_second", count},
				{"Hive: CPU seconds", "cpu_seconds", fixed(2)},
				{"Hive: CPU seconds of each run", "runs_cpu_seconds", each(fixed(2))},
				{"Hive: wall seconds", "wall_seconds", fixed(2)},
				{"Hive: records/s to the last commit (less the idle polls before the final flush)", "records_per_second_to_last_commit", count},
				{"Hive: seconds to the last commit", "to_last_commit_seconds", fixed(2)},
				{"Hive: of the ceiling (records per CPU-second / the bare consumer's)", "ceiling_ratio", fixed(2)},
				{"Hive: peak RSS (MiB)", "peak_rss_mib", count},
				{"Hive: Parquet files", "parquet_files", count},
				{"Hive: lake bytes per tick", "bytes_per_tick", fixed(1)},
				{"Iceberg: records/s (wall)", "iceberg_records_per_second", count},
				{"Iceberg: records per CPU-second (user+sys)", "iceberg_records_per_cpu_second", count},
				{"Iceberg: CPU seconds", "iceberg_cpu_seconds", fixed(2)},
				{"Iceberg: CPU seconds of each run", "iceberg_runs_cpu_seconds", each(fixed(2))},
				{"Iceberg: wall seconds", "iceberg_wall_seconds", fixed(2)},
				{"Iceberg: records/s to the last commit", "iceberg_records_per_second_to_last_commit", count},
				{"Iceberg: seconds to the last commit", "iceberg_to_last_commit_seconds", fixed(2)},
				{"Iceberg: of the ceiling", "iceberg_ceiling_ratio", fixed(2)},
				{"Iceberg: peak RSS (MiB)", "iceberg_peak_rss_mib", count},
				{"Iceberg: data files", "iceberg_data_files", count},
				{"Iceberg / Hive records per CPU-second", "iceberg_cpu_ratio", fixed(2)},
				{"Iceberg / Hive records/s", "iceberg_wall_ratio", fixed(2)},
				{"Avro ticks (same ticks, `produce --format avro`, Hive): records/s (wall)", "avro_records_per_second", count},
				{"Avro ticks: records per CPU-second (user+sys)", "avro_records_per_cpu_second", count},
				{"Avro ticks: peak RSS (MiB)", "avro_peak_rss_mib", count},
				{"topic fill rate (produce, ticks/s)", "produce_per_second", count},
				{"ceiling: a bare franz-go consumer (bench/ceiling, the sink's fetch settings, no decoding), records per CPU-second", "ceiling_records_per_cpu_second", count},
				{"ceiling: records/s (wall)", "ceiling_records_per_second", count},
				{"ceiling: peak RSS (MiB)", "ceiling_peak_rss_mib", count},
			})
		case "freshness", "freshness-iceberg":
			title := "Freshness"
			if s.Name == "freshness-iceberg" {
				title = "Freshness, Iceberg table (`sink --table-format iceberg`)"
			}
			section(&b, s, title, freshnessText(s.Result), []row{
				{"background rate asked (ticks/s)", "rate_target", count},
				{"achieved into Kafka (ticks/s)", "rate_achieved", count},
				{"landed by the sink (rows/s)", "sink_rows_per_sec", count},
				{"sink max lag (records)", "sink_max_lag_records", count},
				{"sink --flush-interval", "flush_interval", str},
				{"probes measured (never seen)", "probes", func(v any) string {
					return fmt.Sprintf("%s (%s)", count(v), count(s.Result["probes_unseen"]))
				}},
				{"freshness p50 (ms)", "freshness_p50_ms", fixed(0)},
				{"freshness p90 (ms)", "freshness_p90_ms", fixed(0)},
				{"freshness p99 (ms)", "freshness_p99_ms", fixed(0)},
				{"freshness max (ms)", "freshness_max_ms", fixed(0)},
				{"queries in the window (failed)", "queries", func(v any) string {
					return fmt.Sprintf("%s (%s)", count(v), count(s.Result["query_errors"]))
				}},
				{"`stocklake query` process run time p50 / p99 (ms)", "query_p50_ms", func(v any) string {
					return fmt.Sprintf("%s / %s", fixed(0)(v), fixed(0)(s.Result["query_p99_ms"]))
				}},
				{"engine time p50 (ms, from the query summary)", "query_engine_p50_ms", fixed(0)},
				{"query run time p50, first / last part of the window (ms)", "query_first_p50_ms", func(v any) string {
					return fmt.Sprintf("%s / %s (%s each)", fixed(0)(v), fixed(0)(s.Result["query_last_p50_ms"]), str(s.Result["query_edge"]))
				}},
				{"Parquet files in the lake at the end", "lake_parquet_files", count},
				{"CPU cores: sink / producer / broker / queries", "sink_cores", func(v any) string {
					return fmt.Sprintf("%s / %s / %s / %s", fixed(2)(v), fixed(2)(s.Result["producer_cores"]), fixed(2)(s.Result["broker_cores"]), fixed(2)(s.Result["query_cores"]))
				}},
				{"machine busy", "machine_busy", pct},
				{"sink peak RSS (MiB)", "sink_peak_rss_mib", count},
				{"results not a prefix of the probes / over-counted", "non_prefix_results", func(v any) string {
					return fmt.Sprintf("%s / %s", count(v), count(s.Result["over_count_results"]))
				}},
			})
			if s.Result != nil {
				w("Processes: `%s`; `%s`; `%s`.\n\n", s.Result["sink_command"], s.Result["producer_command"], s.Result["query_command"])
			}
		case "query":
			querySection(&b, s)
		case "analyze-throughput":
			section(&b, s, "Analytics throughput", "A topic pre-filled with simulated ticks is read by `stocklake analyze --exit-when-idle` (its own process); ticks per CPU-second are the analyzer's user+sys time, ticks/s the wall time from start until its metrics counted every tick.", []row{
				{"ticks", "ticks", count},
				{"windows", "windows", str},
				{"ticks per CPU-second (per core)", "ticks_per_cpu_second", count},
				{"ticks/s (wall, start to all consumed)", "ticks_per_second", count},
				{"analyzer CPU seconds", "cpu_seconds", fixed(2)},
				{"peak RSS (MiB)", "peak_rss_mib", count},
				{"wall to exit, all windows closed and committed (s)", "wall_seconds", fixed(1)},
			})
		case "analyze-latency":
			section(&b, s, "Tick-to-bar latency", "Live ticks (event time = wall clock) are produced at a fixed rate while a read_committed consumer reads the 1s bars; latency = when the bar is consumed - when the tick that closed its window was produced (see bench/analyze).", []row{
				{"rate asked (ticks/s)", "rate_target", count},
				{"achieved (ticks/s)", "rate_achieved", count},
				{"bars measured (missing)", "bars", func(v any) string {
					return fmt.Sprintf("%s (%s)", count(v), count(s.Result["bars_missing"]))
				}},
				{"latency p50 (ms)", "latency_p50_ms", fixed(1)},
				{"latency p90 (ms)", "latency_p90_ms", fixed(1)},
				{"latency p99 (ms)", "latency_p99_ms", fixed(1)},
				{"latency max (ms)", "latency_max_ms", fixed(1)},
				{"analyzer CPU (cores)", "analyzer_cores", fixed(2)},
				{"transactions (mean commit ms)", "transactions", func(v any) string {
					return fmt.Sprintf("%s (%s)", count(v), fixed(1)(s.Result["commit_mean_ms"]))
				}},
			})
		case "peers":
			peersSection(&b, s)
		case "faults":
			faultSection(&b, s, r.Faults)
		default:
			section(&b, s, s.Name, "", nil)
		}
	}

	w("## Stages\n\n| stage | exit | seconds | load average before |\n|---|---|---|---|\n")
	for _, s := range r.Stages {
		w("| %s | %d | %.0f | %s |\n", s.Name, s.Status, s.Seconds, s.Load)
	}
	w("| **total** | | %.0f | |\n", r.TotalSeconds)
	return b.String()
}

// summary is the table of the figures the issue asks for.
func summary(b *strings.Builder, st map[string]stage, faults []faultCase) {
	type line struct{ figure, value, from string }
	var ls []line
	if r := st["sink"].Result; r != nil {
		ls = append(ls,
			line{"sink records/s", count(r["records_per_second"]), "sink"},
			line{"sink records per CPU-second", count(r["records_per_cpu_second"]), "sink"},
			line{"sink peak RSS", count(r["peak_rss_mib"]) + " MiB", "sink"})
		if r["records_per_second_to_last_commit"] != nil {
			ls = append(ls, line{"sink records/s to the last commit (the idle check at the end excluded)", count(r["records_per_second_to_last_commit"]), "sink"})
		}
		if r["ceiling_ratio"] != nil {
			ls = append(ls, line{"sink records per CPU-second / a bare franz-go consumer's (the ceiling)",
				fmt.Sprintf("%s / %s (%s)", count(r["records_per_cpu_second"]), count(r["ceiling_records_per_cpu_second"]), fixed(2)(r["ceiling_ratio"])), "sink"})
		}
		if r["iceberg_records_per_cpu_second"] != nil {
			ls = append(ls, line{"sink records per CPU-second, Iceberg table (Iceberg / Hive)",
				fmt.Sprintf("%s (%s)", count(r["iceberg_records_per_cpu_second"]), fixed(2)(r["iceberg_cpu_ratio"])), "sink"})
		}
	}
	for _, name := range []string{"freshness", "freshness-iceberg"} {
		if r := st[name].Result; r != nil {
			what := "freshness"
			if name == "freshness-iceberg" {
				what = "freshness, Iceberg table,"
			}
			ls = append(ls, line{fmt.Sprintf("%s p50 / p99 at %s ticks/s (achieved %s)", what, count(r["rate_target"]), count(r["rate_achieved"])),
				fmt.Sprintf("%s ms / %s ms", fixed(0)(r["freshness_p50_ms"]), fixed(0)(r["freshness_p99_ms"])), name})
		}
	}
	if r := st["query"].Result; r != nil {
		if qs, ok := r["queries"].([]any); ok {
			for _, q := range qs {
				if q, ok := q.(map[string]any); ok {
					ls = append(ls, line{fmt.Sprintf("query %q: stocklake / DuckDB directly", q["name"]),
						fmt.Sprintf("%s ms / %s ms (%sx)", fixed(0)(q["stocklake_ms"]), fixed(0)(q["direct_ms"]), fixed(2)(q["ratio"])), "query"})
				}
			}
		}
	}
	if r := st["analyze-throughput"].Result; r != nil {
		ls = append(ls, line{"analytics ticks per CPU-second / ticks/s", count(r["ticks_per_cpu_second"]) + " / " + count(r["ticks_per_second"]), "analyze-throughput"})
	}
	if r := st["peers"].Result; r != nil {
		ls = append(ls, line{fmt.Sprintf("sink records per CPU-second: stocklake / %s", r["peer"]),
			fmt.Sprintf("%s / %s (%sx)", count(r["stocklake_records_per_cpu_second"]), count(r["benthos_records_per_cpu_second"]), fixed(1)(r["cpu_ratio"])), "peers"})
	}
	if r := st["analyze-latency"].Result; r != nil {
		ls = append(ls, line{fmt.Sprintf("tick-to-bar latency p50 / p99 at %s ticks/s", count(r["rate_target"])),
			fmt.Sprintf("%s ms / %s ms", fixed(1)(r["latency_p50_ms"]), fixed(1)(r["latency_p99_ms"])), "analyze-latency"})
	}
	if len(faults) > 0 {
		pass := 0
		for _, f := range faults {
			if f.Result == "pass" {
				pass++
			}
		}
		ls = append(ls, line{"fault-injection cases passed", fmt.Sprintf("%d of %d", pass, len(faults)), "faults"})
	}
	if len(ls) == 0 {
		return
	}
	fmt.Fprintf(b, "## Summary\n\n| figure | value | section |\n|---|---|---|\n")
	for _, l := range ls {
		fmt.Fprintf(b, "| %s | %s | %s |\n", l.figure, l.value, l.from)
	}
	b.WriteString("\n")
}

type row struct {
	label, key string
	format     func(any) string
}

func section(b *strings.Builder, s stage, title, text string, rows []row) {
	fmt.Fprintf(b, "## %s\n\n", title)
	if text != "" {
		fmt.Fprintf(b, "%s\n\n", text)
	}
	fmt.Fprintf(b, "```\n%s\n```\n\n", s.Command)
	if s.Status != 0 {
		fmt.Fprintf(b, "**The stage failed (exit status %d); see its log in the raw directory.**\n\n", s.Status)
	}
	if s.Result == nil || len(rows) == 0 {
		if s.Result == nil {
			b.WriteString("No figures: the stage wrote no result.\n\n")
		}
		return
	}
	b.WriteString("| | |\n|---|---|\n")
	for _, r := range rows {
		v, ok := s.Result[r.key]
		if !ok {
			continue
		}
		fmt.Fprintf(b, "| %s | %s |\n", r.label, r.format(v))
	}
	b.WriteString("\n")
}

// peersSection shows the stocklake sink and its peer side by side.
func peersSection(b *strings.Builder, s stage) {
	section(b, s, "Sink beside a peer (Benthos)", "The same topic of simulated ticks (in-memory `stocklake broker`) is landed as Parquet on local disk twice, each process alone and in its own consumer group: by `stocklake sink` (default flags but `--table-format hive`: Hive layout) and by Benthos v4.27.0 (`kafka_franz` → `mapping` → `parquet_encode` (zstd) → `file`, batches of 100,000 records per partition or 5 s). CPU (user+sys) and peak RSS are each process's; time to the last record is the sink's time to its last commit less its idle polls, and for Benthos the time until its output had written every record (its last batch waits for the 5 s period). The run fails unless Benthos's batches formed (`output_batch_sent` far below the records) and no record failed its processors.", nil)
	r := s.Result
	if r == nil {
		return
	}
	fmt.Fprintf(b, "%s ticks.\n\n| | stocklake sink | %s | stocklake / peer |\n|---|---|---|---|\n", count(r["ticks"]), esc(str(r["peer"])))
	for _, row := range []row{
		{"records per CPU-second (user+sys)", "records_per_cpu_second", count},
		{"records/s to the last record", "records_per_second", count},
		{"CPU seconds", "cpu_seconds", fixed(2)},
		{"seconds to the last record", "seconds_to_last_record", fixed(2)},
		{"peak RSS (MiB)", "peak_rss_mib", count},
		{"Parquet files", "files", count},
	} {
		sl, ok1 := num(r["stocklake_"+row.key])
		bt, ok2 := num(r["benthos_"+row.key])
		if !ok1 || !ok2 {
			continue
		}
		ratio := "-"
		if bt != 0 {
			ratio = fixed(2)(sl / bt)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", row.label, row.format(sl), row.format(bt), ratio)
	}
	fmt.Fprintf(b, "\nBenthos `output_batch_sent` when done: %s.\n\n", count(r["benthos_output_batch_sent"]))
}

func freshnessText(r map[string]any) string {
	t := "Probe ticks (symbol ZZPROBE, sequential trade_id, one partition) are produced every few hundred ms into the same topic as a steady simulated background load, which `stocklake sink` lands with the flush interval shown and registers in a SQLite catalog; meanwhile fresh `stocklake query` processes count the probes, one after another. Freshness = the return time of the first query whose count includes a probe - the wall clock just before that probe was produced. Its resolution is one query's run time."
	if d, ok := r["duration"].(string); ok {
		t += fmt.Sprintf(" Measured for %s after a %s warm-up, one probe every %s.", d, r["warmup"], r["probe_interval"])
	}
	return t
}

func querySection(b *strings.Builder, s stage) {
	r := s.Result
	text := "Simulated ticks are written as the sink writes them (zstd Parquet) in two layouts, each crawled into its own SQLite catalog: one file per hour, and many small objects per hour (named `..., N objects/hour`: what a sink that commits often leaves before compaction); each query runs through stocklake's DuckDB engine (catalog lookup, partition pruning) and in DuckDB directly (`read_parquet` with a glob and `hive_partitioning`), alternately, after one warm-up; times are medians."
	if r != nil {
		gen := "reused from an earlier run"
		if g, _ := r["generate_seconds"].(float64); g >= 0 {
			gen = fmt.Sprintf("generated and crawled in %.0f s", g)
		}
		text += fmt.Sprintf(" Lake: %s ticks, %s days, %s symbols, %s partitions, %s (%s); %s runs per query, DuckDB threads %s.",
			count(r["ticks"]), count(r["days"]), count(r["symbols"]), count(r["partitions"]), bytesOf(r["lake_bytes"]), gen, count(r["runs"]), r["threads"])
		if n, _ := num(r["small_per_hour"]); n > 1 {
			text += fmt.Sprintf(" Small-object layout: %s objects per hour, %s.", count(n), bytesOf(r["small_lake_bytes"]))
		}
		if s.Status == 0 {
			text += " Both engines gave the same answers on every layout, and each layout the same as one file per hour (the stage fails otherwise)."
		}
	}
	section(b, s, "Query: stocklake vs DuckDB directly", text, nil)
	if r == nil {
		return
	}
	qs, _ := r["queries"].([]any)
	b.WriteString("| query | stocklake (ms) | DuckDB directly (ms) | ratio | read by stocklake | files | of the full scan |\n|---|---|---|---|---|---|---|\n")
	for _, q := range qs {
		q, ok := q.(map[string]any)
		if !ok {
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", q["name"], fixed(1)(q["stocklake_ms"]), fixed(1)(q["direct_ms"]), fixed(2)(q["ratio"]),
			bytesOf(q["bytes_scanned"]), count(q["files_scanned"]), fixed(1)(q["pct_of_full_scan"])+"%")
	}
	b.WriteString("\n")
	for _, q := range qs {
		if q, ok := q.(map[string]any); ok {
			fmt.Fprintf(b, "- %s, stocklake: `%s`\n", q["name"], q["sql"])
			fmt.Fprintf(b, "- %s, directly: `%s`\n", q["name"], q["direct_sql"])
		}
	}
	b.WriteString("\n")
}

func faultSection(b *strings.Builder, s stage, cases []faultCase) {
	section(b, s, "Fault injection", "The fault-injection suite (`TestFault*Integration` in ./cmd/stocklake, against Apache Kafka and an S3 server started by scripts/kafka and scripts/s3) appends one line per case; landed = rows in the lake, distinct = distinct (symbol, trade_id), DLQ = records in the dead-letter topic.", nil)
	if note, ok := s.Result["note"].(string); ok {
		fmt.Fprintf(b, "%s.\n\n", note)
	}
	if mode, ok := s.Result["mode"].(string); ok {
		fmt.Fprintf(b, "Suite length: %s.\n\n", mode)
	}
	if len(cases) == 0 {
		b.WriteString("No cases were reported.\n\n")
		return
	}
	b.WriteString("| case | produced | landed | distinct | duplicates | DLQ | result | seconds |\n|---|---|---|---|---|---|---|---|\n")
	var details []string
	for _, c := range cases {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %.1f |\n", esc(c.Case), count(c.Produced), count(c.Landed), count(c.Distinct),
			count(c.Duplicates), count(c.DLQ), esc(c.Result), c.Seconds)
		if c.Detail != "" {
			details = append(details, fmt.Sprintf("- %s: %s", esc(c.Case), c.Detail))
		}
	}
	b.WriteString("\n")
	if len(details) > 0 {
		b.WriteString(strings.Join(details, "\n") + "\n\n")
	}
}

func esc(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func num(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	case int:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}

// count formats a number rounded to an integer with thousands separators.
func count(v any) string {
	f, ok := num(v)
	if !ok {
		return str(v)
	}
	s := strconv.FormatInt(int64(math.Round(f)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out strings.Builder
	if neg {
		out.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out.WriteByte(',')
		}
		out.WriteRune(c)
	}
	return out.String()
}

// each formats a list of values with format, comma-separated.
func each(format func(any) string) func(any) string {
	return func(v any) string {
		vs, ok := v.([]any)
		if !ok {
			return str(v)
		}
		out := make([]string, len(vs))
		for i, x := range vs {
			out[i] = format(x)
		}
		return strings.Join(out, ", ")
	}
}

func fixed(n int) func(any) string {
	return func(v any) string {
		f, ok := num(v)
		if !ok {
			return str(v)
		}
		return strconv.FormatFloat(f, 'f', n, 64)
	}
}

func pct(v any) string {
	f, ok := num(v)
	if !ok {
		return str(v)
	}
	return fmt.Sprintf("%.0f%%", 100*f)
}

func str(v any) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprint(v)
}

func bytesOf(v any) string {
	f, ok := num(v)
	if !ok {
		return str(v)
	}
	switch {
	case f >= 1<<30:
		return fmt.Sprintf("%.2f GiB", f/(1<<30))
	case f >= 1<<20:
		return fmt.Sprintf("%.1f MiB", f/(1<<20))
	case f >= 1<<10:
		return fmt.Sprintf("%.1f KiB", f/(1<<10))
	}
	return fmt.Sprintf("%.0f B", f)
}

func dur(sec float64) string {
	d := time.Duration(sec * float64(time.Second)).Round(time.Second)
	return d.String()
}

// keptSections are sections of RESULTS.md that other programs write
// between their markers (bench/compaction, which bench/run does not run):
// a new report keeps them from the old file.
var keptSections = [][2]string{{"<!-- bench/compaction: begin -->", "<!-- bench/compaction: end -->"}}

// keepSections appends to md the kept sections of old.
func keepSections(old, md string) string {
	for _, m := range keptSections {
		i, j := strings.Index(old, m[0]), strings.Index(old, m[1])
		if i < 0 || j < i || strings.Contains(md, m[0]) {
			continue
		}
		if !strings.HasSuffix(md, "\n\n") {
			md += "\n"
		}
		md += old[i:j+len(m[1])] + "\n"
	}
	return md
}
