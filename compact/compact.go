// Package compact merges the small Parquet objects of closed Hive-table
// partitions into files near a target size, so queries open a few files
// instead of thousands, without a reader through the catalog ever seeing a
// row twice or missing one.
//
// # Which partitions
//
// A catalog partition is compacted when it is closed: its time range, read
// from its dt, year, month, day, hour and minute values (UTC), has ended,
// and every object in it is older than Config.MinAge (a partition without
// time keys is closed once its newest object is older than MinAge). A
// partition any of whose objects a sink manifest (_stocklake/sink/...)
// still lists in a batch is left alone until the sink has committed it:
// the sink may rewrite or delete those keys when it resumes. Objects are
// listed before manifests are read, and the sink writes a batch into its
// manifest before its objects, so an object seen is either in a manifest
// read afterwards or committed. A sink drops a committed batch from its
// manifest only at its next batch of the same Kafka partition, so the
// partition holding a Kafka partition's last batch waits until more data
// arrives on it; with a live stream that is the newest, still open one.
//
// # How (see stocklake.CompactedFolder for the layout)
//
//  1. the compaction is recorded as pending in the table's state
//     (stocklake.CompactionStateKey), with its inputs and new folder;
//  2. the merged objects are written to
//     <table>/_stocklake_compacted/<run>/<partition path>/, rows sorted
//     by (symbol, ts) when the table has those columns, zstd, the inputs'
//     schema (so timestamps stay microseconds), columns of few distinct
//     values dictionary-encoded;
//  3. the catalog partition's location is swapped to that folder with one
//     Catalog.UpdatePartition;
//  4. the state records the inputs as superseded, and Config.Grace later a
//     pass deletes them.
//
// A compactor killed between any two steps leaves readers a correct table:
// before step 3 they read the old objects, after it only the merged ones.
// The next pass finds the pending record and finishes it (the catalog
// already points at the new folder) or, once it is Config.StaleAfter old,
// undoes it (deletes the new folder, which no reader was shown) and
// compacts again.
//
// # Late records
//
// A sink that receives a record for a partition after it was compacted
// writes a new object into the partition's own folder, which the catalog
// no longer points at. Such objects are invisible until the next pass that
// finds them committed and older than MinAge: it merges them with the
// partition's current merged objects into a new folder and swaps again.
// So a late record becomes visible within about MinAge plus one --every
// interval of its commit, and is never counted twice.
//
// One compactor per table at a time. A second one is safe, not useful:
// state writes are conditional (ObjectStore.PutIf), so of two compactors
// that read the same state only one writes it, the other stops with an
// error; and a partition whose compaction another compactor has started is
// left alone until StaleAfter.
package compact

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake"
)

// Defaults of Config.
const (
	DefaultMinAge         = 10 * time.Minute
	DefaultTargetFileSize = 128 << 20
	DefaultGrace          = time.Hour
	DefaultStaleAfter     = time.Hour
	DefaultRowGroupRows   = 1_000_000
)

// ParamCompactionRun is the catalog partition parameter naming the
// compaction run whose merged objects the partition points at.
const ParamCompactionRun = "stocklake_compaction_run"

// Config configures a Compactor. Zero values take the defaults stated.
type Config struct {
	// Database whose tables are compacted. Required.
	Database string
	// Table limits compaction to one table; default every partitioned
	// Parquet (Hive) table of Database located in the lake.
	Table string
	// MinAge is how old every object of a partition must be; default 10m.
	MinAge time.Duration
	// TargetFileSize is the size merged objects are packed to, in bytes
	// of input objects; default 128 MiB. Merging holds about one output
	// file's rows in memory.
	TargetFileSize int64
	// Grace is how long superseded objects stay before they are deleted,
	// so queries planned before a swap can still read them; default 1h.
	// Negative means delete in the same pass.
	Grace time.Duration
	// RowGroupRows caps rows per row group of merged files; default
	// 1,000,000, as the sink.
	RowGroupRows int64
	// SortRunRows is how many rows a merge holds in memory before it
	// spills a sorted run to a temporary file (TMPDIR); default
	// DefaultSortRunRows. It spills sooner when the rows take
	// MaxMemory/8.
	SortRunRows int
	// MaxMemory is the memory a pass is sized for, in bytes: a merge
	// holds rows of up to 1/8 of it before it spills a sorted run; default
	// DefaultMaxMemory (512 MiB), at least MinMaxMemory (64 MiB). Inputs
	// above 16 MiB are read from
	// temporary files, and at most 64 sorted runs are read at once, so a
	// merge's memory does not grow with its bin. The process's Go memory
	// limit is the caller's to set (`stocklake compact --max-memory`).
	MaxMemory int64
	// StaleAfter is how old a pending compaction whose catalog swap was
	// not made must be before a pass undoes it (deletes its merged objects
	// and compacts the partition again); default 1h. Until then the
	// partition is left alone: another compactor may still be writing it,
	// and deleting its objects could make it swap the catalog to nothing.
	// A pending compaction whose swap was made is finished at once.
	StaleAfter time.Duration
	// Log receives progress; default slog.Default().
	Log *slog.Logger
	// Now returns the time; default time.Now.
	Now func() time.Time
	// AfterStep, if set, is called after each step of a partition's
	// compaction: "pending" (recorded in the state), "written" (merged
	// objects written), "swapped" (catalog updated), "superseded" (state
	// updated). A fault-injection hook: the kill tests hold each step so
	// that a SIGKILL lands inside a compaction. Default nil.
	AfterStep func(ctx context.Context, step string)
}

// Stats counts a Compactor's work since it was made.
type Stats struct {
	Passes              atomic.Int64 // table passes finished
	PartitionsCompacted atomic.Int64 // partitions swapped to merged objects
	FilesRewritten      atomic.Int64 // input objects merged
	BytesRewritten      atomic.Int64 // bytes of input objects merged
	FilesWritten        atomic.Int64 // merged objects written
	BytesWritten        atomic.Int64 // bytes of merged objects written
	ObjectsDeleted      atomic.Int64 // superseded objects deleted after the grace
	Skipped             atomic.Int64 // partitions left alone because they are open or in a sink batch
}

// Result summarizes one Run.
type Result struct {
	Tables              int
	PartitionsCompacted int
	FilesRewritten      int
	BytesRewritten      int64
	FilesWritten        int
	ObjectsDeleted      int
	Recovered           int      // pending compactions of killed runs finished or undone
	Skipped             []string // why partitions were left alone, one line each
}

// Compactor compacts the Hive tables of one catalog database in one lake.
type Compactor struct {
	store stocklake.ObjectStore
	cat   stocklake.Catalog
	cfg   Config
	base  string
	stats Stats
	// mstats counts Maintain's work beyond compaction.
	mstats MaintainStats

	// crashAt, set by tests, makes a pass stop with errCrash at a step:
	// "written" (merged objects written, catalog not swapped) or
	// "swapped" (catalog swapped, state not updated).
	crashAt string
}

func (c *Compactor) step(ctx context.Context, name string) error {
	if c.cfg.AfterStep != nil {
		c.cfg.AfterStep(ctx, name)
	}
	if c.crashAt == name {
		return errCrash
	}
	return nil
}

var errCrash = errors.New("compact: simulated crash")

// New returns a Compactor of the tables of cfg.Database in store.
func New(store stocklake.ObjectStore, cat stocklake.Catalog, cfg Config) (*Compactor, error) {
	if store == nil || cat == nil {
		return nil, fmt.Errorf("compact: a lake and a catalog are both required: %w", stocklake.ErrConfig)
	}
	cfg.Database = strings.ToLower(strings.TrimSpace(cfg.Database))
	if cfg.Database == "" {
		return nil, stocklake.SettingErr(fmt.Errorf("compact: no catalog database to compact: %w", stocklake.ErrConfig), "compact.Config.Database")
	}
	if cfg.MinAge <= 0 {
		cfg.MinAge = DefaultMinAge
	}
	if cfg.TargetFileSize <= 0 {
		cfg.TargetFileSize = DefaultTargetFileSize
	}
	if cfg.Grace == 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.Grace < 0 {
		cfg.Grace = 0
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = DefaultStaleAfter
	}
	if cfg.RowGroupRows <= 0 {
		cfg.RowGroupRows = DefaultRowGroupRows
	}
	if cfg.SortRunRows <= 0 {
		cfg.SortRunRows = DefaultSortRunRows
	}
	if cfg.MaxMemory <= 0 {
		cfg.MaxMemory = DefaultMaxMemory
	}
	if cfg.MaxMemory < MinMaxMemory {
		return nil, stocklake.SettingErr(fmt.Errorf("compact: a memory bound of %d bytes is too small to merge files: give at least %d MiB: %w",
			cfg.MaxMemory, MinMaxMemory>>20, stocklake.ErrConfig), "compact.Config.MaxMemory")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Compactor{store: store, cat: cat, cfg: cfg, base: strings.TrimSuffix(store.URL(), "/")}, nil
}

// Stats returns the compactor's counters.
func (c *Compactor) Stats() *Stats { return &c.stats }

// Run makes one pass over the tables: it finishes or undoes compactions
// a killed pass left pending, compacts closed partitions, and deletes
// superseded objects older than the grace.
func (c *Compactor) Run(ctx context.Context) (Result, error) {
	var res Result
	tables, err := c.cat.ListTables(ctx, c.cfg.Database)
	if err != nil {
		return res, fmt.Errorf("compact: listing tables of %s: %w", c.cfg.Database, err)
	}
	found := false
	for _, t := range tables {
		if c.cfg.Table != "" && !strings.EqualFold(t.Name, c.cfg.Table) {
			continue
		}
		found = true
		if t.Format != stocklake.FormatParquet || len(t.PartitionKeys) == 0 || t.IsIceberg() {
			continue
		}
		folder, ok := c.keyOf(t.Location)
		if !ok || folder == "" {
			res.Skipped = append(res.Skipped, fmt.Sprintf("table %s: location %s is not in the lake %s", t.Name, t.Location, c.base))
			continue
		}
		if err := c.table(ctx, t, folder, &res); err != nil {
			return res, err
		}
		res.Tables++
		c.stats.Passes.Add(1)
	}
	if c.cfg.Table != "" && !found {
		return res, fmt.Errorf("compact: table %s.%s: %w", c.cfg.Database, c.cfg.Table, stocklake.ErrNotFound)
	}
	return res, nil
}

// keyOf returns the folder key (ending in '/', or "") of a location URL in
// the lake.
func (c *Compactor) keyOf(loc string) (string, bool) {
	l := strings.TrimSuffix(loc, "/")
	if l == c.base {
		return "", true
	}
	k, ok := strings.CutPrefix(l, c.base+"/")
	if !ok {
		return "", false
	}
	return k + "/", true
}

// tableState is a table's compaction state and the version it was read at.
type tableState struct {
	folder string
	st     *stocklake.CompactionState
	ver    string
}

func (c *Compactor) save(ctx context.Context, ts *tableState) error {
	body, err := json.Marshal(ts.st)
	if err != nil {
		return err
	}
	key := stocklake.CompactionStateKey(ts.folder)
	ver, err := c.store.PutIf(ctx, key, bytes.NewReader(body), ts.ver)
	if errors.Is(err, stocklake.ErrPrecondition) {
		return fmt.Errorf("compact: %s changed under this compactor: is another compactor running on the same table? run one at a time: %w", key, err)
	}
	if err != nil {
		return fmt.Errorf("compact: writing %s: %w", key, err)
	}
	ts.ver = ver
	return nil
}

func (c *Compactor) table(ctx context.Context, t stocklake.Table, folder string, res *Result) error {
	st, ver, err := stocklake.ReadCompactionState(ctx, c.store, folder)
	if err != nil {
		return fmt.Errorf("compact: table %s: %w", t.Name, err)
	}
	ts := &tableState{folder: folder, st: st, ver: ver}
	parts, err := c.cat.ListPartitions(ctx, t.Database, t.Name)
	if err != nil {
		return fmt.Errorf("compact: listing partitions of %s: %w", t.Name, err)
	}
	keys := make([]string, len(t.PartitionKeys))
	for i, k := range t.PartitionKeys {
		keys[i] = k.Name
	}
	// Which state entry a catalog partition belongs to.
	byLoc := map[string]string{}
	for path, p := range st.Partitions {
		if p.Location != "" {
			byLoc[p.Location] = path
		}
		if p.Next != nil {
			byLoc[p.Next.Location] = path
		}
	}
	// One listing of the table's folder, then the sink manifests (in this
	// order: see the package doc), for every partition of the pass.
	objs, err := c.store.List(ctx, folder)
	if err != nil {
		return fmt.Errorf("compact: listing %s: %w", folder, err)
	}
	pending, err := c.sinkKeys(ctx)
	if err != nil {
		return err
	}
	lake := &listing{byFolder: map[string][]stocklake.ObjectInfo{}, pending: pending}
	for _, o := range objs {
		i := strings.LastIndexByte(o.Key, '/')
		lake.byFolder[o.Key[:i+1]] = append(lake.byFolder[o.Key[:i+1]], o)
	}
	for _, p := range parts {
		loc, ok := c.keyOf(p.Location)
		if !ok {
			continue
		}
		path, ok := byLoc[loc]
		if !ok {
			rel, under := strings.CutPrefix(loc, folder)
			if !under || strings.HasPrefix(rel, "_") || strings.HasPrefix(rel, ".") || rel == "" {
				continue
			}
			path = rel
		}
		if err := c.recover(ctx, t, ts, path, p, loc, res); err != nil {
			return err
		}
		if err := c.partition(ctx, t, ts, lake, keys, path, p, loc, res); err != nil {
			return err
		}
	}
	if err := c.collect(ctx, ts, res); err != nil {
		return err
	}
	ts.st.LastRun = c.cfg.Now().UTC()
	return c.save(ctx, ts)
}

// recover finishes a compaction of path a killed pass left pending, or
// undoes it when the catalog was never swapped.
func (c *Compactor) recover(ctx context.Context, t stocklake.Table, ts *tableState, path string, p stocklake.Partition, loc string, res *Result) error {
	e := ts.st.Partitions[path]
	if e == nil || e.Next == nil {
		return nil
	}
	res.Recovered++
	if loc == e.Next.Location {
		c.cfg.Log.Info("finishing a compaction whose catalog swap was made", "table", t.Name, "partition", path, "location", loc)
		c.supersede(e, e.Next.Inputs)
		e.Location, e.Next = loc, nil
		return c.save(ctx, ts)
	}
	if age := c.cfg.Now().Sub(e.Next.Started); age < c.cfg.StaleAfter {
		// Perhaps another compactor is still writing it: deleting its
		// objects now could make it swap the catalog to nothing. The
		// partition waits (see partition).
		res.Recovered--
		return nil
	}
	c.cfg.Log.Info("undoing a compaction that never reached the catalog", "table", t.Name, "partition", path, "folder", e.Next.Location)
	objs, err := c.store.List(ctx, e.Next.Location)
	if err != nil {
		return fmt.Errorf("compact: listing %s: %w", e.Next.Location, err)
	}
	for _, o := range objs {
		if err := c.store.Delete(ctx, o.Key); err != nil {
			return fmt.Errorf("compact: deleting %s: %w", o.Key, err)
		}
	}
	e.Next = nil
	if e.Location == "" && len(e.Superseded) == 0 {
		delete(ts.st.Partitions, path)
	}
	return c.save(ctx, ts)
}

func (c *Compactor) supersede(e *stocklake.CompactedPartition, keys []string) {
	if len(keys) > 0 {
		e.Superseded = append(e.Superseded, stocklake.SupersededObjects{Since: c.cfg.Now().UTC(), Keys: slices.Clone(keys)})
	}
}

// dataObject reports whether an object directly in folder is a data file
// readers count: not in a subfolder, not hidden ('.' or '_'), not empty.
func dataObject(folder string, o stocklake.ObjectInfo) bool {
	rest := strings.TrimPrefix(o.Key, folder)
	return rest != "" && !strings.Contains(rest, "/") && o.Size > 0 &&
		!strings.HasPrefix(rest, ".") && !strings.HasPrefix(rest, "_") &&
		!strings.HasSuffix(rest, ".crc") && !strings.HasSuffix(rest, "_$folder$")
}

func (c *Compactor) skip(res *Result, t stocklake.Table, path, why string) {
	c.stats.Skipped.Add(1)
	res.Skipped = append(res.Skipped, fmt.Sprintf("%s %s: %s", t.Name, strings.TrimSuffix(path, "/"), why))
}

// listing is a pass's view of a table folder: its objects by folder, and
// the keys sink manifests list, read after the objects were listed.
type listing struct {
	byFolder map[string][]stocklake.ObjectInfo
	pending  map[string]bool
}

// partition compacts one catalog partition if it is closed.
func (c *Compactor) partition(ctx context.Context, t stocklake.Table, ts *tableState, lake *listing, keys []string, path string, p stocklake.Partition, loc string, res *Result) error {
	now := c.cfg.Now()
	e := ts.st.Partitions[path]
	own := ts.folder + path
	if e != nil && e.Next != nil {
		c.skip(res, t, path, fmt.Sprintf("a compaction started %s is pending: another compactor is running it, or it was killed and is undone once %s old", e.Next.Started.Format(time.RFC3339), c.cfg.StaleAfter))
		return nil
	}
	if end, ok := timeRangeEnd(keys, p.Values); ok && now.Before(end) {
		c.skip(res, t, path, "open: its time range ends "+end.Format(time.RFC3339))
		return nil
	}
	listed := lake.byFolder[own]
	hidden := map[string]bool{}
	if e != nil {
		for _, s := range e.Superseded {
			for _, k := range s.Keys {
				hidden[k] = true
			}
		}
	}
	var fresh, inputs []stocklake.ObjectInfo
	for _, o := range listed {
		if dataObject(own, o) && !hidden[o.Key] {
			fresh = append(fresh, o)
		}
	}
	if e != nil && e.Location != "" && loc == own && len(fresh) == 0 {
		// The catalog points at the partition's own folder again (the
		// partition was re-added, e.g. by an older crawler), whose objects
		// the merged ones replaced: point it back at them before those
		// objects are deleted.
		np := p
		np.Location = c.base + "/" + e.Location
		if err := c.cat.UpdatePartition(ctx, t.Database, t.Name, np); err != nil {
			return fmt.Errorf("compact: pointing partition %s of %s back at its merged objects: %w", path, t.Name, err)
		}
		c.cfg.Log.Warn("partition pointed at its superseded objects; pointed back at its merged ones", "table", t.Name, "partition", strings.TrimSuffix(path, "/"), "location", np.Location)
		return nil
	}
	if len(fresh) == 0 {
		return nil // nothing new since the last compaction
	}
	if e != nil && e.Location != "" {
		// The catalog points at the merged folder, or (re-added) at the
		// partition's own folder: either way the merged objects and the
		// new ones are merged together.
		if loc != e.Location && loc != own {
			c.skip(res, t, path, "the catalog points at "+p.Location+", not at its merged folder; left alone")
			return nil
		}
		for _, o := range lake.byFolder[e.Location] {
			if dataObject(e.Location, o) {
				inputs = append(inputs, o)
			}
		}
	} else if len(fresh) < 2 {
		return nil // one object: nothing to merge
	}
	inputs = append(inputs, fresh...)
	for _, o := range fresh {
		if age := now.Sub(o.ModTime); age < c.cfg.MinAge {
			c.skip(res, t, path, fmt.Sprintf("%s is only %s old (min age %s)", o.Key, age.Round(time.Second), c.cfg.MinAge))
			return nil
		}
	}
	for _, o := range fresh {
		if lake.pending[o.Key] {
			c.skip(res, t, path, o.Key+" is in a sink batch not known to be committed")
			return nil
		}
	}

	// 2. Record the compaction as pending, then write the merged objects.
	run := newRunID(now)
	next := &stocklake.PendingCompaction{Location: ts.folder + stocklake.CompactedFolder + "/" + run + "/" + path, Started: now.UTC()}
	for _, o := range inputs {
		next.Inputs = append(next.Inputs, o.Key)
	}
	if e == nil {
		e = &stocklake.CompactedPartition{}
		ts.st.Partitions[path] = e
	}
	e.Next = next
	if err := c.save(ctx, ts); err != nil {
		return err
	}
	if err := c.step(ctx, "pending"); err != nil {
		return err
	}
	written, wbytes, err := c.merge(ctx, inputs, next.Location)
	if err != nil {
		return fmt.Errorf("compact: merging %s of %s: %w", path, t.Name, err)
	}
	if err := c.step(ctx, "written"); err != nil {
		return err
	}

	// 3. Swap the catalog partition to the merged objects.
	np := p
	np.Parameters = maps.Clone(p.Parameters)
	if np.Parameters == nil {
		np.Parameters = map[string]string{}
	}
	np.Parameters[ParamCompactionRun] = run
	np.Location = c.base + "/" + next.Location
	if err := c.cat.UpdatePartition(ctx, t.Database, t.Name, np); err != nil {
		return fmt.Errorf("compact: swapping partition %s of %s to its merged objects: %w", path, t.Name, err)
	}
	if err := c.step(ctx, "swapped"); err != nil {
		return err
	}

	// 4. The inputs are superseded.
	c.supersede(e, next.Inputs)
	e.Location, e.Next = next.Location, nil
	var inBytes int64
	for _, o := range inputs {
		inBytes += o.Size
	}
	ts.st.FilesRewritten += int64(len(inputs))
	ts.st.BytesRewritten += inBytes
	if err := c.save(ctx, ts); err != nil {
		return err
	}
	if err := c.step(ctx, "superseded"); err != nil {
		return err
	}
	c.stats.PartitionsCompacted.Add(1)
	c.stats.FilesRewritten.Add(int64(len(inputs)))
	c.stats.BytesRewritten.Add(inBytes)
	c.stats.FilesWritten.Add(int64(written))
	c.stats.BytesWritten.Add(wbytes)
	res.PartitionsCompacted++
	res.FilesRewritten += len(inputs)
	res.BytesRewritten += inBytes
	res.FilesWritten += written
	c.cfg.Log.Info("partition compacted", "table", t.Name, "partition", strings.TrimSuffix(path, "/"),
		"files", len(inputs), "bytes", inBytes, "merged_files", written, "merged_bytes", wbytes, "location", np.Location)
	return nil
}

// collect deletes superseded objects older than the grace.
func (c *Compactor) collect(ctx context.Context, ts *tableState, res *Result) error {
	now := c.cfg.Now()
	for _, e := range ts.st.Partitions {
		keep := e.Superseded[:0]
		for _, s := range e.Superseded {
			if now.Sub(s.Since) < c.cfg.Grace {
				keep = append(keep, s)
				continue
			}
			for _, k := range s.Keys {
				if err := c.store.Delete(ctx, k); err != nil {
					return fmt.Errorf("compact: deleting superseded %s: %w", k, err)
				}
				c.stats.ObjectsDeleted.Add(1)
				res.ObjectsDeleted++
			}
		}
		e.Superseded = keep
		if len(e.Superseded) == 0 {
			e.Superseded = nil
		}
	}
	return nil
}

// sinkKeys returns the keys listed in any batch of any sink manifest
// (_stocklake/sink/<table>/<topic id>/<partition>.json): objects a sink may
// still rewrite or delete. Batches the sink has committed but not yet
// dropped from its manifest are included too; they only delay compaction.
func (c *Compactor) sinkKeys(ctx context.Context) (map[string]bool, error) {
	objs, err := c.store.List(ctx, "_stocklake/sink/")
	if err != nil {
		return nil, fmt.Errorf("compact: listing sink manifests: %w", err)
	}
	keys := map[string]bool{}
	for _, o := range objs {
		rel := strings.TrimPrefix(o.Key, "_stocklake/sink/")
		if strings.Count(rel, "/") != 2 || !strings.HasSuffix(rel, ".json") {
			continue
		}
		body, _, err := c.store.GetVersion(ctx, o.Key)
		if errors.Is(err, stocklake.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("compact: reading sink manifest %s: %w", o.Key, err)
		}
		var m struct {
			Batches []struct {
				Keys []string `json:"keys"`
			} `json:"batches"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("compact: sink manifest %s is not valid JSON (%v); the sink stops on it too, fix it first: %w", o.Key, err, stocklake.ErrInvalid)
		}
		for _, b := range m.Batches {
			for _, k := range b.Keys {
				keys[k] = true
			}
		}
	}
	return keys, nil
}

func newRunID(t time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// timeRangeEnd returns when the time range of a partition ends, from its
// dt (YYYY-MM-DD), year, month, day, hour and minute values, and false when
// they do not fix one (no time keys, or values that do not parse).
func timeRangeEnd(keys, values []string) (time.Time, bool) {
	get := map[string]string{}
	for i, k := range keys {
		if i < len(values) {
			get[strings.ToLower(k)] = values[i]
		}
	}
	// num parses key k's value, all digits in [lo, hi]: the value, whether
	// the key is there, and whether it parsed.
	num := func(k string, lo, hi int) (int, bool, bool) {
		v, ok := get[k]
		if !ok {
			return 0, false, true
		}
		n, err := strconv.Atoi(v)
		if err != nil || strings.ContainsAny(v, "+-") || n < lo || n > hi {
			return 0, true, false
		}
		return n, true, true
	}
	var y, mo, d int
	var hasY, hasMo, hasD bool
	if dt, ok := get["dt"]; ok {
		t, err := time.Parse("2006-01-02", dt)
		if err != nil {
			return time.Time{}, false
		}
		y, mo, d, hasY, hasMo, hasD = t.Year(), int(t.Month()), t.Day(), true, true, true
	} else {
		var ok bool
		if y, hasY, ok = num("year", 0, 9999); !ok {
			return time.Time{}, false
		}
		if mo, hasMo, ok = num("month", 1, 12); !ok {
			return time.Time{}, false
		}
		if d, hasD, ok = num("day", 1, 31); !ok {
			return time.Time{}, false
		}
	}
	h, hasH, okH := num("hour", 0, 23)
	mi, hasMi, okMi := num("minute", 0, 59)
	if !okH || !okMi || !hasY || (hasD && !hasMo) || (hasH && !hasD) || (hasMi && !hasH) {
		return time.Time{}, false
	}
	if !hasMo {
		mo = 1
	}
	if !hasD {
		d = 1
	}
	start := time.Date(y, time.Month(mo), d, h, mi, 0, 0, time.UTC)
	switch {
	case hasMi:
		return start.Add(time.Minute), true
	case hasH:
		return start.Add(time.Hour), true
	case hasD:
		return start.AddDate(0, 0, 1), true
	case hasMo:
		return start.AddDate(0, 1, 0), true
	}
	return start.AddDate(1, 0, 0), true
}

// merge writes the rows of inputs to objects under folder, packed to the
// target size, each sorted by (symbol, ts) when those columns exist.
// Inputs whose schemas differ go to different objects. One input at a
// time is read (see openInput), into a sorter that holds at most
// Config.SortRunRows rows (or MaxMemory/8 of them).
func (c *Compactor) merge(ctx context.Context, inputs []stocklake.ObjectInfo, folder string) (int, int64, error) {
	var (
		s       *sorter
		parts   []stocklake.BatchPart // the sink's batch records of the bin's inputs
		binSize int64
		n       int
		total   int64
	)
	defer func() {
		if s != nil {
			s.close()
		}
	}()
	flush := func() error {
		if s == nil {
			return nil
		}
		// The merged object carries the sink's batch records of its
		// inputs, so `stocklake verify` still proves the table complete.
		var opts []parquet.WriterOption
		if len(parts) > 0 {
			opts = append(opts, parquet.KeyValueMetadata(stocklake.ParquetKeyBatches, stocklake.EncodeBatchParts(parts)))
		}
		size, err := c.putSorted(ctx, s, fmt.Sprintf("%spart-%05d.parquet", folder, n), opts...)
		s.close()
		s, parts, binSize = nil, nil, 0
		if err != nil {
			return err
		}
		n++
		total += size
		return nil
	}
	for _, o := range inputs {
		in, err := c.openInput(ctx, o.Key, o.Size)
		if errors.Is(err, stocklake.ErrInvalid) {
			return n, total, fmt.Errorf("%w; move it out of the partition folder", err)
		}
		if err != nil {
			return n, total, err
		}
		if s != nil && (!parquet.EqualNodes(s.schema, in.file.Schema()) || binSize+o.Size > c.cfg.TargetFileSize) {
			if err := flush(); err != nil {
				in.release()
				return n, total, err
			}
		}
		if s == nil {
			s = c.newSorter(in.file.Schema())
		}
		if v, ok := in.file.Lookup(stocklake.ParquetKeyBatches); ok {
			p, err := stocklake.DecodeBatchParts(v)
			if err != nil {
				in.release()
				return n, total, fmt.Errorf("merging %s: %w", o.Key, err)
			}
			parts = append(parts, p...)
		}
		if err := s.addInput(in); err != nil {
			return n, total, fmt.Errorf("%s: %w", o.Key, err)
		}
		binSize += o.Size
	}
	if err := flush(); err != nil {
		return n, total, err
	}
	return n, total, nil
}

// newSorter is a sorter of rows of schema with the compactor's run size.
func (c *Compactor) newSorter(schema *parquet.Schema) *sorter {
	s := newSorter(schema, c.cfg.SortRunRows, c.cfg.RowGroupRows)
	s.runBytes = c.cfg.MaxMemory / sortRunShare
	return s
}

// inputInMemory is the largest input a merge reads into memory: a larger
// one (an earlier merged file) is copied to a temporary file and read from
// there, so a merge holds at most this much of its inputs' bytes.
const inputInMemory = 16 << 20

// input is an input file of a merge, opened.
type input struct {
	file    *parquet.File
	onDisk  bool   // in a temporary file (larger than inputInMemory)
	release func() // frees its memory or removes its temporary file
}

// openInput opens the Parquet object key, size bytes as listed, for a
// merge: read into memory up to inputInMemory, else copied to a temporary
// file (TMPDIR). A body that is not Parquet wraps stocklake.ErrInvalid.
func (c *Compactor) openInput(ctx context.Context, key string, size int64) (*input, error) {
	rc, err := c.store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	defer rc.Close()
	in := &input{release: func() {}}
	var (
		body io.ReaderAt
		n    int64
	)
	if size <= inputInMemory {
		var buf bytes.Buffer
		buf.Grow(int(max(size, 0)) + bytes.MinRead)
		if _, err := buf.ReadFrom(rc); err != nil {
			return nil, fmt.Errorf("reading %s: %w", key, err)
		}
		body, n = bytes.NewReader(buf.Bytes()), int64(buf.Len())
	} else {
		tmp, err := os.CreateTemp("", "stocklake-compact-input-*.parquet")
		if err != nil {
			return nil, fmt.Errorf("creating a temporary file for %s (set TMPDIR to a folder with space): %w", key, err)
		}
		in.onDisk = true
		in.release = func() {
			tmp.Close()
			os.Remove(tmp.Name())
		}
		if n, err = io.Copy(tmp, rc); err != nil {
			in.release()
			return nil, fmt.Errorf("reading %s: %w", key, err)
		}
		body = tmp
	}
	if in.file, err = parquet.OpenFile(body, n); err != nil {
		in.release()
		return nil, fmt.Errorf("%s is not a Parquet file (%v): %w", key, err, stocklake.ErrInvalid)
	}
	return in, nil
}

// putSorted writes the sorter's rows (with writer options opts) to a
// temporary file, then to key.
func (c *Compactor) putSorted(ctx context.Context, s *sorter, key string, opts ...parquet.WriterOption) (int64, error) {
	tmp, err := os.CreateTemp("", "stocklake-compact-*.parquet")
	if err != nil {
		return 0, fmt.Errorf("creating a temporary file for %s (set TMPDIR to a folder with space): %w", key, err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	if _, err := s.write(tmp, opts...); err != nil {
		return 0, fmt.Errorf("encoding %s: %w", key, err)
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, fmt.Errorf("encoding %s: %w", key, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("encoding %s: %w", key, err)
	}
	if err := c.store.Put(ctx, key, tmp); err != nil {
		return 0, fmt.Errorf("writing %s: %w", key, err)
	}
	return size, nil
}
