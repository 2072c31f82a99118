package compact

import (
	"bytes"
	"cmp"
	"container/heap"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"unsafe"

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
// spills a sorted run to a temporary file: 250,000.
const DefaultSortRunRows = 250_000

// DefaultMaxMemory is the memory a compaction pass is sized for: 512 MiB
// (see Config.MaxMemory).
const DefaultMaxMemory = 512 << 20

// MinMaxMemory is the least Config.MaxMemory: 64 MiB.
const MinMaxMemory = 64 << 20

// sortRunShare is the share of Config.MaxMemory a merge holds rows in
// before it spills a sorted run: 1/8 (64 MiB, about 220,000 tick rows, of
// the default). The rest is for the garbage the collector has yet to
// free, the runs being merged, the output's row group, an input read
// into memory (inputInMemory), the table's metadata and the program.
const sortRunShare = 8

// maxMergeRuns is how many sorted runs a merge reads at once; beyond it,
// the oldest runs are first merged into one (another pass over their rows
// on disk). A run being read holds a page of each column.
const maxMergeRuns = 64

// runPageBytes is the page size of the temporary sort runs. The merge
// holds a decoded page of every column of every run it reads: with
// parquet-go's default pages (256 KiB) that was some 4 MB a run of tick
// rows, and a 128 MiB bin (about 90 runs) held 350 MB at once.
const runPageBytes = 16 << 10

// sortedKey is the key-value metadata of a file a merge wrote sorted by
// (symbol, ts), with sortedValue: a later merge reads such an input as a
// sorted run in place instead of holding and sorting its rows again.
const (
	sortedKey   = "stocklake.sorted_by"
	sortedValue = "symbol,ts"
)

// sortKey is a row's (symbol, ts); sym points into the row's value.
type sortKey struct {
	sym []byte
	ts  int64
}

func (a sortKey) compare(b sortKey) int {
	if c := bytes.Compare(a.sym, b.sym); c != 0 {
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
// order given), holding at most runRows rows (and runBytes of them, as
// rowSize counts them) in memory: beyond that it
// spills sorted runs to temporary files and merges them at the end, at
// most maxMergeRuns at once. Large inputs that are already sorted (files
// an earlier merge wrote, sortedKey) are merged as runs in place. The
// output is zstd-compressed with column statistics, in the inputs' schema
// (so timestamps stay microseconds), with the columns of few distinct
// values dictionary-encoded (see dictDistinctShare).
type sorter struct {
	schema       *parquet.Schema
	sym, ts      int // leaf column indexes, -1 when the schema has no sort key
	runRows      int
	runBytes     int64 // 0: no bound but runRows
	rowGroupRows int64
	rows         []keyedRow
	rowBytes     int64 // of rows, as rowSize counts them
	runs         []*run
	// out is the merged file's schema: the inputs' with the encodings
	// chooseEncodings picked; nil until it is called.
	out *parquet.Schema
	// maxOpen is the most runs read at once so far (tests).
	maxOpen int
}

// run is a sorted run: a temporary file spill wrote, or an input already
// sorted.
type run struct {
	file    *parquet.File // nil until open, for a spilled run
	tmp     *os.File      // a spilled run's temporary file, else nil
	release func()        // frees a sorted input, else nil
}

func (r *run) open() (*parquet.File, error) {
	if r.file != nil {
		return r.file, nil
	}
	st, err := r.tmp.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading a temporary sort run: %w", err)
	}
	if r.file, err = parquet.OpenFile(r.tmp, st.Size()); err != nil {
		return nil, fmt.Errorf("reading a temporary sort run: %w", err)
	}
	return r.file, nil
}

func (r *run) close() {
	if r.tmp != nil {
		r.tmp.Close()
		os.Remove(r.tmp.Name())
	}
	if r.release != nil {
		r.release()
	}
	r.file, r.tmp, r.release = nil, nil, nil
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
				k.sym = v.ByteArray()
			}
		case s.ts:
			if !v.IsNull() {
				k.ts = v.Int64()
			}
		}
	}
	return k
}

// sortedInput reports whether f's rows are sorted by the sorter's key: a
// file a merge wrote (sortedKey).
func (s *sorter) sortedInput(f *parquet.File) bool {
	v, ok := f.Lookup(sortedKey)
	return s.sym >= 0 && ok && v == sortedValue
}

// addSorted takes f, whose rows are sorted by the sort key
// (sortedInput), as a run read in place at the end; release is called
// once the sorter no longer needs f (at close).
func (s *sorter) addSorted(f *parquet.File, release func()) {
	s.runs = append(s.runs, &run{file: f, release: release})
}

// addInput takes an opened input: a sorted one in a temporary file is
// kept as a run (released at close), any other is read (add) and released.
func (s *sorter) addInput(in *input) error {
	if in.onDisk && s.sortedInput(in.file) {
		s.addSorted(in.file, in.release)
		return nil
	}
	defer in.release()
	return s.add(in.file)
}

// rowSize estimates the memory a row held by a sorter takes: its entry in
// rows, its values, and their byte arrays (rounded up to 8 bytes).
func rowSize(r parquet.Row) int64 {
	n := int64(unsafe.Sizeof(keyedRow{})) + int64(len(r))*int64(unsafe.Sizeof(parquet.Value{}))
	for _, v := range r {
		if k := v.Kind(); k == parquet.ByteArray || k == parquet.FixedLenByteArray {
			n += int64(len(v.ByteArray())+7) &^ 7
		}
	}
	return n
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
				s.rowBytes += rowSize(r)
				if len(s.rows) >= s.runRows || s.runBytes > 0 && s.rowBytes >= s.runBytes {
					if serr := s.spill(); serr != nil {
						rr.Close()
						return serr
					}
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

// chooseEncodings sets s.out from a sample of the rows (the first run's,
// then those of the first sorted input, up to dictSampleRows): dictionary
// encoding for the columns of few distinct values (see
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
	values := 0
	count := func(r parquet.Row) {
		for _, v := range r {
			if v.IsNull() {
				continue
			}
			d := distinct[v.Column()]
			if len(d) <= dictSampleRows/dictDistinctShare {
				d[string(v.Bytes())] = struct{}{}
			}
		}
		values++
	}
	for _, r := range s.rows[:min(len(s.rows), dictSampleRows)] {
		count(r.row)
	}
	if values < dictSampleRows {
		s.sampleSorted(dictSampleRows-values, count)
	}
	dict := make([]bool, leaves)
	for i, d := range distinct {
		dict[i] = values > 0 && len(d) > 0 && len(d) <= values/dictDistinctShare
	}
	leaf := 0
	s.out = parquet.NewSchema(s.schema.Name(), &encodedGroup{Node: s.schema, fields: encodeFields(s.schema.Fields(), dict, &leaf)})
}

// sampleSorted calls f on up to n rows of the first sorted input (a file
// an earlier merge wrote, merged in place), if any.
func (s *sorter) sampleSorted(n int, f func(parquet.Row)) {
	for _, r := range s.runs {
		if r.tmp != nil || r.file == nil {
			continue
		}
		rr := parquet.NewReader(r.file)
		defer rr.Close()
		buf := make([]parquet.Row, 1024)
		for n > 0 {
			k, err := rr.ReadRows(buf[:min(len(buf), n)])
			for _, row := range buf[:k] {
				f(row)
			}
			n -= k
			if err != nil || k == 0 {
				break
			}
		}
		return
	}
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
	w, err := s.newRun()
	if err != nil {
		return err
	}
	if err := s.writeRows(w, s.rows); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("writing a temporary sort run: %w", err)
	}
	clear(s.rows)
	s.rows, s.rowBytes = s.rows[:0], 0
	return nil
}

// newRun adds a temporary run file to s.runs and returns its writer.
func (s *sorter) newRun() (*parquet.Writer, error) {
	f, err := os.CreateTemp("", "stocklake-compact-run-*.parquet")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary sort run (set TMPDIR to a folder with space): %w", err)
	}
	s.runs = append(s.runs, &run{tmp: f})
	return parquet.NewWriter(f, s.schema, parquet.Compression(&parquet.Snappy), parquet.PageBufferSize(runPageBytes)), nil
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
	if s.sym >= 0 {
		opts = append(opts, parquet.KeyValueMetadata(sortedKey, sortedValue))
	}
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
		if err := s.reduceRuns(); err != nil {
			return 0, err
		}
		var err error
		if n, err = s.mergeRuns(w, s.runs); err != nil {
			return 0, err
		}
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("encoding rows: %w", err)
	}
	return n, nil
}

// reduceRuns merges the oldest runs into one temporary run until at most
// maxMergeRuns are left.
func (s *sorter) reduceRuns() error {
	for len(s.runs) > maxMergeRuns {
		k := min(maxMergeRuns, len(s.runs)-maxMergeRuns+1)
		merge := s.runs[:k]
		s.runs = s.runs[k:]
		w, err := s.newRun() // appended: merged last, after the runs it does not hold
		if err == nil {
			if _, err = s.mergeRuns(w, merge); err == nil {
				if err = w.Close(); err != nil {
					err = fmt.Errorf("writing a temporary sort run: %w", err)
				}
			}
		}
		for _, r := range merge {
			r.close()
		}
		if err != nil {
			return err
		}
	}
	return nil
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
		return false, fmt.Errorf("reading a sorted run: %w", err)
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

// mergeRuns merges runs into w.
func (s *sorter) mergeRuns(w *parquet.Writer, runs []*run) (int64, error) {
	var h runHeap
	defer func() {
		for _, c := range h {
			c.r.Close()
		}
	}()
	s.maxOpen = max(s.maxOpen, len(runs))
	for _, r := range runs {
		pf, err := r.open()
		if err != nil {
			return 0, err
		}
		c := &runCursor{r: parquet.NewReader(pf), buf: make([]parquet.Row, 0, 256), i: -1}
		ok, err := c.next(s)
		if err != nil {
			c.r.Close()
			return 0, err
		}
		if ok {
			h = append(h, c)
		} else {
			c.r.Close()
		}
	}
	heap.Init(&h)
	var n int64
	out := make([]parquet.Row, 0, 1024)
	for h.Len() > 0 {
		c := h[0]
		out = append(out, c.buf[c.i])
		n++
		// The rows in out are the cursors' own: write them before a cursor
		// reads its next rows over them.
		if len(out) == cap(out) || c.i+1 == len(c.buf) {
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
			c.r.Close()
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

// close removes the temporary run files and releases the sorted inputs.
func (s *sorter) close() {
	for _, r := range s.runs {
		r.close()
	}
	s.runs = nil
	s.rows = nil
}
