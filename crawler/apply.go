package crawler

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
)

// partitionBatch bounds how many partitions go to the catalog in one call.
const partitionBatch = 1000

func (r *crawl) apply(ctx context.Context, cands []*candidate) error {
	matched := map[string]bool{}
	for _, c := range cands {
		if err := r.applyTable(ctx, c); err != nil {
			return err
		}
		matched[c.name] = true
	}
	return r.goneTables(ctx, matched)
}

// define builds the table definition that the files of c call for, or nil
// when c has no files read this crawl.
func (r *crawl) define(c *candidate) *stocklake.Table {
	if len(c.files) == 0 {
		return nil
	}
	format := c.files[0].format
	comp := map[string]int{}
	var schema *dtype
	var multiline, array, quoted, header bool
	var delim rune
	var noExt []string
	for _, f := range c.files {
		comp[f.compression]++
		multiline = multiline || f.multiline
		array = array || f.array
		if f.compression != compNone {
			base, _, _ := extHints(f.Key)
			if strings.ToLower(path.Base(f.Key)) == base {
				noExt = append(noExt, f.Key)
			}
		}
		if format == stocklake.FormatCSV {
			delim, header = f.csv.delim, f.csv.header
			quoted = quoted || f.csv.quoted
			schema = widenPositional(schema, f.schema)
		} else {
			schema = widen(schema, f.schema)
		}
	}
	compression := compNone
	for k, n := range comp {
		if n > comp[compression] || n == comp[compression] && k < compression {
			compression = k
		}
	}

	t := &stocklake.Table{
		Database:    r.cfg.Database,
		Name:        c.name,
		Location:    r.location(c.folder),
		Format:      format,
		SerDeParams: map[string]string{},
		Parameters: map[string]string{
			"classification":                format,
			"compressionType":               compression,
			"typeOfData":                    "file",
			stocklake.ParamUpdatedByCrawler: r.cfg.Name,
		},
	}
	seen := map[string]bool{}
	if c.existing != nil && len(c.existing.PartitionKeys) == len(c.keys) {
		t.PartitionKeys = slices.Clone(c.existing.PartitionKeys)
		for _, k := range t.PartitionKeys {
			seen[strings.ToLower(k.Name)] = true
		}
	} else {
		for i, k := range c.keys {
			t.PartitionKeys = append(t.PartitionKeys, stocklake.Column{Name: uniqueName(identifier(k, i), seen), Type: "string"})
		}
	}
	keys := maps.Clone(seen)
	for i, f := range schema.fields {
		var n string
		if format == stocklake.FormatParquet {
			n = strings.ToLower(f.name)
		} else {
			n = identifier(f.name, i)
		}
		if keys[n] {
			r.note("table %s: column %s has the name of a partition key; the key's folder values are used", c.name, n)
			continue
		}
		n = uniqueName(n, seen)
		typ := f.t.hive()
		if format == stocklake.FormatCSV && quoted {
			typ = "string"
		}
		t.Columns = append(t.Columns, stocklake.Column{Name: n, Type: typ})
		if format == stocklake.FormatJSON && n != strings.ToLower(f.name) {
			t.SerDeParams["mapping."+n] = strings.ToLower(f.name)
		}
	}

	switch format {
	case stocklake.FormatParquet:
		t.InputFormat, t.OutputFormat, t.SerDe, _ = hive.Storage(format)
		t.SerDeParams["serialization.format"] = "1"
	case stocklake.FormatJSON:
		t.InputFormat, t.OutputFormat, t.SerDe, _ = hive.Storage(format)
		if multiline || array {
			r.note("table %s: JSON records span several lines or sit in a top-level array; Athena and Trino read one object per line, so rewrite these files as JSON lines",
				c.name)
		}
	case stocklake.FormatCSV:
		d := string(delim)
		t.InputFormat, t.OutputFormat, _, _ = hive.Storage(format)
		t.Parameters["delimiter"] = d
		t.Parameters["columnsOrdered"] = "true"
		t.Parameters["areColumnsQuoted"] = strconv.FormatBool(quoted)
		if header {
			t.Parameters["skip.header.line.count"] = "1"
		}
		if quoted {
			// LazySimpleSerDe does not understand quotes; OpenCSVSerde does,
			// and Trino reads it when every column is a string.
			t.SerDe = hive.OpenCSVSerDe
			t.SerDeParams["separatorChar"] = d
			t.SerDeParams["quoteChar"] = `"`
			t.SerDeParams["escapeChar"] = `\`
		} else {
			t.SerDe = hive.LazySimpleSerDe
			t.SerDeParams["field.delim"] = d
			t.SerDeParams["serialization.format"] = d
		}
	}
	if len(noExt) > 0 {
		r.note("table %s: %d %s-compressed files lack the matching extension (.gz/.zst), e.g. %s; Athena and Trino choose the codec by extension",
			c.name, len(noExt), compression, noExt[0])
	}
	return t
}

// widenPositional merges CSV schemas column by column: names come from the
// widest file, types widen by position.
func widenPositional(a, b *dtype) *dtype {
	if a == nil {
		return b
	}
	wide, narrow := a, b
	if len(b.fields) > len(a.fields) {
		wide, narrow = b, a
	}
	out := &dtype{kind: kStruct, fields: slices.Clone(wide.fields)}
	for i := range narrow.fields {
		out.fields[i].t = widen(out.fields[i].t, narrow.fields[i].t)
	}
	return out
}

// merge combines an existing table with a newly inferred definition:
// columns are never dropped, their types widen, new columns are appended,
// and parameters the crawler does not set are kept.
func merge(old stocklake.Table, def *stocklake.Table) stocklake.Table {
	m := old
	m.Parameters = maps.Clone(old.Parameters)
	if m.Parameters == nil {
		m.Parameters = map[string]string{}
	}
	maps.Copy(m.Parameters, def.Parameters)
	delete(m.Parameters, stocklake.ParamDeprecatedByCrawler)
	m.Location = def.Location
	if len(old.PartitionKeys) != len(def.PartitionKeys) {
		m.PartitionKeys = def.PartitionKeys
	}
	if old.Format != def.Format || old.SerDe != def.SerDe {
		m.Format, m.InputFormat, m.OutputFormat, m.SerDe = def.Format, def.InputFormat, def.OutputFormat, def.SerDe
		m.SerDeParams = def.SerDeParams
		m.Columns = def.Columns
		return m
	}
	m.InputFormat, m.OutputFormat = def.InputFormat, def.OutputFormat
	m.SerDeParams = maps.Clone(old.SerDeParams)
	if m.SerDeParams == nil {
		m.SerDeParams = map[string]string{}
	}
	maps.Copy(m.SerDeParams, def.SerDeParams)

	m.Columns = slices.Clone(old.Columns)
	if def.Format == stocklake.FormatCSV {
		for i, dc := range def.Columns {
			if i < len(m.Columns) {
				m.Columns[i].Type = widen(parseHive(m.Columns[i].Type), parseHive(dc.Type)).hive()
			} else {
				m.Columns = append(m.Columns, dc)
			}
		}
		return m
	}
	index := map[string]int{}
	for i, c := range m.Columns {
		index[strings.ToLower(c.Name)] = i
	}
	for _, dc := range def.Columns {
		if i, ok := index[dc.Name]; ok {
			m.Columns[i].Type = widen(parseHive(m.Columns[i].Type), parseHive(dc.Type)).hive()
			continue
		}
		m.Columns = append(m.Columns, dc)
	}
	return m
}

// diff describes how table b differs from a, or returns nil.
func diff(a, b stocklake.Table) []string {
	var out []string
	if a.Format != b.Format || a.SerDe != b.SerDe || a.InputFormat != b.InputFormat || a.OutputFormat != b.OutputFormat {
		out = append(out, fmt.Sprintf("format %s (%s) -> %s (%s)", a.Format, a.SerDe, b.Format, b.SerDe))
	}
	if a.Location != b.Location {
		out = append(out, fmt.Sprintf("location %s -> %s", a.Location, b.Location))
	}
	old := map[string]string{}
	for _, c := range a.Columns {
		old[strings.ToLower(c.Name)] = c.Type
	}
	var added, changed []string
	for _, c := range b.Columns {
		t, ok := old[strings.ToLower(c.Name)]
		switch {
		case !ok:
			added = append(added, c.Name+" "+c.Type)
		case t != c.Type:
			changed = append(changed, fmt.Sprintf("%s %s -> %s", c.Name, t, c.Type))
		}
	}
	if len(added) > 0 {
		out = append(out, "new columns "+strings.Join(added, ", "))
	}
	if len(changed) > 0 {
		out = append(out, "wider types "+strings.Join(changed, ", "))
	}
	if len(b.Columns) < len(a.Columns) {
		out = append(out, fmt.Sprintf("%d columns -> %d", len(a.Columns), len(b.Columns)))
	}
	if !slices.Equal(a.PartitionKeys, b.PartitionKeys) {
		out = append(out, fmt.Sprintf("partition keys %s -> %s", colNames(a.PartitionKeys), colNames(b.PartitionKeys)))
	}
	if !maps.Equal(a.SerDeParams, b.SerDeParams) && !(len(a.SerDeParams) == 0 && len(b.SerDeParams) == 0) {
		out = append(out, "SerDe parameters")
	}
	if !maps.Equal(a.Parameters, b.Parameters) && !(len(a.Parameters) == 0 && len(b.Parameters) == 0) {
		var keys []string
		for k, v := range b.Parameters {
			if a.Parameters[k] != v {
				keys = append(keys, k+"="+v)
			}
		}
		for k := range a.Parameters {
			if _, ok := b.Parameters[k]; !ok {
				keys = append(keys, "-"+k)
			}
		}
		slices.Sort(keys)
		out = append(out, "parameters "+strings.Join(keys, ", "))
	}
	return out
}

func colNames(cols []stocklake.Column) string {
	var s []string
	for _, c := range cols {
		s = append(s, c.Name)
	}
	return "(" + strings.Join(s, ", ") + ")"
}

func valuesKey(v []string) string { return strings.Join(v, "\x00") }

// applyTable creates or updates one table and brings its partitions in
// line with the folders found.
func (r *crawl) applyTable(ctx context.Context, c *candidate) error {
	def := r.define(c)
	var current stocklake.Table
	switch {
	case c.existing == nil && def == nil:
		return nil
	case c.existing == nil:
		r.project(def, c)
		if err := r.cat.CreateTable(ctx, *def); err != nil {
			return fmt.Errorf("crawler: creating table %s: %w", def.Name, err)
		}
		r.run.TablesCreated = append(r.run.TablesCreated, def.Name)
		current = *def
	default:
		current = *c.existing
		if def != nil {
			if !hive.Projected(current.Parameters) {
				r.project(def, c)
			}
			m := merge(current, def)
			if changes := diff(current, m); len(changes) > 0 {
				if r.cfg.SchemaChangePolicy == LogSchema {
					r.note("table %s changed: %s; not updated (schema change policy log)", c.name, strings.Join(changes, "; "))
				} else {
					if err := r.cat.UpdateTable(ctx, m); err != nil {
						return fmt.Errorf("crawler: updating table %s: %w", c.name, err)
					}
					r.run.TablesUpdated = append(r.run.TablesUpdated, c.name)
					r.note("table %s updated: %s", c.name, strings.Join(changes, "; "))
					current = m
				}
			}
		}
	}
	if hive.Projected(current.Parameters) {
		// Athena computes its partitions; registered ones would be
		// ignored, so none are added or removed.
		r.note("table %s uses partition projection: partitions left to the projection", c.name)
		return nil
	}
	if len(current.PartitionKeys) != len(c.keys) {
		r.note("table %s has %d partition keys but its folders are %d levels deep; partitions left alone",
			c.name, len(current.PartitionKeys), len(c.keys))
		return nil
	}
	if len(c.keys) == 0 {
		return nil
	}

	var have []stocklake.Partition
	if c.existing != nil {
		var err error
		if have, err = r.cat.ListPartitions(ctx, r.cfg.Database, c.name); err != nil {
			return fmt.Errorf("crawler: listing partitions of %s: %w", c.name, err)
		}
		if len(c.existing.PartitionKeys) != len(current.PartitionKeys) && len(have) > 0 {
			// The keys changed: the old partitions' values no longer fit.
			vals := make([][]string, len(have))
			for i, p := range have {
				vals[i] = p.Values
			}
			for chunk := range slices.Chunk(vals, partitionBatch) {
				if err := r.cat.DeletePartitions(ctx, r.cfg.Database, c.name, chunk); err != nil {
					return fmt.Errorf("crawler: deleting partitions of %s: %w", c.name, err)
				}
			}
			r.note("table %s: partition keys changed, so its %d old partitions were replaced", c.name, len(have))
			have = nil
		}
	}
	haveBy := map[string]stocklake.Partition{}
	for _, p := range have {
		haveBy[valuesKey(p.Values)] = p
	}
	var add []stocklake.Partition
	var unmark [][]string
	for _, p := range c.parts {
		old, ok := haveBy[valuesKey(p.values)]
		if ok && old.Parameters[stocklake.ParamDeprecatedByCrawler] == "" {
			continue
		}
		if ok {
			unmark = append(unmark, p.values)
		} else {
			r.run.PartitionsAdded++
		}
		loc := r.location(p.folder)
		if merged, ok := r.relocated[p.folder]; ok {
			loc = r.location(merged)
		}
		add = append(add, stocklake.Partition{Values: p.values, Location: loc})
	}

	var gone []stocklake.Partition
	if len(r.files) > 0 {
		for _, p := range have {
			f, ours := r.folderOf(p.Location)
			if ours && !r.present[f] {
				gone = append(gone, p)
			}
		}
	}
	if err := r.removePartitions(ctx, c.name, gone); err != nil {
		return err
	}
	if len(unmark) > 0 {
		if err := r.cat.DeletePartitions(ctx, r.cfg.Database, c.name, unmark); err != nil {
			return fmt.Errorf("crawler: clearing deprecated partitions of %s: %w", c.name, err)
		}
		r.note("table %s: %d deprecated partitions have data again", c.name, len(unmark))
	}
	for chunk := range slices.Chunk(add, partitionBatch) {
		if err := r.cat.AddPartitions(ctx, r.cfg.Database, c.name, chunk); err != nil {
			return fmt.Errorf("crawler: adding partitions to %s: %w", c.name, err)
		}
	}
	return nil
}

// project adds Athena partition projection properties to def when the
// crawl asks for them and def's keys are the sink's time keys; the dates
// start at the earliest dt among c's partitions.
func (r *crawl) project(def *stocklake.Table, c *candidate) {
	if !r.cfg.Projection || def == nil {
		return
	}
	keys := make([]string, len(def.PartitionKeys))
	for i, k := range def.PartitionKeys {
		keys[i] = strings.ToLower(k.Name)
	}
	start := time.Now().UTC()
	for _, p := range c.parts {
		if d := firstDay(p.values); d.Before(start) {
			start = d
		}
	}
	if err := setProjection(def, keys, start); err != nil {
		r.note("no partition projection: %v", err)
	}
}

// removePartitions applies the delete policy to partitions whose folders
// are gone.
func (r *crawl) removePartitions(ctx context.Context, table string, gone []stocklake.Partition) error {
	if len(gone) == 0 {
		return nil
	}
	switch r.cfg.DeletePolicy {
	case LogMissing:
		r.note("table %s: %d partitions have no data any more, e.g. %s; kept (delete policy log)", table, len(gone), gone[0].Location)
		return nil
	case DeleteMissing:
		vals := make([][]string, len(gone))
		for i, p := range gone {
			vals[i] = p.Values
		}
		for chunk := range slices.Chunk(vals, partitionBatch) {
			if err := r.cat.DeletePartitions(ctx, r.cfg.Database, table, chunk); err != nil {
				return fmt.Errorf("crawler: deleting partitions of %s: %w", table, err)
			}
		}
		r.run.PartitionsRemoved += len(gone)
		return nil
	}
	// MarkMissing: rewrite the partitions with the parameter set.
	var mark []stocklake.Partition
	var vals [][]string
	for _, p := range gone {
		if p.Parameters[stocklake.ParamDeprecatedByCrawler] != "" {
			continue
		}
		p.Parameters = maps.Clone(p.Parameters)
		if p.Parameters == nil {
			p.Parameters = map[string]string{}
		}
		p.Parameters[stocklake.ParamDeprecatedByCrawler] = r.run.ID
		mark = append(mark, p)
		vals = append(vals, p.Values)
	}
	if len(mark) == 0 {
		return nil
	}
	for chunk := range slices.Chunk(vals, partitionBatch) {
		if err := r.cat.DeletePartitions(ctx, r.cfg.Database, table, chunk); err != nil {
			return fmt.Errorf("crawler: marking partitions of %s: %w", table, err)
		}
	}
	for chunk := range slices.Chunk(mark, partitionBatch) {
		if err := r.cat.AddPartitions(ctx, r.cfg.Database, table, chunk); err != nil {
			return fmt.Errorf("crawler: marking partitions of %s: %w", table, err)
		}
	}
	r.run.PartitionsRemoved += len(mark)
	return nil
}

// goneTables applies the delete policy to tables this crawler made whose
// folders hold no data any more.
func (r *crawl) goneTables(ctx context.Context, matched map[string]bool) error {
	for _, t := range r.tables {
		if matched[t.Name] || t.Parameters[stocklake.ParamUpdatedByCrawler] == "" {
			continue
		}
		if len(r.files) == 0 {
			r.note("the lake at %s looks empty: delete policy not applied to table %s", r.lakeURL, t.Name)
			continue
		}
		folder, _ := r.folderOf(t.Location)
		if r.present[folder] {
			r.note("table %s at %s no longer matches the layout found; left alone (delete it, or set the table level)", t.Name, t.Location)
			continue
		}
		switch r.cfg.DeletePolicy {
		case LogMissing:
			r.note("table %s: %s has no data any more; kept (delete policy log)", t.Name, t.Location)
		case DeleteMissing:
			if err := r.cat.DeleteTable(ctx, t.Database, t.Name); err != nil {
				return fmt.Errorf("crawler: deleting table %s: %w", t.Name, err)
			}
			r.run.TablesDeleted = append(r.run.TablesDeleted, t.Name)
		case MarkMissing:
			if t.Parameters[stocklake.ParamDeprecatedByCrawler] != "" {
				continue
			}
			m := t
			m.Parameters = maps.Clone(t.Parameters)
			m.Parameters[stocklake.ParamDeprecatedByCrawler] = r.run.ID
			if err := r.cat.UpdateTable(ctx, m); err != nil {
				return fmt.Errorf("crawler: marking table %s: %w", t.Name, err)
			}
			r.run.TablesDeleted = append(r.run.TablesDeleted, t.Name)
		}
	}
	return nil
}
