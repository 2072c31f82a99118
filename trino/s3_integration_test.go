package trino_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stocklake/stocklake/glue"
	"github.com/stocklake/stocklake/hive"
	"github.com/stocklake/stocklake/internal/querysuite"
	"github.com/stocklake/stocklake/s3"
	"github.com/stocklake/stocklake/sqlite"
	"github.com/stocklake/stocklake/trino"
)

// s3Lake returns a fresh lake in a bucket of the S3 server at
// STOCKLAKE_S3_ENDPOINT (scripts/s3), or skips the test. The Trino server
// must have been started against the same S3 server (scripts/trino takes
// it from S3_PORT or TRINO_S3_ENDPOINT).
func s3Lake(t *testing.T) *s3.ObjectStore {
	t.Helper()
	ep := os.Getenv("STOCKLAKE_S3_ENDPOINT")
	if ep == "" {
		t.Skip(`STOCKLAKE_S3_ENDPOINT not set; start the S3 server first: eval "$(scripts/s3 start)", then scripts/trino`)
	}
	ctx := context.Background()
	st, err := s3.New(ctx, s3.Config{Bucket: "trino-it", Prefix: fmt.Sprintf("run-%d", time.Now().UnixNano()), Endpoint: ep})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestTrinoS3Integration registers a lake in S3 (tables with s3://
// locations) and runs the query suite on it.
func TestTrinoS3Integration(t *testing.T) {
	url, root := trinoEnv(t)
	st := s3Lake(t)
	ctx := context.Background()
	cat, err := sqlite.Open(filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	f, err := querysuite.Build(ctx, st, cat, querysuite.TickConfig{}, "../testdata/indexProcessed.csv")
	if err != nil {
		t.Fatal(err)
	}
	e, err := trino.New(ctx, trino.Config{URL: url, Catalog: cat, LocalRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	_, rows, stats := query(t, e, `SELECT count(*), min("$path") FROM market.ticks WHERE dt = '2026-11-24'`)
	if rows[0][0] != int64(len(f.Ticks)/3) {
		t.Errorf("ticks of one day: %v, want %d", rows[0][0], len(f.Ticks)/3)
	}
	if p, _ := rows[0][1].(string); len(p) < 5 || p[:5] != "s3://" {
		t.Errorf("file read: %v, want an s3:// object", rows[0][1])
	}
	if stats.BytesScanned <= 0 {
		t.Errorf("bytes scanned %d, want > 0", stats.BytesScanned)
	}
	querysuite.Run(t, e, "../testdata/queries", f)
}

// TestTrinoGlueIntegration crawls an S3 lake into a Glue Data Catalog
// (moto, STOCKLAKE_GLUE_ENDPOINT from scripts/glue) and queries it through
// Trino's own Glue catalog ("glue", configured by scripts/trino against the
// same Glue API), with no registration by the engine.
func TestTrinoGlueIntegration(t *testing.T) {
	url, _ := trinoEnv(t)
	ep := os.Getenv("STOCKLAKE_GLUE_ENDPOINT")
	if ep == "" {
		t.Skip(`STOCKLAKE_GLUE_ENDPOINT not set; start the Glue API first: eval "$(scripts/glue start)", then scripts/trino`)
	}
	st := s3Lake(t)
	ctx := context.Background()
	cat, err := glue.New(ctx, glue.Config{Endpoint: ep, LakeStore: st})
	if err != nil {
		t.Fatal(err)
	}
	clear := func() {
		tables, err := cat.ListTables(ctx, querysuite.Database)
		if err != nil {
			return // no database yet
		}
		for _, tb := range tables {
			if err := cat.DeleteTable(ctx, querysuite.Database, tb.Name); err != nil {
				t.Error(err)
			}
		}
	}
	clear() // an earlier run on the same server
	t.Cleanup(clear)
	f, err := querysuite.Build(ctx, st, cat, querysuite.TickConfig{}, "../testdata/indexProcessed.csv")
	if err != nil {
		t.Fatal(err)
	}
	e, err := trino.New(ctx, trino.Config{URL: url, TrinoCatalog: "glue", Register: trino.RegisterNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	_, rows, _ := query(t, e, `SELECT count(*) FROM market.ticks WHERE dt = '2026-11-24' AND hour = '15'`)
	if rows[0][0] != int64(len(f.Ticks)/21) {
		t.Errorf("ticks of one hour: %v, want %d", rows[0][0], len(f.Ticks)/21)
	}
	querysuite.Run(t, e, "../testdata/queries", f)

	// Athena partition projection: the same folders as a table with the
	// projection properties and no partitions at all. Trino's Glue catalog
	// (hive.partition-projection-enabled=true in scripts/trino) computes
	// the partitions from the properties Glue (moto) stores.
	tbl, err := cat.GetTable(ctx, querysuite.Database, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	parts, err := cat.ListPartitions(ctx, querysuite.Database, "ticks")
	if err != nil || len(parts) == 0 {
		t.Fatalf("partitions of the registered table: %d, %v", len(parts), err)
	}
	start := parts[0].Values[0]
	for _, p := range parts {
		start = min(start, p.Values[0])
	}
	first, err := time.Parse("2006-01-02", start)
	if err != nil {
		t.Fatal(err)
	}
	proj, err := hive.ProjectionParameters(tbl.Location, []string{"dt", "hour"}, first)
	if err != nil {
		t.Fatal(err)
	}
	tbl.Name = "ticks_projected"
	maps.Copy(tbl.Parameters, proj)
	if err := cat.CreateTable(ctx, tbl); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`SELECT count(*), round(sum(price), 4), count(DISTINCT dt || hour) FROM market.%s`,
		`SELECT count(*), round(sum(price), 4) FROM market.%s WHERE dt = '2026-11-24' AND hour = '15'`,
	} {
		_, reg, _ := query(t, e, fmt.Sprintf(sql, "ticks"))
		_, pro, _ := query(t, e, fmt.Sprintf(sql, "ticks_projected"))
		if fmt.Sprint(reg) != fmt.Sprint(pro) {
			t.Errorf("%s: registered %v, projected %v", sql, reg, pro)
		}
	}
	t.Logf("Trino read the projected table (no partitions in Glue) as the registered one (%d partitions)", len(parts))
}
