package crawler

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/sqlite"
)

// lake is a file:// lake for tests; files are written straight to disk
// (no fsync) so large fixtures are quick to make.
type lake struct {
	t     testing.TB
	dir   string
	store *countingStore
}

func newLake(t testing.TB) *lake {
	t.Helper()
	dir := t.TempDir()
	s, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &lake{t: t, dir: dir, store: &countingStore{ObjectStore: s}}
}

func (l *lake) put(key string, data []byte) {
	l.t.Helper()
	p := filepath.Join(l.dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lake) remove(prefix string) {
	l.t.Helper()
	if err := os.RemoveAll(filepath.Join(l.dir, filepath.FromSlash(prefix))); err != nil {
		l.t.Fatal(err)
	}
}

// url is the location of a folder key in the lake.
func (l *lake) url(folder string) string { return l.store.URL() + "/" + folder }

// countingStore counts reads, to check that Parquet files are read by
// footer only and incremental crawls skip known folders.
type countingStore struct {
	stocklake.ObjectStore
	gets, ranges atomic.Int64
	rangeBytes   atomic.Int64
	mu           sync.Mutex
	keys         map[string]int
}

func (s *countingStore) touch(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string]int{}
	}
	s.keys[key]++
}

func (s *countingStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	s.gets.Add(1)
	s.touch(key)
	return s.ObjectStore.Get(ctx, key)
}

func (s *countingStore) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	s.ranges.Add(1)
	s.touch(key)
	b, err := s.ObjectStore.GetRange(ctx, key, off, n)
	s.rangeBytes.Add(int64(len(b)))
	return b, err
}

func (s *countingStore) reset() {
	s.gets.Store(0)
	s.ranges.Store(0)
	s.rangeBytes.Store(0)
	s.mu.Lock()
	s.keys = nil
	s.mu.Unlock()
}

func (s *countingStore) touched() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.keys {
		out[k] = v
	}
	return out
}

func newCatalog(t testing.TB) *sqlite.Catalog {
	t.Helper()
	c, err := sqlite.Open(filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// seedRecord is one object of the seed's consumer: a JSON document per S3
// object, with the columns of the stock-index data set.
func seedRecord(i int) []byte {
	indexes := []string{"NYA", "IXIC", "HSI", "000001.SS", "GSPTSE", "N225"}
	day := time.Date(1965, 12, 31, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i)
	price := 528.69 + float64(i%97)*1.25
	volume := "0.0"
	if i%3 == 1 {
		volume = fmt.Sprintf("%d.0", 1000+i)
	}
	return fmt.Appendf(nil, `{"Index":%q,"Date":%q,"Open":%.2f,"High":%.2f,"Low":%.2f,"Close":%.2f,"Adj Close":%.2f,"Volume":%s,"CloseUSD":%.2f}`,
		indexes[i%len(indexes)], day.Format("2006-01-02"), price, price+1.5, price-1.5, price+0.25, price+0.25, volume, price*0.9)
}

// tickRow is the Parquet schema of our lake's ticks.
type tickRow struct {
	Symbol     string    `parquet:"symbol"`
	TS         time.Time `parquet:"ts,timestamp(microsecond:utc)"`
	Price      float64   `parquet:"price"`
	Size       float64   `parquet:"size"`
	Exchange   string    `parquet:"exchange"`
	TradeID    string    `parquet:"trade_id"`
	Conditions []string  `parquet:"conditions,list"`
	Source     string    `parquet:"source"`
}

func tickParquet(t testing.TB, n int, start time.Time) []byte {
	t.Helper()
	rows := make([]tickRow, n)
	r := rand.New(rand.NewPCG(uint64(start.Unix()), 7))
	for i := range rows {
		rows[i] = tickRow{
			Symbol:     []string{"AAPL", "MSFT", "BTC-USD"}[i%3],
			TS:         start.Add(time.Duration(i) * time.Millisecond),
			Price:      100 + r.Float64()*10,
			Size:       float64(r.IntN(500)),
			Exchange:   "XNAS",
			TradeID:    fmt.Sprint(i),
			Conditions: []string{"@", "I"}[:i%3%2+1],
			Source:     "sim",
		}
	}
	var buf bytes.Buffer
	if err := parquet.Write(&buf, rows, parquet.Compression(&parquet.Zstd)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tickKey names an object the way the sink does.
func tickKey(day string, hour, partition int, offset int64) string {
	return fmt.Sprintf("ticks/dt=%s/hour=%02d/ticks+Zm9vYmFy+%d+%019d.parquet", day, hour, partition, offset)
}

func gzipped(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstded(t testing.TB, data []byte) []byte {
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll(data, nil)
}

func jsonLines(records ...string) []byte { return []byte(strings.Join(records, "\n") + "\n") }
