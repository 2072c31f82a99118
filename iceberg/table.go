package iceberg

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stocklake/stocklake"

	ice "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// DefaultPartitioning is the partitioning of a new tick table: one partition
// per UTC day of the event time, day(ts).
const DefaultPartitioning = "day(ts)"

// TableOptions configure a new table.
type TableOptions struct {
	// Partitioning is the table's hidden partitioning (see
	// ParsePartitioning): "day" (default, day(ts)), "hour", "hour,symbol",
	// "month(ts),identity(exchange)", "none"... Readers filter on the source
	// column (ts), never on the partition values. A data file must hold rows
	// of a single partition.
	Partitioning string
	// Properties are extra Iceberg table properties; they override the
	// defaults (see tableDefaults).
	Properties map[string]string
}

// tableDefaults are the table properties of a new table, tuned for one
// snapshot per second: appends merge small manifests, old metadata
// files are deleted as new ones are written, and commits keep the history
// at DefaultMaxSnapshots.
var tableDefaults = map[string]string{
	table.PropertyFormatVersion:               "2",
	table.ManifestMergeEnabledKey:             "true",
	table.MetadataDeleteAfterCommitEnabledKey: "true",
	table.MetadataPreviousVersionsMaxKey:      "20",
	"write.parquet.compression-codec":         "zstd",
	PropertyMaxSnapshots:                      strconv.Itoa(DefaultMaxSnapshots),
}

// tickSchema is the Iceberg schema of a tick table. It matches the sink's
// tick Parquet files (sink.TickRow) column for column, so files the sink
// writes are added as they are: every column required, ts a timestamp with
// time zone (INT64 TIMESTAMP(MICROS, UTC)), conditions a list of strings.
func tickSchema() *ice.Schema {
	return ice.NewSchema(0,
		ice.NestedField{ID: 1, Name: "symbol", Type: ice.PrimitiveTypes.String, Required: true},
		ice.NestedField{ID: 2, Name: "ts", Type: ice.PrimitiveTypes.TimestampTz, Required: true},
		ice.NestedField{ID: 3, Name: "price", Type: ice.PrimitiveTypes.Float64, Required: true},
		ice.NestedField{ID: 4, Name: "size", Type: ice.PrimitiveTypes.Float64, Required: true},
		ice.NestedField{ID: 5, Name: "exchange", Type: ice.PrimitiveTypes.String, Required: true},
		ice.NestedField{ID: 6, Name: "trade_id", Type: ice.PrimitiveTypes.String, Required: true},
		ice.NestedField{ID: 7, Name: "conditions", Required: true, Type: &ice.ListType{
			ElementID: 8, Element: ice.PrimitiveTypes.String, ElementRequired: true,
		}},
		ice.NestedField{ID: 9, Name: "source", Type: ice.PrimitiveTypes.String, Required: true},
	)
}

// Table is an Iceberg table whose snapshots carry Kafka offsets; it
// implements stocklake.OffsetTable. It is safe for concurrent use.
type Table struct {
	cat      *Catalog
	database string
	name     string
	ident    table.Identifier

	// MaxAttempts bounds how often Commit tries against a table that other
	// writers keep changing; default 20.
	MaxAttempts int

	mu  sync.Mutex
	tbl *table.Table // last loaded state

	// fs is the file system of every table state adopt makes: the FS of
	// the state the table was opened with. (A state's own FS is a method
	// value holding a copy of that state, FS and catalog included: adopting
	// each state with its predecessor's FS chained every state ever
	// committed, metadata and all, about 0.3 MB a commit.)
	fs table.FSysF

	// Test hooks: beforeCommit runs between checking the offsets and
	// committing; commitHook replaces the transaction's commit.
	// wrapCatalog wraps the catalog the loaded table commits through.
	beforeCommit func(attempt int)
	commitHook   func(context.Context, *table.Transaction) (*table.Table, error)
	wrapCatalog  func(table.CatalogIO) table.CatalogIO
}

var _ stocklake.OffsetTable = (*Table)(nil)

// CreateTickTable creates a format-v2 tick table named database.name at
// WAREHOUSE/DATABASE.db/NAME, with the columns of the sink's tick files
// (symbol, ts, price, size, exchange, trade_id, conditions, source),
// creating the database's namespace when missing. An existing table wraps
// stocklake.ErrExists.
func (c *Catalog) CreateTickTable(ctx context.Context, database, name string, opts TableOptions) (*Table, error) {
	database, name = c.names(database, name)
	if err := checkName(database, name); err != nil {
		return nil, err
	}
	// Assign the IDs the catalog will assign (it renumbers every new
	// schema), so the name mapping below names the table's real IDs.
	sc, err := ice.AssignFreshSchemaIDs(tickSchema(), nil)
	if err != nil {
		return nil, fmt.Errorf("iceberg: tick schema: %w", err)
	}
	spec, err := partitionSpec(opts.Partitioning, sc, "ts")
	if err != nil {
		return nil, err
	}
	return c.createTable(ctx, database, name, sc, spec, opts.Properties)
}

// OpenTable opens an existing Iceberg table; a missing one wraps
// stocklake.ErrNotFound.
func (c *Catalog) OpenTable(ctx context.Context, database, name string) (*Table, error) {
	database, name = c.names(database, name)
	if err := checkName(database, name); err != nil {
		return nil, err
	}
	ident := table.Identifier{database, name}
	tbl, err := c.cat.LoadTable(ctx, ident)
	if err != nil {
		return nil, fail(fmt.Sprintf("opening table %s.%s", database, name), err)
	}
	return c.newTable(database, name, tbl), nil
}

// newTable wraps a table loaded or created in the catalog.
func (c *Catalog) newTable(database, name string, tbl *table.Table) *Table {
	t := &Table{cat: c, database: database, name: name, ident: table.Identifier{database, name}, fs: tbl.FS}
	t.tbl = t.adopt(tbl)
	return t
}

// OpenOrCreateTickTable opens the tick table database.name, creating it
// with opts when missing (also when another process creates it at the same
// time). opts do not change an existing table.
func (c *Catalog) OpenOrCreateTickTable(ctx context.Context, database, name string, opts TableOptions) (*Table, error) {
	t, err := c.OpenTable(ctx, database, name)
	if !errors.Is(err, stocklake.ErrNotFound) {
		return t, err
	}
	t, err = c.CreateTickTable(ctx, database, name, opts)
	if errors.Is(err, stocklake.ErrExists) {
		return c.OpenTable(ctx, database, name)
	}
	return t, err
}

// TableLocation is where a table's files live: WAREHOUSE/DATABASE.db/NAME,
// the layout pyiceberg and Java's catalogs use by default.
func (c *Catalog) TableLocation(database, name string) string {
	return c.warehouse + "/" + database + ".db/" + name
}

func checkName(database, name string) error {
	for _, n := range []string{database, name} {
		if n == "" || strings.ContainsAny(n, "./\\ \t\n\"'`") {
			return fmt.Errorf("iceberg: table name %s.%s: database and table names must be non-empty, without dots, slashes, quotes or spaces: %w", database, name, stocklake.ErrConfig)
		}
	}
	return nil
}

// Name is the table's name.
func (t *Table) Name() string { return t.name }

// Database is the table's database, its Iceberg namespace.
func (t *Table) Database() string { return t.database }

// Location is the URL of the table's folder; data files belong under
// Location()+"/data/".
func (t *Table) Location() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tbl.Location()
}

// Partitioning is the table's current partition spec, e.g. "day(ts)",
// "hour(ts),identity(symbol)", or "none".
func (t *Table) Partitioning() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return specString(t.tbl.Spec(), t.tbl.Schema())
}

// refresh returns the table's current state: the cached state when the
// catalog still points at its metadata file (one indexed SQLite read),
// else the state loaded from the new metadata file.
func (t *Table) refresh(ctx context.Context) (*table.Table, error) {
	t.mu.Lock()
	cached := t.tbl
	t.mu.Unlock()
	if cached != nil {
		loc, err := t.cat.locate(ctx, t.database, t.name)
		if err == nil && loc == cached.MetadataLocation() {
			return cached, nil
		}
	}
	tbl, err := t.cat.cat.LoadTable(ctx, t.ident)
	if err != nil {
		return nil, fail(fmt.Sprintf("loading table %s.%s", t.database, t.name), err)
	}
	tbl = t.adopt(tbl)
	t.mu.Lock()
	t.tbl = tbl
	t.mu.Unlock()
	return tbl, nil
}

// PartitionPath is the folder, relative to Location()+"/data/", where a
// data file holding tk's partition goes, e.g. "ts_day=2026-11-26" for
// day(ts) (a JSON table's event-time column takes tk.Time too), "ts_hour=2026-11-26-14" for hour(ts), "symbol=BRK.B" for
// identity(symbol), "" for an unpartitioned table. Two rows belong to the
// same partition, and may share a file, exactly when their paths are
// equal. Bytes other than letters, digits and "._-" in a value are written
// as ~XX (hex), never %XX: readers disagree on whether to percent-decode
// file paths. The folder is for people browsing the lake: Iceberg reads
// partition values from the table's metadata, never from paths. It costs a
// few allocations: call it once per file or per hour of ticks, not per row.
func (t *Table) PartitionPath(tk *stocklake.Tick) string {
	return t.partitionPath(tk.Time, tk, nil)
}

// RowPartitionPath is PartitionPath of a JSON table's row of event time at
// whose identity partition fields (PartitionFields, in that order) hold
// vals: nil for null, else a string, int64, float64 or bool as the
// column's type is string, long, double or boolean (the value the row's
// data file holds). A null value's folder is FIELD=null.
func (t *Table) RowPartitionPath(at time.Time, vals []any) string {
	return t.partitionPath(at, nil, vals)
}

// partitionPath is PartitionPath of a tick tk, or with tk nil of a row of
// event time at and identity values vals (RowPartitionPath).
func (t *Table) partitionPath(at time.Time, tk *stocklake.Tick, vals []any) string {
	t.mu.Lock()
	spec, sc := t.tbl.Spec(), t.tbl.Schema()
	t.mu.Unlock()
	if spec.IsUnpartitioned() {
		return ""
	}
	rec := make(partitionRecord, 0, spec.NumFields())
	next := 0 // the next identity value of vals
	for _, f := range spec.Fields() {
		name, _ := sc.FindColumnName(f.SourceID())
		src, _ := sc.FindFieldByID(f.SourceID())
		var lit ice.Literal // nil for null
		switch {
		case src.Type.Equals(ice.PrimitiveTypes.TimestampTz):
			// ts, or a JSON table's event-time column.
			lit = ice.NewLiteral(ice.Timestamp(at.UnixMicro()))
		case tk != nil:
			lit = valueLiteral(tickValue(tk, name))
		default:
			if _, ok := f.Transform.(ice.IdentityTransform); ok && next < len(vals) {
				lit = valueLiteral(vals[next])
				next++
			}
		}
		if lit == nil {
			rec = append(rec, nil)
			continue
		}
		v := f.Transform.Apply(ice.Optional[ice.Literal]{Valid: true, Val: lit})
		if !v.Valid {
			rec = append(rec, nil)
			continue
		}
		rec = append(rec, v.Val.Any())
	}
	return escapePath(spec.PartitionToPath(rec, sc))
}

// tickValue is tk's value of the tick table column name (tickSchema), of
// the Go type RowPartitionPath takes for the column's type: a string or
// float64; nil for ts, conditions and names that are not a column.
func tickValue(tk *stocklake.Tick, name string) any {
	switch name {
	case "symbol":
		return tk.Symbol
	case "price":
		return tk.Price
	case "size":
		return tk.Size
	case "exchange":
		return tk.Exchange
	case "trade_id":
		return tk.TradeID
	case "source":
		return tk.Source
	}
	return nil
}

// valueLiteral is the Iceberg literal of a partition source value, a
// tick's (tickValue) or a JSON row's (RowPartitionPath): a string, int64,
// float64 or bool; nil (null) for nil and any other type.
func valueLiteral(v any) ice.Literal {
	switch v := v.(type) {
	case string:
		return ice.NewLiteral(v)
	case int64:
		return ice.NewLiteral(v)
	case float64:
		return ice.NewLiteral(v)
	case bool:
		return ice.NewLiteral(v)
	}
	return nil
}

// escapePath rewrites the values of a name=value/... path from
// iceberg-go's percent-escaping to tildeEscape.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		name, val, _ := strings.Cut(seg, "=")
		if v, err := url.QueryUnescape(val); err == nil {
			val = v
		}
		segs[i] = name + "=" + tildeEscape(val)
	}
	return strings.Join(segs, "/")
}

// tildeEscape writes the bytes of s other than letters, digits and "._-"
// as ~XX, so the result is the same string as a path and as a URL.
func tildeEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "~%02X", c)
		}
	}
	return b.String()
}

// DataFileURL is the URL of a data file named name (e.g.
// ticks+TOPICID+PARTITION+STARTOFFSET.parquet) holding tk's partition:
// Location()/data/PartitionPath(tk)/name.
func (t *Table) DataFileURL(tk *stocklake.Tick, name string) string {
	return t.PartitionFileURL(t.PartitionPath(tk), name)
}

// DataFileKey is DataFileURL as a key relative to the warehouse, the lake
// root: the key to Put the file under in the lake's stocklake.ObjectStore.
// ok is false when the table lives outside the warehouse.
func (t *Table) DataFileKey(tk *stocklake.Tick, name string) (key string, ok bool) {
	return t.PartitionFileKey(t.PartitionPath(tk), name)
}

// PartitionFileURL is the URL of a data file named name in the partition
// folder partition (PartitionPath, RowPartitionPath):
// Location()/data/partition/name.
func (t *Table) PartitionFileURL(partition, name string) string {
	if partition != "" {
		partition += "/"
	}
	return t.Location() + "/data/" + partition + name
}

// partitionRecord is a row of partition values for PartitionToPath.
type partitionRecord []any

func (r partitionRecord) Size() int        { return len(r) }
func (r partitionRecord) Get(i int) any    { return r[i] }
func (r partitionRecord) Set(i int, v any) { r[i] = v }
