package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stocklake/stocklake"
)

// ctxEngine reports the limits a console query's context carries, and
// blocks statements containing "sleep" until canceled.
type ctxEngine struct {
	fakeEngine
	started chan struct{}
}

func (e *ctxEngine) Query(ctx context.Context, sql string) (stocklake.Rows, error) {
	if strings.Contains(sql, "sleep") {
		e.started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if !stocklake.CatalogOnly(ctx) {
		return nil, fmt.Errorf("console query without WithCatalogOnly: %w", stocklake.ErrInvalid)
	}
	if got := stocklake.ScanLimit(ctx); got != DefaultMaxBytesScanned {
		return nil, fmt.Errorf("console scan limit %d, want the default %d: %w", got, DefaultMaxBytesScanned, stocklake.ErrInvalid)
	}
	return e.fakeEngine.Query(ctx, sql)
}

// TestConsoleLimits: by default a console query runs catalog-only under a
// bytes-scanned limit, and a full queue answers 429.
func TestConsoleLimits(t *testing.T) {
	eng := &ctxEngine{fakeEngine: fakeEngine{n: 3}, started: make(chan struct{}, 16)}
	f := newFixture(t, func(c *Config) { c.Engine = eng; c.MaxQueued = 1 })
	var st struct{ ID string }
	if got := f.do(t, "POST", "/api/query", "", `{"sql":"SELECT 1"}`, &st); got != 202 {
		t.Fatalf("start: %d", got)
	}
	if ex, err := f.srv.runner.Wait(context.Background(), st.ID); err != nil {
		t.Fatalf("console query %s: %v", ex.State, err)
	}
	// 4 run (query.DefaultConcurrency), 1 waits, the next is refused.
	var ids []string
	for i := range 5 {
		if got := f.do(t, "POST", "/api/query", "", `{"sql":"SELECT sleep"}`, &st); got != 202 {
			t.Errorf("query %d: %d, want 202", i+1, got)
			continue
		}
		ids = append(ids, st.ID)
	}
	for range min(4, len(ids)) {
		<-eng.started
	}
	if got, body := f.raw(t, "POST", "/api/query", `{"sql":"SELECT sleep"}`, map[string]string{"Content-Type": "application/json"}); got != 429 {
		t.Errorf("a query beyond the queue: %d %s, want 429", got, body)
	}
	for _, id := range ids {
		f.do(t, "DELETE", "/api/query/"+id, "", "", nil)
	}
	for _, id := range ids {
		f.srv.runner.Wait(context.Background(), id)
	}
	var list struct{ Queries []json.RawMessage }
	f.do(t, "GET", "/api/queries", "", "", &list)
	if len(list.Queries) != 6 {
		t.Errorf("%d queries in the history, want 6 (the refused one is not recorded)", len(list.Queries))
	}
	for _, q := range list.Queries {
		if strings.Contains(string(q), "page_index") {
			t.Errorf("the API shows the internal page index: %s", q)
		}
	}
}
