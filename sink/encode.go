package sink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/stocklake/stocklake"
)

// TickRow is the Parquet layout of a tick in the lake. Event time is
// INT64 TIMESTAMP(MICROS, UTC), which Athena, Trino and DuckDB read as a
// timestamp. Event time is DELTA_BINARY_PACKED and price and size are
// dictionary-encoded (ticks repeat prices and lot sizes): zstd then has a
// fifth of the bytes to compress, which took a quarter off the CPU of
// encoding and 11% off the file size of simulated ticks (issue 18;
// BenchmarkTickWriter). Every reader of the lake reads both encodings.
type TickRow struct {
	Symbol     string   `parquet:"symbol,dict"`
	TS         int64    `parquet:"ts,timestamp(microsecond),delta"`
	Price      float64  `parquet:"price,dict"`
	Size       float64  `parquet:"size,dict"`
	Exchange   string   `parquet:"exchange,dict"`
	TradeID    string   `parquet:"trade_id"`
	Conditions []string `parquet:"conditions,list"`
	Source     string   `parquet:"source,dict"`
}

// TickColumns returns the columns of TickRow as Glue/Hive types, in file
// order: what a crawler reads from the footer of a tick object.
func TickColumns() []stocklake.Column {
	return []stocklake.Column{
		{Name: "symbol", Type: "string"}, {Name: "ts", Type: "timestamp"}, {Name: "price", Type: "double"},
		{Name: "size", Type: "double"}, {Name: "exchange", Type: "string"}, {Name: "trade_id", Type: "string"},
		{Name: "conditions", Type: "array<string>"}, {Name: "source", Type: "string"},
	}
}

// newTickRow converts a tick to its lake row.
func newTickRow(t *stocklake.Tick) TickRow {
	return TickRow{
		Symbol: t.Symbol, TS: t.Time.UnixMicro(), Price: t.Price, Size: t.Size,
		Exchange: t.Exchange, TradeID: t.TradeID, Conditions: t.Conditions, Source: t.Source,
	}
}

// ParseCodec maps a Parquet compression name to its codec.
func ParseCodec(name string) (compress.Codec, error) {
	switch name {
	case "", "zstd":
		return &zstdCodec{}, nil
	case "snappy":
		return &parquet.Snappy, nil
	case "gzip":
		return &parquet.Gzip, nil
	case "none", "uncompressed":
		return &parquet.Uncompressed, nil
	}
	return nil, fmt.Errorf("parquet compression %q is not one of zstd, snappy, gzip, none: %w", name, stocklake.ErrConfig)
}

func writerOptions(codec compress.Codec, rowGroupRows int64) []parquet.WriterOption {
	return []parquet.WriterOption{
		parquet.Compression(codec),
		parquet.MaxRowsPerRowGroup(rowGroupRows),
		parquet.CreatedBy("stocklake", stocklake.Version, ""),
		// Objects are encoded into memory: a write buffer in front would
		// only cost 32 KiB per open lake partition.
		parquet.WriteBufferSize(0),
		// Page minimums and maximums go into the column index only, not
		// also into each page header (parquet-go computes them once for
		// each, and the page headers' copies are the deprecated place that
		// engines read only without a column index): 15% less encoding CPU.
		parquet.DataPageStatistics(false),
	}
}

// tickWriter encodes tick rows into a Parquet file in memory as they
// arrive, so a buffered batch costs its compressed size, not its rows.
// Full staging buffers are encoded in the background, one at a time and in
// order, while the sink decodes the next rows into a second buffer: Parquet
// encoding and compression (about half of the sink's CPU) runs on another
// core than the poll loop.
type tickWriter struct {
	out     bytes.Buffer
	w       *parquet.GenericWriter[TickRow]
	staging []TickRow
	spare   []TickRow // the other staging buffer; the background's while busy
	n       int
	// busy, while a buffer is encoded in the background, receives the
	// result of its Write; nil otherwise. Nothing but that goroutine
	// touches w or spare until it is received.
	busy chan error
}

// tickStaging is how many rows a tickWriter collects before encoding
// them; its staging slice grows to it from a few rows, so a partition that
// gets one tick does not cost the whole staging buffer.
const tickStaging = 4096

func newTickWriter(codec compress.Codec, rowGroupRows int64) *tickWriter {
	tw := &tickWriter{staging: make([]TickRow, 0, 8)}
	tw.w = parquet.NewGenericWriter[TickRow](&tw.out, writerOptions(codec, rowGroupRows)...)
	return tw
}

func (tw *tickWriter) add(r TickRow) error {
	tw.staging = append(tw.staging, r)
	tw.n++
	if len(tw.staging) == tickStaging {
		return tw.drainAsync()
	}
	return nil
}

// wait waits for the buffer being encoded in the background, if any, and
// returns the error of its encoding.
func (tw *tickWriter) wait() error {
	if tw.busy == nil {
		return nil
	}
	err := <-tw.busy
	tw.busy = nil
	return err
}

// drainAsync hands the staging buffer to a goroutine that encodes it,
// once the previous one is done, and stages further rows in the other.
func (tw *tickWriter) drainAsync() error {
	if err := tw.wait(); err != nil {
		return err
	}
	rows := tw.staging
	if tw.spare == nil {
		tw.spare = make([]TickRow, 0, tickStaging)
	}
	tw.staging, tw.spare = tw.spare[:0], rows
	done := make(chan error, 1)
	tw.busy = done
	go func() { done <- tw.write(rows) }()
	return nil
}

// write encodes rows and clears them (their strings are garbage then).
func (tw *tickWriter) write(rows []TickRow) error {
	if _, err := tw.w.Write(rows); err != nil {
		return fmt.Errorf("encode parquet: %w", err)
	}
	clear(rows)
	return nil
}

// finish completes the file, with key-value metadata meta under
// stocklake.ParquetKeyBatches, and appends it to buf.
func (tw *tickWriter) finish(buf *bytes.Buffer, meta string) error {
	if err := tw.wait(); err != nil {
		return err
	}
	if err := tw.write(tw.staging); err != nil {
		return err
	}
	tw.staging = tw.staging[:0]
	tw.w.SetKeyValueMetadata(stocklake.ParquetKeyBatches, meta)
	if err := tw.w.Close(); err != nil {
		return fmt.Errorf("encode parquet: %w", err)
	}
	buf.Write(tw.out.Bytes())
	return nil
}

// encodeJSONLines writes raw record values, one per line.
func encodeJSONLines(buf *bytes.Buffer, values [][]byte) {
	for _, v := range values {
		buf.Write(bytes.TrimSpace(v))
		buf.WriteByte('\n')
	}
}

// colKind is the inferred type of a JSON field, ordered so that a wider
// kind can hold every narrower one.
type colKind uint8

const (
	kindNull colKind = iota
	kindBool
	kindInt
	kindFloat
	kindString
)

// kindOf classifies a value decoded with json.Decoder.UseNumber. Nested
// objects and arrays are kept as JSON text (string).
func kindOf(v any) colKind {
	switch x := v.(type) {
	case nil:
		return kindNull
	case bool:
		return kindBool
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return kindInt
		}
		return kindFloat
	default:
		return kindString
	}
}

// hiveTypes are the Glue/Hive types of the Parquet columns of each kind
// (a column that was always null is written as a string).
var hiveTypes = [...]string{kindNull: "string", kindBool: "boolean", kindInt: "bigint", kindFloat: "double", kindString: "string"}

// widen returns the narrowest kind that holds both a and b.
func widen(a, b colKind) colKind {
	switch {
	case a == kindNull:
		return b
	case b == kindNull:
		return a
	case a == b:
		return a
	case (a == kindInt && b == kindFloat) || (a == kindFloat && b == kindInt):
		return kindFloat
	}
	return kindString
}

// inferKinds returns the widest kind of each field of objs.
func inferKinds(objs []map[string]any) map[string]colKind {
	kinds := map[string]colKind{}
	for _, o := range objs {
		for k, v := range o {
			kinds[k] = widen(kinds[k], kindOf(v))
		}
	}
	return kinds
}

// encodeObjects writes JSON objects as one Parquet file whose schema is
// inferred from them: every field is an optional column of the widest kind
// seen (boolean, int64, double or string). A numeric event-time field
// (timeField, epoch seconds to nanoseconds) becomes a TIMESTAMP(MICROS)
// column, so engines read it as a time; a textual one stays as written. It
// returns the columns with Glue/Hive types, in file order (by name).
func encodeObjects(buf *bytes.Buffer, objs []map[string]any, timeField string, codec compress.Codec, rowGroupRows int64, batches string) ([]stocklake.Column, error) {
	kinds := inferKinds(objs)
	if k := kinds[timeField]; k != kindInt && k != kindFloat {
		timeField = ""
	}
	return encodeObjectsAs(buf, objs, kinds, timeField, codec, rowGroupRows, batches)
}

// encodeObjectsAs writes JSON objects as one Parquet file with an optional
// column per field of kinds, of that kind (the time field, if any, as
// TIMESTAMP(MICROS, UTC)); fields of objs not in kinds are left out;
// batches is the sink's batch record for the footer. It returns the columns with Glue/Hive types, in file order (by name).
func encodeObjectsAs(buf *bytes.Buffer, objs []map[string]any, kinds map[string]colKind, timeField string, codec compress.Codec, rowGroupRows int64, batches string) ([]stocklake.Column, error) {
	group := parquet.Group{}
	for k, kind := range kinds {
		var n parquet.Node
		switch {
		case k == timeField:
			n = parquet.Timestamp(parquet.Microsecond)
			group[k] = parquet.Optional(n)
			continue
		}
		switch kind {
		case kindBool:
			n = parquet.Leaf(parquet.BooleanType)
		case kindInt:
			n = parquet.Int(64)
		case kindFloat:
			n = parquet.Leaf(parquet.DoubleType)
		default:
			n = parquet.String()
		}
		group[k] = parquet.Optional(n)
	}
	schema := parquet.NewSchema("record", group)
	// parquet.Group orders columns by name; columns are leaves in that order.
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	cols := make([]stocklake.Column, len(names))
	for i, name := range names {
		cols[i] = stocklake.Column{Name: name, Type: hiveTypes[kinds[name]]}
		if name == timeField {
			cols[i].Type = "timestamp"
		}
	}
	w := newRowWriter(buf, append(writerOptions(codec, rowGroupRows), schema, parquet.KeyValueMetadata(stocklake.ParquetKeyBatches, batches))...)
	for _, o := range objs {
		row := make(parquet.Row, len(names))
		for i, name := range names {
			v, ok := o[name]
			if !ok || v == nil {
				row[i] = parquet.Value{}.Level(0, 0, i)
				continue
			}
			if name == timeField {
				t, ok := parseEventTime(v)
				if !ok {
					row[i] = parquet.Value{}.Level(0, 0, i)
					continue
				}
				row[i] = parquet.Int64Value(t.UnixMicro()).Level(0, 1, i)
				continue
			}
			row[i] = convertValue(v, kinds[name]).Level(0, 1, i)
		}
		if err := w.add(row); err != nil {
			return nil, err
		}
	}
	return cols, w.close()
}

// rowWriter writes rows to a parquet.Writer 1024 at a time.
type rowWriter struct {
	w    *parquet.Writer
	rows []parquet.Row
}

func newRowWriter(out io.Writer, opts ...parquet.WriterOption) *rowWriter {
	return &rowWriter{w: parquet.NewWriter(out, opts...), rows: make([]parquet.Row, 0, 1024)}
}

// add queues row, writing the queue when it is full.
func (rw *rowWriter) add(row parquet.Row) error {
	rw.rows = append(rw.rows, row)
	if len(rw.rows) < cap(rw.rows) {
		return nil
	}
	return rw.flush()
}

func (rw *rowWriter) flush() error {
	if _, err := rw.w.WriteRows(rw.rows); err != nil {
		return fmt.Errorf("encode parquet: %w", err)
	}
	rw.rows = rw.rows[:0]
	return nil
}

// close writes the queued rows and closes the Parquet writer.
func (rw *rowWriter) close() error {
	if err := rw.flush(); err != nil {
		return err
	}
	return rw.w.Close()
}

func convertValue(v any, kind colKind) parquet.Value {
	switch kind {
	case kindBool:
		return parquet.BooleanValue(v.(bool))
	case kindInt:
		n, _ := strconv.ParseInt(string(v.(json.Number)), 10, 64)
		return parquet.Int64Value(n)
	case kindFloat:
		f, _ := strconv.ParseFloat(string(v.(json.Number)), 64)
		return parquet.DoubleValue(f)
	}
	switch x := v.(type) {
	case string:
		return parquet.ByteArrayValue([]byte(x))
	case json.Number:
		return parquet.ByteArrayValue([]byte(x))
	case bool:
		return parquet.ByteArrayValue([]byte(strconv.FormatBool(x)))
	default:
		b, _ := json.Marshal(x)
		return parquet.ByteArrayValue(b)
	}
}
