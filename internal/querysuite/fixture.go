// Package querysuite is the engine-independent SQL suite: a fixture lake
// (ticks as the sink writes them, the seed's index prices as JSON lines
// and as the original CSV), crawled into a catalog, and the queries under
// testdata/queries with results computed in Go from the fixture data, never
// from an engine. Every stocklake.Engine (DuckDB, Trino, Athena) runs the
// same suite with Run.
package querysuite

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/crawler"
	"github.com/stocklake/stocklake/sink"
)

// Database is the catalog database the fixture is crawled into; the suite's
// queries name tables as market.ticks, market.prices, market.seed_csv.
const Database = "market"

// TopicID stands in for the Kafka topic ID in fixture object names.
const TopicID = "Ab3dFixtureTopic0000000"

// Price is one row of the seed's index prices (testdata/indexProcessed.csv).
type Price struct {
	Index                                 string
	Date                                  time.Time
	Open, High, Low, Close, AdjClose, Vol float64
	CloseUSD                              float64
}

// Fixture is a lake with its data, crawled into a catalog.
type Fixture struct {
	Store   stocklake.ObjectStore
	Catalog stocklake.Catalog
	Ticks   []stocklake.Tick
	Prices  []Price
}

// TickConfig shapes generated ticks.
type TickConfig struct {
	Symbols []string  // default AAPL, MSFT, NVDA
	Start   time.Time // first day, UTC midnight; default 2026-11-23
	Days    int       // default 3
	// PerHour is ticks per symbol per hour; default 300. Ticks fall in
	// 14:00-21:00 UTC (US trading hours), at distinct times per symbol.
	PerHour int
	Seed    uint64
}

func (c *TickConfig) defaults() {
	if len(c.Symbols) == 0 {
		c.Symbols = []string{"AAPL", "MSFT", "NVDA"}
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	}
	if c.Days <= 0 {
		c.Days = 3
	}
	if c.PerHour <= 0 {
		c.PerHour = 300
	}
}

// GenerateTicks calls emit for deterministic ticks in time order within each
// (day, hour), as a random walk per symbol. Prices have cent precision and
// sizes are whole shares.
func GenerateTicks(cfg TickConfig, emit func(hour time.Time, ticks []stocklake.Tick) error) error {
	cfg.defaults()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	price := make([]float64, len(cfg.Symbols))
	for i := range price {
		price[i] = 100 + 50*float64(i)
	}
	var seq int64
	buf := make([]stocklake.Tick, 0, cfg.PerHour*len(cfg.Symbols))
	step := time.Hour / time.Duration(cfg.PerHour)
	for d := range cfg.Days {
		for h := 14; h < 21; h++ {
			hour := cfg.Start.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour)
			buf = buf[:0]
			for k := range cfg.PerHour {
				for i, sym := range cfg.Symbols {
					price[i] = math.Max(1, price[i]*(1+rng.NormFloat64()*0.0005))
					at := hour.Add(time.Duration(k)*step + time.Duration(rng.Int64N(int64(step))))
					at = at.Truncate(time.Millisecond) // Trino's Hive connector reads milliseconds
					seq++
					buf = append(buf, stocklake.Tick{
						Symbol: sym, Time: at, Price: math.Round(price[i]*100) / 100,
						Size: float64(1 + rng.IntN(500)), Exchange: "XNAS",
						TradeID: strconv.FormatInt(seq, 10), Source: "fixture",
					})
				}
			}
			sort.SliceStable(buf, func(a, b int) bool { return buf[a].Time.Before(buf[b].Time) })
			if err := emit(hour, buf); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteTicks writes ticks for one hour as the sink does: one zstd Parquet
// file of sink.TickRow under ticks/dt=YYYY-MM-DD/hour=HH/, named from
// (fixture) Kafka coordinates.
func WriteTicks(ctx context.Context, store stocklake.ObjectStore, hour time.Time, ticks []stocklake.Tick, offset int64) error {
	rows := make([]sink.TickRow, len(ticks))
	for i, t := range ticks {
		rows[i] = sink.TickRow{Symbol: t.Symbol, TS: t.Time.UnixMicro(), Price: t.Price, Size: t.Size,
			Exchange: t.Exchange, TradeID: t.TradeID, Conditions: t.Conditions, Source: t.Source}
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[sink.TickRow](&buf, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(1_000_000))
	if _, err := w.Write(rows); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	key := sink.ObjectKey("ticks", hour.UTC().Format("dt=2006-01-02/hour=15"), TopicID, 0, offset, "parquet")
	return store.Put(ctx, key, &buf)
}

// ReadPrices reads the seed's CSV (Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD).
func ReadPrices(path string) ([]Price, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, err
	}
	var out []Price
	for _, r := range recs[1:] {
		if len(r) != 9 {
			return nil, fmt.Errorf("%s: row %v has %d fields", path, r, len(r))
		}
		d, err := time.Parse("2006-01-02", r[1])
		if err != nil {
			return nil, err
		}
		var n [7]float64
		for i := range n {
			if n[i], err = strconv.ParseFloat(r[2+i], 64); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
		out = append(out, Price{Index: r[0], Date: d, Open: n[0], High: n[1], Low: n[2], Close: n[3], AdjClose: n[4], Vol: n[5], CloseUSD: n[6]})
	}
	return out, nil
}

// WritePrices writes prices as the seed's flow lands them: JSON lines with
// the CSV's column names as keys, under prices/dt=<Date>/hour=00/ (the
// sink's JSON format, partitioned by event time).
func WritePrices(ctx context.Context, store stocklake.ObjectStore, prices []Price) error {
	byDay := map[time.Time][]Price{}
	var days []time.Time
	for _, p := range prices {
		if _, ok := byDay[p.Date]; !ok {
			days = append(days, p.Date)
		}
		byDay[p.Date] = append(byDay[p.Date], p)
	}
	sort.Slice(days, func(i, j int) bool { return days[i].Before(days[j]) })
	var offset int64
	for _, d := range days {
		var buf bytes.Buffer
		for _, p := range byDay[d] {
			num := func(f float64) string { b, _ := json.Marshal(f); return string(b) }
			fmt.Fprintf(&buf, `{"Index":%q,"Date":%q,"Open":%s,"High":%s,"Low":%s,"Close":%s,"Adj Close":%s,"Volume":%s,"CloseUSD":%s}`+"\n",
				p.Index, p.Date.Format("2006-01-02"), num(p.Open), num(p.High), num(p.Low), num(p.Close), num(p.AdjClose), num(p.Vol), num(p.CloseUSD))
		}
		key := sink.ObjectKey("prices", d.Format("dt=2006-01-02/hour=00"), TopicID, 0, offset, "json")
		offset += int64(len(byDay[d]))
		if err := store.Put(ctx, key, &buf); err != nil {
			return err
		}
	}
	return nil
}

// Build writes the fixture into store (ticks from cfg, the seed prices from
// csvPath as JSON lines and as the CSV file itself under seed_csv/) and
// crawls it into cat as database Database.
func Build(ctx context.Context, store stocklake.ObjectStore, cat stocklake.Catalog, cfg TickConfig, csvPath string) (*Fixture, error) {
	f := &Fixture{Store: store, Catalog: cat}
	var offset int64
	err := GenerateTicks(cfg, func(hour time.Time, ticks []stocklake.Tick) error {
		f.Ticks = append(f.Ticks, ticks...)
		err := WriteTicks(ctx, store, hour, ticks, offset)
		offset += int64(len(ticks))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("write ticks: %w", err)
	}
	if f.Prices, err = ReadPrices(csvPath); err != nil {
		return nil, err
	}
	if err := WritePrices(ctx, store, f.Prices); err != nil {
		return nil, fmt.Errorf("write prices: %w", err)
	}
	raw, err := os.ReadFile(csvPath)
	if err != nil {
		return nil, err
	}
	if err := store.Put(ctx, "seed_csv/indexProcessed.csv", bytes.NewReader(raw)); err != nil {
		return nil, err
	}
	c, err := crawler.New(store, cat, crawler.Config{Database: Database})
	if err != nil {
		return nil, err
	}
	run, err := c.Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("crawl: %w", err)
	}
	if len(run.TablesCreated) < 3 {
		return nil, fmt.Errorf("crawl created tables %v, want ticks, prices and seed_csv: %s", run.TablesCreated, run.Messages)
	}
	return f, nil
}
