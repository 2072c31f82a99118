package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/kafka"
)

// lazy opens the lake's table lazily, as `stocklake sink --table-format
// iceberg` does, through a catalog handle of its own (another process).
func (l iceLake) lazy(t *testing.T, name string) *iceberg.LazyTable {
	t.Helper()
	cat, err := iceberg.Open(context.Background(), iceberg.Config{SQLitePath: l.dbPath, Warehouse: l.store.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	lt, err := cat.LazyTable("market", name)
	if err != nil {
		t.Fatal(err)
	}
	return lt
}

// shape opens the lake's table name and returns it and its shape, and its
// column types by name.
func (l iceLake) shape(t *testing.T, name string) (*iceberg.Table, stocklake.TableShape, map[string]string) {
	t.Helper()
	tbl, err := l.lazy(t, name).Table(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	shape, err := tbl.Shape()
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, c := range shape.Columns {
		types[c.Name] = c.Type
	}
	return tbl, shape, types
}

// newJSONLake is a file:// lake with a catalog but no table yet.
func newJSONLake(t *testing.T) iceLake {
	t.Helper()
	l := newIceLake(t) // creates market.ticks, which the JSON tests do not use
	return l
}

// orderJSON is an order event: a JSON object that is no tick, with its
// event time in "event_time" (RFC 3339 text), crossing midnight.
func orderJSON(prefix string, i int) []byte {
	at := time.Date(2026, 11, 26, 23, 59, 50, 0, time.UTC).Add(time.Duration(i) * 25 * time.Millisecond)
	note := `null`
	if i%3 == 0 {
		note = `"rush"`
	}
	return fmt.Appendf(nil, `{"order_id":"%s%d","event_time":%q,"qty":%d,"price":%d.25,"filled":%t,"venue":{"mic":"XNAS","lane":%d},"note":%s}`,
		prefix, i, at.Format(time.RFC3339Nano), i%7+1, 100+i%50, i%2 == 0, i%4, note)
}

func produceOrders(t *testing.T, kc kafka.Config, topic, prefix string, from, n int) {
	t.Helper()
	var keys, values [][]byte
	for i := from; i < from+n; i++ {
		keys, values = append(keys, []byte(prefix)), append(values, orderJSON(prefix, i))
	}
	produceValues(t, kc, topic, keys, values)
}

func jsonIceConfig(kc Config, l iceLake, t *testing.T) Config {
	kc.Topic, kc.Store, kc.Committer = "orders", l.store, l.lazy(t, "orders")
	if kc.MaxRows == 0 {
		kc.MaxRows = 150
	}
	if kc.FlushInterval == 0 {
		kc.FlushInterval = 20 * time.Millisecond
	}
	return kc
}

// landJSON runs a sink of the orders topic into the JSON table until it
// is idle (jsonIceConfig); it must not fail.
func (l iceLake) landJSON(t *testing.T, kc kafka.Config) *Sink {
	t.Helper()
	s, err := runSinkWith(t, jsonIceConfig(Config{Kafka: kc, ExitWhenIdle: true}, l, t), nil, never)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertOrdersOnce checks that the orders table holds each of ids exactly
// once and nothing else.
func assertOrdersOnce(t *testing.T, l iceLake, ids []string) {
	t.Helper()
	tbl, err := l.lazy(t, "orders").Table(context.Background())
	if err != nil || tbl == nil {
		t.Fatalf("orders table: %v, %v", tbl, err)
	}
	keys, err := tbl.KeyCounts(context.Background(), "order_id")
	if err != nil {
		t.Fatal(err)
	}
	assertKeysOnce(t, "order", keys, ids)
}

func orderIDs(prefix string, from, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = prefix + fmt.Sprint(from+i)
	}
	return ids
}

// TestIcebergSinkLandsJSONTopic lands a topic of JSON objects that are no
// ticks (--schema auto, the default) in a new Iceberg table: the table is
// created from the records, with their inferred types and day(event_time)
// partitioning, and holds every record once. (The sink used to send them
// all to the dead-letter topic.)
func TestIcebergSinkLandsJSONTopic(t *testing.T) {
	kc := newCluster(t, "orders")
	produceOrders(t, kc, "orders", "o", 0, 900)
	l := newJSONLake(t)
	s := l.landJSON(t, kc)
	if got := s.Stats().DeadLetters.Load(); got != 0 {
		t.Errorf("dead letters = %d, want none", got)
	}
	assertOrdersOnce(t, l, orderIDs("o", 0, 900))
	tbl, shape, _ := l.shape(t, "orders")
	want := "event_time:timestamp filled:boolean note:string order_id:string price:double qty:bigint venue:string"
	var got []string
	for _, c := range shape.Columns {
		got = append(got, c.Name+":"+c.Type)
	}
	if strings.Join(got, " ") != want || shape.Schema != "json" || shape.TimeField != "event_time" {
		t.Errorf("table shape %+v: want json, time field event_time, columns %s", shape, want)
	}
	if p := tbl.Partitioning(); p != "day(event_time)" {
		t.Errorf("partitioning %s, want day(event_time)", p)
	}
	// Typed values: a nested object is kept as JSON text, a null as null.
	keys, err := tbl.KeyCounts(context.Background(), "order_id", "qty", "price", "filled", "venue", "note")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"o3\x004\x00103.25\x00false\x00{\"lane\":3,\"mic\":\"XNAS\"}\x00rush", "o4\x005\x00104.25\x00true\x00{\"lane\":0,\"mic\":\"XNAS\"}\x00(null)"} {
		if keys[k] != 1 {
			t.Errorf("row %q: %d times, want 1", k, keys[k])
		}
	}
	if offs, sum := tableOffsets(t, tbl); sum != 900 {
		t.Errorf("table offsets %v sum to %d, want 900", offs, sum)
	}
	// Two day partitions: files of 2026-11-26 and of 2026-11-27.
	files, err := l.store.List(context.Background(), "market.db/orders/data/")
	if err != nil {
		t.Fatal(err)
	}
	days := map[string]bool{}
	for _, f := range files {
		days[strings.Split(strings.TrimPrefix(f.Key, "market.db/orders/data/"), "/")[0]] = true
	}
	if !days["event_time_day=2026-11-26"] || !days["event_time_day=2026-11-27"] || len(days) != 2 {
		t.Errorf("data folders %v: want event_time_day=2026-11-26 and 2026-11-27", days)
	}
}

// TestIcebergSinkJSONMisfitsAreDeadLettered lands records into a JSON
// table whose columns are decided: a record with a field the table has
// not, or a value its column cannot hold, goes to the dead-letter topic
// with the reason; an integer in a double column and a null fit.
func TestIcebergSinkJSONMisfitsAreDeadLettered(t *testing.T) {
	kc := newCluster(t, "orders")
	produceOrders(t, kc, "orders", "o", 0, 300)
	l := newJSONLake(t)
	l.landJSON(t, kc)
	misfits := [][]byte{
		[]byte(`{"order_id":"bad1","event_time":"2026-11-27T10:00:00Z","qty":"seven","surprise":true}`),
		[]byte(`{"order_id":"bad2","event_time":"2026-11-27T10:00:00Z","price":1.5,"filled":3}`),
	}
	fits := [][]byte{
		[]byte(`{"order_id":"ok1","event_time":"2026-11-27T10:00:00Z","price":7}`),
		[]byte(`{"order_id":"ok2","event_time":1795000000000,"qty":null,"note":12}`),
	}
	produceValues(t, kc, "orders", [][]byte{{'k'}, {'k'}, {'k'}, {'k'}}, append(append([][]byte{}, misfits...), fits...))
	s := l.landJSON(t, kc)
	if got := s.Stats().DeadLetters.Load(); got != 2 {
		t.Errorf("dead letters = %d, want 2", got)
	}
	assertOrdersOnce(t, l, append(orderIDs("o", 0, 300), "ok1", "ok2"))
	dlq := readDLQ(t, kc, stocklake.DeadLetterTopic("orders"))
	reasons := map[string]string{}
	for _, r := range dlq {
		reasons[string(r.Value)] = header(r, stocklake.HeaderError)
	}
	if len(dlq) != 2 || !strings.Contains(reasons[string(misfits[0])], `field "qty" holds a string, but the table's column is bigint`) ||
		!strings.Contains(reasons[string(misfits[1])], `field "filled" holds a bigint, but the table's column is boolean`) {
		t.Errorf("dead letters %v: want the two misfits with their reasons", reasons)
	}
	if _, ok := s.iceKinds["surprise"]; ok {
		t.Error("a dead-lettered record's new field became a column")
	}
}

// TestIcebergSinkJSONWidensToNewFields: records that bring fields the
// table does not have, after the table was created, widen it (the Hive
// path's files and catalog table take new fields too): a field of each
// kind, a nested object appearing late (JSON text), a field whose name
// differs from a column only in case (a column of its own), names with
// dots and spaces, and a field that is a number in one record and text in
// another (text). Older rows read null in the new columns; a record whose
// value does not fit an existing column still goes to the dead-letter
// topic. A later sink follows the widened table.
func TestIcebergSinkJSONWidensToNewFields(t *testing.T) {
	kc := newCluster(t, "orders")
	produceOrders(t, kc, "orders", "o", 0, 300)
	l := newJSONLake(t)
	l.landJSON(t, kc)
	late := [][]byte{
		[]byte(`{"order_id":"w1","event_time":"2026-11-27T10:00:00Z","qty":2,"surprise":true}`),
		[]byte(`{"order_id":"w2","event_time":"2026-11-27T10:00:01Z","Qty":"two lots"}`),
		[]byte(`{"order_id":"w3","event_time":"2026-11-27T10:00:02Z","a.b c":1.5,"meta":{"k":[1,2],"q":"\"x\""}}`),
		[]byte(`{"order_id":"w4","event_time":"2026-11-27T10:00:03Z","mixed":1,"big":9007199254740993}`),
		[]byte(`{"order_id":"w5","event_time":"2026-11-27T10:00:04Z","mixed":"one"}`),
		[]byte(`{"order_id":"bad","event_time":"2026-11-27T10:00:05Z","qty":"seven","never":1}`),
	}
	keys := make([][]byte, len(late))
	for i := range keys {
		keys[i] = []byte("k")
	}
	produceValues(t, kc, "orders", keys, late)
	s := l.landJSON(t, kc)
	if got := s.Stats().DeadLetters.Load(); got != 1 {
		t.Errorf("dead letters = %d, want the record whose qty is text", got)
	}
	assertOrdersOnce(t, l, append(orderIDs("o", 0, 300), "w1", "w2", "w3", "w4", "w5"))
	tbl, shape, types := l.shape(t, "orders")
	want := map[string]string{"surprise": "boolean", "Qty": "string", "qty": "bigint", "a.b c": "double", "meta": "string", "mixed": "string", "big": "bigint"}
	for name, typ := range want {
		if types[name] != typ {
			t.Errorf("column %q is %q, want %q (columns %v)", name, types[name], typ, shape.Columns)
		}
	}
	if _, ok := types["never"]; ok {
		t.Error("the dead letter's new field became a column")
	}
	got, err := tbl.KeyCounts(context.Background(), "order_id", "qty", "surprise", "Qty", "a.b c", "meta", "mixed", "big")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{
		"o7\x001\x00(null)\x00(null)\x00(null)\x00(null)\x00(null)\x00(null)",
		"w1\x002\x00true\x00(null)\x00(null)\x00(null)\x00(null)\x00(null)",
		"w2\x00(null)\x00(null)\x00two lots\x00(null)\x00(null)\x00(null)\x00(null)",
		"w3\x00(null)\x00(null)\x00(null)\x001.5\x00{\"k\":[1,2],\"q\":\"\\\"x\\\"\"}\x00(null)\x00(null)",
		"w4\x00(null)\x00(null)\x00(null)\x00(null)\x00(null)\x001\x009007199254740993",
		"w5\x00(null)\x00(null)\x00(null)\x00(null)\x00(null)\x00one\x00(null)",
	} {
		if got[k] != 1 {
			t.Errorf("row %q not read back once; rows: %v", k, got)
			break
		}
	}
	// A later sink follows the widened table: the new columns take values.
	produceValues(t, kc, "orders", [][]byte{{'k'}}, [][]byte{[]byte(`{"order_id":"w6","event_time":"2026-11-27T11:00:00Z","surprise":false,"Qty":"x"}`)})
	s = l.landJSON(t, kc)
	if s.Stats().DeadLetters.Load() != 0 || s.iceKinds["surprise"] != kindBool {
		t.Errorf("the next sink dead-lettered %d records, kinds %v", s.Stats().DeadLetters.Load(), s.iceKinds)
	}
	assertOrdersOnce(t, l, append(orderIDs("o", 0, 300), "w1", "w2", "w3", "w4", "w5", "w6"))
}

// TestIcebergSinkJSONTwoSinksWiden runs two sinks (two catalog handles,
// as two processes) at once on two topics into one existing table, each
// bringing new fields of its own and one they share with other kinds
// ("lane": an integer in one, text in the other); the table ends up with
// the union of their columns, and "lane" of the kind of whichever widened
// first: the other sink's records with the other kind are dead letters.
func TestIcebergSinkJSONTwoSinksWiden(t *testing.T) {
	kc := newCluster(t, "orders", "orders2")
	produceOrders(t, kc, "orders", "o", 0, 100)
	l := newJSONLake(t)
	if _, err := runSinkWith(t, jsonIceConfig(Config{Kafka: kc, Group: "first", ExitWhenIdle: true}, l, t), nil, never); err != nil {
		t.Fatal(err)
	}
	var k1, v1, k2, v2 [][]byte
	for i := range 200 {
		k1, v1 = append(k1, []byte("k")), append(v1, fmt.Appendf(nil, `{"order_id":"x%d","event_time":"2026-11-27T10:00:00Z","x%d":%d,"lane":%d}`, i, i%10, i, i))
		k2, v2 = append(k2, []byte("k")), append(v2, fmt.Appendf(nil, `{"order_id":"y%d","event_time":"2026-11-27T10:00:00Z","y%d":"v","lane":"l%d"}`, i, i%10, i))
	}
	produceValues(t, kc, "orders", k1, v1)
	produceValues(t, kc, "orders2", k2, v2)
	second := jsonIceConfig(Config{Kafka: kc, Group: "second", ExitWhenIdle: true, MaxRows: 20}, l, t)
	second.Topic = "orders2"
	s2, done2, stop2 := startSink(t, second, nil)
	s1, err := runSinkWith(t, jsonIceConfig(Config{Kafka: kc, Group: "first", ExitWhenIdle: true, MaxRows: 20}, l, t), nil, never)
	if err != nil {
		t.Fatal(err)
	}
	awaitExit(t, done2, stop2, "second sink")
	_, shape, types := l.shape(t, "orders")
	for i := range 10 {
		if types[fmt.Sprint("x", i)] != "bigint" {
			t.Fatalf("columns %v: want x0..x9 bigint", shape.Columns)
		}
		// The text sink's fields are columns when its records landed
		// (lane text); when the integer sink widened lane first, every
		// record of the text sink is a dead letter (checked below) and
		// its fields may or may not have been added before it learnt so.
		if types["lane"] == "string" && types[fmt.Sprint("y", i)] != "string" {
			t.Fatalf("columns %v: want y0..y9 string", shape.Columns)
		}
	}
	ids := orderIDs("o", 0, 100)
	var dead int64
	switch types["lane"] {
	case "bigint":
		ids, dead = append(ids, orderIDs("x", 0, 200)...), s2.Stats().DeadLetters.Load()
	case "string": // the text sink widened first: integers fit text
		ids = append(append(ids, orderIDs("x", 0, 200)...), orderIDs("y", 0, 200)...)
	default:
		t.Fatalf("lane is %q", types["lane"])
	}
	if types["lane"] == "bigint" && dead != 200 {
		t.Errorf("second sink dead-lettered %d records, want its 200 with a text lane", dead)
	}
	if types["lane"] == "string" && s1.Stats().DeadLetters.Load()+s2.Stats().DeadLetters.Load() != 0 {
		t.Errorf("dead letters, want none (integers fit a text lane)")
	}
	assertOrdersOnce(t, l, ids)
}

// TestIcebergSinkJSONCrashLandsOnce crashes the sink between writing data
// files and committing them, at its first commit (the table was just
// created) and at a later one; the next run lands every record once.
func TestIcebergSinkJSONCrashLandsOnce(t *testing.T) {
	for _, at := range []int32{1, 3} {
		t.Run(fmt.Sprint("commit", at), func(t *testing.T) {
			kc := newCluster(t, "orders")
			produceOrders(t, kc, "orders", "o", 0, 900)
			l := newJSONLake(t)
			var calls atomic.Int32
			crash := errors.New("crash between the file writes and the table commit")
			_, err := runSinkWith(t, jsonIceConfig(Config{Kafka: kc, ExitWhenIdle: true}, l, t), func(s *Sink) {
				s.beforeTableCommit = func([]int32) error {
					if calls.Add(1) == at {
						return crash
					}
					return nil
				}
			}, never)
			if !errors.Is(err, crash) {
				t.Fatalf("first run: %v, want the injected crash", err)
			}
			l.landJSON(t, kc)
			assertOrdersOnce(t, l, orderIDs("o", 0, 900))
		})
	}
}

// TestIcebergSinkJSONTwoSinksAgreeOnTheSchema runs two sinks (two catalog
// handles, as two processes) on two topics into one table. Both start
// before the table exists and infer other columns from their first batch
// (qty is an integer in one topic, text in the other, which also has a
// field of its own); the first to create the table decides, and the other
// adopts its columns: its records that do not fit go to the dead-letter
// topic, the rest land.
func TestIcebergSinkJSONTwoSinksAgreeOnTheSchema(t *testing.T) {
	kc := newCluster(t, "orders", "orders2")
	produceOrders(t, kc, "orders", "o", 0, 300)
	var keys, values [][]byte
	for i := range 200 {
		v := fmt.Appendf(nil, `{"order_id":"p%d","event_time":"2026-11-26T12:00:00Z","qty":"%d lots","desk":"x"}`, i, i)
		if i%2 == 0 {
			v = fmt.Appendf(nil, `{"order_id":"p%d","event_time":"2026-11-26T12:00:00Z","price":%d}`, i, i)
		}
		keys, values = append(keys, []byte("k")), append(values, v)
	}
	produceValues(t, kc, "orders2", keys, values)
	l := newJSONLake(t)
	waiting, release := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	second := jsonIceConfig(Config{Kafka: kc, Group: "second", ExitWhenIdle: true}, l, t)
	second.Topic = "orders2"
	s2, done2, stop2 := startSink(t, second, func(s *Sink) {
		s.beforeDecide = func() {
			if once.CompareAndSwap(false, true) {
				close(waiting)
				<-release
			}
		}
	})
	select {
	case <-waiting:
	case <-done2:
		t.Fatalf("second sink stopped before deciding: %v", stop2())
	case <-time.After(30 * time.Second):
		t.Fatal("second sink never flushed")
	}
	// The first sink creates the table while the second one is about to.
	s1, err := runSinkWith(t, jsonIceConfig(Config{Kafka: kc, Group: "first", ExitWhenIdle: true}, l, t), nil, never)
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	awaitExit(t, done2, stop2, "second sink")
	if fmt.Sprint(s1.iceKinds) != fmt.Sprint(s2.iceKinds) || s2.iceKinds["qty"] != kindInt {
		t.Errorf("the sinks decided other columns: first %v, second %v", s1.iceKinds, s2.iceKinds)
	}
	if got := s2.Stats().DeadLetters.Load(); got != 100 {
		t.Errorf("second sink dead-lettered %d records, want the 100 with a text qty", got)
	}
	ids := orderIDs("o", 0, 300)
	for i := 0; i < 200; i += 2 {
		ids = append(ids, fmt.Sprint("p", i))
	}
	assertOrdersOnce(t, l, ids)
}

// TestIcebergSinkJSONHostileFieldNames lands JSON objects whose field names
// are awkward for Iceberg, Parquet and SQL engines: dots, spaces, quotes,
// non-ASCII, names differing only in case, and the name of the partition
// field (event_time_day). A field named "" cannot be a column: records with
// it are dead-lettered.
func TestIcebergSinkJSONHostileFieldNames(t *testing.T) {
	kc := newCluster(t, "orders")
	var keys, values [][]byte
	for i := range 300 {
		v := fmt.Appendf(nil, `{"order_id":"h%d","event_time":"2026-11-26T12:00:%02dZ","a.b":%d,"sp ace":"x","qu\"ote":true,"ünï":1.5,"UPPER":"U","upper":%d,"event_time_day":"d","a/b":null}`, i, i%60, i, i)
		if i == 150 {
			v = []byte(`{"order_id":"empty","event_time":"2026-11-26T12:00:00Z","":1}`)
		}
		keys, values = append(keys, []byte("k")), append(values, v)
	}
	produceValues(t, kc, "orders", keys, values)
	l := newJSONLake(t)
	s, err := runSinkWith(t, jsonIceConfig(Config{Kafka: kc, ExitWhenIdle: true, MaxRows: 1000}, l, t), nil, never)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().DeadLetters.Load(); got != 1 {
		t.Errorf("dead letters = %d, want the record with an empty field name", got)
	}
	var ids []string
	for i := range 300 {
		if i != 150 {
			ids = append(ids, fmt.Sprint("h", i))
		}
	}
	assertOrdersOnce(t, l, ids)
	tbl, err := l.lazy(t, "orders").Table(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, err := tbl.KeyCounts(context.Background(), "order_id", "a.b", "sp ace", "qu\"ote", "ünï", "UPPER", "upper", "event_time_day")
	if err != nil {
		t.Fatal(err)
	}
	if k := "h7\x007\x00x\x00true\x001.5\x00U\x007\x00d"; got[k] != 1 {
		t.Errorf("row h7 not read back as written: %v", got)
	}
}

// TestIcebergSinkJSONWithoutTimeField lands JSON objects that have no
// event-time field: the Kafka timestamp is the event time and the table is
// not partitioned.
func TestIcebergSinkJSONWithoutTimeField(t *testing.T) {
	kc := newCluster(t, "orders")
	var keys, values [][]byte
	for i := range 400 {
		keys, values = append(keys, []byte("k")), append(values, fmt.Appendf(nil, `{"order_id":"n%d","qty":%d}`, i, i))
	}
	produceValues(t, kc, "orders", keys, values)
	l := newJSONLake(t)
	l.landJSON(t, kc)
	assertOrdersOnce(t, l, orderIDs("n", 0, 400))
	tbl, shape, _ := l.shape(t, "orders")
	if p := tbl.Partitioning(); p != "none" || shape.TimeField != "" || len(shape.Columns) != 2 {
		t.Errorf("table partitioned by %s, shape %+v: want none, no time field, order_id and qty", p, shape)
	}
}

// TestIcebergSinkJSONExplicitSchema lands a JSON topic with --schema json
// and --time-field (once refused in Iceberg mode); a later sink whose
// settings contradict the table's shape is refused with a config error.
func TestIcebergSinkJSONExplicitSchema(t *testing.T) {
	kc := newCluster(t, "orders")
	produceOrders(t, kc, "orders", "o", 0, 200)
	l := newJSONLake(t)
	if _, err := runSinkWith(t, jsonIceConfig(Config{Kafka: kc, ExitWhenIdle: true, Schema: SchemaJSON, TimeField: "event_time"}, l, t), nil, never); err != nil {
		t.Fatal(err)
	}
	assertOrdersOnce(t, l, orderIDs("o", 0, 200))
	for _, cfg := range []Config{{Schema: SchemaTick}, {Schema: SchemaJSON, TimeField: "qty"}} {
		cfg.Kafka, cfg.ExitWhenIdle = kc, true
		_, err := runSinkWith(t, jsonIceConfig(cfg, l, t), nil, never)
		if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), `table "orders"`) {
			t.Errorf("schema %s, time field %q: %v, want a config error naming the table's shape", cfg.Schema, cfg.TimeField, err)
		}
	}
}

// TestIcebergSinkJSONNoColumnsYet: before the table exists, a batch whose
// objects have no field that can be a column ({} or only "") decides
// nothing: its records are dead-lettered, and the first commit, once
// records with fields arrive, accounts for their offsets too.
func TestIcebergSinkJSONNoColumnsYet(t *testing.T) {
	kc := newCluster(t, "orders")
	var keys, values [][]byte
	for i := range 6 {
		keys, values = append(keys, []byte("k")), append(values, []byte([]string{`{}`, `{"":1}`}[i%2]))
	}
	produceValues(t, kc, "orders", keys, values)
	l := newJSONLake(t)
	l.landJSON(t, kc)
	if tbl, err := l.lazy(t, "orders").Table(context.Background()); err != nil || tbl != nil {
		t.Fatalf("table %v (%v) after records without fields: want none yet", tbl, err)
	}
	if dlq := readDLQ(t, kc, stocklake.DeadLetterTopic("orders")); len(dlq) != 6 || !strings.Contains(header(dlq[0], stocklake.HeaderError), "no field that can be a column") {
		t.Fatalf("%d dead letters, want the 6 records with their reason", len(dlq))
	}
	keys, values = nil, nil
	for i := range 30 {
		keys, values = append(keys, []byte("k")), append(values, fmt.Appendf(nil, `{"order_id":"n%d"}`, i))
	}
	produceValues(t, kc, "orders", keys, values)
	l.landJSON(t, kc)
	assertOrdersOnce(t, l, orderIDs("n", 0, 30))
	tbl, err := l.lazy(t, "orders").Table(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if offs, sum := tableOffsets(t, tbl); sum != 36 {
		t.Errorf("table offsets %v sum to %d, want every record: 36", offs, sum)
	}
	if dlq := readDLQ(t, kc, stocklake.DeadLetterTopic("orders")); len(dlq) != 6 {
		t.Errorf("%d dead letters after the second run, want still 6", len(dlq))
	}
}
