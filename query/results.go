package query

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/sqltext"
)

// csvRows reads a stored result (Athena's CSV: a header, quoted values,
// NULL as an empty unquoted field) back as typed Rows.
type csvRows struct {
	rc     io.ReadCloser
	br     *bufio.Reader
	ex     Execution
	vals   []any
	header bool
	err    error
	done   bool
}

func newCSVRows(rc io.ReadCloser, ex Execution) *csvRows {
	return &csvRows{rc: rc, br: bufio.NewReaderSize(rc, 64<<10), ex: ex}
}

// newCSVRowsAt reads rows from the middle of a result: rc starts at a row,
// not at the header.
func newCSVRowsAt(rc io.ReadCloser, ex Execution) *csvRows {
	r := newCSVRows(rc, ex)
	r.header = true
	return r
}

func (r *csvRows) Columns() []stocklake.ResultColumn { return r.ex.Columns }

func (r *csvRows) Next() bool {
	if r.done {
		return false
	}
	if !r.header {
		r.header = true
		if _, err := r.record(); err != nil {
			return r.stop(err)
		}
	}
	rec, err := r.record()
	if err != nil {
		return r.stop(err)
	}
	if len(rec) != len(r.ex.Columns) {
		return r.stop(fmt.Errorf("result of query %s: a row has %d fields, want %d: %w", r.ex.ID, len(rec), len(r.ex.Columns), stocklake.ErrInvalid))
	}
	r.vals = r.vals[:0]
	for i, f := range rec {
		if f == nil {
			r.vals = append(r.vals, nil)
			continue
		}
		v, err := sqltext.ParseFormatted(*f, r.ex.Columns[i].Type)
		if err != nil {
			return r.stop(fmt.Errorf("result of query %s, column %s: %v: %w", r.ex.ID, r.ex.Columns[i].Name, err, stocklake.ErrInvalid))
		}
		r.vals = append(r.vals, v)
	}
	return true
}

func (r *csvRows) stop(err error) bool {
	r.done = true
	if err != io.EOF {
		r.err = err
	}
	return false
}

// record reads one CSV record; an unquoted empty field is nil (NULL).
func (r *csvRows) record() ([]*string, error) {
	var out []*string
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			if err == io.EOF && len(out) > 0 {
				return append(out, nil), nil
			}
			return nil, err
		}
		switch c {
		case '"':
			var b strings.Builder
			for {
				c, err := r.br.ReadByte()
				if err != nil {
					return nil, fmt.Errorf("unterminated quoted field: %w", stocklake.ErrInvalid)
				}
				if c == '"' {
					if next, err := r.br.Peek(1); err == nil && next[0] == '"' {
						r.br.ReadByte()
						b.WriteByte('"')
						continue
					}
					break
				}
				b.WriteByte(c)
			}
			s := b.String()
			out = append(out, &s)
			c, err := r.br.ReadByte()
			if err == io.EOF || c == '\n' {
				return out, nil
			}
			if c == '\r' {
				r.br.ReadByte()
				return out, nil
			}
			if c != ',' {
				return nil, fmt.Errorf("unexpected %q after a quoted field: %w", c, stocklake.ErrInvalid)
			}
		case ',':
			out = append(out, nil)
		case '\n', '\r':
			if c == '\r' {
				r.br.ReadByte()
			}
			return append(out, nil), nil
		default:
			return nil, fmt.Errorf("unquoted value in a result file: %w", stocklake.ErrInvalid)
		}
	}
}

func (r *csvRows) Values() []any { return r.vals }

func (r *csvRows) Err() error { return r.err }

// Stats are those recorded when the query ran.
func (r *csvRows) Stats() stocklake.QueryStats {
	return stocklake.QueryStats{BytesScanned: r.ex.BytesScanned, FilesScanned: r.ex.FilesScanned, Duration: r.ex.EngineTime}
}

func (r *csvRows) Close() error { return r.rc.Close() }
