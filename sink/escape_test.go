package sink_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/crawler"
	"github.com/stocklake/stocklake/duckdb"
	"github.com/stocklake/stocklake/file"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/sink"
	"github.com/stocklake/stocklake/sqlite"
)

// TestPartitionValuesThatNeedEscaping lands ticks whose partition field
// needs Hive escaping ('/', '%', '=', a space, a non-ASCII letter, an empty
// value) with the real sink and its registrar, crawls the same lake into a
// second catalog, and checks that both catalogs hold the same unescaped
// values (the empty one as Hive's default partition) at the same escaped
// folders, and that the DuckDB engine finds each tick by its value through
// either catalog, and SHOW PARTITIONS names the escaped folders.
func TestPartitionValuesThatNeedEscaping(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc, store := newLake(t, "ticks")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sinkCat := memCatalog(t)
	reg, err := crawler.NewRegistrar(store, sinkCat, "stocklake")
	if err != nil {
		t.Fatal(err)
	}
	part, err := sink.ParsePartitioning("exchange")
	if err != nil {
		t.Fatal(err)
	}
	snk, err := sink.New(sink.Config{Kafka: kc, Topic: "ticks", Store: store, Partitioning: part, Registrar: reg,
		FlushInterval: 50 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- snk.Run(sctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	produce := func(i int, exchange string) {
		t.Helper()
		tk := stocklake.Tick{Symbol: "SYM" + string(rune('A'+i)), Time: at.Add(time.Duration(i) * time.Second), Price: 100 + float64(i), Size: 1, Exchange: exchange}
		if err := p.Produce(ctx, stocklake.Record{Key: []byte(tk.Symbol), Value: tk.AppendJSON(nil)}); err != nil {
			t.Fatal(err)
		}
	}
	// The first partition creates the table from the sink's columns; the ones after
	// it are registered by the sink with the values it wrote.
	produce(0, "PLAIN")
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, func() bool {
		_, err := sinkCat.GetTable(ctx, "stocklake", "ticks")
		return err == nil
	})
	values := []string{"NYA/X", "UP%10", "a=b", "with space", "Zürich", ""}
	for i, v := range values {
		produce(i+1, v)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"NYA/X", "PLAIN", "UP%10", "Zürich", "__HIVE_DEFAULT_PARTITION__", "a=b", "with space"}
	waitFor(t, ctx, func() bool {
		ps, err := sinkCat.ListPartitions(ctx, "stocklake", "ticks")
		return err == nil && len(ps) >= len(want)
	})

	crawlCat := memCatalog(t)
	c, err := crawler.New(store, crawlCat, crawler.Config{Database: "stocklake"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}

	folders := map[string]string{
		"NYA/X": "exchange=NYA%2FX/", "PLAIN": "exchange=PLAIN/", "UP%10": "exchange=UP%2510/", "Zürich": "exchange=Zürich/",
		"__HIVE_DEFAULT_PARTITION__": "exchange=__HIVE_DEFAULT_PARTITION__/", "a=b": "exchange=a%3Db/", "with space": "exchange=with space/",
	}
	for name, cat := range map[string]stocklake.Catalog{"sink-registered": sinkCat, "crawled": crawlCat} {
		ps, err := cat.ListPartitions(ctx, "stocklake", "ticks")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range ps {
			if len(p.Values) != 1 {
				t.Fatalf("%s catalog: partition %v has %d values, want 1", name, p.Values, len(p.Values))
			}
			got = append(got, p.Values[0])
			if f := folders[p.Values[0]]; !strings.HasSuffix(p.Location, "/ticks/"+f) {
				t.Errorf("%s catalog: partition %q at %s, want the folder ticks/%s", name, p.Values[0], p.Location, f)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s catalog: partition values %q, want %q", name, got, want)
		}

		eng, err := duckdb.New(ctx, duckdb.Config{Catalog: cat, Store: store, Database: "stocklake", CacheDir: t.TempDir(), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range append([]string{"PLAIN"}, values...) {
			where := "exchange = '" + strings.ReplaceAll(v, "'", "''") + "'"
			if v == "" {
				where = "exchange IS NULL"
			}
			rows, err := eng.Query(ctx, "SELECT symbol FROM ticks WHERE "+where)
			if err != nil {
				t.Fatalf("%s catalog: %s: %v", name, where, err)
			}
			var syms []string
			for rows.Next() {
				syms = append(syms, rows.Values()[0].(string))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
			if wantSym := "SYM" + string(rune('A'+i)); !slices.Equal(syms, []string{wantSym}) {
				t.Errorf("%s catalog: SELECT symbol FROM ticks WHERE %s = %q, want [%s]", name, where, syms, wantSym)
			}
		}
		// SHOW PARTITIONS lists Hive's partition names: the folder text.
		rows, err := eng.Query(ctx, "SHOW PARTITIONS ticks")
		if err != nil {
			t.Fatal(err)
		}
		var shown []string
		for rows.Next() {
			shown = append(shown, rows.Values()[0].(string)+"/")
		}
		rows.Close()
		slices.Sort(shown)
		wantShown := slices.Sorted(maps.Values(folders))
		if !slices.Equal(shown, wantShown) {
			t.Errorf("%s catalog: SHOW PARTITIONS = %q, want %q", name, shown, wantShown)
		}
		eng.Close()
	}
}

// newLake starts an in-process broker with topics (one partition each)
// and makes a lake in a temporary directory.
func newLake(t *testing.T, topics ...string) (kafka.Config, stocklake.ObjectStore) {
	t.Helper()
	cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	store, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Config{Brokers: cl.ListenAddrs()}, store
}

// memCatalog opens an in-memory SQLite catalog, closed when t ends.
func memCatalog(t *testing.T) *sqlite.Catalog {
	t.Helper()
	cat, err := sqlite.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	return cat
}

// waitFor polls cond until it holds or ctx ends (then the test fails).
func waitFor(t *testing.T, ctx context.Context, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("timed out waiting")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
