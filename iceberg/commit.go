package iceberg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/stocklake/stocklake"
	"golang.org/x/sync/errgroup"

	ice "github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// Snapshot summary keys written by Commit. Values are JSON; a partition is
// keyed "TOPICID:PARTITION" (stocklake.TopicPartition.String).
const (
	// SummaryOffsets holds the next offset to consume for every partition
	// the table has seen, as of this snapshot: {"TOPICID:P": next, ...}.
	// Each commit copies the previous snapshot's map forward and advances
	// the partitions it committed, so the newest snapshot that has the key
	// tells everything.
	SummaryOffsets = "stocklake.offsets"
	// SummaryRanges holds the offsets this commit accounted for:
	// {"TOPICID:P": [start, end], ...}, end exclusive.
	SummaryRanges = "stocklake.ranges"
	// SummaryCommitID is a random ID per Commit call, which tells whether a
	// commit whose outcome was unknown has landed.
	SummaryCommitID = "stocklake.commit-id"
)

// DefaultMaxAttempts is how often Commit tries against a table that other
// writers keep changing: 20.
const DefaultMaxAttempts = 20

// Offsets returns the next offset to consume per partition as of the
// table's current snapshot. When the current snapshot was written by another
// program (it has no SummaryOffsets, e.g. a compaction), the newest ancestor
// that has them answers. A table that never committed offsets returns an
// empty map.
func (t *Table) Offsets(ctx context.Context) (map[stocklake.TopicPartition]int64, error) {
	tbl, err := t.refresh(ctx)
	if err != nil {
		return nil, err
	}
	return offsetsAt(tbl.Metadata())
}

// Snapshots returns the snapshots of the table's main branch, newest first,
// back to the oldest one that has not been expired.
func (t *Table) Snapshots(ctx context.Context) ([]stocklake.TableSnapshot, error) {
	tbl, err := t.refresh(ctx)
	if err != nil {
		return nil, err
	}
	var out []stocklake.TableSnapshot
	for s := range ancestors(tbl.Metadata(), tbl.CurrentSnapshot()) {
		ts, err := toSnapshot(s)
		if err != nil {
			return nil, err
		}
		out = append(out, ts)
	}
	return out, nil
}

// Commit adds files (Parquet files already written, holding rows of one
// partition each) and advances the offsets of ranges, in ONE append
// snapshot. The column statistics and partition values of each file are
// read from its footer.
//
// Fencing: every range's Start must equal the next offset the table has
// committed for its partition (a partition the table has never seen accepts
// any Start); otherwise nothing is committed and the error wraps a
// *stocklake.FencedError (so stocklake.ErrFenced) naming the refused
// partitions, so that the caller can commit the others without them. A conflicting commit by another writer between
// reading the table and committing makes Commit read the table again,
// check the offsets again and retry, up to MaxAttempts times (then it wraps
// stocklake.ErrUnavailable). When the outcome of a commit is unknown (the
// catalog failed midway), Commit reads the table again and looks for its own
// commit ID before deciding.
//
// A commit with no files still makes a snapshot, to advance offsets whose
// records all went to the dead-letter topic.
func (t *Table) Commit(ctx context.Context, files []stocklake.LakeFile, ranges []stocklake.OffsetRange) (stocklake.TableSnapshot, error) {
	if err := checkRanges(ranges); err != nil {
		return stocklake.TableSnapshot{}, err
	}
	if len(files) == 0 && len(ranges) == 0 {
		return stocklake.TableSnapshot{}, fmt.Errorf("iceberg: commit to %s.%s has neither files nor offsets: %w", t.database, t.name, stocklake.ErrInvalid)
	}
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		if err := checkFileURL(f.URL); err != nil {
			return stocklake.TableSnapshot{}, fmt.Errorf("iceberg: commit to %s.%s: %w", t.database, t.name, err)
		}
		if seen[f.URL] {
			return stocklake.TableSnapshot{}, fmt.Errorf("iceberg: commit to %s.%s: file %s is given twice: %w", t.database, t.name, f.URL, stocklake.ErrInvalid)
		}
		seen[f.URL] = true
	}
	rangesJSON := encodeRanges(ranges)
	var (
		dfs             []ice.DataFile
		dfsSpec, dfsSch = -1, -1
	)
	snap, err := t.commitLoop(ctx, "commit", func(tbl *table.Table, txn *table.Transaction, props ice.Properties) error {
		committed, err := offsetsAt(tbl.Metadata())
		if err != nil {
			return err
		}
		next, err := advance(committed, ranges)
		if err != nil {
			return fmt.Errorf("iceberg: commit to %s.%s refused: %w", t.database, t.name, err)
		}
		if spec := tbl.Spec(); spec.ID() != dfsSpec || tbl.Schema().ID != dfsSch {
			if dfs, err = t.dataFiles(ctx, tbl, files); err != nil {
				return err
			}
			dfsSpec, dfsSch = spec.ID(), tbl.Schema().ID
		}
		props[SummaryOffsets] = encodeOffsets(next)
		props[SummaryRanges] = rangesJSON
		if len(dfs) > 0 {
			// No duplicate check (it reads every manifest): the fencing
			// rule already keeps a batch from being committed twice.
			err = txn.AddDataFiles(ctx, dfs, props, table.WithoutDuplicateCheck())
		} else {
			err = txn.AddFiles(ctx, nil, props, true)
		}
		if err != nil {
			return fail(fmt.Sprintf("preparing the commit to %s.%s", t.database, t.name), err)
		}
		return nil
	})
	if err == nil {
		t.trimHistory(ctx)
	}
	return snap, err
}

// PropertyMaxSnapshots is the table property that bounds a table's
// history: once a Commit leaves more than this many snapshots (by a tenth,
// so the expiry is paid once per tenth of it), the commit expires the
// oldest beyond it (ExpireSnapshots(0, N): the snapshot that carries the
// offsets is always kept). Every commit writes a metadata file that lists
// all snapshots, so without a bound a commit costs more CPU the older the
// table is (about 25 µs per snapshot: 90 ms at 3,600 snapshots, 0.6 s at
// 20,000). Unset or 0: no bound (the sink leaves expiry to `stocklake
// maintain`). New tables get DefaultMaxSnapshots.
const PropertyMaxSnapshots = "stocklake.history.max-snapshots"

// DefaultMaxSnapshots is PropertyMaxSnapshots of a new table: 100 (the
// sink commits one snapshot per flush for all its partitions, so at a 1 s
// flush interval time travel reaches back about 100 seconds per sink
// process writing the table; raise it with the table property for more,
// at CPU per commit).
const DefaultMaxSnapshots = 100

// trimHistory expires the oldest snapshots after a commit that left more
// than PropertyMaxSnapshots of them by a tenth. The commit has landed
// either way: a failed expiry is left to the next commit (or maintain).
// It costs about one commit, once per tenth of the bound.
func (t *Table) trimHistory(ctx context.Context) {
	t.mu.Lock()
	tbl := t.tbl
	t.mu.Unlock()
	limit := tbl.Properties().GetInt(PropertyMaxSnapshots, 0)
	if limit <= 0 || len(tbl.Metadata().Snapshots()) <= limit+max(limit/10, 1) {
		return
	}
	before, after, err := t.expireSnapshots(ctx, 0, limit, false)
	if err != nil {
		return
	}
	// Each snapshot has a manifest list of its own: delete those of the
	// expired ones. Manifests and data files that no snapshot references
	// any more (manifests merged into others) are left to orphan cleanup
	// (`stocklake maintain`): finding them reads every manifest.
	fs, err := after.FS(ctx)
	if err != nil {
		return
	}
	for _, s := range before.Metadata().Snapshots() {
		if after.Metadata().SnapshotByID(s.SnapshotID) == nil && s.ManifestList != "" {
			_ = fs.Remove(s.ManifestList)
		}
	}
}

// Rewrite replaces data files by files holding the same rows (a
// compaction), in one replace snapshot that copies the table's offsets
// forward, so they survive the expiry of the snapshots that wrote them.
// remove must be files of the current snapshot; add files are read for
// their statistics. Conflicts are retried like Commit's.
func (t *Table) Rewrite(ctx context.Context, remove, add []stocklake.LakeFile) (stocklake.TableSnapshot, error) {
	if len(remove) == 0 || len(add) == 0 {
		return stocklake.TableSnapshot{}, fmt.Errorf("iceberg: rewrite of %s.%s needs files to remove and files to add: %w", t.database, t.name, stocklake.ErrInvalid)
	}
	var (
		dfs             []ice.DataFile
		dfsSpec, dfsSch = -1, -1
	)
	return t.commitLoop(ctx, "rewrite", func(tbl *table.Table, txn *table.Transaction, props ice.Properties) error {
		committed, err := offsetsAt(tbl.Metadata())
		if err != nil {
			return err
		}
		if len(committed) > 0 {
			props[SummaryOffsets] = encodeOffsets(committed)
		}
		if spec := tbl.Spec(); spec.ID() != dfsSpec || tbl.Schema().ID != dfsSch {
			if dfs, err = t.dataFiles(ctx, tbl, add); err != nil {
				return err
			}
			dfsSpec, dfsSch = spec.ID(), tbl.Schema().ID
		}
		tasks, err := tbl.Scan().PlanFiles(ctx)
		if err != nil {
			return fail(fmt.Sprintf("listing the files of %s.%s", t.database, t.name), err)
		}
		current := make(map[string]ice.DataFile, len(tasks))
		for _, task := range tasks {
			current[task.File.FilePath()] = task.File
		}
		rw := txn.NewRewrite(props)
		for _, f := range remove {
			df, ok := current[f.URL]
			if !ok {
				return fmt.Errorf("iceberg: rewrite of %s.%s: %s is not a file of the current snapshot (another compaction may have replaced it): %w",
					t.database, t.name, f.URL, stocklake.ErrInvalid)
			}
			rw.DeleteFile(df)
		}
		for _, df := range dfs {
			rw.AddDataFile(df)
		}
		if err := rw.Commit(ctx); err != nil {
			return fail(fmt.Sprintf("preparing the rewrite of %s.%s", t.database, t.name), err)
		}
		return nil
	})
}

// commitLoop runs one table change with optimistic concurrency. stage adds
// the change to txn, built on tbl, with props as its snapshot summary
// (props already holds SummaryCommitID). The branch head is pinned:
// iceberg-go would otherwise replay the change on a newer head by itself,
// without stage seeing that head (and checking the offsets against it).
// When another writer got in first, commitLoop reads the table again and
// stages again, up to MaxAttempts times.
func (t *Table) commitLoop(ctx context.Context, what string, stage func(tbl *table.Table, txn *table.Transaction, props ice.Properties) error) (stocklake.TableSnapshot, error) {
	maxAttempts := t.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	commitID := uuid.NewString()
	tbl, err := t.refresh(ctx)
	if err != nil {
		return stocklake.TableSnapshot{}, err
	}
	var lastErr error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		meta := tbl.Metadata()
		txn := t.adopt(tbl).NewTransaction() // (again: a test may have set wrapCatalog since)
		if err := txn.AssertRefSnapshotID(table.MainBranch); err != nil {
			return stocklake.TableSnapshot{}, fail("preparing the "+what, err)
		}
		if err := stage(tbl, txn, ice.Properties{SummaryCommitID: commitID}); err != nil {
			return stocklake.TableSnapshot{}, err
		}
		if t.beforeCommit != nil {
			t.beforeCommit(attempt)
		}
		newTbl, cerr := t.commitTxn(ctx, txn)
		if cerr == nil {
			t.mu.Lock()
			t.tbl = t.adopt(newTbl)
			t.mu.Unlock()
			return toSnapshot(newTbl.CurrentSnapshot())
		}
		lastErr = cerr
		if ctx.Err() != nil {
			return stocklake.TableSnapshot{}, fmt.Errorf("iceberg: %s of %s.%s interrupted (it may have landed; Offsets tells): %w", what, t.database, t.name, context.Cause(ctx))
		}
		fresh, rerr := t.refresh(ctx)
		if rerr != nil {
			return stocklake.TableSnapshot{}, fmt.Errorf("iceberg: %s of %s.%s failed (%v) and reading the table again failed too, so it may or may not have landed: read the offsets again before going on: %w", what, t.database, t.name, cerr, rerr)
		}
		if s := findCommit(fresh.Metadata(), commitID, headID(meta)); s != nil {
			return toSnapshot(s)
		}
		if headID(fresh.Metadata()) == headID(meta) && !errors.Is(cerr, table.ErrCommitFailed) {
			return stocklake.TableSnapshot{}, fail(fmt.Sprintf("%s of %s.%s", what, t.database, t.name), cerr)
		}
		// Another writer committed first: stage again on the fresh table.
		tbl = fresh
		if err := sleep(ctx, attempt); err != nil {
			return stocklake.TableSnapshot{}, fmt.Errorf("iceberg: %s of %s.%s: %w", what, t.database, t.name, err)
		}
	}
	return stocklake.TableSnapshot{}, fmt.Errorf("iceberg: %s of %s.%s gave up after %d attempts, other writers kept changing the table (last: %v): retry later: %w",
		what, t.database, t.name, maxAttempts, lastErr, stocklake.ErrUnavailable)
}

// commitTxn commits txn; tests replace it through the hook to fake a
// commit whose outcome is unknown.
func (t *Table) commitTxn(ctx context.Context, txn *table.Transaction) (*table.Table, error) {
	if t.commitHook != nil {
		return t.commitHook(ctx, txn)
	}
	return txn.Commit(ctx)
}

// readWhole opens and reads the file at url to its end: nil when the
// storage serves it.
func readWhole(fsys iceio.IO, url string) error {
	f, err := fsys.Open(url)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// unreadable reports whether err, from reading a data file, says the
// storage could not be read (an outage, the commit is retried) rather than
// that the file is not there. A network error counts as an outage even
// under a not-found code: gocloud's S3 blob reports a GetObject whose
// retries all met "connection refused" as NotFound.
func unreadable(err error) bool {
	if err == nil {
		return false
	}
	var op *net.OpError // not net.Error: a syscall.Errno (ENOENT) is one
	return !errors.Is(err, iofs.ErrNotExist) || errors.As(err, &op)
}

// dataFiles reads each file's footer for its statistics and partition.
func (t *Table) dataFiles(ctx context.Context, tbl *table.Table, files []stocklake.LakeFile) ([]ice.DataFile, error) {
	if len(files) == 0 {
		return nil, nil
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return nil, fail("opening the table's file system", err)
	}
	sc, spec, props := tbl.Schema(), tbl.Spec(), tbl.Properties()
	out := make([]ice.DataFile, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, f := range files {
		g.Go(func() error {
			df, err := table.FileToDataFile(gctx, fs, f.URL, sc, spec, 0, props)
			if err != nil {
				// Storage that cannot be read (an S3 outage) is not a bad
				// file: the commit is retried. A file read whole that still
				// does not convert is.
				if rerr := readWhole(fs, f.URL); unreadable(rerr) {
					return fmt.Errorf("iceberg: reading %s for table %s.%s: %v: %w", f.URL, t.database, t.name, rerr, stocklake.ErrUnavailable)
				}
				return fmt.Errorf("iceberg: reading %s for table %s.%s: %v: check that it is a Parquet file of the table's columns with rows of one partition (%s): %w",
					f.URL, t.database, t.name, err, spec, stocklake.ErrInvalid)
			}
			for _, pf := range spec.Fields() {
				v, ok := df.Partition()[pf.FieldID]
				_, identity := pf.Transform.(ice.IdentityTransform)
				nulls, counted := df.NullValueCounts()[pf.SourceID()]
				switch {
				case identity && v == nil && counted && nulls == df.Count():
					// A null partition (a JSON field missing or null in
					// every row): no bounds, every value null.
				case !ok || v == nil:
					return fmt.Errorf("iceberg: %s has no statistics for the partition field %s: write it with column statistics: %w",
						f.URL, pf.Name, stocklake.ErrInvalid)
				case identity && counted && nulls > 0:
					return fmt.Errorf("iceberg: %s holds rows of the partition %s=%v and %d with null: write one partition per file: %w",
						f.URL, pf.Name, v, nulls, stocklake.ErrInvalid)
				}
			}
			out[i] = df
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// checkFileURL accepts file:// and s3:// URLs whose paths use only
// letters, digits and "/._~+=-": iceberg-go percent-decodes file paths and
// pyiceberg does not, so a path that needs escaping would be read by one
// and not the other.
func checkFileURL(u string) error {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok || (scheme != "file" && scheme != "s3") || rest == "" {
		return fmt.Errorf("file %q is not a file:// or s3:// URL: %w", u, stocklake.ErrInvalid)
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("/._~+=-", c) >= 0) {
			return fmt.Errorf("file %q has %q in its path: name data files with letters, digits and \"/._~+=-\" only (PartitionPath escapes values as ~XX): %w", u, c, stocklake.ErrInvalid)
		}
	}
	return nil
}

// checkRanges validates the ranges of one commit.
func checkRanges(ranges []stocklake.OffsetRange) error {
	seen := make(map[stocklake.TopicPartition]bool, len(ranges))
	for _, r := range ranges {
		switch {
		case r.TopicID == "" || strings.ContainsAny(r.TopicID, ":\""):
			return fmt.Errorf("iceberg: offset range has topic ID %q: want a non-empty ID without ':' or '\"': %w", r.TopicID, stocklake.ErrInvalid)
		case r.Partition < 0:
			return fmt.Errorf("iceberg: offset range %s has a negative partition: %w", r.TopicPartition, stocklake.ErrInvalid)
		case r.Start < 0 || r.End < r.Start:
			return fmt.Errorf("iceberg: offset range %s is [%d, %d): want 0 <= start <= end: %w", r.TopicPartition, r.Start, r.End, stocklake.ErrInvalid)
		case seen[r.TopicPartition]:
			return fmt.Errorf("iceberg: partition %s appears twice in one commit: %w", r.TopicPartition, stocklake.ErrInvalid)
		}
		seen[r.TopicPartition] = true
	}
	return nil
}

// advance applies the fencing rule and returns the offsets after the
// commit; a refusal is a *stocklake.FencedError naming every partition
// whose range does not start at the table's offset.
func advance(committed map[stocklake.TopicPartition]int64, ranges []stocklake.OffsetRange) (map[stocklake.TopicPartition]int64, error) {
	next := make(map[stocklake.TopicPartition]int64, len(committed)+len(ranges))
	for tp, o := range committed {
		next[tp] = o
	}
	var (
		bad    []string
		fenced []stocklake.TopicPartition
	)
	for _, r := range ranges {
		if c, ok := committed[r.TopicPartition]; ok && c != r.Start {
			bad = append(bad, fmt.Sprintf("%s starts at %d but the table is at %d", r.TopicPartition, r.Start, c))
			fenced = append(fenced, r.TopicPartition)
		}
		next[r.TopicPartition] = r.End
	}
	if len(bad) > 0 {
		return nil, &stocklake.FencedError{Partitions: fenced, Reason: strings.Join(bad, "; ")}
	}
	return next, nil
}

// ancestors yields s and its ancestors, newest first, until one is missing
// (expired) or the first snapshot. Parent links that loop (a snapshot its
// own ancestor: metadata no Iceberg writer makes, but a foreign commit can
// plant) end the walk where a snapshot would come again, instead of
// looping for ever.
func ancestors(meta table.Metadata, s *table.Snapshot) func(func(*table.Snapshot) bool) {
	return func(yield func(*table.Snapshot) bool) {
		var seen map[int64]bool
		for s != nil {
			if !yield(s) || s.ParentSnapshotID == nil {
				return
			}
			if seen == nil {
				seen = map[int64]bool{}
			}
			seen[s.SnapshotID] = true
			if seen[*s.ParentSnapshotID] {
				return
			}
			s = meta.SnapshotByID(*s.ParentSnapshotID)
		}
	}
}

// offsetsAt reads the offsets of the newest snapshot of the main branch that
// has them.
func offsetsAt(meta table.Metadata) (map[stocklake.TopicPartition]int64, error) {
	for s := range ancestors(meta, meta.CurrentSnapshot()) {
		if s.Summary == nil {
			continue
		}
		if v, ok := s.Summary.Properties[SummaryOffsets]; ok {
			return decodeOffsets(v, s.SnapshotID)
		}
	}
	return map[stocklake.TopicPartition]int64{}, nil
}

func headID(meta table.Metadata) int64 {
	if s := meta.CurrentSnapshot(); s != nil {
		return s.SnapshotID
	}
	return 0
}

// findCommit looks for the snapshot of commitID among the snapshots newer
// than the snapshot base.
func findCommit(meta table.Metadata, commitID string, base int64) *table.Snapshot {
	for s := range ancestors(meta, meta.CurrentSnapshot()) {
		if s.SnapshotID == base {
			return nil
		}
		if s.Summary != nil && s.Summary.Properties[SummaryCommitID] == commitID {
			return s
		}
	}
	return nil
}

// sleep backs off before retry attempt+1: 10 ms doubling up to 1 s, with
// jitter so competing writers spread out.
func sleep(ctx context.Context, attempt int) error {
	d := 10 * time.Millisecond << min(attempt-1, 7)
	d = min(d, time.Second)
	d = d/2 + rand.N(d)
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-tm.C:
		return nil
	}
}

func encodeOffsets(m map[stocklake.TopicPartition]int64) string {
	out := make(map[string]int64, len(m))
	for tp, o := range m {
		out[tp.String()] = o
	}
	b, _ := json.Marshal(out) // keys sorted
	return string(b)
}

func encodeRanges(rs []stocklake.OffsetRange) string {
	out := make(map[string][2]int64, len(rs))
	for _, r := range rs {
		out[r.TopicPartition.String()] = [2]int64{r.Start, r.End}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func parseKey(k string) (stocklake.TopicPartition, error) {
	i := strings.LastIndexByte(k, ':')
	if i <= 0 {
		return stocklake.TopicPartition{}, fmt.Errorf("partition key %q is not TOPICID:PARTITION", k)
	}
	p, err := strconv.ParseInt(k[i+1:], 10, 32)
	if err != nil || p < 0 || strconv.FormatInt(p, 10) != k[i+1:] {
		// Only the form Commit writes: "T:00" or "T:+0" would be another
		// key for partition 0 in one summary.
		return stocklake.TopicPartition{}, fmt.Errorf("partition key %q is not TOPICID:PARTITION", k)
	}
	return stocklake.TopicPartition{TopicID: k[:i], Partition: int32(p)}, nil
}

func decodeOffsets(v string, snapshot int64) (map[stocklake.TopicPartition]int64, error) {
	var raw map[string]int64
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, fmt.Errorf("iceberg: snapshot %d has a malformed %s %q: %v: %w", snapshot, SummaryOffsets, v, err, stocklake.ErrInvalid)
	}
	out := make(map[stocklake.TopicPartition]int64, len(raw))
	for k, o := range raw {
		tp, err := parseKey(k)
		if err != nil || o < 0 {
			return nil, fmt.Errorf("iceberg: snapshot %d has a malformed %s entry %q: %d: %w", snapshot, SummaryOffsets, k, o, stocklake.ErrInvalid)
		}
		out[tp] = o
	}
	return out, nil
}

func decodeRanges(v string, snapshot int64) ([]stocklake.OffsetRange, error) {
	var raw map[string][]int64
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, fmt.Errorf("iceberg: snapshot %d has a malformed %s %q: %v: %w", snapshot, SummaryRanges, v, err, stocklake.ErrInvalid)
	}
	out := make([]stocklake.OffsetRange, 0, len(raw))
	for k, se := range raw {
		tp, err := parseKey(k)
		if err != nil {
			return nil, fmt.Errorf("iceberg: snapshot %d: %s: %v: %w", snapshot, SummaryRanges, err, stocklake.ErrInvalid)
		}
		if len(se) != 2 || se[0] < 0 || se[1] < se[0] {
			// What Commit writes is [start, end] with 0 <= start <= end
			// (checkRanges): anything else would be dropped or misread.
			return nil, fmt.Errorf("iceberg: snapshot %d has a malformed %s entry %q: %v: want [start, end] with 0 <= start <= end: %w", snapshot, SummaryRanges, k, se, stocklake.ErrInvalid)
		}
		out = append(out, stocklake.OffsetRange{TopicPartition: tp, Start: se[0], End: se[1]})
	}
	slices.SortFunc(out, func(a, b stocklake.OffsetRange) int {
		if c := strings.Compare(a.TopicID, b.TopicID); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return out, nil
}

// toSnapshot converts an iceberg-go snapshot.
func toSnapshot(s *table.Snapshot) (stocklake.TableSnapshot, error) {
	if s == nil {
		return stocklake.TableSnapshot{}, fmt.Errorf("iceberg: the table has no snapshot: %w", stocklake.ErrNotFound)
	}
	out := stocklake.TableSnapshot{ID: s.SnapshotID, Time: time.UnixMilli(s.TimestampMs).UTC()}
	if s.ParentSnapshotID != nil {
		out.ParentID = *s.ParentSnapshotID
	}
	if s.Summary == nil {
		return out, nil
	}
	out.Operation = string(s.Summary.Operation)
	out.Summary = make(map[string]string, len(s.Summary.Properties)+1)
	for k, v := range s.Summary.Properties {
		out.Summary[k] = v
	}
	out.Summary["operation"] = out.Operation
	var err error
	if v, ok := s.Summary.Properties[SummaryOffsets]; ok {
		if out.Offsets, err = decodeOffsets(v, s.SnapshotID); err != nil {
			return out, err
		}
	}
	if v, ok := s.Summary.Properties[SummaryRanges]; ok {
		if out.Ranges, err = decodeRanges(v, s.SnapshotID); err != nil {
			return out, err
		}
	}
	return out, nil
}

// ExpireSnapshots drops from the table's metadata the snapshots older than
// olderThan, keeping at least the newest keepLast (at least 1), and always
// the newest snapshot that carries offsets and every snapshot after it, so
// Offsets keeps its answer. Files that no snapshot references any more
// (data files replaced by Rewrite, old manifests) are deleted after the
// commit. It returns how many snapshots were expired. With a snapshot per
// second, expiry keeps the table's metadata file small.
func (t *Table) ExpireSnapshots(ctx context.Context, olderThan time.Duration, keepLast int) (int, error) {
	before, after, err := t.expireSnapshots(ctx, olderThan, keepLast, true)
	if err != nil {
		return 0, err
	}
	return len(before.Metadata().Snapshots()) - len(after.Metadata().Snapshots()), nil
}

// expireSnapshots is ExpireSnapshots; cleanup says whether to delete the
// files no snapshot references any more (iceberg-go reads every manifest
// of every snapshot to find them).
func (t *Table) expireSnapshots(ctx context.Context, olderThan time.Duration, keepLast int, cleanup bool) (before, after *table.Table, err error) {
	keepLast = max(keepLast, 1)
	return t.changeMetadata(ctx, "expiring snapshots", func(tbl *table.Table, txn *table.Transaction) error {
		meta := tbl.Metadata()
		keep, depth := keepLast, 0
		for s := range ancestors(meta, meta.CurrentSnapshot()) {
			depth++
			if s.Summary != nil && s.Summary.Properties[SummaryOffsets] != "" {
				keep = max(keep, depth)
				break
			}
		}
		return txn.ExpireSnapshots(table.WithOlderThan(olderThan), table.WithRetainLast(keep), table.WithPostCommit(cleanup))
	})
}
