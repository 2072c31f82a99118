package iceberg

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/apache/iceberg-go/table"

	"github.com/stocklake/stocklake"
)

// checkForeignUpdates refuses the updates of a commit from outside stocklake
// (the REST catalog's CommitTableUpdates) that would reach beyond the
// table tbl or into the sink's bookkeeping, with an error that wraps
// stocklake.ErrInvalid:
//
//   - set-location to another folder, or a write.*.path property (Iceberg's
//     write.metadata.path, write.data.path, ...): the server would write the next metadata files outside the table's
//     folder, and orphan removal would delete files under the new one;
//   - setting or removing PropSchema or PropTimeField, the shape the sink
//     writes the table in;
//   - a snapshot whose summary carries stocklake.* keys (the offsets are the
//     sink's: forged or malformed ones would make it skip, repeat or refuse
//     records), whose parent the table does not have (a parent added
//     later, or itself, loops the history), or whose
//     manifest list, manifests, data or delete files are not under the
//     table's folder: expiring the snapshot later deletes the files its
//     manifests list;
//   - statistics files outside the table's folder (deleted on expiry too).
//
// Every other update (appends of files under the table's folder,
// properties, schema changes) is the catalog's to check.
func checkForeignUpdates(ctx context.Context, tbl *table.Table, updates []byte) error {
	if len(updates) == 0 {
		return nil
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(updates, &raw); err != nil {
		return fmt.Errorf("iceberg: commit updates: %v: %w", err, stocklake.ErrInvalid)
	}
	loc := strings.TrimSuffix(tbl.Location(), "/")
	known := map[int64]bool{} // snapshots a new one may name as its parent
	for _, s := range tbl.Metadata().Snapshots() {
		known[s.SnapshotID] = true
	}
	refuse := func(action, format string, args ...any) error {
		return fmt.Errorf("iceberg: update %s: %s: %w", action, fmt.Sprintf(format, args...), stocklake.ErrInvalid)
	}
	for _, u := range raw {
		var action string
		_ = json.Unmarshal(u["action"], &action)
		switch action {
		case table.UpdateSetLocation:
			var to string
			_ = json.Unmarshal(u["location"], &to)
			if strings.TrimSuffix(to, "/") != loc {
				return refuse(action, "the table stays at %s (moving it would put its next files, and what maintenance deletes, elsewhere)", loc)
			}
		case table.UpdateSetProperties:
			var set map[string]string
			_ = json.Unmarshal(u["updates"], &set)
			for k := range set {
				if err := foreignProperty(action, k); err != nil {
					return err
				}
			}
		case table.UpdateRemoveProperties:
			var removed []string
			_ = json.Unmarshal(u["removals"], &removed)
			for _, k := range removed {
				if err := foreignProperty(action, k); err != nil {
					return err
				}
			}
		case table.UpdateAddSnapshot:
			var snap table.Snapshot
			if err := json.Unmarshal(u["snapshot"], &snap); err != nil {
				return refuse(action, "%v", err)
			}
			if snap.ParentSnapshotID != nil && !known[*snap.ParentSnapshotID] {
				// A parent added later, or itself, would loop the history.
				return refuse(action, "snapshot %d names %d as its parent, which the table does not have", snap.SnapshotID, *snap.ParentSnapshotID)
			}
			if err := checkForeignSnapshot(ctx, tbl, loc, &snap); err != nil {
				return refuse(action, "%v", err)
			}
			known[snap.SnapshotID] = true
		case table.UpdateSetStatistics, table.UpdateSetPartitionStatistics:
			var stats struct {
				Path string `json:"statistics-path"`
			}
			for _, k := range []string{"statistics", "partition-statistics"} {
				if b, ok := u[k]; ok {
					_ = json.Unmarshal(b, &stats)
				}
			}
			if stats.Path != "" && !underLocation(loc, stats.Path) {
				return refuse(action, "statistics file %s is not under the table's folder %s", stats.Path, loc)
			}
		}
	}
	return nil
}

// foreignProperty refuses a property a foreign commit may not set or remove.
func foreignProperty(action, key string) error {
	switch {
	case key == PropSchema || key == PropTimeField:
		return fmt.Errorf("iceberg: update %s: property %s records the shape the sink writes the table in: %w", action, key, stocklake.ErrInvalid)
	case strings.HasPrefix(key, "write.") && strings.HasSuffix(key, ".path"):
		return fmt.Errorf("iceberg: update %s: property %s would move the table's files out of its folder: %w", action, key, stocklake.ErrInvalid)
	}
	return nil
}

// checkForeignSnapshot checks a snapshot a foreign commit adds (see
// checkForeignUpdates): it reads its manifest list and manifests.
func checkForeignSnapshot(ctx context.Context, tbl *table.Table, loc string, snap *table.Snapshot) error {
	if snap.Summary != nil {
		for k := range snap.Summary.Properties {
			if strings.HasPrefix(k, "stocklake.") {
				return fmt.Errorf("snapshot %d carries the summary key %s: only the sink records Kafka offsets", snap.SnapshotID, k)
			}
		}
	}
	if snap.ManifestList != "" && !underLocation(loc, snap.ManifestList) {
		return fmt.Errorf("manifest list %s is not under the table's folder %s", snap.ManifestList, loc)
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return err
	}
	manifests, err := snap.Manifests(fs)
	if err != nil {
		return fmt.Errorf("reading the manifest list %s: %v", snap.ManifestList, err)
	}
	// The manifests the current snapshot has were checked when they came
	// in: an append lists them again beside its new one.
	checked := map[string]bool{}
	if cur := tbl.CurrentSnapshot(); cur != nil {
		if ms, err := cur.Manifests(fs); err == nil {
			for _, m := range ms {
				checked[m.FilePath()] = true
			}
		}
	}
	for _, m := range manifests {
		if !underLocation(loc, m.FilePath()) {
			return fmt.Errorf("manifest %s is not under the table's folder %s", m.FilePath(), loc)
		}
		if checked[m.FilePath()] {
			continue
		}
		for e, err := range m.Entries(fs, false) {
			if err != nil {
				return fmt.Errorf("reading manifest %s: %v", m.FilePath(), err)
			}
			if p := e.DataFile().FilePath(); !underLocation(loc, p) {
				return fmt.Errorf("file %s is not under the table's folder %s: add files written into the table's data folder", p, loc)
			}
		}
	}
	return nil
}

// underLocation tells whether the file URL p lies under the folder loc
// (no trailing slash), as written and once percent-decoded (iceberg-go
// decodes file paths), without "." or ".." segments that would climb out.
func underLocation(loc, p string) bool {
	norm := func(s string) string {
		if rest, ok := strings.CutPrefix(s, "s3a://"); ok {
			return "s3://" + rest
		}
		return s
	}
	loc, p = norm(loc), norm(p)
	forms := []string{p}
	if d, err := url.PathUnescape(p); err == nil && d != p {
		forms = append(forms, d)
	}
	for _, f := range forms {
		rest, ok := strings.CutPrefix(f, loc+"/")
		if !ok || rest == "" {
			return false
		}
		for _, seg := range strings.Split(rest, "/") {
			if seg == "." || seg == ".." {
				return false
			}
		}
	}
	return true
}
