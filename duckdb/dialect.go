package duckdb

import "strings"

// Trino SQL on DuckDB. Athena users write Trino SQL; most of it is valid
// DuckDB, and the rest is bridged here by macros created when the engine
// starts. A macro may shadow a DuckDB built-in of the same name (DuckDB
// resolves user macros first); the built-in stays reachable as
// system.main.NAME. docs/sql.md lists what is bridged and what is not.
//
// DuckDB wants the format of strftime and strptime to be a constant, which
// a macro cannot pass on, so date_format, date_parse, format_datetime and
// parse_datetime calls with a literal format are rewritten in the
// statement's text instead: the function becomes strftime or strptime and
// the format is translated (see formatCall).

// dateAdd is Trino's date_add(unit, value, timestamp); DuckDB's own
// date_add(date, interval) keeps working.
const dateAdd = `CREATE OR REPLACE MACRO date_add(a, b) AS system.main.date_add(a, b),
  (u, n, x) AS x + CASE lower(u)
    WHEN 'millisecond' THEN to_milliseconds(CAST(n AS DOUBLE))
    WHEN 'second' THEN to_seconds(CAST(n AS DOUBLE))
    WHEN 'minute' THEN to_minutes(CAST(n AS BIGINT))
    WHEN 'hour' THEN to_hours(CAST(n AS BIGINT))
    WHEN 'day' THEN to_days(CAST(n AS INTEGER))
    WHEN 'week' THEN to_days(CAST(n AS INTEGER) * 7)
    WHEN 'month' THEN to_months(CAST(n AS INTEGER))
    WHEN 'quarter' THEN to_months(CAST(n AS INTEGER) * 3)
    WHEN 'year' THEN to_years(CAST(n AS INTEGER))
    ELSE error('date_add: unit ' || u || ' is not one of millisecond, second, minute, hour, day, week, month, quarter, year') END`

// macros are run in order on a new engine.
var macros = []string{
	dateAdd,
	// Date and time.
	`CREATE OR REPLACE MACRO from_unixtime(x) AS make_timestamp(CAST(round(CAST(x AS DOUBLE) * 1000000) AS BIGINT))`,
	`CREATE OR REPLACE MACRO to_unixtime(x) AS epoch(x)`,
	`CREATE OR REPLACE MACRO date_diff(u, a, b) AS system.main.date_sub(u, a, b)`,
	`CREATE OR REPLACE MACRO from_iso8601_timestamp(s) AS CAST(CAST(s AS TIMESTAMPTZ) AS TIMESTAMP)`,
	`CREATE OR REPLACE MACRO from_iso8601_date(s) AS CAST(s AS DATE)`,
	`CREATE OR REPLACE MACRO to_iso8601(x) AS strftime(CAST(x AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%g')`,
	`CREATE OR REPLACE MACRO day_of_week(x) AS isodow(x)`,
	`CREATE OR REPLACE MACRO dow(x) AS isodow(x)`,
	`CREATE OR REPLACE MACRO day_of_month(x) AS dayofmonth(x)`,
	`CREATE OR REPLACE MACRO day_of_year(x) AS dayofyear(x)`,
	`CREATE OR REPLACE MACRO doy(x) AS dayofyear(x)`,
	`CREATE OR REPLACE MACRO week_of_year(x) AS weekofyear(x)`,
	`CREATE OR REPLACE MACRO year_of_week(x) AS isoyear(x)`,
	`CREATE OR REPLACE MACRO yow(x) AS isoyear(x)`,
	`CREATE OR REPLACE MACRO millisecond(x) AS CAST(system.main.millisecond(x) % 1000 AS BIGINT)`,
	`CREATE OR REPLACE MACRO last_day_of_month(x) AS last_day(x)`,
	`CREATE OR REPLACE MACRO current_timezone() AS 'UTC'`,
	`CREATE OR REPLACE MACRO with_timezone(x, tz) AS timezone(tz, CAST(x AS TIMESTAMP))`,
	`CREATE OR REPLACE MACRO at_timezone(x, tz) AS timezone(tz, x)`,
	// Aggregates.
	// DuckDB's HyperLogLog is off even for a handful of values (3 counted
	// as 2), where Trino's sparse sketch is exact; count exactly instead.
	`CREATE OR REPLACE MACRO approx_distinct(x) AS count(DISTINCT x), (x, e) AS count(DISTINCT x)`,
	`CREATE OR REPLACE MACRO approx_percentile(x, p) AS approx_quantile(x, p)`,
	`CREATE OR REPLACE MACRO every(x) AS bool_and(x)`,
	// Strings, regular expressions, JSON.
	`CREATE OR REPLACE MACRO regexp_like(s, p) AS regexp_matches(s, p)`,
	`CREATE OR REPLACE MACRO regexp_replace(s, p) AS system.main.regexp_replace(s, p, '', 'g'),
	  (s, p, r) AS system.main.regexp_replace(s, p, system.main.regexp_replace(r, '\$(\d)', '\\\1', 'g'), 'g')`,
	`CREATE OR REPLACE MACRO codepoint(s) AS unicode(s)`,
	`CREATE OR REPLACE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)`,
	`CREATE OR REPLACE MACRO json_format(j) AS CAST(j AS VARCHAR)`,
	`CREATE OR REPLACE MACRO json_parse(s) AS json(s)`,
	// Arrays and maps.
	`CREATE OR REPLACE MACRO cardinality(x) AS len(x)`,
	`CREATE OR REPLACE MACRO array_join(a, sep) AS array_to_string(a, sep)`,
	`CREATE OR REPLACE MACRO array_max(a) AS list_max(a)`,
	`CREATE OR REPLACE MACRO array_min(a) AS list_min(a)`,
	`CREATE OR REPLACE MACRO element_at(a, i) AS list_extract(a, i)`,
	`CREATE OR REPLACE MACRO slice(a, start, n) AS list_slice(a, start, start + n - 1)`,
	`CREATE OR REPLACE MACRO sequence(a, b) AS generate_series(a, b), (a, b, s) AS generate_series(a, b, s)`,
	// Math.
	`CREATE OR REPLACE MACRO truncate(x) AS trunc(x)`,
	`CREATE OR REPLACE MACRO is_nan(x) AS isnan(x)`,
	`CREATE OR REPLACE MACRO is_finite(x) AS isfinite(x)`,
	`CREATE OR REPLACE MACRO is_infinite(x) AS isinf(x)`,
	`CREATE OR REPLACE MACRO nan() AS CAST('NaN' AS DOUBLE)`,
	`CREATE OR REPLACE MACRO infinity() AS CAST('Infinity' AS DOUBLE)`,
}

// formatFuncs maps Trino's formatting functions to DuckDB's and the
// translation of their format argument.
var formatFuncs = map[string]struct {
	duck      string
	translate func(string) string
}{
	"date_format":     {"strftime", mysqlFormat},
	"date_parse":      {"strptime", mysqlFormat},
	"format_datetime": {"strftime", jodaFormat},
	"parse_datetime":  {"strptime", jodaFormat},
}

// mysqlSpecs maps the MySQL-style specifiers of Trino's date_format and
// date_parse to strftime's.
var mysqlSpecs = map[byte]string{
	'a': "%a", 'b': "%b", 'c': "%-m", 'd': "%d", 'e': "%-d", 'f': "%f", 'H': "%H", 'h': "%I",
	'I': "%I", 'i': "%M", 'j': "%j", 'k': "%-H", 'l': "%-I", 'M': "%B", 'm': "%m", 'p': "%p",
	'r': "%I:%M:%S %p", 'S': "%S", 's': "%S", 'T': "%H:%M:%S", 'v': "%V", 'W': "%A", 'w': "%w",
	'Y': "%Y", 'y': "%y", '%': "%%",
}

// mysqlFormat translates a date_format/date_parse format to strftime's.
func mysqlFormat(f string) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 == len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		if s, ok := mysqlSpecs[f[i]]; ok {
			b.WriteString(s)
		} else {
			b.WriteByte(f[i]) // MySQL prints unknown specifiers without the %
		}
	}
	return b.String()
}

// jodaFormat translates a Joda-Time pattern (format_datetime,
// parse_datetime) to strftime's.
func jodaFormat(f string) string {
	var b strings.Builder
	for i := 0; i < len(f); {
		c := f[i]
		if c == '\'' { // quoted literal text; '' is a quote
			j := i + 1
			for j < len(f) {
				if f[j] == '\'' {
					if j+1 < len(f) && f[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				if f[j] == '%' {
					b.WriteString("%%")
				} else {
					b.WriteByte(f[j])
				}
				j++
			}
			if j == i+1 && j < len(f) { // '' outside quotes
				b.WriteByte('\'')
			}
			i = j + 1
			continue
		}
		n := 1
		for i+n < len(f) && f[i+n] == c {
			n++
		}
		i += n
		switch c {
		case 'y', 'Y', 'x':
			if n == 2 {
				b.WriteString("%y")
			} else {
				b.WriteString("%Y")
			}
		case 'M':
			b.WriteString([]string{"%-m", "%m", "%b", "%B"}[min(n, 4)-1])
		case 'd':
			b.WriteString([]string{"%-d", "%d"}[min(n, 2)-1])
		case 'H':
			b.WriteString([]string{"%-H", "%H"}[min(n, 2)-1])
		case 'h':
			b.WriteString([]string{"%-I", "%I"}[min(n, 2)-1])
		case 'm':
			b.WriteString([]string{"%-M", "%M"}[min(n, 2)-1])
		case 's':
			b.WriteString([]string{"%-S", "%S"}[min(n, 2)-1])
		case 'S':
			if n > 3 {
				b.WriteString("%f")
			} else {
				b.WriteString("%g")
			}
		case 'E':
			if n >= 4 {
				b.WriteString("%A")
			} else {
				b.WriteString("%a")
			}
		case 'a':
			b.WriteString("%p")
		case 'D':
			b.WriteString("%j")
		case 'Z':
			b.WriteString("%z")
		case 'z':
			b.WriteString("%Z")
		case '%':
			b.WriteString(strings.Repeat("%%", n))
		default:
			b.WriteString(strings.Repeat(string(c), n))
		}
	}
	return b.String()
}
