package iceberg

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/internal/gluefake"
	"github.com/stocklake/stocklake/sink"
)

// testLake is a catalog file and a file:// warehouse in a temp dir, or,
// with glue set, a catalog in an in-process Glue API and the warehouse.
type testLake struct {
	dir       string
	dbPath    string
	warehouse string
	glue      *gluefake.Server
}

func newTestLake(t *testing.T) testLake {
	t.Helper()
	dir := t.TempDir()
	return testLake{dir: dir, dbPath: filepath.Join(dir, "catalog.db"), warehouse: "file://" + filepath.Join(dir, "lake")}
}

// newGlueLake is a testLake whose catalog is a fake Glue API (which, like
// AWS Glue and unlike moto, refuses a stale UpdateTable VersionId).
func newGlueLake(t *testing.T) testLake {
	t.Helper()
	dir := t.TempDir()
	return testLake{dir: dir, warehouse: "file://" + filepath.Join(dir, "lake"), glue: gluefake.New(t)}
}

// eachCatalog runs f on a lake with each kind of catalog: sqlite, glue.
func eachCatalog(t *testing.T, f func(t *testing.T, lake testLake)) {
	t.Run("sqlite", func(t *testing.T) { f(t, newTestLake(t)) })
	t.Run("glue", func(t *testing.T) { f(t, newGlueLake(t)) })
}

// config is the Config that opens the lake's catalog.
func (l testLake) config() Config {
	if l.glue != nil {
		return Config{Warehouse: l.warehouse, Glue: &GlueConfig{Endpoint: l.glue.URL, Region: "us-east-1", AccessKey: "key", SecretKey: "secret", MaxRetries: -1}}
	}
	return Config{SQLitePath: l.dbPath, Warehouse: l.warehouse}
}

// open opens a catalog on the lake; each call is a separate database
// handle, like a separate process.
func (l testLake) open(t *testing.T) *Catalog {
	t.Helper()
	c, err := Open(context.Background(), l.config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// createTicks creates the tick table market.ticks with the default
// options, through a catalog of its own.
func (l testLake) createTicks(t *testing.T) *Table {
	t.Helper()
	tbl, err := l.open(t).CreateTickTable(context.Background(), "market", "ticks", TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// commitSmallFiles commits n files of 10 ticks of day 0 to tbl
// (ts_day=2026-11-26/PREFIXi.parquet, trade IDs PREFIXi-...), each in a
// snapshot of its own with offsets [10i, 10i+10) of T:0, and returns the
// files and their ticks.
func commitSmallFiles(t *testing.T, tbl *Table, prefix string, n int) ([]stocklake.LakeFile, []stocklake.Tick) {
	t.Helper()
	var files []stocklake.LakeFile
	var all []stocklake.Tick
	for i := range n {
		ts := ticks(10, 0, fmt.Sprint(prefix, i))
		all = append(all, ts...)
		f := writeTicks(t, tbl, fmt.Sprintf("ts_day=2026-11-26/%s%d.parquet", prefix, i), ts)
		files = append(files, f)
		if _, err := tbl.Commit(context.Background(), []stocklake.LakeFile{f}, []stocklake.OffsetRange{rng("T", 0, int64(i*10), int64(i*10+10))}); err != nil {
			t.Fatal(err)
		}
	}
	return files, all
}

// ticks makes n ticks on one UTC day (day 0 = 2026-11-26), trade IDs
// prefix-0 ... prefix-(n-1), spread over the day's hours.
func ticks(n, day int, prefix string) []stocklake.Tick {
	base := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC).AddDate(0, 0, day)
	out := make([]stocklake.Tick, n)
	syms := []string{"AAPL", "MSFT", "BRK.B", "Ünïcode\"'"}
	conds := [][]string{nil, {"@"}, {"@", "I"}}
	for i := range out {
		out[i] = stocklake.Tick{
			Symbol:     syms[i%len(syms)],
			Time:       base.Add(time.Duration(i) * (24 * time.Hour / time.Duration(n+1))).Add(123 * time.Microsecond),
			Price:      100 + float64(i)/8,
			Size:       float64(i%7 + 1),
			Exchange:   "XNAS",
			TradeID:    fmt.Sprintf("%s-%d", prefix, i),
			Conditions: conds[i%3],
			Source:     "test",
		}
	}
	return out
}

// encodeTicks encodes ticks as the sink does: sink.TickRow, zstd.
func encodeTicks(t *testing.T, ts []stocklake.Tick) []byte {
	t.Helper()
	codec, err := sink.ParseCodec("zstd")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[sink.TickRow](&buf, parquet.Compression(codec))
	rows := make([]sink.TickRow, len(ts))
	for i, tk := range ts {
		rows[i] = sink.TickRow{Symbol: tk.Symbol, TS: tk.Time.UnixMicro(), Price: tk.Price, Size: tk.Size,
			Exchange: tk.Exchange, TradeID: tk.TradeID, Conditions: tk.Conditions, Source: tk.Source}
	}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeTicks writes ticks as the sink does to a file under the table's
// data folder on a file:// lake and returns its URL.
func writeTicks(t *testing.T, tbl *Table, name string, ts []stocklake.Tick) stocklake.LakeFile {
	t.Helper()
	loc := tbl.Location()
	path := filepath.Join(strings.TrimPrefix(loc, "file://"), "data", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, encodeTicks(t, ts), 0o644); err != nil {
		t.Fatal(err)
	}
	return stocklake.LakeFile{URL: "file://" + path}
}

func rng(topic string, p int32, start, end int64) stocklake.OffsetRange {
	return stocklake.OffsetRange{TopicPartition: stocklake.TopicPartition{TopicID: topic, Partition: p}, Start: start, End: end}
}

func tp(topic string, p int32) stocklake.TopicPartition {
	return stocklake.TopicPartition{TopicID: topic, Partition: p}
}
