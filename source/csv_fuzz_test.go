package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stocklake/stocklake"
)

// FuzzCSVReplay feeds arbitrary bytes to CSVReplay as a file, with an
// arbitrary separator and column mapping ("field=Column,field=Column"), and
// checks what CSVReplay documents: it never panics; configuration errors
// wrap ErrConfig and content errors ErrInvalid; every skipped row is
// reported once as a *BadRowError with its line; Rows and BadRows count what
// was emitted and skipped; records come in event-time order (Timestamp zero
// only for times at or before 1970, all of which come first), keyed by a
// non-empty trimmed symbol, with the content-type header, and a value that
// is a flat JSON object whose keys are unique and the same, in the same
// order, in every record. Seeds are in testdata/fuzz/FuzzCSVReplay.
func FuzzCSVReplay(f *testing.F) {
	f.Add([]byte("Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD\nNYA,1965-12-31,528.690002,528.690002,528.690002,528.690002,528.690002,0,528.690002\n"), byte(0), "")
	f.Add([]byte("timestamp;ticker;last\n2026-11-23T14:30:01Z;AAPL;$1.5\n2026-11-23T14:30:00Z;MSFT;NA\n"), byte(';'), "")
	f.Add([]byte("Day\tWhen\tPx\n2020-01-02\t09:30\t1\n"), byte('\t'), "date=Day,time=When,close=Px")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, comma byte, mapping string) {
		fh, err := os.CreateTemp(dir, "FUZZ-*.csv")
		if err != nil {
			t.Fatal(err)
		}
		path := fh.Name()
		defer os.Remove(path)
		if _, err := fh.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := fh.Close(); err != nil {
			t.Fatal(err)
		}
		cfg := CSVConfig{Path: path, Comma: rune(comma), Symbol: "FUZZ"}
		if mapping != "" {
			cfg.Mapping = map[string]string{}
			for _, kv := range strings.Split(mapping, ",") {
				k, v, _ := strings.Cut(kv, "=")
				cfg.Mapping[k] = v
			}
		}
		var bad int
		cfg.OnBadRow = func(line int, err error) {
			bad++
			var be *BadRowError
			if !errors.As(err, &be) || !errors.Is(err, stocklake.ErrInvalid) || be.Line != line || line < 2 || be.Reason == "" {
				t.Fatalf("bad row report (line %d, %v, %T) is not a *BadRowError wrapping ErrInvalid with the line and a reason", line, err, err)
			}
		}
		c, err := NewCSVReplay(cfg)
		if err != nil {
			if !errors.Is(err, stocklake.ErrConfig) {
				t.Fatalf("NewCSVReplay: %v, want ErrConfig", err)
			}
			return
		}

		var (
			n        int64
			keys     []string
			sawAfter bool // a record after 1970
			last     int64
		)
		err = c.Run(context.Background(), func(r stocklake.Record) error {
			n++
			if len(r.Key) == 0 || strings.TrimSpace(string(r.Key)) != string(r.Key) {
				t.Fatalf("record %d: key %q is empty or untrimmed", n, r.Key)
			}
			if len(r.Headers) != 1 || r.Headers[0].Key != "content-type" || string(r.Headers[0].Value) != PriceContentType {
				t.Fatalf("record %d: headers %v", n, r.Headers)
			}
			if r.Timestamp.IsZero() {
				if sawAfter {
					t.Fatalf("record %d: a time at or before 1970 after a later one: not in event-time order", n)
				}
			} else {
				us := r.Timestamp.UnixMicro()
				if us <= 0 || sawAfter && us < last {
					t.Fatalf("record %d: timestamp %v after %v: not in event-time order", n, r.Timestamp, last)
				}
				sawAfter, last = true, us
			}
			k := flatObjectKeys(t, r.Value)
			if keys == nil {
				keys = k
				seen := map[string]bool{}
				for _, name := range k {
					if seen[name] {
						t.Fatalf("record %s has the key %q twice", r.Value, name)
					}
					seen[name] = true
				}
			} else if !slices.Equal(k, keys) {
				t.Fatalf("record %d has keys %q, the first had %q", n, k, keys)
			}
			return nil
		})
		if c.Rows() != n || c.BadRows() != int64(bad) {
			t.Fatalf("Rows %d BadRows %d, emitted %d and reported %d bad", c.Rows(), c.BadRows(), n, bad)
		}
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v after %d records", err, n)
			}
			if !errors.Is(err, stocklake.ErrInvalid) && !(cfg.Mapping != nil && errors.Is(err, stocklake.ErrConfig)) {
				t.Fatalf("Run: %v, want ErrInvalid (or ErrConfig for a mapping)", err)
			}
			return
		}
		if n == 0 {
			t.Fatal("Run returned nil without emitting a record")
		}
	})
}

// flatObjectKeys returns the keys of a JSON object, in order, failing t
// unless v is an object whose values are strings, numbers or null.
func flatObjectKeys(t *testing.T, v []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("value %q is not a JSON object", v)
	}
	keys := []string{}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatalf("value %q: %v", v, err)
		}
		keys = append(keys, k.(string))
		val, err := d.Token()
		if err != nil {
			t.Fatalf("value %q: %v", v, err)
		}
		switch val.(type) {
		case string, json.Number, nil:
		default:
			t.Fatalf("value %q: %q is %v, want a string, number or null", v, k, val)
		}
	}
	if tok, err := d.Token(); err != nil || tok != json.Delim('}') {
		t.Fatalf("value %q does not end the object", v)
	}
	if _, err := d.Token(); err == nil {
		t.Fatalf("value %q has data after the object", v)
	}
	return keys
}

// TestCSVDuplicateHeaderNamesUnique is the regression test for a header
// whose renamed duplicate took the name of another column (found by
// FuzzCSVReplay: a_2,a,a gave two keys "a_2").
func TestCSVDuplicateHeaderNamesUnique(t *testing.T) {
	path := writeFile(t, "dup.csv", "a_2,a,a,Date,,column_5, a ,a\n1,2,3,2020-01-02,4,5,6,7\n")
	recs := collect(t, newCSV(t, CSVConfig{Path: path}))
	_, keys := decode(t, recs[0].Value)
	want := []string{"a_2", "a", "a_3", "Date", "column_5", "column_5_2", "a_4", "a_5"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
}

// TestCSVCorruptGzipIsInvalid is the regression test for damaged
// compressed data reported as a read failure (ErrUnavailable) instead of
// bad input (found by FuzzCSVReplay).
func TestCSVCorruptGzipIsInvalid(t *testing.T) {
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte("Date,Close\n2020-01-02,1\n2020-01-03,2\n"))
	zw.Close()
	b := zb.Bytes()
	for i := 12; i < len(b)-8; i++ {
		b[i] ^= 0x5a
	}
	c := newCSV(t, CSVConfig{Path: writeFile(t, "bad.csv.gz", string(b))})
	err := c.Run(context.Background(), func(stocklake.Record) error { return nil })
	if !errors.Is(err, stocklake.ErrInvalid) || errors.Is(err, stocklake.ErrUnavailable) {
		t.Fatalf("corrupt gzip: %v, want ErrInvalid", err)
	}
}
