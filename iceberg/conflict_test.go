package iceberg

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/apache/iceberg-go/table"
	"github.com/stocklake/stocklake"
)

// twoWriters creates a tick table and opens it in two handles, as two sink
// processes would.
func twoWriters(t *testing.T, lake testLake, props ...string) (a, b *Table) {
	t.Helper()
	ctx := context.Background()
	opts := TableOptions{Properties: map[string]string{}}
	for i := 0; i+1 < len(props); i += 2 {
		opts.Properties[props[i]] = props[i+1]
	}
	if _, err := lake.open(t).CreateTickTable(ctx, "market", "ticks", opts); err != nil {
		t.Fatal(err)
	}
	var err error
	if a, err = lake.open(t).OpenTable(ctx, "market", "ticks"); err != nil {
		t.Fatal(err)
	}
	if b, err = lake.open(t).OpenTable(ctx, "market", "ticks"); err != nil {
		t.Fatal(err)
	}
	return a, b
}

// TestCommitRetriesOnConflict: another writer commits (another partition)
// between A checking the offsets and committing; A retries on the refreshed
// table and both commits land.
func TestCommitRetriesOnConflict(t *testing.T) {
	eachCatalog(t, func(t *testing.T, lake testLake) {
		ctx := context.Background()
		a, b := twoWriters(t, lake)
		fa := writeTicks(t, a, "ts_day=2026-11-26/a.parquet", ticks(10, 0, "a"))
		fb := writeTicks(t, b, "ts_day=2026-11-26/b.parquet", ticks(7, 0, "b"))
		attempts := 0
		var bSnap stocklake.TableSnapshot
		a.beforeCommit = func(attempt int) {
			attempts = attempt
			if attempt == 1 {
				var err error
				if bSnap, err = b.Commit(ctx, []stocklake.LakeFile{fb}, []stocklake.OffsetRange{rng("T", 1, 0, 7)}); err != nil {
					t.Errorf("B's commit: %v", err)
				}
			}
		}
		aSnap, err := a.Commit(ctx, []stocklake.LakeFile{fa}, []stocklake.OffsetRange{rng("T", 0, 0, 10)})
		if err != nil {
			t.Fatalf("A's commit after a conflict: %v", err)
		}
		if attempts != 2 {
			t.Errorf("A committed on attempt %d, want 2 (one conflict)", attempts)
		}
		if aSnap.ParentID != bSnap.ID {
			t.Errorf("A's snapshot's parent = %d, want B's %d", aSnap.ParentID, bSnap.ID)
		}
		want := fmt.Sprint(map[stocklake.TopicPartition]int64{tp("T", 0): 10, tp("T", 1): 7})
		if off, _ := a.Offsets(ctx); fmt.Sprint(off) != want {
			t.Errorf("offsets = %v, want %s", off, want)
		}
		if rows, distinct, files := scanCount(t, a, nil); rows != 17 || distinct != 17 || files != 2 {
			t.Errorf("scan: %d rows, %d distinct, %d files; want 17, 17, 2", rows, distinct, files)
		}
	})
}

// TestCommitConflictRechecksOffsets: while A (about to become a zombie)
// commits, B takes over A's partition and commits it first. A's retry must
// see B's offsets and be fenced, not replay its append on top of B's.
func TestCommitConflictRechecksOffsets(t *testing.T) {
	eachCatalog(t, func(t *testing.T, lake testLake) {
		ctx := context.Background()
		a, b := twoWriters(t, lake)
		fa := writeTicks(t, a, "ts_day=2026-11-26/a.parquet", ticks(10, 0, "same"))
		fb := writeTicks(t, b, "ts_day=2026-11-26/b.parquet", ticks(10, 0, "same"))
		a.beforeCommit = func(attempt int) {
			if attempt == 1 {
				if _, err := b.Commit(ctx, []stocklake.LakeFile{fb}, []stocklake.OffsetRange{rng("T", 0, 0, 10)}); err != nil {
					t.Errorf("B's commit: %v", err)
				}
			}
		}
		_, err := a.Commit(ctx, []stocklake.LakeFile{fa}, []stocklake.OffsetRange{rng("T", 0, 0, 10)})
		if !errors.Is(err, stocklake.ErrFenced) {
			t.Errorf("the zombie's commit: %v, want ErrFenced", err)
		}
		snaps, _ := b.Snapshots(ctx)
		if len(snaps) != 1 {
			t.Errorf("%d snapshots, want B's only", len(snaps))
		}
		if off, _ := b.Offsets(ctx); off[tp("T", 0)] != 10 {
			t.Errorf("offsets = %v, want T:0 at 10", off)
		}
		if rows, distinct, _ := scanCount(t, b, nil); rows != 10 || distinct != 10 {
			t.Errorf("rows = %d distinct %d, want 10 once (the zombie's copy must not land)", rows, distinct)
		}
	})
}

// TestCommitUnknownOutcome: the commit lands but the caller gets an error
// (the catalog failed after writing). Commit finds its own commit ID in the
// table and reports success instead of fencing itself or committing twice.
func TestCommitUnknownOutcome(t *testing.T) {
	eachCatalog(t, func(t *testing.T, lake testLake) {
		ctx := context.Background()
		a, _ := twoWriters(t, lake)
		calls := 0
		a.commitHook = func(ctx context.Context, txn *table.Transaction) (*table.Table, error) {
			calls++
			if _, err := txn.Commit(ctx); err != nil {
				return nil, err
			}
			return nil, errors.New("connection reset after the catalog wrote")
		}
		f := writeTicks(t, a, "ts_day=2026-11-26/a.parquet", ticks(10, 0, "a"))
		s, err := a.Commit(ctx, []stocklake.LakeFile{f}, []stocklake.OffsetRange{rng("T", 0, 0, 10)})
		if err != nil {
			t.Fatalf("commit that landed: %v", err)
		}
		if calls != 1 || s.Offsets[tp("T", 0)] != 10 {
			t.Errorf("%d commit calls, snapshot offsets %v; want 1 call and T:0 at 10", calls, s.Offsets)
		}
		if snaps, _ := a.Snapshots(ctx); len(snaps) != 1 {
			t.Errorf("%d snapshots, want 1", len(snaps))
		}

		// A failure that committed nothing and raced with nobody is returned.
		a.commitHook = func(context.Context, *table.Transaction) (*table.Table, error) {
			return nil, errors.New("disk full")
		}
		g := writeTicks(t, a, "ts_day=2026-11-26/b.parquet", ticks(3, 0, "b"))
		if _, err := a.Commit(ctx, []stocklake.LakeFile{g}, []stocklake.OffsetRange{rng("T", 0, 10, 13)}); err == nil || errors.Is(err, stocklake.ErrFenced) {
			t.Errorf("failed commit: %v, want the failure (not ErrFenced)", err)
		}
		if off, _ := a.Offsets(ctx); off[tp("T", 0)] != 10 {
			t.Errorf("offsets after a failed commit = %v", off)
		}
	})
}

// casRace is a catalog in which another writer commits between the catalog
// reading the table and swapping in the new metadata: the catalog answers
// table.ErrCommitFailed, as iceberg-go's SQL catalog does when its
// compare-and-swap of metadata_location misses.
type casRace struct {
	table.CatalogIO
	race func()
	done *bool // races once, across the wrappers of every refresh
}

// casRaceOnce makes race run once inside the compare-and-swap window of
// a commit of t (casRace); the result reports whether it ran.
func casRaceOnce(t *Table, race func()) *bool {
	raced := new(bool)
	t.wrapCatalog = func(c table.CatalogIO) table.CatalogIO {
		return &casRace{CatalogIO: c, done: raced, race: race}
	}
	return raced
}

func (c *casRace) CommitTable(ctx context.Context, id table.Identifier, reqs []table.Requirement, ups []table.Update) (table.Metadata, string, error) {
	if !*c.done {
		*c.done = true
		c.race()
		return nil, "", fmt.Errorf("%w: metadata-location moved underneath us", table.ErrCommitFailed)
	}
	return c.CatalogIO.CommitTable(ctx, id, reqs, ups)
}

// TestCommitCASRaceRechecksOffsets: B takes over A's partition and commits
// inside the catalog's compare-and-swap window of A's commit. With retries
// enabled on the table (commit.retry.num-retries, which other tools set),
// iceberg-go would replay A's append on B's snapshot by itself; A must
// instead read the table again and be fenced.
func TestCommitCASRaceRechecksOffsets(t *testing.T) {
	eachCatalog(t, func(t *testing.T, lake testLake) {
		ctx := context.Background()
		a, b := twoWriters(t, lake, table.CommitNumRetriesKey, "4")
		fa := writeTicks(t, a, "ts_day=2026-11-26/a.parquet", ticks(10, 0, "same"))
		fb := writeTicks(t, b, "ts_day=2026-11-26/b.parquet", ticks(10, 0, "same"))
		casRaceOnce(a, func() {
			if _, err := b.Commit(ctx, []stocklake.LakeFile{fb}, []stocklake.OffsetRange{rng("T", 0, 0, 10)}); err != nil {
				t.Errorf("B's commit: %v", err)
			}
		})
		_, err := a.Commit(ctx, []stocklake.LakeFile{fa}, []stocklake.OffsetRange{rng("T", 0, 0, 10)})
		if !errors.Is(err, stocklake.ErrFenced) {
			t.Errorf("the zombie's commit: %v, want ErrFenced", err)
		}
		if rows, distinct, _ := scanCount(t, b, nil); rows != 10 || distinct != 10 {
			t.Errorf("rows = %d distinct %d, want 10 once (the zombie's copy must not land)", rows, distinct)
		}
		if off, _ := b.Offsets(ctx); off[tp("T", 0)] != 10 {
			t.Errorf("offsets = %v, want T:0 at 10", off)
		}
	})
}

// TestCommitCASRaceRetries: the same race on another partition is retried
// and both commits land.
func TestCommitCASRaceRetries(t *testing.T) {
	eachCatalog(t, func(t *testing.T, lake testLake) {
		ctx := context.Background()
		a, b := twoWriters(t, lake, table.CommitNumRetriesKey, "4")
		fa := writeTicks(t, a, "ts_day=2026-11-26/a.parquet", ticks(10, 0, "a"))
		fb := writeTicks(t, b, "ts_day=2026-11-26/b.parquet", ticks(4, 0, "b"))
		casRaceOnce(a, func() {
			if _, err := b.Commit(ctx, []stocklake.LakeFile{fb}, []stocklake.OffsetRange{rng("T", 1, 0, 4)}); err != nil {
				t.Errorf("B's commit: %v", err)
			}
		})
		if _, err := a.Commit(ctx, []stocklake.LakeFile{fa}, []stocklake.OffsetRange{rng("T", 0, 0, 10)}); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprint(map[stocklake.TopicPartition]int64{tp("T", 0): 10, tp("T", 1): 4})
		if off, _ := b.Offsets(ctx); fmt.Sprint(off) != want {
			t.Errorf("offsets = %v, want %s", off, want)
		}
		if rows, distinct, _ := scanCount(t, b, nil); rows != 14 || distinct != 14 {
			t.Errorf("rows = %d distinct %d, want 14", rows, distinct)
		}
	})
}

// TestRewriteRetriesOnConcurrentAppend: a sink commits to the same
// partition between a compaction staging its rewrite and committing it; the
// rewrite is staged again on the refreshed table, and the append's file
// and offsets survive it.
func TestRewriteRetriesOnConcurrentAppend(t *testing.T) {
	ctx := context.Background()
	a, b := twoWriters(t, newTestLake(t))
	small, all := commitSmallFiles(t, b, "s", 3)
	merged := writeTicks(t, a, "ts_day=2026-11-26/merged.parquet", all)
	late := writeTicks(t, b, "ts_day=2026-11-26/late.parquet", ticks(5, 0, "late"))
	attempts := 0
	a.beforeCommit = func(attempt int) {
		attempts = attempt
		if attempt == 1 {
			if _, err := b.Commit(ctx, []stocklake.LakeFile{late}, []stocklake.OffsetRange{rng("T", 0, 30, 35)}); err != nil {
				t.Errorf("the sink's commit: %v", err)
			}
		}
	}
	s, err := a.Rewrite(ctx, small, []stocklake.LakeFile{merged})
	if err != nil {
		t.Fatalf("rewrite after a concurrent append: %v", err)
	}
	if attempts != 2 {
		t.Errorf("the rewrite committed on attempt %d, want 2 (one conflict)", attempts)
	}
	if s.Offsets[tp("T", 0)] != 35 {
		t.Errorf("the rewrite's snapshot carries offsets %v, want the append's T:0 at 35", s.Offsets)
	}
	if rows, distinct, files := scanCount(t, a, nil); rows != 35 || distinct != 35 || files != 2 {
		t.Errorf("after the rewrite: %d rows, %d distinct, %d files; want 35, 35, 2 (merged + the append)", rows, distinct, files)
	}
}
