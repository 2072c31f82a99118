package icebergrest_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/icebergrest"
	"github.com/stocklake/stocklake/sink"
)

// testToken is a bearer token long enough for the dashboard's rules.
const testToken = "icerest-test-token-0123456789abcdef"

// fixture is an embedded Iceberg catalog with the table market.ticks,
// written by the sink's commit code: day 2026-11-26 (1,000 ticks, one
// commit) and 2026-11-27 (700 then 300 ticks, two commits), 2,000 rows,
// and an empty table other.empty.
type fixture struct {
	dir     string
	cat     *iceberg.Catalog
	tbl     *iceberg.Table
	store   stocklake.ObjectStore // where data files go; nil: files
	rows    int
	sumSize float64
}

func newFixture(t *testing.T, warehouse string) *fixture {
	t.Helper()
	return newLakeFixture(t, iceberg.Config{Warehouse: warehouse}, nil)
}

// newLakeFixture is newFixture on the warehouse of cfg (a file:// one in a
// temp dir when empty), putting the data files into store (written as
// files when nil).
func newLakeFixture(t *testing.T, cfg iceberg.Config, store stocklake.ObjectStore) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if cfg.Warehouse == "" {
		cfg.Warehouse = "file://" + filepath.Join(dir, "lake")
	}
	cfg.SQLitePath = filepath.Join(dir, "catalog.db")
	cat, err := iceberg.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	tbl, err := cat.CreateTickTable(ctx, "market", "ticks", iceberg.TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cat.CreateTickTable(ctx, "other", "empty", iceberg.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, cat: cat, tbl: tbl, store: store}
	a, b, c := ticks(1000, 0, "a"), ticks(700, 1, "b"), ticks(300, 1, "c")
	f.commit(t, []stocklake.OffsetRange{{TopicPartition: stocklake.TopicPartition{TopicID: "T", Partition: 0}, Start: 0, End: 1000},
		{TopicPartition: stocklake.TopicPartition{TopicID: "T", Partition: 1}, Start: 0, End: 700}}, a, b)
	f.commit(t, []stocklake.OffsetRange{{TopicPartition: stocklake.TopicPartition{TopicID: "T", Partition: 1}, Start: 700, End: 1000}}, c)
	return f
}

// commit writes each batch of ticks (one partition each) as a Parquet file
// the way the sink does and commits them with ranges.
func (f *fixture) commit(t *testing.T, ranges []stocklake.OffsetRange, batches ...[]stocklake.Tick) {
	t.Helper()
	var files []stocklake.LakeFile
	for i, b := range batches {
		name := fmt.Sprintf("ticks+T+%d+%d.parquet", ranges[0].Partition, ranges[0].Start+int64(i))
		url := f.tbl.DataFileURL(&b[0], name)
		if f.store != nil {
			key, ok := f.tbl.DataFileKey(&b[0], name)
			if !ok {
				t.Fatalf("data file %s is outside the lake", url)
			}
			if err := f.store.Put(context.Background(), key, bytes.NewReader(encodeTicks(t, b))); err != nil {
				t.Fatal(err)
			}
		} else {
			path, ok := strings.CutPrefix(url, "file://")
			if !ok {
				t.Fatalf("data file %s is not on file://", url)
			}
			writeFile(t, path, encodeTicks(t, b))
		}
		files = append(files, stocklake.LakeFile{URL: url})
		for _, tk := range b {
			f.rows++
			f.sumSize += tk.Size
		}
	}
	if _, err := f.tbl.Commit(context.Background(), files, ranges); err != nil {
		t.Fatal(err)
	}
}

// ticks makes n ticks on one UTC day (day 0 = 2026-11-26).
func ticks(n, day int, prefix string) []stocklake.Tick {
	base := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC).AddDate(0, 0, day)
	out := make([]stocklake.Tick, n)
	for i := range out {
		out[i] = stocklake.Tick{Symbol: []string{"AAPL", "BRK.B", "Ünï\"'"}[i%3],
			Time:  base.Add(time.Duration(i) * (24 * time.Hour / time.Duration(n+1))),
			Price: 100 + float64(i)/8, Size: float64(i%7 + 1), Exchange: "XNAS",
			TradeID: fmt.Sprintf("%s-%d", prefix, i), Conditions: []string{"@"}, Source: "test"}
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
	for _, tk := range ts {
		row := sink.TickRow{Symbol: tk.Symbol, TS: tk.Time.UnixMicro(), Price: tk.Price, Size: tk.Size,
			Exchange: tk.Exchange, TradeID: tk.TradeID, Conditions: tk.Conditions, Source: tk.Source}
		if _, err := w.Write([]sink.TickRow{row}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// serve serves the catalog's REST API under /iceberg on a test server and
// returns the catalog URI.
func serve(t *testing.T, cfg icebergrest.Config) string {
	t.Helper()
	srv, err := icebergrest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/iceberg/", http.StripPrefix("/iceberg", srv))
	return serveMux(t, mux) + "/iceberg"
}

// serveMux serves h on a test server closed with the test and returns its
// URL.
func serveMux(t *testing.T, h http.Handler) string {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
