package iceberg

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/sqlite"
)

// TestIcebergPyicebergIntegration: pyiceberg (PyPI), not stocklake, opens
// the SQLite catalog with SqlCatalog, counts the rows of a table stocklake
// committed, prunes on ts and reads the offsets from the snapshot summary.
// Runs when STOCKLAKE_PYTHON is set (`eval "$(scripts/pyenv)"`).
func TestIcebergPyicebergIntegration(t *testing.T) {
	py := os.Getenv("STOCKLAKE_PYTHON")
	if py == "" {
		t.Skip("STOCKLAKE_PYTHON is not set: run `eval \"$(scripts/pyenv)\"` for a Python with pyiceberg")
	}
	if out, err := exec.Command(py, "-P", "-c", "import pyiceberg.catalog.sql, pyarrow").CombinedOutput(); err != nil {
		t.Fatalf("%s has no pyiceberg: run scripts/pyenv again to install it: %v\n%s", py, err, out)
	}
	ctx := context.Background()
	lake := newTestLake(t)
	// The Iceberg tables share the file of stocklake's sqlite catalog.
	sc, err := sqlite.Open(lake.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.CreateDatabase(ctx, stocklake.Database{Name: "market"}); err != nil {
		t.Fatal(err)
	}
	tbl := lake.createTicks(t)
	d0 := writeTicks(t, tbl, "ts_day=2026-11-26/ticks+T1+0+0.parquet", ticks(1000, 0, "a"))
	d1 := writeTicks(t, tbl, "ts_day=2026-11-27/ticks+T1+1+0.parquet", ticks(700, 1, "b"))
	if _, err := tbl.Commit(ctx, []stocklake.LakeFile{d0, d1}, []stocklake.OffsetRange{rng("T1", 0, 0, 1000), rng("T1", 1, 0, 700)}); err != nil {
		t.Fatal(err)
	}
	d2 := writeTicks(t, tbl, "ts_day=2026-11-27/ticks+T1+1+700.parquet", ticks(300, 1, "c"))
	if _, err := tbl.Commit(ctx, []stocklake.LakeFile{d2}, []stocklake.OffsetRange{rng("T1", 1, 700, 1000)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.GetDatabase(ctx, "market"); err != nil {
		t.Errorf("the sqlite catalog in the same file after Iceberg commits: %v", err)
	}

	got := readWithPyiceberg(t, py, lake.dbPath, lake.warehouse, "market.ticks", "2026-11-27")
	if got.Rows != 2000 || got.Distinct != 2000 {
		t.Errorf("pyiceberg counts %d rows, %d distinct (symbol, trade_id); want 2000, 2000", got.Rows, got.Distinct)
	}
	if got.DayRows != 1000 {
		t.Errorf("pyiceberg counts %d rows on 2026-11-27, want 1000", got.DayRows)
	}
	if len(got.Offsets) != 2 || got.Offsets["T1:0"] != 1000 || got.Offsets["T1:1"] != 1000 {
		t.Errorf("pyiceberg reads offsets %v, want T1:0 and T1:1 at 1000", got.Offsets)
	}
	if got.TSType != "timestamp[us, tz=UTC]" && got.TSType != "timestamp[us, tz=+00:00]" {
		t.Errorf("pyiceberg reads ts as %s, want a UTC microsecond timestamp", got.TSType)
	}
	if got.Snapshots != 2 || len(got.Tables) != 1 || got.Tables[0] != "market.ticks" {
		t.Errorf("pyiceberg sees %d snapshots and tables %v; want 2 and [market.ticks]", got.Snapshots, got.Tables)
	}
}

// TestIcebergPyicebergHourSymbolIntegration: pyiceberg reads a table
// partitioned hour,symbol (hour(ts),identity(symbol)), with a symbol that
// needs escaping in its partition folder: the spec, every row once, a
// day's rows, and a symbol's rows from that symbol's files only.
func TestIcebergPyicebergHourSymbolIntegration(t *testing.T) {
	py := os.Getenv("STOCKLAKE_PYTHON")
	if py == "" {
		t.Skip("STOCKLAKE_PYTHON is not set: run `eval \"$(scripts/pyenv)\"` for a Python with pyiceberg")
	}
	ctx := context.Background()
	lake := newTestLake(t)
	tbl, err := lake.open(t).CreateTickTable(ctx, "market", "ticks", TableOptions{Partitioning: "hour,symbol"})
	if err != nil {
		t.Fatal(err)
	}
	// Two days of ticks of 4 symbols, one file per (hour, symbol), as the
	// sink groups them.
	all := append(ticks(960, 0, "a"), ticks(480, 1, "b")...)
	groups := map[string][]stocklake.Tick{}
	var order []string
	for _, tk := range all {
		p := tbl.PartitionPath(&tk)
		if groups[p] == nil {
			order = append(order, p)
		}
		groups[p] = append(groups[p], tk)
	}
	var files []stocklake.LakeFile
	symFiles := 0
	for _, p := range order {
		files = append(files, writeTicks(t, tbl, p+"/ticks+T1+0+0.parquet", groups[p]))
		if groups[p][0].Symbol == "Ünïcode\"'" {
			symFiles++
		}
	}
	if _, err := tbl.Commit(ctx, files, []stocklake.OffsetRange{rng("T1", 0, 0, int64(len(all)))}); err != nil {
		t.Fatal(err)
	}
	got := readWithPyiceberg(t, py, lake.dbPath, lake.warehouse, "market.ticks", "2026-11-27", "Ünïcode\"'")
	if strings.Join(got.Spec, ",") != "hour(ts),identity(symbol)" {
		t.Errorf("pyiceberg reads the spec %v, want hour(ts),identity(symbol)", got.Spec)
	}
	if got.Rows != len(all) || got.Distinct != len(all) || got.DayRows != 480 {
		t.Errorf("pyiceberg counts %d rows, %d distinct, %d on 2026-11-27; want %d, %d, 480", got.Rows, got.Distinct, got.DayRows, len(all), len(all))
	}
	if got.SymbolRows != len(all)/4 || got.SymbolFiles != symFiles || symFiles == 0 || symFiles == len(files) {
		t.Errorf("pyiceberg reads %d rows of the symbol from %d files; want %d from its %d files of %d", got.SymbolRows, got.SymbolFiles, len(all)/4, symFiles, len(files))
	}
}

// pyicebergResult is what testdata/read_pyiceberg.py prints.
type pyicebergResult struct {
	Rows, Distinct, Snapshots int
	DayRows                   int `json:"day_rows"`
	Spec                      []string
	SymbolRows                int `json:"symbol_rows"`
	SymbolFiles               int `json:"symbol_files"`
	Offsets                   map[string]int64
	TSType                    string `json:"ts_type"`
	Tables                    []string
}

// readWithPyiceberg runs testdata/read_pyiceberg.py on a table; day is the
// UTC day whose rows it counts too, symbol (optional) one whose rows and
// files it counts.
func readWithPyiceberg(t *testing.T, py, dbPath, warehouse, table, day string, symbol ...string) pyicebergResult {
	t.Helper()
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs("testdata/read_pyiceberg.py")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, append([]string{"-P", script, dbPath, warehouse, table,
		d.Format("2006-01-02T15:04:05+00:00"), d.AddDate(0, 0, 1).Format("2006-01-02T15:04:05+00:00")}, symbol...)...)
	cmd.Dir = t.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyiceberg: %v\n%s", err, stderr.String())
	}
	var got pyicebergResult
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("pyiceberg printed %s: %v", out, err)
	}
	t.Logf("pyiceberg: %s", bytes.TrimSpace(out))
	return got
}

// TestIcebergPyicebergBoundedHistoryIntegration: pyiceberg reads a table
// whose commits expired its oldest snapshots (stocklake.history.max-snapshots)
// and whose metadata files stocklake's own committer wrote: every row, the
// offsets, and only the snapshots kept.
func TestIcebergPyicebergBoundedHistoryIntegration(t *testing.T) {
	py := os.Getenv("STOCKLAKE_PYTHON")
	if py == "" {
		t.Skip("STOCKLAKE_PYTHON is not set: run `eval \"$(scripts/pyenv)\"` for a Python with pyiceberg")
	}
	ctx := context.Background()
	lake := newTestLake(t)
	tbl, err := lake.open(t).CreateTickTable(ctx, "market", "ticks", TableOptions{Properties: map[string]string{PropertyMaxSnapshots: "2"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		f := writeTicks(t, tbl, fmt.Sprintf("ts_day=2026-11-27/ticks+T1+0+%d.parquet", i*100), ticks(100, 1, fmt.Sprint("b", i)))
		if _, err := tbl.Commit(ctx, []stocklake.LakeFile{f}, []stocklake.OffsetRange{rng("T1", 0, int64(i*100), int64(i*100+100))}); err != nil {
			t.Fatal(err)
		}
	}
	got := readWithPyiceberg(t, py, lake.dbPath, lake.warehouse, "market.ticks", "2026-11-27")
	if got.Rows != 600 || got.Distinct != 600 || got.DayRows != 600 {
		t.Errorf("pyiceberg counts %d rows, %d distinct, %d on the day; want 600 each", got.Rows, got.Distinct, got.DayRows)
	}
	if got.Offsets["T1:0"] != 600 {
		t.Errorf("pyiceberg reads offsets %v, want T1:0 at 600", got.Offsets)
	}
	if got.Snapshots < 2 || got.Snapshots > 3 {
		t.Errorf("pyiceberg sees %d snapshots, want 2 or 3 (the bound is 2)", got.Snapshots)
	}
}
