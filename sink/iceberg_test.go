package sink

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/iceberg"
)

// iceLake is a file:// lake with an Iceberg tick table in a SQLite catalog.
type iceLake struct {
	store  stocklake.ObjectStore
	dbPath string
	table  *iceberg.Table
}

func newIceLake(t *testing.T) iceLake {
	t.Helper()
	dir := t.TempDir()
	st, err := file.New(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	l := iceLake{store: st, dbPath: filepath.Join(dir, "catalog.db")}
	l.table = l.open(t)
	return l
}

// open opens the table through a catalog handle of its own, as another
// process would.
func (l iceLake) open(t *testing.T) *iceberg.Table {
	t.Helper()
	ctx := context.Background()
	cat, err := iceberg.Open(ctx, iceberg.Config{SQLitePath: l.dbPath, Warehouse: l.store.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	tbl, err := cat.OpenOrCreateTickTable(ctx, "market", "ticks", iceberg.TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// assertTableExactlyOnce scans the table with iceberg-go (a fresh catalog
// handle) and checks that it holds each tick exactly once.
func (l iceLake) assertTableExactlyOnce(t *testing.T, ticks []stocklake.Tick) {
	t.Helper()
	keys, err := l.open(t).TickKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := make([]string, len(ticks))
	for i, tk := range ticks {
		want[i] = tk.Symbol + "\x00" + tk.TradeID
	}
	assertKeysOnce(t, "tick", keys, want)
}

// assertKeysOnce checks a table's row counts by key (TickKeys,
// KeyCounts): each key of want once and no other rows; what names a key
// in messages ("tick").
func assertKeysOnce(t *testing.T, what string, keys map[string]int, want []string) {
	t.Helper()
	rows := 0
	for k, n := range keys {
		rows += n
		if n != 1 {
			t.Errorf("%s %q is in the table %d times", what, k, n)
		}
	}
	for _, k := range want {
		if keys[k] == 0 {
			t.Errorf("%s %q is missing from the table", what, k)
		}
	}
	if rows != len(want) {
		t.Errorf("table has %d rows, want %d", rows, len(want))
	}
}

// tableOffsets returns a table's next offsets and their sum: how many
// records it accounts for, its partitions starting at offset 0.
func tableOffsets(t *testing.T, tbl stocklake.OffsetTable) (map[stocklake.TopicPartition]int64, int64) {
	t.Helper()
	offs, err := tbl.Offsets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, o := range offs {
		sum += o
	}
	return offs, sum
}

// dayCrossingTicks makes n ticks from 23:59:50 on 2026-11-26 on, 25 ms
// apart, so they span two days: two table partitions.
func dayCrossingTicks(n int, prefix string) []stocklake.Tick {
	base := time.Date(2026, 11, 26, 23, 59, 50, 0, time.UTC)
	syms := []string{"AAPL", "MSFT", "NVDA", "AMZN", "TSLA", "BRK.B"}
	out := make([]stocklake.Tick, n)
	for i := range out {
		out[i] = stocklake.Tick{Symbol: syms[i%len(syms)], Time: base.Add(time.Duration(i) * 25 * time.Millisecond), Price: 100 + float64(i%50)/4,
			Size: float64(1 + i%9), Exchange: "XNAS", TradeID: prefix + strconv.Itoa(i), Source: "test"}
	}
	return out
}

func iceConfig(kc Config, l iceLake) Config {
	kc.Topic, kc.Store, kc.Committer = "ticks", l.store, l.table
	if kc.MaxRows == 0 {
		kc.MaxRows = 150
	}
	if kc.FlushInterval == 0 {
		kc.FlushInterval = 20 * time.Millisecond
	}
	return kc
}

func TestIcebergSinkLandsEveryTickOnce(t *testing.T) {
	kc := newCluster(t, "ticks")
	ticks := dayCrossingTicks(900, "a")
	produceTicks(t, kc, "ticks", ticks)
	l := newIceLake(t)
	s, err := runSinkWith(t, iceConfig(Config{Kafka: kc, ExitWhenIdle: true}, l), nil, never)
	if err != nil {
		t.Fatal(err)
	}
	l.assertTableExactlyOnce(t, ticks)
	if got := s.Stats().Rows.Load(); got != 900 {
		t.Errorf("rows committed = %d, want 900", got)
	}
	// The table's offsets account for every record of every partition.
	if offs, sum := tableOffsets(t, l.open(t)); len(offs) < 2 || sum != 900 {
		t.Errorf("table offsets %v: want several partitions summing to 900", offs)
	}
	// No Hive-mode state in the lake: the table carries it all.
	keys, err := l.store.List(context.Background(), "_stocklake/")
	if err == nil && len(keys) > 0 {
		t.Errorf("table mode wrote Hive sink state: %v", keys)
	}
}

// TestIcebergSinkResumesFromTableOffsets runs a second sink in another
// group (no group offsets): it must start where the table says, not at the
// start of the topic.
func TestIcebergSinkResumesFromTableOffsets(t *testing.T) {
	kc := newCluster(t, "ticks")
	first := dayCrossingTicks(600, "a")
	produceTicks(t, kc, "ticks", first)
	l := newIceLake(t)
	if _, err := runSinkWith(t, iceConfig(Config{Kafka: kc, Group: "one", ExitWhenIdle: true}, l), nil, never); err != nil {
		t.Fatal(err)
	}
	more := dayCrossingTicks(300, "b")
	produceTicks(t, kc, "ticks", more)
	l2 := l
	l2.table = l.open(t)
	if _, err := runSinkWith(t, iceConfig(Config{Kafka: kc, Group: "two", ExitWhenIdle: true}, l2), nil, never); err != nil {
		t.Fatal(err)
	}
	l.assertTableExactlyOnce(t, append(first, more...))
}

// TestIcebergSinkCrashBeforeTableCommit fails a flush after its files are
// written and before the table commit, then restarts: the table still
// holds every tick exactly once (the files written are orphans).
func TestIcebergSinkCrashBeforeTableCommit(t *testing.T) {
	kc := newCluster(t, "ticks")
	ticks := dayCrossingTicks(900, "a")
	produceTicks(t, kc, "ticks", ticks)
	l := newIceLake(t)
	var calls atomic.Int32
	crash := errors.New("crash between the file writes and the table commit")
	s, err := runSinkWith(t, iceConfig(Config{Kafka: kc, ExitWhenIdle: true}, l), func(s *Sink) {
		s.beforeTableCommit = func([]int32) error {
			if calls.Add(1) == 3 {
				return crash
			}
			return nil
		}
	}, never)
	if !errors.Is(err, crash) {
		t.Fatalf("first run: %v, want the injected crash", err)
	}
	keys, err := l.open(t).TickKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) >= len(ticks) {
		t.Fatalf("table has %d ticks after the crash, want fewer than %d", len(keys), len(ticks))
	}
	if s.Stats().Objects.Load() == 0 {
		t.Fatal("the crashed run wrote no files")
	}
	if _, err := runSinkWith(t, iceConfig(Config{Kafka: kc, ExitWhenIdle: true}, iceLake{store: l.store, dbPath: l.dbPath, table: l.open(t)}), nil, never); err != nil {
		t.Fatal(err)
	}
	l.assertTableExactlyOnce(t, ticks)
}

// TestIcebergSinkZombieIsFenced pauses a sink before its first table
// commit while a second sink (another group, as if the first one's session
// had expired) lands everything; the first one's commit is then refused.
func TestIcebergSinkZombieIsFenced(t *testing.T) {
	kc := newCluster(t, "ticks")
	ticks := dayCrossingTicks(900, "a")
	produceTicks(t, kc, "ticks", ticks)
	l := newIceLake(t)
	paused, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	zombie, zdone, zstop := startSink(t, iceConfig(Config{Kafka: kc, Group: "old", MaxRows: 100, FlushInterval: time.Hour}, l),
		func(s *Sink) {
			s.beforeTableCommit = func([]int32) error {
				once.Do(func() { close(paused); <-resume })
				return nil
			}
		})
	select {
	case <-paused:
	case <-zdone:
		t.Fatalf("zombie sink stopped before pausing: %v", zstop())
	case <-time.After(30 * time.Second):
		t.Fatal("zombie sink never flushed")
	}
	l2 := iceLake{store: l.store, dbPath: l.dbPath, table: l.open(t)}
	if _, err := runSinkWith(t, iceConfig(Config{Kafka: kc, Group: "new", ExitWhenIdle: true}, l2), nil, never); err != nil {
		t.Fatal(err)
	}
	l.assertTableExactlyOnce(t, ticks)
	close(resume)
	stopFenced(t, zombie, zstop, "the zombie's table commits")
	l.assertTableExactlyOnce(t, ticks)
}

// TestIcebergSinkDeadLetters mixes malformed records and far-future ticks
// into the topic: they go to the dead-letter topic, the table holds every
// good tick once, and its offsets still account for every record.
func TestIcebergSinkDeadLetters(t *testing.T) {
	kc := newCluster(t, "ticks")
	ticks := dayCrossingTicks(600, "a")
	var keys, values [][]byte
	bad := 0
	for i, tk := range ticks {
		keys, values = append(keys, []byte(tk.Symbol)), append(values, tk.AppendJSON(nil))
		if i%50 == 0 {
			future := tk
			future.Time = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
			keys, values = append(keys, []byte(tk.Symbol), []byte(tk.Symbol)), append(values, []byte(`{"symbol":`), future.AppendJSON(nil))
			bad += 2
		}
	}
	produceValues(t, kc, "ticks", keys, values)
	l := newIceLake(t)
	s, err := runSinkWith(t, iceConfig(Config{Kafka: kc, ExitWhenIdle: true}, l), nil, never)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().DeadLetters.Load(); got != int64(bad) {
		t.Errorf("dead letters = %d, want %d", got, bad)
	}
	l.assertTableExactlyOnce(t, ticks)
	if offs, sum := tableOffsets(t, l.open(t)); sum != int64(len(values)) {
		t.Errorf("table offsets %v sum to %d, want every record: %d", offs, sum, len(values))
	}
}
