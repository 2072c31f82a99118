package source

import (
	"fmt"
	"testing"

	"github.com/stocklake/stocklake"
)

// benchFeedFrames measures decoding, normalisation, duplicate detection
// and encoding of trade frames, without a network.
func benchFeedFrames(b *testing.B, name string, cfg FeedConfig, frame func(i int) []byte) {
	f, err := NewFeed(name, cfg)
	if err != nil {
		b.Fatal(err)
	}
	r := &feedRun{f: f, emit: func(stocklake.Record) error { return nil }, symbols: map[string]*feedSymbol{}}
	s := &feedSession{r: r, f: f}
	frames := make([][]byte, b.N) // all distinct: no trade is a duplicate
	for i := range frames {
		frames[i] = frame(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := f.proto.frame(s, frames[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if st := f.Stats(); st.Malformed != 0 || st.Duplicates != 0 || st.Trades != int64(b.N) {
		b.Fatalf("stats %+v after %d frames, want every frame to give one tick", st, b.N)
	}
}

func BenchmarkFeedBinanceTrade(b *testing.B) {
	benchFeedFrames(b, BinanceType, FeedConfig{Symbols: []string{"btcusdt"}}, func(i int) []byte {
		return fmt.Appendf(nil, `{"stream":"btcusdt@trade","data":{"e":"trade","E":1764340200125,"s":"BTCUSDT","t":%d,"p":"97123.%02d000000","q":"0.00120000","b":88,"a":50,"T":1764340200123,"m":true,"M":true}}`, i+1, i%100)
	})
}

func BenchmarkFeedAlpacaTrade(b *testing.B) {
	benchFeedFrames(b, AlpacaType, FeedConfig{Symbols: []string{"AAPL"}, Key: "k", Secret: "s"}, func(i int) []byte {
		return fmt.Appendf(nil, `[{"T":"t","i":%d,"S":"AAPL","x":"D","p":126.%02d,"s":100,"t":"2021-02-22T15:51:44.208123456Z","c":["@","I"],"z":"C"}]`, i+1, i%100)
	})
}

func BenchmarkFeedPolygonTrade(b *testing.B) {
	benchFeedFrames(b, PolygonType, FeedConfig{Symbols: []string{"AAPL"}, Key: "k"}, func(i int) []byte {
		return fmt.Appendf(nil, `[{"ev":"T","sym":"AAPL","i":"%d","x":4,"p":189.%02d,"s":100,"c":[12,37],"t":1764340200123,"q":%d,"z":3}]`, 52983525029461+i, i%100, i+1)
	})
}

func BenchmarkFeedFinnhubTrade(b *testing.B) {
	benchFeedFrames(b, FinnhubType, FeedConfig{Symbols: []string{"AAPL"}, Key: "k"}, func(i int) []byte {
		return fmt.Appendf(nil, `{"data":[{"c":["1","12"],"p":129.%02d,"s":"AAPL","t":%d,"v":1}],"type":"trade"}`, i%100, 1672348887666+i)
	})
}
