package glue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsglue "github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/internal/catalogtest"
)

// integrationCatalog connects to the Glue API at STOCKLAKE_GLUE_ENDPOINT
// (eval "$(scripts/glue start)"), or skips the test.
func integrationCatalog(t testing.TB, lake stocklake.ObjectStore) *Catalog {
	t.Helper()
	c, err := New(context.Background(), Config{Endpoint: integrationEndpoint(t), LakeStore: lake, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// integrationEndpoint returns STOCKLAKE_GLUE_ENDPOINT, or skips the test.
func integrationEndpoint(t testing.TB) string {
	t.Helper()
	ep := os.Getenv("STOCKLAKE_GLUE_ENDPOINT")
	if ep == "" {
		t.Skip(`STOCKLAKE_GLUE_ENDPOINT is not set; run eval "$(scripts/glue start)" to test against a Glue API`)
	}
	return ep
}

// uniqueDatabase returns a database name no other test uses and deletes
// the database, with its tables, when the test ends.
func uniqueDatabase(t testing.TB, c *Catalog, prefix string) string {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	db := prefix + "_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if err := c.DeleteDatabase(context.Background(), db); err != nil && !errors.Is(err, stocklake.ErrNotFound) {
			t.Errorf("cleanup: %v", err)
		}
	})
	return db
}

func tempLake(t testing.TB) *file.ObjectStore {
	t.Helper()
	s, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wantErr(t *testing.T, what string, err, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Errorf("%s: error %v, want %v", what, err, sentinel)
	}
}

func ticksTable(db string) stocklake.Table {
	return stocklake.Table{
		Database:    db,
		Name:        "Ticks",
		Description: "trades",
		Columns: []stocklake.Column{
			{Name: "Symbol", Type: "string", Comment: "ticker"},
			{Name: "ts", Type: "timestamp"},
			{Name: "price", Type: "double"},
			{Name: "size", Type: "int"},
			{Name: "conditions", Type: "array<string>"},
		},
		PartitionKeys: []stocklake.Column{{Name: "dt", Type: "string"}, {Name: "hour", Type: "string"}},
		Location:      "s3://bucket/lake/ticks/",
		Format:        stocklake.FormatParquet,
		InputFormat:   "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
		OutputFormat:  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
		SerDe:         "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
		SerDeParams:   map[string]string{"serialization.format": "1"},
		Parameters:    map[string]string{"classification": "parquet", "compressionType": "zstd", "typeOfData": "file"},
	}
}

func partitionsFor(days, hours int) []stocklake.Partition {
	var out []stocklake.Partition
	for d := range days {
		for h := range hours {
			day := time.Date(2026, 11, 1+d, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
			hour := fmt.Sprintf("%02d", h)
			out = append(out, stocklake.Partition{
				Values:   []string{day, hour},
				Location: "s3://bucket/lake/ticks/dt=" + day + "/hour=" + hour + "/",
			})
		}
	}
	return out
}

func TestGlueIntegration(t *testing.T) {
	testCatalog(t, integrationCatalog(t, tempLake(t)))
}

// testCatalog exercises every Catalog method, and checks the raw Glue
// tables and partitions that Athena and Trino read.
func testCatalog(t *testing.T, c *Catalog) {
	ctx := context.Background()
	db := uniqueDatabase(t, c, "sl_it")

	// Databases.
	_, err := c.GetDatabase(ctx, db)
	wantErr(t, "GetDatabase before CreateDatabase", err, stocklake.ErrNotFound)
	wantErr(t, "CreateTable without database", c.CreateTable(ctx, ticksTable(db)), stocklake.ErrNotFound)
	in := stocklake.Database{Name: db, Description: "integration test", LocationURI: "s3://bucket/lake", Parameters: map[string]string{"owner": "stocklake"}}
	if err := c.CreateDatabase(ctx, in); err != nil {
		// Under load the SDK can retry a create whose first attempt the
		// server did apply; the content is checked below either way.
		if !errors.Is(err, stocklake.ErrExists) {
			t.Fatal(err)
		}
		t.Logf("first CreateDatabase reported ErrExists (a retried create): %v", err)
	}
	wantErr(t, "CreateDatabase twice", c.CreateDatabase(ctx, in), stocklake.ErrExists)
	got, err := c.GetDatabase(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != db || got.Description != in.Description || got.LocationURI != in.LocationURI || !maps.Equal(got.Parameters, in.Parameters) || got.CreateTime.IsZero() {
		t.Errorf("GetDatabase = %+v, want %+v with a create time", got, in)
	}
	dbs, err := c.ListDatabases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(dbs, func(d stocklake.Database) bool { return d.Name == db }) {
		t.Errorf("ListDatabases does not list %s", db)
	}

	// Tables: what goes in comes out, names lower-cased.
	tt := ticksTable(db)
	if err := c.CreateTable(ctx, tt); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "CreateTable twice", c.CreateTable(ctx, tt), stocklake.ErrExists)
	gt, err := c.GetTable(ctx, db, "TICKS")
	if err != nil {
		t.Fatal(err)
	}
	want := tt
	want.Name = "ticks"
	want.Columns = slices.Clone(tt.Columns)
	want.Columns[0].Name = "symbol"
	v1 := gt.Version
	if v1 < 1 {
		t.Errorf("version %d of a new table, want >= 1", v1)
	}
	if gt.CreateTime.IsZero() || gt.UpdateTime.IsZero() {
		t.Errorf("create time %v, update time %v: want both set", gt.CreateTime, gt.UpdateTime)
	}
	gt.Version, gt.CreateTime, gt.UpdateTime = 0, time.Time{}, time.Time{}
	if !reflect.DeepEqual(gt, want) {
		t.Errorf("GetTable =\n%+v\nwant\n%+v", gt, want)
	}

	// What Athena and Trino read: the raw Glue table.
	raw, err := c.client.GetTable(ctx, &awsglue.GetTableInput{DatabaseName: aws.String(db), Name: aws.String("ticks")})
	if err != nil {
		t.Fatal(err)
	}
	rt := raw.Table
	if aws.ToString(rt.TableType) != "EXTERNAL_TABLE" || rt.Parameters["EXTERNAL"] != "TRUE" || rt.Parameters["classification"] != "parquet" {
		t.Errorf("raw table type %q parameters %v: want EXTERNAL_TABLE, EXTERNAL=TRUE, classification=parquet", aws.ToString(rt.TableType), rt.Parameters)
	}
	sd := rt.StorageDescriptor
	if sd == nil || aws.ToString(sd.Location) != tt.Location || aws.ToString(sd.InputFormat) != tt.InputFormat ||
		aws.ToString(sd.OutputFormat) != tt.OutputFormat || sd.SerdeInfo == nil ||
		aws.ToString(sd.SerdeInfo.SerializationLibrary) != tt.SerDe || sd.SerdeInfo.Parameters["serialization.format"] != "1" ||
		!sd.Compressed || len(sd.Columns) != 5 || aws.ToString(sd.Columns[0].Name) != "symbol" || len(rt.PartitionKeys) != 2 {
		t.Errorf("raw storage descriptor %+v, partition keys %d", sd, len(rt.PartitionKeys))
	}

	// A table naming only its format gets the classes Athena needs.
	if err := c.CreateTable(ctx, stocklake.Table{Database: db, Name: "events", Location: "s3://bucket/lake/events/",
		Format: stocklake.FormatJSON, Columns: []stocklake.Column{{Name: "a", Type: "bigint"}}}); err != nil {
		t.Fatal(err)
	}
	ev, err := c.GetTable(ctx, db, "events")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Format != stocklake.FormatJSON || ev.SerDe != "org.openx.data.jsonserde.JsonSerDe" || ev.InputFormat != "org.apache.hadoop.mapred.TextInputFormat" ||
		ev.Parameters["classification"] != "json" {
		t.Errorf("JSON table without classes: %+v", ev)
	}
	wantErr(t, "CreateTable with two columns named alike", c.CreateTable(ctx, stocklake.Table{Database: db, Name: "dup", Location: "s3://b/dup/",
		Columns: []stocklake.Column{{Name: "a", Type: "int"}, {Name: "A", Type: "int"}}}), stocklake.ErrInvalid)

	list, err := c.ListTables(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "events" || list[1].Name != "ticks" {
		t.Errorf("ListTables = %v, want events, ticks", list)
	}
	_, err = c.ListTables(ctx, db+"_missing")
	wantErr(t, "ListTables of a missing database", err, stocklake.ErrNotFound)

	// Partitions: 3 BatchCreatePartition calls, re-adding is ignored.
	parts := partitionsFor(11, 24) // 264
	if err := c.AddPartitions(ctx, db, "ticks", parts); err != nil {
		t.Fatal(err)
	}
	again := slices.Clone(parts[200:240])
	again[0].Location = "s3://elsewhere/"
	if err := c.AddPartitions(ctx, db, "ticks", again); err != nil {
		t.Fatalf("re-adding partitions: %v", err)
	}
	gotParts, err := c.ListPartitions(ctx, db, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if len(gotParts) != len(parts) {
		t.Fatalf("%d partitions, want %d", len(gotParts), len(parts))
	}
	for i, p := range gotParts {
		if !slices.Equal(p.Values, parts[i].Values) || p.Location != parts[i].Location || p.CreateTime.IsZero() {
			t.Fatalf("partition %d = %+v, want %+v", i, p, parts[i])
		}
	}
	wantErr(t, "AddPartitions with too few values", c.AddPartitions(ctx, db, "ticks",
		[]stocklake.Partition{{Values: []string{"2026-12-01"}, Location: "s3://b/x/"}}), stocklake.ErrInvalid)
	rp, err := c.client.GetPartition(ctx, &awsglue.GetPartitionInput{DatabaseName: aws.String(db), TableName: aws.String("ticks"),
		PartitionValues: parts[5].Values})
	if err != nil {
		t.Fatal(err)
	}
	psd := rp.Partition.StorageDescriptor
	if psd == nil || aws.ToString(psd.Location) != parts[5].Location || aws.ToString(psd.InputFormat) != tt.InputFormat ||
		psd.SerdeInfo == nil || aws.ToString(psd.SerdeInfo.SerializationLibrary) != tt.SerDe || len(psd.Columns) != 5 {
		t.Errorf("raw partition storage descriptor %+v: want the table's, with the partition's location", psd)
	}

	// UpdateTable keeps the old definition as a version and brings the
	// partitions' schema along.
	up := want
	up.Columns = append(slices.Clone(want.Columns), stocklake.Column{Name: "exchange", Type: "string"})
	up.Columns[3].Type = "bigint"
	up.Parameters = maps.Clone(want.Parameters)
	up.Parameters["UPDATED_BY_CRAWLER"] = "stocklake"
	if err := c.UpdateTable(ctx, up); err != nil {
		t.Fatal(err)
	}
	gt, err = c.GetTable(ctx, db, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if gt.Version != v1+1 || !reflect.DeepEqual(gt.Columns, up.Columns) || gt.Parameters["UPDATED_BY_CRAWLER"] != "stocklake" {
		t.Errorf("after UpdateTable: version %d (want %d), columns %v, parameters %v", gt.Version, v1+1, gt.Columns, gt.Parameters)
	}
	versions, err := c.TableVersions(ctx, db, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 2 || versions[0].Version != v1 || versions[1].Version != v1+1 ||
		len(versions[0].Columns) != 5 || len(versions[1].Columns) != 6 {
		t.Errorf("TableVersions: %d versions %v", len(versions), versions)
	}
	rp, err = c.client.GetPartition(ctx, &awsglue.GetPartitionInput{DatabaseName: aws.String(db), TableName: aws.String("ticks"),
		PartitionValues: parts[7].Values})
	if err != nil {
		t.Fatal(err)
	}
	if psd := rp.Partition.StorageDescriptor; len(psd.Columns) != 6 || aws.ToString(psd.Columns[3].Type) != "bigint" || aws.ToString(psd.Location) != parts[7].Location {
		t.Errorf("partition after UpdateTable: %d columns, location %s: want the new schema at the old location", len(psd.Columns), aws.ToString(psd.Location))
	}
	wantErr(t, "UpdateTable of a missing table", c.UpdateTable(ctx, stocklake.Table{Database: db, Name: "nope", Location: "s3://b/n/"}), stocklake.ErrNotFound)

	// DeletePartitions: 3 BatchDeletePartition calls, missing ones ignored.
	var del [][]string
	for _, p := range parts[:60] {
		del = append(del, p.Values)
	}
	del = append(del, []string{"1999-01-01", "00"})
	if err := c.DeletePartitions(ctx, db, "ticks", del); err != nil {
		t.Fatal(err)
	}
	gotParts, err = c.ListPartitions(ctx, db, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if len(gotParts) != len(parts)-60 || !slices.Equal(gotParts[0].Values, parts[60].Values) {
		t.Errorf("after deleting 60: %d partitions, first %v", len(gotParts), gotParts[0].Values)
	}
	// Marking partitions, DeleteTable and the errors after it: internal/catalogtest
	// (TestConformanceOnFake, TestGlueConformanceIntegration).
}

// Overlapping AddPartitions calls running at once lose no partition.
func TestGlueConcurrentPartitionsIntegration(t *testing.T) {
	testConcurrentPartitions(t, integrationCatalog(t, nil))
}

func testConcurrentPartitions(t *testing.T, c *Catalog) {
	ctx := context.Background()
	db := uniqueDatabase(t, c, "sl_it_conc")
	if err := c.CreateDatabase(ctx, stocklake.Database{Name: db}); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTable(ctx, ticksTable(db)); err != nil {
		t.Fatal(err)
	}
	parts := partitionsFor(3, 24)
	errs := make(chan error, 2)
	for _, chunk := range [][]stocklake.Partition{parts[:50], parts[30:]} {
		go func() { errs <- c.AddPartitions(ctx, db, "ticks", chunk) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	got, err := c.ListPartitions(ctx, db, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(parts) {
		t.Errorf("%d partitions, want %d", len(got), len(parts))
	}
}

// BenchmarkAddPartitionsIntegration registers 1,000 partitions per
// iteration in a fresh table, in batches of 100, and reports partitions/s.
func BenchmarkAddPartitionsIntegration(b *testing.B) {
	ctx := context.Background()
	c := integrationCatalog(b, nil)
	db := uniqueDatabase(b, c, "sl_bench")
	if err := c.CreateDatabase(ctx, stocklake.Database{Name: db}); err != nil {
		b.Fatal(err)
	}
	parts := partitionsFor(50, 20)
	b.ResetTimer()
	for i := range b.N {
		tt := ticksTable(db)
		tt.Name = fmt.Sprintf("ticks%d", i)
		if err := c.CreateTable(ctx, tt); err != nil {
			b.Fatal(err)
		}
		if err := c.AddPartitions(ctx, db, tt.Name, parts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(parts))/b.Elapsed().Seconds(), "partitions/s")
}

// TestGlueConformanceIntegration runs the catalog contract against the Glue
// API at STOCKLAKE_GLUE_ENDPOINT (moto in .ci/run).
func TestGlueConformanceIntegration(t *testing.T) {
	integrationEndpoint(t) // skips the whole suite, not each subtest, without a Glue API
	catalogtest.Run(t, func(t *testing.T) stocklake.Catalog { return integrationCatalog(t, tempLake(t)) })
}
