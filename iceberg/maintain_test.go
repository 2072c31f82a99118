package iceberg

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

func TestRemoveOrphans(t *testing.T) {
	ctx := context.Background()
	lake := newTestLake(t)
	tbl := lake.createTicks(t)
	commitSmallFiles(t, tbl, "c", 3)
	// A crashed sink's batch, a zombie's, and one being written now.
	old := writeTicks(t, tbl, "ts_day=2026-11-26/crashed.parquet", ticks(10, 0, "x"))
	zombie := writeTicks(t, tbl, "ts_day=2026-11-27/zombie.parquet", ticks(10, 1, "z"))
	young := writeTicks(t, tbl, "ts_day=2026-11-26/young.parquet", ticks(10, 0, "y"))
	// A file beside the table's folders, which is not the table's.
	root := strings.TrimPrefix(tbl.Location(), "file://")
	outside := filepath.Join(root, "notes.txt")
	if err := os.WriteFile(outside, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Everything is two days old except young: the committed files and
	// metadata files too, which must stay.
	twoDays := time.Now().Add(-48 * time.Hour)
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && p != strings.TrimPrefix(young.URL, "file://") {
			os.Chtimes(p, twoDays, twoDays)
		}
		return nil
	})
	removed, err := tbl.RemoveOrphans(ctx, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, o := range removed {
		got[strings.TrimPrefix(o.URL, "file://")] = true
	}
	for _, f := range []stocklake.LakeFile{old, zombie} {
		p := strings.TrimPrefix(f.URL, "file://")
		if _, err := os.Stat(p); !os.IsNotExist(err) || !got[p] {
			t.Errorf("orphan %s: stat %v, reported %v; want it removed and reported", p, err, got[p])
		}
	}
	for _, p := range []string{strings.TrimPrefix(young.URL, "file://"), outside} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed (%v): it is younger than the age or outside data/ and metadata/", p, err)
		}
	}
	if len(removed) != 2 {
		t.Errorf("removed %v, want exactly the two orphans", removed)
	}
	if rows, distinct, _ := scanCount(t, tbl, nil); rows != 30 || distinct != 30 {
		t.Errorf("after orphan removal the table scans %d rows (%d distinct), want 30", rows, distinct)
	}
	if _, err := tbl.RemoveOrphans(ctx, 0); err == nil {
		t.Error("RemoveOrphans with age 0 was accepted: it would race every writer")
	}
}

func TestRewriteManifestsAndLastMaintenance(t *testing.T) {
	ctx := context.Background()
	lake := newTestLake(t)
	tbl := lake.createTicks(t)
	for i := range 20 {
		f := writeTicks(t, tbl, fmt.Sprintf("ts_day=2026-11-26/m%d.parquet", i), ticks(5, 0, fmt.Sprint("m", i)))
		if _, err := tbl.Commit(ctx, []stocklake.LakeFile{f}, []stocklake.OffsetRange{rng("T", 0, int64(i*5), int64(i*5+5))}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := tbl.RewriteManifests(ctx, 100); err != nil || n != 0 {
		t.Fatalf("RewriteManifests below its threshold replaced %d manifests (%v), want none", n, err)
	}
	n, err := tbl.RewriteManifests(ctx, 16)
	if err != nil || n < 16 {
		t.Fatalf("RewriteManifests replaced %d manifests (%v), want the 20 commits' ones (>= 16)", n, err)
	}
	if rows, distinct, files := scanCount(t, tbl, nil); rows != 100 || distinct != 100 || files != 20 {
		t.Errorf("after the manifest rewrite: %d rows, %d distinct, %d files; want 100, 100, 20", rows, distinct, files)
	}
	if off, err := tbl.Offsets(ctx); err != nil || off[tp("T", 0)] != 100 {
		t.Errorf("offsets after the manifest rewrite %v (%v), want T:0 at 100", off, err)
	}
	if n, err := tbl.RewriteManifests(ctx, 16); err != nil || n != 0 {
		t.Errorf("a second rewrite replaced %d manifests (%v), want none", n, err)
	}

	if at, err := tbl.LastMaintenance(ctx); err != nil || !at.IsZero() {
		t.Fatalf("last maintenance of a new table: %v, %v; want zero", at, err)
	}
	at := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	if err := tbl.SetLastMaintenance(ctx, at); err != nil {
		t.Fatal(err)
	}
	other, err := lake.open(t).OpenTable(ctx, "market", "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := other.LastMaintenance(ctx); err != nil || !got.Equal(at) {
		t.Errorf("last maintenance read by another process: %v, %v; want %v", got, err, at)
	}
}
