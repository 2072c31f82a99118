-- The seed's analysis: average close per index, over the JSON lines the
-- seed's producer/consumer flow lands in the lake.
SELECT index, avg(close) AS avg_close, count(*) AS days
FROM market.prices
GROUP BY index
ORDER BY index
