package query_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/query"
)

// TestQueueBounded: with every slot busy and the queue full, Start refuses
// a query with ErrQueueFull and writes nothing to the lake for it.
func TestQueueBounded(t *testing.T) {
	eng := &fakeEngine{started: make(chan string, 10)}
	r, store := newRunner(t, query.Config{Engine: eng, Concurrency: 1, MaxQueued: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ids []string
	for i := range 3 {
		ex, err := r.Start(ctx, fmt.Sprintf("SELECT sleep%d", i))
		if err != nil {
			t.Fatalf("query %d: %v", i+1, err)
		}
		ids = append(ids, ex.ID)
	}
	<-eng.started // one runs, two wait
	_, err := r.Start(ctx, "SELECT sleep")
	if !errors.Is(err, query.ErrQueueFull) || !errors.Is(err, stocklake.ErrUnavailable) {
		t.Fatalf("fourth query: %v, want ErrQueueFull", err)
	}
	objs, err := store.List(ctx, query.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 {
		t.Errorf("%d objects in the lake, want the 3 accepted queries' metadata", len(objs))
	}
	for _, id := range ids {
		r.Cancel(id)
		r.Wait(context.Background(), id)
	}
	// Once they are done, queries are accepted again.
	if _, err := r.Run(context.Background(), "SELECT 1"); err != nil {
		t.Errorf("after the queue drained: %v", err)
	}
}

// bigEngine returns n rows of one string of size bytes each.
type bigEngine struct{ n, size int }

func (e *bigEngine) Query(ctx context.Context, sql string) (stocklake.Rows, error) {
	return &bigRows{n: e.n, s: strings.Repeat("x", e.size), i: -1}, nil
}
func (e *bigEngine) Close() error { return nil }

type bigRows struct {
	n, i int
	s    string
}

func (r *bigRows) Columns() []stocklake.ResultColumn {
	return []stocklake.ResultColumn{{Name: "i", Type: "bigint"}, {Name: "s", Type: "varchar"}}
}
func (r *bigRows) Next() bool                  { r.i++; return r.i < r.n }
func (r *bigRows) Values() []any               { return []any{int64(r.i), r.s} }
func (r *bigRows) Err() error                  { return nil }
func (r *bigRows) Stats() stocklake.QueryStats { return stocklake.QueryStats{} }
func (r *bigRows) Close() error                { return nil }

// TestMaxResultBytes: 200 rows of 100 KB strings against a 1 MiB cap fail
// without a result in the lake.
func TestMaxResultBytes(t *testing.T) {
	for _, size := range []int{100 << 10, 3 << 20} { // many rows over the cap; one value over it
		r, store := newRunner(t, query.Config{Engine: &bigEngine{n: 200, size: size}, MaxResultBytes: 1 << 20})
		ex, err := r.Run(context.Background(), "SELECT big strings")
		if !errors.Is(err, query.ErrResultTooLarge) || ex.State != stocklake.QueryFailed {
			t.Fatalf("value size %d: %v (%s), want a failure wrapping ErrResultTooLarge", size, err, ex.State)
		}
		if !strings.Contains(ex.Error, "1.0 MiB") {
			t.Errorf("the error does not name the limit: %s", ex.Error)
		}
		if _, err := store.Stat(context.Background(), query.DefaultPrefix+ex.ID+".csv"); !errors.Is(err, stocklake.ErrNotFound) {
			t.Errorf("a result object was written: %v", err)
		}
	}
	r, _ := newRunner(t, query.Config{Engine: &bigEngine{n: 5, size: 100}, MaxResultBytes: 1 << 20})
	if _, err := r.Run(context.Background(), "SELECT small"); err != nil {
		t.Errorf("a small result under the cap: %v", err)
	}
}

// countingStore counts the bytes read from results.
type countingStore struct {
	stocklake.ObjectStore
	read atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := s.ObjectStore.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return &countingReader{ReadCloser: rc, n: &s.read}, nil
}

func (s *countingStore) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	b, err := s.ObjectStore.GetRange(ctx, key, off, n)
	s.read.Add(int64(len(b)))
	return b, err
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}

// TestResultsPage: a page deep in a result is read from near its rows, not
// from row 0, and holds the right rows.
func TestResultsPage(t *testing.T) {
	base, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &countingStore{ObjectStore: base}
	const n = 250_000 // past the index's 1024 entries at stride 100: it doubles its stride
	r, err := query.New(query.Config{Engine: &bigEngine{n: n, size: 20}, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ex, err := r.Run(ctx, "SELECT many")
	if err != nil {
		t.Fatal(err)
	}
	info, err := store.Stat(ctx, query.DefaultPrefix+ex.ID+".csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ offset, limit, want int64 }{
		{0, 100, 100}, {1, 3, 3}, {199_950, 100, 100}, {n - 7, 100, 7}, {123_457, 1000, 1000}, {n, 10, 0}, {n + 5, 10, 0},
	} {
		store.read.Store(0)
		rows, err := r.ResultsPage(ctx, ex.ID, c.offset, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		var got int64
		for got < c.limit && rows.Next() {
			if i := rows.Values()[0].(int64); i != c.offset+got {
				t.Fatalf("page at %d: row %d is %d, want %d", c.offset, got, i, c.offset+got)
			}
			got++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if got != c.want {
			t.Errorf("page at %d limit %d: %d rows, want %d", c.offset, c.limit, got, c.want)
		}
		t.Logf("page at %d (limit %d): read %d of %d bytes", c.offset, c.limit, store.read.Load(), info.Size)
		// Rows are ~30 bytes; the read may cover the page plus two strides (<= 2*512 rows).
		if maxRead := (c.limit + 1100) * 40; store.read.Load() > maxRead {
			t.Errorf("page at %d: read %d bytes of a %d-byte result, want at most %d", c.offset, store.read.Load(), info.Size, maxRead)
		}
	}
}

// TestMaxRows: the runner stops a result at Config.MaxRows and marks it
// truncated only when the engine had more rows; the stored result holds
// the kept rows. A result of exactly MaxRows rows is not truncated.
func TestMaxRows(t *testing.T) {
	for _, c := range []struct {
		rows, max, want int64
		truncated       bool
	}{
		{rows: 250, max: 200, want: 200, truncated: true},
		{rows: 200, max: 200, want: 200},
		{rows: 5, max: 200, want: 5},
		{rows: 250, max: 0, want: 250}, // no limit
	} {
		r, _ := newRunner(t, query.Config{Engine: &bigEngine{n: int(c.rows), size: 3}, MaxRows: c.max})
		ex, err := r.Run(context.Background(), "SELECT * FROM t")
		if err != nil {
			t.Fatal(err)
		}
		if ex.Rows != c.want || ex.Truncated != c.truncated {
			t.Errorf("%d rows, limit %d: got %d rows, truncated %v; want %d, %v", c.rows, c.max, ex.Rows, ex.Truncated, c.want, c.truncated)
		}
		res, err := r.Results(context.Background(), ex.ID)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for res.Next() {
			n++
		}
		res.Close()
		if n != c.want {
			t.Errorf("%d rows, limit %d: the stored result holds %d rows, want %d", c.rows, c.max, n, c.want)
		}
		if got, _ := r.Get(context.Background(), ex.ID); got.Truncated != c.truncated {
			t.Errorf("%d rows, limit %d: the metadata says truncated %v", c.rows, c.max, got.Truncated)
		}
	}
}

// failingEngine returns n rows and then fails.
type failingEngine struct{ n int }

func (e *failingEngine) Query(ctx context.Context, sql string) (stocklake.Rows, error) {
	return &failingRows{bigRows: bigRows{n: e.n, s: "x", i: -1}}, nil
}
func (e *failingEngine) Close() error { return nil }

type failingRows struct{ bigRows }

func (r *failingRows) Err() error {
	if r.i >= r.n {
		return errors.New("engine failed past the rows")
	}
	return nil
}

// TestMaxRowsIgnoresLaterFailure: an engine failing after the rows a
// MaxRows result keeps does not fail the query; without the limit it does.
func TestMaxRowsIgnoresLaterFailure(t *testing.T) {
	r, _ := newRunner(t, query.Config{Engine: &failingEngine{n: 10}, MaxRows: 10})
	if ex, err := r.Run(context.Background(), "SELECT 1"); err != nil || ex.Rows != 10 {
		t.Errorf("with the limit: %v, %d rows; want 10 rows", err, ex.Rows)
	}
	r, _ = newRunner(t, query.Config{Engine: &failingEngine{n: 10}})
	if _, err := r.Run(context.Background(), "SELECT 1"); err == nil {
		t.Error("without the limit the engine's failure was lost")
	}
}
