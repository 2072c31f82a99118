package sink

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/file"
)

// TestSinkLandsAvroTicks: Avro ticks (produce --format avro) land as the
// tick table without a registry, in Parquet and, decoded, in JSON lines
// (not their binary frames).
func TestSinkLandsAvroTicks(t *testing.T) {
	for _, format := range []string{stocklake.FormatParquet, stocklake.FormatJSON} {
		t.Run(format, func(t *testing.T) {
			kc := newCluster(t, "ticks")
			ticks := testTicks(300)
			keys := make([][]byte, len(ticks))
			values := make([][]byte, len(ticks))
			for i := range ticks {
				keys[i], values[i] = []byte(ticks[i].Symbol), ticks[i].AppendAvro(nil, 1)
			}
			produceValues(t, kc, "ticks", keys, values)
			st, _ := file.New(t.TempDir())
			s, err := runSinkUntil(t, Config{Kafka: kc, Topic: "ticks", Store: st, Format: format, FlushInterval: 50 * time.Millisecond},
				func(s *Sink) bool {
					return s.Stats().Records.Load() == int64(len(ticks)) && s.Stats().Buffered.Load() == 0
				})
			if err != nil {
				t.Fatal(err)
			}
			if n := s.Stats().DeadLetters.Load(); n != 0 {
				t.Fatalf("%d dead letters, want none", n)
			}
			if format == stocklake.FormatParquet {
				rows, _ := readLakeTicks(t, st, "ticks")
				assertExactlyOnce(t, rows, ticks)
				return
			}
			objs, err := st.List(context.Background(), "ticks/")
			if err != nil {
				t.Fatal(err)
			}
			var rows []TickRow
			for _, o := range objs {
				if !strings.HasSuffix(o.Key, ".json") {
					continue
				}
				data, err := st.GetRange(context.Background(), o.Key, 0, -1)
				if err != nil {
					t.Fatal(err)
				}
				sc := bufio.NewScanner(bytes.NewReader(data))
				for sc.Scan() {
					tk, err := stocklake.ParseTick(sc.Bytes())
					if err != nil || sc.Bytes()[0] != '{' {
						t.Fatalf("JSON line %q: %v", sc.Bytes(), err)
					}
					rows = append(rows, newTickRow(&tk))
				}
			}
			assertExactlyOnce(t, rows, ticks)
		})
	}
}
