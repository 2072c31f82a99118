-- The last traded price of each symbol, and when.
SELECT symbol, max_by(price, ts) AS last_price, max(ts) AS last_time
FROM market.ticks
GROUP BY symbol
ORDER BY symbol
