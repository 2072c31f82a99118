package crawler

import (
	"crypto/sha1"
	"encoding/hex"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
)

// candidate is a table the crawl found: a root folder, the files that
// define its schema and the folders that are its partitions.
type candidate struct {
	folder   string      // key of the table's root folder ("" or ending in '/')
	name     string      // table name, without Config.TablePrefix
	files    []*fileInfo // files read this crawl that belong to the table
	keys     []string    // partition key names, outermost first
	parts    []partition // partition folders, sorted
	existing *stocklake.Table
	fixed    bool // an existing table kept as it is laid out (incremental crawls)
}

type partition struct {
	folder string
	values []string
}

// node is a folder in the tree of classified files.
type node struct {
	key   string // folder key ("" or ending in '/')
	name  string // last segment
	depth int    // below the crawled location
	files []*fileInfo
	subs  map[string]*node

	// summary of the subtree
	count    int             // classified files
	ok       bool            // the subtree can be one table
	sig      string          // format signature of that table
	names    map[string]bool // its column names
	fdepth   int             // depth of its files below this folder
	kvParent bool            // a subfolder is key=value
	kvBelow  bool            // a folder further down is a kvParent
}

func columnNames(f *fileInfo) []string {
	out := make([]string, 0, len(f.schema.fields))
	for _, fl := range f.schema.fields {
		out = append(out, strings.ToLower(fl.name))
	}
	return out
}

// plan decides the tables: existing ones kept as they are (incremental
// crawls) and new ones found in the layout.
func (r *crawl) plan() []*candidate {
	var cands []*candidate
	var pool []*fileInfo
	if r.cfg.Incremental {
		fixed := r.fixedTables()
		cands = append(cands, fixed...)
		for _, f := range r.files {
			if f.format == "" || ownerOf(fixed, f) != nil {
				continue
			}
			pool = append(pool, f)
		}
	} else {
		for _, f := range r.files {
			if f.format != "" {
				pool = append(pool, f)
			}
		}
	}
	root := &node{key: r.root, name: r.rootName(), subs: map[string]*node{}}
	for _, f := range pool {
		n := root
		rel := strings.TrimPrefix(f.folder, r.root)
		for seg := range strings.SplitSeq(strings.TrimSuffix(rel, "/"), "/") {
			if seg == "" {
				continue
			}
			sub := n.subs[seg]
			if sub == nil {
				sub = &node{key: n.key + seg + "/", name: seg, depth: n.depth + 1, subs: map[string]*node{}}
				n.subs[seg] = sub
			}
			n = sub
		}
		n.files = append(n.files, f)
	}
	r.summarize(root)
	cands = append(cands, r.planNode(root, true)...)
	r.nameTables(cands)
	return cands
}

// ownerOf returns the fixed table whose folder holds f, the deepest one.
func ownerOf(fixed []*candidate, f *fileInfo) *candidate {
	var best *candidate
	for _, c := range fixed {
		if strings.HasPrefix(f.folder, c.folder) && (best == nil || len(c.folder) > len(best.folder)) {
			best = c
		}
	}
	return best
}

// fixedTables keeps existing tables in incremental crawls: their files are
// the objects under their location, at the depth of their partition keys.
func (r *crawl) fixedTables() []*candidate {
	var fixed []*candidate
	for i := range r.tables {
		t := &r.tables[i]
		folder, _ := r.folderOf(t.Location)
		if !r.present[folder] {
			continue
		}
		c := &candidate{folder: folder, name: t.Name, existing: t, fixed: true}
		for _, k := range t.PartitionKeys {
			c.keys = append(c.keys, k.Name)
		}
		fixed = append(fixed, c)
	}
	seen := map[*candidate]map[string]bool{}
	wrongDepth := map[*candidate]int{}
	for _, f := range r.files {
		c := ownerOf(fixed, f)
		if c == nil {
			continue
		}
		segs := segments(strings.TrimPrefix(f.folder, c.folder))
		if len(segs) != len(c.keys) {
			if f.format != "" {
				wrongDepth[c]++
			}
			continue
		}
		if f.format != "" {
			c.files = append(c.files, f)
		}
		if len(c.keys) > 0 {
			if seen[c] == nil {
				seen[c] = map[string]bool{}
			}
			if !seen[c][f.folder] {
				seen[c][f.folder] = true
				c.parts = append(c.parts, partition{folder: f.folder, values: partitionValues(segs)})
			}
		}
	}
	for _, c := range fixed {
		if n := wrongDepth[c]; n > 0 {
			r.note("table %s: %d new files are not %d folder levels below %s, so they are outside its partitions; skipped",
				c.name, n, len(c.keys), r.location(c.folder))
		}
	}
	return fixed
}

func segments(rel string) []string {
	rel = strings.Trim(rel, "/")
	if rel == "" {
		return nil
	}
	return strings.Split(rel, "/")
}

// partitionValues are the values of a partition folder's segments: the
// value of key=value names, the whole name otherwise.
func partitionValues(segs []string) []string {
	vals := make([]string, len(segs))
	for i, s := range segs {
		if _, v, ok := hive.SplitPartitionSegment(s); ok {
			vals[i] = v
		} else {
			vals[i] = s
		}
	}
	return vals
}

// summarize computes, bottom-up, whether each subtree can be one table.
func (r *crawl) summarize(n *node) {
	var data []*node
	for _, s := range n.subs {
		r.summarize(s)
		if hive.IsPartitionSegment(s.name) {
			n.kvParent = true
		}
		if s.kvParent || s.kvBelow {
			n.kvBelow = true
		}
		if s.count > 0 {
			data = append(data, s)
		}
	}
	n.count = len(n.files)
	for _, s := range data {
		n.count += s.count
	}
	switch {
	case n.count == 0:
	case len(data) == 0:
		// One folder of files is one table: Athena reads a whole folder.
		sig, files := majority(n.files)
		n.ok, n.sig, n.fdepth = true, sig, 0
		n.names = map[string]bool{}
		for _, f := range files {
			for _, c := range columnNames(f) {
				n.names[c] = true
			}
		}
	case len(n.files) > 0:
		// Files at two depths cannot be partitions of one table.
	default:
		n.ok = true
		n.sig, n.fdepth = data[0].sig, data[0].fdepth+1
		sets := make([]map[string]bool, 0, len(data))
		for _, s := range data {
			if !s.ok || s.sig != n.sig || s.fdepth+1 != n.fdepth {
				n.ok = false
				return
			}
			sets = append(sets, s.names)
		}
		n.names, n.ok = r.similar(sets)
	}
}

// similar reports whether column-name sets belong to one table: taken from
// the smallest up, each must share at least Config.Similarity of the larger
// of itself and the union so far. Schemas that grew a column at a time stay
// together; unrelated ones do not.
func (r *crawl) similar(sets []map[string]bool) (map[string]bool, bool) {
	type set struct {
		key   string
		names map[string]bool
	}
	distinct := map[string]set{}
	for _, s := range sets {
		keys := make([]string, 0, len(s))
		for k := range s {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		k := strings.Join(keys, "\x00")
		distinct[k] = set{k, s}
	}
	ordered := make([]set, 0, len(distinct))
	for _, s := range distinct {
		ordered = append(ordered, s)
	}
	sort.Slice(ordered, func(i, j int) bool {
		if len(ordered[i].names) != len(ordered[j].names) {
			return len(ordered[i].names) < len(ordered[j].names)
		}
		return ordered[i].key < ordered[j].key
	})
	union := map[string]bool{}
	for i, s := range ordered {
		if i > 0 {
			common := 0
			for k := range s.names {
				if union[k] {
					common++
				}
			}
			if float64(common) < r.cfg.Similarity*float64(max(len(s.names), len(union))) {
				return nil, false
			}
		}
		for k := range s.names {
			union[k] = true
		}
	}
	return union, true
}

// majority returns the most common format signature among files (ties go
// to the first in key order) and the files that have it.
func majority(files []*fileInfo) (string, []*fileInfo) {
	counts := map[string]int{}
	best := ""
	for _, f := range files {
		counts[f.signature()]++
		if n := counts[f.signature()]; n > counts[best] || best == "" {
			best = f.signature()
		}
	}
	var out []*fileInfo
	for _, f := range files {
		if f.signature() == best {
			out = append(out, f)
		}
	}
	return best, out
}

func (n *node) sortedSubs() []*node {
	out := make([]*node, 0, len(n.subs))
	for _, s := range n.subs {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *node) int { return strings.Compare(a.name, b.name) })
	return out
}

// planNode decides where tables start in the subtree of n.
func (r *crawl) planNode(n *node, isRoot bool) []*candidate {
	if n.count == 0 {
		return nil
	}
	if lvl := r.cfg.TableLevel; lvl > 0 {
		if n.depth == lvl-1 {
			return r.table(n)
		}
		var out []*candidate
		if len(n.files) > 0 {
			r.note("%d files in %s are above table level %d; skipped", len(n.files), r.location(n.key), lvl)
		}
		for _, s := range n.sortedSubs() {
			out = append(out, r.planNode(s, false)...)
		}
		return out
	}
	if n.kvParent || !isRoot && !n.kvBelow && n.ok {
		return r.table(n)
	}
	var out []*candidate
	if len(n.files) > 0 {
		loose := &node{key: n.key, name: n.name, depth: n.depth, files: n.files, count: len(n.files)}
		out = append(out, r.table(loose)...)
		if len(n.subs) > 0 {
			r.note("files directly in %s form table %s, but the folder also holds other data in subfolders; some engines read those too",
				r.location(n.key), r.rootOrName(n, isRoot))
		}
	}
	if !isRoot && !n.kvBelow && len(n.subs) > 0 && !n.ok {
		r.note("folders under %s differ in format, depth or columns (less than %.0f%% in common), so each becomes its own table",
			r.location(n.key), 100*r.cfg.Similarity)
	}
	for _, s := range n.sortedSubs() {
		out = append(out, r.planNode(s, false)...)
	}
	return out
}

func (r *crawl) rootOrName(n *node, isRoot bool) string {
	if isRoot {
		return r.rootName()
	}
	return n.name
}

// fileAt is a classified file with its folder segments below a table root.
type fileAt struct {
	f    *fileInfo
	segs []string
}

// table makes the table rooted at n from every file below it: files at the
// most common depth and in the most common format; the rest are reported
// and left out.
func (r *crawl) table(n *node) []*candidate {
	var all []fileAt
	var walk func(m *node)
	walk = func(m *node) {
		for _, f := range m.files {
			all = append(all, fileAt{f, segments(strings.TrimPrefix(f.folder, n.key))})
		}
		for _, s := range m.subs {
			walk(s)
		}
	}
	walk(n)
	if len(all) == 0 {
		return nil
	}
	depths := map[int]int{}
	best := -1
	for _, fa := range all {
		d := len(fa.segs)
		depths[d]++
		if best < 0 || depths[d] > depths[best] || depths[d] == depths[best] && d < best {
			best = d
		}
	}
	var atDepth []*fileInfo
	segsOf := map[*fileInfo][]string{}
	for _, fa := range all {
		if len(fa.segs) == best {
			atDepth = append(atDepth, fa.f)
			segsOf[fa.f] = fa.segs
		}
	}
	slices.SortFunc(atDepth, func(a, b *fileInfo) int { return strings.Compare(a.Key, b.Key) })
	sig, files := majority(atDepth)
	name := n.name
	if n.key == r.root {
		name = r.rootName()
	}
	if left := len(all) - len(files); left > 0 {
		r.note("table %s: %d files under %s are at another folder depth or not %s like the other %d; left out of the schema",
			name, left, r.location(n.key), sig, len(files))
	}
	c := &candidate{folder: n.key, name: name, files: files}
	// Partition keys: key=value names when a level agrees on one key,
	// partition_<i> otherwise.
	for i := range best {
		key := ""
		for _, f := range files {
			seg := segsOf[f][i]
			k := "\x00"
			if kk, _, ok := hive.SplitPartitionSegment(seg); ok {
				k = strings.ToLower(kk)
			}
			if key == "" {
				key = k
			} else if key != k {
				key = "\x00"
			}
		}
		if key == "\x00" {
			key = "partition_" + strconv.Itoa(i)
		}
		c.keys = append(c.keys, key)
	}
	seen := map[string]bool{}
	for _, f := range files {
		if best == 0 || seen[f.folder] {
			continue
		}
		seen[f.folder] = true
		c.parts = append(c.parts, partition{folder: f.folder, values: partitionValues(segsOf[f])})
	}
	return []*candidate{c}
}

// nameTables gives each new table a unique name: its folder's name as an
// identifier, or with a hash of its location appended when another table
// has that name. Tables keep the name they already have.
func (r *crawl) nameTables(cands []*candidate) {
	byFolder := map[string]*stocklake.Table{}
	taken := map[string]string{} // name -> folder
	for i := range r.tables {
		t := &r.tables[i]
		f, _ := r.folderOf(t.Location)
		byFolder[f] = t
	}
	for _, t := range r.all {
		f, ok := r.folderOf(t.Location)
		if !ok {
			f = "\x00" + t.Location // elsewhere: never the folder of a candidate
		}
		taken[t.Name] = f
	}
	for _, c := range cands {
		if c.existing == nil {
			c.existing = byFolder[c.folder]
		}
		if c.existing != nil {
			c.name = c.existing.Name
		}
	}
	for _, c := range cands {
		if c.existing != nil {
			continue
		}
		n := identifier(r.cfg.TablePrefix+c.name, 0)
		if f, ok := taken[n]; ok && f != c.folder {
			sum := sha1.Sum([]byte(r.location(c.folder)))
			n += "_" + hex.EncodeToString(sum[:4])
		}
		taken[n] = c.folder
		c.name = n
	}
}
