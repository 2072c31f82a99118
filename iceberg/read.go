package iceberg

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stocklake/stocklake"

	ice "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

var _ stocklake.IcebergTables = (*Catalog)(nil)

// PlanScan plans a scan of the Iceberg table database.name with
// iceberg-go: it picks the snapshot (the current one, opts.SnapshotID or
// the one current at opts.AsOf), prunes data files by partition and column
// statistics on opts.Predicates (predicates it cannot use are ignored), and
// returns the files to read with the snapshot's columns and their names in
// the files (the table's name mapping). A table without snapshots plans no
// files. A missing table wraps stocklake.ErrNotFound; a missing snapshot,
// and a snapshot with delete files (the reader does not apply them), wrap
// stocklake.ErrInvalid.
func (c *Catalog) PlanScan(ctx context.Context, database, name string, opts stocklake.ScanOptions) (stocklake.ScanPlan, error) {
	what := database + "." + name
	tbl, err := c.cat.LoadTable(ctx, table.Identifier{database, name})
	if err != nil && notIceberg(err) {
		// A Hive table of that name in Glue: no Iceberg table to scan
		// (readers try the Hive table next).
		return stocklake.ScanPlan{}, fmt.Errorf("iceberg: %s is not an Iceberg table: %v: %w", what, err, stocklake.ErrNotFound)
	}
	if err != nil {
		return stocklake.ScanPlan{}, fail("opening table "+what, err)
	}
	meta := tbl.Metadata()
	snap := tbl.CurrentSnapshot()
	switch {
	case opts.SnapshotID != 0 && !opts.AsOf.IsZero():
		return stocklake.ScanPlan{}, fmt.Errorf("iceberg: %s: give FOR VERSION AS OF or FOR TIMESTAMP AS OF, not both: %w", what, stocklake.ErrInvalid)
	case opts.SnapshotID != 0:
		if snap = tbl.SnapshotByID(opts.SnapshotID); snap == nil {
			return stocklake.ScanPlan{}, fmt.Errorf("iceberg: table %s has no snapshot %d (expired, or never existed): `stocklake catalog snapshots %s` lists them: %w",
				what, opts.SnapshotID, what, stocklake.ErrInvalid)
		}
	case !opts.AsOf.IsZero():
		if snap = tbl.SnapshotAsOf(opts.AsOf.UnixMilli(), true); snap == nil {
			first := "it has no snapshots"
			for e := range meta.SnapshotLogs() {
				first = "its oldest snapshot still kept is from " + time.UnixMilli(e.TimestampMs).UTC().Format(time.RFC3339Nano)
				break
			}
			return stocklake.ScanPlan{}, fmt.Errorf("iceberg: table %s has no snapshot as of %s: %s: %w",
				what, opts.AsOf.UTC().Format(time.RFC3339Nano), first, stocklake.ErrInvalid)
		}
	}
	// The current table reads in its current schema, time travel in the
	// snapshot's (as Trino and Spark do).
	sc := tbl.Schema()
	if (opts.SnapshotID != 0 || !opts.AsOf.IsZero()) && snap.SchemaID != nil {
		for _, s := range meta.Schemas() {
			if s.ID == *snap.SchemaID {
				sc = s
			}
		}
	}
	def, fileCols, err := definition(database, name, tbl, sc)
	if err != nil {
		return stocklake.ScanPlan{}, err
	}
	plan := stocklake.ScanPlan{Table: def, FileColumns: fileCols}
	if snap == nil {
		return plan, nil
	}
	plan.SnapshotID = snap.SnapshotID
	if opts.ColumnsOnly {
		return plan, nil
	}
	scanOpts := []table.ScanOption{table.WithCaseSensitive(false)}
	if opts.SnapshotID != 0 || !opts.AsOf.IsZero() {
		scanOpts = append(scanOpts, table.WithSnapshotID(snap.SnapshotID)) // and its schema
	}
	if filter := scanFilter(sc, opts.Predicates); filter != nil {
		scanOpts = append(scanOpts, table.WithRowFilter(filter))
	}
	tasks, err := tbl.Scan(scanOpts...).PlanFiles(ctx)
	if err != nil {
		return stocklake.ScanPlan{}, fail("planning a scan of "+what, err)
	}
	for _, t := range tasks {
		if len(t.DeleteFiles)+len(t.EqualityDeleteFiles)+len(t.DeletionVectorFiles) > 0 {
			return stocklake.ScanPlan{}, fmt.Errorf("iceberg: table %s snapshot %d has delete files (row-level deletes written by another engine) that stocklake's DuckDB engine does not apply: "+
				"query it with --engine trino://… or compact it (rewrite its data files) first: %w", what, snap.SnapshotID, stocklake.ErrInvalid)
		}
		if t.File.ContentType() != ice.EntryContentData {
			continue
		}
		plan.Files = append(plan.Files, stocklake.ScanFile{URL: t.File.FilePath(), Size: t.File.FileSizeBytes(), Records: t.File.Count()})
	}
	return plan, nil
}

// definition describes an Iceberg table with schema sc as a catalog table
// (Format FormatParquet, Parameters table_type=ICEBERG and
// metadata_location), and returns the names each column may have in the
// data files (the name mapping).
func definition(database, name string, tbl *table.Table, sc *ice.Schema) (stocklake.Table, [][]string, error) {
	t := stocklake.Table{
		Database: database, Name: name, Location: strings.TrimSuffix(tbl.Location(), "/") + "/",
		Format: stocklake.FormatParquet,
		Parameters: map[string]string{
			"table_type":        "ICEBERG",
			"metadata_location": tbl.MetadataLocation(),
		},
	}
	mapping := map[int][]string{}
	for _, f := range tbl.Metadata().NameMapping() {
		if f.FieldID != nil {
			mapping[*f.FieldID] = f.Names
		}
	}
	var fileCols [][]string
	for _, f := range sc.Fields() {
		typ, err := glueType(f.Type)
		if err != nil {
			return t, nil, fmt.Errorf("iceberg: table %s.%s column %s: %w", database, name, f.Name, err)
		}
		t.Columns = append(t.Columns, stocklake.Column{Name: f.Name, Type: typ, Comment: f.Doc})
		names := mapping[f.ID]
		if len(names) == 0 {
			names = historyNames(tbl.Metadata(), sc, f)
		}
		fileCols = append(fileCols, names)
	}
	// Columns are read by name: a name that another column had in an older
	// schema would read that column's values from older files.
	for i, f := range sc.Fields() {
		for _, old := range tbl.Metadata().Schemas() {
			for _, g := range old.Fields() {
				if g.ID != f.ID && slices.Contains(fileCols[i], g.Name) {
					return t, nil, fmt.Errorf("iceberg: table %s.%s: column %s may be named %q in data files, a name column ID %d had in schema %d: "+
						"stocklake reads columns by name and cannot tell them apart; query this table with Trino or pyiceberg: %w",
						database, name, f.Name, g.Name, g.ID, old.ID, stocklake.ErrInvalid)
				}
			}
		}
	}
	return t, fileCols, nil
}

// historyNames are the names field f had in the table's schemas, current
// first, for tables without a name mapping: files written before a rename
// name the column as it was then. Names another column of sc has now are
// left out.
func historyNames(meta table.Metadata, sc *ice.Schema, f ice.NestedField) []string {
	names := []string{f.Name}
	for _, old := range meta.Schemas() {
		of, ok := old.FindFieldByID(f.ID)
		if !ok || slices.Contains(names, of.Name) {
			continue
		}
		if cur, taken := sc.FindFieldByName(of.Name); taken && cur.ID != f.ID {
			continue
		}
		names = append(names, of.Name)
	}
	return names
}

// Definition describes the table's current state as a catalog table:
// columns with Glue types, location, Format FormatParquet, and Parameters
// table_type=ICEBERG, metadata_location, partitioning (as Partitioning)
// and current-snapshot-id (absent without snapshots).
func (t *Table) Definition(ctx context.Context) (stocklake.Table, error) {
	tbl, err := t.refresh(ctx)
	if err != nil {
		return stocklake.Table{}, err
	}
	def, _, err := definition(t.database, t.name, tbl, tbl.Schema())
	if err != nil {
		return def, err
	}
	def.Parameters["partitioning"] = t.Partitioning()
	if s := tbl.CurrentSnapshot(); s != nil {
		def.Parameters["current-snapshot-id"] = strconv.FormatInt(s.SnapshotID, 10)
	}
	return def, nil
}

// glueType is the Glue (Hive) type name of an Iceberg type.
func glueType(t ice.Type) (string, error) {
	switch t := t.(type) {
	case ice.BooleanType:
		return "boolean", nil
	case ice.Int32Type:
		return "int", nil
	case ice.Int64Type:
		return "bigint", nil
	case ice.Float32Type:
		return "float", nil
	case ice.Float64Type:
		return "double", nil
	case ice.DecimalType:
		return fmt.Sprintf("decimal(%d,%d)", t.Precision(), t.Scale()), nil
	case ice.DateType:
		return "date", nil
	case ice.TimestampType, ice.TimestampTzType:
		return "timestamp", nil
	case ice.StringType, ice.UUIDType:
		return "string", nil
	case ice.BinaryType, ice.FixedType:
		return "binary", nil
	case *ice.ListType:
		e, err := glueType(t.Element)
		return "array<" + e + ">", err
	case *ice.MapType:
		k, err := glueType(t.KeyType)
		if err != nil {
			return "", err
		}
		v, err := glueType(t.ValueType)
		return "map<" + k + "," + v + ">", err
	case *ice.StructType:
		var parts []string
		for _, f := range t.FieldList {
			ft, err := glueType(f.Type)
			if err != nil {
				return "", err
			}
			parts = append(parts, f.Name+":"+ft)
		}
		return "struct<" + strings.Join(parts, ",") + ">", nil
	}
	return "", fmt.Errorf("type %s cannot be read yet: %w", t, stocklake.ErrInvalid)
}

// scanFilter turns the predicates that name a primitive column of sc with
// values of a matching type into one iceberg-go expression (their AND);
// nil when none does. A predicate that does not bind, or names one of
// columns that differ only in case, is left out: pruning is an
// optimisation, the reader filters the rows itself.
func scanFilter(sc *ice.Schema, preds []stocklake.ScanPredicate) ice.BooleanExpression {
	var out ice.BooleanExpression
	for _, p := range preds {
		e := predicate(sc, p)
		if e == nil {
			continue
		}
		if _, err := ice.BindExpr(sc, e, false); err != nil {
			continue
		}
		if out == nil {
			out = e
		} else {
			out = ice.NewAnd(out, e)
		}
	}
	return out
}

// predicate is one ScanPredicate as an iceberg-go expression, or nil.
func predicate(sc *ice.Schema, p stocklake.ScanPredicate) ice.BooleanExpression {
	f, ok := sc.FindFieldByNameCaseInsensitive(p.Column)
	if !ok || len(p.Values) == 0 {
		return nil
	}
	if slices.ContainsFunc(sc.Fields(), func(g ice.NestedField) bool { return g.ID != f.ID && strings.EqualFold(g.Name, f.Name) }) {
		// Columns that differ only in case ("Code" and "code", as a JSON
		// table may have): which one the name binds to is a guess, and
		// pruning by the other column would drop files the query needs.
		return nil
	}
	lits := make([]ice.Literal, 0, len(p.Values))
	for _, v := range p.Values {
		l, ok := literal(f.Type, v)
		if !ok {
			return nil
		}
		lits = append(lits, l)
	}
	ref := ice.Reference(f.Name)
	var op ice.Operation
	switch p.Op {
	case "in":
		return ice.SetPredicate(ice.OpIn, ref, lits)
	case "=":
		op = ice.OpEQ
	case "<":
		op = ice.OpLT
	case "<=":
		op = ice.OpLTEQ
	case ">":
		op = ice.OpGT
	case ">=":
		op = ice.OpGTEQ
	default:
		return nil
	}
	if len(lits) != 1 {
		return nil
	}
	return ice.LiteralPredicate(op, ref, lits[0])
}

// literal converts a predicate value to a literal of column type t; ok is
// false when the value's kind does not fit the column (no pruning then).
func literal(t ice.Type, v any) (ice.Literal, bool) {
	switch t.(type) {
	case ice.StringType:
		if s, ok := v.(string); ok {
			return ice.NewLiteral(s), true
		}
	case ice.BooleanType:
		if b, ok := v.(bool); ok {
			return ice.NewLiteral(b), true
		}
	case ice.Int32Type, ice.Int64Type:
		if n, ok := v.(int64); ok {
			l, err := ice.NewLiteral(n).To(t)
			return l, err == nil
		}
	case ice.Float32Type, ice.Float64Type:
		switch n := v.(type) {
		case float64:
			l, err := ice.NewLiteral(n).To(t)
			return l, err == nil
		case int64:
			l, err := ice.NewLiteral(float64(n)).To(t)
			return l, err == nil && int64(float64(n)) == n
		}
	case ice.TimestampType, ice.TimestampTzType:
		if ts, ok := v.(time.Time); ok && ts.Nanosecond()%1000 == 0 {
			return ice.NewLiteral(ice.Timestamp(ts.UnixMicro())), true
		}
	case ice.DateType:
		if ts, ok := v.(time.Time); ok {
			ts = ts.UTC()
			if ts.Hour() == 0 && ts.Minute() == 0 && ts.Second() == 0 && ts.Nanosecond() == 0 {
				return ice.NewLiteral(ice.Date(ts.Unix() / 86400)), true
			}
		}
	}
	return nil, false
}
