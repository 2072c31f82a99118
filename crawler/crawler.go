// Package crawler turns the objects of a lake into catalog tables, as an AWS
// Glue crawler does: it classifies objects (Parquet by footer, JSON, CSV/TSV,
// gzip- or zstd-compressed), infers their schemas from footers and samples,
// discovers Hive-style key=value and plain folder partitions, groups
// compatible files into one table per dataset rather than one per folder,
// and writes tables and partitions to a stocklake.Catalog under a
// schema-change and a delete policy. It can crawl only folders it has not
// seen before, and records each run in the catalog's crawl history when the
// catalog implements stocklake.CrawlLog.
//
// # Where tables start
//
// By default (Config.TableLevel 0) a folder with key=value subfolders is a
// table and those are its partitions; otherwise each top-level folder whose
// files share a format and a compatible schema is a table, its plain
// subfolders becoming partitions partition_0, partition_1, ... A folder
// whose subfolders disagree (another format, or less than
// Config.Similarity column-name overlap) is split: each subfolder is tried
// as a table of its own, named after it. Files directly under the crawled
// location form a table named after the location. Config.TableLevel fixes
// the level instead.
//
// # Types
//
// Parquet columns map from their logical types: STRING -> string,
// INT32 -> int, INT64 -> bigint, INT64 TIMESTAMP -> timestamp, DATE -> date,
// DOUBLE -> double, DECIMAL -> decimal(p,s), lists -> array<T>,
// groups -> struct<...>, maps -> map<K,V>. JSON and CSV columns are
// inferred from samples and widened across records and files:
// int < bigint < double < string; strings become date or timestamp only when
// every sampled value parses as one; nested JSON becomes struct and array,
// with fields merged. A boolean mixed with numbers widens to string, which
// every SerDe reads. Partition keys are always string: values such as
// dt=2026-11-26 or hour=07 compare as written, which is the safest choice
// for Athena and Trino (cast in queries where a number or date is needed).
//
// Names are lower-cased as Glue does. JSON keys that are not valid
// identifiers ("Adj Close") become adj_close, with an OpenX SerDe
// "mapping.adj_close" parameter so Athena and Trino still find the key.
package crawler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/stocklake/stocklake"
)

// SchemaChangePolicy says what a crawl does when a table's schema changed.
type SchemaChangePolicy string

// Schema-change policies.
const (
	// UpdateSchema updates the table, keeping the old definition as a
	// schema version (Glue's UPDATE_IN_DATABASE).
	UpdateSchema SchemaChangePolicy = "update"
	// LogSchema leaves the table definition alone and reports the change
	// in CrawlRun.Messages (Glue's LOG). New partitions are still added.
	LogSchema SchemaChangePolicy = "log"
)

// DeletePolicy says what a crawl does with partitions, and tables it
// created, whose folders have disappeared from the lake.
type DeletePolicy string

// Delete policies.
const (
	// DeleteMissing deletes them from the catalog (Glue's DELETE_FROM_DATABASE).
	DeleteMissing DeletePolicy = "delete"
	// MarkMissing keeps them and sets the DEPRECATED_BY_CRAWLER parameter
	// (Glue's DEPRECATE_IN_DATABASE); it is cleared if the folder comes back.
	MarkMissing DeletePolicy = "mark"
	// LogMissing only reports them in CrawlRun.Messages (Glue's LOG).
	LogMissing DeletePolicy = "log"
)

// Defaults of Config.
const (
	DefaultSampleRecords = 1000
	DefaultSampleBytes   = 1 << 20
	DefaultConcurrency   = 16
	DefaultSimilarity    = 0.7
	DefaultName          = "stocklake"
)

// DefaultExclude are the globs (doublestar syntax, matched against keys
// relative to the lake) that every crawl skips: stocklake's own state, query
// results, and the files Hadoop, Spark, Athena and Trino treat as hidden:
// names starting with '.' or '_' (temporary files such as .tmp-*, _SUCCESS,
// _temporary/), checksum files and S3 console folder markers.
var DefaultExclude = []string{
	"_stocklake/**",
	"query-results/**",
	"**/.*",
	"**/.*/**",
	"**/_*",
	"**/_*/**",
	"**/*.crc",
	"**/*_$folder$",
}

// Progress reports how far a crawl has got.
type Progress struct {
	Phase  string // "list", "read", "catalog"
	Listed int    // objects listed
	ToRead int    // objects whose footer or sample will be read
	Read   int    // objects read so far
}

// Config configures a Crawler.
type Config struct {
	// Database receives the tables; it is created if missing. Required.
	Database string
	// Prefix limits the crawl to keys under it (a folder, e.g. "ticks/");
	// default the whole lake.
	Prefix string
	// TableLevel is the folder depth at which tables start, counted as AWS
	// Glue does: 1 makes the crawled location itself one table, 2 each
	// top-level folder, and so on. Default 0: decided from the layout (see
	// the package documentation).
	TableLevel int
	// TablePrefix is prepended to the names of new tables; default none.
	TablePrefix string
	// SchemaChangePolicy applies when an existing table's schema changed;
	// default UpdateSchema.
	SchemaChangePolicy SchemaChangePolicy
	// DeletePolicy applies to partitions, and to tables the crawler
	// created, whose folders are gone; default MarkMissing, as in Glue.
	DeletePolicy DeletePolicy
	// Incremental reads only folders that earlier crawls have not read;
	// objects under existing tables join them as partitions. Default false:
	// every object is read and the layout decided afresh.
	Incremental bool
	// SampleRecords is how many records of a JSON or CSV file are sampled;
	// default 1000.
	SampleRecords int
	// SampleBytes is how many (uncompressed) bytes of a JSON or CSV file
	// are sampled; default 1 MiB.
	SampleBytes int64
	// Exclude lists more globs to skip, on top of DefaultExclude.
	Exclude []string
	// Concurrency is how many objects are read at once; default 16.
	Concurrency int
	// Similarity is the share of column names that sibling folders must
	// have in common to be one table; default 0.7, as in Glue.
	Similarity float64
	// Name identifies the crawler in the UPDATED_BY_CRAWLER table
	// parameter; default "stocklake". Only tables carrying it are ever
	// deleted or marked.
	Name string
	// Progress, when set, is called as the crawl advances, from one
	// goroutine at a time.
	Progress func(Progress)
	// Projection gives the tables the crawler creates or updates, when
	// partitioned by dt or dt,hour, Athena partition projection properties
	// (hive.ProjectionParameters, dates from the earliest dt found) instead
	// of registering their partitions. Default false. Tables that already
	// use projection are always kept as they are: no partitions are added
	// or removed and the properties stay.
	Projection bool
	// Iceberg registers the Iceberg tables the crawl finds (folders with
	// metadata/*.metadata.json), which are never crawled as Hive tables.
	// Default nil: they are skipped with a message.
	Iceberg stocklake.IcebergRegistrar
}

// Crawler crawls one lake location into one catalog database. Run may be
// called repeatedly (e.g. on a schedule), but not concurrently.
type Crawler struct {
	store stocklake.ObjectStore
	cat   stocklake.Catalog
	cfg   Config

	root    string // crawled key prefix, "" or ending in '/'
	base    string // store URL without a trailing '/'
	lakeURL string // base plus root
	exclude []string

	mu       sync.Mutex
	progress Progress
}

// New returns a crawler of store into cat. It checks the configuration and
// fills in defaults; problems wrap stocklake.ErrConfig.
func New(store stocklake.ObjectStore, cat stocklake.Catalog, cfg Config) (*Crawler, error) {
	if store == nil || cat == nil {
		return nil, fmt.Errorf("crawler: a lake and a catalog are both required: %w", stocklake.ErrConfig)
	}
	cfg.Database = strings.ToLower(strings.TrimSpace(cfg.Database))
	if cfg.Database == "" {
		return nil, stocklake.SettingErr(fmt.Errorf("crawler: no database: name the catalog database to crawl into: %w", stocklake.ErrConfig), "crawler.Config.Database")
	}
	if cfg.TableLevel < 0 {
		return nil, fmt.Errorf("crawler: table level %d: want 0 (auto) or a folder depth >= 1: %w", cfg.TableLevel, stocklake.ErrConfig)
	}
	switch cfg.SchemaChangePolicy {
	case "":
		cfg.SchemaChangePolicy = UpdateSchema
	case UpdateSchema, LogSchema:
	default:
		return nil, fmt.Errorf("crawler: schema change policy %q: want update or log: %w", cfg.SchemaChangePolicy, stocklake.ErrConfig)
	}
	switch cfg.DeletePolicy {
	case "":
		cfg.DeletePolicy = MarkMissing
	case DeleteMissing, MarkMissing, LogMissing:
	default:
		return nil, fmt.Errorf("crawler: delete policy %q: want delete, mark or log: %w", cfg.DeletePolicy, stocklake.ErrConfig)
	}
	if cfg.SampleRecords <= 0 {
		cfg.SampleRecords = DefaultSampleRecords
	}
	if cfg.SampleBytes <= 0 {
		cfg.SampleBytes = DefaultSampleBytes
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Similarity <= 0 || cfg.Similarity > 1 {
		cfg.Similarity = DefaultSimilarity
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	c := &Crawler{store: store, cat: cat, cfg: cfg}
	c.exclude = slices.Concat(DefaultExclude, cfg.Exclude)
	for _, g := range c.exclude {
		if !doublestar.ValidatePattern(g) {
			return nil, fmt.Errorf("crawler: exclude pattern %q is not a valid glob: %w", g, stocklake.ErrConfig)
		}
	}
	c.root = strings.Trim(cfg.Prefix, "/")
	if c.root != "" {
		c.root += "/"
	}
	c.base = strings.TrimSuffix(store.URL(), "/")
	c.lakeURL = c.base
	if c.root != "" {
		c.lakeURL += "/" + strings.TrimSuffix(c.root, "/")
	}
	return c, nil
}

// LakeURL is the crawled location: the lake's URL plus Config.Prefix.
func (c *Crawler) LakeURL() string { return c.lakeURL }

// excluded reports whether a key matches an exclude glob, relative to the
// lake or to the crawled prefix.
func (c *Crawler) excluded(key string) bool {
	rel := strings.TrimPrefix(key, c.root)
	for _, g := range c.exclude {
		if ok, _ := doublestar.Match(g, key); ok {
			return true
		}
		if rel != key {
			if ok, _ := doublestar.Match(g, rel); ok {
				return true
			}
		}
	}
	return false
}

// location is the URL of a folder key ("" or ending in '/').
func (c *Crawler) location(folder string) string { return c.base + "/" + folder }

// folderOf returns the folder key of a location URL under the lake, and
// false for locations elsewhere.
func (c *Crawler) folderOf(loc string) (string, bool) {
	if !strings.HasPrefix(loc, c.base+"/") {
		return "", false
	}
	f := strings.TrimPrefix(loc, c.base+"/")
	if f != "" && !strings.HasSuffix(f, "/") {
		f += "/"
	}
	return f, strings.HasPrefix(f, c.root)
}

func (c *Crawler) report(update func(p *Progress)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	update(&c.progress)
	if c.cfg.Progress != nil {
		c.cfg.Progress(c.progress)
	}
}

func newRunID(t time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return t.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:])
}

// maxMessages bounds CrawlRun.Messages.
const maxMessages = 200

// crawl is the state of one run.
type crawl struct {
	*Crawler
	run     *stocklake.CrawlRun
	dropped int // messages over maxMessages

	files   []*fileInfo     // listed, not excluded, non-empty
	present map[string]bool // every folder holding a non-excluded object, at any depth
	known   map[string]bool // folders read by earlier crawls (incremental)
	// relocated maps the folder of a compacted partition to the folder of
	// its merged objects, the location it gets in the catalog.
	relocated map[string]string
	all       []stocklake.Table // existing tables of the database
	tables    []stocklake.Table // those located under the crawled location, Iceberg tables left out
	// iceberg maps the folders of Iceberg tables to their newest metadata
	// file.
	iceberg map[string]stocklake.ObjectInfo
}

func (r *crawl) note(format string, args ...any) {
	if len(r.run.Messages) >= maxMessages {
		r.dropped++
		return
	}
	r.run.Messages = append(r.run.Messages, fmt.Sprintf(format, args...))
}

// Run crawls once and returns its summary, which it also records in the
// catalog's crawl history when the catalog is a stocklake.CrawlLog. A run
// that fails returns the summary so far with Error set.
func (c *Crawler) Run(ctx context.Context) (stocklake.CrawlRun, error) {
	start := time.Now().UTC()
	run := stocklake.CrawlRun{ID: newRunID(start), Database: c.cfg.Database, LakeURL: c.lakeURL, Start: start}
	c.progress = Progress{}
	r := &crawl{Crawler: c, run: &run}
	err := r.do(ctx)
	if r.dropped > 0 {
		run.Messages = append(run.Messages, fmt.Sprintf("... and %d more messages", r.dropped))
	}
	run.End = time.Now().UTC()
	if err != nil {
		run.Error = err.Error()
	}
	if log, ok := c.cat.(stocklake.CrawlLog); ok {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if lerr := log.RecordCrawl(rctx, run); lerr != nil && err == nil {
			err = fmt.Errorf("crawler: recording the crawl: %w", lerr)
			run.Error = err.Error()
		}
	}
	return run, err
}

func (r *crawl) do(ctx context.Context) error {
	if err := r.ensureDatabase(ctx); err != nil {
		return err
	}
	if err := r.list(ctx); err != nil {
		return err
	}
	if err := r.registerIceberg(ctx); err != nil {
		return err
	}
	existing, err := r.cat.ListTables(ctx, r.cfg.Database)
	if err != nil {
		return fmt.Errorf("crawler: listing tables of %s: %w", r.cfg.Database, err)
	}
	r.all = existing
	for _, t := range existing {
		// An Iceberg table's files are what its metadata says, not what
		// its folder holds: never a Hive table to update or drop.
		f, ok := r.folderOf(t.Location)
		switch {
		case ok && t.IsIceberg():
			r.skipIcebergFolder(f)
		case ok:
			r.tables = append(r.tables, t)
		}
	}
	if r.cfg.Incremental {
		if err := r.loadKnown(ctx); err != nil {
			return err
		}
	}
	if err := r.read(ctx); err != nil {
		return err
	}
	r.report(func(p *Progress) { p.Phase = "catalog" })
	cands := r.plan()
	if err := r.apply(ctx, cands); err != nil {
		return err
	}
	return r.saveState(ctx)
}

func (r *crawl) ensureDatabase(ctx context.Context) error {
	_, err := r.cat.GetDatabase(ctx, r.cfg.Database)
	if err == nil {
		return nil
	}
	if !errors.Is(err, stocklake.ErrNotFound) {
		return fmt.Errorf("crawler: reading database %s: %w", r.cfg.Database, err)
	}
	err = r.cat.CreateDatabase(ctx, stocklake.Database{
		Name:        r.cfg.Database,
		Description: "created by stocklake crawl of " + r.lakeURL,
		LocationURI: r.lakeURL,
	})
	if err != nil && !errors.Is(err, stocklake.ErrExists) {
		return fmt.Errorf("crawler: creating database %s: %w", r.cfg.Database, err)
	}
	return nil
}

// list lists the crawled location once.
func (r *crawl) list(ctx context.Context) error {
	r.report(func(p *Progress) { p.Phase = "list" })
	objs, err := r.store.List(ctx, r.root)
	if err != nil {
		return fmt.Errorf("crawler: listing %s: %w", r.lakeURL, err)
	}
	r.run.FilesListed = len(objs)
	r.present = map[string]bool{}
	// Compacted partitions (see stocklake.CompactedFolder): the objects
	// merged ones replaced are not counted, and the merged objects stand
	// for their partition's own folder.
	view, err := stocklake.LoadCompactionView(ctx, r.store, "")
	if err != nil {
		return fmt.Errorf("crawler: %w", err)
	}
	r.relocated = view.Current
	for f := range view.InUse {
		r.present[f] = true
	}
	for _, o := range objs {
		folder := ""
		if i := strings.LastIndexByte(o.Key, '/'); i >= 0 {
			folder = o.Key[:i+1]
		}
		own, merged := view.Relocated[folder]
		name := strings.TrimPrefix(o.Key, folder)
		if merged && !strings.HasPrefix(name, "_") && !strings.HasPrefix(name, ".") && o.Size > 0 {
			folder = own
		} else if strings.HasSuffix(o.Key, "/") || o.Size == 0 || view.Hidden[o.Key] || r.excluded(o.Key) {
			r.run.FilesSkipped++
			continue
		}
		r.files = append(r.files, &fileInfo{ObjectInfo: o, folder: folder})
		for f := folder; f != "" && !r.present[f]; {
			r.present[f] = true
			f = parentFolder(f)
		}
	}
	r.present[""] = len(r.files) > 0
	r.findIceberg()
	r.report(func(p *Progress) { p.Listed = len(objs) })
	return nil
}

// parentFolder returns the folder above f ("a/b/" -> "a/", "a/" -> "").
func parentFolder(f string) string {
	f = strings.TrimSuffix(f, "/")
	if i := strings.LastIndexByte(f, '/'); i >= 0 {
		return f[:i+1]
	}
	return ""
}

// loadKnown loads the folders earlier crawls have read: the catalog's crawl
// state, or without one the folders of registered partitions and
// unpartitioned tables.
func (r *crawl) loadKnown(ctx context.Context) error {
	r.known = map[string]bool{}
	if log, ok := r.cat.(stocklake.CrawlLog); ok {
		st, err := log.CrawlState(ctx, r.cfg.Database, r.lakeURL)
		if errors.Is(err, stocklake.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("crawler: reading the state of earlier crawls: %w", err)
		}
		for _, f := range st.Folders {
			r.known[f] = true
		}
		return nil
	}
	for _, t := range r.tables {
		if len(t.PartitionKeys) == 0 {
			if f, ok := r.folderOf(t.Location); ok {
				r.known[f] = true
			}
			continue
		}
		parts, err := r.cat.ListPartitions(ctx, t.Database, t.Name)
		if err != nil {
			return fmt.Errorf("crawler: listing partitions of %s: %w", t.Name, err)
		}
		for _, p := range parts {
			if f, ok := r.folderOf(p.Location); ok {
				r.known[f] = true
			}
		}
	}
	return nil
}

// read classifies, with a bounded pool of workers, every object that needs
// reading.
func (r *crawl) read(ctx context.Context) error {
	// A folder read before is skipped only while a table still covers it,
	// so deleting a table from the catalog lets the next crawl rebuild it.
	var covered []string
	for _, t := range r.tables {
		if f, ok := r.folderOf(t.Location); ok {
			covered = append(covered, f)
		}
	}
	var todo []*fileInfo
	for _, f := range r.files {
		if r.known[f.folder] && slices.ContainsFunc(covered, func(t string) bool { return strings.HasPrefix(f.folder, t) }) {
			continue
		}
		todo = append(todo, f)
	}
	r.run.FilesSkipped += len(r.files) - len(todo)
	r.report(func(p *Progress) { p.Phase, p.ToRead = "read", len(todo) })

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan *fileInfo)
	var wg sync.WaitGroup
	for range min(r.cfg.Concurrency, max(len(todo), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				if err := r.classify(ctx, f); err != nil {
					cancel(err)
					return
				}
				r.report(func(p *Progress) { p.Read++ })
			}
		}()
	}
feed:
	for _, f := range todo {
		select {
		case jobs <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("crawler: reading objects: %w", err)
	}

	var unknown, failed []*fileInfo
	for _, f := range todo {
		switch {
		case f.failed:
			failed = append(failed, f)
		case f.format == "":
			unknown = append(unknown, f)
		default:
			r.run.FilesRead++
		}
	}
	r.run.FilesSkipped += len(unknown) + len(failed)
	if len(unknown) > 0 {
		r.note("%d objects in no known format were skipped, e.g. %s (%v)", len(unknown), unknown[0].Key, unknown[0].err)
	}
	if len(failed) > 0 {
		r.note("%d objects could not be read and will be tried again next crawl, e.g. %s: %v", len(failed), failed[0].Key, failed[0].err)
	}
	return nil
}

// saveState stores the folders read so far for incremental crawls.
func (r *crawl) saveState(ctx context.Context) error {
	log, ok := r.cat.(stocklake.CrawlLog)
	if !ok {
		return nil
	}
	folders := map[string]bool{}
	for f := range r.known {
		if r.present[f] {
			folders[f] = true
		}
	}
	failed := map[string]bool{}
	for _, f := range r.files {
		if f.failed {
			failed[f.folder] = true
		}
	}
	for _, f := range r.files {
		if f.read && !failed[f.folder] {
			folders[f.folder] = true
		}
	}
	st := stocklake.CrawlState{Database: r.cfg.Database, LakeURL: r.lakeURL, RunID: r.run.ID}
	for f := range folders {
		st.Folders = append(st.Folders, f)
	}
	slices.Sort(st.Folders)
	if err := log.PutCrawlState(ctx, st); err != nil {
		return fmt.Errorf("crawler: saving the crawl state: %w", err)
	}
	return nil
}

// rootName names a table at the crawled location after its last path
// segment (or the bucket).
func (c *Crawler) rootName() string {
	u, err := url.Parse(c.lakeURL)
	if err != nil {
		return "lake"
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		return path.Base(p)
	}
	if u.Host != "" {
		return u.Host
	}
	return "lake"
}
