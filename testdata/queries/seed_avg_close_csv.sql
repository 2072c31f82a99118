-- The same average close per index, read from the seed's original CSV file.
SELECT index, avg(close) AS avg_close, count(*) AS days
FROM market.seed_csv
GROUP BY index
ORDER BY index
