package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
	"github.com/stocklake/stocklake/sqlite"
)

// TestProjectedTableQueries: the same lake crawled into one catalog with
// its partitions registered and into another with --projection (no
// partitions at all) gives the same rows through `stocklake query`, also
// with partition filters; a later crawl leaves the projected table as it
// is.
func TestProjectedTableQueries(t *testing.T) {
	dir := t.TempDir()
	lakeDir := filepath.Join(dir, "lake")
	writeTicks(t, lakeDir, 30) // dt=2026-11-20/hour=09
	// A second hour and a second day, to prune between.
	writeTicksAt(t, lakeDir, "dt=2026-11-21/hour=17", 100, 12)
	lake := "file://" + lakeDir
	registered, projected := "sqlite://"+filepath.Join(dir, "reg.db"), "sqlite://"+filepath.Join(dir, "proj.db")
	for _, args := range [][]string{
		{"crawl", "--lake", lake, "--catalog", registered},
		{"crawl", "--lake", lake, "--catalog", projected, "--projection"},
	} {
		if err := runCommand(t, args...); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string) {
		t.Helper()
		for _, sql := range []string{
			"SELECT count(*), sum(price), min(dt), max(hour) FROM ticks",
			"SELECT count(*), sum(price) FROM ticks WHERE dt = '2026-11-21'",
			"SELECT dt, hour, count(*) FROM ticks WHERE hour = '09' GROUP BY dt, hour",
		} {
			var outs []string
			for _, cat := range []string{registered, projected} {
				out, err := captureStdout(t, func() error {
					return runCommand(t, "query", "--catalog", cat, "--lake", lake, "--format", "csv", sql)
				})
				if err != nil {
					t.Fatalf("%s: %s on %s: %v", what, sql, cat, err)
				}
				outs = append(outs, out)
			}
			if outs[0] != outs[1] || !strings.Contains(outs[0], ",") {
				t.Errorf("%s: %s\nregistered: %s\nprojected:  %s", what, sql, outs[0], outs[1])
			}
		}
	}
	check("after the crawls")
	cat, err := sqlite.Open(filepath.Join(dir, "proj.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	assertProjected := func(what string) {
		t.Helper()
		tbl, err := cat.GetTable(context.Background(), stocklake.DefaultDatabase, "ticks")
		if err != nil {
			t.Fatal(err)
		}
		parts, err := cat.ListPartitions(context.Background(), stocklake.DefaultDatabase, "ticks")
		if err != nil {
			t.Fatal(err)
		}
		if !hive.Projected(tbl.Parameters) || tbl.Parameters["projection.dt.range"] != "2026-11-20,NOW" ||
			tbl.Parameters["storage.location.template"] != tbl.Location+"dt=${dt}/hour=${hour}/" || len(parts) != 0 {
			t.Fatalf("%s: parameters %v, %d partitions: want projection from 2026-11-20 and no partitions", what, tbl.Parameters, len(parts))
		}
	}
	assertProjected("after crawl --projection")

	// New data in a new partition, crawled without --projection: the
	// projected table keeps its properties and gets no partitions, and
	// the projection finds the new rows.
	writeTicksAt(t, lakeDir, "dt=2026-11-22/hour=03", 1000, 7)
	for _, c := range []string{registered, projected} {
		if err := runCommand(t, "crawl", "--lake", lake, "--catalog", c); err != nil {
			t.Fatal(err)
		}
	}
	assertProjected("after a second crawl")
	check("after a second crawl")
}
