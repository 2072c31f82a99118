package duckdb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/stocklake/stocklake"
)

// node is a JSON object of DuckDB's serialized parse tree
// (json_serialize_sql).
type node = map[string]any

// tableRef is one reference to a table in a statement, with the WHERE and
// ON conjuncts that restrict the rows read from it.
type tableRef struct {
	catalog, schema, name string
	alias                 string
	loc                   int   // byte offset of the name in the statement
	conjuncts             []any // expressions (nodes) that every row read must satisfy
}

// analysis is what the engine needs to know about a SELECT statement.
type analysis struct {
	refs  []*tableRef
	ctes  map[string]bool // lower-cased CTE names
	seen  map[int]bool    // locations of collected references
	calls []formatCall
	names []string // result column names in Trino's style where they differ ("" = keep)
}

// parseTree decodes json_serialize_sql output, turning a parse error into
// one that wraps stocklake.ErrInvalid.
func parseTree(js string) (node, error) {
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	var root node
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("duckdb: reading parse tree: %w", err)
	}
	if b, _ := root["error"].(bool); b {
		msg, _ := root["error_message"].(string)
		if strings.Contains(msg, "Only SELECT statements") {
			return nil, fmt.Errorf("only queries (SELECT, WITH, VALUES, EXPLAIN, SHOW, DESCRIBE) are supported; the lake is read-only through SQL: %w", stocklake.ErrInvalid)
		}
		return nil, fmt.Errorf("%s: %w", strings.TrimSpace(msg), stocklake.ErrInvalid)
	}
	stmts, _ := root["statements"].([]any)
	switch len(stmts) {
	case 0:
		return nil, fmt.Errorf("empty statement: write a query such as SELECT * FROM db.table LIMIT 10: %w", stocklake.ErrInvalid)
	case 1:
	default:
		return nil, fmt.Errorf("%d statements: run one statement at a time: %w", len(stmts), stocklake.ErrInvalid)
	}
	return root, nil
}

// analyze finds the table references of a parsed statement and the
// conjuncts that restrict each.
func analyze(root node) *analysis {
	a := &analysis{ctes: map[string]bool{}, seen: map[int]bool{}}
	stmt := root["statements"].([]any)[0].(node)
	top, _ := stmt["node"].(node)
	a.walk(top)
	sort.Slice(a.refs, func(i, j int) bool { return a.refs[i].loc < a.refs[j].loc })
	a.names = resultNames(top)
	return a
}

// walk visits every value of the tree, handling SELECT nodes and CTEs.
func (a *analysis) walk(v any) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			a.walk(e)
		}
	case node:
		if cm, ok := x["cte_map"].(node); ok {
			if m, ok := cm["map"].([]any); ok {
				for _, e := range m {
					if kv, ok := e.(node); ok {
						if k, ok := kv["key"].(string); ok {
							a.ctes[strings.ToLower(k)] = true
						}
					}
				}
			}
		}
		if x["class"] == "FUNCTION" {
			a.function(x)
		}
		switch x["type"] {
		case "SELECT_NODE":
			a.selectNode(x)
		case "BASE_TABLE": // outside a SELECT's FROM, e.g. in PIVOT
			a.base(x)
			return
		}
		for k, e := range x {
			if k == "from_table" && x["type"] == "SELECT_NODE" {
				a.walkFrom(e)
				continue
			}
			a.walk(e)
		}
	}
}

// walkFrom visits a FROM clause for nested queries (subqueries, table
// functions); base tables were collected by selectNode.
func (a *analysis) walkFrom(v any) {
	x, ok := v.(node)
	if !ok {
		return
	}
	switch x["type"] {
	case "BASE_TABLE":
		return
	case "JOIN":
		a.walkFrom(x["left"])
		a.walkFrom(x["right"])
		a.walk(x["condition"])
		return
	}
	a.walk(x)
}

// fromEntry is a base table in a FROM clause and whether a join may
// replace its rows with NULLs.
type fromEntry struct {
	ref      *tableRef
	nullable bool
}

// selectNode collects the base tables of a SELECT's FROM clause and hands
// them the conjuncts of WHERE and of join conditions that restrict them.
func (a *analysis) selectNode(n node) {
	entries := a.from(n["from_table"])
	for _, c := range conjuncts(n["where_clause"]) {
		for _, e := range entries {
			if !e.nullable {
				e.ref.conjuncts = append(e.ref.conjuncts, c)
			}
		}
	}
}

// formatCall is a call of a Trino formatting function (formatFuncs) with a
// literal format, to be rewritten to DuckDB's strftime or strptime.
type formatCall struct {
	name   string // lower case
	loc    int    // of the function name
	fmtLoc int    // of the format literal
	format string
}

func (a *analysis) function(x node) {
	name := strings.ToLower(str(x["function_name"]))
	if _, ok := formatFuncs[name]; !ok || str(x["schema"]) != "" {
		return
	}
	args, _ := x["children"].([]any)
	if len(args) != 2 {
		return
	}
	lit, _ := args[1].(node)
	if lit == nil || lit["class"] != "CONSTANT" {
		return
	}
	v, _ := lit["value"].(node)
	typ, _ := v["type"].(node)
	f, ok := v["value"].(string)
	if !ok || typ["id"] != "VARCHAR" {
		return
	}
	a.calls = append(a.calls, formatCall{name: name, loc: location(x["query_location"]), fmtLoc: location(lit["query_location"]), format: f})
}

// base records a base table reference once.
func (a *analysis) base(x node) *tableRef {
	loc := location(x["query_location"])
	if a.seen[loc] && loc >= 0 {
		return nil
	}
	a.seen[loc] = true
	r := &tableRef{
		catalog: str(x["catalog_name"]), schema: str(x["schema_name"]), name: str(x["table_name"]),
		alias: str(x["alias"]), loc: loc,
	}
	a.refs = append(a.refs, r)
	return r
}

// from returns the base tables of a FROM item, distributing join
// conditions to the tables they restrict.
func (a *analysis) from(v any) []fromEntry {
	x, ok := v.(node)
	if !ok {
		return nil
	}
	switch x["type"] {
	case "BASE_TABLE":
		if r := a.base(x); r != nil {
			return []fromEntry{{ref: r}}
		}
		return nil
	case "JOIN":
		left, right := a.from(x["left"]), a.from(x["right"])
		jt := str(x["join_type"])
		cond := conjuncts(x["condition"])
		give := func(es []fromEntry) {
			for _, e := range es {
				if !e.nullable {
					e.ref.conjuncts = append(e.ref.conjuncts, cond...)
				}
			}
		}
		switch jt {
		case "LEFT":
			give(right)
			setNullable(right)
		case "RIGHT":
			give(left)
			setNullable(left)
		case "OUTER":
			setNullable(left)
			setNullable(right)
		case "INNER", "SEMI", "ANTI", "":
			if jt != "ANTI" {
				give(left)
				give(right)
			}
		default:
			setNullable(left)
			setNullable(right)
		}
		return append(left, right...)
	}
	return nil
}

func setNullable(es []fromEntry) {
	for i := range es {
		es[i].nullable = true
	}
}

// conjuncts splits an expression at its top-level ANDs.
func conjuncts(v any) []any {
	x, ok := v.(node)
	if !ok {
		return nil
	}
	if x["class"] == "CONJUNCTION" && x["type"] == "CONJUNCTION_AND" {
		var out []any
		for _, c := range x["children"].([]any) {
			out = append(out, conjuncts(c)...)
		}
		return out
	}
	return []any{x}
}

// nondeterministic functions must not decide pruning.
var nondeterministic = map[string]bool{
	"random": true, "rand": true, "uuid": true, "gen_random_uuid": true, "setseed": true,
	"nextval": true, "currval": true, "uuidv4": true, "uuidv7": true,
}

// usable rewrites a conjunct so that it reads only partition keys of ref,
// as unqualified column names, or returns false when it reads anything else
// (other columns, other tables, subqueries, parameters).
func usable(c any, ref *tableRef, keys map[string]string) (any, bool) {
	cols := 0
	var rewrite func(v any) (any, bool)
	rewrite = func(v any) (any, bool) {
		switch x := v.(type) {
		case []any:
			out := make([]any, len(x))
			for i := range x {
				var ok bool
				if out[i], ok = rewrite(x[i]); !ok {
					return nil, false
				}
			}
			return out, true
		case node:
			switch x["class"] {
			case "SUBQUERY", "PARAMETER", "WINDOW", "STAR", "LAMBDA", "LAMBDA_REF", "POSITIONAL_REFERENCE", "DEFAULT":
				return nil, false
			case "FUNCTION":
				name := strings.ToLower(str(x["function_name"]))
				if nondeterministic[name] {
					return nil, false
				}
				if ff, ok := formatFuncs[name]; ok && str(x["schema"]) == "" {
					x = translateCall(x, ff.duck, ff.translate)
				}
			case "COLUMN_REF":
				col, ok := refColumn(x, ref)
				if !ok {
					return nil, false
				}
				key, ok := keys[col]
				if !ok {
					return nil, false
				}
				cols++
				out := make(node, len(x))
				for k, e := range x {
					out[k] = e
				}
				out["column_names"] = []any{key}
				return out, true
			}
			out := make(node, len(x))
			for k, e := range x {
				var ok bool
				if out[k], ok = rewrite(e); !ok {
					return nil, false
				}
			}
			return out, true
		}
		return v, true
	}
	out, ok := rewrite(c)
	return out, ok && cols > 0
}

// translateCall returns a copy of a formatting function call (date_format,
// ...) renamed to DuckDB's function, its literal format translated.
func translateCall(x node, duck string, translate func(string) string) node {
	args, _ := x["children"].([]any)
	if len(args) != 2 {
		return x
	}
	lit, _ := args[1].(node)
	v, _ := lit["value"].(node)
	f, ok := v["value"].(string)
	if lit == nil || lit["class"] != "CONSTANT" || !ok {
		return x
	}
	nv := make(node, len(v))
	for k, e := range v {
		nv[k] = e
	}
	nv["value"] = translate(f)
	nl := make(node, len(lit))
	for k, e := range lit {
		nl[k] = e
	}
	nl["value"] = nv
	out := make(node, len(x))
	for k, e := range x {
		out[k] = e
	}
	out["function_name"] = duck
	out["children"] = []any{args[0], nl}
	return out
}

// resultNames returns Trino's names for unnamed result columns: _col0,
// _col1, ... for expressions without an alias; "" keeps DuckDB's name.
// It returns nil when the select list has a * (the positions are unknown).
func resultNames(top node) []string {
	n := top
	for n != nil && n["type"] != "SELECT_NODE" {
		l, ok := n["left"].(node)
		if !ok {
			return nil
		}
		n = l
	}
	if n == nil {
		return nil
	}
	list, _ := n["select_list"].([]any)
	names := make([]string, len(list))
	for i, e := range list {
		x, _ := e.(node)
		switch {
		case x == nil:
			return nil
		case x["class"] == "STAR" || x["type"] == "STAR" || x["class"] == "COLUMNS":
			return nil
		case str(x["alias"]) != "":
		case x["class"] == "COLUMN_REF":
		default:
			names[i] = "_col" + strconv.Itoa(i)
		}
	}
	return names
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// location reads a query_location; -1 when it is missing.
func location(v any) int {
	n, ok := v.(json.Number)
	if !ok {
		return -1
	}
	u, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil || u > 1<<40 {
		return -1
	}
	return int(u)
}

// predicateStatement builds the serialized statement
// "SELECT i FROM stocklake_parts WHERE <conjuncts>" from a template of the
// same statement with WHERE true.
func predicateStatement(template string, conj []any) (string, error) {
	dec := json.NewDecoder(strings.NewReader(template))
	dec.UseNumber()
	var root node
	if err := dec.Decode(&root); err != nil {
		return "", err
	}
	stmt := root["statements"].([]any)[0].(node)
	sel := stmt["node"].(node)
	var where any = conj[0]
	if len(conj) > 1 {
		where = node{"class": "CONJUNCTION", "type": "CONJUNCTION_AND", "alias": "", "query_location": json.Number("18446744073709551615"), "children": conj}
	}
	sel["where_clause"] = where
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		return "", err
	}
	return buf.String(), nil
}
