package stocklake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Compaction layout of Hive tables, shared by the compactor (which writes
// it) and the crawler and the sink (which read it).
//
// The compactor merges a closed partition's objects into new objects in a
// folder of their own,
//
//	<table folder>/_stocklake_compacted/<run id>/<partition path>/part-NNNNN.parquet
//
// and then points the catalog partition's location at that folder in one
// update (Catalog.UpdatePartition). The leading '_' hides the folder from
// crawlers and from engines that list the table's folder, so its rows are
// never read twice; readers through the catalog read exactly the merged
// objects. The objects it replaced stay where they are for a grace period
// (queries planned before the swap may still read them) and are then
// deleted. CompactionState records all of it under
// CompactionStateKey(table folder).
const CompactedFolder = "_stocklake_compacted"

// CompactionStateKey is the key of a Hive table's compaction state, for the
// table whose objects live under tableFolder (a key prefix ending in '/',
// e.g. "ticks/"): "_stocklake/compact/ticks/state.json".
func CompactionStateKey(tableFolder string) string {
	return CompactionStatePrefix + tableFolder + "state.json"
}

// CompactionStatePrefix is the key prefix of every table's compaction state.
const CompactionStatePrefix = "_stocklake/compact/"

// CompactionState is the compaction record of one Hive table folder. It is
// written with ObjectStore.PutIf only.
type CompactionState struct {
	// Partitions are the compacted partitions, by partition path relative
	// to the table folder and ending in '/' ("dt=2026-11-26/hour=14/").
	Partitions map[string]*CompactedPartition `json:"partitions"`
	// LastRun is when a compaction last finished a pass over the table.
	LastRun time.Time `json:"last_run,omitzero"`
	// FilesRewritten and BytesRewritten count the objects merged so far.
	FilesRewritten int64 `json:"files_rewritten"`
	BytesRewritten int64 `json:"bytes_rewritten"`
}

// CompactedPartition is one compacted partition.
type CompactedPartition struct {
	// Location is the folder key (ending in '/') of the merged objects the
	// catalog partition points at.
	Location string `json:"location"`
	// Superseded are objects replaced by merged ones, not yet deleted:
	// readers must not count them.
	Superseded []SupersededObjects `json:"superseded,omitempty"`
	// Next is a compaction of the partition in progress: its merged
	// objects may be written, and the catalog may already point at
	// Next.Location. A compactor that finds it finishes or undoes it.
	Next *PendingCompaction `json:"next,omitempty"`
}

// SupersededObjects are object keys replaced at Since.
type SupersededObjects struct {
	Since time.Time `json:"since"`
	Keys  []string  `json:"keys"`
}

// PendingCompaction is a compaction that has started.
type PendingCompaction struct {
	Location string    `json:"location"` // folder key of the new merged objects
	Inputs   []string  `json:"inputs"`   // keys it merges
	Started  time.Time `json:"started"`
}

// ReadCompactionState reads the compaction state of tableFolder and its
// version: an empty state and IfAbsent when there is none.
func ReadCompactionState(ctx context.Context, store ObjectStore, tableFolder string) (*CompactionState, string, error) {
	key := CompactionStateKey(tableFolder)
	body, ver, err := store.GetVersion(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return &CompactionState{Partitions: map[string]*CompactedPartition{}}, IfAbsent, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read compaction state %s: %w", key, err)
	}
	var st CompactionState
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, "", fmt.Errorf("compaction state %s is not valid JSON (%v); restore it or delete it (merged folders it names then stay unused): %w", key, err, ErrInvalid)
	}
	if st.Partitions == nil {
		st.Partitions = map[string]*CompactedPartition{}
	}
	return &st, ver, nil
}

// CompactionView is what a reader of the lake's folders (the crawler)
// needs from every table's compaction state.
type CompactionView struct {
	// Hidden are keys that merged objects replaced: not to be counted.
	Hidden map[string]bool
	// Relocated maps the folder of a compacted partition's current merged
	// objects to the partition's own folder: the merged objects stand for
	// that folder's data.
	Relocated map[string]string
	// InUse are merged folders a catalog partition may point at (the
	// current ones and those of compactions in progress).
	InUse map[string]bool
	// Current maps a partition's own folder to its current merged folder.
	Current map[string]string
}

// LoadCompactionView reads the compaction states of every table under
// prefix ("" for the whole lake).
func LoadCompactionView(ctx context.Context, store ObjectStore, prefix string) (CompactionView, error) {
	v := CompactionView{Hidden: map[string]bool{}, Relocated: map[string]string{}, InUse: map[string]bool{}, Current: map[string]string{}}
	objs, err := store.List(ctx, CompactionStatePrefix+prefix)
	if err != nil {
		return v, fmt.Errorf("list compaction states: %w", err)
	}
	for _, o := range objs {
		folder, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, CompactionStatePrefix), "state.json")
		if !ok || (folder != "" && !strings.HasSuffix(folder, "/")) {
			continue
		}
		st, _, err := ReadCompactionState(ctx, store, folder)
		if err != nil {
			return v, err
		}
		for path, p := range st.Partitions {
			for _, s := range p.Superseded {
				for _, k := range s.Keys {
					v.Hidden[k] = true
				}
			}
			if p.Location != "" {
				v.Relocated[p.Location] = folder + path
				v.Current[folder+path] = p.Location
				v.InUse[p.Location] = true
			}
			if p.Next != nil {
				v.InUse[p.Next.Location] = true
			}
		}
	}
	return v, nil
}
