package hive

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stocklake/stocklake"
)

// Athena partition projection: table properties (Glue table parameters)
// from which Athena, Trino's Hive connector (hive.partition-projection-
// enabled) and stocklake's DuckDB engine compute a table's partitions
// instead of reading them from the catalog, so the table needs no partition
// registration at all. See
// https://docs.aws.amazon.com/athena/latest/ug/partition-projection.html.
const (
	// ParamProjectionEnabled turns projection on: "true".
	ParamProjectionEnabled = "projection.enabled"
	// ParamLocationTemplate is where a partition's files are, with ${key}
	// for each partition key's value.
	ParamLocationTemplate = "storage.location.template"
)

// maxProjected is how many partitions ProjectPartitions enumerates at most:
// 1,000,000, Athena's own limit.
const maxProjected = 1_000_000

// Projected reports whether table parameters turn partition projection on.
func Projected(params map[string]string) bool {
	return strings.EqualFold(strings.TrimSpace(params[ParamProjectionEnabled]), "true")
}

// ProjectionParameters returns the projection properties of a table at
// location (a URL ending in '/') partitioned by the sink's time keys: dt
// (type date, yyyy-MM-dd, from start's day to NOW, one day apart) and
// optionally hour (type integer 0-23, two digits), with the template
// location + "dt=${dt}/hour=${hour}/". Other keys cannot be projected
// without knowing their values: they are an error.
func ProjectionParameters(location string, keys []string, start time.Time) (map[string]string, error) {
	if !slices.Equal(keys, []string{"dt"}) && !slices.Equal(keys, []string{"dt", "hour"}) {
		return nil, fmt.Errorf("partition projection needs the partition keys dt or dt,hour (the sink's time keys), not %s: %w",
			strings.Join(keys, ","), stocklake.ErrConfig)
	}
	if !strings.HasSuffix(location, "/") {
		location += "/"
	}
	p := map[string]string{
		ParamProjectionEnabled:        "true",
		"projection.dt.type":          "date",
		"projection.dt.format":        "yyyy-MM-dd",
		"projection.dt.range":         start.UTC().Format("2006-01-02") + ",NOW",
		"projection.dt.interval":      "1",
		"projection.dt.interval.unit": "DAYS",
	}
	tmpl := location + "dt=${dt}/"
	if len(keys) == 2 {
		p["projection.hour.type"] = "integer"
		p["projection.hour.range"] = "0,23"
		p["projection.hour.digits"] = "2"
		tmpl += "hour=${hour}/"
	}
	p[ParamLocationTemplate] = tmpl
	return p, nil
}

// ProjectPartitions enumerates the partitions of a projected table as of
// now: every combination of its keys' projected values, newest date last,
// each located by storage.location.template (default: the table location
// and key=value folders). Types date (Java date formats of y, M, d, H, m,
// s; ranges of fixed dates or NOW[+-N UNIT]; interval and interval.unit),
// integer (range, interval, digits) and enum are supported; injected keys
// have no values to enumerate and are an error.
func ProjectPartitions(t stocklake.Table, now time.Time) ([]stocklake.Partition, error) {
	params := t.Parameters
	values := make([][]string, len(t.PartitionKeys))
	total := 1
	for i, k := range t.PartitionKeys {
		vs, err := projectKey(params, strings.ToLower(k.Name), now)
		if err != nil {
			return nil, fmt.Errorf("table %s.%s: partition projection of %s: %w", t.Database, t.Name, k.Name, err)
		}
		values[i] = vs
		if len(vs) > 0 && total > maxProjected/len(vs) {
			return nil, fmt.Errorf("table %s.%s projects more than %d partitions: narrow its projection ranges: %w", t.Database, t.Name, maxProjected, stocklake.ErrInvalid)
		}
		total *= len(vs)
	}
	tmpl := params[ParamLocationTemplate]
	if tmpl == "" {
		tmpl = strings.TrimSuffix(t.Location, "/") + "/"
		for _, k := range t.PartitionKeys {
			tmpl += strings.ToLower(k.Name) + "=${" + strings.ToLower(k.Name) + "}/"
		}
	}
	for _, k := range t.PartitionKeys {
		if !strings.Contains(tmpl, "${"+strings.ToLower(k.Name)+"}") && !strings.Contains(tmpl, "${"+k.Name+"}") {
			return nil, fmt.Errorf("table %s.%s: %s %q has no ${%s}: %w", t.Database, t.Name, ParamLocationTemplate, tmpl, k.Name, stocklake.ErrInvalid)
		}
	}
	out := make([]stocklake.Partition, 0, total)
	cur := make([]string, len(values))
	var walk func(i int)
	walk = func(i int) {
		if i == len(values) {
			loc := tmpl
			for j, k := range t.PartitionKeys {
				loc = strings.ReplaceAll(loc, "${"+strings.ToLower(k.Name)+"}", cur[j])
				loc = strings.ReplaceAll(loc, "${"+k.Name+"}", cur[j])
			}
			if !strings.HasSuffix(loc, "/") {
				loc += "/"
			}
			out = append(out, stocklake.Partition{Values: slices.Clone(cur), Location: loc})
			return
		}
		for _, v := range values[i] {
			cur[i] = v
			walk(i + 1)
		}
	}
	if total > 0 {
		walk(0)
	}
	return out, nil
}

// projectKey enumerates the projected values of one key.
func projectKey(params map[string]string, key string, now time.Time) ([]string, error) {
	get := func(name string) string { return strings.TrimSpace(params["projection."+key+"."+name]) }
	switch typ := strings.ToLower(get("type")); typ {
	case "enum":
		vs := strings.Split(params["projection."+key+".values"], ",")
		if len(vs) == 1 && vs[0] == "" {
			return nil, fmt.Errorf("projection.%s.values is empty: %w", key, stocklake.ErrInvalid)
		}
		return vs, nil
	case "integer":
		lo, hi, ok := strings.Cut(get("range"), ",")
		a, err1 := strconv.ParseInt(strings.TrimSpace(lo), 10, 64)
		b, err2 := strconv.ParseInt(strings.TrimSpace(hi), 10, 64)
		if !ok || err1 != nil || err2 != nil || a > b {
			return nil, fmt.Errorf("projection.%s.range %q is not MIN,MAX: %w", key, get("range"), stocklake.ErrInvalid)
		}
		step, err := positive(get("interval"), 1)
		if err != nil {
			return nil, fmt.Errorf("projection.%s.interval: %w", key, err)
		}
		digits, err := positive(get("digits"), 1)
		if err != nil {
			return nil, fmt.Errorf("projection.%s.digits: %w", key, err)
		}
		if (b-a)/step >= maxProjected {
			return nil, fmt.Errorf("projection.%s.range %q projects more than %d values: %w", key, get("range"), maxProjected, stocklake.ErrInvalid)
		}
		var out []string
		for v := a; v <= b; v += step {
			s := strconv.FormatInt(v, 10)
			if neg := v < 0; int64(len(s)) < digits+boolInt(neg) {
				s = strings.TrimPrefix(s, "-")
				s = strings.Repeat("0", int(digits)-len(s)) + s
				if neg {
					s = "-" + s
				}
			}
			out = append(out, s)
			if v > math.MaxInt64-step {
				break
			}
		}
		return out, nil
	case "date":
		layout, err := javaDateLayout(get("format"))
		if err != nil {
			return nil, fmt.Errorf("projection.%s.format: %w", key, err)
		}
		lo, hi, ok := strings.Cut(get("range"), ",")
		if !ok {
			return nil, fmt.Errorf("projection.%s.range %q is not START,END: %w", key, get("range"), stocklake.ErrInvalid)
		}
		start, err1 := projectedDate(strings.TrimSpace(lo), layout, now)
		end, err2 := projectedDate(strings.TrimSpace(hi), layout, now)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("projection.%s.range %q: %v: %w", key, get("range"), cmpErr(err1, err2), stocklake.ErrInvalid)
		}
		step, err := positive(get("interval"), 1)
		if err != nil {
			return nil, fmt.Errorf("projection.%s.interval: %w", key, err)
		}
		unit := strings.ToUpper(get("interval.unit"))
		if unit == "" {
			unit = "DAYS"
			if strings.Contains(layout, "15") {
				unit = "HOURS"
			}
		}
		var out []string
		for d := start; !d.After(end); d = addUnit(d, unit, int(step)) {
			if len(out) >= maxProjected {
				return nil, fmt.Errorf("projection.%s projects more than %d dates: %w", key, maxProjected, stocklake.ErrInvalid)
			}
			out = append(out, d.Format(layout))
			if unit != "YEARS" && unit != "MONTHS" && unit != "WEEKS" && unit != "DAYS" && unit != "HOURS" && unit != "MINUTES" && unit != "SECONDS" {
				return nil, fmt.Errorf("projection.%s.interval.unit %q: want YEARS, MONTHS, WEEKS, DAYS, HOURS, MINUTES or SECONDS: %w", key, unit, stocklake.ErrInvalid)
			}
		}
		return out, nil
	case "injected":
		return nil, fmt.Errorf("injected projection has no values to enumerate (queries must give them): not supported by stocklake's engine: %w", stocklake.ErrInvalid)
	case "":
		return nil, fmt.Errorf("projection.%s.type is not set: every partition key of a projected table needs one: %w", key, stocklake.ErrInvalid)
	default:
		return nil, fmt.Errorf("projection.%s.type %q: want enum, integer, date or injected: %w", key, typ, stocklake.ErrInvalid)
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func positive(s string, def int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive integer: %w", s, stocklake.ErrInvalid)
	}
	return n, nil
}

// javaDateLayout converts a Java date format of the letters y, M, d, H, m,
// s (and literal text) to a Go layout.
func javaDateLayout(f string) (string, error) {
	if f == "" {
		return "", fmt.Errorf("not set: %w", stocklake.ErrInvalid)
	}
	repl := []struct{ java, goLayout string }{
		{"yyyy", "2006"}, {"MM", "01"}, {"dd", "02"}, {"HH", "15"}, {"mm", "04"}, {"ss", "05"},
	}
	var b strings.Builder
	for i := 0; i < len(f); {
		matched := false
		for _, r := range repl {
			if strings.HasPrefix(f[i:], r.java) {
				b.WriteString(r.goLayout)
				i += len(r.java)
				matched = true
				break
			}
		}
		if matched {
			continue
		}
		c := f[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			return "", fmt.Errorf("format %q: only yyyy, MM, dd, HH, mm and ss are supported: %w", f, stocklake.ErrInvalid)
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), nil
}

// projectedDate parses a range end: a date in layout, or NOW, NOW-3DAYS,
// NOW+1HOURS ...
func projectedDate(s, layout string, now time.Time) (time.Time, error) {
	if rest, ok := strings.CutPrefix(strings.ToUpper(s), "NOW"); ok {
		t := now.UTC()
		if rest == "" {
			return t, nil
		}
		sign := 1
		switch rest[0] {
		case '-':
			sign = -1
		case '+':
		default:
			return time.Time{}, fmt.Errorf("%q is not NOW[+-]N UNIT", s)
		}
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		n, err := strconv.Atoi(rest[1:i])
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not NOW[+-]N UNIT", s)
		}
		unit := strings.TrimSpace(rest[i:])
		if !strings.HasSuffix(unit, "S") {
			unit += "S"
		}
		return addUnit(t, unit, sign*n), nil
	}
	return time.Parse(layout, s)
}

func addUnit(t time.Time, unit string, n int) time.Time {
	switch unit {
	case "YEARS":
		return t.AddDate(n, 0, 0)
	case "MONTHS":
		return t.AddDate(0, n, 0)
	case "WEEKS":
		return t.AddDate(0, 0, 7*n)
	case "DAYS":
		return t.AddDate(0, 0, n)
	case "HOURS":
		return t.Add(time.Duration(n) * time.Hour)
	case "MINUTES":
		return t.Add(time.Duration(n) * time.Minute)
	case "SECONDS":
		return t.Add(time.Duration(n) * time.Second)
	}
	return t.AddDate(100000, 0, 0) // unknown unit: the loop reports it
}
