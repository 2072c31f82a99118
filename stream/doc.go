// Package stream turns ticks into bars, indicators and alerts on event time.
// It is the pure computation core of live analytics: no Kafka, no clocks, no
// goroutines. The caller feeds ticks with the Kafka partition they came from,
// calls AdvanceTo when input goes idle, hands on what lands in an Output, and
// checkpoints the Engine with Snapshot.
//
// # Windows and watermarks
//
// Every symbol has, for each configured window size w, tumbling windows
// [start, start+w) with start = floor(ts/w)*w on the Unix epoch in UTC (for w
// dividing a day that equals SQL's date_trunc / time_bucket; a 7-day window
// starts on a Thursday). Event time is the tick's Time in microseconds.
//
// Each input partition tracks the maximum event time it has seen. The
// watermark W is the minimum of those maxima over the partitions that have
// data, minus Config.Delay, and never moves back. AdvanceTo(t) raises W to at
// least t, so windows close when partitions go idle. A partition that lags
// holds W back for all partitions, as in Flink.
//
// A window [start, end) of size w is:
//   - open while W < end: ticks update it; provisional bars may be emitted;
//   - on time when W >= end: with Config.Lateness > 0 and provisional bars
//     enabled, a provisional bar is emitted once (if the window changed since
//     the last one); late ticks still update it;
//   - closed when W >= end + Config.Lateness: its one Final bar is emitted and
//     its state dropped.
//
// A tick whose window of some size is already closed (end + Lateness <= W
// when the tick arrives) is late for that size: it is left out of that bar,
// counted for its symbol, and returned in Output.Late with the sizes it
// missed, never dropped silently. It still counts in the bars of the other
// sizes whose windows are open. Exactly one Final bar is emitted per symbol,
// window size and window that received a tick.
//
// # Bars and SQL
//
// A Final bar equals, field for field, the candle SQL computes over the same
// (non-late) ticks; in DuckDB, with W the window in microseconds:
//
//	SELECT symbol,
//	       make_timestamp(epoch_us(ts) // W * W)     AS start,
//	       arg_min(price, (ts, trade_id))             AS open,
//	       max(price)                                 AS high,
//	       min(price)                                 AS low,
//	       arg_max(price, (ts, trade_id))             AS close,
//	       fsum(size)                                 AS volume,
//	       CASE WHEN sum(size) > 0 THEN fsum(price * size) / fsum(size)
//	            ELSE arg_max(price, (ts, trade_id)) END AS vwap,
//	       count(*)                                   AS trades,
//	       min(ts) AS first_time, max(ts) AS last_time
//	FROM ticks GROUP BY ALL
//
// (The package tests run the equivalent query in SQLite, which lacks
// arg_min, with row_number() over (ts, trade_id), and compare bit for bit.)
//
// Open and close are by event time, not arrival: open is the tick with the
// smallest (ts, trade_id), close the one with the largest, comparing trade
// IDs as strings byte by byte (as SQL compares VARCHAR with its default
// binary collation; "10" < "9"). Exact duplicates (same symbol, ts and
// trade_id) are all counted; open takes the first of them to arrive and close
// the last. Volume and the VWAP numerator sum float64 values (price*size
// rounded to float64, as SQL computes it) with double-double (TwoSum)
// accumulation, so bars do not depend on arrival order and equal a correctly
// rounded sum: SQL's compensated sums (DuckDB fsum, SQLite sum) give the same
// bits, a naive sum() may differ in the last places. VWAP is the close when
// volume is 0.
//
// # Indicators and alerts
//
// Every Final bar carries stocklake.Indicators over the symbol's successive
// final bars of that size. Alert rules (see Rule and ParseRules) are
// evaluated on every tick (cross without a window) or on every final bar of
// their window; cooldowns are measured in event time.
//
// # Determinism and checkpoints
//
// Output depends only on the sequence of calls (Process, AdvanceTo) and their
// arguments, never on wall-clock time or map order. Snapshot serializes the
// whole state; Restore into an Engine with the same Config and continuing
// gives the same output as an uninterrupted run. State is kept per input
// partition (a symbol seen on two partitions has two independent states, so
// key the input by symbol), and SnapshotPartition / RestorePartition move one
// partition's state alone, for consumers that are assigned partitions.
//
// An Engine is not safe for concurrent use.
package stream
