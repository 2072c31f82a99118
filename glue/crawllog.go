package glue

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stocklake/stocklake"
)

// The crawl log lives in the lake (Config.LakeStore) under
//
//	_stocklake/crawler/glue/REGION/CATALOG/runs/DATABASE/RUN-ID.json   one stocklake.CrawlRun each
//	_stocklake/crawler/glue/REGION/CATALOG/state/DATABASE/HASH.json    one stocklake.CrawlState per crawled location
//
// CATALOG is Config.CatalogID or "default"; HASH is 32 hex digits of the SHA-256 of the
// crawled location's URL, which the object also holds. Names are
// path-escaped.

// readConcurrency bounds how many crawl records are read at once.
const readConcurrency = 8

// keySegment escapes s for use as one segment of an object key: no '/',
// and no leading '.', which the file lake refuses and crawls skip.
func keySegment(s string) string {
	e := url.PathEscape(s)
	if strings.HasPrefix(e, ".") {
		e = "%2E" + e[1:]
	}
	if e == "" {
		e = "%00"
	}
	return e
}

func (c *Catalog) needLake(op string) error {
	if c.lake == nil {
		return stocklake.SettingErr(fmt.Errorf("glue: %s: Glue has no place for crawl history and state, so stocklake keeps them in the lake, and none was given: set glue.Config.LakeStore: %w",
			op, stocklake.ErrConfig), "glue.Config.LakeStore")
	}
	return nil
}

func normDB(database string) string { return strings.ToLower(strings.TrimSpace(database)) }

// runsPrefix is the folder of a database's runs, or of all runs when db
// is empty.
func (c *Catalog) runsPrefix(db string) string {
	p := c.logPrefix + "runs/"
	if db != "" {
		p += keySegment(db) + "/"
	}
	return p
}

func (c *Catalog) stateKey(db, lakeURL string) string {
	h := sha256.Sum256([]byte(lakeURL))
	return c.logPrefix + "state/" + keySegment(db) + "/" + hex.EncodeToString(h[:16]) + ".json"
}

func (c *Catalog) putJSON(ctx context.Context, op, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("glue: %s: cannot encode %T: %w: %w", op, v, err, stocklake.ErrInvalid)
	}
	if err := c.lake.Put(ctx, key, bytes.NewReader(b)); err != nil {
		return fmt.Errorf("glue: %s in %s/%s: %w", op, strings.TrimSuffix(c.lake.URL(), "/"), key, err)
	}
	return nil
}

func (c *Catalog) getJSON(ctx context.Context, op, key string, v any) error {
	rc, err := c.lake.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("glue: %s from %s/%s: %w", op, strings.TrimSuffix(c.lake.URL(), "/"), key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("glue: %s from %s/%s: %w", op, strings.TrimSuffix(c.lake.URL(), "/"), key, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("glue: %s: %s/%s is corrupt (%v): delete it: %w", op, strings.TrimSuffix(c.lake.URL(), "/"), key, err, stocklake.ErrInvalid)
	}
	return nil
}

// RecordCrawl stores a finished crawl in the history kept in the lake;
// recording the same ID again replaces it.
func (c *Catalog) RecordCrawl(ctx context.Context, run stocklake.CrawlRun) error {
	if err := c.needLake("recording crawl " + run.ID); err != nil {
		return err
	}
	if run.ID == "" {
		return fmt.Errorf("glue: crawl run without an ID: %w", stocklake.ErrInvalid)
	}
	// keySegment gives a crawl without a database a folder of its own too.
	key := c.logPrefix + "runs/" + keySegment(normDB(run.Database)) + "/" + keySegment(run.ID) + ".json"
	return c.putJSON(ctx, "recording crawl "+run.ID, key, run)
}

// ListCrawls returns crawls of a database (of every database when database
// is empty), newest first, at most limit (all when limit <= 0). It relies on
// run IDs sorting by start time, as stocklake.CrawlRun.ID promises, to read
// only the newest records.
func (c *Catalog) ListCrawls(ctx context.Context, database string, limit int) ([]stocklake.CrawlRun, error) {
	if err := c.needLake("listing crawls"); err != nil {
		return nil, err
	}
	objs, err := c.lake.List(ctx, c.runsPrefix(normDB(database)))
	if err != nil {
		return nil, fmt.Errorf("glue: listing crawls in %s: %w", c.lake.URL(), err)
	}
	keys := make([]string, 0, len(objs))
	for _, o := range objs {
		if strings.HasSuffix(o.Key, ".json") {
			keys = append(keys, o.Key)
		}
	}
	// Newest first by run ID, across database folders.
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(strings.Compare(path.Base(b), path.Base(a)), strings.Compare(b, a))
	})
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	runs := make([]stocklake.CrawlRun, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readConcurrency)
	var mu sync.Mutex
	missing := map[int]bool{}
	for i, k := range keys {
		g.Go(func() error {
			err := c.getJSON(gctx, "reading crawl history", k, &runs[i])
			if errors.Is(err, stocklake.ErrNotFound) {
				// Deleted since the listing.
				mu.Lock()
				missing[i] = true
				mu.Unlock()
				return nil
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := runs[:0]
	for i, r := range runs {
		if !missing[i] {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b stocklake.CrawlRun) int {
		return cmp.Or(b.Start.Compare(a.Start), strings.Compare(b.ID, a.ID))
	})
	return out, nil
}

// CrawlState returns the folders earlier crawls of lakeURL into database
// have read; before the first crawl it wraps ErrNotFound.
func (c *Catalog) CrawlState(ctx context.Context, database, lakeURL string) (stocklake.CrawlState, error) {
	db := normDB(database)
	s := stocklake.CrawlState{Database: db, LakeURL: lakeURL}
	if err := c.needLake("reading crawl state"); err != nil {
		return s, err
	}
	var got stocklake.CrawlState
	err := c.getJSON(ctx, "reading crawl state", c.stateKey(db, lakeURL), &got)
	if errors.Is(err, stocklake.ErrNotFound) {
		return s, fmt.Errorf("glue: no crawl of %s into %s yet: %w", lakeURL, db, stocklake.ErrNotFound)
	}
	if err != nil {
		return s, err
	}
	if got.LakeURL != lakeURL {
		return s, fmt.Errorf("glue: no crawl of %s into %s yet (its state object holds %s): %w", lakeURL, db, got.LakeURL, stocklake.ErrNotFound)
	}
	got.Database = db
	return got, nil
}

// PutCrawlState replaces the crawl state of s.LakeURL in s.Database.
func (c *Catalog) PutCrawlState(ctx context.Context, s stocklake.CrawlState) error {
	if err := c.needLake("saving crawl state"); err != nil {
		return err
	}
	s.Database = normDB(s.Database)
	if s.UpdateTime.IsZero() {
		s.UpdateTime = time.Now().UTC()
	}
	s.Folders = slices.Compact(slices.Sorted(slices.Values(s.Folders)))
	return c.putJSON(ctx, "saving crawl state", c.stateKey(s.Database, s.LakeURL), s)
}
