package duckdb

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/hive"
	"github.com/stocklake/stocklake/sqltext"
)

// planIceberg plans the scan of an Iceberg table with the table format's
// planner (Config.Iceberg): the conjuncts restricting ref that compare a
// column of the table with constants prune its files, and a time-travel
// clause picks the snapshot. ok is false when database.name is not an
// Iceberg table.
func (q *query) planIceberg(ctx context.Context, database, name string, ref *tableRef, tr *travel) (*scan, bool, error) {
	opts, err := q.travelOptions(ctx, tr)
	if err != nil {
		return nil, false, err
	}
	// The predicates need the table's columns (their types): ask for those
	// first, then plan the files with the usable predicates.
	plan, err := q.e.cfg.Iceberg.PlanScan(ctx, database, name, stocklake.ScanOptions{SnapshotID: opts.SnapshotID, AsOf: opts.AsOf, ColumnsOnly: true})
	if err != nil {
		return nil, false, err
	}
	if len(ref.conjuncts) > 0 && plan.SnapshotID != 0 {
		opts.Predicates = q.scanPredicates(ctx, ref, plan.Table.Columns)
	}
	if plan, err = q.e.cfg.Iceberg.PlanScan(ctx, database, name, opts); err != nil {
		return nil, false, err
	}
	t := plan.Table
	s := &scan{table: t, source: plan.FileColumns}
	for _, c := range t.Columns {
		ht, err := hive.ParseType(c.Type)
		if err != nil {
			return nil, false, fmt.Errorf("table %s.%s column %s: %w", t.Database, t.Name, c.Name, err)
		}
		s.cols = append(s.cols, ht)
	}
	for _, f := range plan.Files {
		key, ok := strings.CutPrefix(f.URL, q.e.base+"/")
		if !ok {
			return nil, false, fmt.Errorf("table %s.%s: data file %s is outside the lake %s; query it with a lake URL that contains it: %w", t.Database, t.Name, f.URL, q.e.base, stocklake.ErrConfig)
		}
		s.files = append(s.files, lakeFile{info: stocklake.ObjectInfo{Key: key, Size: f.Size}, part: -1})
		s.bytes += f.Size
	}
	return s, true, nil
}

// compareOps maps DuckDB's comparison types to ScanPredicate operators, and
// flipped the operator with the sides swapped.
var compareOps = map[string]struct{ op, flipped string }{
	"COMPARE_EQUAL":                {"=", "="},
	"COMPARE_LESSTHAN":             {"<", ">"},
	"COMPARE_LESSTHANOREQUALTO":    {"<=", ">="},
	"COMPARE_GREATERTHAN":          {">", "<"},
	"COMPARE_GREATERTHANOREQUALTO": {">=", "<="},
}

// scanPredicates turns the conjuncts restricting ref of the forms
// "column op constant" (op one of = < <= > >=, either side), "column
// BETWEEN constant AND constant" and "column IN (constants)" into scan
// predicates, the constants evaluated by DuckDB. Anything else is left out:
// DuckDB applies the whole WHERE to the rows anyway.
func (q *query) scanPredicates(ctx context.Context, ref *tableRef, cols []stocklake.Column) []stocklake.ScanPredicate {
	types := map[string]string{}
	for _, c := range cols {
		ht, err := hive.ParseType(c.Type)
		if err != nil || ht.Complex() {
			continue
		}
		if dt, err := duckType(ht); err == nil {
			types[strings.ToLower(c.Name)] = dt
		}
	}
	type pending struct {
		col, op string
		exprs   []any
	}
	var preds []pending
	for _, c := range ref.conjuncts {
		x, _ := c.(node)
		if x == nil {
			continue
		}
		switch {
		case x["class"] == "COMPARISON":
			ops, ok := compareOps[str(x["type"])]
			if !ok {
				continue
			}
			if col, ok := refColumn(x["left"], ref); ok && constant(x["right"]) {
				preds = append(preds, pending{col, ops.op, []any{x["right"]}})
			} else if col, ok := refColumn(x["right"], ref); ok && constant(x["left"]) {
				preds = append(preds, pending{col, ops.flipped, []any{x["left"]}})
			}
		case x["class"] == "BETWEEN":
			if col, ok := refColumn(x["input"], ref); ok && constant(x["lower"]) && constant(x["upper"]) {
				preds = append(preds, pending{col, ">=", []any{x["lower"]}}, pending{col, "<=", []any{x["upper"]}})
			}
		case x["class"] == "OPERATOR" && x["type"] == "COMPARE_IN":
			ch, _ := x["children"].([]any)
			if len(ch) < 2 {
				continue
			}
			col, ok := refColumn(ch[0], ref)
			for _, e := range ch[1:] {
				ok = ok && constant(e)
			}
			if ok {
				preds = append(preds, pending{col, "in", ch[1:]})
			}
		}
	}
	var exprs []any
	var casts []string
	var kept []pending
	for _, p := range preds {
		if _, ok := types[p.col]; ok {
			kept = append(kept, p)
			for _, e := range p.exprs {
				exprs = append(exprs, e)
				casts = append(casts, types[p.col])
			}
		}
	}
	if len(exprs) == 0 {
		return nil
	}
	vals, err := q.constants(ctx, exprs, casts)
	if err != nil {
		q.e.log.Debug("duckdb: Iceberg scan predicates not usable", "err", err)
		return nil
	}
	var out []stocklake.ScanPredicate
	i := 0
	for _, p := range kept {
		sp := stocklake.ScanPredicate{Column: p.col, Op: p.op}
		ok := true
		for range p.exprs {
			v := vals[i]
			i++
			ok = ok && v != nil
			sp.Values = append(sp.Values, v)
		}
		if ok {
			out = append(out, sp)
		}
	}
	return out
}

// refColumn returns the lower-cased name of the column of ref that v
// reads, when v is a plain column reference to ref.
func refColumn(v any, ref *tableRef) (string, bool) {
	x, _ := v.(node)
	if x == nil || x["class"] != "COLUMN_REF" {
		return "", false
	}
	qual := strings.ToLower(ref.alias)
	if qual == "" {
		qual = strings.ToLower(ref.name)
	}
	names, _ := x["column_names"].([]any)
	var parts []string
	for _, n := range names {
		parts = append(parts, strings.ToLower(str(n)))
	}
	switch len(parts) {
	case 1:
		return parts[0], true
	case 2:
		return parts[1], parts[0] == qual
	case 3:
		return parts[2], ref.alias == "" && parts[0] == strings.ToLower(ref.schema) && parts[1] == qual
	}
	return "", false
}

// constant reports whether an expression reads no column, subquery,
// parameter or nondeterministic function, so DuckDB can evaluate it alone.
func constant(v any) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if !constant(e) {
				return false
			}
		}
	case node:
		switch x["class"] {
		case "COLUMN_REF", "SUBQUERY", "PARAMETER", "WINDOW", "STAR", "LAMBDA", "LAMBDA_REF", "POSITIONAL_REFERENCE", "DEFAULT", "COLUMNS":
			return false
		case "FUNCTION":
			if nondeterministic[strings.ToLower(str(x["function_name"]))] {
				return false
			}
		}
		for _, e := range x {
			if !constant(e) {
				return false
			}
		}
	}
	return true
}

// constants evaluates expressions (parse-tree nodes) with DuckDB. A string
// for a column whose type (casts[i]) is not VARCHAR is cast to that type, as
// DuckDB does when it compares a string literal with a column. Values come
// back as string, bool, int64, float64, time.Time or nil (NULL or not
// usable).
func (q *query) constants(ctx context.Context, exprs []any, casts []string) ([]any, error) {
	var root node
	dec := json.NewDecoder(strings.NewReader(q.e.selectTemplate))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return nil, err
	}
	sel := root["statements"].([]any)[0].(node)["node"].(node)
	sel["select_list"] = exprs
	js, err := json.Marshal(root)
	if err != nil {
		return nil, err
	}
	var text string
	if err := q.conn.QueryRowContext(ctx, "SELECT json_deserialize_sql(?::VARCHAR::JSON)", string(js)).Scan(&text); err != nil {
		return nil, err
	}
	raw := make([]any, len(exprs))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	if err := q.conn.QueryRowContext(ctx, text).Scan(ptrs...); err != nil {
		return nil, err
	}
	out := make([]any, len(exprs))
	for i, v := range raw {
		if s, ok := v.(string); ok && casts[i] != "VARCHAR" {
			// A string literal compared with a column of another type:
			// DuckDB casts it to the column's type.
			var err error
			if v, err = q.castText(ctx, s, casts[i]); err != nil {
				continue
			}
		}
		out[i] = scanValue(v)
	}
	return out, nil
}

// castText casts the text of a value to a DuckDB type and returns it.
func (q *query) castText(ctx context.Context, text, typ string) (any, error) {
	var v any
	err := q.conn.QueryRowContext(ctx, "SELECT CAST("+sqltext.QuoteString(text)+" AS "+typ+")").Scan(&v)
	return v, err
}

// scanValue normalises a DuckDB value to the kinds of
// stocklake.ScanPredicate.Values; nil when it has none of them.
func scanValue(v any) any {
	switch x := v.(type) {
	case string, bool, float64:
		return x
	case time.Time:
		return x.UTC()
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x <= 1<<63-1 {
			return int64(x)
		}
	case float32:
		return float64(x)
	case *big.Int:
		if x.IsInt64() {
			return x.Int64()
		}
	case duckdb.Decimal:
		// Through its text, so the double is the one DuckDB compares with.
		if f, err := strconv.ParseFloat(x.String(), 64); err == nil {
			return f
		}
	}
	return nil
}
