package main

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/kafka"
)

// runCommand runs a command line in this process and returns its error.
func runCommand(t *testing.T, args ...string) error {
	t.Helper()
	root := rootCommand()
	if err := root.Parse(interspersed(root, args)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return root.Run(ctx)
}

// TestSinkTableFormatIceberg runs `stocklake sink --table-format iceberg`
// twice over a kfake broker (more ticks between the runs) and reads the
// table with iceberg-go: every tick once, offsets in the table.
func TestSinkTableFormatIceberg(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "ticks"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	kc := kafka.Config{Brokers: cluster.ListenAddrs()}
	dir := t.TempDir()
	lakeDir, dbPath := filepath.Join(dir, "lake"), filepath.Join(dir, "catalog.db")
	args := []string{"sink", "--brokers", strings.Join(cluster.ListenAddrs(), ","), "--lake", "file://" + lakeDir,
		"--catalog", "sqlite://" + dbPath, "--table-format", "iceberg", "--exit-when-idle", "--flush-interval", "100ms", "--max-rows", "300"}
	produce := func(prefix string, n int) []stocklake.Tick {
		p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: "ticks"})
		if err != nil {
			t.Fatal(err)
		}
		base := time.Date(2026, 11, 26, 23, 59, 0, 0, time.UTC)
		out := make([]stocklake.Tick, n)
		for i := range out {
			out[i] = stocklake.Tick{Symbol: []string{"AAPL", "MSFT", "NVDA", "TSLA"}[i%4], Time: base.Add(time.Duration(i) * 100 * time.Millisecond),
				Price: 100 + float64(i%10), Size: 1, Exchange: "XNAS", TradeID: prefix + strconv.Itoa(i), Source: "test"}
			if err := p.Produce(context.Background(), stocklake.Record{Key: []byte(out[i].Symbol), Value: out[i].AppendJSON(nil)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := produce("a", 1000)
	if err := runCommand(t, args...); err != nil {
		t.Fatal(err)
	}
	want = append(want, produce("b", 500)...)
	if err := runCommand(t, args...); err != nil {
		t.Fatal(err)
	}
	st, err := file.New(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := iceberg.Open(context.Background(), iceberg.Config{SQLitePath: dbPath, Warehouse: st.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	tbl, err := cat.OpenTable(context.Background(), stocklake.DefaultDatabase, "ticks")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := tbl.TickKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for k, n := range keys {
		rows += n
		if n != 1 {
			t.Errorf("%q is in the table %d times", k, n)
		}
	}
	if rows != len(want) || len(keys) != len(want) {
		t.Errorf("table has %d rows, %d distinct ticks; want %d", rows, len(keys), len(want))
	}
	offs, err := tbl.Offsets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, o := range offs {
		sum += o
	}
	if sum != int64(len(want)) {
		t.Errorf("table offsets %v sum to %d, want %d", offs, sum, len(want))
	}
}

// TestSinkTableFormatErrors: a bad --table-format, iceberg without a
// catalog or with a Glue one, and iceberg with JSON lines (--format json;
// JSON objects land as Parquet, --schema json) are configuration errors
// that say what to do.
func TestSinkTableFormatErrors(t *testing.T) {
	dir := t.TempDir()
	base := []string{"sink", "--brokers", "127.0.0.1:1", "--lake", "file://" + filepath.Join(dir, "lake")}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--table-format", "delta"}, "want hive or iceberg"},
		{[]string{"--table-format", "iceberg"}, "needs --catalog sqlite://"},
		{[]string{"--table-format", "iceberg", "--catalog", "glue://us-east-1"}, "only sqlite://"},
		{[]string{"--table-format", "iceberg", "--catalog", "sqlite://" + filepath.Join(dir, "c.db"), "--format", "json"}, "records in Parquet"},
	} {
		err := runCommand(t, append(base, tc.args...)...)
		if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want a configuration error containing %q", tc.args, err, tc.want)
		}
	}
}
