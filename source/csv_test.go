package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

func newCSV(t testing.TB, cfg CSVConfig) *CSVReplay {
	t.Helper()
	c, err := NewCSVReplay(cfg)
	if err != nil {
		t.Fatalf("NewCSVReplay(%+v): %v", cfg, err)
	}
	return c
}

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// decode parses a record value into a map, keeping numbers as json.Number
// and the key order.
func decode(t testing.TB, v []byte) (map[string]any, []string) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	m := map[string]any{}
	if err := d.Decode(&m); err != nil {
		t.Fatalf("value %s is not a JSON object: %v", v, err)
	}
	// Key order, from the token stream.
	var keys []string
	d = json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	tok, _ := d.Token()
	if tok != json.Delim('{') {
		t.Fatalf("value %s does not start with {", v)
	}
	for d.More() {
		k, _ := d.Token()
		keys = append(keys, k.(string))
		var skip any
		_ = d.Decode(&skip)
	}
	return m, keys
}

func readCSV(t testing.TB, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestCSVSeedColumns(t *testing.T) {
	c := newCSV(t, CSVConfig{Path: seedSamplePath})
	if c.Name() != "csv" || c.DefaultTopic() != "prices" {
		t.Fatalf("name %q topic %q", c.Name(), c.DefaultTopic())
	}
	recs := collect(t, c)
	raw := readCSV(t, seedSamplePath)
	header, data := raw[0], raw[1:]
	if len(recs) != len(data) || c.Rows() != int64(len(data)) || c.BadRows() != 0 {
		t.Fatalf("got %d records (Rows %d, BadRows %d) for %d data rows", len(recs), c.Rows(), c.BadRows(), len(data))
	}
	byKey := map[string][]string{}
	for _, row := range data {
		byKey[row[0]+" "+row[1]] = row
	}
	// The sample is grouped by index, so replay must reorder it.
	if slices.IsSortedFunc(data, func(a, b []string) int { return strings.Compare(a[1], b[1]) }) {
		t.Fatal("sample file is already in time order; the test needs it grouped by index")
	}
	var prev time.Time
	for i, r := range recs {
		m, keys := decode(t, r.Value)
		if !slices.Equal(keys, header) {
			t.Fatalf("record %d keys %v, want the header %v", i, keys, header)
		}
		sym, ok1 := m["Index"].(string)
		date, ok2 := m["Date"].(string)
		if !ok1 || !ok2 || string(r.Key) != sym {
			t.Fatalf("record %d: key %q, %s", i, r.Key, r.Value)
		}
		day, err := time.Parse("2006-01-02", date)
		if err != nil {
			t.Fatalf("record %d: Date %q is not YYYY-MM-DD", i, date)
		}
		if !r.Timestamp.Equal(day) {
			t.Fatalf("record %d: timestamp %v, want %v", i, r.Timestamp, day)
		}
		if day.Before(prev) {
			t.Fatalf("record %d: %s after %s: not in time order", i, day, prev)
		}
		prev = day
		row := byKey[sym+" "+date]
		if row == nil {
			t.Fatalf("record %d: %s %s is not in the file", i, sym, date)
		}
		for j, col := range header[2:] {
			n, ok := m[col].(json.Number)
			if !ok {
				t.Fatalf("record %d: %s is %T, want a JSON number: %s", i, col, m[col], r.Value)
			}
			got, _ := n.Float64()
			want, _ := strconv.ParseFloat(row[j+2], 64)
			if got != want {
				t.Fatalf("record %d: %s = %v, file has %s", i, col, n, row[j+2])
			}
		}
		if len(r.Headers) != 1 || r.Headers[0].Key != "content-type" || string(r.Headers[0].Value) != PriceContentType {
			t.Fatalf("record %d: headers %v", i, r.Headers)
		}
	}
	// Rows with the same date keep file order: on 2020-06-01 every index trades.
	var got []string
	for _, r := range recs[:5] {
		got = append(got, string(r.Key))
	}
	if want := []string{"NYA", "IXIC", "HSI", "000001.SS", "N225"}; !slices.Equal(got, want) {
		t.Fatalf("first day in order %v, want file order %v", got, want)
	}
	// An exact value check of one record.
	want := `{"Index":"NYA","Date":"2020-06-01","Open":12065.265625,"High":12088.323242,"Low":11880.744141,"Close":11958.256836,"Adj Close":11958.256836,"Volume":4814910000,"CloseUSD":11958.25683594}`
	if string(recs[0].Value) != want {
		t.Fatalf("first record\n got %s\nwant %s", recs[0].Value, want)
	}
}

func TestCSVAlternateHeader(t *testing.T) {
	recs := collect(t, newCSV(t, CSVConfig{Path: ohlcvSamplePath}))
	if len(recs) != 90 {
		t.Fatalf("got %d records, want 90", len(recs))
	}
	for i, r := range recs {
		m, keys := decode(t, r.Value)
		if want := []string{"timestamp", "symbol", "open", "high", "low", "close", "volume"}; !slices.Equal(keys, want) {
			t.Fatalf("keys %v", keys)
		}
		ts, _ := m["timestamp"].(string)
		if parsed, err := time.Parse(time.RFC3339, ts); err != nil || !parsed.Equal(r.Timestamp) || !strings.HasSuffix(ts, ".000000Z") {
			t.Fatalf("record %d: timestamp %q (%v), record time %v", i, ts, err, r.Timestamp)
		}
		if i > 0 && r.Timestamp.Before(recs[i-1].Timestamp) {
			t.Fatalf("record %d out of order", i)
		}
		for _, k := range keys[2:] {
			if _, ok := m[k].(json.Number); !ok {
				t.Fatalf("record %d: %s is %T", i, k, m[k])
			}
		}
	}
	if string(recs[0].Key) != "AAPL" || string(recs[1].Key) != "MSFT" || string(recs[2].Key) != "SPY" {
		t.Fatalf("first minute: %s %s %s", recs[0].Key, recs[1].Key, recs[2].Key)
	}
}

func TestCSVFormats(t *testing.T) {
	cases := []struct {
		name, file, content string
		cfg                 CSVConfig
		want                []string // record values in order
		keys                []string
	}{
		{
			name: "epoch millis, ticker, lower case",
			file: "a.csv",
			content: "Ticker,Time,Price,Size\n" +
				"AAPL,1795444260500,230.5,100\n" +
				"AAPL,1795444200000,230.25,NA\n",
			want: []string{
				`{"Ticker":"AAPL","Time":"2026-11-23T14:30:00.000000Z","Price":230.25,"Size":null}`,
				`{"Ticker":"AAPL","Time":"2026-11-23T14:31:00.500000Z","Price":230.5,"Size":100}`,
			},
			keys: []string{"AAPL", "AAPL"},
		},
		{
			name: "separate date and time, no symbol column, BOM",
			file: "MSFT.csv",
			content: "\ufeffDate,Time,Open,High,Low,Close,Volume,Note\n" +
				"2026-11-23,09:31,420,421,419,420.5,1000,\n" +
				"2026-11-23,09:30:00,419,420,418,420,2000,\"opening, cross\"\n",
			cfg: CSVConfig{Location: newYork},
			want: []string{
				`{"Date":"2026-11-23","Time":"09:30:00.000000","Open":419,"High":420,"Low":418,"Close":420,"Volume":2000,"Note":"opening, cross"}`,
				`{"Date":"2026-11-23","Time":"09:31:00.000000","Open":420,"High":421,"Low":419,"Close":420.5,"Volume":1000,"Note":null}`,
			},
			keys: []string{"MSFT", "MSFT"},
		},
		{
			name: "Nasdaq export: US dates, dollar signs",
			file: "HistoricalData_QQQ.csv",
			content: "Date,Close/Last,Volume,Open,High,Low\n" +
				"11/24/2026,$501.10,30000000,$500.00,$502.00,$499.50\n" +
				"11/23/2026,$500.00,25000000,$498.00,$500.50,$497.00\n",
			cfg: CSVConfig{Symbol: "QQQ"},
			want: []string{
				`{"Date":"2026-11-23","Close/Last":500,"Volume":25000000,"Open":498,"High":500.5,"Low":497}`,
				`{"Date":"2026-11-24","Close/Last":501.1,"Volume":30000000,"Open":500,"High":502,"Low":499.5}`,
			},
			keys: []string{"QQQ", "QQQ"},
		},
		{
			name: "explicit mapping, semicolons, strings stay strings",
			file: "x.txt",
			content: "when;tkr;px;qty;venue\n" +
				"2026-11-23 10:00:00.25;IBM;210.5;300;XNYS\n" +
				"2026-11-23T09:59:00-05:00;IBM;210;100;007\n",
			cfg: CSVConfig{Comma: ';', Mapping: map[string]string{"date": "when", "ticker": "TKR", "close": "px", "volume": "qty"}},
			want: []string{
				`{"when":"2026-11-23T10:00:00.250000Z","tkr":"IBM","px":210.5,"qty":300,"venue":"XNYS"}`,
				`{"when":"2026-11-23T14:59:00.000000Z","tkr":"IBM","px":210,"qty":100,"venue":"007"}`,
			},
			keys: []string{"IBM", "IBM"},
		},
		{
			name: "mapping symbol to no column, duplicate and empty headers",
			file: "y.csv",
			content: "date,index,close,close,\n" +
				"20261123,5,1.5,2.5,x\n",
			cfg: CSVConfig{Symbol: "SPX", Mapping: map[string]string{FieldSymbol: ""}},
			want: []string{
				`{"date":"2026-11-23","index":5,"close":1.5,"close_2":2.5,"column_5":"x"}`,
			},
			keys: []string{"SPX"},
		},
		{
			name:    "pre-1970 rows have no record timestamp",
			file:    "old.csv",
			content: "Index,Date,Close\nNYA,1965-12-31,528.690002\n",
			want:    []string{`{"Index":"NYA","Date":"1965-12-31","Close":528.690002}`},
			keys:    []string{"NYA"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Path = writeFile(t, tc.file, tc.content)
			var bad []string
			tc.cfg.OnBadRow = func(line int, err error) { bad = append(bad, err.Error()) }
			recs := collect(t, newCSV(t, tc.cfg))
			if len(bad) > 0 {
				t.Fatalf("bad rows: %v", bad)
			}
			var got, keys []string
			for _, r := range recs {
				got = append(got, string(r.Value))
				keys = append(keys, string(r.Key))
				if !json.Valid(r.Value) {
					t.Fatalf("invalid JSON %s", r.Value)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("values\n got %q\nwant %q", got, tc.want)
			}
			if !slices.Equal(keys, tc.keys) {
				t.Fatalf("keys %q, want %q", keys, tc.keys)
			}
			if strings.Contains(tc.name, "pre-1970") && !recs[0].Timestamp.IsZero() {
				t.Fatalf("timestamp %v, want zero", recs[0].Timestamp)
			}
			if strings.Contains(tc.name, "epoch") && !recs[1].Timestamp.Equal(time.UnixMilli(1795444260500)) {
				t.Fatalf("timestamp %v", recs[1].Timestamp)
			}
		})
	}
}

func TestCSVGzip(t *testing.T) {
	plain, err := os.ReadFile(seedSamplePath)
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(plain)
	zw.Close()
	want := concat(collect(t, newCSV(t, CSVConfig{Path: seedSamplePath})))
	for _, name := range []string{"indexProcessed.csv.gz", "no-extension"} {
		path := writeFile(t, name, zb.String())
		if got := concat(collect(t, newCSV(t, CSVConfig{Path: path}))); !bytes.Equal(got, want) {
			t.Fatalf("%s: gzip replay differs from plain", name)
		}
	}
	// A truncated gzip file is reported, not mistaken for the end of data.
	path := writeFile(t, "cut.csv.gz", zb.String()[:zb.Len()/2])
	err = newCSV(t, CSVConfig{Path: path}).Run(context.Background(), func(stocklake.Record) error { return nil })
	if !errors.Is(err, stocklake.ErrInvalid) {
		t.Fatalf("truncated gzip: %v, want ErrInvalid", err)
	}
	if sym := newCSV(t, CSVConfig{Path: writeFile(t, "AAPL.csv.gz", zb.String())}).cfg.Symbol; sym != "AAPL" {
		t.Fatalf("symbol from AAPL.csv.gz is %q", sym)
	}
}

func TestCSVBadRows(t *testing.T) {
	content := "Index,Date,Open,Close,Volume,Note\n" + // line 1
		"NYA,2020-01-03,1,2,3,ok\n" + // 2 good
		"NYA,2020-01-02,abc,2,3,x\n" + // 3 bad number
		"NYA,,1,2,3,x\n" + // 4 missing date
		"NYA,2020-01-04,1,2\n" + // 5 too few fields
		"NYA,2020-13-45,1,2,3,x\n" + // 6 bad date
		",2020-01-05,1,2,3,x\n" + // 7 no symbol
		"NYA,2020-01-01,1,,NaN,\"two\nlines\"\n" + // 8-9 good, nulls
		"NYA,2020-01-06,1,2,1e400,x\n" // 10 out of range
	var lines []int
	var reasons []string
	c := newCSV(t, CSVConfig{Path: writeFile(t, "bad.csv", content), OnBadRow: func(line int, err error) {
		lines = append(lines, line)
		reasons = append(reasons, err.Error())
		var be *BadRowError
		if !errors.Is(err, stocklake.ErrInvalid) || !errors.As(err, &be) || be.Line != line || len(be.Fields) == 0 {
			t.Errorf("line %d: error %v (%T) should be a *BadRowError wrapping ErrInvalid", line, err, err)
		}
	}})
	recs := collect(t, c)
	if want := []int{3, 4, 5, 6, 7, 10}; !slices.Equal(lines, want) {
		t.Fatalf("bad lines %v, want %v; reasons %q", lines, want, reasons)
	}
	for i, want := range []string{`column "Open": "abc" is not a number`, `no date in column "Date"`, "has 4 fields, the header has 6", `"2020-13-45" is not a date`, `no symbol in column "Index"`, `"1e400" is not a number`} {
		if !strings.Contains(reasons[i], want) {
			t.Errorf("reason %q does not say %q", reasons[i], want)
		}
	}
	if c.BadRows() != 6 || c.Rows() != 2 || len(recs) != 2 {
		t.Fatalf("BadRows %d Rows %d records %d", c.BadRows(), c.Rows(), len(recs))
	}
	if want := `{"Index":"NYA","Date":"2020-01-01","Open":1,"Close":null,"Volume":null,"Note":"two\nlines"}`; string(recs[0].Value) != want {
		t.Fatalf("got %s\nwant %s", recs[0].Value, want)
	}
	// Without a callback bad rows are still skipped and counted.
	c = newCSV(t, CSVConfig{Path: writeFile(t, "bad.csv", content)})
	if recs := collect(t, c); len(recs) != 2 || c.BadRows() != 6 {
		t.Fatalf("no callback: %d records, %d bad", len(recs), c.BadRows())
	}
}

func TestCSVFileErrors(t *testing.T) {
	var garbage bytes.Buffer
	for i := 0; i < 4096; i++ {
		garbage.WriteByte(byte(i * 7919 % 256))
	}
	cases := []struct {
		name, content, want string
	}{
		{"empty", "", "is empty"},
		{"header only", "Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD\n", "has a header but no data rows"},
		{"binary garbage", garbage.String(), "does not look like a CSV text file"},
		{"text garbage", "lorem ipsum dolor\nsit amet\n", "no date/time column"},
		{"no header", "NYA,1965-12-31,528.690002\nNYA,1966-01-03,527.210022\n", "looks like data, not a header"},
		{"all rows bad", "Date,Close\nyesterday,1\ntoday,2\n", "no usable rows: all 2 data rows are bad"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCSV(t, CSVConfig{Path: writeFile(t, "f.csv", tc.content)})
			err := c.Run(context.Background(), func(stocklake.Record) error {
				t.Fatal("emit called")
				return nil
			})
			if !errors.Is(err, stocklake.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrInvalid saying %q", err, tc.want)
			}
		})
	}

	if _, err := NewCSVReplay(CSVConfig{Path: filepath.Join(t.TempDir(), "missing.csv")}); !errors.Is(err, stocklake.ErrNotFound) {
		t.Fatalf("missing file: %v, want ErrNotFound", err)
	}
	for name, cfg := range map[string]CSVConfig{
		"no path":       {},
		"directory":     {Path: t.TempDir()},
		"negative":      {Path: seedSamplePath, Speed: -1},
		"unknown field": {Path: seedSamplePath, Mapping: map[string]string{"bid": "Bid"}},
		"bad comma":     {Path: seedSamplePath, Comma: '"'},
	} {
		if _, err := NewCSVReplay(cfg); !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
	// A mapping to a column the file lacks fails when the header is read.
	c := newCSV(t, CSVConfig{Path: seedSamplePath, Mapping: map[string]string{"close": "Last"}})
	if err := c.Run(context.Background(), func(stocklake.Record) error { return nil }); !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), `close="Last"`) {
		t.Fatalf("bad mapping: %v", err)
	}
}

func TestCSVSpeedAndCancel(t *testing.T) {
	// Three rows one second apart at 20x: at least 100ms.
	path := writeFile(t, "s.csv", "timestamp,symbol,close\n"+
		"2026-11-23T14:30:02Z,A,3\n2026-11-23T14:30:00Z,A,1\n2026-11-23T14:30:01Z,A,2\n")
	start := time.Now()
	recs := collect(t, newCSV(t, CSVConfig{Path: path, Speed: 20}))
	if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
		t.Fatalf("2s of event time at 20x took %v, want >= 100ms", elapsed)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	n := 0
	err := newCSV(t, CSVConfig{Path: path, Speed: 0.001}).Run(ctx, func(stocklake.Record) error { n++; return nil })
	if !errors.Is(err, context.DeadlineExceeded) || n != 1 {
		t.Fatalf("cancelled paced replay: %v after %d records, want DeadlineExceeded after 1", err, n)
	}

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if err := newCSV(t, CSVConfig{Path: seedSamplePath}).Run(ctx, func(stocklake.Record) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled replay: %v", err)
	}

	boom := errors.New("boom")
	if err := newCSV(t, CSVConfig{Path: seedSamplePath}).Run(context.Background(), func(stocklake.Record) error { return boom }); err != boom {
		t.Fatalf("emit error: %v", err)
	}
}

func TestCSVValuesNotReused(t *testing.T) {
	var kept, copies [][]byte
	err := newCSV(t, CSVConfig{Path: seedSamplePath}).Run(context.Background(), func(r stocklake.Record) error {
		kept = append(kept, r.Value)
		copies = append(copies, bytes.Clone(r.Value))
		_ = append(r.Value, "garbage"...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range kept {
		if !bytes.Equal(kept[i], copies[i]) {
			t.Fatalf("value %d changed after emit", i)
		}
	}
}

// writeBenchFile writes n rows in the seed's format, grouped by index.
func writeBenchFile(b *testing.B, n int) string {
	var buf bytes.Buffer
	buf.WriteString("Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD\n")
	indices := []string{"NYA", "IXIC", "HSI", "000001.SS", "N225", "GSPTSE", "NSEI", "GDAXI", "KS11", "SSMI"}
	per := n / len(indices)
	for _, ix := range indices {
		day := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := 0; i < per; i++ {
			p := 1000 + float64(i%5000)*0.731
			fmt.Fprintf(&buf, "%s,%s,%.6f,%.6f,%.6f,%.6f,%.6f,%.1f,%.8f\n", ix, day.AddDate(0, 0, i).Format("2006-01-02"), p, p*1.01, p*0.99, p*1.001, p*1.001, float64(i*1000), p*0.13)
		}
	}
	path := filepath.Join(b.TempDir(), "bench.csv")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

func BenchmarkCSVReplay(b *testing.B) {
	const rows = 100000
	c := newCSV(b, CSVConfig{Path: writeBenchFile(b, rows)})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		if err := c.Run(context.Background(), func(stocklake.Record) error { n++; return nil }); err != nil || n != rows {
			b.Fatalf("%d rows, %v", n, err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// TestCSVReplayBadGzipKeepsCause: a file that looks gzip-compressed but is
// not is refused as invalid input, with gzip's own error kept.
func TestCSVReplayBadGzipKeepsCause(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prices.csv.gz")
	if err := os.WriteFile(path, []byte{0x1f, 0x8b, 0x00, 0x00, 'x', 'y', 'z', 0, 0, 0, 0, 0}, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := NewCSVReplay(CSVConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Run(context.Background(), func(stocklake.Record) error { return nil })
	if !errors.Is(err, stocklake.ErrInvalid) || !errors.Is(err, gzip.ErrHeader) {
		t.Errorf("Run on a broken gzip file: %v, want ErrInvalid wrapping gzip.ErrHeader", err)
	}
}
