package query

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dustin/go-humanize"
	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/sqltext"
)

// Format is an output format of Write.
type Format string

// Output formats.
const (
	FormatTable   Format = "table"   // aligned columns for terminals, as Trino's CLI prints them
	FormatCSV     Format = "csv"     // header and quoted values, as Athena writes results
	FormatJSON    Format = "json"    // JSON lines: one object per row, columns in order
	FormatParquet Format = "parquet" // one Parquet file (zstd), columns typed from the result
)

// Formats lists the formats, for flag help.
var Formats = []Format{FormatTable, FormatCSV, FormatJSON, FormatParquet}

// ParseFormat checks a format name; "" is FormatTable.
func ParseFormat(s string) (Format, error) {
	if s == "" {
		return FormatTable, nil
	}
	for _, f := range Formats {
		if strings.EqualFold(s, string(f)) {
			return f, nil
		}
	}
	return "", fmt.Errorf("output format %q: use one of table, csv, json, parquet: %w", s, stocklake.ErrConfig)
}

// Write writes rows to w in format and returns the number of rows written.
// It does not close rows.
func Write(w io.Writer, rows stocklake.Rows, format Format) (int64, error) {
	switch format {
	case FormatTable, "":
		return writeTable(w, rows)
	case FormatCSV:
		return writeCSV(w, rows)
	case FormatJSON:
		return writeJSON(w, rows)
	case FormatParquet:
		return writeParquet(w, rows)
	}
	return 0, fmt.Errorf("output format %q: use one of table, csv, json, parquet: %w", format, stocklake.ErrConfig)
}

// numeric reports whether a Trino type is right-aligned in tables.
func numeric(typ string) bool {
	for _, p := range []string{"bigint", "integer", "smallint", "tinyint", "double", "real", "decimal"} {
		if strings.HasPrefix(typ, p) {
			return true
		}
	}
	return false
}

func writeTable(w io.Writer, rows stocklake.Rows) (int64, error) {
	cols := rows.Columns()
	width := make([]int, len(cols))
	for i, c := range cols {
		width[i] = utf8.RuneCountInString(c.Name)
	}
	var data [][]string
	for rows.Next() {
		vals := rows.Values()
		row := make([]string, len(cols))
		for i := range cols {
			if vals[i] == nil {
				row[i] = "NULL"
			} else {
				row[i] = strings.ReplaceAll(sqltext.FormatValue(vals[i], cols[i].Type), "\n", `\n`)
			}
			width[i] = max(width[i], utf8.RuneCountInString(row[i]))
		}
		data = append(data, row)
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	bw := bufio.NewWriter(w)
	pad := func(s string, n int, right bool) string {
		fill := strings.Repeat(" ", n-utf8.RuneCountInString(s))
		if right {
			return fill + s
		}
		return s + fill
	}
	line := func(cells []string, header bool) {
		for i, c := range cells {
			if i > 0 {
				bw.WriteString("|")
			}
			bw.WriteString(" " + pad(c, width[i], !header && numeric(cols[i].Type)) + " ")
		}
		bw.WriteString("\n")
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	line(names, true)
	for i := range cols {
		if i > 0 {
			bw.WriteString("+")
		}
		bw.WriteString(strings.Repeat("-", width[i]+2))
	}
	bw.WriteString("\n")
	for _, r := range data {
		line(r, false)
	}
	if len(data) == 1 {
		bw.WriteString("(1 row)\n")
	} else {
		fmt.Fprintf(bw, "(%d rows)\n", len(data))
	}
	return int64(len(data)), bw.Flush()
}

// writeCSV writes Athena's result CSV: a header, every non-NULL value in
// double quotes, NULL as an empty unquoted field.
func writeCSV(w io.Writer, rows stocklake.Rows) (int64, error) {
	return writeResult(w, rows, 0, nil)
}

// ErrResultTooLarge reports a result over Config.MaxResultBytes.
var ErrResultTooLarge = errors.New("result too large")

// countingWriter counts the bytes written through it and refuses to go past
// max (when > 0).
type countingWriter struct {
	w    io.Writer
	n    int64
	max  int64
	over bool
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.max > 0 && c.n+int64(len(p)) > c.max {
		c.over = true
		return 0, ErrResultTooLarge
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeResult is writeCSV stopping at maxBytes (0: no limit) and recording
// where rows start in idx (when not nil).
func writeResult(w io.Writer, rows stocklake.Rows, maxBytes int64, idx *PageIndex) (int64, error) {
	cw := &countingWriter{w: w, max: maxBytes}
	bw := bufio.NewWriter(cw)
	cols := rows.Columns()
	for i, c := range cols {
		if i > 0 {
			bw.WriteByte(',')
		}
		writeQuoted(bw, c.Name)
	}
	bw.WriteByte('\n')
	var n int64
	for rows.Next() {
		if idx != nil {
			idx.add(n, cw.n+int64(bw.Buffered()))
		}
		for i, v := range rows.Values() {
			if i > 0 {
				bw.WriteByte(',')
			}
			if v != nil {
				writeQuoted(bw, sqltext.FormatValue(v, cols[i].Type))
			}
		}
		bw.WriteByte('\n')
		n++
		if cw.over || maxBytes > 0 && cw.n+int64(bw.Buffered()) > maxBytes {
			return n, fmt.Errorf("the result is over the limit of %s at row %d; select fewer or smaller columns, aggregate, or add a LIMIT: %w", humanize.IBytes(uint64(maxBytes)), n, ErrResultTooLarge)
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// PageIndex records the byte offset of every Stride-th row of a stored
// result, so a page is read from near its first row instead of from row 0.
// It keeps at most maxPageIndex offsets, doubling Stride as it fills.
type PageIndex struct {
	Stride  int64   `json:"stride"`
	Offsets []int64 `json:"offsets"` // Offsets[k]: where row k*Stride starts
}

const (
	defaultPageStride = 100
	maxPageIndex      = 1024
)

func (p *PageIndex) add(row, off int64) {
	if p.Stride <= 0 {
		p.Stride = defaultPageStride
	}
	if row%p.Stride != 0 {
		return
	}
	if row/p.Stride != int64(len(p.Offsets)) {
		return
	}
	p.Offsets = append(p.Offsets, off)
	if len(p.Offsets) >= maxPageIndex {
		half := p.Offsets[:0]
		for i := 0; i < len(p.Offsets); i += 2 {
			half = append(half, p.Offsets[i])
		}
		p.Offsets, p.Stride = half, p.Stride*2
	}
}

func writeQuoted(w *bufio.Writer, s string) {
	w.WriteByte('"')
	w.WriteString(strings.ReplaceAll(s, `"`, `""`))
	w.WriteByte('"')
}

// uniqueNames makes column names unique (a, a_2, ...) for formats keyed by name.
func uniqueNames(cols []stocklake.ResultColumn) []string {
	seen := map[string]bool{}
	out := make([]string, len(cols))
	for i, c := range cols {
		n := c.Name
		for k := 2; seen[n]; k++ {
			n = c.Name + "_" + strconv.Itoa(k)
		}
		seen[n] = true
		out[i] = n
	}
	return out
}

func writeJSON(w io.Writer, rows stocklake.Rows) (int64, error) {
	bw := bufio.NewWriter(w)
	cols := rows.Columns()
	keys := make([][]byte, len(cols))
	for i, n := range uniqueNames(cols) {
		keys[i], _ = json.Marshal(n)
	}
	var n int64
	for rows.Next() {
		bw.WriteByte('{')
		for i, v := range rows.Values() {
			if i > 0 {
				bw.WriteByte(',')
			}
			bw.Write(keys[i])
			bw.WriteByte(':')
			b, err := json.Marshal(sqltext.JSONValue(v, cols[i].Type))
			if err != nil {
				b, _ = json.Marshal(fmt.Sprint(v))
			}
			bw.Write(b)
		}
		bw.WriteString("}\n")
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// parquetKind is how a result column is stored in Parquet.
type parquetKind uint8

const (
	pqString parquetKind = iota
	pqInt
	pqDouble
	pqBool
	pqDate
	pqTimestamp
)

func kindOf(typ string) parquetKind {
	switch {
	case typ == "bigint" || typ == "integer" || typ == "smallint" || typ == "tinyint":
		return pqInt
	case typ == "double" || typ == "real":
		return pqDouble
	case typ == "boolean":
		return pqBool
	case typ == "date":
		return pqDate
	case strings.HasPrefix(typ, "timestamp"):
		return pqTimestamp
	}
	return pqString // varchar, decimal (exact text), arrays, maps and rows (JSON), ...
}

// writeParquet writes one Parquet file with a nullable column per result
// column: bigint/integer as INT64, double/real as DOUBLE, boolean, date as
// DATE, timestamps as TIMESTAMP(MICROS), everything else as UTF-8 text
// (decimals exactly, arrays/maps/rows as JSON, varbinary as base64).
func writeParquet(w io.Writer, rows stocklake.Rows) (int64, error) {
	cols := rows.Columns()
	names := uniqueNames(cols)
	kinds := make([]parquetKind, len(cols))
	fields := make([]reflect.StructField, len(cols))
	for i, c := range cols {
		kinds[i] = kindOf(c.Type)
		name := strings.NewReplacer(",", "_", `"`, "_").Replace(names[i])
		f := reflect.StructField{Name: "F" + strconv.Itoa(i)}
		switch kinds[i] {
		case pqInt:
			f.Type, f.Tag = reflect.TypeFor[*int64](), reflect.StructTag(`parquet:"`+name+`"`)
		case pqDouble:
			f.Type, f.Tag = reflect.TypeFor[*float64](), reflect.StructTag(`parquet:"`+name+`"`)
		case pqBool:
			f.Type, f.Tag = reflect.TypeFor[*bool](), reflect.StructTag(`parquet:"`+name+`"`)
		case pqDate:
			f.Type, f.Tag = reflect.TypeFor[*int32](), reflect.StructTag(`parquet:"`+name+`,date"`)
		case pqTimestamp:
			f.Type, f.Tag = reflect.TypeFor[*int64](), reflect.StructTag(`parquet:"`+name+`,timestamp(microsecond)"`)
		default:
			f.Type, f.Tag = reflect.TypeFor[*string](), reflect.StructTag(`parquet:"`+name+`"`)
		}
		fields[i] = f
	}
	if len(fields) == 0 {
		return 0, fmt.Errorf("the result has no columns to write as Parquet: %w", stocklake.ErrInvalid)
	}
	typ := reflect.StructOf(fields)
	pw := parquet.NewWriter(w, parquet.SchemaOf(reflect.New(typ).Interface()), parquet.Compression(&parquet.Zstd))
	var n int64
	for rows.Next() {
		rec := reflect.New(typ)
		for i, v := range rows.Values() {
			if v == nil {
				continue
			}
			var pv any
			switch kinds[i] {
			case pqInt:
				if x, ok := v.(int64); ok {
					pv = &x
				} else if s, err := strconv.ParseInt(sqltext.FormatValue(v, ""), 10, 64); err == nil {
					pv = &s
				}
			case pqDouble:
				if x, ok := v.(float64); ok {
					pv = &x
				}
			case pqBool:
				if x, ok := v.(bool); ok {
					pv = &x
				}
			case pqDate:
				if x, ok := v.(time.Time); ok {
					d := int32(math.Floor(float64(x.Unix()) / 86400))
					pv = &d
				}
			case pqTimestamp:
				if x, ok := v.(time.Time); ok {
					us := x.UnixMicro()
					pv = &us
				}
			default:
				var s string
				if b, ok := v.([]byte); ok {
					s = base64.StdEncoding.EncodeToString(b)
				} else {
					s = sqltext.FormatValue(v, cols[i].Type)
				}
				pv = &s
			}
			if pv != nil {
				rec.Elem().Field(i).Set(reflect.ValueOf(pv))
			}
		}
		if err := pw.Write(rec.Interface()); err != nil {
			return n, fmt.Errorf("write parquet: %w", err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, pw.Close()
}
