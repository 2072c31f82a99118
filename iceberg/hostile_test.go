package iceberg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ice "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake"
)

// plantSummary commits, past Commit's checks, a snapshot whose summary
// holds ranges and offsets as given (raw JSON; "" leaves a key out).
func plantSummary(t *testing.T, tbl *Table, ranges, offsets string) {
	t.Helper()
	_, err := tbl.commitLoop(context.Background(), "plant", func(_ *table.Table, txn *table.Transaction, props ice.Properties) error {
		if ranges != "" {
			props[SummaryRanges] = ranges
		}
		if offsets != "" {
			props[SummaryOffsets] = offsets
		}
		return txn.AddFiles(context.Background(), nil, props, true)
	})
	if err != nil && !errors.Is(err, stocklake.ErrInvalid) {
		// ErrInvalid: the snapshot landed, and reading it back found it
		// malformed, which is what the caller plants.
		t.Fatal(err)
	}
}

// TestCoverageRefusesMalformedSummaries: snapshot summaries whose offset
// properties Commit cannot have written are a clear error, not a verdict.
// A reversed, negative, short or null range used to be read as a range (or
// dropped), so a table with one passed as complete; "T:00" was read as
// partition 0 beside "T:0", so which offset the table holds depended on map
// order.
func TestCoverageRefusesMalformedSummaries(t *testing.T) {
	for _, c := range []struct{ name, ranges, offsets string }{
		{"reversed range", `{"T:0":[10,3]}`, `{"T:0":10}`},
		{"negative start", `{"T:0":[-5,10]}`, `{"T:0":10}`},
		{"three numbers", `{"T:0":[10,20,30]}`, `{"T:0":20}`},
		{"one number", `{"T:0":[10]}`, `{"T:0":10}`},
		{"null range", `{"T:0":null}`, `{"T:0":10}`},
		{"partition spelled 00", `{"T:00":[10,20]}`, `{"T:0":20}`},
		{"partition spelled +0", `{"T:0":[10,20]}`, `{"T:0":20,"T:+0":3}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			tbl, err := newTestLake(t).open(t).CreateTickTable(ctx, "market", "ticks", TableOptions{})
			if err != nil {
				t.Fatal(err)
			}
			f := writeTicks(t, tbl, "ts_day=2026-11-26/a.parquet", ticks(10, 0, "a"))
			if _, err := tbl.Commit(ctx, []stocklake.LakeFile{f}, []stocklake.OffsetRange{rng("T", 0, 0, 10)}); err != nil {
				t.Fatal(err)
			}
			plantSummary(t, tbl, c.ranges, c.offsets)
			cov, _, _, err := tbl.Coverage(ctx)
			if err == nil {
				t.Fatalf("coverage: %+v, want an error", cov.Report(stocklake.CoverageFacts{}))
			}
			if !errors.Is(err, stocklake.ErrInvalid) || !strings.Contains(err.Error(), "malformed") && !strings.Contains(err.Error(), "TOPICID:PARTITION") {
				t.Errorf("error %v: want ErrInvalid saying what is malformed", err)
			}
		})
	}
}

// TestSnapshotParentLoop: a snapshot that names itself as its parent (a
// foreign commit can plant one; iceberg-go accepts it) used to make every
// walk of the history loop for ever: Offsets at the sink's start,
// Snapshots for verify. They now end where a snapshot would come again.
func TestSnapshotParentLoop(t *testing.T) {
	ctx := context.Background()
	c := newTestLake(t).open(t)
	tbl, err := c.CreateTickTable(ctx, "market", "ticks", TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := writeTicks(t, tbl, "ts_day=2026-11-26/a.parquet", ticks(10, 0, "a"))
	if _, err := tbl.Commit(ctx, []stocklake.LakeFile{f}, []stocklake.OffsetRange{rng("T", 0, 0, 10)}); err != nil {
		t.Fatal(err)
	}
	cur, err := c.cat.LoadTable(ctx, table.Identifier{"market", "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	// Snapshot 777, its own parent, with no offsets: the walk goes on
	// looking for offsets, to 777 again.
	raw := fmt.Sprintf(`[{"action":"add-snapshot","snapshot":{"snapshot-id":777,"parent-snapshot-id":777,"sequence-number":%d,"timestamp-ms":%d,"manifest-list":%q,"summary":{"operation":"append"}}},
		{"action":"set-snapshot-ref","ref-name":"main","type":"branch","snapshot-id":777}]`,
		cur.Metadata().LastSequenceNumber()+1, time.Now().UnixMilli(), cur.CurrentSnapshot().ManifestList)
	var ups table.Updates
	if err := json.Unmarshal([]byte(raw), &ups); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.cat.CommitTable(ctx, table.Identifier{"market", "ticks"}, nil, ups); err != nil {
		t.Fatalf("planting the looping snapshot: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		if _, err := tbl.Offsets(ctx); err != nil {
			done <- err
			return
		}
		snaps, err := tbl.Snapshots(ctx)
		if err == nil && len(snaps) != 1 {
			err = fmt.Errorf("%d snapshots, want 777 once", len(snaps))
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Offsets or Snapshots still walking the history after 20s: the parent loop is followed for ever")
	}
}

// TestCoverageOffsetsDropAPartition: every commit carries each
// partition's offset forward, so a newest stocklake.offsets that leaves
// out a partition the table holds rows of (a buggy or foreign writer) means
// a sink would read that partition again from its start. Verify used to
// call such a table complete; it now reports the partition's covered
// offsets as beyond the committed one.
func TestCoverageOffsetsDropAPartition(t *testing.T) {
	ctx := context.Background()
	tbl, err := newTestLake(t).open(t).CreateTickTable(ctx, "market", "ticks", TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := writeTicks(t, tbl, "ts_day=2026-11-26/a.parquet", ticks(10, 0, "a"))
	if _, err := tbl.Commit(ctx, []stocklake.LakeFile{f}, []stocklake.OffsetRange{rng("T", 0, 0, 10), rng("T", 1, 0, 4)}); err != nil {
		t.Fatal(err)
	}
	plantSummary(t, tbl, `{"T:1":[4,6]}`, `{"T:1":6}`)
	rep := coverageOf(t, tbl)
	if rep.OK {
		t.Fatalf("a table whose offsets lost partition 0 passed: %+v", rep.Partitions)
	}
	p0 := rep.Partitions[0]
	if p0.Partition != 0 || p0.BeyondCommitted == nil || *p0.BeyondCommitted != (stocklake.OffsetSpan{Start: 0, End: 10}) {
		t.Errorf("partition 0: want [0,10) beyond the committed offset: %+v", p0)
	}
	if !rep.Partitions[1].OK {
		t.Errorf("partition 1: %+v", rep.Partitions[1])
	}
}

// TestCheckRefusesUnwritablePartitioning: a JSON table made by another
// writer (or by a stocklake before avroName) partitioned by a field whose
// name is no Avro name, or by a dotted column, is refused at the sink's
// start with a config error: iceberg-go could commit nothing to it, and the
// sink used to retry its first commit for ever ("invalid field name",
// taken for an outage) or stop at it on every start.
func TestCheckRefusesUnwritablePartitioning(t *testing.T) {
	ctx := context.Background()
	c := newTestLake(t).open(t)
	sc, err := jsonSchema([]stocklake.Column{{Name: "région", Type: "string"}, {Name: "a.b", Type: "string"}, {Name: "ts", Type: "timestamp"}}, "ts")
	if err != nil {
		t.Fatal(err)
	}
	for name, field := range map[string][2]string{"accented": {"région", "région"}, "dotted": {"a.b", "a_b"}} {
		spec, err := ice.NewPartitionSpecOpts(ice.AddPartitionFieldByName(field[0], field[1], ice.IdentityTransform{}, sc, nil))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.createTable(ctx, "market", name, sc, spec, map[string]string{PropSchema: "json", PropTimeField: "ts"}); err != nil {
			t.Fatal(err)
		}
		lt, err := c.LazyTable("market", name)
		if err != nil {
			t.Fatal(err)
		}
		if err := lt.Check(ctx); !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), field[0]) {
			t.Errorf("table partitioned by %s: Check = %v, want a config error naming it", field, err)
		}
	}
}

// TestPlanScanCaseVariantColumns: a JSON table may have columns that
// differ only in case ("Code" and "code"); a query's predicate on code
// prunes no file, since which column the case-insensitive name binds to
// is a guess. It used to bind to either (map order), and pruning by Code
// dropped the file whose code matched: rows missing from the answer.
func TestPlanScanCaseVariantColumns(t *testing.T) {
	ctx := context.Background()
	c := newTestLake(t).open(t)
	tbl, err := c.CreateJSONTable(ctx, "market", "orders", stocklake.TableShape{Schema: "json", TimeField: "ts",
		Columns: []stocklake.Column{{Name: "Code", Type: "string"}, {Name: "code", Type: "string"}, {Name: "ts", Type: "timestamp"}}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var files []stocklake.LakeFile
	for _, f := range []struct{ name, upper, lower string }{{"a.parquet", "x", "a"}, {"b.parquet", "a", "b"}} {
		sc := parquet.NewSchema("record", parquet.Group{
			"Code": parquet.Optional(parquet.String()), "code": parquet.Optional(parquet.String()),
			"ts": parquet.Optional(parquet.Timestamp(parquet.Microsecond)),
		})
		var buf bytes.Buffer
		w := parquet.NewWriter(&buf, sc)
		// Leaves in name order: Code, code, ts.
		row := parquet.Row{parquet.ByteArrayValue([]byte(f.upper)).Level(0, 1, 0), parquet.ByteArrayValue([]byte(f.lower)).Level(0, 1, 1),
			parquet.Int64Value(at.UnixMicro()).Level(0, 1, 2)}
		if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		url := tbl.PartitionFileURL("ts_day=2026-11-26", f.name)
		path := strings.TrimPrefix(url, "file://")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, stocklake.LakeFile{URL: url})
	}
	if _, err := tbl.Commit(ctx, files, []stocklake.OffsetRange{rng("T", 0, 0, 2)}); err != nil {
		t.Fatal(err)
	}
	for range 20 { // each plan reads the table again: a new guess
		plan, err := c.PlanScan(ctx, "market", "orders", stocklake.ScanOptions{Predicates: []stocklake.ScanPredicate{{Column: "code", Op: "=", Values: []any{"a"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(plan.Files, func(f stocklake.ScanFile) bool { return strings.HasSuffix(f.URL, "/a.parquet") }) {
			t.Fatalf("WHERE code = 'a' pruned a.parquet, whose code is a: files %v", plan.Files)
		}
	}
}

// TestDaySpecAvroName: a registry table's day partition of a time field
// whose name is no Avro name (JSON Schema allows "event-time") is named as
// avroName writes it; "event-time_day" made iceberg-go refuse every
// manifest of the table.
func TestDaySpecAvroName(t *testing.T) {
	sc, err := jsonSchema([]stocklake.Column{{Name: "event-time", Type: "timestamp"}, {Name: "event_x2Dtime_day", Type: "string"}}, "event-time")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := daySpec(sc, "event-time")
	if err != nil {
		t.Fatal(err)
	}
	if got := spec.Field(0).Name; got != "event_x2Dtime_day_" {
		t.Errorf("partition field %q, want event_x2Dtime_day_ (an Avro name, clear of the column)", got)
	}
}
