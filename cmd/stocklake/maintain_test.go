package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/iceberg"
)

// TestMaintainIcebergCommand lands ticks in an Iceberg table in many small
// files with `stocklake sink`, then runs `stocklake compact` and
// `stocklake maintain` with the binary: the files of the day become one,
// expired snapshots and an old orphan go, every tick is still there once,
// and `catalog table` shows the file count and the last maintenance.
func TestMaintainIcebergCommand(t *testing.T) {
	brokers, kc := fakeKafka(t, 2)
	const n = 2000
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	produceTicks(t, kc, n, func(i int) stocklake.Tick {
		return stocklake.Tick{Symbol: []string{"AAPL", "MSFT", "NVDA"}[i%3], Time: base.Add(time.Duration(i) * time.Second),
			Price: 100, Size: 1, Exchange: "XNAS", TradeID: strconv.Itoa(i), Source: "test"}
	})
	dir := t.TempDir()
	lakeDir, dbPath := filepath.Join(dir, "lake"), filepath.Join(dir, "catalog.db")
	bin := stocklakeBinary(t)
	sl := func(args ...string) string {
		t.Helper()
		all := append(args[:1:1], append([]string{"--lake", "file://" + lakeDir, "--catalog", "sqlite://" + dbPath}, args[1:]...)...)
		out, err := exec.Command(bin, all...).CombinedOutput()
		if err != nil {
			t.Fatalf("stocklake %s: %v\n%s", strings.Join(all, " "), err, out)
		}
		return string(out)
	}
	sl("sink", "--brokers", brokers, "--table-format", "iceberg", "--exit-when-idle", "--flush-interval", "100ms", "--max-rows", "100")
	st, err := file.New(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := iceberg.Open(context.Background(), iceberg.Config{SQLitePath: dbPath, Warehouse: st.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	tbl, err := cat.OpenTable(context.Background(), stocklake.DefaultDatabase, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	files := func() int {
		fs, err := tbl.DataFiles(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return len(fs)
	}
	before := files()
	if before < 20 {
		t.Fatalf("the sink wrote %d files, want >= 20 small ones to compact", before)
	}
	if out := sl("catalog", "table", "ticks"); !strings.Contains(out, "files     "+strconv.Itoa(before)+",") || !strings.Contains(out, "maintained never") {
		t.Errorf("catalog table before maintenance:\n%s\nwant %d files, never maintained", out, before)
	}
	// Files committed just now are younger than the default --min-age.
	if out := sl("compact"); !strings.Contains(out, "compacted Iceberg table stocklake.ticks: 0 partitions") || files() != before {
		t.Errorf("compact with the default --min-age merged fresh files:\n%s", out)
	}
	// A crashed writer's file, two days old.
	orphan := filepath.Join(strings.TrimPrefix(tbl.Location(), "file://"), "data", "ts_day=2026-11-26", "crashed.parquet")
	if err := os.WriteFile(orphan, []byte("never committed"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(orphan, old, old)
	out := sl("maintain", "--min-age", "1ms", "--retain-snapshots", "1ms", "--retain-last", "1")
	m := regexp.MustCompile(`maintained Iceberg table stocklake.ticks: 1 partitions compacted, (\d+) files .* into 1; (\d+) snapshots expired; \d+ manifests rewritten; 1 orphan files`).FindStringSubmatch(out)
	if m == nil || m[1] != strconv.Itoa(before) {
		t.Fatalf("maintain output:\n%s\nwant the %d files compacted into 1, snapshots expired, the orphan removed", out, before)
	}
	if files() != 1 {
		t.Errorf("%d files after maintain, want 1", files())
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan still there: %v", err)
	}
	keys, err := tbl.TickKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for k, c := range keys {
		if c != 1 {
			t.Errorf("%q is in the table %d times", k, c)
		}
	}
	if len(keys) != n {
		t.Errorf("%d ticks in the table after maintain, want %d", len(keys), n)
	}
	out = sl("catalog", "table", "ticks")
	if !strings.Contains(out, "files     1,") || !regexp.MustCompile(`maintained 20\d\d-`).MatchString(out) || !strings.Contains(out, "snapshots 1\n") {
		t.Errorf("catalog table after maintenance:\n%s\nwant 1 file, 1 snapshot and the maintenance time", out)
	}
}

// TestCompactLakePathIcebergCannotName: a lake whose path Iceberg cannot
// name files under (a space) still has its Hive tables compacted: compact
// and maintain warn and leave Iceberg out instead of failing.
func TestCompactLakePathIcebergCannotName(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my lake")
	for _, cmd := range []string{"compact", "maintain"} {
		if err := runCommand(t, cmd, "--lake", "file://"+dir+"/lake", "--catalog", "sqlite://"+dir+"/catalog.db", "--log-level", "error"); err != nil {
			t.Errorf("%s on a lake with a space in its path: %v", cmd, err)
		}
	}
}
