package compact

import (
	"cmp"
	"container/heap"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/format"

	"github.com/stocklake/stocklake"
)

// Dictionary encoding of merged files: a leaf column whose values, in the
// first dictSampleRows rows a merge holds, are at most 1 in
// dictDistinctShare distinct is dictionary-encoded (prices and sizes
// repeat within a symbol once rows are sorted; a dictionary page and
// bit-packed indexes decompress far faster than plain doubles), as is
// every column the inputs had dictionary-encoded; a column whose
// dictionary outgrows dictMaxBytes in a row group falls back to plain for
// the rest of it.
const (
	dictSampleRows    = 100_000
	dictDistinctShare = 10
	dictMaxBytes      = 1 << 20
)

// DefaultSortRunRows is how many rows a merge holds in memory before it
// spills a sorted run to a temporary file: 250,000 (about 100 MB of tick
// rows).
const DefaultSortRunRows = 250_000

// sortKey is a row's (symbol, ts).
type sortKey struct {
	sym string
	ts  int64
}

func (a sortKey) compare(b sortKey) int {
	if c := strings.Compare(a.sym, b.sym); c != 0 {
		return c
	}
	return cmp.Compare(a.ts, b.ts)
}

type keyedRow struct {
	key sortKey
	row parquet.Row
}

// sorter writes the rows given to it to one Parquet file sorted by
// (symbol, ts) when the schema has those as top-level columns (else in the
// order given), holding at most runRows rows in memory: beyond that it
// spills sorted runs to temporary files and merges them at the end. The
// output is zstd-compressed with column statistics, in the inputs' schema
// (so timestamps stay microseconds), with the columns of few distinct
// values dictionary-encoded (see dictDistinctShare).
type sorter struct {
	schema       *parquet.Schema
	sym, ts      int // leaf column indexes, -1 when the schema has no sort key
	runRows      int
	rowGroupRows int64
	rows         []keyedRow
	runs         []*os.File
	// out is the merged file's schema: the inputs' with the encodings
	// chooseEncodings picked; nil until it is called.
	out *parquet.Schema
}

func newSorter(schema *parquet.Schema, runRows int, rowGroupRows int64) *sorter {
	s := &sorter{schema: schema, sym: -1, ts: -1, runRows: max(runRows, 1), rowGroupRows: rowGroupRows}
	sym, okS := schema.Lookup("symbol")
	ts, okT := schema.Lookup("ts")
	if okS && okT && sym.MaxRepetitionLevel == 0 && ts.MaxRepetitionLevel == 0 {
		s.sym, s.ts = sym.ColumnIndex, ts.ColumnIndex
	}
	return s
}

func (s *sorter) key(r parquet.Row) sortKey {
	var k sortKey
	if s.sym < 0 {
		return k
	}
	for _, v := range r {
		switch v.Column() {
		case s.sym:
			if !v.IsNull() {
				k.sym = string(v.ByteArray())
			}
		case s.ts:
			if !v.IsNull() {
				k.ts = v.Int64()
			}
		}
	}
	return k
}

// add reads every row of f.
func (s *sorter) add(f *parquet.File) error {
	buf := make([]parquet.Row, 1024)
	for _, rg := range f.RowGroups() {
		rr := rg.Rows()
		for {
			n, err := rr.ReadRows(buf)
			for _, r := range buf[:n] {
				r = r.Clone()
				s.rows = append(s.rows, keyedRow{key: s.key(r), row: r})
			}
			if len(s.rows) >= s.runRows {
				if serr := s.spill(); serr != nil {
					rr.Close()
					return serr
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				rr.Close()
				return fmt.Errorf("decoding rows: %w", err)
			}
		}
		rr.Close()
	}
	return nil
}

func (s *sorter) sortRows() {
	if s.sym >= 0 {
		slices.SortStableFunc(s.rows, func(a, b keyedRow) int { return a.key.compare(b.key) })
	}
}

// chooseEncodings sets s.out from the rows held (the first run's):
// dictionary encoding for the columns of few distinct values (see
// dictDistinctShare), the inputs' encodings for the others.
func (s *sorter) chooseEncodings() {
	if s.out != nil {
		return
	}
	leaves := len(s.schema.Columns())
	distinct := make([]map[string]struct{}, leaves)
	for i := range distinct {
		distinct[i] = map[string]struct{}{}
	}
	sample := s.rows[:min(len(s.rows), dictSampleRows)]
	values := 0
	for _, r := range sample {
		for _, v := range r.row {
			if v.IsNull() {
				continue
			}
			d := distinct[v.Column()]
			if len(d) <= len(sample)/dictDistinctShare {
				d[string(v.Bytes())] = struct{}{}
			}
		}
		values++
	}
	dict := make([]bool, leaves)
	for i, d := range distinct {
		dict[i] = values > 0 && len(d) > 0 && len(d) <= values/dictDistinctShare
	}
	leaf := 0
	s.out = parquet.NewSchema(s.schema.Name(), &encodedGroup{Node: s.schema, fields: encodeFields(s.schema.Fields(), dict, &leaf)})
}

// encodeFields returns fields with dictionary encoding on the leaves whose
// column index (counted from *leaf, depth first) dict marks.
func encodeFields(fields []parquet.Field, dict []bool, leaf *int) []parquet.Field {
	out := make([]parquet.Field, len(fields))
	for i, f := range fields {
		switch {
		case !f.Leaf():
			out[i] = &encodedGroup{Node: f, field: f, fields: encodeFields(f.Fields(), dict, leaf)}
		case dict[*leaf] && f.Type().Kind() != parquet.Boolean && !isDictionary(f.Encoding()):
			out[i] = &encodedLeaf{Node: parquet.Encoded(f, &parquet.RLEDictionary), field: f}
		default:
			out[i] = f
		}
		if f.Leaf() {
			*leaf++
		}
	}
	return out
}

func isDictionary(e encoding.Encoding) bool {
	if e == nil {
		return false
	}
	k := e.Encoding()
	return k == format.RLEDictionary || k == format.PlainDictionary
}

// encodedLeaf is a leaf field with another encoding.
type encodedLeaf struct {
	parquet.Node
	field parquet.Field
}

func (f *encodedLeaf) Name() string                           { return f.field.Name() }
func (f *encodedLeaf) Value(base reflect.Value) reflect.Value { return f.field.Value(base) }

// encodedGroup is a group (or the root) whose fields, in their order, are
// re-encoded.
type encodedGroup struct {
	parquet.Node
	field  parquet.Field // nil for the root
	fields []parquet.Field
}

func (g *encodedGroup) Fields() []parquet.Field                { return g.fields }
func (g *encodedGroup) Name() string                           { return g.field.Name() }
func (g *encodedGroup) Value(base reflect.Value) reflect.Value { return g.field.Value(base) }

// spill writes the rows held, sorted, to a temporary run file.
func (s *sorter) spill() error {
	if len(s.rows) == 0 {
		return nil
	}
	s.chooseEncodings()
	s.sortRows()
	f, err := os.CreateTemp("", "stocklake-compact-run-*.parquet")
	if err != nil {
		return fmt.Errorf("creating a temporary sort run (set TMPDIR to a folder with space): %w", err)
	}
	s.runs = append(s.runs, f)
	w := parquet.NewWriter(f, s.schema, parquet.Compression(&parquet.Snappy))
	if err := s.writeRows(w, s.rows); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("writing a temporary sort run: %w", err)
	}
	clear(s.rows)
	s.rows = s.rows[:0]
	return nil
}

func (s *sorter) writeRows(w *parquet.Writer, rows []keyedRow) error {
	chunk := make([]parquet.Row, 0, 4096)
	for i, r := range rows {
		chunk = append(chunk, r.row)
		if len(chunk) == cap(chunk) || i == len(rows)-1 {
			if _, err := w.WriteRows(chunk); err != nil {
				return fmt.Errorf("encoding rows: %w", err)
			}
			chunk = chunk[:0]
		}
	}
	return nil
}

// write writes every row given, sorted, to out as one Parquet file (opts
// add writer options, e.g. key-value metadata), and returns how many.
func (s *sorter) write(out io.Writer, opts ...parquet.WriterOption) (int64, error) {
	s.chooseEncodings()
	w := parquet.NewWriter(out, append([]parquet.WriterOption{s.out,
		parquet.Compression(&parquet.Zstd),
		parquet.MaxRowsPerRowGroup(s.rowGroupRows),
		parquet.DictionaryMaxBytes(dictMaxBytes),
		parquet.CreatedBy("stocklake", stocklake.Version, ""),
	}, opts...)...)
	var n int64
	if len(s.runs) == 0 {
		s.sortRows()
		if err := s.writeRows(w, s.rows); err != nil {
			return 0, err
		}
		n = int64(len(s.rows))
	} else {
		if err := s.spill(); err != nil {
			return 0, err
		}
		var err error
		if n, err = s.mergeRuns(w); err != nil {
			return 0, err
		}
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("encoding rows: %w", err)
	}
	return n, nil
}

// runCursor reads one sorted run.
type runCursor struct {
	r   *parquet.Reader
	buf []parquet.Row
	i   int
	key sortKey
	eof bool
}

func (c *runCursor) next(s *sorter) (bool, error) {
	c.i++
	if c.i < len(c.buf) {
		c.key = s.key(c.buf[c.i])
		return true, nil
	}
	if c.eof {
		return false, nil
	}
	c.buf = c.buf[:cap(c.buf)]
	n, err := c.r.ReadRows(c.buf)
	c.buf, c.i = c.buf[:n], 0
	if err == io.EOF {
		c.eof = true
	} else if err != nil {
		return false, fmt.Errorf("reading a temporary sort run: %w", err)
	}
	if n == 0 {
		return false, nil
	}
	c.key = s.key(c.buf[0])
	return true, nil
}

type runHeap []*runCursor

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return h[i].key.compare(h[j].key) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*runCursor)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// mergeRuns merges the spilled runs into w.
func (s *sorter) mergeRuns(w *parquet.Writer) (int64, error) {
	var h runHeap
	for _, f := range s.runs {
		st, err := f.Stat()
		if err != nil {
			return 0, fmt.Errorf("reading a temporary sort run: %w", err)
		}
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			return 0, fmt.Errorf("reading a temporary sort run: %w", err)
		}
		c := &runCursor{r: parquet.NewReader(pf), buf: make([]parquet.Row, 0, 256), i: -1}
		ok, err := c.next(s)
		if err != nil {
			return 0, err
		}
		if ok {
			h = append(h, c)
		}
	}
	heap.Init(&h)
	var n int64
	out := make([]parquet.Row, 0, 1024)
	for h.Len() > 0 {
		c := h[0]
		out = append(out, c.buf[c.i].Clone())
		n++
		if len(out) == cap(out) {
			if _, err := w.WriteRows(out); err != nil {
				return 0, fmt.Errorf("encoding rows: %w", err)
			}
			out = out[:0]
		}
		ok, err := c.next(s)
		if err != nil {
			return 0, err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	if len(out) > 0 {
		if _, err := w.WriteRows(out); err != nil {
			return 0, fmt.Errorf("encoding rows: %w", err)
		}
	}
	return n, nil
}

// close removes the temporary run files.
func (s *sorter) close() {
	for _, f := range s.runs {
		f.Close()
		os.Remove(f.Name())
	}
	s.runs = nil
	s.rows = nil
}
