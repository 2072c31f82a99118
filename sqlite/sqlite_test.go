package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/internal/catalogtest"
)

func open(t *testing.T) *Catalog {
	t.Helper()
	c, err := Open(filepath.Join(t.TempDir(), "sub", "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ticksTable() stocklake.Table {
	return stocklake.Table{
		Database: "Lake",
		Name:     "Ticks",
		Columns: []stocklake.Column{
			{Name: "symbol", Type: "string"},
			{Name: "ts", Type: "timestamp"},
			{Name: "price", Type: "double"},
			{Name: "conditions", Type: "array<string>"},
		},
		PartitionKeys: []stocklake.Column{{Name: "dt", Type: "string"}, {Name: "hour", Type: "string"}},
		Location:      "file:///lake/ticks/",
		Format:        stocklake.FormatParquet,
		InputFormat:   "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
		OutputFormat:  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
		SerDe:         "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
		SerDeParams:   map[string]string{"serialization.format": "1"},
		Parameters:    map[string]string{"classification": "parquet"},
	}
}

func part(dt, hour string) stocklake.Partition {
	return stocklake.Partition{
		Values:   []string{dt, hour},
		Location: fmt.Sprintf("file:///lake/ticks/dt=%s/hour=%s/", dt, hour),
	}
}

func TestDatabases(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	if _, err := c.GetDatabase(ctx, "lake"); !errors.Is(err, stocklake.ErrNotFound) {
		t.Fatalf("GetDatabase before create: %v, want ErrNotFound", err)
	}
	in := stocklake.Database{Name: "Lake", Description: "ticks", LocationURI: "file:///lake", Parameters: map[string]string{"a": "b"}}
	if err := c.CreateDatabase(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDatabase(ctx, stocklake.Database{Name: "LAKE"}); !errors.Is(err, stocklake.ErrExists) {
		t.Fatalf("second CreateDatabase: %v, want ErrExists", err)
	}
	if err := c.CreateDatabase(ctx, stocklake.Database{Name: " "}); !errors.Is(err, stocklake.ErrInvalid) {
		t.Fatalf("CreateDatabase with empty name: %v, want ErrInvalid", err)
	}
	got, err := c.GetDatabase(ctx, "LaKe")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "lake" || got.Description != "ticks" || got.LocationURI != "file:///lake" || got.Parameters["a"] != "b" || got.CreateTime.IsZero() {
		t.Errorf("GetDatabase = %+v", got)
	}
	if err := c.CreateDatabase(ctx, stocklake.Database{Name: "alpha"}); err != nil {
		t.Fatal(err)
	}
	dbs, err := c.ListDatabases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dbs) != 2 || dbs[0].Name != "alpha" || dbs[1].Name != "lake" {
		t.Errorf("ListDatabases = %+v, want alpha, lake", dbs)
	}
}

func TestTablesAndVersions(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	tbl := ticksTable()
	if err := c.CreateTable(ctx, tbl); !errors.Is(err, stocklake.ErrNotFound) {
		t.Fatalf("CreateTable without database: %v, want ErrNotFound", err)
	}
	if err := c.CreateDatabase(ctx, stocklake.Database{Name: "lake"}); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTable(ctx, tbl); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTable(ctx, tbl); !errors.Is(err, stocklake.ErrExists) {
		t.Fatalf("second CreateTable: %v, want ErrExists", err)
	}
	bad := tbl
	bad.Name = "dup"
	bad.Columns = append([]stocklake.Column{{Name: "DT", Type: "string"}}, tbl.Columns...)
	if err := c.CreateTable(ctx, bad); !errors.Is(err, stocklake.ErrInvalid) {
		t.Fatalf("CreateTable with a column named like a partition key: %v, want ErrInvalid", err)
	}

	got, err := c.GetTable(ctx, "LAKE", "ticks")
	if err != nil {
		t.Fatal(err)
	}
	want := tbl
	want.Database, want.Name, want.Version = "lake", "ticks", 1
	want.CreateTime, want.UpdateTime = got.CreateTime, got.UpdateTime
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetTable =\n%+v\nwant\n%+v", got, want)
	}
	if got.CreateTime.IsZero() || !got.UpdateTime.Equal(got.CreateTime) {
		t.Errorf("times of a new table: create %v update %v", got.CreateTime, got.UpdateTime)
	}

	v2 := tbl
	v2.Columns = append(v2.Columns, stocklake.Column{Name: "size", Type: "double"})
	v2.Version = 42 // ignored
	if err := c.UpdateTable(ctx, v2); err != nil {
		t.Fatal(err)
	}
	got, err = c.GetTable(ctx, "lake", "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || len(got.Columns) != 5 || got.Columns[4].Name != "size" {
		t.Errorf("after UpdateTable: version %d, columns %v", got.Version, got.Columns)
	}
	if got.CreateTime != want.CreateTime || got.UpdateTime.Before(got.CreateTime) {
		t.Errorf("after UpdateTable: create %v (was %v) update %v", got.CreateTime, want.CreateTime, got.UpdateTime)
	}
	versions, err := c.TableVersions(ctx, "lake", "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 2 || versions[0].Version != 1 || len(versions[0].Columns) != 4 || versions[1].Version != 2 {
		t.Errorf("TableVersions = %+v", versions)
	}

	missing := tbl
	missing.Name = "nope"
	if err := c.UpdateTable(ctx, missing); !errors.Is(err, stocklake.ErrNotFound) {
		t.Errorf("UpdateTable of a missing table: %v, want ErrNotFound", err)
	}
	other := tbl
	other.Name = "bars"
	if err := c.CreateTable(ctx, other); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListTables(ctx, "lake")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "bars" || list[1].Name != "ticks" || list[1].Version != 2 {
		t.Errorf("ListTables = %+v", list)
	}
	if _, err := c.ListTables(ctx, "nope"); !errors.Is(err, stocklake.ErrNotFound) {
		t.Errorf("ListTables of a missing database: %v, want ErrNotFound", err)
	}

	if err := c.AddPartitions(ctx, "lake", "ticks", []stocklake.Partition{part("2026-11-26", "14")}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteTable(ctx, "lake", "ticks"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetTable(ctx, "lake", "ticks"); !errors.Is(err, stocklake.ErrNotFound) {
		t.Errorf("GetTable after delete: %v, want ErrNotFound", err)
	}
	if _, err := c.TableVersions(ctx, "lake", "ticks"); !errors.Is(err, stocklake.ErrNotFound) {
		t.Errorf("TableVersions after delete: %v, want ErrNotFound", err)
	}
	if err := c.DeleteTable(ctx, "lake", "ticks"); !errors.Is(err, stocklake.ErrNotFound) {
		t.Errorf("second DeleteTable: %v, want ErrNotFound", err)
	}
	// A table created again under the same name starts afresh.
	if err := c.CreateTable(ctx, tbl); err != nil {
		t.Fatal(err)
	}
	parts, err := c.ListPartitions(ctx, "lake", "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 0 {
		t.Errorf("partitions of a re-created table: %v", parts)
	}
}

func TestPartitions(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	if err := c.CreateDatabase(ctx, stocklake.Database{Name: "lake"}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddPartitions(ctx, "lake", "ticks", []stocklake.Partition{part("2026-11-26", "14")}); !errors.Is(err, stocklake.ErrNotFound) {
		t.Fatalf("AddPartitions to a missing table: %v, want ErrNotFound", err)
	}
	if err := c.CreateTable(ctx, ticksTable()); err != nil {
		t.Fatal(err)
	}
	p := part("2026-11-26", "14")
	p.Parameters = map[string]string{"k": "v"}
	batch := []stocklake.Partition{part("2026-11-27", "00"), p, part("2026-11-26", "09")}
	if err := c.AddPartitions(ctx, "lake", "ticks", batch); err != nil {
		t.Fatal(err)
	}
	// Idempotent: adding again, with one new partition, ignores the old ones.
	again := append(batch, part("2026-11-27", "01"))
	again[1].Location = "file:///elsewhere/"
	if err := c.AddPartitions(ctx, "lake", "ticks", again); err != nil {
		t.Fatal(err)
	}
	got, err := c.ListPartitions(ctx, "lake", "ticks")
	if err != nil {
		t.Fatal(err)
	}
	var vals [][]string
	for _, p := range got {
		vals = append(vals, p.Values)
	}
	want := [][]string{{"2026-11-26", "09"}, {"2026-11-26", "14"}, {"2026-11-27", "00"}, {"2026-11-27", "01"}}
	if !reflect.DeepEqual(vals, want) {
		t.Fatalf("ListPartitions values = %v, want %v", vals, want)
	}
	if got[1].Location != "file:///lake/ticks/dt=2026-11-26/hour=14/" || got[1].Parameters["k"] != "v" || got[1].CreateTime.IsZero() {
		t.Errorf("partition = %+v", got[1])
	}

	// A batch with a bad partition adds nothing.
	bad := []stocklake.Partition{part("2026-12-01", "00"), {Values: []string{"2026-12-01"}, Location: "x/"}}
	if err := c.AddPartitions(ctx, "lake", "ticks", bad); !errors.Is(err, stocklake.ErrInvalid) {
		t.Fatalf("AddPartitions with a short value list: %v, want ErrInvalid", err)
	}
	if got, _ := c.ListPartitions(ctx, "lake", "ticks"); len(got) != 4 {
		t.Errorf("after a failed batch: %d partitions, want 4", len(got))
	}

	if err := c.DeletePartitions(ctx, "lake", "ticks", [][]string{{"2026-11-26", "09"}, {"1999-01-01", "00"}}); err != nil {
		t.Fatal(err)
	}
	got, err = c.ListPartitions(ctx, "lake", "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Values[1] != "14" {
		t.Errorf("after DeletePartitions: %+v", got)
	}
	if _, err := c.ListPartitions(ctx, "lake", "nope"); !errors.Is(err, stocklake.ErrNotFound) {
		t.Errorf("ListPartitions of a missing table: %v, want ErrNotFound", err)
	}
}

func TestCrawlLog(t *testing.T) {
	ctx := context.Background()
	c := open(t)
	base := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	for i := range 3 {
		run := stocklake.CrawlRun{
			ID: fmt.Sprintf("run-%d", i), Database: "Lake", LakeURL: "file:///lake",
			Start: base.Add(time.Duration(i) * time.Hour), End: base.Add(time.Duration(i)*time.Hour + time.Second),
			TablesCreated: []string{"ticks"}, PartitionsAdded: i, FilesRead: 10 * i,
		}
		if err := c.RecordCrawl(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.RecordCrawl(ctx, stocklake.CrawlRun{ID: "other", Database: "other", Start: base}); err != nil {
		t.Fatal(err)
	}
	runs, err := c.ListCrawls(ctx, "lake", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != "run-2" || runs[1].ID != "run-1" || runs[0].FilesRead != 20 || runs[0].TablesCreated[0] != "ticks" {
		t.Errorf("ListCrawls(lake, 2) = %+v", runs)
	}
	if runs, _ := c.ListCrawls(ctx, "", 0); len(runs) != 4 {
		t.Errorf("ListCrawls of every database: %d runs, want 4", len(runs))
	}
	// Recording an ID again replaces it.
	if err := c.RecordCrawl(ctx, stocklake.CrawlRun{ID: "run-2", Database: "lake", Start: base.Add(2 * time.Hour), Error: "boom"}); err != nil {
		t.Fatal(err)
	}
	if runs, _ := c.ListCrawls(ctx, "lake", 1); len(runs) != 1 || runs[0].Error != "boom" {
		t.Errorf("replaced run = %+v", runs)
	}

	if _, err := c.CrawlState(ctx, "lake", "file:///lake"); !errors.Is(err, stocklake.ErrNotFound) {
		t.Fatalf("CrawlState before any crawl: %v, want ErrNotFound", err)
	}
	st := stocklake.CrawlState{Database: "lake", LakeURL: "file:///lake", Folders: []string{"ticks/dt=1/", "", "seed/"}, RunID: "run-2"}
	if err := c.PutCrawlState(ctx, st); err != nil {
		t.Fatal(err)
	}
	st.Folders = []string{"seed/", "ticks/dt=1/", "ticks/dt=2/"}
	if err := c.PutCrawlState(ctx, st); err != nil {
		t.Fatal(err)
	}
	got, err := c.CrawlState(ctx, "LAKE", "file:///lake")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Folders, st.Folders) || got.RunID != "run-2" || got.UpdateTime.IsZero() {
		t.Errorf("CrawlState = %+v, want folders %v", got, st.Folders)
	}
	if _, err := c.CrawlState(ctx, "lake", "file:///other"); !errors.Is(err, stocklake.ErrNotFound) {
		t.Errorf("CrawlState of another location: %v, want ErrNotFound", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDatabase(ctx, stocklake.Database{Name: "lake"}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.GetDatabase(ctx, "lake"); err != nil {
		t.Fatalf("after reopening: %v", err)
	}
	var mode string
	if err := c.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}

func TestOpenBadPath(t *testing.T) {
	if _, err := Open(""); !errors.Is(err, stocklake.ErrConfig) {
		t.Errorf("Open(\"\"): %v, want ErrConfig", err)
	}
	if _, err := Open("/tmp/a?b.db"); !errors.Is(err, stocklake.ErrConfig) {
		t.Errorf("Open with '?': %v, want ErrConfig", err)
	}
}

func TestMemory(t *testing.T) {
	c, err := Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.CreateDatabase(ctx, stocklake.Database{Name: "m"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetDatabase(ctx, "m"); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentWriters has goroutines in this process, through two Catalog
// handles, and a second process add partitions to one file at the same time,
// as a sink and a crawler do. Every partition must be there afterwards.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	c1, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	if err := c1.CreateDatabase(ctx, stocklake.Database{Name: "lake"}); err != nil {
		t.Fatal(err)
	}
	if err := c1.CreateTable(ctx, ticksTable()); err != nil {
		t.Fatal(err)
	}
	c2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()

	const n = 100
	cmd := exec.Command(os.Args[0], "-test.run=^$") // TestMain runs helperWriter
	cmd.Env = append(os.Environ(), "STOCKLAKE_SQLITE_HELPER="+path, "STOCKLAKE_SQLITE_HELPER_N="+strconv.Itoa(n))
	out := make(chan error, 1)
	go func() {
		b, err := cmd.CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, b)
		}
		out <- err
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for g, c := range []*Catalog{c1, c2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := c.AddPartitions(ctx, "lake", "ticks", []stocklake.Partition{part(fmt.Sprintf("g%d", g), fmt.Sprint(i))}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := <-out; err != nil {
		t.Fatalf("helper process: %v", err)
	}
	parts, err := c1.ListPartitions(ctx, "lake", "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 3*n {
		t.Errorf("%d partitions, want %d", len(parts), 3*n)
	}
}

// TestMain runs the second process of TestConcurrentWriters, instead of
// the tests, when STOCKLAKE_SQLITE_HELPER names a catalog file.
func TestMain(m *testing.M) {
	if path := os.Getenv("STOCKLAKE_SQLITE_HELPER"); path != "" {
		n, _ := strconv.Atoi(os.Getenv("STOCKLAKE_SQLITE_HELPER_N"))
		if err := helperWriter(path, n); err != nil {
			fmt.Fprintln(os.Stderr, "helper process:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helperWriter adds n partitions to the catalog at path, listing them now
// and then, as the second process of TestConcurrentWriters.
func helperWriter(path string, n int) error {
	c, err := Open(path)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	for i := range n {
		if err := c.AddPartitions(ctx, "lake", "ticks", []stocklake.Partition{part("proc", fmt.Sprint(i))}); err != nil {
			return err
		}
		if i%10 == 0 {
			if _, err := c.ListPartitions(ctx, "lake", "ticks"); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestConformance(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) stocklake.Catalog { return open(t) })
}

// TestOpenKeepsCause: a catalog folder that cannot be made is a
// configuration error that still says why (here: a file is in the way).
func TestOpenKeepsCause(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(filepath.Join(file, "sub", "catalog.db"))
	if !errors.Is(err, stocklake.ErrConfig) || !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("Open under a file: %v, want ErrConfig wrapping ENOTDIR", err)
	}
}

// TestOpenNewFileConcurrently: processes that open a new catalog file at
// the same moment (a sink and a crawler started together) all open it and
// can write to it; SQLite answers the one that loses the race to set the
// file up "database is locked" at once, without its busy timeout.
func TestOpenNewFileConcurrently(t *testing.T) {
	ctx := context.Background()
	const openers = 4
	for round := range 80 {
		path := filepath.Join(t.TempDir(), "catalog.db")
		var wg sync.WaitGroup
		for i := range openers {
			wg.Go(func() {
				c, err := Open(path)
				if err != nil {
					t.Errorf("round %d: %v", round, err)
					return
				}
				defer c.Close()
				if err := c.CreateDatabase(ctx, stocklake.Database{Name: fmt.Sprintf("db%d", i)}); err != nil {
					t.Errorf("round %d: %v", round, err)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		c, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		dbs, err := c.ListDatabases(ctx)
		c.Close()
		if err != nil || len(dbs) != openers {
			t.Fatalf("round %d: %d databases, %v; want %d", round, len(dbs), err, openers)
		}
	}
}
