package duckdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stocklake/stocklake"
)

// cache keeps objects of a remote lake on local disk for DuckDB to read.
// A cached object's path mirrors its key (so key=value folders still name
// partitions) with its size and modification time added to the file name,
// so a changed object is fetched again. Files are evicted least recently
// used first once the cache holds more than max bytes; files in use by a
// query of this process, or used by any process in the last minute, stay.
type cache struct {
	store    stocklake.ObjectStore
	root     string // <objects dir>/<hash of the lake URL>
	max      int64
	fetchers int
	log      *slog.Logger

	mu     sync.Mutex
	pins   map[string]int
	evictM sync.Mutex
}

// recentUse protects files other processes may be reading.
const recentUse = time.Minute

func newCache(store stocklake.ObjectStore, lakeURL, dir string, max int64, fetchers int, log *slog.Logger) *cache {
	h := sha256.Sum256([]byte(lakeURL))
	return &cache{store: store, root: filepath.Join(dir, hex.EncodeToString(h[:8])), max: max, fetchers: fetchers, log: log, pins: map[string]int{}}
}

// path is the cache path of an object version.
func (c *cache) path(o stocklake.ObjectInfo) string {
	dir, base := path.Split(o.Key)
	stem, ext := base, ""
	if i := strings.IndexByte(base, '.'); i > 0 {
		stem, ext = base[:i], base[i:]
	}
	name := fmt.Sprintf("%s~%d-%d%s", stem, o.Size, o.ModTime.UnixNano(), ext)
	return filepath.Join(c.root, filepath.FromSlash(dir), name)
}

// get returns local paths of the objects, downloading missing ones, and a
// function that releases them when the query is done.
func (c *cache) get(ctx context.Context, objs []stocklake.ObjectInfo) ([]string, func(), error) {
	paths := make([]string, len(objs))
	c.mu.Lock()
	for i, o := range objs {
		paths[i] = c.path(o)
		c.pins[paths[i]]++
	}
	c.mu.Unlock()
	release := func() {
		c.mu.Lock()
		for _, p := range paths {
			if c.pins[p]--; c.pins[p] <= 0 {
				delete(c.pins, p)
			}
		}
		c.mu.Unlock()
		c.evict()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.fetchers)
	now := time.Now()
	for i, o := range objs {
		p := paths[i]
		if fi, err := os.Stat(p); err == nil && fi.Size() == o.Size {
			os.Chtimes(p, now, now) // mark as recently used
			continue
		}
		g.Go(func() error { return c.fetch(gctx, o, p) })
	}
	if err := g.Wait(); err != nil {
		release()
		return nil, nil, err
	}
	return paths, release, nil
}

// fetch downloads one object to p, atomically.
func (c *cache) fetch(ctx context.Context, o stocklake.ObjectInfo, p string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return stocklake.SettingErr(fmt.Errorf("duckdb cache: %w: %w", err, stocklake.ErrConfig), "duckdb.Config.CacheDir")
	}
	body, err := c.store.Get(ctx, o.Key)
	if err != nil {
		return fmt.Errorf("read %s from the lake: %w", o.Key, err)
	}
	defer body.Close()
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(p), ".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := os.Create(tmp)
	if err != nil {
		return stocklake.SettingErr(fmt.Errorf("duckdb cache: %w: %w", err, stocklake.ErrConfig), "duckdb.Config.CacheDir")
	}
	n, err := io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != o.Size {
		err = fmt.Errorf("read %d bytes of %s, want %d; it changed while being read, run the query again: %w", n, o.Key, o.Size, stocklake.ErrUnavailable)
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("download %s: %w", o.Key, err)
	}
	return nil
}

// evict removes least recently used files until the cache fits max.
func (c *cache) evict() {
	if !c.evictM.TryLock() {
		return
	}
	defer c.evictM.Unlock()
	type entry struct {
		path string
		size int64
		used time.Time
	}
	var files []entry
	var total int64
	now := time.Now()
	filepath.WalkDir(c.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".tmp-") {
			if now.Sub(fi.ModTime()) > time.Hour { // left by a crashed download
				os.Remove(p)
			}
			return nil
		}
		files = append(files, entry{p, fi.Size(), fi.ModTime()})
		total += fi.Size()
		return nil
	})
	if total <= c.max {
		return
	}
	sort.Slice(files, func(i, j int) bool { return files[i].used.Before(files[j].used) })
	c.mu.Lock()
	defer c.mu.Unlock()
	removed := 0
	for _, f := range files {
		if total <= c.max {
			break
		}
		if c.pins[f.path] > 0 || now.Sub(f.used) < recentUse {
			continue
		}
		if os.Remove(f.path) == nil {
			total -= f.size
			removed++
		}
	}
	if removed > 0 {
		c.log.Debug("duckdb cache: evicted", "files", removed, "bytes", strconv.FormatInt(total, 10))
	}
}
