package iceberg

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/stocklake/stocklake"
)

// TickKeys scans the table's current snapshot with iceberg-go, as any
// Iceberg reader would, and returns how many rows each (symbol, trade_id)
// has, keyed "SYMBOL\x00TRADE_ID": a tick landed exactly once has 1. It
// holds every key in memory: for tests and checks of small tables.
func (t *Table) TickKeys(ctx context.Context) (map[string]int, error) {
	it, err := t.refresh(ctx)
	if err != nil {
		return nil, err
	}
	_, recs, err := it.Scan().ToArrowRecords(ctx)
	if err != nil {
		return nil, fail(fmt.Sprintf("scanning %s.%s", t.database, t.name), err)
	}
	keys := map[string]int{}
	for rec, err := range recs {
		if err != nil {
			return nil, fail(fmt.Sprintf("scanning %s.%s", t.database, t.name), err)
		}
		sc := rec.Schema()
		sym, ok1 := rec.Column(sc.FieldIndices("symbol")[0]).(*array.String)
		tid, ok2 := rec.Column(sc.FieldIndices("trade_id")[0]).(*array.String)
		if !ok1 || !ok2 {
			rec.Release()
			return nil, fmt.Errorf("iceberg: %s.%s: symbol or trade_id is not a string column: %w", t.database, t.name, stocklake.ErrInvalid)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			keys[sym.Value(i)+"\x00"+tid.Value(i)]++
		}
		rec.Release()
	}
	return keys, nil
}
