-- The seed's analysis: daily range (High - Low) / Open per index, as volatility.
SELECT index, avg((high - low) / open) AS avg_range, max((high - low) / open) AS max_range
FROM market.prices
GROUP BY index
ORDER BY avg_range DESC
