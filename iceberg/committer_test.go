package iceberg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/iceberg-go/table"
	"github.com/stocklake/stocklake"
)

// TestCommitStagesOnHeldState: a commit on the SQLite catalog stages on
// the table state it holds (confirmed current by the catalog's pointer)
// and does not read the current metadata file again, as iceberg-go's SQL
// catalog did on every commit (40% of a commit's CPU at 500 snapshots).
// The proof: the current metadata file is garbage when the commit runs,
// and the commit still lands, and the table reads back whole.
func TestCommitStagesOnHeldState(t *testing.T) {
	ctx := context.Background()
	lake := newTestLake(t)
	tbl := lake.createTicks(t)
	a := writeTicks(t, tbl, "ts_day=2026-11-26/a.parquet", ticks(10, 0, "a"))
	if _, err := tbl.Commit(ctx, []stocklake.LakeFile{a}, []stocklake.OffsetRange{rng("T", 0, 0, 10)}); err != nil {
		t.Fatal(err)
	}
	it, _ := tbl.refresh(ctx)
	cur := strings.TrimPrefix(it.MetadataLocation(), "file://")
	good, err := os.ReadFile(cur)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cur, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := writeTicks(t, tbl, "ts_day=2026-11-26/b.parquet", ticks(5, 0, "b"))
	_, err = tbl.Commit(ctx, []stocklake.LakeFile{b}, []stocklake.OffsetRange{rng("T", 0, 10, 15)})
	if err := os.WriteFile(cur, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatalf("commit read the current metadata file again: %v", err)
	}
	other, err := lake.open(t).OpenTable(ctx, "market", "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if off, _ := other.Offsets(ctx); off[tp("T", 0)] != 15 {
		t.Errorf("offsets = %v, want T:0 at 15", off)
	}
	if rows, distinct, _ := scanCount(t, other, nil); rows != 15 || distinct != 15 {
		t.Errorf("rows = %d distinct %d, want 15", rows, distinct)
	}
	if snaps, _ := other.Snapshots(ctx); len(snaps) != 2 {
		t.Errorf("snapshots = %d, want 2", len(snaps))
	}
}

// TestCommitOnStaleStateRefused: a transaction built on a state another
// writer has moved past is refused by the catalog's compare-and-swap (the
// held state is never trusted blindly), with ErrCommitFailed, and leaves
// neither a change nor its metadata file behind.
func TestCommitOnStaleStateRefused(t *testing.T) {
	ctx := context.Background()
	a, b := twoWriters(t, newTestLake(t))
	stale, err := a.refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fb := writeTicks(t, b, "ts_day=2026-11-26/b.parquet", ticks(4, 0, "b"))
	if _, err := b.Commit(ctx, []stocklake.LakeFile{fb}, []stocklake.OffsetRange{rng("T", 1, 0, 4)}); err != nil {
		t.Fatal(err)
	}
	metaDir := filepath.Join(strings.TrimPrefix(a.Location(), "file://"), "metadata")
	before, _ := filepath.Glob(filepath.Join(metaDir, "*.metadata.json"))
	fa := writeTicks(t, a, "ts_day=2026-11-26/a.parquet", ticks(10, 0, "a"))
	txn := a.adopt(stale).NewTransaction()
	if err := txn.AddFiles(ctx, []string{fa.URL}, nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := txn.Commit(ctx); !errors.Is(err, table.ErrCommitFailed) {
		t.Fatalf("commit on a stale state: %v, want ErrCommitFailed", err)
	}
	after, _ := filepath.Glob(filepath.Join(metaDir, "*.metadata.json"))
	if len(after) != len(before) {
		t.Errorf("metadata files %d -> %d: the refused commit's file was left behind", len(before), len(after))
	}
	if rows, _, _ := scanCount(t, b, nil); rows != 4 {
		t.Errorf("rows = %d, want B's 4 only", rows)
	}
	// Commit itself reads the table again and lands.
	if _, err := a.Commit(ctx, []stocklake.LakeFile{fa}, []stocklake.OffsetRange{rng("T", 0, 0, 10)}); err != nil {
		t.Fatal(err)
	}
	if rows, _, _ := scanCount(t, b, nil); rows != 14 {
		t.Errorf("rows = %d, want 14", rows)
	}
}

func TestMetadataVersion(t *testing.T) {
	for loc, want := range map[string]int{
		"file:///l/t/metadata/00042-8c1b6b0e-6f4e-4a5e-9d7b-2a1e3f4c5d6e.metadata.json": 42,
		"s3://b/t/metadata/v7.metadata.json":                                            7,
		"s3://b/t/metadata/00000-x.metadata.json":                                       0,
		"s3://b/t/metadata/foo.json":                                                    -1,
		"s3://b/t/metadata/vx.metadata.json":                                            -1,
		"s3://b/t/metadata/-1-x.metadata.json":                                          -1,
	} {
		v, ok := metadataVersion(loc)
		if !ok {
			v = -1
		}
		if v != want {
			t.Errorf("metadataVersion(%s) = %d, want %d", loc, v, want)
		}
	}
}

// TestCommitBoundsHistory: with PropertyMaxSnapshots set, commits keep the
// table's snapshots at the bound (plus a tenth, at least 1) instead of
// growing a snapshot per commit, delete the manifest lists of the expired
// snapshots, and lose no row or offset. New tables get the default bound.
func TestCommitBoundsHistory(t *testing.T) {
	ctx := context.Background()
	lake := newTestLake(t)
	c := lake.open(t)
	tbl, err := c.CreateTickTable(ctx, "market", "ticks", TableOptions{Properties: map[string]string{PropertyMaxSnapshots: "5"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		f := writeTicks(t, tbl, fmt.Sprintf("ts_day=2026-11-26/f%d.parquet", i), ticks(3, 0, fmt.Sprint("f", i)))
		if _, err := tbl.Commit(ctx, []stocklake.LakeFile{f}, []stocklake.OffsetRange{rng("T", 0, int64(i*3), int64(i*3+3))}); err != nil {
			t.Fatal(err)
		}
		if snaps, _ := tbl.Snapshots(ctx); len(snaps) > 6 {
			t.Fatalf("after commit %d: %d snapshots, want at most 6", i+1, len(snaps))
		}
	}
	other, err := lake.open(t).OpenTable(ctx, "market", "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if rows, distinct, _ := scanCount(t, other, nil); rows != 60 || distinct != 60 {
		t.Errorf("rows = %d distinct %d, want 60", rows, distinct)
	}
	if off, _ := other.Offsets(ctx); off[tp("T", 0)] != 60 {
		t.Errorf("offsets = %v, want T:0 at 60", off)
	}
	it, _ := other.refresh(ctx)
	lists, _ := filepath.Glob(filepath.Join(strings.TrimPrefix(it.Location(), "file://"), "metadata", "snap-*.avro"))
	if n := len(it.Metadata().Snapshots()); len(lists) != n {
		t.Errorf("%d manifest lists for %d snapshots: the expired snapshots' lists were left behind", len(lists), n)
	}
	fresh, err := c.CreateTickTable(ctx, "market", "fresh", TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := fresh.refresh(ctx)
	if got := fi.Properties()[PropertyMaxSnapshots]; got != strconv.Itoa(DefaultMaxSnapshots) {
		t.Errorf("a new table's %s = %q, want %d", PropertyMaxSnapshots, got, DefaultMaxSnapshots)
	}
}
