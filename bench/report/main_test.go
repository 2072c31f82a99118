package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("stages.tsv", "sink\t0\t36.1\tsink.json\tbench/sink.sh 10000000\t1.00 0.50 0.20\n"+
		"query\t0\t50.0\tquery.json\tgo run ./bench/query\t1.00 0.50 0.20\n"+
		"peers\t0\t40.0\tpeers.json\tgo run ./bench/peers -ticks 1000000\t1.00 0.50 0.20\n"+
		"faults\t1\t12.0\t-\tgo test -run TestFault ./cmd/stocklake\t0.10 0.10 0.10\n")
	write("query.json", `{"bench":"query","ticks":2000000,"small_per_hour":30,"small_lake_bytes":2097152,"queries":[{"name":"scan","stocklake_ms":10,"direct_ms":5,"ratio":2},{"name":"scan, 30 objects/hour","stocklake_ms":40,"direct_ms":20,"ratio":2}]}`)
	write("peers.json", `{"bench":"peers","ticks":1000000,"peer":"benthos v4.27.0","cpu_ratio":6.07,"stocklake_records_per_cpu_second":600000,"benthos_records_per_cpu_second":90000,"stocklake_peak_rss_mib":250,"benthos_peak_rss_mib":1000,"benthos_output_batch_sent":12}`)
	write("sink.json", `{"bench":"sink","ticks":10000000,"records_per_second":425532.4,"records_per_cpu_second":506586,"peak_rss_mib":474.2,"iceberg_records_per_cpu_second":480000,"iceberg_cpu_ratio":0.9475,"runs_cpu_seconds":[10.14,9.271,10.5],"ceiling_ratio":0.61,"ceiling_records_per_cpu_second":830000,"records_per_second_to_last_commit":1500000}`)
	write("faults.jsonl", `{"case":"sink SIGKILL x20","detail":"d","produced":1000000,"landed":1000000,"distinct":1000000,"duplicates":0,"dlq":0,"result":"pass","seconds":73.2,"full":false}`+"\n\n"+
		`{"case":"a|b","produced":10,"landed":9,"distinct":9,"duplicates":1,"dlq":1,"result":"fail","seconds":1}`+"\n")
	stages, err := readStages(dir)
	if err != nil {
		t.Fatal(err)
	}
	faults, raw, err := readFaults(filepath.Join(dir, "faults.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 4 || stages[3].Status != 1 || stages[0].Result["ticks"] != 10000000.0 {
		t.Fatalf("stages = %+v", stages)
	}
	if len(faults) != 2 || faults[0].Produced != 1000000 || raw[0]["full"] != false {
		t.Fatalf("faults = %+v, raw = %v", faults, raw)
	}
	md := markdown(report{Machine: map[string]string{"cpu": "X"}, Stages: stages, Faults: faults, TotalSeconds: 48})
	for _, want := range []string{
		"| sink records/s | 425,532 | sink |",
		"| Hive: peak RSS (MiB) | 474 |",
		"| Hive: CPU seconds of each run | 10.14, 9.27, 10.50 |",
		"| sink records per CPU-second / a bare franz-go consumer's (the ceiling) | 506,586 / 830,000 (0.61) | sink |",
		"| sink records/s to the last commit (the idle check at the end excluded) | 1,500,000 | sink |",
		"| ceiling: a bare franz-go consumer (bench/ceiling, the sink's fetch settings, no decoding), records per CPU-second | 830,000 |",
		"| Iceberg / Hive records per CPU-second | 0.95 |",
		"| sink records per CPU-second, Iceberg table (Iceberg / Hive) | 480,000 (0.95) | sink |",
		"bench/sink.sh 10000000",
		"| sink SIGKILL x20 | 1,000,000 | 1,000,000 | 1,000,000 | 0 | 0 | pass | 73.2 |",
		`| a\|b | 10 | 9 | 9 | 1 | 1 | fail | 1.0 |`,
		"| fault-injection cases passed | 1 of 2 | faults |",
		"**The stage failed (exit status 1)",
		"| **total** | | 48 | |",
		"| records per CPU-second (user+sys) | 600,000 | 90,000 | 6.67 |",
		"| peak RSS (MiB) | 250 | 1,000 | 0.25 |",
		"| sink records per CPU-second: stocklake / benthos v4.27.0 | 600,000 / 90,000 (6.1x) | peers |",
		"Benthos `output_batch_sent` when done: 12.",
		"| scan, 30 objects/hour | 40.0 | 20.0 | 2.00 |",
		"Small-object layout: 30 objects per hour, 2.0 MiB.",
		"Both engines gave the same answers on every layout",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

func TestReadStagesRejectsShortLines(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "stages.tsv"), []byte("sink\t0\n"), 0o644)
	if _, err := readStages(dir); err == nil {
		t.Fatal("a line with 2 fields was accepted")
	}
}

// TestKeepSections: a new report keeps the section bench/compaction wrote
// into the old RESULTS.md, and adds nothing when there was none.
func TestKeepSections(t *testing.T) {
	old := "# old report\n\n<!-- bench/compaction: begin -->\n## Compaction\n| a |\n<!-- bench/compaction: end -->\n"
	got := keepSections(old, "# new report\n")
	if !strings.HasPrefix(got, "# new report\n") || !strings.Contains(got, "## Compaction\n| a |\n<!-- bench/compaction: end -->") || strings.Contains(got, "old report") {
		t.Errorf("keepSections = %q", got)
	}
	if got := keepSections("# old\n", "# new\n"); got != "# new\n" {
		t.Errorf("without a section: %q", got)
	}
}
