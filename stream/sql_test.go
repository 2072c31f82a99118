package stream

import (
	"database/sql"
	"math/rand/v2"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/stocklake/stocklake"
)

// candleSQL computes candles of :w microseconds the way the package
// documentation describes, in SQLite (which has no arg_min: open and close
// come from row_number over (ts, trade_id)). SQLite's sum() of floats is
// compensated (Kahan-Babuska-Neumaier) since 3.43.
const candleSQL = `
WITH t AS (
  SELECT symbol, (ts / :w) * :w AS start, ts, trade_id, price, size,
         row_number() OVER (PARTITION BY symbol, ts / :w ORDER BY ts, trade_id) AS first_rn,
         row_number() OVER (PARTITION BY symbol, ts / :w ORDER BY ts DESC, trade_id DESC) AS last_rn
  FROM ticks)
SELECT symbol, start,
       max(CASE WHEN first_rn = 1 THEN price END) AS open,
       max(price) AS high,
       min(price) AS low,
       max(CASE WHEN last_rn = 1 THEN price END) AS close,
       sum(size) AS volume,
       CASE WHEN sum(size) > 0 THEN sum(price * size) / sum(size)
            ELSE max(CASE WHEN last_rn = 1 THEN price END) END AS vwap,
       count(*) AS trades,
       min(ts) AS first_time,
       max(ts) AS last_time
FROM t GROUP BY symbol, start ORDER BY symbol, start`

// TestBarsEqualSQLCandles checks that final bars from out-of-order ticks
// equal, field for field and bit for bit, candles computed by SQL over the
// same ticks.
func TestBarsEqualSQLCandles(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE ticks (symbol TEXT, ts INTEGER, trade_id TEXT, price REAL, size REAL)`); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	ticks := randomTicks(rng, 5, 6000, 10*time.Minute)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range ticks {
		if _, err := tx.Exec(`INSERT INTO ticks VALUES (?, ?, ?, ?, ?)`, tk.Symbol, tk.Time.UnixMicro(), tk.TradeID, tk.Price, tk.Size); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	sizes := []time.Duration{time.Second, time.Minute}
	got := runBars(t, Config{Windows: sizes, Delay: 2 * time.Second}, shuffleWithin(rng, ticks, 2*time.Second))
	n := 0
	for _, w := range sizes {
		rows, err := db.Query(candleSQL, sql.Named("w", w.Microseconds()))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var c stocklake.Bar
			var start, first, last int64
			if err := rows.Scan(&c.Symbol, &start, &c.Open, &c.High, &c.Low, &c.Close, &c.Volume, &c.VWAP, &c.Trades, &first, &last); err != nil {
				t.Fatal(err)
			}
			c.Window, c.Start, c.Final = w, time.UnixMicro(start).UTC(), true
			c.FirstTime, c.LastTime = time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC()
			k := refKey{c.Symbol, w, start}
			if got[k] != c {
				t.Errorf("bar %v\n got %+v\n sql %+v", k, got[k], c)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	if n != len(got) || n < 2000 {
		t.Fatalf("SQL gave %d candles, the engine %d bars", n, len(got))
	}
}
