package sink_test

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/crawler"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/sink"
)

// readCounter is a lake store that counts the objects read through it.
type readCounter struct {
	stocklake.ObjectStore
	reads atomic.Int64
}

func (s *readCounter) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	s.reads.Add(1)
	return s.ObjectStore.Get(ctx, key)
}

func (s *readCounter) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	s.reads.Add(1)
	return s.ObjectStore.GetRange(ctx, key, off, n)
}

// TestRegistrarUsesSinkSchema: the first partition of a new table creates
// the table from the columns the sink wrote, without reading the object
// back, and the table is the one a crawl of the lake defines (columns,
// partition keys, formats, SerDe, parameters, location), for tick objects
// and for JSON objects landed as Parquet.
func TestRegistrarUsesSinkSchema(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc, lake := newLake(t, "ticks", "events")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	tick := stocklake.Tick{Symbol: "AAPL", Time: at, Price: 189.5, Size: 3, Exchange: "X", TradeID: "t1", Conditions: []string{"@"}, Source: "test"}
	cases := []struct {
		topic  string
		schema string
		value  []byte
	}{
		{"ticks", sink.SchemaTick, tick.AppendJSON(nil)},
		{"events", sink.SchemaJSON, []byte(`{"id":7,"ok":true,"score":1.5,"name":"n","nested":{"a":1},"none":null,"ts":` +
			strconv.FormatInt(at.Unix(), 10) + `}`)},
	}
	for _, c := range cases {
		t.Run(c.topic, func(t *testing.T) {
			store := &readCounter{ObjectStore: lake}
			sinkCat := memCatalog(t)
			reg, err := crawler.NewRegistrar(store, sinkCat, "stocklake")
			if err != nil {
				t.Fatal(err)
			}
			p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: c.topic})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Produce(ctx, stocklake.Record{Key: []byte("k"), Value: c.value, Timestamp: at}); err != nil {
				t.Fatal(err)
			}
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			snk, err := sink.New(sink.Config{Kafka: kc, Topic: c.topic, Store: lake, Schema: c.schema, TimeField: "ts", Registrar: reg,
				FlushInterval: 50 * time.Millisecond, ExitWhenIdle: true, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			if err := snk.Run(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := sinkCat.GetTable(ctx, "stocklake", c.topic)
			if err != nil {
				t.Fatalf("table registered by the sink: %v", err)
			}
			if n := store.reads.Load(); n != 0 {
				t.Errorf("the registrar read %d objects back from the lake, want none", n)
			}
			ps, err := sinkCat.ListPartitions(ctx, "stocklake", c.topic)
			if err != nil || len(ps) != 1 {
				t.Fatalf("partitions registered by the sink: %v, %v; want 1", ps, err)
			}

			crawlCat := memCatalog(t)
			cr, err := crawler.New(lake, crawlCat, crawler.Config{Database: "stocklake", Prefix: c.topic + "/", TableLevel: 1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cr.Run(ctx); err != nil {
				t.Fatal(err)
			}
			want, err := crawlCat.GetTable(ctx, "stocklake", c.topic)
			if err != nil {
				t.Fatalf("crawled table: %v", err)
			}
			got.CreateTime, want.CreateTime = time.Time{}, time.Time{}
			got.UpdateTime, want.UpdateTime = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("table registered by the sink differs from the crawled one:\n got %+v\nwant %+v", got, want)
			}
			if len(got.Columns) < 2 {
				t.Errorf("registered columns %v, want the object's", got.Columns)
			}
			wps, err := crawlCat.ListPartitions(ctx, "stocklake", c.topic)
			if err != nil || len(wps) != 1 || !reflect.DeepEqual(wps[0].Values, ps[0].Values) || wps[0].Location != ps[0].Location {
				t.Errorf("crawled partitions %v (%v), want the registered %v", wps, err, ps)
			}
		})
	}
}

// TestRegistrarProjection: with Projection the sink's first partition
// creates a table with Athena partition projection properties, the dates
// from that partition's day, and no partition is registered; the table is
// the one `crawl --projection` defines.
func TestRegistrarProjection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc, lake := newLake(t, "proj")
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: "proj"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		tk := stocklake.Tick{Symbol: "AAPL", Time: at.Add(time.Duration(i) * time.Hour), Price: 1, Size: 1, Exchange: "X", TradeID: strconv.Itoa(i), Source: "test"}
		if err := p.Produce(ctx, stocklake.Record{Key: []byte("k"), Value: tk.AppendJSON(nil)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	sinkCat := memCatalog(t)
	reg, err := crawler.NewRegistrar(lake, sinkCat, "stocklake")
	if err != nil {
		t.Fatal(err)
	}
	reg.Projection = true
	snk, err := sink.New(sink.Config{Kafka: kc, Topic: "proj", Store: lake, Registrar: reg, MaxRows: 1,
		FlushInterval: 50 * time.Millisecond, ExitWhenIdle: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := snk.Run(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := sinkCat.GetTable(ctx, "stocklake", "proj")
	if err != nil {
		t.Fatal(err)
	}
	if ps, err := sinkCat.ListPartitions(ctx, "stocklake", "proj"); err != nil || len(ps) != 0 {
		t.Fatalf("partitions registered for a projected table: %v, %v", ps, err)
	}
	if got.Parameters["projection.enabled"] != "true" || got.Parameters["projection.dt.range"] != "2026-11-24,NOW" ||
		got.Parameters["storage.location.template"] != got.Location+"dt=${dt}/hour=${hour}/" {
		t.Fatalf("table parameters %v", got.Parameters)
	}
	crawlCat := memCatalog(t)
	cr, err := crawler.New(lake, crawlCat, crawler.Config{Database: "stocklake", Prefix: "proj/", TableLevel: 1, Projection: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cr.Run(ctx); err != nil {
		t.Fatal(err)
	}
	want, err := crawlCat.GetTable(ctx, "stocklake", "proj")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Parameters, want.Parameters) {
		t.Errorf("sink's projected table parameters %v\ncrawl --projection's %v", got.Parameters, want.Parameters)
	}
	if ps, err := crawlCat.ListPartitions(ctx, "stocklake", "proj"); err != nil || len(ps) != 0 {
		t.Errorf("crawl --projection registered partitions: %v, %v", ps, err)
	}
}
