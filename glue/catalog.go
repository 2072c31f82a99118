package glue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsglue "github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/sync/errgroup"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
)

// Table type and parameters Glue tables carry for Athena and Trino.
const (
	externalTable    = "EXTERNAL_TABLE"
	paramExternal    = "EXTERNAL"
	paramClassifier  = "classification"
	paramCompression = "compressionType"
)

// CreateDatabase creates a database; an existing one wraps ErrExists.
// Glue sets its CreateTime.
func (c *Catalog) CreateDatabase(ctx context.Context, db stocklake.Database) error {
	n, err := stocklake.CatalogName("database", db.Name)
	if err != nil {
		return err
	}
	in := &types.DatabaseInput{Name: aws.String(n), Parameters: db.Parameters}
	if db.Description != "" {
		in.Description = aws.String(db.Description)
	}
	if db.LocationURI != "" {
		in.LocationUri = aws.String(db.LocationURI)
	}
	_, err = c.client.CreateDatabase(ctx, &awsglue.CreateDatabaseInput{CatalogId: c.catalogID, DatabaseInput: in})
	return c.fail(ctx, "creating database "+n, err)
}

func fromDatabase(d types.Database) stocklake.Database {
	return stocklake.Database{
		Name:        aws.ToString(d.Name),
		Description: aws.ToString(d.Description),
		LocationURI: aws.ToString(d.LocationUri),
		Parameters:  d.Parameters,
		CreateTime:  utc(d.CreateTime),
	}
}

func utc(t *time.Time) time.Time {
	if t == nil || t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// GetDatabase returns a database; a missing one wraps ErrNotFound.
func (c *Catalog) GetDatabase(ctx context.Context, dbName string) (stocklake.Database, error) {
	n, err := stocklake.CatalogName("database", dbName)
	if err != nil {
		return stocklake.Database{}, err
	}
	out, err := c.client.GetDatabase(ctx, &awsglue.GetDatabaseInput{CatalogId: c.catalogID, Name: aws.String(n)})
	if err != nil {
		err = c.fail(ctx, "reading database "+n, err)
		if errors.Is(err, stocklake.ErrNotFound) {
			err = fmt.Errorf("%w: create it, or crawl a lake into it", err)
		}
		return stocklake.Database{}, err
	}
	if out.Database == nil {
		return stocklake.Database{}, fmt.Errorf("glue: database %s: empty answer from %s: %w", n, c.endpoint, stocklake.ErrNotFound)
	}
	return fromDatabase(*out.Database), nil
}

// ListDatabases returns every database of the catalog, sorted by name.
func (c *Catalog) ListDatabases(ctx context.Context) ([]stocklake.Database, error) {
	var out []stocklake.Database
	p := awsglue.NewGetDatabasesPaginator(c.client, &awsglue.GetDatabasesInput{CatalogId: c.catalogID})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail(ctx, "listing databases", err)
		}
		for _, d := range page.DatabaseList {
			out = append(out, fromDatabase(d))
		}
	}
	slices.SortFunc(out, func(a, b stocklake.Database) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteDatabase deletes a database with its tables and partitions; a
// missing one wraps ErrNotFound. It is not part of stocklake.Catalog.
func (c *Catalog) DeleteDatabase(ctx context.Context, dbName string) error {
	n, err := stocklake.CatalogName("database", dbName)
	if err != nil {
		return err
	}
	_, err = c.client.DeleteDatabase(ctx, &awsglue.DeleteDatabaseInput{CatalogId: c.catalogID, Name: aws.String(n)})
	return c.fail(ctx, "deleting database "+n, err)
}

// checkTable normalizes and checks a table before it is sent to Glue.
func checkTable(t stocklake.Table) (db, tbl string, err error) {
	if db, tbl, err = stocklake.CatalogNames(t.Database, t.Name); err != nil {
		return
	}
	if t.Location == "" {
		return db, tbl, fmt.Errorf("glue: table %s.%s has no location: %w", db, tbl, stocklake.ErrInvalid)
	}
	seen := map[string]bool{}
	for _, col := range slices.Concat(t.Columns, t.PartitionKeys) {
		k := strings.ToLower(strings.TrimSpace(col.Name))
		if k == "" || strings.TrimSpace(col.Type) == "" {
			return db, tbl, fmt.Errorf("glue: table %s.%s has a column without a name or type: %w", db, tbl, stocklake.ErrInvalid)
		}
		if seen[k] {
			return db, tbl, fmt.Errorf("glue: table %s.%s has column %s twice (names are case-insensitive, partition keys included): %w",
				db, tbl, k, stocklake.ErrInvalid)
		}
		seen[k] = true
	}
	return db, tbl, nil
}

// toColumns converts columns, lower-casing names as Glue does and keeping
// the Glue column parameters of old columns of the same name.
func toColumns(cols []stocklake.Column, old []types.Column) []types.Column {
	oldParams := map[string]map[string]string{}
	for _, o := range old {
		if len(o.Parameters) > 0 {
			oldParams[strings.ToLower(aws.ToString(o.Name))] = o.Parameters
		}
	}
	out := make([]types.Column, len(cols))
	for i, col := range cols {
		n := strings.ToLower(strings.TrimSpace(col.Name))
		out[i] = types.Column{Name: aws.String(n), Type: aws.String(strings.TrimSpace(col.Type)), Parameters: oldParams[n]}
		if col.Comment != "" {
			out[i].Comment = aws.String(col.Comment)
		}
	}
	return out
}

func fromColumns(cols []types.Column) []stocklake.Column {
	if len(cols) == 0 {
		return nil
	}
	out := make([]stocklake.Column, len(cols))
	for i, col := range cols {
		out[i] = stocklake.Column{Name: aws.ToString(col.Name), Type: aws.ToString(col.Type), Comment: aws.ToString(col.Comment)}
	}
	return out
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// toTableInput converts a table for CreateTable (old nil) or UpdateTable
// (old the current Glue table, whose unmodelled fields are kept).
func toTableInput(t stocklake.Table, tbl string, old *types.Table) *types.TableInput {
	in := &types.TableInput{Name: aws.String(tbl), TableType: aws.String(externalTable)}
	sd := &types.StorageDescriptor{}
	var oldCols []types.Column
	if old != nil {
		in.Owner, in.Retention = old.Owner, old.Retention
		if old.TableType != nil {
			in.TableType = old.TableType
		}
		if old.StorageDescriptor != nil {
			o := *old.StorageDescriptor
			sd = &o
			oldCols = o.Columns
			if o.SerdeInfo != nil {
				si := *o.SerdeInfo
				sd.SerdeInfo = &si
			}
		}
		oldCols = append(oldCols, old.PartitionKeys...)
	}
	in.Description = optional(t.Description)

	format := strings.ToLower(t.Format)
	if format == "" {
		format = strings.ToLower(t.Parameters[paramClassifier])
	}
	// A table that names only its format gets the classes Athena and
	// Trino expect for it.
	input, output, serde := t.InputFormat, t.OutputFormat, t.SerDe
	if in, out, sd, ok := hive.Storage(format); ok {
		input = cmp.Or(input, in)
		output = cmp.Or(output, out)
		serde = cmp.Or(serde, sd)
	}
	sd.Columns = toColumns(t.Columns, oldCols)
	sd.Location = aws.String(t.Location)
	sd.InputFormat, sd.OutputFormat = optional(input), optional(output)
	if sd.SerdeInfo == nil {
		sd.SerdeInfo = &types.SerDeInfo{}
	}
	sd.SerdeInfo.SerializationLibrary = optional(serde)
	sd.SerdeInfo.Parameters = maps.Clone(t.SerDeParams)
	comp := strings.ToLower(t.Parameters[paramCompression])
	sd.Compressed = comp != "" && comp != "none"
	in.StorageDescriptor = sd
	in.PartitionKeys = toColumns(t.PartitionKeys, oldCols)

	in.Parameters = maps.Clone(t.Parameters)
	if in.Parameters == nil {
		in.Parameters = map[string]string{}
	}
	if _, ok := in.Parameters[paramClassifier]; !ok && format != "" {
		in.Parameters[paramClassifier] = format
	}
	if _, ok := in.Parameters[paramExternal]; !ok && aws.ToString(in.TableType) == externalTable {
		in.Parameters[paramExternal] = "TRUE"
	}
	return in
}

// formatOf names the data format of a Glue table: its classification, or
// else what its SerDe and input format say.
func formatOf(t types.Table) string {
	if f := t.Parameters[paramClassifier]; f != "" {
		return strings.ToLower(f)
	}
	if t.StorageDescriptor == nil {
		return ""
	}
	lib := ""
	if t.StorageDescriptor.SerdeInfo != nil {
		lib = strings.ToLower(aws.ToString(t.StorageDescriptor.SerdeInfo.SerializationLibrary))
	}
	input := strings.ToLower(aws.ToString(t.StorageDescriptor.InputFormat))
	switch {
	case strings.Contains(lib, "parquet") || strings.Contains(input, "parquet"):
		return stocklake.FormatParquet
	case strings.Contains(lib, "json"):
		return stocklake.FormatJSON
	case strings.Contains(lib, "csv") || strings.Contains(lib, "lazysimpleserde"):
		return stocklake.FormatCSV
	}
	return ""
}

// version maps Glue's VersionId, which starts at 0, to Table.Version,
// which starts at 1.
func version(id *string) int {
	v, err := strconv.Atoi(aws.ToString(id))
	if err != nil {
		return 0
	}
	return v + 1
}

func fromTable(t types.Table) stocklake.Table {
	out := stocklake.Table{
		Database:      aws.ToString(t.DatabaseName),
		Name:          aws.ToString(t.Name),
		Description:   aws.ToString(t.Description),
		PartitionKeys: fromColumns(t.PartitionKeys),
		Format:        formatOf(t),
		Parameters:    maps.Clone(t.Parameters),
		Version:       version(t.VersionId),
		CreateTime:    utc(t.CreateTime),
		UpdateTime:    utc(t.UpdateTime),
	}
	if out.UpdateTime.IsZero() {
		out.UpdateTime = out.CreateTime
	}
	if strings.EqualFold(out.Parameters[paramExternal], "TRUE") {
		delete(out.Parameters, paramExternal)
	}
	if sd := t.StorageDescriptor; sd != nil {
		out.Columns = fromColumns(sd.Columns)
		out.Location = aws.ToString(sd.Location)
		out.InputFormat = aws.ToString(sd.InputFormat)
		out.OutputFormat = aws.ToString(sd.OutputFormat)
		if sd.SerdeInfo != nil {
			out.SerDe = aws.ToString(sd.SerdeInfo.SerializationLibrary)
			out.SerDeParams = maps.Clone(sd.SerdeInfo.Parameters)
		}
	}
	return out
}

// CreateTable creates an external table; Glue numbers its definition as
// version 1 (see the package documentation). An existing table wraps
// ErrExists, a missing database ErrNotFound. When the request was retried
// (its answer lost, say) and Glue then answers that the table exists, the
// table is read: if it is the one requested, the first attempt made it and
// CreateTable succeeds.
func (c *Catalog) CreateTable(ctx context.Context, t stocklake.Table) error {
	db, tbl, err := checkTable(t)
	if err != nil {
		return err
	}
	input := toTableInput(t, tbl, nil)
	var attempts int
	_, err = c.client.CreateTable(ctx, &awsglue.CreateTableInput{
		CatalogId:    c.catalogID,
		DatabaseName: aws.String(db),
		TableInput:   input,
	}, countAttempts(&attempts))
	err = c.fail(ctx, "creating table "+db+"."+tbl, err)
	if attempts > 1 && errors.Is(err, stocklake.ErrExists) {
		if got, gerr := c.getTable(ctx, db, tbl); gerr == nil && sameTable(*got, input) {
			return nil
		}
	}
	return err
}

// sameTable reports whether Glue's table got has the definition in.
func sameTable(got types.Table, in *types.TableInput) bool {
	a := fromTable(got)
	b := fromTable(types.Table{Name: in.Name, Description: in.Description, StorageDescriptor: in.StorageDescriptor,
		PartitionKeys: in.PartitionKeys, Parameters: in.Parameters, TableType: in.TableType})
	return a.Name == b.Name && a.Description == b.Description && a.Location == b.Location &&
		a.InputFormat == b.InputFormat && a.OutputFormat == b.OutputFormat && a.SerDe == b.SerDe &&
		slices.Equal(a.Columns, b.Columns) && slices.Equal(a.PartitionKeys, b.PartitionKeys) &&
		maps.Equal(a.SerDeParams, b.SerDeParams) && maps.Equal(a.Parameters, b.Parameters)
}

// countAttempts counts the attempts the SDK makes of one request, retries
// included, into n.
func countAttempts(n *int) func(*awsglue.Options) {
	return func(o *awsglue.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Finalize.Insert(middleware.FinalizeMiddlewareFunc("stocklakeCountAttempts",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					*n++
					return next.HandleFinalize(ctx, in)
				}), "Retry", middleware.After)
		})
	}
}

// getTable reads the current Glue definition of a table.
func (c *Catalog) getTable(ctx context.Context, db, tbl string) (*types.Table, error) {
	out, err := c.client.GetTable(ctx, &awsglue.GetTableInput{CatalogId: c.catalogID, DatabaseName: aws.String(db), Name: aws.String(tbl)})
	if err != nil {
		return nil, c.fail(ctx, "reading table "+db+"."+tbl, err)
	}
	if out.Table == nil {
		return nil, fmt.Errorf("glue: table %s.%s: empty answer from %s: %w", db, tbl, c.endpoint, stocklake.ErrNotFound)
	}
	return out.Table, nil
}

// UpdateTable replaces the definition of an existing table; Glue keeps the
// old one as a table version (t.Version is ignored). Glue fields stocklake
// does not model are kept. When the columns, formats or SerDe change, every
// partition's storage descriptor is updated to the table's, keeping its
// location and parameters. A missing table wraps ErrNotFound.
func (c *Catalog) UpdateTable(ctx context.Context, t stocklake.Table) error {
	db, tbl, err := checkTable(t)
	if err != nil {
		return err
	}
	old, err := c.hiveTable(ctx, db, tbl, "its definition is changed by Iceberg commits only")
	if err != nil {
		return err
	}
	in := toTableInput(t, tbl, old)
	_, err = c.client.UpdateTable(ctx, &awsglue.UpdateTableInput{
		CatalogId:    c.catalogID,
		DatabaseName: aws.String(db),
		TableInput:   in,
		// Fail rather than overwrite a change made since old was read.
		VersionId: old.VersionId,
	})
	if err != nil {
		return c.fail(ctx, "updating table "+db+"."+tbl, err)
	}
	if len(in.PartitionKeys) == 0 || len(in.PartitionKeys) != len(old.PartitionKeys) || sameStorage(old.StorageDescriptor, in.StorageDescriptor) {
		return nil
	}
	return c.syncPartitions(ctx, db, tbl, in.StorageDescriptor)
}

// notIceberg refuses a Hive operation on an Iceberg table (table_type
// ICEBERG): its columns, files and partitions are in its Iceberg metadata,
// which Glue's copy must not contradict.
// hiveTable reads table db.tbl, which must not be an Iceberg table: why
// says what the caller would do to it. A missing table wraps ErrNotFound.
func (c *Catalog) hiveTable(ctx context.Context, db, tbl, why string) (*types.Table, error) {
	t, err := c.getTable(ctx, db, tbl)
	if err != nil {
		return nil, err
	}
	if err := notIceberg(t, why, db, tbl); err != nil {
		return nil, err
	}
	return t, nil
}

// checkPartition checks that p has a value for each partition key of
// table t and a location.
func checkPartition(p stocklake.Partition, t *types.Table, db, tbl string) error {
	if len(p.Values) != len(t.PartitionKeys) {
		return fmt.Errorf("glue: partition %q of %s.%s has %d values, the table has %d partition keys: %w",
			p.Values, db, tbl, len(p.Values), len(t.PartitionKeys), stocklake.ErrInvalid)
	}
	if p.Location == "" {
		return fmt.Errorf("glue: partition %q of %s.%s has no location: %w", p.Values, db, tbl, stocklake.ErrInvalid)
	}
	return nil
}

func notIceberg(t *types.Table, why, db, tbl string) error {
	if t != nil && strings.EqualFold(t.Parameters[stocklake.ParamTableType], stocklake.TableTypeIceberg) {
		return fmt.Errorf("glue: %s.%s is an Iceberg table: %s (write it with the iceberg table format, or use another table name): %w",
			db, tbl, why, stocklake.ErrInvalid)
	}
	return nil
}

// sameStorage reports whether two storage descriptors agree on what
// partitions must copy from their table: columns, formats and SerDe.
func sameStorage(a, b *types.StorageDescriptor) bool {
	if a == nil || b == nil {
		return a == b
	}
	if aws.ToString(a.InputFormat) != aws.ToString(b.InputFormat) || aws.ToString(a.OutputFormat) != aws.ToString(b.OutputFormat) {
		return false
	}
	var sa, sb types.SerDeInfo
	if a.SerdeInfo != nil {
		sa = *a.SerdeInfo
	}
	if b.SerdeInfo != nil {
		sb = *b.SerdeInfo
	}
	if aws.ToString(sa.SerializationLibrary) != aws.ToString(sb.SerializationLibrary) || !maps.Equal(sa.Parameters, sb.Parameters) {
		return false
	}
	return slices.EqualFunc(a.Columns, b.Columns, func(x, y types.Column) bool {
		return strings.EqualFold(aws.ToString(x.Name), aws.ToString(y.Name)) && aws.ToString(x.Type) == aws.ToString(y.Type)
	})
}

// partitionStorage is a partition's copy of its table's storage
// descriptor.
func partitionStorage(table *types.StorageDescriptor, location string) *types.StorageDescriptor {
	sd := types.StorageDescriptor{}
	if table != nil {
		sd = *table
	}
	sd.Location = aws.String(location)
	return &sd
}

// syncPartitions gives every partition whose storage differs from sd a
// copy of sd, in batches.
func (c *Catalog) syncPartitions(ctx context.Context, db, tbl string, sd *types.StorageDescriptor) error {
	op := "updating the partitions of " + db + "." + tbl + " to its new schema"
	var entries []types.BatchUpdatePartitionRequestEntry
	p := awsglue.NewGetPartitionsPaginator(c.client, &awsglue.GetPartitionsInput{
		CatalogId: c.catalogID, DatabaseName: aws.String(db), TableName: aws.String(tbl),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return c.fail(ctx, op, err)
		}
		for _, part := range page.Partitions {
			if sameStorage(part.StorageDescriptor, sd) {
				continue
			}
			loc := ""
			if part.StorageDescriptor != nil {
				loc = aws.ToString(part.StorageDescriptor.Location)
			}
			entries = append(entries, types.BatchUpdatePartitionRequestEntry{
				PartitionValueList: part.Values,
				PartitionInput: &types.PartitionInput{
					Values:            part.Values,
					Parameters:        part.Parameters,
					LastAccessTime:    part.LastAccessTime,
					LastAnalyzedTime:  part.LastAnalyzedTime,
					StorageDescriptor: partitionStorage(sd, loc),
				},
			})
		}
	}
	// A partition deleted meanwhile needs no update.
	return c.batches(ctx, op, len(entries), updateBatch, "EntityNotFoundException", c.updateEntries(db, tbl, entries))
}

// updateEntries returns the batch of c.batches that sends entries[lo:hi]
// of table db.tbl with BatchUpdatePartition.
func (c *Catalog) updateEntries(db, tbl string, entries []types.BatchUpdatePartitionRequestEntry) func(ctx context.Context, lo, hi int) ([]entryFailure, error) {
	return func(ctx context.Context, lo, hi int) ([]entryFailure, error) {
		out, err := c.client.BatchUpdatePartition(ctx, &awsglue.BatchUpdatePartitionInput{
			CatalogId: c.catalogID, DatabaseName: aws.String(db), TableName: aws.String(tbl), Entries: entries[lo:hi],
		})
		if err != nil {
			return nil, err
		}
		var fails []entryFailure
		for _, e := range out.Errors {
			fails = append(fails, failure(e.PartitionValueList, e.ErrorDetail))
		}
		return fails, nil
	}
}

// GetTable returns the current definition of a table; a missing one wraps
// ErrNotFound.
func (c *Catalog) GetTable(ctx context.Context, database, table string) (stocklake.Table, error) {
	db, tbl, err := stocklake.CatalogNames(database, table)
	if err != nil {
		return stocklake.Table{}, err
	}
	t, err := c.getTable(ctx, db, tbl)
	if err != nil {
		return stocklake.Table{}, err
	}
	return fromTable(*t), nil
}

// ListTables returns the current definition of every table in a database,
// views included, sorted by name; a missing database wraps ErrNotFound.
func (c *Catalog) ListTables(ctx context.Context, database string) ([]stocklake.Table, error) {
	db, err := stocklake.CatalogName("database", database)
	if err != nil {
		return nil, err
	}
	var out []stocklake.Table
	p := awsglue.NewGetTablesPaginator(c.client, &awsglue.GetTablesInput{CatalogId: c.catalogID, DatabaseName: aws.String(db)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail(ctx, "listing tables of "+db, err)
		}
		for _, t := range page.TableList {
			out = append(out, fromTable(t))
		}
	}
	slices.SortFunc(out, func(a, b stocklake.Table) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteTable deletes a table with its versions and partitions; a missing
// table wraps ErrNotFound, unless the request was retried (the first
// attempt deleted it).
func (c *Catalog) DeleteTable(ctx context.Context, database, table string) error {
	db, tbl, err := stocklake.CatalogNames(database, table)
	if err != nil {
		return err
	}
	var attempts int
	_, err = c.client.DeleteTable(ctx, &awsglue.DeleteTableInput{CatalogId: c.catalogID, DatabaseName: aws.String(db), Name: aws.String(tbl)},
		countAttempts(&attempts))
	err = c.fail(ctx, "deleting table "+db+"."+tbl, err)
	if attempts > 1 && errors.Is(err, stocklake.ErrNotFound) {
		// A retried request whose first attempt deleted the table.
		return nil
	}
	return err
}

// TableVersions returns the definitions Glue keeps of a table, oldest
// first; a missing table wraps ErrNotFound.
func (c *Catalog) TableVersions(ctx context.Context, database, table string) ([]stocklake.Table, error) {
	db, tbl, err := stocklake.CatalogNames(database, table)
	if err != nil {
		return nil, err
	}
	var out []stocklake.Table
	p := awsglue.NewGetTableVersionsPaginator(c.client, &awsglue.GetTableVersionsInput{
		CatalogId: c.catalogID, DatabaseName: aws.String(db), TableName: aws.String(tbl),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail(ctx, "reading versions of "+db+"."+tbl, err)
		}
		for _, v := range page.TableVersions {
			if v.Table == nil {
				continue
			}
			t := fromTable(*v.Table)
			if v.VersionId != nil {
				t.Version = version(v.VersionId)
			}
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("glue: table %s.%s has no versions: %w", db, tbl, stocklake.ErrNotFound)
	}
	slices.SortFunc(out, func(a, b stocklake.Table) int { return cmp.Compare(a.Version, b.Version) })
	return out, nil
}

// entryFailure is the error of one entry of a batch request.
type entryFailure struct {
	values        []string
	code, message string
}

func failure(values []string, d *types.ErrorDetail) entryFailure {
	f := entryFailure{values: values}
	if d != nil {
		f.code, f.message = aws.ToString(d.ErrorCode), aws.ToString(d.ErrorMessage)
	}
	return f
}

// partitionFailures converts the per-partition errors of a batch call.
func partitionFailures(errs []types.PartitionError) []entryFailure {
	var fails []entryFailure
	for _, e := range errs {
		fails = append(fails, failure(e.PartitionValues, e.ErrorDetail))
	}
	return fails
}

// batches runs call on the ranges [lo, hi) of n entries, size at a time
// and a few at once. Entry failures whose code is ignore are dropped; the
// first other one, or the first request error, is returned.
func (c *Catalog) batches(ctx context.Context, op string, n, size int, ignore string,
	call func(ctx context.Context, lo, hi int) ([]entryFailure, error)) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(batchConcurrency)
	var mu sync.Mutex
	var failed []entryFailure
	for lo := 0; lo < n; lo += size {
		hi := min(lo+size, n)
		g.Go(func() error {
			fails, err := call(gctx, lo, hi)
			if err != nil {
				return c.fail(gctx, op, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, f := range fails {
				if f.code != ignore {
					failed = append(failed, f)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(failed) == 0 {
		return nil
	}
	err := c.entryError(op, failed[0].values, failed[0].code, failed[0].message)
	if len(failed) > 1 {
		err = fmt.Errorf("%w (and %d more partitions failed)", err, len(failed)-1)
	}
	return err
}

// AddPartitions adds partitions, ignoring ones that already exist, with
// BatchCreatePartition in batches of 100. Each partition gets a copy of
// the table's storage descriptor with its own location; Glue sets its
// creation time. Each needs one value per partition key (ErrInvalid
// otherwise); a missing table wraps ErrNotFound.
func (c *Catalog) AddPartitions(ctx context.Context, database, table string, parts []stocklake.Partition) error {
	db, tbl, err := stocklake.CatalogNames(database, table)
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return nil
	}
	t, err := c.hiveTable(ctx, db, tbl, "it has no Hive partitions to add")
	if err != nil {
		return err
	}
	inputs := make([]types.PartitionInput, len(parts))
	for i, p := range parts {
		if err := checkPartition(p, t, db, tbl); err != nil {
			return err
		}
		inputs[i] = types.PartitionInput{
			Values:            p.Values,
			Parameters:        p.Parameters,
			StorageDescriptor: partitionStorage(t.StorageDescriptor, p.Location),
		}
	}
	return c.batches(ctx, "adding partitions to "+db+"."+tbl, len(inputs), createBatch, "AlreadyExistsException", func(ctx context.Context, lo, hi int) ([]entryFailure, error) {
		out, err := c.client.BatchCreatePartition(ctx, &awsglue.BatchCreatePartitionInput{
			CatalogId: c.catalogID, DatabaseName: aws.String(db), TableName: aws.String(tbl), PartitionInputList: inputs[lo:hi],
		})
		if err != nil {
			return nil, err
		}
		return partitionFailures(out.Errors), nil
	})
}

// ListPartitions returns a table's partitions sorted by their values; a
// missing table wraps ErrNotFound.
func (c *Catalog) ListPartitions(ctx context.Context, database, table string) ([]stocklake.Partition, error) {
	db, tbl, err := stocklake.CatalogNames(database, table)
	if err != nil {
		return nil, err
	}
	var out []stocklake.Partition
	p := awsglue.NewGetPartitionsPaginator(c.client, &awsglue.GetPartitionsInput{
		CatalogId: c.catalogID, DatabaseName: aws.String(db), TableName: aws.String(tbl),
		// Only values, location and parameters are needed.
		ExcludeColumnSchema: aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail(ctx, "listing partitions of "+db+"."+tbl, err)
		}
		for _, part := range page.Partitions {
			sp := stocklake.Partition{
				Values:     part.Values,
				Parameters: part.Parameters,
				CreateTime: utc(part.CreationTime),
			}
			if sp.Parameters == nil {
				sp.Parameters = map[string]string{}
			}
			if part.StorageDescriptor != nil {
				sp.Location = aws.ToString(part.StorageDescriptor.Location)
			}
			out = append(out, sp)
		}
	}
	slices.SortFunc(out, func(a, b stocklake.Partition) int { return slices.Compare(a.Values, b.Values) })
	return out, nil
}

// UpdatePartition replaces the location and parameters of the partition
// with p.Values with one BatchUpdatePartition entry (one atomic Glue
// update), giving it a copy of the table's storage descriptor with the
// new location. AWS Glue keeps its creation time (moto makes a new one).
// A missing partition or table wraps ErrNotFound.
func (c *Catalog) UpdatePartition(ctx context.Context, database, table string, p stocklake.Partition) error {
	db, tbl, err := stocklake.CatalogNames(database, table)
	if err != nil {
		return err
	}
	t, err := c.hiveTable(ctx, db, tbl, "it has no Hive partitions to update")
	if err != nil {
		return err
	}
	if err := checkPartition(p, t, db, tbl); err != nil {
		return err
	}
	entries := []types.BatchUpdatePartitionRequestEntry{{
		PartitionValueList: p.Values,
		PartitionInput: &types.PartitionInput{
			Values:            p.Values,
			Parameters:        p.Parameters,
			StorageDescriptor: partitionStorage(t.StorageDescriptor, p.Location),
		},
	}}
	return c.batches(ctx, "updating a partition of "+db+"."+tbl, 1, 1, "", c.updateEntries(db, tbl, entries))
}

// DeletePartitions removes partitions by their values with
// BatchDeletePartition in batches of 25; missing ones are ignored, a
// missing table wraps ErrNotFound.
func (c *Catalog) DeletePartitions(ctx context.Context, database, table string, values [][]string) error {
	db, tbl, err := stocklake.CatalogNames(database, table)
	if err != nil {
		return err
	}
	if len(values) == 0 {
		return nil
	}
	list := make([]types.PartitionValueList, len(values))
	for i, v := range values {
		list[i] = types.PartitionValueList{Values: v}
	}
	return c.batches(ctx, "deleting partitions of "+db+"."+tbl, len(list), deleteBatch, "EntityNotFoundException", func(ctx context.Context, lo, hi int) ([]entryFailure, error) {
		out, err := c.client.BatchDeletePartition(ctx, &awsglue.BatchDeletePartitionInput{
			CatalogId: c.catalogID, DatabaseName: aws.String(db), TableName: aws.String(tbl), PartitionsToDelete: list[lo:hi],
		})
		if err != nil {
			return nil, err
		}
		return partitionFailures(out.Errors), nil
	})
}
