package source

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// update regenerates the sample files under testdata/:
//
//	go test ./source -run TestTestdata -update
var update = flag.Bool("update", false, "regenerate the files under testdata/")

const (
	seedSamplePath  = "../testdata/indexProcessed.csv"
	ohlcvSamplePath = "../testdata/ohlcv_sample.csv"
)

// TestTestdata checks that the committed sample files are what the
// generators below produce, and rewrites them with -update.
func TestTestdata(t *testing.T) {
	for path, gen := range map[string]func() []byte{
		seedSamplePath:  genIndexProcessed,
		ohlcvSamplePath: genOHLCVSample,
	} {
		want := gen()
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v; generate it with: go test ./source -run TestTestdata -update", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from its generator; regenerate it with: go test ./source -run TestTestdata -update", filepath.Clean(path))
		}
	}
}

// normal draws a standard normal variate from uniforms only (Irwin-Hall),
// so the samples depend on nothing but the PCG stream, whose output Go
// guarantees.
func normal(r *rand.Rand) float64 {
	s := 0.0
	for i := 0; i < 12; i++ {
		s += r.Float64()
	}
	return s - 6
}

// yahoo formats a price as the seed file does: a float32 printed with six
// decimals (2568.300049).
func yahoo(x float64) string { return fmt.Sprintf("%.6f", float64(float32(x))) }

// genIndexProcessed generates a small file in the columns and formats of
// the seed data set (Kaggle "Stock Exchange Data", indexProcessed.csv):
// five indices of about 250 trading days each, grouped by index as the
// original is, so the rows are not in time order.
func genIndexProcessed() []byte {
	r := rand.New(rand.NewPCG(2021, 6))
	indices := []struct {
		name   string
		level  float64
		vol    float64 // daily volume
		usd    float64 // the seed's fixed conversion rate to USD
		volume bool    // whether volume is reported
	}{
		{"NYA", 12000, 4.0e9, 1, true},
		{"IXIC", 9500, 4.5e9, 1, true},
		{"HSI", 23000, 2.0e9, 0.13, false},
		{"000001.SS", 2900, 3.0e8, 0.15, true},
		{"N225", 22000, 7.0e7, 0.0088, true},
	}
	var b bytes.Buffer
	b.WriteString("Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD\n")
	for _, ix := range indices {
		day := time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC)
		last := ix.level
		for rows := 0; rows < 250; day = day.AddDate(0, 0, 1) {
			if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
				continue
			}
			if r.Float64() < 0.03 { // a holiday on this exchange
				continue
			}
			rows++
			open := last * (1 + 0.003*normal(r))
			close := open * math.Exp(0.012*normal(r))
			high := math.Max(open, close) * (1 + 0.004*math.Abs(normal(r)))
			low := math.Min(open, close) * (1 - 0.004*math.Abs(normal(r)))
			last = close
			volume := 0.0
			if ix.volume {
				volume = math.Round(ix.vol*math.Exp(0.25*normal(r))/1e4) * 1e4
			}
			c32 := float64(float32(close))
			closeUSD := strconv.FormatFloat(math.Round(c32*ix.usd*1e8)/1e8, 'f', -1, 64)
			fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s,%.1f,%s\n", ix.name, day.Format("2006-01-02"),
				yahoo(open), yahoo(high), yahoo(low), yahoo(close), yahoo(close), volume, closeUSD)
		}
	}
	return b.Bytes()
}

// genOHLCVSample generates one-minute bars in a common alternate header,
// grouped by symbol.
func genOHLCVSample() []byte {
	r := rand.New(rand.NewPCG(2026, 11))
	var b bytes.Buffer
	b.WriteString("timestamp,symbol,open,high,low,close,volume\n")
	for _, s := range []struct {
		sym   string
		price float64
	}{{"AAPL", 230}, {"MSFT", 420}, {"SPY", 590}} {
		last := s.price
		start := time.Date(2026, 11, 23, 14, 30, 0, 0, time.UTC)
		for i := 0; i < 30; i++ {
			open := last
			close := open * math.Exp(0.001*normal(r))
			high := math.Max(open, close) * (1 + 0.0005*math.Abs(normal(r)))
			low := math.Min(open, close) * (1 - 0.0005*math.Abs(normal(r)))
			last = close
			volume := int(20000 * math.Exp(0.5*normal(r)))
			fmt.Fprintf(&b, "%s,%s,%.2f,%.2f,%.2f,%.2f,%d\n", start.Add(time.Duration(i)*time.Minute).Format(time.RFC3339),
				s.sym, open, high, low, close, volume)
		}
	}
	return b.Bytes()
}
