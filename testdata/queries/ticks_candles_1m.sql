-- One-minute OHLCV candles for one symbol and hour; the filter on the
-- partition keys dt and hour reads one file.
SELECT symbol, date_trunc('minute', ts) AS minute,
       min_by(price, ts) AS open, max(price) AS high, min(price) AS low, max_by(price, ts) AS close,
       sum(size) AS volume, count(*) AS trades
FROM market.ticks
WHERE dt = '2026-11-24' AND hour = '15' AND symbol = 'MSFT'
GROUP BY symbol, date_trunc('minute', ts)
ORDER BY minute
