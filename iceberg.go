package stocklake

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Table formats of a lake table written by the sink.
const (
	TableFormatHive    = "hive"    // Hive-style folders of Parquet objects, offsets in the sink's state
	TableFormatIceberg = "iceberg" // an Apache Iceberg table whose snapshots carry the Kafka offsets
)

// ErrFenced reports a commit refused because the table's committed offsets
// are not where the batch starts: another sink took over the partitions (this
// one is a zombie) or the batch skipped or repeated offsets. Nothing was
// committed; the files the batch wrote are orphans. Do not retry the batch:
// read the offsets from the table again and resume from there.
var ErrFenced = errors.New("fenced: the table's offsets moved on")

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
