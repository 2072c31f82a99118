package sink

import (
	"bytes"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/stocklake/stocklake"
)

// TestTickWriterKeepsRowOrder: rows staged while earlier buffers are
// encoded in the background land in the file in the order added, across
// many staging buffers, with the batch metadata.
func TestTickWriterKeepsRowOrder(t *testing.T) {
	codec, _ := ParseCodec("")
	tw := newTickWriter(codec, 5000) // several row groups too
	n := 3*tickStaging + 17
	base := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	for i := range n {
		tk := stocklake.Tick{Symbol: "S" + strconv.Itoa(i%7), Time: base.Add(time.Duration(i) * time.Microsecond), Price: float64(i),
			Size: 1, Exchange: "XNAS", TradeID: strconv.Itoa(i), Conditions: []string{strconv.Itoa(i % 3)}, Source: "test"}
		if err := tw.add(newTickRow(&tk)); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := tw.finish(&buf, "meta"); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Lookup(stocklake.ParquetKeyBatches); v != "meta" {
		t.Errorf("batch metadata %q, want %q", v, "meta")
	}
	rows, err := parquet.Read[TickRow](bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	for i, r := range rows {
		if r.TradeID != strconv.Itoa(i) || r.Price != float64(i) || !reflect.DeepEqual(r.Conditions, []string{strconv.Itoa(i % 3)}) {
			t.Fatalf("row %d is %+v, want trade %d", i, r, i)
		}
	}
}

// TestDecodeAheadMatchesParseTick: decoding a poll's records on several
// goroutines gives, at each index, what ParseTick gives for that record,
// errors included (they make dead letters), and nothing before the
// table is known to hold ticks.
func TestDecodeAheadMatchesParseTick(t *testing.T) {
	var recs []*kgo.Record
	for i, tk := range testTicks(5 * decodeAheadMin) {
		v := tk.AppendJSON(nil)
		switch i % 97 {
		case 3:
			v = []byte(`{"v":1,"symbol":"X"}`) // no ts
		case 5:
			v = []byte(`not json`)
		}
		recs = append(recs, &kgo.Record{Value: v, Offset: int64(i)})
	}
	s := &Sink{}
	if got := s.decodeAhead(recs); got != nil {
		t.Fatalf("decodeAhead before the table's mode is known: %d results, want none", len(got))
	}
	s.mode = SchemaTick
	for _, recs := range [][]*kgo.Record{recs, recs[:1], recs[:decodeAheadMin+1]} {
		got := s.decodeAhead(recs)
		if len(got) != len(recs) {
			t.Fatalf("%d results for %d records", len(got), len(recs))
		}
		for i, r := range recs {
			want, werr := stocklake.ParseTick(r.Value)
			if !reflect.DeepEqual(got[i].tick, want) || (werr == nil) != (got[i].err == nil) || (werr != nil && werr.Error() != got[i].err.Error()) {
				t.Fatalf("record %d: decoded %+v, %v; ParseTick gives %+v, %v", i, got[i].tick, got[i].err, want, werr)
			}
		}
	}
}
