package stream

import (
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

// benchTicks returns a repeating pattern of ticks over nsym symbols; the
// benchmark sets each tick's time.
func benchTicks(nsym int) []stocklake.Tick {
	rng := rand.New(rand.NewPCG(1, 1))
	ticks := make([]stocklake.Tick, 1<<16)
	syms := make([]string, nsym)
	for i := range syms {
		syms[i] = "SYM" + strconv.Itoa(i)
	}
	for i := range ticks {
		ticks[i] = stocklake.Tick{
			Symbol:  syms[rng.IntN(nsym)],
			Price:   100 + float64(rng.IntN(10000))/100,
			Size:    float64(1 + rng.IntN(500)),
			TradeID: strconv.Itoa(i),
		}
	}
	return ticks
}

// benchProcess feeds b.N ticks, one per spacing of event time, and reports
// ticks/s.
func benchProcess(b *testing.B, cfg Config, nsym, nparts int, jitter, spacing time.Duration) {
	e, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ticks := benchTicks(nsym)
	parts := make([]int32, nsym)
	for i := range parts {
		parts[i] = partitionOf("SYM"+strconv.Itoa(i), nparts)
	}
	partOf := map[string]int32{}
	for i := range ticks {
		n, _ := strconv.Atoi(ticks[i].Symbol[3:])
		partOf[ticks[i].Symbol] = parts[n]
	}
	tickParts := make([]int32, len(ticks))
	offsets := make([]int64, len(ticks))
	rng := rand.New(rand.NewPCG(2, 2))
	for i := range ticks {
		tickParts[i] = partOf[ticks[i].Symbol]
		if jitter > 0 && rng.IntN(5) == 0 {
			offsets[i] = -rng.Int64N(jitter.Microseconds())
		}
	}
	start := base.UnixMicro()
	var out Output
	var bars, late int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i & (len(ticks) - 1)
		t := &ticks[k]
		t.Time = time.UnixMicro(start + int64(i)*spacing.Microseconds() + offsets[k])
		if err := e.Process(tickParts[k], t, &out); err != nil {
			b.Fatal(err)
		}
		if len(out.Bars) > 4096 {
			bars += len(out.Bars)
			late += len(out.Late)
			out.Reset()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ticks/s")
	if late > 0 {
		b.Fatalf("%d late ticks", late)
	}
}

func BenchmarkProcess(b *testing.B) {
	three := []time.Duration{time.Second, time.Minute, time.Hour}
	b.Run("windows=1s,1m,1h/symbols=1000/partitions=1", func(b *testing.B) {
		benchProcess(b, Config{Windows: three}, 1000, 1, 0, time.Microsecond)
	})
	// Market time 100x slower: a final bar every 10 ticks on average.
	b.Run("windows=1s,1m,1h/symbols=1000/partitions=1/sparse", func(b *testing.B) {
		benchProcess(b, Config{Windows: three}, 1000, 1, 0, 100*time.Microsecond)
	})
	b.Run("windows=1s,1m,1h/symbols=100/partitions=1", func(b *testing.B) {
		benchProcess(b, Config{Windows: three}, 100, 1, 0, time.Microsecond)
	})
	b.Run("windows=1s,1m,1h/symbols=1000/partitions=12/out-of-order", func(b *testing.B) {
		benchProcess(b, Config{Windows: three, Delay: 200 * time.Millisecond}, 1000, 12, 100*time.Millisecond, time.Microsecond)
	})
	b.Run("windows=1s,1m,1h/symbols=1000/partitions=12/provisional+rules", func(b *testing.B) {
		rules, err := LoadRules(filepath.Join("..", "testdata", "alerts.yaml"))
		if err != nil {
			b.Fatal(err)
		}
		cfg := Config{Windows: []time.Duration{time.Second, time.Minute, 5 * time.Minute}, Delay: 200 * time.Millisecond,
			Lateness: 100 * time.Millisecond, Provisional: 250 * time.Millisecond, Rules: rules}
		benchProcess(b, cfg, 1000, 12, 100*time.Millisecond, time.Microsecond)
	})
}

// loadedEngine returns an engine with 1000 symbols after 3 s of market time
// at a million ticks per second, so every 1s series has history.
func loadedEngine(b *testing.B) (*Engine, Config) {
	cfg := Config{Windows: []time.Duration{time.Second, time.Minute, time.Hour}}
	e, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ticks := benchTicks(1000)
	var out Output
	for i := range 3_000_000 {
		t := &ticks[i&(len(ticks)-1)]
		t.Time = base.Add(time.Duration(i) * time.Microsecond)
		if err := e.Process(0, t, &out); err != nil {
			b.Fatal(err)
		}
		out.Reset()
	}
	return e, cfg
}

func BenchmarkSnapshot(b *testing.B) {
	e, _ := loadedEngine(b)
	var snap []byte
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		snap = e.Snapshot(snap[:0])
	}
	b.ReportMetric(float64(len(snap)), "bytes")
}

func BenchmarkRestore(b *testing.B) {
	e, cfg := loadedEngine(b)
	snap := e.Snapshot(nil)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		f, _ := New(cfg)
		if err := f.Restore(snap); err != nil {
			b.Fatal(err)
		}
	}
}
