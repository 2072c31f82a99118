// Package catalogtest holds the contract tests that every stocklake.Catalog
// backend must pass: the embedded SQLite catalog and the AWS Glue Data
// Catalog (an in-process fake in unit tests, moto in the integration
// suites). A backend's tests call Run with a function that opens a catalog;
// each subtest works in databases of its own, so a shared server is fine.
//
// What the crawler, the sink and the engines rely on is pinned here, once:
// names fold to lower case, what goes in comes out, re-adding a partition is
// ignored, partition values are stored as values (never as escaped folder
// text), and every missing thing wraps stocklake.ErrNotFound.
package catalogtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
)

// DatabaseDeleter is implemented by catalogs that can drop a database with
// its tables (Glue); Run uses it to clean up after each subtest.
type DatabaseDeleter interface {
	DeleteDatabase(ctx context.Context, name string) error
}

// testUpdatePartition swaps a partition's location, as the compactor does:
// the partition keeps its values, its neighbours are untouched, and a
// missing partition or table wraps ErrNotFound.
func testUpdatePartition(t *testing.T, c stocklake.Catalog, db string) {
	ctx := context.Background()
	tt := createTicks(t, c, db)
	a := HourPartition(tt.Location, "2026-11-20", "13")
	b := HourPartition(tt.Location, "2026-11-20", "14")
	if err := c.AddPartitions(ctx, db, "ticks", []stocklake.Partition{a, b}); err != nil {
		t.Fatal(err)
	}
	before, err := c.ListPartitions(ctx, db, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	moved := b
	moved.Location = tt.Location + "_stocklake_compacted/run-1/dt=2026-11-20/hour=14/"
	moved.Parameters = map[string]string{"stocklake.compacted": "run-1"}
	if err := c.UpdatePartition(ctx, db, "TICKS", moved); err != nil {
		t.Fatalf("UpdatePartition: %v", err)
	}
	got, err := c.ListPartitions(ctx, db, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("after UpdatePartition: %d partitions, want 2", len(got))
	}
	if got[0].Location != a.Location {
		t.Errorf("untouched partition moved to %s", got[0].Location)
	}
	if got[1].Location != moved.Location || got[1].Parameters["stocklake.compacted"] != "run-1" {
		t.Errorf("updated partition = %+v, want location %s and the new parameters", got[1], moved.Location)
	}
	// sqlite and AWS Glue keep the creation time; moto, the Glue emulator
	// of the integration run, makes a new one: only its presence is checked.
	if got[1].CreateTime.IsZero() || before[1].CreateTime.IsZero() {
		t.Errorf("creation time lost: %v before, %v after", before[1].CreateTime, got[1].CreateTime)
	}
	missing := HourPartition(tt.Location, "1999-01-01", "00")
	wantErr(t, "UpdatePartition of a missing partition", c.UpdatePartition(ctx, db, "ticks", missing), stocklake.ErrNotFound)
	wantErr(t, "UpdatePartition of a missing table", c.UpdatePartition(ctx, db, "nope", missing), stocklake.ErrNotFound)
	got, _ = c.ListPartitions(ctx, db, "ticks")
	if len(got) != 2 {
		t.Errorf("UpdatePartition of a missing partition created one: %d partitions", len(got))
	}
}

// Run runs the Catalog contract tests as subtests of t. open returns a
// catalog; it may return the same catalog each time (a shared server) or a
// new, empty one, and may register cleanup with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) stocklake.Catalog) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c stocklake.Catalog, db string)
	}{
		{"Databases", testDatabases},
		{"TableRoundTrip", testTableRoundTrip},
		{"TableVersions", testTableVersions},
		{"TableErrors", testTableErrors},
		{"Partitions", testPartitions},
		{"PartitionValuesNeedingEscapes", testPartitionValuesNeedingEscapes},
		{"PartitionErrors", testPartitionErrors},
		{"UpdatePartition", testUpdatePartition},
		{"DeleteTable", testDeleteTable},
		{"ConcurrentAddPartitions", testConcurrentAddPartitions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := open(t)
			tc.fn(t, c, UniqueDatabase(t, c, "sl_ct"))
		})
	}
}

// UniqueDatabase returns a database name that no other test uses (not yet
// created) and, if c can delete databases, drops it when the test ends.
func UniqueDatabase(t testing.TB, c stocklake.Catalog, prefix string) string {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	db := prefix + "_" + hex.EncodeToString(b[:])
	if d, ok := c.(DatabaseDeleter); ok {
		t.Cleanup(func() {
			if err := d.DeleteDatabase(context.Background(), db); err != nil && !errors.Is(err, stocklake.ErrNotFound) {
				t.Errorf("cleanup: deleting database %s: %v", db, err)
			}
		})
	}
	return db
}

// TicksTable returns the table the sink registers for ticks, in database db.
func TicksTable(db string) stocklake.Table {
	return stocklake.Table{
		Database:    db,
		Name:        "ticks",
		Description: "trades",
		Columns: []stocklake.Column{
			{Name: "symbol", Type: "string", Comment: "ticker"},
			{Name: "ts", Type: "timestamp"},
			{Name: "price", Type: "double"},
			{Name: "size", Type: "bigint"},
			{Name: "conditions", Type: "array<string>"},
			{Name: "quote", Type: "struct<bid:double,ask:double>"},
			{Name: "notional", Type: "decimal(18,4)"},
		},
		PartitionKeys: []stocklake.Column{{Name: "dt", Type: "string"}, {Name: "hour", Type: "string"}},
		Location:      "s3://bucket/lake/ticks/",
		Format:        stocklake.FormatParquet,
		InputFormat:   "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
		OutputFormat:  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
		SerDe:         "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
		SerDeParams:   map[string]string{"serialization.format": "1"},
		Parameters:    map[string]string{"classification": "parquet", "compressionType": "zstd"},
	}
}

// HourPartition returns the partition of table location loc for a day and hour.
func HourPartition(loc, day, hour string) stocklake.Partition {
	return stocklake.Partition{Values: []string{day, hour}, Location: loc + "dt=" + day + "/hour=" + hour + "/"}
}

func createDatabase(t *testing.T, c stocklake.Catalog, db string) {
	t.Helper()
	if err := c.CreateDatabase(context.Background(), stocklake.Database{Name: db}); err != nil {
		t.Fatalf("CreateDatabase(%s): %v", db, err)
	}
}

func createTicks(t *testing.T, c stocklake.Catalog, db string) stocklake.Table {
	t.Helper()
	createDatabase(t, c, db)
	tt := TicksTable(db)
	if err := c.CreateTable(context.Background(), tt); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	return tt
}

func wantErr(t *testing.T, what string, err, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Errorf("%s: error %v, want one wrapping %v", what, err, sentinel)
	}
}

func testDatabases(t *testing.T, c stocklake.Catalog, db string) {
	ctx := context.Background()
	_, err := c.GetDatabase(ctx, db)
	wantErr(t, "GetDatabase before CreateDatabase", err, stocklake.ErrNotFound)
	in := stocklake.Database{Name: db, Description: "contract", LocationURI: "s3://bucket/lake", Parameters: map[string]string{"owner": "stocklake"}}
	if err := c.CreateDatabase(ctx, in); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "CreateDatabase twice", c.CreateDatabase(ctx, in), stocklake.ErrExists)
	wantErr(t, "CreateDatabase again in upper case", c.CreateDatabase(ctx, stocklake.Database{Name: "SL_CT" + db[len("sl_ct"):]}), stocklake.ErrExists)
	got, err := c.GetDatabase(ctx, "SL_CT"+db[len("sl_ct"):])
	if err != nil {
		t.Fatalf("GetDatabase in upper case: %v", err)
	}
	if got.Name != db || got.Description != in.Description || got.LocationURI != in.LocationURI || !maps.Equal(got.Parameters, in.Parameters) {
		t.Errorf("GetDatabase = %+v, want %+v", got, in)
	}
	if got.CreateTime.IsZero() || time.Since(got.CreateTime) > time.Hour || time.Until(got.CreateTime) > time.Hour {
		t.Errorf("database create time %v, want about now", got.CreateTime)
	}
	dbs, err := c.ListDatabases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(dbs, func(d stocklake.Database) bool { return d.Name == db }) {
		t.Errorf("ListDatabases does not list %s", db)
	}
	if !slices.IsSortedFunc(dbs, func(a, b stocklake.Database) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("ListDatabases is not sorted by name: %v", names(dbs, func(d stocklake.Database) string { return d.Name }))
	}
}

func testTableRoundTrip(t *testing.T, c stocklake.Catalog, db string) {
	ctx := context.Background()
	createDatabase(t, c, db)
	in := TicksTable(db)
	in.Name = "Ticks" // names fold to lower case
	if err := c.CreateTable(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetTable(ctx, db, "TICKS")
	if err != nil {
		t.Fatalf("GetTable in upper case: %v", err)
	}
	if got.Version < 1 {
		t.Errorf("version %d of a new table, want >= 1", got.Version)
	}
	if got.CreateTime.IsZero() || got.UpdateTime.Before(got.CreateTime) {
		t.Errorf("new table: create time %v, update time %v", got.CreateTime, got.UpdateTime)
	}
	want := TicksTable(db)
	want.Version, want.CreateTime, want.UpdateTime = got.Version, got.CreateTime, got.UpdateTime
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetTable =\n%+v\nwant\n%+v", got, want)
	}
	other := TicksTable(db)
	other.Name = "bars"
	if err := c.CreateTable(ctx, other); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListTables(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if n := names(list, func(t stocklake.Table) string { return t.Name }); !slices.Equal(n, []string{"bars", "ticks"}) {
		t.Errorf("ListTables = %v, want [bars ticks]", n)
	}
	if len(list) == 2 && !reflect.DeepEqual(list[1].Columns, want.Columns) {
		t.Errorf("ListTables columns of ticks = %v, want %v", list[1].Columns, want.Columns)
	}
}

func testTableVersions(t *testing.T, c stocklake.Catalog, db string) {
	ctx := context.Background()
	tt := createTicks(t, c, db)
	v1, err := c.GetTable(ctx, db, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	up := tt
	up.Columns = append(slices.Clone(tt.Columns), stocklake.Column{Name: "exchange", Type: "string"})
	up.Columns[3].Type = "double" // widened, as the crawler's "update" policy does
	up.Parameters = maps.Clone(tt.Parameters)
	up.Parameters["UPDATED_BY_CRAWLER"] = "stocklake"
	// Athena partition projection properties: dotted keys, ${} templates.
	proj, err := hive.ProjectionParameters(tt.Location, []string{"dt", "hour"}, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(up.Parameters, proj)
	up.Version = 42 // ignored
	if err := c.UpdateTable(ctx, up); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetTable(ctx, db, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != v1.Version+1 || !reflect.DeepEqual(got.Columns, up.Columns) || got.Parameters["UPDATED_BY_CRAWLER"] != "stocklake" {
		t.Errorf("after UpdateTable: version %d (want %d), columns %v, parameters %v", got.Version, v1.Version+1, got.Columns, got.Parameters)
	}
	for k, v := range proj {
		if got.Parameters[k] != v {
			t.Errorf("after UpdateTable: parameter %s = %q, want %q (partition projection)", k, got.Parameters[k], v)
		}
	}
	if !hive.Projected(got.Parameters) {
		t.Errorf("after UpdateTable: projection not enabled in %v", got.Parameters)
	}
	if !got.CreateTime.Equal(v1.CreateTime) || got.UpdateTime.Before(v1.UpdateTime) {
		t.Errorf("after UpdateTable: create time %v (was %v), update time %v (was %v)", got.CreateTime, v1.CreateTime, got.UpdateTime, v1.UpdateTime)
	}
	versions, err := c.TableVersions(ctx, db, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 2 || versions[0].Version != v1.Version || versions[1].Version != v1.Version+1 ||
		!reflect.DeepEqual(versions[0].Columns, tt.Columns) || !reflect.DeepEqual(versions[1].Columns, up.Columns) {
		t.Errorf("TableVersions = %d versions: %+v", len(versions), versions)
	}
}

func testTableErrors(t *testing.T, c stocklake.Catalog, db string) {
	ctx := context.Background()
	wantErr(t, "CreateTable without its database", c.CreateTable(ctx, TicksTable(db)), stocklake.ErrNotFound)
	_, err := c.ListTables(ctx, db)
	wantErr(t, "ListTables of a missing database", err, stocklake.ErrNotFound)
	tt := createTicks(t, c, db)
	wantErr(t, "CreateTable twice", c.CreateTable(ctx, tt), stocklake.ErrExists)
	dup := TicksTable(db)
	dup.Name = "dup"
	dup.Columns = append(slices.Clone(dup.Columns), stocklake.Column{Name: "SYMBOL", Type: "string"})
	wantErr(t, "CreateTable with two columns named alike", c.CreateTable(ctx, dup), stocklake.ErrInvalid)
	clash := TicksTable(db)
	clash.Name = "clash"
	clash.Columns = append(slices.Clone(clash.Columns), stocklake.Column{Name: "DT", Type: "string"})
	wantErr(t, "CreateTable with a column named like a partition key", c.CreateTable(ctx, clash), stocklake.ErrInvalid)
	missing := TicksTable(db)
	missing.Name = "nope"
	wantErr(t, "UpdateTable of a missing table", c.UpdateTable(ctx, missing), stocklake.ErrNotFound)
	_, err = c.GetTable(ctx, db, "nope")
	wantErr(t, "GetTable of a missing table", err, stocklake.ErrNotFound)
	_, err = c.TableVersions(ctx, db, "nope")
	wantErr(t, "TableVersions of a missing table", err, stocklake.ErrNotFound)
}

func testPartitions(t *testing.T, c stocklake.Catalog, db string) {
	ctx := context.Background()
	tt := createTicks(t, c, db)
	var parts []stocklake.Partition
	for d := range 3 {
		for h := range 30 { // 90 partitions: more than one Glue batch or page
			parts = append(parts, HourPartition(tt.Location, fmt.Sprintf("2026-11-%02d", 20+d), fmt.Sprintf("%02d", h)))
		}
	}
	parts[5].Parameters = map[string]string{"k": "v"}
	shuffled := slices.Clone(parts)
	slices.Reverse(shuffled)
	if err := c.AddPartitions(ctx, db, "ticks", shuffled); err != nil {
		t.Fatal(err)
	}
	// Re-adding, with one new partition, ignores the old ones (their
	// locations are not replaced).
	again := slices.Clone(parts[10:20])
	again[0].Location = "s3://elsewhere/"
	extra := HourPartition(tt.Location, "2026-11-30", "00")
	if err := c.AddPartitions(ctx, db, "TICKS", append(again, extra)); err != nil {
		t.Fatalf("re-adding partitions: %v", err)
	}
	parts = append(parts, extra)
	got, err := c.ListPartitions(ctx, db, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(parts) {
		t.Fatalf("ListPartitions: %d partitions, want %d", len(got), len(parts))
	}
	for i, p := range got {
		if !slices.Equal(p.Values, parts[i].Values) || p.Location != parts[i].Location || p.CreateTime.IsZero() {
			t.Fatalf("partition %d = %+v, want %+v (sorted by values, with a create time)", i, p, parts[i])
		}
	}
	if got[5].Parameters["k"] != "v" {
		t.Errorf("partition parameters %v, want k=v", got[5].Parameters)
	}

	// Deleting ignores missing partitions.
	var del [][]string
	for _, p := range parts[:40] {
		del = append(del, p.Values)
	}
	del = append(del, []string{"1999-01-01", "00"})
	if err := c.DeletePartitions(ctx, db, "ticks", del); err != nil {
		t.Fatal(err)
	}
	got, err = c.ListPartitions(ctx, db, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(parts)-40 || !slices.Equal(got[0].Values, parts[40].Values) {
		t.Errorf("after deleting 40: %d partitions, first %v", len(got), got[0].Values)
	}

	// The crawler's "mark" policy: delete and re-add with a parameter.
	mark := got[0]
	mark.Parameters = map[string]string{stocklake.ParamDeprecatedByCrawler: "run-1"}
	if err := c.DeletePartitions(ctx, db, "ticks", [][]string{mark.Values}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddPartitions(ctx, db, "ticks", []stocklake.Partition{mark}); err != nil {
		t.Fatal(err)
	}
	got, err = c.ListPartitions(ctx, db, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Parameters[stocklake.ParamDeprecatedByCrawler] != "run-1" {
		t.Errorf("marked partition parameters %v", got[0].Parameters)
	}
}

// PartitionValues are partition values that need escaping in a folder name
// (Hive's rules) or are otherwise unusual. Catalogs store the values, not
// the escaped folder text, so `WHERE exchange = 'NYA/X'` finds them.
var PartitionValues = []string{"NYA/X", "UP%10", "a=b", "with space", "é", "x:y", "#hash", "q'uote"}

func testPartitionValuesNeedingEscapes(t *testing.T, c stocklake.Catalog, db string) {
	ctx := context.Background()
	createDatabase(t, c, db)
	tt := TicksTable(db)
	tt.Name = "by_exchange"
	tt.PartitionKeys = []stocklake.Column{{Name: "exchange", Type: "string"}}
	if err := c.CreateTable(ctx, tt); err != nil {
		t.Fatal(err)
	}
	var in []stocklake.Partition
	for i, v := range PartitionValues {
		in = append(in, stocklake.Partition{Values: []string{v}, Location: fmt.Sprintf("%sexchange=%d/", tt.Location, i)})
	}
	if err := c.AddPartitions(ctx, db, tt.Name, in); err != nil {
		t.Fatal(err)
	}
	got, err := c.ListPartitions(ctx, db, tt.Name)
	if err != nil {
		t.Fatal(err)
	}
	byValue := map[string]string{}
	for _, p := range got {
		byValue[p.Values[0]] = p.Location
	}
	for _, p := range in {
		if loc, ok := byValue[p.Values[0]]; !ok || loc != p.Location {
			t.Errorf("partition value %q: listed %v (location %q), want it stored as given with location %q", p.Values[0], ok, loc, p.Location)
		}
	}
	if err := c.DeletePartitions(ctx, db, tt.Name, [][]string{{"NYA/X"}, {"UP%10"}}); err != nil {
		t.Fatal(err)
	}
	got, err = c.ListPartitions(ctx, db, tt.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in)-2 || slices.ContainsFunc(got, func(p stocklake.Partition) bool { return p.Values[0] == "NYA/X" || p.Values[0] == "UP%10" }) {
		t.Errorf("after deleting NYA/X and UP%%10: %d partitions %v", len(got), got)
	}
}

func testPartitionErrors(t *testing.T, c stocklake.Catalog, db string) {
	ctx := context.Background()
	createDatabase(t, c, db)
	wantErr(t, "AddPartitions to a missing table", c.AddPartitions(ctx, db, "ticks",
		[]stocklake.Partition{HourPartition("s3://b/t/", "2026-11-26", "14")}), stocklake.ErrNotFound)
	_, err := c.ListPartitions(ctx, db, "ticks")
	wantErr(t, "ListPartitions of a missing table", err, stocklake.ErrNotFound)
	tt := TicksTable(db)
	if err := c.CreateTable(ctx, tt); err != nil {
		t.Fatal(err)
	}
	good := HourPartition(tt.Location, "2026-12-01", "00")
	wantErr(t, "AddPartitions with too few values", c.AddPartitions(ctx, db, "ticks",
		[]stocklake.Partition{good, {Values: []string{"2026-12-01"}, Location: "s3://b/x/"}}), stocklake.ErrInvalid)
	got, err := c.ListPartitions(ctx, db, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("a batch with a bad partition added %d partitions, want none", len(got))
	}
}

func testDeleteTable(t *testing.T, c stocklake.Catalog, db string) {
	ctx := context.Background()
	tt := createTicks(t, c, db)
	if err := c.AddPartitions(ctx, db, "ticks", []stocklake.Partition{HourPartition(tt.Location, "2026-11-26", "14")}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteTable(ctx, db, "ticks"); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetTable(ctx, db, "ticks")
	wantErr(t, "GetTable after DeleteTable", err, stocklake.ErrNotFound)
	wantErr(t, "DeleteTable twice", c.DeleteTable(ctx, db, "ticks"), stocklake.ErrNotFound)
	_, err = c.ListPartitions(ctx, db, "ticks")
	wantErr(t, "ListPartitions of a deleted table", err, stocklake.ErrNotFound)
	_, err = c.TableVersions(ctx, db, "ticks")
	wantErr(t, "TableVersions of a deleted table", err, stocklake.ErrNotFound)
	wantErr(t, "AddPartitions to a deleted table", c.AddPartitions(ctx, db, "ticks",
		[]stocklake.Partition{HourPartition(tt.Location, "2026-11-26", "15")}), stocklake.ErrNotFound)
	wantErr(t, "DeletePartitions of a deleted table", c.DeletePartitions(ctx, db, "ticks", [][]string{{"2026-11-26", "14"}}), stocklake.ErrNotFound)
	// A table created again under the same name starts afresh.
	if err := c.CreateTable(ctx, tt); err != nil {
		t.Fatal(err)
	}
	parts, err := c.ListPartitions(ctx, db, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	versions, err := c.TableVersions(ctx, db, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 0 || len(versions) != 1 {
		t.Errorf("re-created table: %d partitions, %d versions; want 0 and 1", len(parts), len(versions))
	}
}

// testConcurrentAddPartitions: sinks and crawlers add partitions at once;
// overlapping calls lose none and fail none.
func testConcurrentAddPartitions(t *testing.T, c stocklake.Catalog, db string) {
	ctx := context.Background()
	tt := createTicks(t, c, db)
	const writers, hours = 4, 12
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var parts []stocklake.Partition
			for h := range hours { // every writer adds the shared hours plus one of its own
				parts = append(parts, HourPartition(tt.Location, "2026-11-26", fmt.Sprintf("%02d", h)))
			}
			parts = append(parts, HourPartition(tt.Location, "2026-11-27", fmt.Sprintf("%02d", w)))
			errs <- c.AddPartitions(ctx, db, "ticks", parts)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent AddPartitions: %v", err)
		}
	}
	got, err := c.ListPartitions(ctx, db, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != hours+writers {
		t.Errorf("%d partitions after concurrent adds, want %d", len(got), hours+writers)
	}
}

func names[T any](xs []T, name func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = name(x)
	}
	return out
}
