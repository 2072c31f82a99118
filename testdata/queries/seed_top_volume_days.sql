-- The seed's analysis: the ten days with the highest traded volume.
SELECT index, date, volume
FROM market.prices
ORDER BY volume DESC, index, date
LIMIT 10
