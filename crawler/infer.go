package crawler

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// isDigits reports whether s is non-empty and all ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isDate reports whether s is a calendar date written yyyy-mm-dd, the form
// Hive, Athena and Trino read as a date.
func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !isDigits(s[:4]) || !isDigits(s[5:7]) || !isDigits(s[8:]) {
		return false
	}
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// isTimestamp reports whether s is a timestamp that the table's SerDe reads:
// "yyyy-mm-dd hh:mm:ss[.fffffffff]" always (java.sql.Timestamp's form, read
// by LazySimpleSerDe and both JSON SerDes), and with iso also ISO 8601
// "yyyy-mm-ddThh:mm:ss[.f][Z|+hh:mm]", which the OpenX JSON SerDe reads.
func isTimestamp(s string, iso bool) bool {
	if len(s) < 19 || !isDate(s[:10]) {
		return false
	}
	switch s[10] {
	case ' ':
		if !isDigits(s[11:13]) {
			return false
		}
		_, err := time.Parse(time.DateTime, s)
		return err == nil
	case 'T':
		if !iso {
			return false
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return true
		}
		_, err := time.Parse("2006-01-02T15:04:05", s)
		return err == nil
	}
	return false
}

// stringType is the type of a JSON string value.
func stringType(s string) *dtype {
	switch {
	case isDate(s):
		return tDate
	case isTimestamp(s, true):
		return tTimestamp
	}
	return tString
}

// numberType is the type of a JSON number written as text: int or bigint
// for integers by range, double for the rest.
func numberType(s string) *dtype {
	if !strings.ContainsAny(s, ".eE") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			if n >= math.MinInt32 && n <= math.MaxInt32 {
				return tInt
			}
			return tBigint
		}
	}
	return tDouble
}

// csvType is the type of one CSV field as LazySimpleSerDe would read it;
// empty fields are nulls.
func csvType(s string) *dtype {
	if s == "" {
		return tNull
	}
	switch s[0] {
	case 't', 'T', 'f', 'F':
		if strings.EqualFold(s, "true") || strings.EqualFold(s, "false") {
			return tBoolean
		}
		return tString
	}
	c := s[0]
	if c == '-' || c == '+' || c == '.' || c >= '0' && c <= '9' {
		digits := s
		if c == '-' || c == '+' {
			digits = s[1:]
		}
		if isDigits(digits) {
			return numberType(s)
		}
		// Decimal notation only: no hex, no Inf or NaN, which Hive does not read.
		if _, err := strconv.ParseFloat(s, 64); err == nil && strings.ContainsAny(s, "0123456789") && !strings.ContainsAny(s, "xXpP_iInN") {
			return tDouble
		}
		if isDate(s) {
			return tDate
		}
		if isTimestamp(s, false) {
			return tTimestamp
		}
	}
	return tString
}

// jsonSample is what a JSON sample tells about a file.
type jsonSample struct {
	schema    *dtype // struct of the records' fields
	records   int
	multiline bool // a record spans lines: Athena reads one object per line
	array     bool // records are elements of a top-level array
}

// errNotTabular reports JSON whose records are not objects.
var errNotTabular = errors.New("records are not JSON objects")

// inferJSON infers the schema of JSON lines, a single JSON object or an
// array of objects from a sample of at most maxRecords records. A sample cut
// short (truncated) may end in a partial record, which is ignored.
func inferJSON(data []byte, truncated bool, maxRecords int) (jsonSample, error) {
	var js jsonSample
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	inf := jsonInferer{dec: dec}

	first, err := dec.Token()
	if err != nil {
		return js, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := first.(json.Delim); ok && d == '[' {
		js.array = true
		for dec.More() && js.records < maxRecords {
			start := dec.InputOffset()
			t, err := inf.value()
			if err != nil {
				if truncated && js.records > 0 {
					break
				}
				return js, err
			}
			if t.kind != kStruct {
				return js, errNotTabular
			}
			js.schema = widen(js.schema, t)
			js.records++
			if bytes.IndexByte(data[start:dec.InputOffset()], '\n') >= 0 {
				js.multiline = true
			}
		}
		if js.records == 0 {
			return js, errNotTabular
		}
		return js, nil
	}

	start := int64(0)
	t, err := inf.valueFrom(first)
	for {
		if err != nil {
			if truncated && js.records > 0 && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || isSyntax(err)) {
				break
			}
			return js, fmt.Errorf("not JSON: %w", err)
		}
		if t.kind != kStruct {
			return js, errNotTabular
		}
		js.schema = widen(js.schema, t)
		js.records++
		end := dec.InputOffset()
		if bytes.IndexByte(bytes.TrimSpace(data[start:end]), '\n') >= 0 {
			js.multiline = true
		}
		if js.records >= maxRecords {
			break
		}
		start = end
		tok, terr := dec.Token()
		if terr == io.EOF {
			break
		}
		if terr != nil {
			err = terr
			continue
		}
		t, err = inf.valueFrom(tok)
	}
	return js, nil
}

func isSyntax(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se)
}

// jsonInferer infers types straight from the token stream, without
// building the values.
type jsonInferer struct {
	dec   *json.Decoder
	depth int
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 64

func (j *jsonInferer) value() (*dtype, error) {
	tok, err := j.dec.Token()
	if err != nil {
		return nil, err
	}
	return j.valueFrom(tok)
}

func (j *jsonInferer) valueFrom(tok json.Token) (*dtype, error) {
	switch v := tok.(type) {
	case nil:
		return tNull, nil
	case bool:
		return tBoolean, nil
	case json.Number:
		return numberType(string(v)), nil
	case string:
		return stringType(v), nil
	case json.Delim:
		j.depth++
		defer func() { j.depth-- }()
		if j.depth > maxDepth {
			return nil, fmt.Errorf("JSON nested deeper than %d levels", maxDepth)
		}
		switch v {
		case '{':
			t := &dtype{kind: kStruct}
			index := map[string]int{}
			for j.dec.More() {
				kt, err := j.dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("JSON object key %v is not a string", kt)
				}
				ft, err := j.value()
				if err != nil {
					return nil, err
				}
				lk := strings.ToLower(k)
				if i, dup := index[lk]; dup {
					t.fields[i].t = widen(t.fields[i].t, ft)
					continue
				}
				index[lk] = len(t.fields)
				t.fields = append(t.fields, field{name: k, t: ft})
			}
			if _, err := j.dec.Token(); err != nil { // '}'
				return nil, err
			}
			return t, nil
		case '[':
			t := &dtype{kind: kArray, elem: tNull}
			for j.dec.More() {
				et, err := j.value()
				if err != nil {
					return nil, err
				}
				t.elem = widen(t.elem, et)
			}
			if _, err := j.dec.Token(); err != nil { // ']'
				return nil, err
			}
			return t, nil
		}
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// csvSample is what a CSV sample tells about a file.
type csvSample struct {
	delim   rune
	header  bool
	quoted  bool     // some field is quoted: LazySimpleSerDe cannot read it
	names   []string // from the header, or col0, col1...
	types   []*dtype // one per column
	records int      // data rows sampled
}

// csvDelimiters are tried in order when the file name does not tell.
var csvDelimiters = []rune{',', '\t', '|', ';'}

// inferCSV infers a delimited text file's columns from a sample. hint is a
// delimiter implied by the file name (0 for none). A sample cut short ends
// in a partial line, which is dropped.
func inferCSV(data []byte, truncated bool, hint rune, maxRecords int) (csvSample, error) {
	var cs csvSample
	if truncated {
		if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
			data = data[:i+1]
		}
	}
	if !isText(data) {
		return cs, errors.New("binary data")
	}
	delims := csvDelimiters
	if hint != 0 {
		delims = []rune{hint}
	}
	var rows [][]string
	for _, d := range delims {
		r := readCSV(data, d, maxRecords+1)
		if r == nil {
			continue
		}
		width := len(r[0])
		consistent := 0
		for _, row := range r {
			if len(row) == width {
				consistent++
			}
		}
		// Most rows must agree on the number of fields.
		if (width > 1 || hint != 0) && consistent*10 >= len(r)*9 {
			cs.delim, rows = d, r
			break
		}
	}
	if rows == nil {
		return cs, errors.New("no consistent delimiter")
	}
	cs.quoted = bytes.IndexByte(data, '"') >= 0 && hasQuotedField(data, cs.delim)

	width := 0
	for _, row := range rows {
		width = max(width, len(row))
	}
	first := rows[0]
	data1 := rows[1:]
	cs.header = looksLikeHeader(first, data1)
	body := rows
	if cs.header {
		body = data1
	}
	if len(body) > maxRecords {
		body = body[:maxRecords]
	}
	cs.types = make([]*dtype, width)
	for i := range cs.types {
		cs.types[i] = tNull
	}
	for _, row := range body {
		for i, v := range row {
			cs.types[i] = widen(cs.types[i], csvType(v))
		}
	}
	cs.names = make([]string, width)
	for i := range cs.names {
		if cs.header && i < len(first) && strings.TrimSpace(first[i]) != "" {
			cs.names[i] = first[i]
		} else {
			cs.names[i] = "col" + strconv.Itoa(i)
		}
	}
	cs.records = len(body)
	return cs, nil
}

func readCSV(data []byte, delim rune, limit int) [][]string {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = delim
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	var rows [][]string
	for len(rows) < limit {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil
	}
	return rows
}

// hasQuotedField reports whether a field in data starts with a quote.
func hasQuotedField(data []byte, delim rune) bool {
	d := byte(delim)
	for i, c := range data {
		if c == '"' && (i == 0 || data[i-1] == d || data[i-1] == '\n') {
			return true
		}
	}
	return false
}

// isText reports whether data looks like text rather than binary.
func isText(data []byte) bool {
	n := min(len(data), 4096)
	for _, c := range data[:n] {
		if c == 0 {
			return false
		}
	}
	return n > 0
}

// looksLikeHeader applies the AWS Glue rule: the first row is a header when
// every field in it is a non-empty, unique string of under 150 characters,
// and the rows after it differ, i.e. some column holds non-string values.
// With no rows after it, a row of identifiers is taken as a header.
func looksLikeHeader(first []string, rest [][]string) bool {
	seen := map[string]bool{}
	for _, v := range first {
		v = strings.TrimSpace(v)
		if v == "" || len(v) >= 150 || seen[strings.ToLower(v)] || csvType(v).kind != kString {
			return false
		}
		seen[strings.ToLower(v)] = true
	}
	if len(rest) == 0 {
		for _, v := range first {
			if identifier(v, 0) != strings.ToLower(strings.TrimSpace(v)) {
				return false
			}
		}
		return true
	}
	for _, row := range rest {
		for _, v := range row {
			if k := csvType(v).kind; k != kString && k != kNull {
				return true
			}
		}
	}
	return false
}
