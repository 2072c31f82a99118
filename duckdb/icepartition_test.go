package duckdb_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/iceberg"
)

// TestIcebergIdentityPartitionPruning: a table partitioned hour,symbol
// (hour(ts),identity(symbol)), one file per (hour, symbol) as the sink
// writes them: the engine plans only the files of the symbol and hours a
// query asks for (the files scanned are counted), and counts right.
func TestIcebergIdentityPartitionPruning(t *testing.T) {
	ctx := context.Background()
	l := newIcebergLake(t)
	tbl, err := l.ice.CreateTickTable(ctx, "market", "ticks", iceberg.TableOptions{Partitioning: "hour,symbol"})
	if err != nil {
		t.Fatal(err)
	}
	if p := tbl.Partitioning(); p != "hour(ts),identity(symbol)" {
		t.Fatalf("partitioning %s", p)
	}
	base := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	var files []stocklake.LakeFile
	n := int64(0)
	for h := range 3 {
		for _, sym := range []string{"AAPL", "MSFT", "BRK.B"} {
			ts := make([]stocklake.Tick, 10+h)
			for i := range ts {
				ts[i] = stocklake.Tick{Symbol: sym, Time: base.Add(time.Duration(h)*time.Hour + time.Duration(i)*time.Minute), Price: 1, Size: 1,
					Exchange: "XNYS", TradeID: fmt.Sprint(sym, h, i), Conditions: []string{}, Source: "test"}
			}
			files = append(files, writeIcebergFile(t, l, tbl, fmt.Sprintf("ticks+T+0+%d.parquet", n), ts))
			n += int64(len(ts))
		}
	}
	if _, err := tbl.Commit(ctx, files, []stocklake.OffsetRange{{TopicPartition: stocklake.TopicPartition{TopicID: "T", Partition: 0}, Start: 0, End: n}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		where        string
		count, files int64
	}{
		{"true", n, 9},
		{"symbol = 'BRK.B'", 10 + 11 + 12, 3},
		{"symbol IN ('AAPL', 'MSFT')", 2 * (10 + 11 + 12), 6},
		{"ts >= TIMESTAMP '2026-12-01 15:00:00 UTC' AND ts < TIMESTAMP '2026-12-01 16:00:00 UTC'", 3 * 11, 3},
		{"symbol = 'AAPL' AND ts >= TIMESTAMP '2026-12-01 16:00:00 UTC'", 12, 1},
		{"symbol = 'NONE'", 0, 0},
	} {
		r, st := query(t, l.engine, "SELECT count(*) FROM market.ticks WHERE "+c.where)
		if r.Rows[0][0] != c.count || st.FilesScanned != c.files {
			t.Errorf("%s: count %v from %d files, want %d from %d", c.where, r.Rows[0][0], st.FilesScanned, c.count, c.files)
		}
	}
}
