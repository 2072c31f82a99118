package duckdb

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
	"github.com/stocklake/stocklake/sqltext"
)

// duckType is the DuckDB type that holds a Glue type.
func duckType(t hive.Type) (string, error) {
	switch t.Name {
	case "boolean":
		return "BOOLEAN", nil
	case "tinyint":
		return "TINYINT", nil
	case "smallint":
		return "SMALLINT", nil
	case "int", "integer":
		return "INTEGER", nil
	case "bigint", "long":
		return "BIGINT", nil
	case "float", "real":
		return "FLOAT", nil
	case "double":
		return "DOUBLE", nil
	case "decimal", "numeric":
		switch len(t.Params) {
		case 0:
			return "DECIMAL(10,0)", nil // Hive's default
		case 1:
			return fmt.Sprintf("DECIMAL(%d,0)", t.Params[0]), nil
		}
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Params[0], t.Params[1]), nil
	case "string", "varchar", "char":
		return "VARCHAR", nil
	case "binary":
		return "BLOB", nil
	case "date":
		return "DATE", nil
	case "timestamp":
		return "TIMESTAMP", nil
	case "array":
		e, err := duckType(t.Elems[0])
		return e + "[]", err
	case "map":
		k, err := duckType(t.Elems[0])
		if err != nil {
			return "", err
		}
		v, err := duckType(t.Elems[1])
		return "MAP(" + k + ", " + v + ")", err
	case "struct":
		parts := make([]string, len(t.Fields))
		for i, f := range t.Fields {
			e, err := duckType(t.Elems[i])
			if err != nil {
				return "", err
			}
			parts[i] = sqltext.QuoteIdent(f) + " " + e
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")", nil
	}
	return "", fmt.Errorf("column type %q has no DuckDB equivalent; change it in the catalog to one of boolean, int, bigint, double, decimal(p,s), string, date, timestamp, array<T>, map<K,V>, struct<...>: %w",
		t.String(), stocklake.ErrInvalid)
}

// trinoType converts a DuckDB type name, as the Go driver reports it, to
// the Trino/Athena name: BIGINT -> bigint, DOUBLE[] -> array(double),
// STRUCT(a INTEGER) -> row(a integer), TIMESTAMP -> timestamp(6).
func trinoType(d string) string {
	d = strings.TrimSpace(d)
	if strings.HasSuffix(d, "[]") {
		return "array(" + trinoType(strings.TrimSuffix(d, "[]")) + ")"
	}
	if strings.HasSuffix(d, "]") { // fixed-size ARRAY: T[n]
		if i := strings.LastIndexByte(d, '['); i > 0 {
			return "array(" + trinoType(d[:i]) + ")"
		}
	}
	upper := strings.ToUpper(d)
	switch {
	case strings.HasPrefix(upper, "DECIMAL("):
		return strings.ToLower(strings.ReplaceAll(d, " ", ""))
	case strings.HasPrefix(upper, "STRUCT("):
		parts := splitTop(d[len("STRUCT(") : len(d)-1])
		for i, p := range parts {
			name, typ := splitField(p)
			parts[i] = name + " " + trinoType(typ)
		}
		return "row(" + strings.Join(parts, ", ") + ")"
	case strings.HasPrefix(upper, "MAP("):
		parts := splitTop(d[len("MAP(") : len(d)-1])
		if len(parts) == 2 {
			return "map(" + trinoType(parts[0]) + ", " + trinoType(parts[1]) + ")"
		}
	}
	switch upper {
	case "BOOLEAN":
		return "boolean"
	case "TINYINT", "UTINYINT":
		return "tinyint"
	case "SMALLINT", "USMALLINT":
		return "smallint"
	case "INTEGER", "UINTEGER":
		return "integer"
	case "BIGINT", "UBIGINT":
		return "bigint"
	case "HUGEINT", "UHUGEINT", "BIGNUM":
		return "decimal(38,0)"
	case "FLOAT":
		return "real"
	case "DOUBLE":
		return "double"
	case "VARCHAR", "ENUM":
		return "varchar"
	case "BLOB", "BIT":
		return "varbinary"
	case "DATE":
		return "date"
	case "TIME":
		return "time(6)"
	case "TIMETZ":
		return "time(6) with time zone"
	case "TIMESTAMP_S":
		return "timestamp(0)"
	case "TIMESTAMP_MS":
		return "timestamp(3)"
	case "TIMESTAMP":
		return "timestamp(6)"
	case "TIMESTAMP_NS":
		return "timestamp(9)"
	case "TIMESTAMPTZ":
		return "timestamp(6) with time zone"
	case "INTERVAL":
		return "interval day to second"
	case "UUID":
		return "uuid"
	case "JSON":
		return "json"
	case "SQLNULL", "NULL":
		return "unknown"
	}
	return strings.ToLower(d)
}

// splitTop splits s at commas outside parentheses and quotes.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// splitField splits a STRUCT member "name TYPE" or "\"a b\" TYPE".
func splitField(p string) (string, string) {
	if strings.HasPrefix(p, `"`) {
		if j := strings.Index(p[1:], `"`); j >= 0 {
			return p[1 : j+1], strings.TrimSpace(p[j+2:])
		}
	}
	name, typ, _ := strings.Cut(p, " ")
	return name, typ
}

// normalize converts a value from the DuckDB driver to one of the Go types
// that stocklake.Rows promises.
func normalize(v any) any {
	switch x := v.(type) {
	case nil, bool, int64, float64, string, []byte, time.Time:
		return x
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return strconv.FormatUint(x, 10)
		}
		return int64(x)
	case float32:
		return float64(x)
	case *big.Int:
		if x.IsInt64() {
			return x.Int64()
		}
		return x.String()
	case duckdb.Decimal:
		return decimalString(x)
	case duckdb.UUID:
		return uuidString(x[:])
	case *duckdb.UUID:
		return uuidString(x[:])
	case duckdb.Interval:
		return intervalString(x)
	case duckdb.Union:
		return normalize(x.Value)
	case duckdb.Map:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[fmt.Sprint(normalize(k))] = normalize(val)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalize(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = normalize(val)
		}
		return out
	}
	return fmt.Sprint(v)
}

// decimalString formats a decimal with exactly its scale's digits after the
// point, as Trino does: DECIMAL(10,2) 1.5 is "1.50".
func decimalString(d duckdb.Decimal) string {
	if d.Value == nil {
		return "0"
	}
	digits := new(big.Int).Abs(d.Value).String()
	sign := ""
	if d.Value.Sign() < 0 {
		sign = "-"
	}
	scale := int(d.Scale)
	if scale == 0 {
		return sign + digits
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	return sign + digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
}

func uuidString(b []byte) string {
	h := hex.EncodeToString(b)
	if len(h) != 32 {
		return h
	}
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// intervalString formats an interval as Trino does: "2 03:04:05.000" for
// day-to-second intervals, "1-2" (years-months) when only months are set.
func intervalString(iv duckdb.Interval) string {
	if iv.Days == 0 && iv.Micros == 0 && iv.Months != 0 {
		return fmt.Sprintf("%d-%d", iv.Months/12, abs32(iv.Months%12))
	}
	us := int64(iv.Days)*86400e6 + iv.Micros
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	d := us / 86400e6
	us %= 86400e6
	s := fmt.Sprintf("%s%d %02d:%02d:%02d.%03d", sign, d, us/3600e6, us/60e6%60, us/1e6%60, us/1000%1000)
	if iv.Months != 0 {
		s = fmt.Sprintf("%d months %s", iv.Months, s)
	}
	return s
}

func abs32(n int32) int32 {
	if n < 0 {
		return -n
	}
	return n
}
