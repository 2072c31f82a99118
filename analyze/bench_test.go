package analyze

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/source"
	"github.com/stocklake/stocklake/stream"
)

// goldenSim is a fixed simulator run: 50 symbols over 3 partitions, 1% of
// the ticks up to 500ms out of order, as bench/analyze produces them.
var goldenSim = source.SimulatorConfig{Symbols: 50, Seed: 1, Count: 200_000, OutOfOrderFraction: 0.01, OutOfOrderMax: 500 * time.Millisecond}

// goldenStream is bench/analyze's analyzer configuration.
var goldenStream = stream.Config{Windows: []time.Duration{time.Second, time.Minute}, Delay: time.Second}

// barsDigest returns the SHA-256 of the sorted bar records (key and value)
// of the analyzer's bar topics, and how many there are.
func barsDigest(t testing.TB, kc kafka.Config, a *Analyzer) (string, int) {
	var recs [][]byte
	for _, w := range a.cfg.Stream.Windows {
		for _, r := range readTopic(t, kc, a.BarTopic(w)) {
			recs = append(recs, slices.Concat([]byte(a.BarTopic(w)), []byte{0}, r.Key, []byte{0}, r.Value))
		}
	}
	slices.SortFunc(recs, bytes.Compare)
	h := sha256.New()
	for _, r := range recs {
		h.Write(r)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil)), len(recs)
}

// TestBarsGolden pins the analyzer's bars, byte for byte, on a fixed seed:
// 200,000 simulated ticks with out-of-order ones, windows 1s and 1m. The
// digest was taken before the analyzer was made faster (issue 18); any
// change to the bars, their indicators or their encoding changes it.
func TestBarsGolden(t *testing.T) {
	kc := newCluster(t)
	produceSim(t, kc, "ticks", goldenSim)
	cfg := baseConfig(kc, "golden")
	cfg.Stream = goldenStream
	cfg.CheckpointInterval, cfg.CheckpointRecords, cfg.MaxPollRecords = 0, 0, 0
	a, err := runAnalyzer(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const wantDigest, wantBars = "906e1e8a2120adf6a4694004c70f262a15218f7e0ae3f13c5982f14c6f460a16", 5149
	digest, n := barsDigest(t, kc, a)
	if digest != wantDigest || n != wantBars {
		t.Errorf("bars: %d records, digest %s; want %d, %s", n, digest, wantBars, wantDigest)
	}
	if st := a.Stats(); st.Ticks.Load() != goldenSim.Count || st.Late.Load() != 0 {
		t.Errorf("ticks %d, late %d; want %d, 0", st.Ticks.Load(), st.Late.Load(), goldenSim.Count)
	}
}

// BenchmarkAnalyze runs the analyzer over 500,000 simulated ticks in an
// in-process kfake broker (bench/analyze's shape: 50 symbols, 3
// partitions, zstd batches, windows 1s and 1m) and reports ticks/s. The
// broker runs in the same process, so profile with -cpuprofile and look at
// the analyzer's part (go tool pprof -focus 'analyze|kgo').
func BenchmarkAnalyze(b *testing.B) {
	kc := newCluster(b)
	sim := goldenSim
	sim.Count = 500_000
	produceSim(b, kc, "ticks", sim)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		cfg := baseConfig(kc, "bench-"+strconv.Itoa(i))
		cfg.Stream = goldenStream
		cfg.CheckpointInterval, cfg.CheckpointRecords, cfg.MaxPollRecords = 0, 0, 0
		a, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		err = a.Run(ctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		if n := a.Stats().Ticks.Load(); n != sim.Count {
			b.Fatalf("analyzer took %d ticks, want %d", n, sim.Count)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*float64(sim.Count)/b.Elapsed().Seconds(), "ticks/s")
}
