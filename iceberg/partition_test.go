package iceberg

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

// TestParsePartitioning: the --partition-by syntax of Iceberg tables, as a
// spec in a new tick table's metadata, and the nonsense refused with a
// message that says what is allowed.
func TestParsePartitioning(t *testing.T) {
	ctx := context.Background()
	c := newTestLake(t).open(t)
	for i, tc := range []struct{ in, want string }{
		{"", "day(ts)"}, {"day", "day(ts)"}, {"dt", "day(ts)"}, {"hour", "hour(ts)"}, {"Month", "month(ts)"}, {"year", "year(ts)"},
		{"day,symbol", "day(ts),identity(symbol)"}, {"hour, symbol", "hour(ts),identity(symbol)"},
		{"symbol,hour", "identity(symbol),hour(ts)"}, {"symbol", "identity(symbol)"},
		{"hour,exchange,source", "hour(ts),identity(exchange),identity(source)"},
		{"hour(ts),identity(symbol)", "hour(ts),identity(symbol)"}, {"day(ts)", "day(ts)"}, {"none", "none"}, {"NONE", "none"},
	} {
		tbl, err := c.CreateTickTable(ctx, "market", "p"+strings.Repeat("x", i), TableOptions{Partitioning: tc.in})
		if err != nil {
			t.Errorf("partitioning %q: %v", tc.in, err)
			continue
		}
		if got := tbl.Partitioning(); got != tc.want {
			t.Errorf("partitioning %q: got %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{
		"dt,hour", "day,hour", "hour(ts),day", "minute", "none,symbol", "symbol,symbol", ",", "bucket(ts)", "day(", "(ts)", "day()",
		"sym/bol", "a=b", "day ts", "hour,no_such_column", "identity(conditions)", "day(symbol)", strings.Repeat("x,", 10000) + "x,x",
	} {
		_, err := c.CreateTickTable(ctx, "market", "bad", TableOptions{Partitioning: bad})
		if !errors.Is(err, stocklake.ErrConfig) {
			t.Errorf("partitioning %.40q: %v, want ErrConfig", bad, err)
		}
	}
	// The message says what is allowed.
	_, err := ParsePartitioning("dt,hour")
	if err == nil || !strings.Contains(err.Error(), "hour alone") || !strings.Contains(err.Error(), "e.g. hour,symbol") {
		t.Errorf("dt,hour: %v; want a message that says to use hour and what is allowed", err)
	}
}

// TestLazyTablePartitioning: a new table gets the lazy table's
// partitioning; an existing table keeps its own, and Check refuses a
// partitioning that differs from it, or one the sink cannot write.
func TestLazyTablePartitioning(t *testing.T) {
	ctx := context.Background()
	l := newTestLake(t)
	a, err := l.open(t).LazyTable("market", "ticks")
	if err != nil {
		t.Fatal(err)
	}
	a.Partitioning = "hour,symbol"
	if err := a.Check(ctx); err != nil {
		t.Fatalf("Check before the table exists: %v", err)
	}
	if _, err := a.Decide(ctx, stocklake.TableShape{Schema: "tick"}); err != nil {
		t.Fatal(err)
	}
	tbl, _ := a.Table(ctx)
	if p := tbl.Partitioning(); p != "hour(ts),identity(symbol)" {
		t.Errorf("new table partitioned by %s, want hour(ts),identity(symbol)", p)
	}
	if f := a.PartitionFields(); len(f) != 1 || f[0] != "symbol" {
		t.Errorf("PartitionFields = %v, want [symbol]", f)
	}
	for _, same := range []string{"", "hour,symbol", "hour(ts),identity(symbol)"} {
		b, _ := l.open(t).LazyTable("market", "ticks")
		b.Partitioning = same
		if err := b.Check(ctx); err != nil {
			t.Errorf("Check %q on a table partitioned by it: %v", same, err)
		}
	}
	for _, other := range []string{"day", "hour", "symbol,hour", "hour,exchange"} {
		b, _ := l.open(t).LazyTable("market", "ticks")
		b.Partitioning = other
		err := b.Check(ctx)
		var se *stocklake.SettingError
		if !errors.Is(err, stocklake.ErrConfig) || !errors.As(err, &se) || !strings.Contains(err.Error(), "keeps its partitioning") {
			t.Errorf("Check %q on a table partitioned by hour(ts),identity(symbol): %v; want a refusal naming the setting", other, err)
		}
	}
	// Identity partitions the sink cannot compute: refused when the first
	// records make a tick table (a JSON table may have the field), and
	// for a table another program made.
	c, _ := l.open(t).LazyTable("market", "by_price")
	c.Partitioning = "day,price"
	if err := c.Check(ctx); err != nil {
		t.Errorf("Check day,price before the table exists: %v", err)
	}
	c.Schema = "tick" // the records are known to be ticks: refused at once
	if err := c.Check(ctx); !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), "symbol, exchange, source") {
		t.Errorf("Check day,price of ticks: %v; want ErrConfig naming symbol, exchange, source", err)
	}
	if _, err := c.Decide(ctx, stocklake.TableShape{Schema: "tick"}); !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), "symbol, exchange, source") {
		t.Errorf("a tick table partitioned by day,price: %v; want ErrConfig naming symbol, exchange, source", err)
	}
	if _, err := l.open(t).CreateTickTable(ctx, "market", "by_trade", TableOptions{Partitioning: "identity(trade_id)"}); err != nil {
		t.Fatal(err)
	}
	d, _ := l.open(t).LazyTable("market", "by_trade")
	if err := d.Check(ctx); !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), "identity(trade_id)") {
		t.Errorf("Check of a table partitioned by identity(trade_id): %v; want ErrConfig", err)
	}
	// JSON tables: time transforms of the time field; identity refused.
	j, _ := l.open(t).LazyTable("market", "orders")
	j.Partitioning = "month"
	shape := stocklake.TableShape{Schema: "json", TimeField: "at", Columns: []stocklake.Column{{Name: "at", Type: "timestamp"}, {Name: "at_month", Type: "string"}, {Name: "v", Type: "bigint"}}}
	if _, err := j.Decide(ctx, shape); err != nil {
		t.Fatal(err)
	}
	jt, _ := j.Table(ctx)
	if p := jt.Partitioning(); p != "month(at)" {
		t.Errorf("JSON table partitioned by %s, want month(at)", p)
	}
	// and identity of a column of a JSON value's type.
	k, _ := l.open(t).LazyTable("market", "orders2")
	k.Partitioning = "hour,v,at_month"
	if f := k.PartitionFields(); fmt.Sprint(f) != "[v at_month]" {
		t.Errorf("PartitionFields before the table exists = %v, want the partitioning's [v at_month]", f)
	}
	if _, err := k.Decide(ctx, shape); err != nil {
		t.Fatal(err)
	}
	kt, _ := k.Table(ctx)
	if p := kt.Partitioning(); p != "hour(at),identity(v),identity(at_month)" {
		t.Errorf("JSON table partitioned by %s, want hour(at),identity(v),identity(at_month)", p)
	}
	if p := kt.RowPartitionPath(time.Date(2026, 11, 26, 14, 5, 0, 0, time.UTC), []any{int64(-7), "../a/b c"}); p != "at_hour=2026-11-26-14/v=-7/at_month=..~2Fa~2Fb~20c" {
		t.Errorf("RowPartitionPath = %q", p)
	}
	if p := kt.RowPartitionPath(time.Date(2026, 11, 26, 14, 5, 0, 0, time.UTC), []any{nil, ""}); p != "at_hour=2026-11-26-14/v=null/at_month=" {
		t.Errorf("RowPartitionPath of null and empty = %q", p)
	}
	// Every JSON value type, each in a column of its type; null, and a
	// value of another Go type, as null.
	m, _ := l.open(t).LazyTable("market", "orders3")
	m.Partitioning = "day,s,n,x,b"
	typed := stocklake.TableShape{Schema: "json", TimeField: "at", Columns: []stocklake.Column{{Name: "at", Type: "timestamp"},
		{Name: "s", Type: "string"}, {Name: "n", Type: "bigint"}, {Name: "x", Type: "double"}, {Name: "b", Type: "boolean"}}}
	if _, err := m.Decide(ctx, typed); err != nil {
		t.Fatal(err)
	}
	mt, _ := m.Table(ctx)
	at := time.Date(2026, 11, 26, 14, 5, 0, 0, time.UTC)
	for _, tc := range []struct {
		vals []any
		want string
	}{
		{[]any{"a b", int64(1) << 62, 2.5, true}, "at_day=2026-11-26/s=a~20b/n=4611686018427387904/x=2.5/b=true"},
		{[]any{"", int64(-1), -0.125, false}, "at_day=2026-11-26/s=/n=-1/x=-0.125/b=false"},
		{[]any{nil, nil, nil, nil}, "at_day=2026-11-26/s=null/n=null/x=null/b=null"},
		{[]any{[]byte("a"), 1, float32(2.5), int32(1)}, "at_day=2026-11-26/s=null/n=null/x=null/b=null"},
		{[]any{"short"}, "at_day=2026-11-26/s=short/n=null/x=null/b=null"},
	} {
		if p := mt.RowPartitionPath(at, tc.vals); p != tc.want {
			t.Errorf("RowPartitionPath(%#v) = %q, want %q", tc.vals, p, tc.want)
		}
	}
	for _, refused := range []string{"identity(at)", "hour,nope", "day(v)"} {
		r, _ := l.open(t).LazyTable("market", "orders_"+strings.NewReplacer("(", "_", ")", "", ",", "_").Replace(refused))
		r.Partitioning = refused
		if _, err := r.Decide(ctx, shape); !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), "JSON") {
			t.Errorf("a JSON table partitioned by %s: %v, want ErrConfig", refused, err)
		}
		if tb, _ := r.Table(ctx); tb != nil {
			t.Errorf("a refused JSON table (%s) was created", refused)
		}
	}
	// Registry tables: day of the time field only, until the sink groups
	// their rows by other partitions.
	regShape := stocklake.TableShape{Schema: "registry", TimeField: "ts", Fields: []stocklake.Field{
		{Name: "ts", Type: &stocklake.FieldType{Kind: stocklake.KindTimestampMicros, Optional: true}},
		{Name: "v", Type: &stocklake.FieldType{Kind: stocklake.KindInt64, Optional: true}},
	}}
	for _, refused := range []string{"hour", "none", "day,v"} {
		r, _ := l.open(t).LazyTable("market", "reg_"+strings.ReplaceAll(refused, ",", "_"))
		r.Partitioning = refused
		if _, err := r.Decide(ctx, regShape); !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), "registry") {
			t.Errorf("a registry table partitioned by %q: %v, want ErrConfig", refused, err)
		}
		if tb, _ := r.Table(ctx); tb != nil {
			t.Errorf("a refused registry table (%q) was created", refused)
		}
	}
	for _, ok := range []string{"", "day", "day(ts)"} {
		r, _ := l.open(t).LazyTable("market", "reg_ok"+strings.NewReplacer("(", "_", ")", "").Replace(ok))
		r.Partitioning = ok
		if _, err := r.Decide(ctx, regShape); err != nil {
			t.Errorf("a registry table partitioned by %q: %v", ok, err)
		}
	}
}
