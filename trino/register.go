package trino

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
	"github.com/stocklake/stocklake/sqltext"
)

// FingerprintProperty is the table parameter (Trino's extra_properties) in
// which the Engine records a digest of the definition it registered, so a
// later Engine knows whether the table is current without recreating it.
const FingerprintProperty = "stocklake.fingerprint"

// bulkPartitions is how many missing partitions make the Engine first let
// Trino discover partition folders itself (sync_partition_metadata), which
// is one call instead of one per partition.
const bulkPartitions = 8

// registered is what the Engine has registered in Trino for one table.
type registered struct {
	fingerprint string
	// parts maps the partitions Trino has (values joined by partSep) to
	// the location registered, or "" when not known; nil until loaded.
	parts map[string]string
}

const partSep = "\x00"

// Sync makes the Trino catalog show the stocklake catalog as it is now:
// it creates a schema per database, creates the tables that are missing,
// recreates those whose definition changed, drops those that are gone (as
// external tables: their data stays) and adds or removes partitions.
//
// A table that cannot be registered (e.g. a column type or format Trino's
// Hive connector does not read) is skipped; the returned error then lists
// such tables and queries that use them report why.
func (e *Engine) Sync(ctx context.Context) error {
	if e.cfg.Catalog == nil {
		return nil
	}
	e.syncMu.Lock()
	defer e.syncMu.Unlock()

	dbs, err := e.cfg.Catalog.ListDatabases(ctx)
	if err != nil {
		return fmt.Errorf("trino: listing catalog databases: %w", err)
	}
	want := map[string]stocklake.Table{}
	iceberg := map[string]error{} // Iceberg tables: not registered, and why
	var dbNames []string
	for _, db := range dbs {
		tables, err := e.cfg.Catalog.ListTables(ctx, db.Name)
		if err != nil {
			return fmt.Errorf("trino: listing tables of database %s: %w", db.Name, err)
		}
		dbNames = append(dbNames, strings.ToLower(db.Name))
		for _, t := range tables {
			if t.Database == "" {
				t.Database = db.Name
			}
			key := tableKey(t.Database, t.Name)
			if t.IsIceberg() {
				// Trino's Iceberg connector reads it from the catalog
				// itself: nothing to register, and a Hive table over its
				// folder would read uncommitted and deleted files.
				iceberg[key] = &tableError{err: fmt.Errorf("an Iceberg table: query it as %s.%s.%s (Trino's Iceberg connector on the same catalog)",
					sqltext.QuoteIdent(e.cfg.IcebergCatalog), sqltext.QuoteIdent(strings.ToLower(t.Database)), sqltext.QuoteIdent(strings.ToLower(t.Name)))}
				continue
			}
			want[key] = t
		}
	}
	if !e.known {
		if err := e.loadState(ctx, dbNames); err != nil {
			return err
		}
		e.known = true
	}

	// Tables that left the catalog.
	for _, key := range sortedKeys(e.state) {
		if _, ok := want[key]; ok {
			continue
		}
		db, name, _ := strings.Cut(key, ".")
		if err := e.exec(ctx, "DROP TABLE IF EXISTS "+e.qualified(db, name)); err != nil {
			return fmt.Errorf("trino: dropping table %s, gone from the catalog: %w", key, err)
		}
		delete(e.state, key)
		delete(e.skip, key)
	}

	for key, why := range iceberg {
		e.skip[key] = why
	}
	var failed []error
	for _, key := range sortedKeys(want) {
		t := want[key]
		if err := e.syncTable(ctx, key, t); err != nil {
			if !isTableError(err) {
				return err
			}
			e.skip[key] = err
			failed = append(failed, fmt.Errorf("%s: %w", key, err))
			continue
		}
		delete(e.skip, key)
	}
	if len(failed) > 0 {
		return &tableErrors{errs: failed}
	}
	return nil
}

// syncTable registers one table and its partitions.
func (e *Engine) syncTable(ctx context.Context, key string, t stocklake.Table) error {
	db := strings.ToLower(t.Database)
	if !e.schemas[db] {
		if err := e.exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+sqltext.QuoteIdent(e.cfg.TrinoCatalog)+"."+sqltext.QuoteIdent(db)); err != nil {
			return fmt.Errorf("trino: creating schema %s: %w", db, err)
		}
		e.schemas[db] = true
	}
	ddl, fp, err := e.tableDDL(t)
	if err != nil {
		if _, ok := e.state[key]; ok {
			// Do not leave an outdated definition behind.
			if derr := e.exec(ctx, "DROP TABLE IF EXISTS "+e.qualified(db, t.Name)); derr == nil {
				delete(e.state, key)
			}
		}
		return err
	}
	reg := e.state[key]
	if reg == nil || reg.fingerprint != fp {
		if err := e.exec(ctx, "DROP TABLE IF EXISTS "+e.qualified(db, t.Name)); err != nil {
			return fmt.Errorf("trino: dropping outdated table %s: %w", key, err)
		}
		delete(e.state, key)
		err := e.exec(ctx, ddl)
		if p := configuredPrecision(err); p != 0 && p != e.tsPrecision {
			// The server reads timestamps at another precision: use it
			// from now on.
			e.tsPrecision = p
			if ddl, fp, err = e.tableDDL(t); err != nil {
				return err
			}
			err = e.exec(ctx, ddl)
		}
		if err != nil {
			var qe *queryError
			if errors.As(err, &qe) && errors.Is(err, stocklake.ErrInvalid) {
				return &tableError{err: fmt.Errorf("Trino refused the table definition: %w", err)}
			}
			return fmt.Errorf("trino: creating table %s: %w", key, err)
		}
		reg = &registered{fingerprint: fp, parts: map[string]string{}}
		e.state[key] = reg
	}
	if len(t.PartitionKeys) == 0 {
		return nil
	}
	return e.syncPartitions(ctx, key, t, reg)
}

// syncPartitions makes Trino's partitions of a table those of the catalog.
func (e *Engine) syncPartitions(ctx context.Context, key string, t stocklake.Table, reg *registered) error {
	parts, err := e.cfg.Catalog.ListPartitions(ctx, t.Database, t.Name)
	if err != nil {
		return fmt.Errorf("trino: listing partitions of %s: %w", key, err)
	}
	want := map[string]stocklake.Partition{}
	locs := map[string]string{} // partition -> location for Trino
	for _, p := range parts {
		if len(p.Values) != len(t.PartitionKeys) {
			continue
		}
		if _, gone := p.Parameters[stocklake.ParamDeprecatedByCrawler]; gone {
			continue
		}
		loc, err := e.partitionLocation(t.Location, p.Location)
		if err != nil {
			return &tableError{err: fmt.Errorf("partition %s: %w", strings.Join(p.Values, "/"), err)}
		}
		k := strings.Join(p.Values, partSep)
		want[k] = p
		locs[k] = loc
	}
	if reg.parts == nil {
		if reg.parts, err = e.trinoPartitions(ctx, t); err != nil {
			return err
		}
	}
	missing, extra := diffPartitions(locs, reg.parts)
	if len(missing) >= bulkPartitions && canonical(t, want, missing) {
		// One call lets Trino find every key=value folder; the loop below
		// then removes any folder the catalog does not list.
		call := fmt.Sprintf("CALL %s.system.sync_partition_metadata(schema_name => %s, table_name => %s, mode => 'ADD', case_sensitive => true)",
			sqltext.QuoteIdent(e.cfg.TrinoCatalog), sqltext.QuoteString(strings.ToLower(t.Database)), sqltext.QuoteString(strings.ToLower(t.Name)))
		if err := e.exec(ctx, call); err != nil {
			return fmt.Errorf("trino: discovering partitions of %s: %w", key, err)
		}
		found, err := e.trinoPartitions(ctx, t)
		if err != nil {
			return err
		}
		for k := range found {
			if _, ok := reg.parts[k]; !ok {
				// Found by Trino in its canonical folder, which is
				// where the catalog says it is (or it is not wanted).
				found[k] = locs[k]
			} else {
				found[k] = reg.parts[k]
			}
		}
		reg.parts = found
		missing, extra = diffPartitions(locs, reg.parts)
	}
	keys := make([]string, len(t.PartitionKeys))
	for i, k := range t.PartitionKeys {
		keys[i] = sqltext.QuoteString(strings.ToLower(k.Name))
	}
	cols := "ARRAY[" + strings.Join(keys, ", ") + "]"
	proc := sqltext.QuoteIdent(e.cfg.TrinoCatalog) + ".system."
	args := func(values []string) string {
		vs := make([]string, len(values))
		for i, v := range values {
			vs[i] = sqltext.QuoteString(v)
		}
		return fmt.Sprintf("schema_name => %s, table_name => %s, partition_columns => %s, partition_values => ARRAY[%s]",
			sqltext.QuoteString(strings.ToLower(t.Database)), sqltext.QuoteString(strings.ToLower(t.Name)), cols, strings.Join(vs, ", "))
	}
	for _, k := range extra {
		if err := e.exec(ctx, "CALL "+proc+"unregister_partition("+args(strings.Split(k, partSep))+")"); err != nil {
			return fmt.Errorf("trino: removing partition %s of %s: %w", strings.ReplaceAll(k, partSep, "/"), key, err)
		}
		delete(reg.parts, k)
	}
	for _, k := range missing {
		p := want[k]
		call := "CALL " + proc + "register_partition(" + args(p.Values) + ", location => " + sqltext.QuoteString(locs[k]) + ")"
		if err := e.exec(ctx, call); err != nil {
			return fmt.Errorf("trino: adding partition %s of %s: %w", strings.Join(p.Values, "/"), key, err)
		}
		reg.parts[k] = locs[k]
	}
	return nil
}

// diffPartitions compares the partitions wanted (with their locations for
// Trino) with those Trino has (location "" when not known) and returns
// those to add (new, or moved) and to remove (gone, or moved), sorted.
func diffPartitions(want, have map[string]string) (missing, extra []string) {
	for k := range have {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	for k, loc := range want {
		had, ok := have[k]
		switch {
		case !ok:
			missing = append(missing, k)
		case had != "" && !sameLocation(had, loc):
			extra = append(extra, k)
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra
}

func sameLocation(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

// canonical reports whether every missing partition sits in the folder
// Trino's sync_partition_metadata looks for: table location plus
// key=value folders in key order.
func canonical(t stocklake.Table, want map[string]stocklake.Partition, missing []string) bool {
	base := strings.TrimSuffix(t.Location, "/") + "/"
	keys := make([]string, len(t.PartitionKeys))
	for i, k := range t.PartitionKeys {
		keys[i] = k.Name
	}
	for _, k := range missing {
		p := want[k]
		for _, v := range p.Values {
			if hive.Escape(v) != v {
				return false // the folder name is not the value
			}
		}
		if !sameLocation(base+hive.PartitionPath(keys, p.Values)+"/", p.Location) {
			return false
		}
	}
	return true
}

// trinoPartitions reads the partitions Trino has for a table.
func (e *Engine) trinoPartitions(ctx context.Context, t stocklake.Table) (map[string]string, error) {
	cols := make([]string, len(t.PartitionKeys))
	for i, k := range t.PartitionKeys {
		cols[i] = "CAST(" + sqltext.QuoteIdent(strings.ToLower(k.Name)) + " AS varchar)"
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + e.qualified(t.Database, t.Name+"$partitions")
	rows, err := e.texts(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("trino: reading partitions of %s.%s: %w", t.Database, t.Name, err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[strings.Join(r, partSep)] = ""
	}
	return out, nil
}

// loadState learns which tables an earlier Engine registered in the schemas
// of dbs, from the fingerprints they carry.
func (e *Engine) loadState(ctx context.Context, dbs []string) error {
	schemas, err := e.texts(ctx, "SHOW SCHEMAS FROM "+sqltext.QuoteIdent(e.cfg.TrinoCatalog))
	if err != nil {
		return fmt.Errorf("trino: listing schemas of Trino catalog %s (is it configured? scripts/trino sets up %q): %w",
			e.cfg.TrinoCatalog, DefaultTrinoCatalog, err)
	}
	exists := map[string]bool{}
	for _, s := range schemas {
		exists[s[0]] = true
	}
	for _, db := range dbs {
		if !exists[db] {
			continue
		}
		tables, err := e.texts(ctx, "SHOW TABLES FROM "+sqltext.QuoteIdent(e.cfg.TrinoCatalog)+"."+sqltext.QuoteIdent(db))
		if err != nil {
			return fmt.Errorf("trino: listing tables of schema %s: %w", db, err)
		}
		for _, t := range tables {
			name := t[0]
			fp, err := e.texts(ctx, "SELECT "+sqltext.QuoteIdent(FingerprintProperty)+" FROM "+e.qualified(db, name+"$properties"))
			switch {
			case err == nil && len(fp) == 1 && fp[0][0] != "":
				e.state[tableKey(db, name)] = &registered{fingerprint: fp[0][0]}
			case err == nil || errors.Is(err, stocklake.ErrNotFound) || errors.Is(err, stocklake.ErrInvalid):
				// Not registered by stocklake: left alone, unless the
				// catalog has a table of that name, which replaces it.
			default:
				return err
			}
		}
		e.schemas[db] = true
	}
	return nil
}

// tableDDL returns the CREATE TABLE statement that registers t in Trino, and
// the fingerprint it carries.
func (e *Engine) tableDDL(t stocklake.Table) (ddl, fingerprint string, err error) {
	loc, err := e.location(t.Location)
	if err != nil {
		return "", "", &tableError{err: err}
	}
	if len(t.Columns) == 0 {
		return "", "", &tableError{err: fmt.Errorf("table has no columns: %w", stocklake.ErrInvalid)}
	}
	var cols []string
	add := func(c stocklake.Column) error {
		typ, err := hiveToTrino(c.Type, e.tsPrecision)
		if err != nil {
			return &tableError{err: fmt.Errorf("column %s: %w", c.Name, err)}
		}
		s := sqltext.QuoteIdent(strings.ToLower(c.Name)) + " " + typ
		if c.Comment != "" {
			s += " COMMENT " + sqltext.QuoteString(c.Comment)
		}
		cols = append(cols, s)
		return nil
	}
	for _, c := range t.Columns {
		if err := add(c); err != nil {
			return "", "", err
		}
	}
	var keys []string
	for _, k := range t.PartitionKeys {
		if err := add(k); err != nil {
			return "", "", err
		}
		keys = append(keys, sqltext.QuoteString(strings.ToLower(k.Name)))
	}
	props := []string{"external_location = " + sqltext.QuoteString(loc)}
	fmtProps, err := formatProperties(t)
	if err != nil {
		return "", "", &tableError{err: err}
	}
	props = append(props, fmtProps...)
	if len(keys) > 0 {
		props = append(props, "partitioned_by = ARRAY["+strings.Join(keys, ", ")+"]")
	}
	head := "CREATE TABLE " + e.qualified(t.Database, t.Name) + " (\n  " + strings.Join(cols, ",\n  ") + "\n)"
	body := head + "\nWITH (\n  " + strings.Join(props, ",\n  ")
	sum := sha256.Sum256([]byte(body))
	fingerprint = hex.EncodeToString(sum[:12])
	ddl = body + ",\n  extra_properties = MAP(ARRAY[" + sqltext.QuoteString(FingerprintProperty) + "], ARRAY[" + sqltext.QuoteString(fingerprint) + "])\n)"
	return ddl, fingerprint, nil
}

// formatProperties returns the Trino table properties for a table's data
// format and SerDe.
func formatProperties(t stocklake.Table) ([]string, error) {
	param := func(names ...string) string {
		for _, n := range names {
			if v, ok := t.SerDeParams[n]; ok {
				return v
			}
			if v, ok := t.Parameters[n]; ok {
				return v
			}
		}
		return ""
	}
	var props []string
	if n := param("skip.header.line.count"); n != "" && n != "0" {
		props = append(props, "skip_header_line_count = "+n)
	}
	format := strings.ToLower(t.Format)
	if format == "" {
		format = strings.ToLower(param("classification"))
	}
	switch {
	case t.SerDe == hive.ParquetSerDe || t.SerDe == "" && format == stocklake.FormatParquet:
		return []string{"format = 'PARQUET'"}, nil
	case t.SerDe == hive.ORCSerDe || t.SerDe == "" && format == "orc":
		return []string{"format = 'ORC'"}, nil
	case t.SerDe == hive.AvroSerDe || t.SerDe == "" && format == "avro":
		return []string{"format = 'AVRO'"}, nil
	case t.SerDe == hive.HiveJSONSerDe:
		return []string{"format = 'JSON'"}, nil
	case t.SerDe == hive.OpenXJSONSerDe || t.SerDe == "" && format == stocklake.FormatJSON:
		return []string{"format = 'OPENX_JSON'"}, nil
	case t.SerDe == hive.OpenCSVSerDe:
		for _, c := range slices.Concat(t.Columns, t.PartitionKeys) {
			if c.Type != "string" && !strings.HasPrefix(c.Type, "varchar") {
				return nil, fmt.Errorf("column %s is %s, but Trino reads OpenCSVSerde tables only with string columns: %w", c.Name, c.Type, stocklake.ErrInvalid)
			}
		}
		props = append(props, "format = 'CSV'")
		sep := param("separatorChar", "delimiter")
		if sep == "" {
			sep = ","
		}
		props = append(props, "csv_separator = "+sqltext.QuoteString(sep))
		if q := param("quoteChar"); q != "" {
			props = append(props, "csv_quote = "+sqltext.QuoteString(q))
		}
		if esc := param("escapeChar"); esc != "" {
			props = append(props, "csv_escape = "+sqltext.QuoteString(esc))
		}
		return props, nil
	case t.SerDe == hive.LazySimpleSerDe || t.SerDe == "" && format == stocklake.FormatCSV:
		props = append(props, "format = 'TEXTFILE'")
		sep := param("field.delim", "delimiter")
		if sep == "" {
			sep = "\x01"
		}
		props = append(props, "textfile_field_separator = "+sqltext.QuoteString(sep))
		return props, nil
	}
	return nil, fmt.Errorf("format %q with SerDe %q is not one Trino's Hive connector reads: %w", t.Format, t.SerDe, stocklake.ErrInvalid)
}

// location rewrites a catalog location for the Trino server: s3:// and
// other object-store URLs stay as they are; file:// paths become relative
// to the server's local root.
func (e *Engine) location(loc string) (string, error) {
	u, err := url.Parse(loc)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("location %q is not a URL: %w", loc, stocklake.ErrInvalid)
	}
	switch u.Scheme {
	case "file", "local":
		p := u.Path
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("location %q names host %q; Trino reads only local files through file://: %w", loc, u.Host, stocklake.ErrInvalid)
		}
		trailing := strings.HasSuffix(p, "/")
		p = path.Clean(p)
		if e.localRoot != "/" {
			rel, ok := strings.CutPrefix(p, e.localRoot)
			if !ok || rel != "" && !strings.HasPrefix(rel, "/") {
				return "", fmt.Errorf("location %s is outside %s, the folder the Trino server reads file:// paths from: start Trino with TRINO_LAKE_DIR set to a folder that holds the lake (or /), and give the engine the same folder: %w",
					loc, e.localRoot, stocklake.ErrConfig)
			}
			p = "/" + strings.TrimPrefix(rel, "/")
		}
		if trailing && !strings.HasSuffix(p, "/") {
			p += "/"
		}
		// Trino's local file system lists file:// folders as empty; its
		// own scheme works.
		return "local://" + p, nil
	case "s3", "s3a", "s3n", "gs", "abfs", "abfss", "wasb", "wasbs":
		return loc, nil
	}
	return "", fmt.Errorf("location %q: scheme %s is not one Trino reads (file, s3, gs, abfs): %w", loc, u.Scheme, stocklake.ErrInvalid)
}

// partitionLocation rewrites a partition's catalog location for the Trino
// server. The table's location is a URL (file:///data/my%20lake/ticks/),
// but the folders below it are Hive partition names, escaped with
// hive.Escape: exchange=NYA%2FX is the folder's name, not an escaped '/',
// so that part is kept as it is. A partition elsewhere is a URL as a whole.
func (e *Engine) partitionLocation(table, part string) (string, error) {
	base := strings.TrimSuffix(table, "/") + "/"
	rest, ok := strings.CutPrefix(part, base)
	if !ok {
		return e.location(part)
	}
	loc, err := e.location(base)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(loc, "/") + "/" + rest, nil
}

// configuredPrecision returns the timestamp precision named in Trino's
// refusal of a CREATE TABLE whose timestamps have another one, or 0.
func configuredPrecision(err error) int {
	if err == nil {
		return 0
	}
	msg := err.Error()
	if !strings.Contains(msg, "the configured precision is ") {
		return 0
	}
	switch {
	case strings.Contains(msg, "precision is MILLISECONDS"):
		return 3
	case strings.Contains(msg, "precision is MICROSECONDS"):
		return 6
	case strings.Contains(msg, "precision is NANOSECONDS"):
		return 9
	}
	return 0
}

// qualified returns "catalog"."schema"."table".
func (e *Engine) qualified(db, table string) string {
	return sqltext.QuoteIdent(e.cfg.TrinoCatalog) + "." + sqltext.QuoteIdent(strings.ToLower(db)) + "." + sqltext.QuoteIdent(strings.ToLower(table))
}

func tableKey(db, table string) string {
	return strings.ToLower(db) + "." + strings.ToLower(table)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// tableError is a problem with one table's definition: the table is
// skipped, the others are registered.
type tableError struct{ err error }

func (t *tableError) Error() string { return t.err.Error() }
func (t *tableError) Unwrap() error { return t.err }

func isTableError(err error) bool {
	var te *tableError
	return errors.As(err, &te)
}

// tableErrors lists the tables Sync skipped.
type tableErrors struct{ errs []error }

func (t *tableErrors) Error() string {
	msgs := make([]string, len(t.errs))
	for i, e := range t.errs {
		msgs[i] = e.Error()
	}
	return "trino: tables not registered: " + strings.Join(msgs, "; ")
}

func (t *tableErrors) Unwrap() []error { return t.errs }

func isTableErrors(err error) bool {
	var te *tableErrors
	return errors.As(err, &te)
}
