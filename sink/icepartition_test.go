package sink

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
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

// TestIcebergSinkJSONPartitionsByFieldValues lands JSON records into a new
// table partitioned "day,region,lane" (identity of a text and an integer
// field), in two runs: the first creates the table from its first batch
// (grouped by hour and values before the table exists), the second
// appends to it. Values are hostile as on the Hive path: '/', '..', the
// empty string, a missing field and null (the null partition, Iceberg's
// counterpart of Hive's default partition), a number in a text column, a
// value longer than the 16 characters column statistics keep by default,
// and one too long for a folder name (a dead letter, as on the Hive path).
// Each file holds one partition (the commit refuses any other), in its
// folder, and every record lands once with its values.
func TestIcebergSinkJSONPartitionsByFieldValues(t *testing.T) {
	kc := newCluster(t, "orders")
	long, tooLong := strings.Repeat("L", 100), strings.Repeat("X", 300)
	regions := []string{`"eu"`, `"a/b"`, `".."`, `""`, ``, `null`, `"` + long + `"`, `5`, `"` + tooLong + `"`}
	var keys, values [][]byte
	var ids []string
	for i := range 540 {
		at := time.Date(2026, 11, 26+(i/27)%2, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
		v := fmt.Sprintf(`{"order_id":"o%d","event_time":%q`, i, at.Format(time.RFC3339))
		if r := regions[i%9]; r != "" {
			v += `,"region":` + r
		}
		if lane := (i / 9) % 3; lane < 2 {
			v += fmt.Sprintf(`,"lane":%d`, lane)
		}
		keys, values = append(keys, []byte("k")), append(values, []byte(v+"}"))
		if i%9 != 8 {
			ids = append(ids, fmt.Sprint("o", i))
		}
	}
	l := newJSONLake(t)
	var dead int64
	for run, half := range [][2]int{{0, 270}, {270, 540}} {
		produceValues(t, kc, "orders", keys[half[0]:half[1]], values[half[0]:half[1]])
		cfg := jsonIceConfig(Config{Kafka: kc, ExitWhenIdle: true, MaxRows: 100}, l, t)
		cfg.Committer.(*iceberg.LazyTable).Partitioning = "day,region,lane"
		if run == 1 {
			cfg.Committer.(*iceberg.LazyTable).Partitioning = "" // follow the table
		}
		s, err := runSinkWith(t, cfg, nil, never)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		dead += s.Stats().DeadLetters.Load()
	}
	if dead != 60 {
		t.Errorf("%d dead letters, want the 60 records whose region is too long for a folder", dead)
	}
	for _, r := range readDLQ(t, kc, stocklake.DeadLetterTopic("orders")) {
		if !strings.Contains(header(r, stocklake.HeaderError), "partition folder") || !strings.Contains(string(r.Value), tooLong) {
			t.Errorf("dead letter %.80s: %s", r.Value, header(r, stocklake.HeaderError))
		}
	}
	assertOrdersOnce(t, l, ids)
	tbl, _ := l.lazy(t, "orders").Table(context.Background())
	if p := tbl.Partitioning(); p != "day(event_time),identity(region),identity(lane)" {
		t.Errorf("partitioning %s", p)
	}
	var want []string
	for _, day := range []string{"2026-11-26", "2026-11-27"} {
		for _, region := range []string{"eu", "a~2Fb", "..", "", "null", long, "5"} {
			for _, lane := range []string{"0", "1", "null"} {
				want = append(want, "event_time_day="+day+"/region="+region+"/lane="+lane)
			}
		}
	}
	assertFilesInPartitions(t, l, "orders", want)
	got, err := tbl.KeyCounts(context.Background(), "order_id", "region", "lane")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"o0\x00eu\x000", "o1\x00a/b\x000", "o2\x00..\x000", "o3\x00\x000", "o4\x00(null)\x000",
		"o5\x00(null)\x000", "o6\x00" + long + "\x000", "o7\x005\x000", "o24\x00" + long + "\x00(null)", "o533\x00..\x00(null)"} {
		if got[k] != 1 {
			t.Errorf("row %q not read back once", k)
		}
	}
}

// TestHourStartIsTruncate checks that hourStart, the sink's partition
// path cache key, is the hour Truncate gives, before 1970 too.
func TestHourStartIsTruncate(t *testing.T) {
	for _, s := range []string{"1969-12-31T23:59:59.5Z", "1969-12-31T23:00:00Z", "1900-01-01T00:30:00Z", "1970-01-01T00:00:00Z", "2026-11-27T00:59:59.999999999Z", "2026-11-27T01:00:00Z"} {
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := hourStart(at), at.Truncate(time.Hour).Unix(); got != want {
			t.Errorf("hourStart(%s) = %d, want %d", s, got, want)
		}
	}
}
