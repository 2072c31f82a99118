-- The seed's analysis: open, high, low and close per index and year.
SELECT index, year(date) AS year,
       min_by(open, date) AS open, max(high) AS high, min(low) AS low, max_by(close, date) AS close
FROM market.prices
GROUP BY index, year(date)
ORDER BY index, year
