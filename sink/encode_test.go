package sink

import (
	"bytes"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/stocklake/stocklake"
)

// TestTickWriterEncodings: tick files carry ts as DELTA_BINARY_PACKED and
// price and size dictionary-encoded (less for zstd to compress: a third
// less encoding CPU and smaller files, issue 18), zstd pages, and give
// back exactly the rows written, extreme values included: timestamps whose
// deltas overflow int64, prices that repeat or never do, zero and huge sizes.
func TestTickWriterEncodings(t *testing.T) {
	codec, _ := ParseCodec("")
	tw := newTickWriter(codec, DefaultRowGroupRows)
	base := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	var want []TickRow
	for i := range 3*tickStaging + 5 {
		tk := stocklake.Tick{Symbol: "S", Time: base.Add(time.Duration(i%977) * time.Millisecond), Price: 100 + float64(i%13)/100,
			Size: float64(i % 5 * 100), Exchange: "XNAS", TradeID: "t", Conditions: []string{"@"}, Source: "sim"}
		switch i % 1000 {
		case 1:
			tk.Time = time.UnixMicro(math.MaxInt64).UTC()
		case 2:
			tk.Time = time.UnixMicro(math.MinInt64).UTC()
		case 3:
			tk.Price, tk.Size = math.MaxFloat64, math.MaxFloat64
		case 4:
			tk.Price, tk.Size = math.SmallestNonzeroFloat64, 0
		case 5:
			tk.Price = 1 + float64(i)*1e-9 // a price never seen again
		}
		r := newTickRow(&tk)
		want = append(want, r)
		if err := tw.add(r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := tw.finish(&buf, "[]"); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	encodings := map[string][]format.Encoding{}
	for _, c := range f.Metadata().RowGroups[0].Columns {
		if c.MetaData.Codec != format.Zstd {
			t.Errorf("column %v is compressed with %v, want ZSTD", c.MetaData.PathInSchema, c.MetaData.Codec)
		}
		encodings[c.MetaData.PathInSchema[0]] = c.MetaData.Encoding
	}
	for col, enc := range map[string]format.Encoding{"ts": format.DeltaBinaryPacked, "price": format.RLEDictionary, "size": format.RLEDictionary} {
		if !slices.Contains(encodings[col], enc) {
			t.Errorf("column %s has encodings %v, want %v", col, encodings[col], enc)
		}
	}
	// Page bounds live in the column index only (DataPageStatistics off):
	// it must be there, with a minimum and maximum for every page.
	idx := f.ColumnIndexes()
	if len(idx) != len(f.Metadata().RowGroups[0].Columns) {
		t.Fatalf("%d column indexes, want one per column", len(idx))
	}
	for i, ci := range idx {
		if len(ci.MinValues) == 0 || len(ci.MinValues) != len(ci.MaxValues) {
			t.Errorf("column %d's index has %d minimums and %d maximums", i, len(ci.MinValues), len(ci.MaxValues))
		}
	}
	if ts := idx[1]; !bytes.Equal(ts.MinValues[0], parquet.Int64Value(math.MinInt64).Bytes()) {
		t.Errorf("ts column index minimum %x, want that of MinInt64", ts.MinValues[0])
	}
	got, err := parquet.Read[TickRow](bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("row %d is %+v, want %+v", i, got[i], want[i])
		}
	}
}
