-- Trino date/time functions: trades per hour on two days, by day of week.
-- (On Trino, run with session time zone UTC: to_unixtime reads a timestamp
-- in the session zone.)
SELECT date_format(date_trunc('hour', ts), '%Y-%m-%d %H:%i') AS hour_start,
       day_of_week(ts) AS dow,
       count(*) AS trades,
       approx_distinct(symbol) AS symbols,
       to_unixtime(date_trunc('hour', ts)) AS epoch_s
FROM market.ticks
WHERE dt BETWEEN '2026-11-23' AND '2026-11-24'
GROUP BY 1, 2, 5
ORDER BY 1
