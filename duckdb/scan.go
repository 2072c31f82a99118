package duckdb

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
	"github.com/stocklake/stocklake/sqltext"
)

// scan is what one table reference reads: the table, the files left after
// pruning and, once staged, their local paths.
type scan struct {
	table  stocklake.Table
	keys   []hive.Type
	cols   []hive.Type
	files  []lakeFile
	parts  []stocklake.Partition // partition of each file (nil for unpartitioned tables)
	bytes  int64
	paths  []string // local paths, hive-style for partitioned tables
	view   string
	direct bool // paths spell the partition values as key=value folders
	// source are, per column, the names it may have in the files (an
	// Iceberg table's name mapping); nil: the column's name.
	source [][]string
}

// lakeFile is one object of the lake to read.
type lakeFile struct {
	info stocklake.ObjectInfo
	part int // index into scan.parts, or -1
}

// plan prunes the partitions of t for ref and lists the files to read.
func (q *query) plan(ctx context.Context, t stocklake.Table, ref *tableRef) (*scan, error) {
	s := &scan{table: t}
	for _, c := range t.Columns {
		ht, err := hive.ParseType(c.Type)
		if err != nil {
			return nil, fmt.Errorf("table %s.%s column %s: %w", t.Database, t.Name, c.Name, err)
		}
		s.cols = append(s.cols, ht)
	}
	for _, k := range t.PartitionKeys {
		ht, err := hive.ParseType(k.Type)
		if err != nil {
			return nil, fmt.Errorf("table %s.%s partition key %s: %w", t.Database, t.Name, k.Name, err)
		}
		s.keys = append(s.keys, ht)
	}
	tablePrefix, err := q.e.keyOf(t.Location)
	if err != nil {
		return nil, fmt.Errorf("table %s.%s: %w", t.Database, t.Name, err)
	}
	if len(t.PartitionKeys) == 0 {
		objs, err := q.e.cfg.Store.List(ctx, tablePrefix)
		if err != nil {
			return nil, fmt.Errorf("list table %s.%s at %s: %w", t.Database, t.Name, t.Location, err)
		}
		for _, o := range objs {
			if readable(tablePrefix, o) {
				s.files = append(s.files, lakeFile{info: o, part: -1})
				s.bytes += o.Size
			}
		}
		return s, nil
	}
	// A table with Athena partition projection has its partitions
	// computed from its properties, as Athena does: registered ones are
	// ignored.
	var all []stocklake.Partition
	if hive.Projected(t.Parameters) {
		all, err = hive.ProjectPartitions(t, time.Now())
	} else {
		all, err = q.e.cfg.Catalog.ListPartitions(ctx, t.Database, t.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s.%s: %w", t.Database, t.Name, err)
	}
	parts, err := q.prune(ctx, s, ref, all)
	if err != nil {
		return nil, err
	}
	s.parts = parts
	s.direct = true
	prefixes := make([]string, len(parts))
	under := true
	for i, p := range parts {
		k, err := q.e.keyOf(p.Location)
		if err != nil {
			return nil, fmt.Errorf("table %s.%s partition %s: %w", t.Database, t.Name, strings.Join(p.Values, "/"), err)
		}
		prefixes[i] = k
		under = under && strings.HasPrefix(k, tablePrefix)
		if !hiveStyle(strings.TrimPrefix(k, tablePrefix), t.PartitionKeys, p.Values) || !strings.HasPrefix(k, tablePrefix) {
			s.direct = false
		}
	}
	// One listing of the table when most partitions are read, else one per
	// partition.
	if under && len(parts) > 32 && len(parts)*2 > len(all) {
		objs, err := q.e.cfg.Store.List(ctx, tablePrefix)
		if err != nil {
			return nil, fmt.Errorf("list table %s.%s at %s: %w", t.Database, t.Name, t.Location, err)
		}
		byFolder := make(map[string]int, len(prefixes))
		for i, p := range prefixes {
			byFolder[p] = i
		}
		for _, o := range objs {
			i, ok := byFolder[o.Key[:strings.LastIndexByte(o.Key, '/')+1]]
			if ok && readable(prefixes[i], o) {
				s.files = append(s.files, lakeFile{info: o, part: i})
				s.bytes += o.Size
			}
		}
		return s, nil
	}
	lists := make([][]stocklake.ObjectInfo, len(parts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(q.e.cfg.Fetchers)
	for i := range parts {
		g.Go(func() error {
			objs, err := q.e.cfg.Store.List(gctx, prefixes[i])
			if err != nil {
				return fmt.Errorf("list partition %s of %s.%s: %w", parts[i].Location, t.Database, t.Name, err)
			}
			lists[i] = objs
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, objs := range lists {
		for _, o := range objs {
			if readable(prefixes[i], o) {
				s.files = append(s.files, lakeFile{info: o, part: i})
				s.bytes += o.Size
			}
		}
	}
	return s, nil
}

// readable reports whether an object directly in folder prefix is a data
// file, skipping what Hive, Athena and Trino skip: names starting with '.'
// or '_', checksums, folder markers and empty objects.
func readable(prefix string, o stocklake.ObjectInfo) bool {
	rest := strings.TrimPrefix(o.Key, prefix)
	if rest == o.Key && prefix != "" || strings.Contains(rest, "/") || rest == "" || o.Size == 0 {
		return false
	}
	return !strings.HasPrefix(rest, ".") && !strings.HasPrefix(rest, "_") &&
		!strings.HasSuffix(rest, ".crc") && !strings.HasSuffix(rest, "_$folder$")
}

// hiveStyle reports whether rel is "k1=v1/k2=v2/" for keys and values.
func hiveStyle(rel string, keys []stocklake.Column, values []string) bool {
	segs := strings.Split(strings.TrimSuffix(rel, "/"), "/")
	if len(segs) != len(keys) || len(values) != len(keys) {
		return false
	}
	for i, seg := range segs {
		k, v, ok := hive.SplitPartitionSegment(seg)
		if !ok || !strings.EqualFold(k, keys[i].Name) || v != values[i] {
			return false
		}
	}
	return true
}

// keyOf converts a location URL inside the lake to a key prefix ending in
// '/' ("" for the lake's root).
func (e *Engine) keyOf(loc string) (string, error) {
	l := strings.TrimSuffix(loc, "/")
	switch {
	case l == e.base:
		return "", nil
	case strings.HasPrefix(l, e.base+"/"):
		return strings.TrimPrefix(l, e.base+"/") + "/", nil
	}
	return "", fmt.Errorf("location %s is outside the lake %s; query it with a lake URL that contains it: %w", loc, e.base, stocklake.ErrConfig)
}

// prune keeps the partitions that can satisfy the conjuncts restricting
// ref, evaluated by DuckDB on a table of partition values.
func (q *query) prune(ctx context.Context, s *scan, ref *tableRef, parts []stocklake.Partition) ([]stocklake.Partition, error) {
	if len(parts) == 0 || len(ref.conjuncts) == 0 {
		return parts, nil
	}
	keys := map[string]string{}
	for _, k := range s.table.PartitionKeys {
		keys[strings.ToLower(k.Name)] = strings.ToLower(k.Name)
	}
	var conj []any
	for _, c := range ref.conjuncts {
		if u, ok := usable(c, ref, keys); ok {
			conj = append(conj, u)
		}
	}
	if len(conj) == 0 {
		return parts, nil
	}
	js, err := predicateStatement(q.e.template, conj)
	if err != nil {
		return parts, nil
	}
	var where string
	if err := q.conn.QueryRowContext(ctx, "SELECT json_deserialize_sql(?::VARCHAR::JSON)", js).Scan(&where); err != nil {
		q.e.log.Debug("duckdb: partition predicate not usable", "err", err)
		return parts, nil
	}
	var b strings.Builder
	b.WriteString("WITH stocklake_parts AS (SELECT CAST(c0 AS BIGINT) AS i")
	for i, k := range s.table.PartitionKeys {
		dt, err := duckType(s.keys[i])
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, ", TRY_CAST(NULLIF(c%d, '%s') AS %s) AS %s", i+1, hive.DefaultPartitionName, dt, sqltext.QuoteIdent(strings.ToLower(k.Name)))
	}
	b.WriteString(" FROM (VALUES ")
	for i, p := range parts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + strconv.Itoa(i))
		for j := range s.table.PartitionKeys {
			v := ""
			if j < len(p.Values) {
				v = p.Values[j]
			}
			b.WriteString(", " + sqltext.QuoteString(v))
		}
		b.WriteString(")")
	}
	b.WriteString(") AS v(c0")
	for i := range s.table.PartitionKeys {
		fmt.Fprintf(&b, ", c%d", i+1)
	}
	b.WriteString(")) ")
	b.WriteString(where)
	res, err := q.conn.QueryContext(ctx, b.String())
	if err != nil {
		if ctx.Err() != nil {
			return nil, q.e.wrap(ctx, err)
		}
		q.e.log.Debug("duckdb: partition predicate failed; reading every partition", "err", err)
		return parts, nil
	}
	defer res.Close()
	var kept []stocklake.Partition
	for res.Next() {
		var i int64
		if err := res.Scan(&i); err != nil {
			return parts, nil
		}
		kept = append(kept, parts[i])
	}
	if res.Err() != nil {
		return parts, nil
	}
	return kept, nil
}

// stage makes the files of s readable by DuckDB: local paths, downloaded
// into the cache for remote lakes, linked into key=value folders when the
// lake's folders do not spell the partition values.
func (q *query) stage(ctx context.Context, s *scan) error {
	if len(s.files) == 0 {
		return nil
	}
	paths := make([]string, len(s.files))
	if q.e.cache != nil {
		infos := make([]stocklake.ObjectInfo, len(s.files))
		for i, f := range s.files {
			infos[i] = f.info
		}
		p, release, err := q.e.cache.get(ctx, infos)
		if err != nil {
			return err
		}
		q.releases = append(q.releases, release)
		copy(paths, p)
	} else {
		for i, f := range s.files {
			paths[i] = filepath.Join(q.e.localRoot, filepath.FromSlash(f.info.Key))
		}
	}
	if len(s.parts) > 0 && !s.direct {
		if q.links == "" {
			q.links = filepath.Join(q.e.cfg.CacheDir, "links", fmt.Sprintf("%d-%d", os.Getpid(), q.id))
		}
		root := filepath.Join(q.links, s.view)
		for i, f := range s.files {
			dir := root
			for j, k := range s.table.PartitionKeys {
				v := ""
				if j < len(s.parts[f.part].Values) {
					v = s.parts[f.part].Values[j]
				}
				dir = filepath.Join(dir, hive.PartitionPath([]string{k.Name}, []string{v}))
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("duckdb: link files: %w", err)
			}
			link := filepath.Join(dir, strconv.Itoa(i)+"_"+path.Base(f.info.Key))
			if err := os.Symlink(paths[i], link); err != nil {
				return fmt.Errorf("duckdb: link files: %w", err)
			}
			paths[i] = link
		}
	}
	s.paths = paths
	return nil
}

// missingColumn matches DuckDB's error for a column no file has.
var missingColumn = regexp.MustCompile(`(?:Referenced column|Column) "([^"]+)" (?:not found|referenced that exists in the SELECT clause)`)

// createView creates the temporary view that replaces a table reference.
// Catalog columns that no file of the scan has read as NULL, as in Athena.
func (q *query) createView(ctx context.Context, s *scan) error {
	absent := map[string]bool{}
	for range len(s.table.Columns) + 1 {
		sqlText, err := q.viewSQL(ctx, s, absent)
		if err != nil {
			return err
		}
		_, err = q.conn.ExecContext(ctx, "CREATE TEMP VIEW "+sqltext.QuoteIdent(s.view)+" AS "+sqlText)
		if err == nil {
			q.views = append(q.views, s.view)
			return nil
		}
		m := missingColumn.FindStringSubmatch(err.Error())
		if m == nil || absent[strings.ToLower(m[1])] {
			return fmt.Errorf("reading %s.%s: %w", s.table.Database, s.table.Name, q.e.wrap(ctx, err))
		}
		absent[strings.ToLower(m[1])] = true
	}
	return fmt.Errorf("reading %s.%s: columns missing from its files: %w", s.table.Database, s.table.Name, stocklake.ErrInvalid)
}

// viewSQL is the SELECT of a scan's view.
func (q *query) viewSQL(ctx context.Context, s *scan, absent map[string]bool) (string, error) {
	t := s.table
	keyNames := map[string]bool{}
	for _, k := range t.PartitionKeys {
		keyNames[strings.ToLower(k.Name)] = true
	}
	var sel []string
	var srcCols []string // columns clause of read_json / read_csv
	var schema parquetSchema
	// fileCol is the column read_parquet adds with each row's file path,
	// from which the partition values are taken.
	fileCol := "filename"
	for n := 1; ; n++ {
		taken := keyNames[fileCol]
		for _, c := range t.Columns {
			taken = taken || strings.EqualFold(c.Name, fileCol)
		}
		if !taken {
			break
		}
		fileCol = "stocklake_filename_" + strconv.Itoa(n)
	}
	jsonKeys := map[string]string{}
	if t.Format == stocklake.FormatJSON && len(s.paths) > 0 {
		jsonKeys = q.jsonKeys(ctx, s.paths[0])
	}
	for i, c := range t.Columns {
		name := strings.ToLower(c.Name)
		dt, err := duckType(s.cols[i])
		if err != nil {
			return "", fmt.Errorf("table %s.%s column %s: %w", t.Database, t.Name, c.Name, err)
		}
		out := sqltext.QuoteIdent(name)
		switch {
		case keyNames[name]:
			continue
		case len(s.paths) == 0 || absent[name]:
			sel = append(sel, "CAST(NULL AS "+dt+") AS "+out)
		case t.Format == stocklake.FormatJSON:
			src := name
			if m := t.SerDeParams["mapping."+name]; m != "" {
				src = m
			}
			if k, ok := jsonKeys[strings.ToLower(src)]; ok {
				src = k
			}
			if !s.cols[i].Complex() {
				srcCols = append(srcCols, sqltext.QuoteString(src)+": 'VARCHAR'")
				sel = append(sel, "TRY_CAST("+sqltext.QuoteIdent(src)+" AS "+dt+") AS "+out)
			} else {
				srcCols = append(srcCols, sqltext.QuoteString(src)+": "+sqltext.QuoteString(dt))
				sel = append(sel, sqltext.QuoteIdent(src)+" AS "+out)
			}
		case t.Format == stocklake.FormatCSV:
			src := fmt.Sprintf("c%d", i)
			srcCols = append(srcCols, sqltext.QuoteString(src)+": 'VARCHAR'")
			if dt == "VARCHAR" {
				sel = append(sel, sqltext.QuoteIdent(src)+" AS "+out)
			} else {
				sel = append(sel, "TRY_CAST("+sqltext.QuoteIdent(src)+" AS "+dt+") AS "+out)
			}
		case s.source != nil:
			var names []string
			for _, n := range s.source[i] {
				if !absent[strings.ToLower(n)] {
					names = append(names, sqltext.QuoteIdent(n))
					schema.add(n, dt)
				}
			}
			switch len(names) {
			case 0:
				sel = append(sel, "CAST(NULL AS "+dt+") AS "+out)
			case 1:
				sel = append(sel, "CAST("+names[0]+" AS "+dt+") AS "+out)
			default:
				sel = append(sel, "CAST(COALESCE("+strings.Join(names, ", ")+") AS "+dt+") AS "+out)
			}
		default:
			sel = append(sel, "CAST("+sqltext.QuoteIdent(c.Name)+" AS "+dt+") AS "+out)
			schema.add(c.Name, dt)
		}
	}
	var hiveTypes []string
	for i, k := range t.PartitionKeys {
		dt, err := duckType(s.keys[i])
		if err != nil {
			return "", fmt.Errorf("table %s.%s partition key %s: %w", t.Database, t.Name, k.Name, err)
		}
		name := sqltext.QuoteIdent(strings.ToLower(k.Name))
		hiveTypes = append(hiveTypes, sqltext.QuoteString(strings.ToLower(k.Name))+": VARCHAR")
		switch {
		case len(s.paths) == 0:
			sel = append(sel, "CAST(NULL AS "+dt+") AS "+name)
		case t.Format == stocklake.FormatParquet:
			sel = append(sel, "TRY_CAST(NULLIF("+folderValue(sqltext.QuoteIdent(fileCol), i, len(t.PartitionKeys))+", '"+hive.DefaultPartitionName+"') AS "+dt+") AS "+name)
		default:
			sel = append(sel, "TRY_CAST(NULLIF("+name+", '"+hive.DefaultPartitionName+"') AS "+dt+") AS "+name)
		}
	}
	if len(sel) == 0 {
		return "", fmt.Errorf("table %s.%s has no columns: crawl it again or fix its definition: %w", t.Database, t.Name, stocklake.ErrInvalid)
	}
	if len(s.paths) == 0 {
		return "SELECT " + strings.Join(sel, ", ") + " LIMIT 0", nil
	}
	quoted := make([]string, len(s.paths))
	for i, p := range s.paths {
		quoted[i] = sqltext.QuoteString(p)
	}
	files := "[" + strings.Join(quoted, ", ") + "]"
	hiveOpts := "hive_partitioning = false"
	if len(t.PartitionKeys) > 0 {
		hiveOpts = "hive_partitioning = true, hive_types = {" + strings.Join(hiveTypes, ", ") + "}, hive_types_autocast = false"
	}
	var from string
	switch t.Format {
	case stocklake.FormatParquet:
		// The catalog's columns are the files' schema, matched by name: no
		// file is opened before the scan (union_by_name would open every
		// one while binding, and again for every bind of the view), and a
		// column a file lacks reads as NULL. Partition values come from the
		// key=value folders of the paths (stage made them so), through the
		// filename column, which DuckDB also prunes files by.
		opts := "hive_partitioning = false"
		if len(schema.entries) > 0 {
			opts += ", schema = MAP {" + strings.Join(schema.entries, ", ") + "}"
		}
		if len(t.PartitionKeys) > 0 {
			opts += ", filename = " + sqltext.QuoteString(fileCol)
		}
		from = fmt.Sprintf("read_parquet(%s, %s, binary_as_string = true)", files, opts)
	case stocklake.FormatJSON:
		from = fmt.Sprintf("read_json(%s, %s, format = 'newline_delimited', columns = {%s}, maximum_object_size = 134217728)",
			files, hiveOpts, strings.Join(srcCols, ", "))
	case stocklake.FormatCSV:
		delim := firstNonEmpty(t.SerDeParams["field.delim"], t.SerDeParams["separatorChar"], t.Parameters["delimiter"], ",")
		quote := firstNonEmpty(t.SerDeParams["quoteChar"], `"`)
		escape := firstNonEmpty(t.SerDeParams["escapeChar"], quote)
		header := t.Parameters["skip.header.line.count"] == "1" || t.SerDeParams["skip.header.line.count"] == "1"
		from = fmt.Sprintf("read_csv(%s, %s, header = %t, delim = %s, quote = %s, escape = %s, columns = {%s}, auto_detect = false, null_padding = true, nullstr = '\\N')",
			files, hiveOpts, header, sqltext.QuoteString(delim), sqltext.QuoteString(quote), sqltext.QuoteString(escape), strings.Join(srcCols, ", "))
	default:
		return "", fmt.Errorf("table %s.%s has format %q: only parquet, json and csv tables can be queried: %w", t.Database, t.Name, t.Format, stocklake.ErrInvalid)
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM " + from, nil
}

// parquetSchema is read_parquet's schema parameter: file columns by name
// (each once, case-insensitively) with their DuckDB types, NULL where a
// file lacks them.
type parquetSchema struct {
	entries []string
	seen    map[string]bool
}

func (p *parquetSchema) add(name, duckType string) {
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	if p.seen[strings.ToLower(name)] {
		return
	}
	p.seen[strings.ToLower(name)] = true
	p.entries = append(p.entries, fmt.Sprintf("%s: {name: %s, type: %s, default_value: NULL}",
		sqltext.QuoteString(name), sqltext.QuoteString(name), sqltext.QuoteString(duckType)))
}

// folderValue is the SQL of the value in the k-th (from 0) of the n
// key=value folders that end the path of a file (the SQL expression path),
// unescaped as DuckDB's hive_partitioning does (URL decoding).
func folderValue(path string, k, n int) string {
	const sep, seg = `[/\\]`, `[^/\\]*`
	re := "=(" + seg + ")" + sep + strings.Repeat(seg+sep, n-1-k) + seg + "$"
	return "url_decode(regexp_extract(" + path + ", " + sqltext.QuoteString(re) + ", 1))"
}

// jsonKeys maps the lower-cased keys of the first objects of a JSON lines
// file to their spelling, so columns match keys case-insensitively.
func (q *query) jsonKeys(ctx context.Context, file string) map[string]string {
	out := map[string]string{}
	res, err := q.conn.QueryContext(ctx, "SELECT DISTINCT unnest(json_keys(json)) FROM (SELECT json FROM read_ndjson_objects(?) LIMIT 1000)", file)
	if err != nil {
		q.e.log.Debug("duckdb: reading JSON keys", "file", file, "err", err)
		return out
	}
	defer res.Close()
	for res.Next() {
		var k string
		if res.Scan(&k) == nil {
			if _, dup := out[strings.ToLower(k)]; !dup {
				out[strings.ToLower(k)] = k
			}
		}
	}
	return out
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
