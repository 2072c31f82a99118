-- Volume-weighted average price, volume and trade count per symbol and day.
SELECT symbol, dt, sum(price * size) / sum(size) AS vwap, sum(size) AS volume, count(*) AS trades
FROM market.ticks
GROUP BY symbol, dt
ORDER BY symbol, dt
