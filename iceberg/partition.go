package iceberg

import (
	"context"
	"fmt"
	"slices"
	"strings"

	ice "github.com/apache/iceberg-go"

	"github.com/stocklake/stocklake"
)

// PartitioningHelp describes the partitioning syntax ParsePartitioning
// takes, for flag help and error messages.
const PartitioningHelp = `"none", or a comma-separated list of at most one of day (default; dt also), hour, month or year ` +
	`(that transform of the event time: ts, or a JSON table's time field) and field names (identity partitions; ` +
	`the sink writes symbol, exchange or source of ticks, and any top-level boolean, number or text field of JSON records), ` +
	`e.g. hour,symbol; TRANSFORM(COLUMN) names the column (day(ts), identity(symbol))`

// timeTransforms are the transforms of a timestamp column, by name.
var timeTransforms = map[string]ice.Transform{
	"year": ice.YearTransform{}, "month": ice.MonthTransform{}, "day": ice.DayTransform{}, "hour": ice.HourTransform{},
}

// SinkIdentityFields are the tick fields the sink computes identity
// partition values of (as the Hive path's --partition-by field keys).
var SinkIdentityFields = []string{"symbol", "exchange", "source"}

// PartitionItem is one field of a partitioning: Transform (year, month,
// day, hour or identity) of Column; Column "" is the table's event-time
// column (ts, or a JSON table's time field).
type PartitionItem struct {
	Transform, Column string
}

// ParsePartitioning parses a partitioning: "none" (nil items), or a
// comma-separated list of items, each
//
//   - day, hour, month or year (dt is day): that transform of the event
//     time (Column ""),
//   - TRANSFORM(COLUMN), TRANSFORM one of year, month, day, hour, identity,
//   - any other word: identity of the field of that name.
//
// "" is "day". At most one transform of time, no item twice. Errors wrap
// stocklake.ErrConfig and say what is allowed (PartitioningHelp).
func ParsePartitioning(s string) ([]PartitionItem, error) {
	bad := func(format string, args ...any) ([]PartitionItem, error) {
		return nil, fmt.Errorf("partitioning %q: %s; want %s: %w", s, fmt.Sprintf(format, args...), PartitioningHelp, stocklake.ErrConfig)
	}
	spec := strings.TrimSpace(s)
	if spec == "" {
		spec = "day"
	}
	if strings.EqualFold(spec, "none") {
		return nil, nil
	}
	var items []PartitionItem
	times := 0
	for _, raw := range strings.Split(spec, ",") {
		w := strings.TrimSpace(raw)
		if w == "" {
			continue
		}
		var it PartitionItem
		if open := strings.IndexByte(w, '('); open >= 0 {
			if !strings.HasSuffix(w, ")") || open == 0 {
				return bad("%q is not TRANSFORM(COLUMN)", w)
			}
			it = PartitionItem{Transform: strings.ToLower(strings.TrimSpace(w[:open])), Column: strings.TrimSpace(w[open+1 : len(w)-1])}
			if _, ok := timeTransforms[it.Transform]; !ok && it.Transform != "identity" {
				return bad("transform %q is not one of year, month, day, hour, identity", it.Transform)
			}
			if it.Column == "" {
				return bad("%q names no column", w)
			}
		} else {
			switch lw := strings.ToLower(w); lw {
			case "none":
				return bad("none cannot be combined with other keys")
			case "dt":
				it.Transform = "day"
			case "year", "month", "day", "hour":
				it.Transform = lw
			case "minute":
				return bad("Iceberg has no minute transform (hour is the finest)")
			default:
				it = PartitionItem{Transform: "identity", Column: w}
			}
		}
		if strings.ContainsAny(it.Column, "()/=, \t\n\"'`") {
			return bad("%q is not a column name", it.Column)
		}
		if strings.Contains(it.Column, ".") {
			// Iceberg readers (iceberg-go reading a file's statistics, which
			// give the partition values) take "a.b" for b nested in a.
			return bad("%q has a dot: Iceberg reads it as a nested column, so the table could not be partitioned by it", it.Column)
		}
		if it.Transform != "identity" {
			if times++; times > 1 {
				return bad("more than one time transform (Iceberg partitions by one: hour alone makes hourly partitions, as Hive's dt,hour)")
			}
		}
		if slices.Contains(items, it) {
			return bad("%q is listed twice", w)
		}
		items = append(items, it)
	}
	if len(items) == 0 {
		return bad("no keys")
	}
	return items, nil
}

// partitionSpec parses the partitioning s (ParsePartitioning) against sc,
// whose event-time column is timeCol: time items of a table without one
// ("" timeCol: a JSON table whose event time is the Kafka timestamp) are
// dropped. A time transform's partition field is named COLUMN_TRANSFORM
// (ts_day), an identity's the column's name, both as avroName writes them,
// with "_" added while another column or partition field has that name.
func partitionSpec(s string, sc *ice.Schema, timeCol string) (ice.PartitionSpec, error) {
	items, err := ParsePartitioning(s)
	if err != nil {
		return ice.PartitionSpec{}, err
	}
	var opts []ice.PartitionOption
	taken := map[string]bool{} // partition field names chosen so far
	for _, it := range items {
		col := it.Column
		if col == "" {
			if col = timeCol; col == "" {
				continue
			}
		}
		f, ok := sc.FindFieldByName(col)
		if !ok {
			return ice.PartitionSpec{}, fmt.Errorf("partitioning %q: the table has no column %q: %w", s, col, stocklake.ErrConfig)
		}
		tr, name := timeTransforms[it.Transform], avroName(col+"_"+it.Transform)
		if it.Transform == "identity" {
			tr, name = ice.IdentityTransform{}, avroName(col)
		}
		if name != col || taken[name] {
			// Another column's name (or another partition field's) would
			// clash: Iceberg refuses it.
			for _, clash := sc.FindFieldByName(name); clash || taken[name]; _, clash = sc.FindFieldByName(name) {
				name += "_"
			}
		}
		taken[name] = true
		if _, prim := f.Type.(ice.PrimitiveType); !prim || !tr.CanTransform(f.Type) {
			return ice.PartitionSpec{}, fmt.Errorf("partitioning %q: column %q is a %s, which %s does not apply to: %w", s, col, f.Type, it.Transform, stocklake.ErrConfig)
		}
		opts = append(opts, ice.AddPartitionFieldByName(col, name, tr, sc, nil))
	}
	if len(opts) == 0 {
		return *ice.UnpartitionedSpec, nil
	}
	spec, err := ice.NewPartitionSpecOpts(opts...)
	if err != nil {
		return ice.PartitionSpec{}, fmt.Errorf("partitioning %q: %v: %w", s, err, stocklake.ErrConfig)
	}
	return spec, nil
}

// avroName is name as a partition field may be named: manifests hold the
// partition values in an Avro record whose field names must be Avro names
// (a letter or '_', then letters, digits and '_'), and iceberg-go refuses
// to write a manifest for any other (a table partitioned by a column named
// "région", "a.b" or "event-time" could never commit). Other characters are
// written as Iceberg's Java writers sanitize Avro names: "_x" and the
// character's code in hex ("région" is "r_xE9gion"), a leading digit with
// "_" before it. A valid name is itself.
func avroName(name string) string {
	valid := func(i int, r rune) bool {
		return r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || i > 0 && '0' <= r && r <= '9'
	}
	ok := name != ""
	for i, r := range name {
		ok = ok && valid(i, r)
	}
	if ok {
		return name
	}
	var b strings.Builder
	for i, r := range name {
		switch {
		case valid(i, r):
			b.WriteRune(r)
		case i == 0 && '0' <= r && r <= '9':
			b.WriteByte('_')
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "_x%X", r)
		}
	}
	return b.String()
}

// specString renders spec as TRANSFORM(COLUMN),...: "day(ts)",
// "hour(ts),identity(symbol)"; "none" when unpartitioned.
func specString(spec ice.PartitionSpec, sc *ice.Schema) string {
	if spec.IsUnpartitioned() {
		return "none"
	}
	var parts []string
	for _, f := range spec.Fields() {
		src, _ := sc.FindColumnName(f.SourceID())
		parts = append(parts, fmt.Sprintf("%s(%s)", f.Transform, src))
	}
	return strings.Join(parts, ",")
}

// sinkWritable explains why the sink cannot write a table partitioned by
// spec (schema sc; json for a JSON table), or returns nil: partition field
// names must be Avro names (avroName) and their columns undotted, for
// iceberg-go to commit the sink's files. The sink
// computes partition values from a record's event time (year, month, day
// or hour of a timestamp column) and, for ticks, from SinkIdentityFields
// (identity); for JSON records from the values of top-level columns of
// the types it writes (boolean, long, double, string: identity).
func sinkWritable(spec ice.PartitionSpec, sc *ice.Schema, json bool) error {
	for _, f := range spec.Fields() {
		src, _ := sc.FindFieldByID(f.SourceID())
		switch {
		case avroName(f.Name) != f.Name:
			// A table made by another writer, or by a stocklake that did
			// not use avroName: iceberg-go writes no manifest for it.
			return fmt.Errorf("partitioned by a field named %q, which is no Avro name: iceberg-go cannot write its manifests, so no commit would succeed; the table holds no rows the sink wrote: drop it and land again (the sink names it %s): %w",
				f.Name, avroName(f.Name), stocklake.ErrConfig)
		case strings.Contains(src.Name, "."):
			return fmt.Errorf("partitioned by the column %q, whose dot iceberg-go reads as a nested column: it finds no partition values in the sink's files, so no commit would succeed: land into a table partitioned otherwise: %w",
				src.Name, stocklake.ErrConfig)
		}
		if _, ok := timeTransforms[f.Transform.String()]; ok && src.Type.Equals(ice.PrimitiveTypes.TimestampTz) {
			continue
		}
		if _, ok := f.Transform.(ice.IdentityTransform); ok && !json && slices.Contains(SinkIdentityFields, src.Name) {
			continue
		}
		if _, ok := f.Transform.(ice.IdentityTransform); ok && json && jsonIdentityType(src.Type) &&
			slices.ContainsFunc(sc.Fields(), func(top ice.NestedField) bool { return top.ID == src.ID }) {
			continue
		}
		what := "of a tick table, identity of " + strings.Join(SinkIdentityFields, ", ")
		if json {
			what = "of a JSON table, identity of a top-level boolean, long, double or string column"
		}
		return fmt.Errorf("partitioned by %s: the sink writes partitions by year, month, day or hour of the event time and, %s: %w",
			specString(spec, sc), what, stocklake.ErrConfig)
	}
	return nil
}

// jsonIdentityType tells the column types a JSON table may be partitioned
// by identity of: those of JSON values the sink writes, but the time.
func jsonIdentityType(t ice.Type) bool {
	return t.Equals(ice.PrimitiveTypes.Bool) || t.Equals(ice.PrimitiveTypes.Int64) ||
		t.Equals(ice.PrimitiveTypes.Float64) || t.Equals(ice.PrimitiveTypes.String)
}

// identityFields are the names of the columns spec partitions by identity,
// in spec order.
func identityFields(spec ice.PartitionSpec, sc *ice.Schema) []string {
	var out []string
	for _, f := range spec.Fields() {
		if _, ok := f.Transform.(ice.IdentityTransform); ok {
			name, _ := sc.FindColumnName(f.SourceID())
			out = append(out, name)
		}
	}
	return out
}

// PartitionFields are the fields the table partitions by identity (e.g.
// [symbol] for hour(ts),identity(symbol)), in spec order; nil when it
// partitions by time only. The sink groups rows by them besides the hour.
func (t *Table) PartitionFields() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return identityFields(t.tbl.Spec(), t.tbl.Schema())
}

// PartitionFields is Table.PartitionFields; before the table exists, the
// fields l.Partitioning partitions by identity (nil when it does not
// parse), which Decide creates it with.
func (l *LazyTable) PartitionFields() []string {
	if t := l.table(); t != nil {
		return t.PartitionFields()
	}
	items, _ := ParsePartitioning(l.Partitioning)
	var out []string
	for _, it := range items {
		if it.Transform == "identity" {
			out = append(out, it.Column)
		}
	}
	return out
}

// settingPartitioning names LazyTable.Partitioning in setting errors.
const settingPartitioning = "iceberg.LazyTable.Partitioning"

// Check tells whether a sink can land records in the table with
// l.Partitioning: its syntax, and for an existing table that the sink
// writes the table's partitioning and, when l.Partitioning is set, that it
// is the table's: an existing table keeps its partitioning (as the Hive
// path's table.json keeps its keys), so a different one is refused, not
// applied or ignored.
func (l *LazyTable) Check(ctx context.Context) error {
	items, err := ParsePartitioning(l.Partitioning)
	if err != nil {
		return stocklake.SettingErr(err, settingPartitioning)
	}
	t, err := l.Table(ctx)
	if err != nil {
		return err
	}
	if t == nil {
		// Whether identity fields can be written depends on the records
		// (a JSON table's columns: checkNew), unless they are ticks.
		for _, it := range items {
			if l.Schema == "tick" && it.Transform == "identity" && !slices.Contains(SinkIdentityFields, it.Column) {
				return stocklake.SettingErr(fmt.Errorf("partitioning %q: the sink writes identity partitions of the tick fields %s, not of %q: %w",
					l.Partitioning, strings.Join(SinkIdentityFields, ", "), it.Column, stocklake.ErrConfig), settingPartitioning)
			}
		}
		return nil
	}
	t.mu.Lock()
	spec, sc, props := t.tbl.Spec(), t.tbl.Schema(), t.tbl.Properties()
	t.mu.Unlock()
	json, timeCol := props[PropSchema] == "json", "ts"
	if json {
		timeCol = props[PropTimeField]
	}
	if err := sinkWritable(spec, sc, json); err != nil {
		return fmt.Errorf("Iceberg table %s.%s is %w", l.database, l.name, err)
	}
	if l.Partitioning == "" {
		return nil
	}
	want, err := partitionSpec(l.Partitioning, sc, timeCol)
	if err != nil {
		return stocklake.SettingErr(fmt.Errorf("table %s.%s: %w", l.database, l.name, err), settingPartitioning)
	}
	if got, asked := specString(spec, sc), specString(want, sc); got != asked {
		return stocklake.SettingErr(fmt.Errorf("table %s.%s is partitioned by %s, not %s (partitioning %q): an existing table keeps its partitioning; drop the setting to follow the table, or land into a new table: %w",
			l.database, l.name, got, asked, l.Partitioning, stocklake.ErrConfig), settingPartitioning)
	}
	return nil
}

// checkNew tells whether the sink can write a new table of shape
// partitioned by l.Partitioning: a tick table by year, month, day or hour
// of ts and identity of SinkIdentityFields; a registry table by day of its
// time field only; any other (JSON) table by a time transform of its time
// field and identity of its other columns (jsonIdentityType).
func (l *LazyTable) checkNew(shape stocklake.TableShape) error {
	items, err := ParsePartitioning(l.Partitioning)
	if err != nil {
		return stocklake.SettingErr(err, settingPartitioning)
	}
	if shape.Schema == "registry" {
		if len(items) != 1 || items[0].Transform != "day" || items[0].Column != "" && items[0].Column != shape.TimeField {
			return stocklake.SettingErr(fmt.Errorf("table %s.%s holds schema registry records: partitioning %q: the sink writes registry tables partitioned by day of the time field only (other partitionings not done yet): leave the partitioning unset: %w",
				l.database, l.name, l.Partitioning, stocklake.ErrConfig), settingPartitioning)
		}
		return nil
	}
	if shape.Schema != "tick" {
		for _, it := range items {
			if it.Transform != "identity" && strings.Contains(shape.TimeField, ".") {
				return stocklake.SettingErr(fmt.Errorf("table %s.%s holds JSON records: partitioning %q: the time field %q has a dot, which Iceberg reads as a nested column, so the table could not be partitioned by its time: give a time field without dots, or the partitioning none: %w",
					l.database, l.name, l.Partitioning, shape.TimeField, stocklake.ErrConfig), settingPartitioning)
			}
			if it.Transform != "identity" && it.Column != "" && it.Column != shape.TimeField {
				return stocklake.SettingErr(fmt.Errorf("table %s.%s holds JSON records: partitioning %q: the sink writes JSON tables partitioned by year, month, day or hour of the time field %q and by the values of other fields, not by a time transform of %q: %w",
					l.database, l.name, l.Partitioning, shape.TimeField, it.Column, stocklake.ErrConfig), settingPartitioning)
			}
		}
		sc, err := jsonSchema(shape.Columns, shape.TimeField)
		if err != nil {
			return err
		}
		spec, err := partitionSpec(l.Partitioning, sc, shape.TimeField)
		if err == nil {
			err = sinkWritable(spec, sc, true)
		}
		if err != nil {
			return stocklake.SettingErr(fmt.Errorf("table %s.%s holds JSON records: %w", l.database, l.name, err), settingPartitioning)
		}
		return nil
	}
	sc, err := ice.AssignFreshSchemaIDs(tickSchema(), nil)
	if err != nil {
		return err
	}
	spec, err := partitionSpec(l.Partitioning, sc, "ts")
	if err == nil {
		err = sinkWritable(spec, sc, false)
	}
	if err != nil {
		return stocklake.SettingErr(fmt.Errorf("table %s.%s: %w", l.database, l.name, err), settingPartitioning)
	}
	return nil
}
