package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

// TestSinkIcebergPartitionBy: `sink --table-format iceberg --partition-by
// hour,symbol` creates the table partitioned by hour(ts),identity(symbol)
// (the spec is in the metadata file); `verify` finds it complete; `catalog
// table` shows the partitioning; a later sink with another --partition-by
// is refused (naming the flag), one without follows the table. (The flag
// used to be ignored: the table was always day(ts).)
func TestSinkIcebergPartitionBy(t *testing.T) {
	brokers, kc := fakeKafka(t, 2)
	produce := func(prefix string, n int) {
		base := time.Date(2026, 11, 26, 14, 59, 0, 0, time.UTC)
		produceTicks(t, kc, n, func(i int) stocklake.Tick {
			return stocklake.Tick{Symbol: []string{"AAPL", "MSFT", "BRK.B"}[i%3], Time: base.Add(time.Duration(i) * 200 * time.Millisecond),
				Price: 100, Size: 1, Exchange: "XNAS", TradeID: prefix + strconv.Itoa(i), Source: "test"}
		})
	}
	dir := t.TempDir()
	lake, catURL := "file://"+filepath.Join(dir, "lake"), "sqlite://"+filepath.Join(dir, "catalog.db")
	sinkArgs := func(extra ...string) []string {
		return append([]string{"sink", "--brokers", brokers, "--lake", lake, "--catalog", catURL, "--table-format", "iceberg",
			"--exit-when-idle", "--flush-interval", "100ms", "--max-rows", "200"}, extra...)
	}
	produce("a", 600) // 14:59:00 to 15:01:00: two hours
	if err := runCommand(t, sinkArgs("--partition-by", "hour,symbol")...); err != nil {
		t.Fatal(err)
	}

	var def stocklake.Table
	stdoutJSON(t, &def, "catalog", "table", "ticks", "--catalog", catURL, "--lake", lake, "--format", "json")
	if got := def.Parameters["partitioning"]; got != "hour(ts),identity(symbol)" {
		t.Errorf("catalog table: partitioning %q, want hour(ts),identity(symbol)", got)
	}
	meta, err := os.ReadFile(strings.TrimPrefix(def.Parameters["metadata_location"], "file://"))
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		DefaultSpecID int `json:"default-spec-id"`
		Specs         []struct {
			ID     int `json:"spec-id"`
			Fields []struct {
				Name      string `json:"name"`
				Transform string `json:"transform"`
			} `json:"fields"`
		} `json:"partition-specs"`
	}
	if err := json.Unmarshal(meta, &md); err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, s := range md.Specs {
		if s.ID == md.DefaultSpecID {
			for _, f := range s.Fields {
				fields = append(fields, f.Transform+":"+f.Name)
			}
		}
	}
	if got := strings.Join(fields, ","); got != "hour:ts_hour,identity:symbol" {
		t.Errorf("metadata partition spec %s, want hour:ts_hour,identity:symbol", got)
	}
	folders, _ := filepath.Glob(filepath.Join(dir, "lake", "stocklake.db", "ticks", "data", "ts_hour=*", "symbol=*"))
	if len(folders) != 6 {
		t.Errorf("data folders %v, want 2 hours x 3 symbols", folders)
	}

	verify := []string{"verify", "--table", "ticks", "--lake", lake, "--catalog", catURL}
	if err := runCommand(t, verify...); err != nil {
		t.Errorf("verify: %v", err)
	}

	produce("b", 300)
	for _, other := range []string{"day", "hour", "symbol,hour"} {
		err := runCommand(t, sinkArgs("--partition-by", other)...)
		if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), "keeps its partitioning") || !strings.Contains(err.Error(), "--partition-by") {
			t.Errorf("--partition-by %s on a table partitioned by hour(ts),identity(symbol): %v; want a refusal naming --partition-by", other, err)
		}
	}
	if err := runCommand(t, sinkArgs()...); err != nil {
		t.Fatalf("a sink without --partition-by on the existing table: %v", err)
	}
	if err := runCommand(t, verify...); err != nil {
		t.Errorf("verify after the second sink: %v", err)
	}
	var row map[string]any
	stdoutJSON(t, &row, "query", "--catalog", catURL, "--lake", lake, "--format", "json",
		"SELECT count(*) AS n, count(DISTINCT trade_id) AS d FROM ticks WHERE symbol = 'BRK.B'")
	if row["n"] != float64(300) || row["d"] != float64(300) {
		t.Errorf("BRK.B rows: %v, want 300 distinct", row)
	}
}
