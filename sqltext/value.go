package sqltext

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/stocklake/stocklake"
)

// The text form of Trino values: FormatValue writes it (the query
// results kept in the lake, the CLI's tables), ParseValue reads it back
// (those results, Athena's answers, the values the Trino client hands over
// as text).

// FormatValue renders a value as text the way Trino's CLI does: timestamps
// as "2026-11-26 14:05:01.123" with the type's precision, dates as
// "2026-11-26", doubles without exponent for ordinary magnitudes, arrays,
// maps and rows as JSON, varbinary in hex. NULL is "".
func FormatValue(v any, typ string) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return formatFloat(x)
	case []byte:
		return fmt.Sprintf("%x", x)
	case time.Time:
		return formatTime(x, typ)
	case int:
		return strconv.Itoa(x)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case float32:
		return formatFloat(float64(x))
	}
	b, err := json.Marshal(JSONValue(v, ""))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.FormatFloat(f, 'E', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// precision reads p from "timestamp(p)..." (3 when absent).
func precision(typ string) int {
	if i := strings.IndexByte(typ, '('); i > 0 {
		if j := strings.IndexByte(typ[i:], ')'); j > 0 {
			if p, err := strconv.Atoi(typ[i+1 : i+j]); err == nil {
				return p
			}
		}
	}
	return 3
}

func formatTime(t time.Time, typ string) string {
	t = t.UTC()
	switch {
	case typ == "date":
		return t.Format("2006-01-02")
	case strings.HasPrefix(typ, "time") && !strings.HasPrefix(typ, "timestamp"):
		return t.Format("15:04:05") + fraction(t, precision(typ))
	}
	s := t.Format("2006-01-02 15:04:05") + fraction(t, precision(typ))
	if strings.Contains(typ, "with time zone") {
		s += " UTC"
	}
	return s
}

func fraction(t time.Time, p int) string {
	if p <= 0 {
		return ""
	}
	ns := fmt.Sprintf("%09d", t.Nanosecond())
	return "." + ns[:min(p, 9)]
}

// JSONValue converts a value for encoding/json: times as formatted text,
// non-finite doubles as strings, varbinary as base64.
func JSONValue(v any, typ string) any {
	switch x := v.(type) {
	case time.Time:
		return formatTime(x, typ)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return formatFloat(x)
		}
		return x
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = JSONValue(x[i], "")
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = JSONValue(e, "")
		}
		return out
	}
	return v
}

// baseType is the lower-case name a Trino type starts with: "timestamp"
// for "timestamp(3) with time zone", "array" for "array(bigint)".
func baseType(typ string) string {
	typ = strings.ToLower(strings.TrimSpace(typ))
	if i := strings.IndexAny(typ, "( "); i >= 0 {
		typ = typ[:i]
	}
	return typ
}

// ParseValue reads the text of a value of Trino (or Athena) type typ as
// the Go value stocklake.Rows promise for it: int64 for the integer types
// (tinyint to bigint, Athena's int), float64 for double, real and float
// (NaN, Infinity and -Infinity too), bool, time.Time for date, time and
// timestamp with or without a time zone (values without one are UTC),
// []byte for varbinary written in hex (spaces between bytes allowed). Any
// other type, decimal, varchar, array, map and row among them, is kept as
// its text. An error wraps stocklake.ErrInvalid.
func ParseValue(s, typ string) (any, error) {
	switch baseType(typ) {
	case "boolean":
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean: %w", s, stocklake.ErrInvalid)
		}
		return b, nil
	case "tinyint", "smallint", "integer", "int", "bigint":
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer: %w", s, stocklake.ErrInvalid)
		}
		return n, nil
	case "real", "float", "double":
		f, err := strconv.ParseFloat(s, 64) // also reads NaN, Infinity, -Infinity
		if err != nil {
			return nil, fmt.Errorf("%q is not a number: %w", s, stocklake.ErrInvalid)
		}
		return f, nil
	case "date", "time", "timestamp":
		return ParseTime(s)
	case "varbinary":
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			return nil, fmt.Errorf("%q is not hex bytes: %w", s, stocklake.ErrInvalid)
		}
		return b, nil
	}
	return s, nil
}

// ParseFormatted reads back what FormatValue wrote for a value of type
// typ: ParseValue's values, and for array, map, row and json values the
// decoded JSON ([]any, map[string]any, float64 numbers), or the text if
// it is not JSON.
func ParseFormatted(s, typ string) (any, error) {
	switch baseType(typ) {
	case "array", "map", "row", "json":
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return s, nil
		}
		return v, nil
	}
	return ParseValue(s, typ)
}

// timeLayouts are the text forms of date, time and timestamp values, with
// a zone offset or without a zone.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
	"2006-01-02 15:04:05.999999999 Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"15:04:05.999999999",
	"15:04:05.999999999 Z07:00",
}

// ParseTime reads the text of a date, time or timestamp: "2026-11-26",
// "14:05:01.123", "2026-11-26 14:05:01.123456" (UTC), with a zone offset
// ("+05:30", "Z") or a time zone name ("UTC", "America/New_York", "CET").
// A time has the date 0000-01-01. An error wraps stocklake.ErrInvalid.
func ParseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, nil
		}
	}
	// A zone name. Not with Go's "MST" layout: it reads a zone
	// abbreviation it does not know, such as CET, as UTC.
	if i := strings.LastIndexByte(s, ' '); i > 0 {
		if loc, err := time.LoadLocation(s[i+1:]); err == nil {
			if t, err := time.ParseInLocation(timeLayouts[0], s[:i], loc); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date or time: %w", s, stocklake.ErrInvalid)
}
