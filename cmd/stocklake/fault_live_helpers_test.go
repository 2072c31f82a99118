package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/kafka"
)

// The compaction fault cases (TestFaultCompactKillIntegration,
// TestFaultIcebergMaintainKillIntegration) kill a compactor while a sink
// lands live ticks and a reader loop judges every count it reads; these
// are their shared parts.

// faultTick is the i-th tick of a live feed, at event time ts: 30
// symbols, trade ID i.
func faultTick(i int, ts time.Time) stocklake.Tick {
	return stocklake.Tick{Symbol: fmt.Sprintf("S%02d", i%30), Time: ts, Price: float64(i%5000)/10 + 1, Size: 1,
		Exchange: "XNAS", TradeID: strconv.Itoa(i), Source: "fault"}
}

// liveTicks is a feed of ticks into a topic, paced in real time.
type liveTicks struct {
	prod *kafka.Producer
	// sent counts every tick before it is produced, so a reader's count
	// above its value once the read has returned is a row read twice
	// (countJudge).
	sent atomic.Int64
	// done receives the feed's end: nil once every tick is flushed.
	done chan error
}

// startLiveTicks creates topic (3 partitions) and produces n ticks to it
// in the background, rate a second, tick i (faultTick) at event time
// 2026-10-01 00:00 UTC + i*step. The caller closes prod.
func startLiveTicks(t *testing.T, ctx context.Context, brokers, topic string, n, rate int, step time.Duration) *liveTicks {
	t.Helper()
	prod, err := kafka.NewProducer(kafka.Config{Brokers: strings.Split(brokers, ",")}, kafka.ProducerConfig{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(prod.Client()).CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		prod.Close(ctx)
		t.Fatal(err)
	}
	lt := &liveTicks{prod: prod, done: make(chan error, 1)}
	go func() {
		base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
		start := time.Now()
		for i := range n {
			if i%rate == 0 {
				time.Sleep(time.Until(start.Add(time.Duration(i/rate) * time.Second)))
			}
			tk := faultTick(i, base.Add(time.Duration(i)*step))
			lt.sent.Add(1)
			if err := prod.Produce(ctx, stocklake.Record{Key: []byte(tk.Symbol), Value: tk.AppendJSON(nil)}); err != nil {
				lt.done <- err
				return
			}
		}
		lt.done <- prod.Flush(ctx)
	}()
	return lt
}

// countJudge judges the counts a reader loop reads while a feed runs.
type countJudge struct {
	sent *atomic.Int64 // the feed's ticks sent (liveTicks.sent)
	last int64         // the count read before
}

// read runs query, a count of rows and of distinct trades, and judges it
// (judgeCount) against the ticks sent once query has returned: every row
// it read was produced before that, and so counted. The ticks sent when it
// started are no bound: ticks sent while it runs land and are counted (the
// feed sends each second's ticks in one burst, and a query through
// `stocklake query` takes about a second); such a bound once took 40,500
// rows, 40,500 distinct trades, for a double read with 39,000 sent. A
// query error is returned as is, with no judgement.
func (j *countJudge) read(query func() (rows, distinct int64, err error)) (rows int64, bad string, err error) {
	before := j.sent.Load()
	rows, distinct, err := query()
	if err != nil {
		return 0, "", err
	}
	bound := j.sent.Load()
	if bad = judgeCount(rows, distinct, bound, &j.last); bad != "" {
		bad = fmt.Sprintf("%s (%d rows, %d distinct; %d ticks sent when the read started, %d when it returned)", bad, rows, distinct, before, bound)
	}
	return rows, bad, nil
}

// judgeCount judges a reader's count of rows (distinct of them distinct
// trades) against bound ticks sent and the count it read before (*last,
// then set to rows): "" if it is possible, else what is wrong.
func judgeCount(rows, distinct, bound int64, last *int64) string {
	prev := *last
	*last = rows
	switch {
	case rows > bound:
		return fmt.Sprintf("count %d above the %d ticks sent", rows, bound)
	case rows < prev:
		return fmt.Sprintf("count went down from %d to %d", prev, rows)
	case distinct != rows:
		return fmt.Sprintf("%d rows but %d distinct trades", rows, distinct)
	}
	return ""
}

// readerLoop reads a table over and over in the background.
type readerLoop struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	reads int      // answers judged
	bad   []string // the bad ones
}

// startReaderLoop calls read, pausing pause after each call, until stop;
// read returns what is wrong with its answer ("" if nothing), ok false
// when it had no answer to judge.
func startReaderLoop(pause time.Duration, read func() (bad string, ok bool)) *readerLoop {
	r := &readerLoop{stopc: make(chan struct{})}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			select {
			case <-r.stopc:
				return
			case <-time.After(pause):
			}
			bad, ok := read()
			if !ok {
				continue
			}
			r.reads++
			if bad != "" {
				r.bad = append(r.bad, bad)
			}
		}
	}()
	return r
}

// stop ends the loop and fails t if any answer was bad.
func (r *readerLoop) stop(t *testing.T, what string) {
	t.Helper()
	close(r.stopc)
	r.wg.Wait()
	t.Logf("reader loop: %d %s", r.reads, what)
	if len(r.bad) > 0 {
		t.Fatalf("reader loop: %d bad answers of %d, e.g. %s", len(r.bad), r.reads, r.bad[0])
	}
}

// startHeldCompactor starts a compactor (args: compact or maintain) and
// waits until it holds a compaction step (under faultCompactDelayEnv).
func startHeldCompactor(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	c := startProc(t, name, false, env, args...)
	deadline := time.Now().Add(time.Minute)
	for !c.logContains("compaction step held") {
		if !c.running() || time.Now().After(deadline) {
			t.Fatalf("%s never started a compaction (running %v)", name, c.running())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

// TestCountJudgeBoundAfterRead: ticks sent and landed while a read runs
// are no double read, whereas a count above the ticks sent once it has
// returned, fewer distinct trades than rows, or a count going down are.
func TestCountJudgeBoundAfterRead(t *testing.T) {
	var sent atomic.Int64
	sent.Store(39_000)
	j := &countJudge{sent: &sent}
	answer := func(rows, distinct, sentDuring int64) func() (int64, int64, error) {
		return func() (int64, int64, error) {
			sent.Add(sentDuring)
			return rows, distinct, nil
		}
	}
	// The feed's next burst of 1,500 is sent and lands during the query.
	if _, bad, err := j.read(answer(40_500, 40_500, 1_500)); bad != "" || err != nil {
		t.Fatalf("ticks sent during the read judged bad: %q, %v", bad, err)
	}
	for _, c := range []struct {
		name                   string
		rows, distinct, during int64
		want                   string
	}{
		{"a trade read twice", 40_600, 40_500, 100, "40600 rows but 40500 distinct trades"},
		{"count went down", 40_000, 40_000, 0, "count went down from 40600 to 40000"},
		{"above the ticks sent once it returned", 42_001, 42_001, 0, "count 42001 above the 40600 ticks sent"},
	} {
		if _, bad, _ := j.read(answer(c.rows, c.distinct, c.during)); !strings.HasPrefix(bad, c.want) {
			t.Errorf("%s: judged %q, want %q", c.name, bad, c.want)
		}
	}
	if _, _, err := j.read(func() (int64, int64, error) { return 0, 0, errors.New("boom") }); err == nil {
		t.Error("a failed query was not returned as an error")
	}
}
