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

// TableShape is what a sink decides once per table from its first records
// and keeps in the table: the schema mode, the event-time field and the
// columns.
type TableShape struct {
	// Schema is "tick" (the sink's tick columns) or "json" (columns
	// inferred from JSON objects).
	Schema string
	// TimeField is the event-time column of a JSON table, by which it is
	// partitioned; "" when the table has none (the Kafka record timestamp
	// was the event time, the table is unpartitioned).
	TimeField string
	// Columns are a JSON table's columns with Glue/Hive types (boolean,
	// bigint, double, string, timestamp for the time field), all nullable;
	// nil for a tick table.
	Columns []Column
}
