package sink

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake/iceberg"
)

// assertFilesInPartitions checks that every data file of table name lies
// in the folder of the partition the table's metadata gives it, and that
// the partitions are exactly want.
func assertFilesInPartitions(t *testing.T, l iceLake, name string, want []string) {
	t.Helper()
	tbl, err := l.lazy(t, name).Table(context.Background())
	if err != nil || tbl == nil {
		t.Fatalf("table %s: %v, %v", name, tbl, err)
	}
	files, err := tbl.DataFiles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		seen[f.Partition] = true
		if !strings.Contains(f.URL, "/data/"+f.Partition+"/") {
			t.Errorf("file %s is not in the folder of its partition %s", f.URL, f.Partition)
		}
	}
	var got []string
	for p := range seen {
		got = append(got, p)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("partitions of %s:\n %v\nwant\n %v", name, got, want)
	}
}

// TestIcebergSinkPartitionsByHourAndSymbol lands ticks of 6 symbols that
// cross an hour (and a day) into a new table partitioned "hour,symbol":
// the table is hour(ts),identity(symbol), each file holds one (hour,
// symbol) partition, and every tick is there once. (The sink used to ask
// for a partition path once per hour, so a file would mix symbols and the
// commit be refused.)
func TestIcebergSinkPartitionsByHourAndSymbol(t *testing.T) {
	kc := newCluster(t, "ticks")
	ticks := dayCrossingTicks(900, "a")
	produceTicks(t, kc, "ticks", ticks)
	l := newIceLake(t)
	lazy := l.lazy(t, "by_hour_symbol")
	lazy.Partitioning = "hour,symbol"
	cfg := iceConfig(Config{Kafka: kc, ExitWhenIdle: true}, l)
	cfg.Committer = lazy
	if _, err := runSinkWith(t, cfg, nil, never); err != nil {
		t.Fatal(err)
	}
	tbl, err := l.lazy(t, "by_hour_symbol").Table(context.Background())
	if err != nil || tbl == nil {
		t.Fatalf("table: %v, %v", tbl, err)
	}
	if p := tbl.Partitioning(); p != "hour(ts),identity(symbol)" {
		t.Errorf("partitioning %s, want hour(ts),identity(symbol)", p)
	}
	keys, err := tbl.TickKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for k, n := range keys {
		if rows += n; n != 1 {
			t.Errorf("tick %q is in the table %d times", k, n)
		}
	}
	if rows != len(ticks) {
		t.Errorf("table has %d rows, want %d", rows, len(ticks))
	}
	var want []string
	for _, h := range []string{"2026-11-26-23", "2026-11-27-00"} {
		for _, s := range []string{"AAPL", "MSFT", "NVDA", "AMZN", "TSLA", "BRK.B"} {
			want = append(want, "ts_hour="+h+"/symbol="+s)
		}
	}
	assertFilesInPartitions(t, l, "by_hour_symbol", want)
}

// TestIcebergSinkJSONPartitionsByHour lands JSON records of two hours of
// one day into a new JSON table partitioned "hour", in batches that each
// hold both hours (the first before the table exists, the others after):
// the table is hour(event_time) and each file holds one hour. (The sink
// used to group JSON records by day, so a file spanned two hours.)
func TestIcebergSinkJSONPartitionsByHour(t *testing.T) {
	kc := newCluster(t, "orders")
	var keys, values [][]byte
	var ids []string
	base := time.Date(2026, 11, 26, 13, 30, 0, 0, time.UTC)
	for i := range 600 {
		at := base.Add(time.Duration(i)*time.Millisecond + time.Duration(i%2)*time.Hour)
		keys = append(keys, []byte("k"))
		values = append(values, fmt.Appendf(nil, `{"order_id":"o%d","event_time":%q,"qty":%d}`, i, at.Format(time.RFC3339Nano), i%7))
		ids = append(ids, fmt.Sprint("o", i))
	}
	produceValues(t, kc, "orders", keys, values)
	l := newJSONLake(t)
	cfg := jsonIceConfig(Config{Kafka: kc, ExitWhenIdle: true, MaxRows: 200}, l, t)
	cfg.Committer.(*iceberg.LazyTable).Partitioning = "hour"
	if _, err := runSinkWith(t, cfg, nil, never); err != nil {
		t.Fatal(err)
	}
	assertOrdersOnce(t, l, ids)
	tbl, _ := l.lazy(t, "orders").Table(context.Background())
	if p := tbl.Partitioning(); p != "hour(event_time)" {
		t.Errorf("partitioning %s, want hour(event_time)", p)
	}
	assertFilesInPartitions(t, l, "orders", []string{"event_time_hour=2026-11-26-13", "event_time_hour=2026-11-26-14"})
}
