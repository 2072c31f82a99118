package stocklake

import (
	"context"
	"fmt"
	"time"
)

// Parameters that the crawler puts on the tables and partitions it writes,
// with the names AWS Glue's crawler uses, so Glue tools read them as usual.
const (
	// ParamUpdatedByCrawler names the crawler that created or last updated a
	// table; the crawler only ever deletes or deprecates tables carrying it.
	ParamUpdatedByCrawler = "UPDATED_BY_CRAWLER"
	// ParamDeprecatedByCrawler marks a table or partition whose folder has
	// disappeared, when the delete policy is "mark"; the value is the ID of
	// the crawl that noticed.
	ParamDeprecatedByCrawler = "DEPRECATED_BY_CRAWLER"
)

// CrawlRun is the summary of one crawl of a lake into a catalog database,
// returned by the crawler and kept in the catalog's crawl history.
type CrawlRun struct {
	ID       string // unique and sortable by start time, e.g. 20261126T140501.123Z-1a2b3c
	Database string
	LakeURL  string // the crawled location: lake URL plus any prefix
	Start    time.Time
	End      time.Time

	TablesCreated []string // names of tables created
	TablesUpdated []string // names of tables whose definition changed
	TablesDeleted []string // names of tables deleted or marked, per the delete policy

	PartitionsAdded   int
	PartitionsRemoved int // deleted or marked, per the delete policy

	FilesListed  int // objects listed, excluded ones included
	FilesRead    int // objects whose footer or sample was read
	FilesSkipped int // excluded, already crawled, empty or in an unknown format

	// Messages are notes for the user: schema changes left alone under the
	// "log" policy, files that fit no table, folders that disappeared.
	Messages []string
	// Error is why the crawl failed, or empty when it succeeded.
	Error string
}

// Duration is how long the crawl took.
func (r *CrawlRun) Duration() time.Duration { return r.End.Sub(r.Start) }

// Summary is a one-line account of the run, e.g. "crawl 20261126T140501.123Z-1a2b3c
// of file:///lake into lake: tables 1 created, 0 updated, 0 deleted; partitions
// 6 added, 0 removed; files 12 read of 12 listed; 41ms".
func (r *CrawlRun) Summary() string {
	s := fmt.Sprintf("crawl %s of %s into %s: tables %d created, %d updated, %d deleted; partitions %d added, %d removed; files %d read of %d listed; %v",
		r.ID, r.LakeURL, r.Database,
		len(r.TablesCreated), len(r.TablesUpdated), len(r.TablesDeleted),
		r.PartitionsAdded, r.PartitionsRemoved,
		r.FilesRead, r.FilesListed, r.Duration().Round(time.Millisecond))
	if r.Error != "" {
		s += "; failed: " + r.Error
	}
	return s
}

// CrawlState is what an incremental crawl remembers between runs: the
// folders whose objects it has already read. A folder is the key prefix of
// an object's parent, relative to the crawled location, ending in '/'
// (empty for objects at the top).
type CrawlState struct {
	Database   string
	LakeURL    string   // the crawled location, as in CrawlRun.LakeURL
	Folders    []string // sorted
	RunID      string   // the crawl that wrote this state
	UpdateTime time.Time
}

// CrawlLog is implemented by catalogs that keep a crawl history and the state
// of incremental crawls. It is optional: the crawler checks for it with a
// type assertion and, without it, keeps no history and treats the folders of
// registered partitions as already crawled.
//
// The SQLite catalog keeps both in its own tables. A catalog with no place
// for them (AWS Glue has no crawl-history API) can keep them as small JSON
// objects in the lake under _stocklake/crawler/, which crawls skip.
type CrawlLog interface {
	// RecordCrawl stores a finished crawl; recording an ID again replaces it.
	RecordCrawl(ctx context.Context, run CrawlRun) error
	// ListCrawls returns crawls of a database (every database when it is
	// empty), newest first, at most limit of them (all when limit <= 0).
	ListCrawls(ctx context.Context, database string, limit int) ([]CrawlRun, error)
	// CrawlState returns the state of incremental crawls of a location into
	// a database; before the first crawl it wraps ErrNotFound.
	CrawlState(ctx context.Context, database, lakeURL string) (CrawlState, error)
	// PutCrawlState replaces the state for s.Database and s.LakeURL.
	PutCrawlState(ctx context.Context, s CrawlState) error
}
