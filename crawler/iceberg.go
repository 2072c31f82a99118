package crawler

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/stocklake/stocklake"
)

// findIceberg finds the Iceberg tables among the listed files, folders
// holding metadata/*.metadata.json, as AWS Glue's crawler does, and takes
// their files out of the Hive crawl.
func (r *crawl) findIceberg() {
	for _, f := range r.files {
		dir, name := path.Split(f.Key)
		if !strings.HasSuffix(name, ".metadata.json") || path.Base(dir) != "metadata" {
			continue
		}
		folder := parentFolder(dir)
		if r.iceberg == nil {
			r.iceberg = map[string]stocklake.ObjectInfo{}
		}
		if cur, ok := r.iceberg[folder]; !ok || newerMetadata(f.ObjectInfo, cur) {
			r.iceberg[folder] = f.ObjectInfo
		}
	}
	if len(r.iceberg) == 0 {
		return
	}
	r.files = slices.DeleteFunc(r.files, func(f *fileInfo) bool {
		for folder := range r.iceberg {
			if strings.HasPrefix(f.Key, folder) {
				r.run.FilesSkipped++
				return true
			}
		}
		return false
	})
}

// skipIcebergFolder takes the files under folder, the folder of an Iceberg
// table the catalog knows, out of the Hive crawl (found by findIceberg
// already when it holds metadata; a table being created may not yet).
func (r *crawl) skipIcebergFolder(folder string) {
	if _, found := r.iceberg[folder]; found {
		return
	}
	n := 0
	r.files = slices.DeleteFunc(r.files, func(f *fileInfo) bool {
		if strings.HasPrefix(f.Key, folder) {
			n++
			return true
		}
		return false
	})
	r.run.FilesSkipped += n
	r.note("%s is an Iceberg table of the catalog: its %d objects were not crawled (Iceberg tables are read through their metadata)", r.location(folder), n)
}

// metadataVersion is the version of an Iceberg metadata file name:
// NNNNN-<uuid>.metadata.json (catalogs) or vN.metadata.json (Hadoop
// tables); -1 when it has none.
func metadataVersion(key string) int64 {
	name := strings.TrimPrefix(path.Base(key), "v")
	end := strings.IndexAny(name, "-.")
	if end <= 0 {
		return -1
	}
	v, err := strconv.ParseInt(name[:end], 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// newerMetadata reports whether metadata file a is newer than b: a higher
// version, or the same version written later.
func newerMetadata(a, b stocklake.ObjectInfo) bool {
	va, vb := metadataVersion(a.Key), metadataVersion(b.Key)
	if va != vb {
		return va > vb
	}
	if !a.ModTime.Equal(b.ModTime) {
		return a.ModTime.After(b.ModTime)
	}
	return a.Key > b.Key
}

// registerIceberg registers the Iceberg tables found, named after their
// folders (with Config.TablePrefix), through Config.Iceberg.
func (r *crawl) registerIceberg(ctx context.Context) error {
	folders := make([]string, 0, len(r.iceberg))
	for f := range r.iceberg {
		folders = append(folders, f)
	}
	slices.Sort(folders)
	for _, folder := range folders {
		name := r.rootName()
		if folder != "" {
			name = path.Base(strings.TrimSuffix(folder, "/"))
		}
		name = identifier(r.cfg.TablePrefix+name, 0)
		meta := r.location(r.iceberg[folder].Key)
		if r.cfg.Iceberg == nil {
			r.note("%s is an Iceberg table: not crawled as a Hive table, and not registered (this catalog cannot register Iceberg tables)", r.location(folder))
			continue
		}
		created, err := r.cfg.Iceberg.RegisterIcebergTable(ctx, r.cfg.Database, name, meta)
		switch {
		case errors.Is(err, stocklake.ErrExists) || errors.Is(err, stocklake.ErrInvalid):
			r.note("Iceberg table %s not registered: %v", r.location(folder), err)
		case err != nil:
			return fmt.Errorf("crawler: registering the Iceberg table %s as %s.%s: %w", r.location(folder), r.cfg.Database, name, err)
		case created:
			r.run.TablesCreated = append(r.run.TablesCreated, name)
			r.note("%s registered as Iceberg table %s.%s (metadata %s)", r.location(folder), r.cfg.Database, name, path.Base(meta))
		}
	}
	return nil
}
