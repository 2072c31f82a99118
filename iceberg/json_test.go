package iceberg

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go/table"

	"github.com/stocklake/stocklake"
)

// TestLazyTableFirstDecisionWins: two processes (catalog handles) find no
// table, and decide other shapes; the first to create the table wins and
// the other gets its shape. Before that, the table has no offsets and
// refuses commits.
func TestLazyTableFirstDecisionWins(t *testing.T) {
	l := newTestLake(t)
	ctx := context.Background()
	a, err := l.open(t).LazyTable("market", "orders")
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.open(t).LazyTable("market", "orders")
	if err != nil {
		t.Fatal(err)
	}
	for _, lt := range []*LazyTable{a, b} {
		if _, ok, err := lt.Shape(ctx); ok || err != nil {
			t.Fatalf("Shape before the table exists: ok %v, %v", ok, err)
		}
		if offs, err := lt.Offsets(ctx); len(offs) != 0 || err != nil {
			t.Fatalf("Offsets before the table exists: %v, %v", offs, err)
		}
	}
	if _, err := a.Commit(ctx, nil, []stocklake.OffsetRange{rng("t", 0, 0, 1)}); !errors.Is(err, stocklake.ErrNotFound) {
		t.Fatalf("Commit before the table exists: %v, want ErrNotFound", err)
	}
	first := stocklake.TableShape{Schema: "json", TimeField: "at", Columns: []stocklake.Column{
		{Name: "at", Type: "timestamp"}, {Name: "n", Type: "bigint"}, {Name: "ok", Type: "boolean"}, {Name: "x", Type: "double"}, {Name: "s", Type: "string"}}}
	got, err := a.Decide(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(first) {
		t.Errorf("Decide returned %+v, want %+v", got, first)
	}
	other := stocklake.TableShape{Schema: "json", TimeField: "at", Columns: []stocklake.Column{{Name: "at", Type: "timestamp"}, {Name: "n", Type: "string"}}}
	if got, err = b.Decide(ctx, other); err != nil || fmt.Sprint(got) != fmt.Sprint(first) {
		t.Errorf("second Decide returned %+v, %v: want the first shape %+v", got, err, first)
	}
	tbl, err := b.Table(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := tbl.Partitioning(); p != "day(at)" {
		t.Errorf("partitioning %s, want day(at)", p)
	}
	if tbl.tbl.Properties()[table.DefaultNameMappingKey] == "" {
		t.Error("no name mapping")
	}
	for _, f := range tbl.tbl.Schema().Fields() {
		if f.Required {
			t.Errorf("column %s is required, want optional", f.Name)
		}
	}
	at := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	if p := b.PartitionPath(&stocklake.Tick{Time: at}); p != "at_day=2026-11-26" {
		t.Errorf("PartitionPath = %q, want at_day=2026-11-26", p)
	}
	if _, err := l.open(t).CreateJSONTable(ctx, "market", "bad", stocklake.TableShape{Schema: "json", Columns: []stocklake.Column{{Name: "v", Type: "map<string,int>"}}}); !errors.Is(err, stocklake.ErrInvalid) {
		t.Errorf("a column of an unknown type: %v, want ErrInvalid", err)
	}
}

// TestJSONTableWidenColumns adds columns to a JSON table: names with dots,
// spaces and quotes, a name that differs from a column only in case (a
// column of its own: Iceberg names are case-sensitive), a column the table
// has with another type (it keeps its type), and a second writer's
// columns committed inside the compare-and-swap window of the first's
// schema update, which retries on the fresh table so both land. A
// repeated widening commits nothing.
func TestJSONTableWidenColumns(t *testing.T) {
	eachCatalog(t, func(t *testing.T, l testLake) {
		ctx := context.Background()
		shape := stocklake.TableShape{Schema: "json", TimeField: "at", Columns: []stocklake.Column{
			{Name: "at", Type: "timestamp"}, {Name: "n", Type: "bigint"}, {Name: "upper", Type: "string"}}}
		if _, err := l.open(t).CreateJSONTable(ctx, "market", "orders", shape); err != nil {
			t.Fatal(err)
		}
		a, err := l.open(t).OpenTable(ctx, "market", "orders")
		if err != nil {
			t.Fatal(err)
		}
		b, err := l.open(t).OpenTable(ctx, "market", "orders")
		if err != nil {
			t.Fatal(err)
		}
		raced := casRaceOnce(a, func() {
			if _, err := b.WidenColumns(ctx, []stocklake.Column{{Name: "desk", Type: "string"}, {Name: "n", Type: "double"}}); err != nil {
				t.Errorf("B's widening: %v", err)
			}
		})
		got, err := a.WidenColumns(ctx, []stocklake.Column{{Name: "a.b", Type: "bigint"}, {Name: "sp ace", Type: "double"},
			{Name: `qu"ote`, Type: "boolean"}, {Name: "UPPER", Type: "string"}, {Name: "n", Type: "string"}, {Name: "late", Type: "string"}})
		if err != nil {
			t.Fatal(err)
		}
		if !*raced {
			t.Error("B never raced A's commit")
		}
		want := `[{at timestamp } {n bigint } {upper string } {desk string } {a.b bigint } {sp ace double } {qu"ote boolean } {UPPER string } {late string }]`
		if fmt.Sprint(got.Columns) != want {
			t.Errorf("columns after widening\n %v\nwant\n %v", got.Columns, want)
		}
		c, err := l.open(t).OpenTable(ctx, "market", "orders")
		if err != nil {
			t.Fatal(err)
		}
		if s, _ := c.Shape(); fmt.Sprint(s.Columns) != want {
			t.Errorf("another process reads columns %v", s.Columns)
		}
		nm := c.tbl.Properties()[table.DefaultNameMappingKey]
		for _, name := range []string{`"a.b"`, `"sp ace"`, `"UPPER"`, `"desk"`, `"late"`} {
			if !strings.Contains(nm, name) {
				t.Errorf("name mapping %s lacks %s", nm, name)
			}
		}
		meta := c.tbl.MetadataLocation()
		if _, err := c.WidenColumns(ctx, []stocklake.Column{{Name: "late", Type: "bigint"}, {Name: "a.b", Type: "bigint"}}); err != nil {
			t.Fatal(err)
		}
		if c.tbl.MetadataLocation() != meta {
			t.Error("a widening that adds nothing committed a new metadata file")
		}
	})
}
