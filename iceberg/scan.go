package iceberg

import (
	"context"
	"fmt"
	"strings"

	"github.com/stocklake/stocklake"
)

// TickKeys scans the table's current snapshot with iceberg-go, as any
// Iceberg reader would, and returns how many rows each (symbol, trade_id)
// has, keyed "SYMBOL\x00TRADE_ID": a tick landed exactly once has 1. It
// holds every key in memory: for tests and checks of small tables.
func (t *Table) TickKeys(ctx context.Context) (map[string]int, error) {
	return t.KeyCounts(ctx, "symbol", "trade_id")
}

// KeyCounts scans the table's current snapshot with iceberg-go and returns
// how many rows each combination of the columns' values has, keyed by the
// values as text joined by "\x00" (null is "(null)"). It holds every key in
// memory: for tests and checks of small tables.
func (t *Table) KeyCounts(ctx context.Context, columns ...string) (map[string]int, error) {
	it, err := t.refresh(ctx)
	if err != nil {
		return nil, err
	}
	_, recs, err := it.Scan().ToArrowRecords(ctx)
	if err != nil {
		return nil, fail(fmt.Sprintf("scanning %s.%s", t.database, t.name), err)
	}
	keys := map[string]int{}
	vals := make([]string, len(columns))
	for rec, err := range recs {
		if err != nil {
			return nil, fail(fmt.Sprintf("scanning %s.%s", t.database, t.name), err)
		}
		sc := rec.Schema()
		idx := make([]int, len(columns))
		for j, c := range columns {
			is := sc.FieldIndices(c)
			if len(is) != 1 {
				rec.Release()
				return nil, fmt.Errorf("iceberg: %s.%s has no column %q: %w", t.database, t.name, c, stocklake.ErrInvalid)
			}
			idx[j] = is[0]
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			for j, c := range idx {
				vals[j] = rec.Column(c).ValueStr(i)
			}
			keys[strings.Join(vals, "\x00")]++
		}
		rec.Release()
	}
	return keys, nil
}
