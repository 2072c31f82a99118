package stocklake

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Table formats of a lake table written by the sink.
const (
	TableFormatHive    = "hive"    // Hive-style folders of Parquet objects, offsets in the sink's state
	TableFormatIceberg = "iceberg" // an Apache Iceberg table whose snapshots carry the Kafka offsets
)

// Catalog table parameters of an Iceberg table, as AWS Glue, Athena, Trino,
// Spark and pyiceberg write them: ParamTableType is TableTypeIceberg and
// ParamMetadataLocation the URL of the table's current metadata file (the
// previous one in ParamPreviousMetadataLocation).
const (
	ParamTableType                = "table_type"
	ParamMetadataLocation         = "metadata_location"
	ParamPreviousMetadataLocation = "previous_metadata_location"
	TableTypeIceberg              = "ICEBERG"
)

// IsIceberg reports whether t is an Iceberg table (parameter table_type is
// ICEBERG, in any case). An Iceberg table's files, snapshots and partitions
// are its metadata's: it has no Hive partitions to register, and crawling
// its folder as a Hive table would read uncommitted and deleted files.
func (t Table) IsIceberg() bool {
	return strings.EqualFold(t.Parameters[ParamTableType], TableTypeIceberg)
}

// ErrFenced reports a commit refused because the table's committed offsets
// are not where the batch starts: another sink took over the partitions (this
// one is a zombie) or the batch skipped or repeated offsets. Nothing was
// committed; the files the batch wrote are orphans. Do not retry the batch:
// read the offsets from the table again and resume from there.
var ErrFenced = errors.New("fenced: the table's offsets moved on")

// FencedError is the ErrFenced error of a commit of several partitions: it
// names the partitions whose ranges the table refused (their Start is not
// the table's offset), so that a writer can drop those and commit the
// others' files and ranges again without them. errors.Is(err, ErrFenced)
// holds for it; errors.As finds it through wrapping.
type FencedError struct {
	// Partitions are the refused partitions, in the order of the commit's
	// ranges.
	Partitions []TopicPartition
	// Reason says, per refused partition, where it started and where the
	// table is.
	Reason string
}

// Error is the reason followed by what to do.
func (e *FencedError) Error() string {
	return e.Reason + ": another sink owns these partitions now, or the batch skipped or repeated offsets; drop the batch and resume from the table's offsets: " + ErrFenced.Error()
}

// Unwrap returns ErrFenced.
func (e *FencedError) Unwrap() error { return ErrFenced }

// TopicPartition names one Kafka partition. TopicID is the topic's ID as
// Kafka reports it (it changes when a topic is re-created), or the topic's
// name on brokers without topic IDs.
type TopicPartition struct {
	TopicID   string
	Partition int32
}

// String is "TOPICID:PARTITION", the key under which a table records the
// partition's offset.
func (tp TopicPartition) String() string {
	return tp.TopicID + ":" + strconv.FormatInt(int64(tp.Partition), 10)
}

// MarshalText is String, so offsets by partition encode as a JSON object
// keyed "TOPICID:PARTITION".
func (tp TopicPartition) MarshalText() ([]byte, error) { return []byte(tp.String()), nil }

// UnmarshalText parses "TOPICID:PARTITION" (the topic ID may contain ':').
func (tp *TopicPartition) UnmarshalText(b []byte) error {
	s := string(b)
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return fmt.Errorf("topic partition %q: want TOPICID:PARTITION: %w", s, ErrInvalid)
	}
	p, err := strconv.ParseInt(s[i+1:], 10, 32)
	if err != nil {
		return fmt.Errorf("topic partition %q: the partition is not a number: %w", s, ErrInvalid)
	}
	tp.TopicID, tp.Partition = s[:i], int32(p)
	return nil
}

// OffsetRange is the span [Start, End) of one partition's offsets that a
// commit accounts for: every offset in it is either in the committed files,
// sent to the dead-letter topic, or gone from Kafka (retention). End is the
// next offset to consume. Start must equal the next offset the table has
// committed for the partition (any Start is accepted for a partition the
// table has never seen).
type OffsetRange struct {
	TopicPartition
	Start int64
	End   int64
}

// LakeFile is a data file already written to the lake, to be added to a
// table by a commit.
type LakeFile struct {
	// URL is the file's full location, e.g. file:///data/lake/x.parquet or
	// s3://bucket/lake/x.parquet.
	URL string
}

// TableSnapshot is one committed version of a table that carries offsets.
type TableSnapshot struct {
	ID        int64
	ParentID  int64 // 0 for the first snapshot
	Time      time.Time
	Operation string // append, replace, overwrite or delete
	// Summary is the snapshot's summary as the table format stores it.
	Summary map[string]string
	// Offsets is the next offset per partition as of this snapshot, for
	// every partition the table has seen (nil when the snapshot was written
	// by another program and carries none).
	Offsets map[TopicPartition]int64
	// Ranges are the offsets this snapshot's commit accounted for (nil for
	// snapshots without them).
	Ranges []OffsetRange
}

// OffsetTable is a lake table that carries its own Kafka offsets, so a sink
// commits data and offsets in one atomic step and reads its start offsets
// from the table: an Iceberg table.
type OffsetTable interface {
	// Offsets returns the next offset to consume per partition, as of the
	// table's current state; partitions never committed are absent.
	Offsets(ctx context.Context) (map[TopicPartition]int64, error)
	// Commit adds files and advances the offsets of ranges in one atomic
	// snapshot. It wraps ErrFenced when a range's Start is not the table's
	// committed offset for that partition; conflicts with other writers are
	// retried on the refreshed table.
	Commit(ctx context.Context, files []LakeFile, ranges []OffsetRange) (TableSnapshot, error)
}

// IcebergTableMetadata is an Iceberg table's current state as a catalog
// holds it: where its metadata file is and what it says.
type IcebergTableMetadata struct {
	// Location is the URL of the current metadata file
	// (…/metadata/00042-<uuid>.metadata.json).
	Location string
	// JSON is the table metadata, as in the metadata file (the Iceberg
	// table spec's JSON form).
	JSON []byte
}

// IcebergCatalog is an Iceberg catalog seen through the Iceberg REST
// catalog API's model: namespaces (a namespace is a path of names; a
// stocklake database is a one-level namespace) holding tables. Missing
// namespaces and tables wrap ErrNotFound.
type IcebergCatalog interface {
	// Namespaces returns the namespaces directly under parent (the
	// top-level ones for an empty parent).
	Namespaces(ctx context.Context, parent []string) ([][]string, error)
	// NamespaceProperties returns a namespace's properties.
	NamespaceProperties(ctx context.Context, namespace []string) (map[string]string, error)
	// Tables returns the names of a namespace's tables.
	Tables(ctx context.Context, namespace []string) ([]string, error)
	// TableMetadata returns a table's current metadata.
	TableMetadata(ctx context.Context, namespace []string, name string) (IcebergTableMetadata, error)
	// CommitTableUpdates applies an Iceberg REST CommitTableRequest's
	// requirements and updates (JSON arrays, as the spec writes them) to a
	// table in one atomic commit, and returns the new metadata. A failed
	// requirement (another writer got in first) wraps ErrPrecondition; an
	// unknown or malformed requirement or update wraps ErrInvalid.
	CommitTableUpdates(ctx context.Context, namespace []string, name string, requirements, updates []byte) (IcebergTableMetadata, error)
}

// ScanPredicate is a comparison of one column of a table with constants,
// which a table format may use to skip files (partition and column
// statistics pruning). Readers still apply their full filter to the rows
// read: a predicate only ever removes files that cannot match it.
type ScanPredicate struct {
	// Column is the column's name (case-insensitive).
	Column string
	// Op is one of "=", "<", "<=", ">", ">=" (one value) or "in" (any
	// number of values).
	Op string
	// Values are string, bool, int64, float64 or time.Time (a timestamp in
	// UTC, or a date at midnight UTC).
	Values []any
}

// ScanOptions select the version of a table to read and the predicates to
// prune its files with. At most one of SnapshotID and AsOf may be set;
// neither reads the current version.
type ScanOptions struct {
	Predicates []ScanPredicate
	// SnapshotID reads that snapshot (FOR VERSION AS OF).
	SnapshotID int64
	// AsOf reads the snapshot that was current at that time (FOR TIMESTAMP
	// AS OF).
	AsOf time.Time
	// ColumnsOnly plans no files: the plan has only Table, FileColumns and
	// SnapshotID (cheap: no manifest is read).
	ColumnsOnly bool
}

// ScanFile is one data file a scan reads.
type ScanFile struct {
	URL     string
	Size    int64
	Records int64
}

// ScanPlan is what a table-format reader has to read for a scan.
type ScanPlan struct {
	// Table describes the table as a catalog table: its columns (Glue
	// types) in the scanned snapshot's schema, its location, FormatParquet.
	Table Table
	// FileColumns are, per column of Table.Columns, the names that column
	// may have in the data files (the table's name mapping; the column's
	// name when it has none).
	FileColumns [][]string
	// Files are the data files left after pruning.
	Files []ScanFile
	// SnapshotID is the snapshot read; 0 for a table without snapshots
	// (which reads as empty).
	SnapshotID int64
}

// IcebergTables plans scans of Iceberg tables for a query engine. PlanScan
// wraps ErrNotFound when database.name is not an Iceberg table, and
// ErrInvalid when the snapshot asked for does not exist or the table cannot
// be read correctly (e.g. it has delete files).
type IcebergTables interface {
	PlanScan(ctx context.Context, database, name string, opts ScanOptions) (ScanPlan, error)
	// ListTables returns the names of the Iceberg tables of a database
	// (none for a database that does not exist).
	ListTables(ctx context.Context, database string) ([]string, error)
}

// IcebergRegistrar registers Iceberg tables found in a lake (a folder with
// metadata/*.metadata.json) in a catalog, as the crawler does: the SQLite
// catalog (iceberg.Catalog) keeps them in the Iceberg SQL catalog schema; a
// Glue implementation would create a table with table_type=ICEBERG and
// metadata_location.
type IcebergRegistrar interface {
	// RegisterIcebergTable makes database.name the Iceberg table whose
	// current metadata file is metadataLocation (a URL). created is false
	// when database.name is already that table (the catalog is then left
	// alone: it, not the newest file in the folder, says which metadata is
	// current). A name taken by another table wraps ErrExists; a file that
	// is not Iceberg table metadata wraps ErrInvalid.
	RegisterIcebergTable(ctx context.Context, database, name, metadataLocation string) (created bool, err error)
}

// TableDataFile is one data file of a table's current snapshot, as a
// compactor plans with it.
type TableDataFile struct {
	// URL is the file's full location.
	URL string
	// Partition is the table partition the file's rows belong to, as a
	// path ("ts_day=2026-11-26"; "" for an unpartitioned table). Files
	// with the same Partition may be merged into one.
	Partition string
	// Size is the file's size in bytes; Rows its row count.
	Size int64
	Rows int64
	// Added is when the snapshot that added the file was committed (zero
	// when that snapshot has been expired: the file is at least as old as
	// the retention).
	Added time.Time
}

// RewritableTable is a table whose data files a compactor may replace by
// files holding the same rows, safely against writers appending at the
// same moment: an Iceberg table.
type RewritableTable interface {
	// Name is the table's name.
	Name() string
	// DataFiles lists the data files of the current snapshot.
	DataFiles(ctx context.Context) ([]TableDataFile, error)
	// PartitionFileKey is the key, relative to the lake root, under which
	// a new data file named name holding rows of partition goes; ok is
	// false when the table lives outside the lake.
	PartitionFileKey(partition, name string) (key string, ok bool)
	// Rewrite replaces the files remove by add in one atomic snapshot;
	// files appended by others meanwhile stay (conflicts are retried on
	// the refreshed table). It wraps ErrInvalid when a file of remove is
	// no longer in the table.
	Rewrite(ctx context.Context, remove, add []LakeFile) (TableSnapshot, error)
}

// OrphanFile is a file under a table's folders that no snapshot references,
// removed by orphan cleanup.
type OrphanFile struct {
	URL  string
	Size int64
}

// MaintainedTable is a RewritableTable that also keeps a history to
// expire and files to clean up: what `stocklake maintain` runs on an
// Iceberg table.
type MaintainedTable interface {
	RewritableTable
	// ExpireSnapshots drops snapshots older than olderThan beyond the
	// newest keepLast (never the ones the offsets need) and deletes files
	// only they referenced; it returns how many it expired.
	ExpireSnapshots(ctx context.Context, olderThan time.Duration, keepLast int) (int, error)
	// RewriteManifests merges the current snapshot's manifests when it has
	// at least minManifests; it returns how many it replaced.
	RewriteManifests(ctx context.Context, minManifests int) (int, error)
	// RemoveOrphans deletes files under the table's data and metadata
	// folders that no snapshot references and that are older than
	// olderThan.
	RemoveOrphans(ctx context.Context, olderThan time.Duration) ([]OrphanFile, error)
	// SetLastMaintenance records when maintenance last finished a pass.
	SetLastMaintenance(ctx context.Context, at time.Time) error
}

// TableShape is what a sink decides once per table from its first records
// and keeps in the table: the schema mode, the event-time field and the
// columns.
type TableShape struct {
	// Schema is "tick" (the sink's tick columns), "json" (columns
	// inferred from JSON objects) or "registry" (records decoded with a
	// schema registry).
	Schema string
	// TimeField is the event-time column of a JSON table, by which it is
	// partitioned; "" when the table has none (the Kafka record timestamp
	// was the event time, the table is unpartitioned).
	TimeField string
	// Columns are a JSON table's columns with Glue/Hive types (boolean,
	// bigint, double, string, timestamp for the time field), all nullable;
	// nil for a tick table.
	Columns []Column
	// Fields are a registry table's columns: the union of the writer
	// schemas landed in it; nil for other tables.
	Fields []Field
}
