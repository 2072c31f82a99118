package analyze

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/crawler"
	"github.com/stocklake/stocklake/duckdb"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/sink"
	"github.com/stocklake/stocklake/source"
	"github.com/stocklake/stocklake/sqlite"
	"github.com/stocklake/stocklake/stream"
)

// candleSQL computes one-minute candles over the ticks table the way the
// stream engine defines bars (stream/doc.go): open and close by (ts,
// trade_id), compensated sums for volume and VWAP.
const candleSQL = `
SELECT symbol,
       make_timestamp(epoch_us(ts) // 60000000 * 60000000) AS start,
       arg_min(price, (ts, trade_id)) AS open,
       max(price) AS high,
       min(price) AS low,
       arg_max(price, (ts, trade_id)) AS close,
       fsum(size) AS volume,
       CASE WHEN sum(size) > 0 THEN fsum(price * size) / fsum(size) ELSE arg_max(price, (ts, trade_id)) END AS vwap,
       count(*) AS trades,
       min(ts) AS first_time,
       max(ts) AS last_time
FROM ticks GROUP BY ALL`

// TestBarsEqualSQLCandlesOverTheLake lands a deterministic simulator run
// with out-of-order ticks (within the delay) in a lake with the real sink,
// crawls it, computes candles with SQL on DuckDB, and checks that they equal
// the stream engine's final bars over the same ticks, field for field:
// exactly, except VWAP, which agrees to 1e-14 relative.
func TestBarsEqualSQLCandlesOverTheLake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc := newCluster(t)
	const n = 20_000
	sim, err := source.NewSimulator(source.SimulatorConfig{Count: n, Seed: 11, Symbols: 10, OutOfOrderFraction: 0.05, OutOfOrderMax: time.Second,
		TickInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Run(ctx, func(r stocklake.Record) error { return p.Produce(ctx, r) }); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// Land the ticks with the sink, as in production.
	dir := t.TempDir()
	store, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	snk, err := sink.New(sink.Config{Kafka: kc, Topic: "ticks", Store: store, FlushInterval: 100 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- snk.Run(sctx) }()
	for snk.Stats().Records.Load() < n && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cat, err := sqlite.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	c, err := crawler.New(store, cat, crawler.Config{Database: "stocklake"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	eng, err := duckdb.New(ctx, duckdb.Config{Catalog: cat, Store: store, Database: "stocklake", CacheDir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	rows, err := eng.Query(ctx, candleSQL)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		sym   string
		start int64
	}
	sqlBars := map[key][]any{}
	for rows.Next() {
		v := append([]any(nil), rows.Values()...)
		sqlBars[key{v[0].(string), v[1].(time.Time).UnixMicro()}] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()

	// The stream engine over the same ticks: one engine per partition, as
	// the analyzer runs it (a symbol lives in one partition).
	recs, err := kafka.ReadCommitted(ctx, kc, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	engines := map[int32]*stream.Engine{}
	var out stream.Output
	for _, r := range recs {
		tk, err := stocklake.ParseTick(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		e := engines[r.Partition]
		if e == nil {
			if e, err = stream.New(stream.Config{Windows: []time.Duration{time.Minute}, Delay: 2 * time.Second}); err != nil {
				t.Fatal(err)
			}
			engines[r.Partition] = e
		}
		if err := e.Process(r.Partition, &tk, &out); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range engines {
		e.AdvanceTo(time.Now().Add(24*time.Hour*365), &out)
	}
	if len(out.Late) != 0 {
		t.Fatalf("%d ticks were late although out-of-order ticks stay within the delay", len(out.Late))
	}
	finals := 0
	for _, b := range out.Bars {
		if !b.Final {
			continue
		}
		finals++
		v, ok := sqlBars[key{b.Symbol, b.Start.UnixMicro()}]
		if !ok {
			t.Fatalf("bar %s %v has no SQL candle", b.Symbol, b.Start)
		}
		got := []any{b.Open, b.High, b.Low, b.Close, b.Volume, b.VWAP, b.Trades, b.FirstTime.UnixMicro(), b.LastTime.UnixMicro()}
		want := []any{v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9].(time.Time).UnixMicro(), v[10].(time.Time).UnixMicro()}
		for i := range got {
			if i == 5 {
				// VWAP: the engine sums exact price*size products, SQL sums
				// products rounded to double; they agree to a few ulps.
				g, w := got[i].(float64), want[i].(float64)
				if math.Abs(g-w) > 1e-14*math.Abs(w) {
					t.Fatalf("bar %s %v vwap: engine %v, SQL %v", b.Symbol, b.Start, g, w)
				}
				continue
			}
			if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
				t.Fatalf("bar %s %v field %d: engine %v, SQL %v", b.Symbol, b.Start, i, got[i], want[i])
			}
		}
	}
	if finals != len(sqlBars) || finals < 30 {
		t.Fatalf("engine made %d final bars, SQL %d candles", finals, len(sqlBars))
	}
	t.Logf("%d bars from %d ticks equal the SQL candles over the lake", finals, n)
}
