package stream

import (
	"bytes"
	"errors"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

// op is one call on an Engine: a tick from a partition, or AdvanceTo.
type op struct {
	part    int32
	tick    *stocklake.Tick
	advance time.Time
}

func partitionOf(sym string, n int) int32 {
	h := fnv.New32a()
	h.Write([]byte(sym))
	return int32(h.Sum32() % uint32(n))
}

// randomOps returns a random run: ticks of nsym symbols keyed to nparts
// partitions, mostly in order, some out of order within the delay, some far
// behind (late), and occasional idle advances.
func randomOps(rng *rand.Rand, n, nsym, nparts int, advances bool) []op {
	ops := make([]op, 0, n)
	price := make([]float64, nsym)
	for i := range price {
		price[i] = 100
	}
	now := base
	// One tick per partition first, so every partition has data early.
	for s := 0; s < nsym; s++ {
		sym := "S" + strconv.Itoa(s)
		ops = append(ops, op{part: partitionOf(sym, nparts), tick: tick(sym, now, price[s], 1, "init"+sym)})
	}
	for i := 0; len(ops) < n; i++ {
		if advances && rng.IntN(200) == 0 {
			now = now.Add(time.Duration(rng.IntN(15)) * time.Second)
			ops = append(ops, op{advance: now})
			continue
		}
		now = now.Add(time.Duration(rng.IntN(50_000)) * time.Microsecond)
		s := rng.IntN(nsym)
		sym := "S" + strconv.Itoa(s)
		price[s] = math.Max(1, price[s]*(1+(rng.Float64()-0.5)/100))
		ts := now
		switch r := rng.IntN(100); {
		case r < 20:
			ts = ts.Add(-time.Duration(rng.Int64N(int64(1500 * time.Millisecond))))
		case r < 23:
			ts = ts.Add(-time.Duration(rng.Int64N(int64(30 * time.Second))))
		}
		size := float64(rng.IntN(300))
		ops = append(ops, op{part: partitionOf(sym, nparts), tick: tick(sym, ts.Truncate(time.Microsecond), math.Round(price[s]*100)/100, size, strconv.Itoa(i))})
	}
	return ops
}

func snapshotConfig() Config {
	return Config{
		Windows:          []time.Duration{time.Second, 10 * time.Second, time.Minute},
		Delay:            time.Second,
		Lateness:         time.Second,
		Provisional:      2 * time.Second,
		SMAPeriod:        3,
		EMAFast:          2,
		EMASlow:          4,
		VolatilityPeriod: 3,
		ZPeriod:          3,
		Rules: []Rule{
			{Name: "cross", Kind: stocklake.AlertCross, Level: 100, Cooldown: 5 * time.Second},
			{Name: "cross10", Kind: stocklake.AlertCross, Window: 10 * time.Second, Level: 100, Symbols: []string{"S1", "S2"}},
			{Name: "move", Kind: stocklake.AlertMove, Window: time.Second, Percent: 0.1, Cooldown: 3 * time.Second},
			{Name: "spike", Kind: stocklake.AlertVolumeSpike, Window: time.Second, Factor: 2, Bars: 4},
			{Name: "z", Kind: stocklake.AlertZScore, Window: 10 * time.Second, Threshold: 1.5, Bars: 3},
			{Name: "zv", Kind: stocklake.AlertZScore, Window: time.Second, Threshold: 1, Bars: 5, Of: "volume", Direction: Down},
		},
	}
}

// run applies ops to e and returns the output of each op.
func run(t *testing.T, e *Engine, ops []op) []string {
	t.Helper()
	res := make([]string, len(ops))
	var out Output
	for i, o := range ops {
		out.Reset()
		if o.tick != nil {
			process(t, e, o.part, o.tick, &out)
		} else {
			e.AdvanceTo(o.advance, &out)
		}
		res[i] = dump(&out)
	}
	return res
}

func compareRuns(t *testing.T, want, got []string, from int) {
	t.Helper()
	for i := range got {
		if got[i] != want[from+i] {
			t.Fatalf("op %d after restore differs:\n got %s\nwant %s", from+i, got[i], want[from+i])
		}
	}
}

func TestSnapshotRestoreContinuesIdentically(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		cfg := snapshotConfig()
		ops := randomOps(rng, 8000, 12, 4, true)
		want := run(t, newEngine(t, cfg), ops)
		var counts [3]int
		for _, w := range want {
			counts[0] += bytes.Count([]byte(w), []byte("bar "))
			counts[1] += bytes.Count([]byte(w), []byte("late "))
			counts[2] += bytes.Count([]byte(w), []byte("alert "))
		}
		if counts[0] < 1000 || counts[1] < 10 || counts[2] < 10 {
			t.Fatalf("seed %d: the run has %v bars/late/alerts; too few to test", seed, counts)
		}

		// Checkpoint at random points, restoring into a fresh engine each time.
		e := newEngine(t, cfg)
		pos := 0
		for pos < len(ops) {
			next := min(len(ops), pos+1+rng.IntN(1500))
			compareRuns(t, want, run(t, e, ops[pos:next]), pos)
			pos = next
			snap := e.Snapshot(nil)
			e = newEngine(t, cfg)
			if err := e.Restore(snap); err != nil {
				t.Fatalf("seed %d: restore at op %d: %v", seed, pos, err)
			}
			if again := e.Snapshot(nil); !bytes.Equal(again, snap) {
				t.Fatalf("seed %d: snapshot of the restored engine differs (%d vs %d bytes)", seed, len(again), len(snap))
			}
		}
	}
}

func TestSnapshotPartitionsSeparately(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	cfg := snapshotConfig()
	const nparts = 5
	ops := randomOps(rng, 6000, 15, nparts, false)
	want := run(t, newEngine(t, cfg), ops)
	e := newEngine(t, cfg)
	pos := 0
	for _, cut := range []int{100, 1700, 3000, 4999} {
		compareRuns(t, want, run(t, e, ops[pos:cut]), pos)
		pos = cut
		// Each partition's state alone, restored one by one into a fresh
		// engine, as consumers that get partitions assigned would.
		parts := e.Partitions()
		if len(parts) != nparts {
			t.Fatalf("partitions = %v", parts)
		}
		blobs := make([][]byte, len(parts))
		for i, p := range parts {
			blobs[i] = e.SnapshotPartition(nil, p)
		}
		e = newEngine(t, cfg)
		for i, b := range blobs {
			id, err := e.RestorePartition(b)
			if err != nil || id != parts[i] {
				t.Fatalf("RestorePartition = %d, %v; want %d", id, err, parts[i])
			}
		}
	}
	compareRuns(t, want, run(t, e, ops[pos:]), pos)

	// An unknown partition's snapshot restores to no state.
	blob := e.SnapshotPartition(nil, 42)
	id, err := e.RestorePartition(blob)
	if err != nil || id != 42 || len(e.Partitions()) != nparts {
		t.Fatalf("empty partition restore: %d %v %v", id, err, e.Partitions())
	}
	// And restoring it over a partition with state removes that state.
	empty := newEngine(t, cfg).SnapshotPartition(nil, 0)
	if _, err := e.RestorePartition(empty); err != nil || len(e.Partitions()) != nparts-1 {
		t.Fatalf("restore of an empty partition 0: %v, partitions %v", err, e.Partitions())
	}
}

func TestRestoreWithChangedConfig(t *testing.T) {
	cfg := Config{Windows: []time.Duration{time.Minute}, EMAFast: 2, SMAPeriod: 2}
	a := newEngine(t, cfg)
	var out Output
	for i := range 5 {
		process(t, a, 0, tick("X", at(time.Duration(i)*time.Minute), float64(10+i), 1, strconv.Itoa(i)), &out)
	}
	snap := a.Snapshot(nil)
	cfg2 := Config{Windows: []time.Duration{time.Minute, 5 * time.Minute}, EMAFast: 3, SMAPeriod: 4, ZPeriod: 30}
	b := newEngine(t, cfg2)
	if err := b.Restore(snap); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	process(t, b, 0, tick("X", at(5*time.Minute), 20, 1, "5"), &out)
	f := finals(&out)
	if len(f) != 1 || f[0].Window != time.Minute || f[0].Close != 14 {
		t.Fatalf("finals = %+v, want the 1m bar of minute 4", f)
	}
	in := f[0].Indicators
	// 5 bars: closes 10..14. SMA(4) from the kept history; EMA(3) re-seeded
	// from the last 3 closes.
	if in.Bars != 5 || in.SMA != 12.5 || in.EMAFast != 13 {
		t.Errorf("indicators = %+v, want Bars 5, SMA 12.5, EMAFast 13", in)
	}
}

func TestRestoreCorruptSnapshots(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	cfg := snapshotConfig()
	e := newEngine(t, cfg)
	run(t, e, randomOps(rng, 600, 5, 2, true))
	snap := e.Snapshot(nil)
	part := e.SnapshotPartition(nil, e.Partitions()[0])
	for _, blob := range [][]byte{snap, part} {
		for i := 0; i < len(blob); i++ {
			mutated := [][]byte{blob[:i], append(append([]byte(nil), blob[:i]...), blob[i]^0xff)}
			mutated[1] = append(mutated[1], blob[i+1:]...)
			for _, m := range mutated {
				f := newEngine(t, cfg)
				err := f.Restore(m)
				_, perr := f.RestorePartition(m)
				if err != nil && !errors.Is(err, stocklake.ErrInvalid) || perr != nil && !errors.Is(perr, stocklake.ErrInvalid) {
					t.Fatalf("error does not wrap ErrInvalid: %v / %v", err, perr)
				}
				// Whatever was accepted must keep working.
				var out Output
				_ = f.Process(0, tick("S1", at(time.Hour), 1, 1, "x"), &out)
				f.AdvanceTo(at(2*time.Hour), &out)
				f.Snapshot(nil)
			}
		}
	}
	if err := newEngine(t, cfg).Restore([]byte("garbage")); !errors.Is(err, stocklake.ErrInvalid) {
		t.Errorf("garbage: err = %v", err)
	}
	// A failed restore leaves the engine as it was.
	before := e.Snapshot(nil)
	if err := e.Restore(snap[:len(snap)-1]); err == nil {
		t.Fatal("truncated snapshot accepted")
	}
	if !bytes.Equal(e.Snapshot(nil), before) {
		t.Error("failed Restore changed the engine")
	}
}

// FuzzRestore checks that no snapshot bytes make Restore, or the engine
// after it, panic. Seeds are small: the fuzzer slows down on large inputs.
func FuzzRestore(f *testing.F) {
	cfg := snapshotConfig()
	e, _ := New(cfg)
	var out Output
	for _, o := range randomOps(rand.New(rand.NewPCG(5, 5)), 60, 2, 2, true) {
		if o.tick != nil {
			_ = e.Process(o.part, o.tick, &out)
		}
	}
	f.Add(e.Snapshot(nil))
	f.Add(e.SnapshotPartition(nil, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, _ := New(cfg)
		var out Output
		if e.Restore(b) == nil {
			_ = e.Process(1, tick("S0", at(time.Hour), 1, 1, "x"), &out)
			e.AdvanceTo(at(3*time.Hour), &out)
		}
		if _, err := e.RestorePartition(b); err == nil {
			_ = e.Process(0, tick("S1", at(4*time.Hour), 1, 1, "y"), &out)
			e.AdvanceTo(at(5*time.Hour), &out)
		}
	})
}
