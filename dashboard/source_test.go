package dashboard

import (
	"context"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
	"github.com/stocklake/stocklake/stream"
)

// TestSources feeds boards from an embedded broker: KafkaSource from bar and
// alert topics, TickSource from ticks.
func TestSources(t *testing.T) {
	kc := testBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := kafka.NewProducer(kc, kafka.ProducerConfig{Topic: "ticks"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	ind := stocklake.Indicators{Bars: 1}
	for i := range 3 {
		b := testBar("AAPL", i, true)
		if err := p.Produce(ctx, stocklake.Record{Topic: "bars.1m", Key: []byte("AAPL"), Value: b.AppendJSON(nil, &ind)}); err != nil {
			t.Fatal(err)
		}
		tick := stocklake.Tick{Symbol: "MSFT", Time: t0.Add(time.Duration(i) * 30 * time.Second), Price: 400 + float64(i), Size: 10, TradeID: string(rune('a' + i)), Source: "test"}
		if err := p.Produce(ctx, stocklake.Record{Key: []byte("MSFT"), Value: tick.AppendJSON(nil)}); err != nil {
			t.Fatal(err)
		}
	}
	a := stocklake.Alert{Rule: "r1", Symbol: "AAPL", Kind: stocklake.AlertCross, Message: "crossed", Time: t0}
	if err := p.Produce(ctx, stocklake.Record{Topic: "alerts", Key: []byte("AAPL"), Value: a.AppendJSON(nil)}); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	bars := NewBoard(0, 0)
	go (&KafkaSource{Kafka: kc, Windows: []time.Duration{time.Minute}}).Run(ctx, bars)
	ticks := NewBoard(0, 0)
	go (&TickSource{Kafka: kc, Stream: streamConfigMinute()}).Run(ctx, ticks)
	for ctx.Err() == nil && (len(bars.Bars("AAPL", time.Minute, 0)) < 3 || len(bars.Alerts("", 0)) < 1 || len(ticks.Bars("MSFT", time.Minute, 0)) < 2) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(bars.Bars("AAPL", time.Minute, 0)); n != 3 {
		t.Errorf("KafkaSource: %d AAPL bars, want 3", n)
	}
	if n := len(bars.Alerts("AAPL", 0)); n != 1 {
		t.Errorf("KafkaSource: %d alerts, want 1", n)
	}
	// Ticks at 0s, 30s and 60s: the first minute's bar (2 ticks) and the open second minute.
	got := ticks.Symbols()
	if len(got) != 1 || got[0].Symbol != "MSFT" || got[0].Last != 402 || got[0].Trades != 3 || got[0].Volume != 30 {
		t.Errorf("TickSource board = %+v, want MSFT last 402 with 3 trades, volume 30", got)
	}
}

func streamConfigMinute() (c stream.Config) {
	c.Windows = []time.Duration{time.Minute}
	return c
}
