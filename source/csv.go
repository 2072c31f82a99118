package source

import (
	"bufio"
	"cmp"
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/stocklake/stocklake"
)

// Canonical fields of a price file, the keys of CSVConfig.Mapping.
const (
	FieldDate     = "date"      // event date or timestamp; required
	FieldTime     = "time"      // time of day, when separate from the date
	FieldSymbol   = "symbol"    // instrument; the record key
	FieldOpen     = "open"      // numeric
	FieldHigh     = "high"      // numeric
	FieldLow      = "low"       // numeric
	FieldClose    = "close"     // numeric
	FieldAdjClose = "adj_close" // numeric
	FieldVolume   = "volume"    // numeric
)

// PriceContentType is the content-type header of records from a CSVReplay.
const PriceContentType = "application/json"

// typeSampleRows is how many data rows decide whether a column that is not
// a canonical field holds numbers or strings.
const typeSampleRows = 1000

// headerAliases maps normalised header names (lower case, letters and
// digits only) to canonical fields, in order of preference.
var headerAliases = []struct {
	field string
	names []string
}{
	{FieldDate, []string{"timestamp", "datetime", "date", "tradedate", "ts", "dt", "day"}},
	{FieldSymbol, []string{"symbol", "ticker", "index", "sym", "instrument", "security", "stock", "code"}},
	{FieldOpen, []string{"open", "o", "openprice"}},
	{FieldHigh, []string{"high", "h", "highprice"}},
	{FieldLow, []string{"low", "l", "lowprice"}},
	{FieldClose, []string{"close", "c", "closelast", "closeprice", "last"}},
	{FieldAdjClose, []string{"adjclose", "adjustedclose", "adjcloseprice"}},
	{FieldVolume, []string{"volume", "vol", "v", "totalvolume"}},
}

// fieldNames maps every accepted Mapping key, normalised, to its field.
var fieldNames = func() map[string]string {
	m := map[string]string{"time": FieldTime, "timeofday": FieldTime}
	for _, a := range headerAliases {
		m[normalize(a.field)] = a.field
		for _, n := range a.names {
			m[n] = a.field
		}
	}
	return m
}()

// CSVConfig configures a CSVReplay. Only Path is required.
type CSVConfig struct {
	// Path is the CSV file to replay. Gzip-compressed files (recognised by
	// their content; usually named *.gz) are decompressed as they are read.
	Path string
	// Speed replays at this multiple of event time: 60 sends a minute of
	// event time per wall-clock second, 86400 a day per second; rows with
	// the same time go out together. Default 0: as fast as emit accepts them.
	Speed float64
	// Mapping names the column that holds a canonical field, overriding the
	// header auto-detection for that field. Keys are FieldDate, FieldTime,
	// FieldSymbol, FieldOpen, FieldHigh, FieldLow, FieldClose,
	// FieldAdjClose and FieldVolume (common spellings such as "timestamp",
	// "ticker" or "Adj Close" are accepted too); values are header names,
	// matched exactly, else ignoring case, spaces and punctuation. An empty
	// value says the file has no such column. Default: auto-detect all.
	Mapping map[string]string
	// Symbol is the symbol, and record key, of every row when the file has
	// no symbol column. Default: the file name without its directory and
	// its .gz/.csv/.tsv/.txt extensions (AAPL for data/AAPL.csv.gz).
	Symbol string
	// Comma is the field separator. Default ','.
	Comma rune
	// Location is the time zone of dates and times written without a UTC
	// offset; date-only rows are midnight there. Default UTC.
	Location *time.Location
	// OnBadRow, if set, is called for each data row that cannot be used: a
	// wrong number of fields, a missing or unparseable date, a missing
	// symbol, or a value that is not a number in a numeric column. line is
	// the row's 1-based line number in the file and err a *BadRowError
	// wrapping stocklake.ErrInvalid. Bad rows are skipped either way and
	// counted by BadRows. Run calls it while loading the file, in file
	// order, before it emits the first record; it must not call Run.
	OnBadRow func(line int, err error)
}

// BadRowError describes a data row a CSVReplay skipped. It wraps
// stocklake.ErrInvalid.
type BadRowError struct {
	Line   int      // 1-based line number in the (decompressed) file
	Fields []string // the row's cells as read
	Reason string   // what is wrong, e.g. `column "Open": "abc" is not a number`
}

func (e *BadRowError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

// Unwrap returns stocklake.ErrInvalid.
func (e *BadRowError) Unwrap() error { return stocklake.ErrInvalid }

// CSVReplay replays a file of historical prices in event-time order: the
// rows are sorted by their date/time (stably, so rows with equal times keep
// their file order) and each becomes one record keyed by symbol, with a
// content-type header of PriceContentType and Timestamp = the row's event
// time (left zero, for the producer to stamp, for times before 1970, which
// Kafka does not accept).
//
// The header is auto-detected: it reads the seed data set's columns
// (Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD) and common
// OHLCV files (a date, time, timestamp or datetime column; symbol, ticker
// or index; open, high, low, close, adj close, volume; any case), or the
// columns named by CSVConfig.Mapping.
//
// Each record's value is a JSON object that keeps the file's column names
// as keys, in file order, so that analyses written against the original
// files keep working; duplicate or empty header names become NAME_2 or
// column_N. Values are typed: the date column is a string "2006-01-02" for
// dates, or an RFC 3339 UTC time with microseconds
// ("2006-01-02T15:04:05.000000Z") when the row has a time of day; a
// separate time column is "15:04:05.000000"; the symbol and other text are
// JSON strings; canonical price and volume columns, and every other column
// whose first 1000 non-empty values are all numbers, are JSON numbers
// (a leading $ is dropped); empty cells, NA, N/A, NaN and null are null.
// For example:
//
//	{"Index":"NYA","Date":"1965-12-31","Open":528.690002,"High":528.690002,
//	 "Low":528.690002,"Close":528.690002,"Adj Close":528.690002,"Volume":0,
//	 "CloseUSD":528.690002}
//
// Sorting needs every row in memory: about 24 bytes per row plus 8 per
// numeric column and the text of other string columns (the symbols are
// stored once), so a million seed rows take about 80 MB.
type CSVReplay struct {
	cfg     CSVConfig
	rows    atomic.Int64
	badRows atomic.Int64
}

var _ stocklake.Source = (*CSVReplay)(nil)

// NewCSVReplay checks cfg and that the file exists. Errors wrap
// stocklake.ErrConfig, or stocklake.ErrNotFound for a missing file.
func NewCSVReplay(cfg CSVConfig) (*CSVReplay, error) {
	if cfg.Path == "" {
		return nil, stocklake.SettingErr(fmt.Errorf("csv replay: no file given: %w", stocklake.ErrConfig), "source.CSVConfig.Path")
	}
	if !(cfg.Speed >= 0) || math.IsInf(cfg.Speed, 0) {
		return nil, fmt.Errorf("csv replay: speed is %v, want a finite number >= 0 (0 for as fast as possible): %w", cfg.Speed, stocklake.ErrConfig)
	}
	if cfg.Comma == 0 {
		cfg.Comma = ','
	}
	if cfg.Comma == '\r' || cfg.Comma == '\n' || cfg.Comma == '"' || !utf8.ValidRune(cfg.Comma) || cfg.Comma == utf8.RuneError {
		return nil, fmt.Errorf("csv replay: %q cannot separate fields: %w", cfg.Comma, stocklake.ErrConfig)
	}
	for k := range cfg.Mapping {
		if _, ok := fieldNames[normalize(k)]; !ok {
			return nil, fmt.Errorf("csv replay: mapping names unknown field %q; use %s: %w", k,
				strings.Join([]string{FieldDate, FieldTime, FieldSymbol, FieldOpen, FieldHigh, FieldLow, FieldClose, FieldAdjClose, FieldVolume}, ", "), stocklake.ErrConfig)
		}
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Symbol == "" {
		cfg.Symbol = symbolFromPath(cfg.Path)
	}
	fi, err := os.Stat(cfg.Path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, stocklake.SettingErr(fmt.Errorf("csv replay: %s does not exist; check the path: %w", cfg.Path, stocklake.ErrNotFound), "source.CSVConfig.Path")
	case err != nil:
		return nil, fmt.Errorf("csv replay: %w: %w", err, stocklake.ErrConfig)
	case fi.IsDir():
		return nil, fmt.Errorf("csv replay: %s is a directory, want a CSV file: %w", cfg.Path, stocklake.ErrConfig)
	}
	return &CSVReplay{cfg: cfg}, nil
}

// Name returns "csv".
func (c *CSVReplay) Name() string { return CSVType }

// DefaultTopic returns "prices".
func (c *CSVReplay) DefaultTopic() string { return "prices" }

// Rows returns how many usable rows the latest Run loaded.
func (c *CSVReplay) Rows() int64 { return c.rows.Load() }

// BadRows returns how many rows the latest Run skipped as bad.
func (c *CSVReplay) BadRows() int64 { return c.badRows.Load() }

// Run loads and sorts the file, then emits one record per usable row in
// event-time order. It returns nil after the last row, ctx.Err() when ctx
// is done, emit's error unchanged, or an error wrapping stocklake.ErrInvalid
// when the file is empty, has no data rows, no usable rows, or a header
// without a date column.
func (c *CSVReplay) Run(ctx context.Context, emit func(stocklake.Record) error) error {
	t, err := c.load(ctx)
	if err != nil {
		return err
	}
	headers := []stocklake.Header{{Key: "content-type", Value: []byte(PriceContentType)}}
	var (
		values slab
		timer  *time.Timer
		t0     = int64(0)
		prev   = int64(math.MinInt64)
		wall   = time.Now()
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	if len(t.rows) > 0 {
		t0 = t.rows[0].t
	}
	for i := range t.rows {
		row := &t.rows[i]
		if i&255 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if c.cfg.Speed > 0 && row.t != prev {
			prev = row.t
			due := wall.Add(time.Duration(float64(row.t-t0) * float64(time.Microsecond) / c.cfg.Speed))
			if err := sleepUntil(ctx, &timer, due); err != nil {
				return err
			}
		}
		start := values.reserve(t.rowJSONSize(row))
		values.buf = t.appendJSON(values.buf, row)
		rec := stocklake.Record{Key: t.symKeys[row.sym], Value: values.take(start), Headers: headers}
		if row.t > 0 {
			rec.Timestamp = time.UnixMicro(row.t).UTC()
		}
		if err := emit(rec); err != nil {
			return err
		}
	}
	return nil
}

type colKind uint8

const (
	colString colKind = iota
	colNumber
	colDate
	colTime
	colSymbol
)

// column is one column of the file.
type column struct {
	name  string
	key   []byte // `"name":`
	kind  colKind
	slot  int    // index among the number or string columns
	field string // canonical field, or ""
}

// csvRow is one usable row; its cells live in table.nums and table.strs.
type csvRow struct {
	t        int64  // event time, Unix microseconds
	idx      uint32 // row number among usable rows, in file order
	line     uint32
	sym      uint32
	withTime bool
}

// table is a loaded file.
type table struct {
	cols     []column
	rows     []csvRow
	nNum     int
	nStr     int
	nums     []float64 // rows x nNum; NaN is null
	strs     []string  // rows x nStr, JSON-encoded; "" is null
	symbols  map[string]uint32
	symJSON  [][]byte // JSON-encoded symbols
	symKeys  [][]byte
	loc      *time.Location
	dateCol  int
	timeCol  int
	symCol   int
	maxJSON  int // upper bound of one row's JSON without symbol and string cells
	layout   int // index into dateLayouts that parsed the last date
	badCount int
}

// load reads, parses and sorts the file.
func (c *CSVReplay) load(ctx context.Context) (*table, error) {
	c.rows.Store(0)
	c.badRows.Store(0)
	path := c.cfg.Path
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, stocklake.SettingErr(fmt.Errorf("csv replay: %s does not exist; check the path: %w", path, stocklake.ErrNotFound), "source.CSVConfig.Path")
		}
		return nil, fmt.Errorf("csv replay: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 256<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("csv replay: %s looks gzip-compressed but cannot be read: %w: %w", path, err, stocklake.ErrInvalid)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 256<<10)
	}
	skipBOM(br)

	r := csv.NewReader(br)
	r.Comma = c.cfg.Comma
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.TrimLeadingSpace = true
	r.ReuseRecord = true

	header, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("csv replay: %s is empty; want a CSV file whose first line names the columns: %w", path, stocklake.ErrInvalid)
	}
	if err != nil {
		return nil, fmt.Errorf("csv replay: %s: reading the header: %w: %w", path, err, readErrKind(err))
	}
	header = slices.Clone(header)
	t, err := c.newTable(header)
	if err != nil {
		return nil, err
	}

	// Buffer the first rows to decide which other columns hold numbers.
	type pending struct {
		line   int
		fields []string
	}
	var sample []pending
	flush := func() {
		t.inferTypes(func(yield func([]string) bool) {
			for _, p := range sample {
				if !yield(p.fields) {
					return
				}
			}
		})
		for _, p := range sample {
			c.addRow(t, p.line, p.fields)
		}
		sample = nil
	}
	sampling := true
	for n := 0; ; n++ {
		if n&4095 == 4095 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			c.bad(t, pe.StartLine, rec, fmt.Sprintf("not valid CSV: %v", pe.Err))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("csv replay: %s: %w: %w", path, err, readErrKind(err))
		}
		line, _ := r.FieldPos(0)
		if sampling {
			sample = append(sample, pending{line, slices.Clone(rec)})
			if len(sample) == typeSampleRows {
				flush()
				sampling = false
			}
			continue
		}
		c.addRow(t, line, rec)
	}
	if sampling {
		flush()
	}
	if len(t.rows) == 0 {
		if t.badCount > 0 {
			return nil, fmt.Errorf("csv replay: %s has no usable rows: all %d data rows are bad (see the bad-row reports); check the format or give a column mapping: %w", path, t.badCount, stocklake.ErrInvalid)
		}
		return nil, fmt.Errorf("csv replay: %s has a header but no data rows: %w", path, stocklake.ErrInvalid)
	}
	if !slices.IsSortedFunc(t.rows, cmpRow) {
		slices.SortFunc(t.rows, cmpRow) // stable: ties are broken by file order
	}
	c.rows.Store(int64(len(t.rows)))
	return t, nil
}

// cmpRow orders rows by event time, then file order.
func cmpRow(a, b csvRow) int {
	if c := cmp.Compare(a.t, b.t); c != 0 {
		return c
	}
	return cmp.Compare(a.idx, b.idx)
}

// readErrKind classifies an error from reading the file: damaged gzip data
// is invalid input, anything else a failure to read.
func readErrKind(err error) error {
	var corrupt flate.CorruptInputError
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &corrupt) {
		return stocklake.ErrInvalid
	}
	return stocklake.ErrUnavailable
}

// skipBOM drops a UTF-8 byte order mark, which spreadsheet exports add.
func skipBOM(br *bufio.Reader) {
	if b, _ := br.Peek(3); len(b) == 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf {
		_, _ = br.Discard(3)
	}
}

// newTable resolves the header into columns.
func (c *CSVReplay) newTable(header []string) (*table, error) {
	path := c.cfg.Path
	for _, h := range header {
		if !utf8.ValidString(h) || strings.ContainsRune(h, 0) {
			return nil, fmt.Errorf("csv replay: %s does not look like a CSV text file (binary data in the first line); if it is compressed, only gzip is supported: %w", path, stocklake.ErrInvalid)
		}
	}
	t := &table{loc: c.cfg.Location, dateCol: -1, timeCol: -1, symCol: -1, symbols: map[string]uint32{}}
	norm := make([]string, len(header))
	for i, h := range header {
		norm[i] = normalize(h)
	}
	assigned := map[string]int{}
	// Explicit mapping first.
	for k, col := range c.cfg.Mapping {
		field := fieldNames[normalize(k)]
		if col == "" {
			assigned[field] = -1
			continue
		}
		i := slices.Index(header, col)
		if i < 0 {
			i = slices.Index(norm, normalize(col))
		}
		if i < 0 {
			return nil, fmt.Errorf("csv replay: mapping %s=%q: %s has no such column; its header is %q: %w", k, col, path, header, stocklake.ErrConfig)
		}
		assigned[field] = i
	}
	taken := func(i int) bool {
		for _, j := range assigned {
			if j == i {
				return true
			}
		}
		return false
	}
	for _, a := range headerAliases {
		if _, ok := assigned[a.field]; ok {
			continue
		}
		for _, name := range a.names {
			if i := slices.Index(norm, name); i >= 0 && !taken(i) {
				assigned[a.field] = i
				break
			}
		}
	}
	if _, ok := assigned[FieldTime]; !ok {
		if i := slices.Index(norm, "time"); i >= 0 && !taken(i) {
			if d, ok := assigned[FieldDate]; ok && d >= 0 {
				assigned[FieldTime] = i // a date column and a time-of-day column
			} else if !ok {
				assigned[FieldDate] = i // a lone "time" column holds timestamps
			}
		}
	}
	if i, ok := assigned[FieldDate]; !ok || i < 0 {
		for _, h := range header {
			if _, _, err := t.parseTime(strings.TrimSpace(h)); err == nil {
				return nil, fmt.Errorf("csv replay: the first line of %s looks like data, not a header (%q is a date); add a header line naming the columns: %w", path, h, stocklake.ErrInvalid)
			}
		}
		return nil, fmt.Errorf("csv replay: %s has no date/time column in its header %q; name one Date, Time, Timestamp or Datetime, or map one (date=COLUMN): %w", path, header, stocklake.ErrInvalid)
	}
	kindOf := map[int]colKind{}
	fieldOf := map[int]string{}
	for field, i := range assigned {
		if i < 0 {
			continue
		}
		fieldOf[i] = field
		switch field {
		case FieldDate:
			kindOf[i], t.dateCol = colDate, i
		case FieldTime:
			kindOf[i], t.timeCol = colTime, i
		case FieldSymbol:
			kindOf[i], t.symCol = colSymbol, i
		default:
			kindOf[i] = colNumber
		}
	}
	seen := map[string]int{}
	t.maxJSON = 2
	for i, h := range header {
		name := strings.TrimSpace(h)
		if name == "" {
			name = "column_" + strconv.Itoa(i+1)
		}
		if n := seen[name]; n > 0 {
			// NAME_2, NAME_3, ...: the first that no other column has.
			base := name
			for ; seen[name] > 0; n++ {
				name = base + "_" + strconv.Itoa(n+1)
			}
			seen[base] = n
		}
		seen[name]++
		col := column{name: name, field: fieldOf[i], kind: colString}
		if k, ok := kindOf[i]; ok {
			col.kind = k
		}
		col.key = append(stocklake.AppendJSONString(nil, name), ':')
		t.cols = append(t.cols, col)
		t.maxJSON += len(col.key) + 40 // number, date or time, and a comma
	}
	if t.symCol < 0 {
		t.intern(c.cfg.Symbol)
	}
	return t, nil
}

// inferTypes decides, from sample rows, which columns that are not
// canonical fields hold numbers, and assigns storage slots.
func (t *table) inferTypes(sample func(yield func([]string) bool)) {
	for i := range t.cols {
		col := &t.cols[i]
		if col.kind != colString {
			continue
		}
		numbers, values := true, 0
		for fields := range sample {
			if i >= len(fields) {
				continue
			}
			_, null, err := parseNumber(fields[i])
			if err != nil {
				numbers = false
				break
			}
			if !null {
				values++
			}
		}
		if numbers && values > 0 {
			col.kind = colNumber
		}
	}
	for i := range t.cols {
		col := &t.cols[i]
		switch col.kind {
		case colNumber:
			col.slot = t.nNum
			t.nNum++
		case colString:
			col.slot = t.nStr
			t.nStr++
		}
	}
}

// intern returns the index of symbol s, adding it if new.
func (t *table) intern(s string) uint32 {
	if i, ok := t.symbols[s]; ok {
		return i
	}
	s = strings.Clone(s)
	i := uint32(len(t.symKeys))
	t.symbols[s] = i
	key := []byte(s)
	t.symKeys = append(t.symKeys, key[:len(key):len(key)])
	t.symJSON = append(t.symJSON, stocklake.AppendJSONString(nil, s))
	return i
}

// bad reports a bad row.
func (c *CSVReplay) bad(t *table, line int, fields []string, reason string) {
	t.badCount++
	c.badRows.Add(1)
	if c.cfg.OnBadRow != nil {
		c.cfg.OnBadRow(line, &BadRowError{Line: line, Fields: slices.Clone(fields), Reason: reason})
	}
}

// addRow parses one data row into t, or reports it as bad.
func (c *CSVReplay) addRow(t *table, line int, fields []string) {
	if len(fields) != len(t.cols) {
		c.bad(t, line, fields, fmt.Sprintf("has %d fields, the header has %d", len(fields), len(t.cols)))
		return
	}
	row := csvRow{idx: uint32(len(t.rows)), line: uint32(line)}
	dateCell := strings.TrimSpace(fields[t.dateCol])
	if dateCell == "" {
		c.bad(t, line, fields, fmt.Sprintf("no date in column %q", t.cols[t.dateCol].name))
		return
	}
	if t.timeCol >= 0 {
		ts, err := t.parseDateAndTime(dateCell, strings.TrimSpace(fields[t.timeCol]))
		if err != nil {
			c.bad(t, line, fields, fmt.Sprintf("columns %q and %q: %v", t.cols[t.dateCol].name, t.cols[t.timeCol].name, err))
			return
		}
		row.t, row.withTime = ts, true
	} else {
		ts, withTime, err := t.parseTime(dateCell)
		if err != nil {
			c.bad(t, line, fields, fmt.Sprintf("column %q: %v", t.cols[t.dateCol].name, err))
			return
		}
		row.t, row.withTime = ts, withTime
	}
	if t.symCol >= 0 {
		s := strings.TrimSpace(fields[t.symCol])
		if s == "" {
			c.bad(t, line, fields, fmt.Sprintf("no symbol in column %q", t.cols[t.symCol].name))
			return
		}
		row.sym = t.intern(s)
	}
	n0, s0 := len(t.nums), len(t.strs)
	for i := range t.cols {
		col := &t.cols[i]
		switch col.kind {
		case colNumber:
			f, null, err := parseNumber(fields[i])
			if err != nil {
				t.nums, t.strs = t.nums[:n0], t.strs[:s0]
				c.bad(t, line, fields, fmt.Sprintf("column %q: %v", col.name, err))
				return
			}
			if null {
				f = math.NaN()
			}
			t.nums = append(t.nums, f)
		case colString:
			s := fields[i]
			if isNull(strings.TrimSpace(s)) {
				s = ""
			} else {
				s = string(stocklake.AppendJSONString(nil, s))
			}
			t.strs = append(t.strs, s)
		}
	}
	t.rows = append(t.rows, row)
}

// rowJSONSize returns an upper bound of the size of row's JSON object.
func (t *table) rowJSONSize(row *csvRow) int {
	n := t.maxJSON + len(t.symJSON[row.sym])
	for _, s := range t.strs[int(row.idx)*t.nStr : int(row.idx+1)*t.nStr] {
		n += len(s)
	}
	return n
}

// appendJSON appends the row's JSON object to dst.
func (t *table) appendJSON(dst []byte, row *csvRow) []byte {
	dst = append(dst, '{')
	nums := t.nums[int(row.idx)*t.nNum : int(row.idx+1)*t.nNum]
	strs := t.strs[int(row.idx)*t.nStr : int(row.idx+1)*t.nStr]
	for i := range t.cols {
		col := &t.cols[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, col.key...)
		switch col.kind {
		case colSymbol:
			dst = append(dst, t.symJSON[row.sym]...)
		case colDate:
			ts := time.UnixMicro(row.t)
			dst = append(dst, '"')
			if row.withTime && t.timeCol < 0 {
				dst = ts.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z07:00")
			} else {
				dst = ts.In(t.loc).AppendFormat(dst, "2006-01-02")
			}
			dst = append(dst, '"')
		case colTime:
			dst = append(dst, '"')
			dst = time.UnixMicro(row.t).In(t.loc).AppendFormat(dst, "15:04:05.000000")
			dst = append(dst, '"')
		case colNumber:
			dst = appendJSONNumber(dst, nums[col.slot])
		case colString:
			if s := strs[col.slot]; s != "" {
				dst = append(dst, s...)
			} else {
				dst = append(dst, "null"...)
			}
		}
	}
	return append(dst, '}')
}

// appendJSONNumber appends f as a JSON number, or null for NaN, formatted as
// encoding/json does.
func appendJSONNumber(dst []byte, f float64) []byte {
	if math.IsNaN(f) {
		return append(dst, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(dst, f, format, -1, 64)
}

// isNull reports whether a trimmed cell stands for a missing value.
func isNull(s string) bool {
	switch len(s) {
	case 0:
		return true
	case 2, 3, 4:
		return strings.EqualFold(s, "na") || strings.EqualFold(s, "n/a") || strings.EqualFold(s, "nan") || strings.EqualFold(s, "null")
	}
	return false
}

// parseNumber parses a numeric cell. A leading $ is dropped; empty cells and
// NA, N/A, NaN, null are null.
func parseNumber(s string) (f float64, null bool, err error) {
	s = strings.TrimSpace(s)
	if isNull(s) {
		return 0, true, nil
	}
	t := s
	if t[0] == '$' {
		t = t[1:]
	} else if len(t) > 1 && t[0] == '-' && t[1] == '$' {
		t = "-" + t[2:]
	}
	f, err = strconv.ParseFloat(t, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false, fmt.Errorf("%q is not a number", s)
	}
	return f, false, nil
}

// dateLayouts are the date and time formats a date cell may have, tried in
// order (after the one that worked last). Layouts without a zone are read
// in CSVConfig.Location. Fractional seconds are accepted after seconds.
var dateLayouts = []struct {
	layout   string
	withTime bool
	zoned    bool
}{
	{"2006-01-02", false, false},
	{"2006-01-02T15:04:05Z07:00", true, true},
	{"2006-01-02T15:04:05Z0700", true, true},
	{"2006-01-02T15:04:05", true, false},
	{"2006-01-02 15:04:05Z07:00", true, true},
	{"2006-01-02 15:04:05Z0700", true, true},
	{"2006-01-02 15:04:05 Z07:00", true, true},
	{"2006-01-02 15:04:05", true, false},
	{"2006-01-02T15:04Z07:00", true, true},
	{"2006-01-02T15:04", true, false},
	{"2006-01-02 15:04", true, false},
	{"2006/01/02", false, false},
	{"2006/01/02 15:04:05", true, false},
	{"2006/01/02 15:04", true, false},
	{"1/2/2006", false, false},
	{"1/2/2006 15:04:05", true, false},
	{"1/2/2006 15:04", true, false},
	{"2-Jan-2006", false, false},
	{"2 Jan 2006", false, false},
	{"Jan 2, 2006", false, false},
	{"2006.01.02", false, false},
}

// parseTime parses a date or timestamp cell into Unix microseconds and
// whether it had a time of day. Besides dateLayouts it reads YYYYMMDD and
// Unix epoch numbers: 10 digits are seconds (with an optional fraction), 13
// milliseconds, 16 microseconds, 19 nanoseconds.
func (t *table) parseTime(s string) (int64, bool, error) {
	if us, ok := parseISODate(s, t.loc); ok {
		return us, false, nil
	}
	if us, withTime, ok := parseEpoch(s, t.loc); ok {
		return us, withTime, nil
	}
	try := func(i int) (int64, bool, bool) {
		l := dateLayouts[i]
		var ts time.Time
		var err error
		if l.zoned {
			ts, err = time.Parse(l.layout, s)
		} else {
			ts, err = time.ParseInLocation(l.layout, s, t.loc)
		}
		if err != nil {
			return 0, false, false
		}
		return ts.UnixMicro(), l.withTime, true
	}
	if us, withTime, ok := try(t.layout); ok {
		return us, withTime, nil
	}
	for i := range dateLayouts {
		if i == t.layout {
			continue
		}
		if us, withTime, ok := try(i); ok {
			t.layout = i
			return us, withTime, nil
		}
	}
	return 0, false, fmt.Errorf("%q is not a date or time in a format I know (e.g. 2006-01-02, 2006-01-02T15:04:05Z, 2006-01-02 15:04:05, 01/02/2006, Unix seconds or milliseconds); fix the file or convert the column", s)
}

// parseISODate is a fast path for YYYY-MM-DD.
func parseISODate(s string, loc *time.Location) (int64, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	num := func(b string) (int, bool) {
		n := 0
		for i := 0; i < len(b); i++ {
			c := b[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(s[:4])
	m, ok2 := num(s[5:7])
	d, ok3 := num(s[8:])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(time.Month(m), y) {
		return 0, false
	}
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, loc).UnixMicro(), true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseEpoch reads YYYYMMDD and Unix epoch numbers.
func parseEpoch(s string, loc *time.Location) (us int64, withTime, ok bool) {
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if intPart == "" || strings.TrimLeft(intPart, "0123456789") != "" {
		return 0, false, false
	}
	if hasFrac && (len(intPart) != 10 || frac == "" || strings.TrimLeft(frac, "0123456789") != "") {
		return 0, false, false
	}
	n, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return 0, false, false
	}
	switch len(intPart) {
	case 8:
		if hasFrac {
			return 0, false, false
		}
		ts, err := time.ParseInLocation("20060102", intPart, loc)
		if err != nil {
			return 0, false, false
		}
		return ts.UnixMicro(), false, true
	case 10:
		us = n * 1e6
		if hasFrac {
			f, _ := strconv.ParseFloat("0."+frac, 64)
			us += int64(math.Round(f * 1e6))
		}
		return us, true, true
	case 13:
		return n * 1e3, true, true
	case 16:
		return n, true, true
	case 19:
		return n / 1e3, true, true
	}
	return 0, false, false
}

// timeOfDayLayouts are the formats of a separate time-of-day column.
var timeOfDayLayouts = []string{"15:04:05", "15:04", "150405", "3:04:05 PM", "3:04 PM"}

// parseDateAndTime combines a date cell and a time-of-day cell.
func (t *table) parseDateAndTime(dateCell, timeCell string) (int64, error) {
	dus, withTime, err := t.parseTime(dateCell)
	if err != nil {
		return 0, err
	}
	if withTime {
		return dus, nil // the date cell has a time of day already
	}
	if timeCell == "" {
		return 0, fmt.Errorf("no time of day")
	}
	for _, layout := range timeOfDayLayouts {
		tod, err := time.Parse(layout, timeCell)
		if err != nil {
			continue
		}
		y, m, d := time.UnixMicro(dus).In(t.loc).Date()
		return time.Date(y, m, d, tod.Hour(), tod.Minute(), tod.Second(), tod.Nanosecond(), t.loc).UnixMicro(), nil
	}
	return 0, fmt.Errorf("%q is not a time of day (e.g. 15:04:05 or 15:04)", timeCell)
}

// normalize lowercases s and keeps only letters and digits, so that
// "Adj Close", "adj_close" and "AdjClose" compare equal.
func normalize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// symbolFromPath derives a symbol from a file name: data/AAPL.csv.gz -> AAPL.
func symbolFromPath(path string) string {
	name := filepath.Base(path)
	for {
		ext := strings.ToLower(filepath.Ext(name))
		if ext != ".gz" && ext != ".csv" && ext != ".tsv" && ext != ".txt" {
			break
		}
		name = strings.TrimSuffix(name, name[len(name)-len(ext):])
	}
	if name == "" || name == "." {
		return "UNKNOWN"
	}
	return name
}

const hexDigits = "0123456789abcdef"
