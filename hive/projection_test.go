package hive

import (
	"fmt"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

func TestProjectPartitions(t *testing.T) {
	start := time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)
	now := time.Date(2026, 11, 27, 0, 30, 0, 0, time.UTC)
	params, err := ProjectionParameters("s3://b/lake/ticks", []string{"dt", "hour"}, start)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"projection.enabled": "true", "projection.dt.type": "date", "projection.dt.format": "yyyy-MM-dd",
		"projection.dt.range": "2026-11-25,NOW", "projection.dt.interval": "1", "projection.dt.interval.unit": "DAYS",
		"projection.hour.type": "integer", "projection.hour.range": "0,23", "projection.hour.digits": "2",
		"storage.location.template": "s3://b/lake/ticks/dt=${dt}/hour=${hour}/",
	}
	if fmt.Sprint(params) != fmt.Sprint(want) {
		t.Fatalf("parameters %v\nwant %v", params, want)
	}
	if !Projected(params) {
		t.Fatal("not projected")
	}
	tbl := stocklake.Table{Database: "d", Name: "ticks", Location: "s3://b/lake/ticks/", Parameters: params,
		PartitionKeys: []stocklake.Column{{Name: "dt", Type: "string"}, {Name: "hour", Type: "string"}}}
	parts, err := ProjectPartitions(tbl, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 3*24 {
		t.Fatalf("%d partitions, want 72 (3 days up to now, 24 hours each)", len(parts))
	}
	if p := parts[0]; fmt.Sprint(p.Values) != "[2026-11-25 00]" || p.Location != "s3://b/lake/ticks/dt=2026-11-25/hour=00/" {
		t.Errorf("first partition %+v", p)
	}
	if p := parts[71]; fmt.Sprint(p.Values) != "[2026-11-27 23]" {
		t.Errorf("last partition %+v", p)
	}
	if _, err := ProjectionParameters("s3://b/t/", []string{"symbol"}, start); err == nil {
		t.Error("projection of a field key accepted")
	}
	// Other types and ranges, as Athena documents them.
	tbl.Parameters = map[string]string{"projection.enabled": "TRUE", "projection.dt.type": "date", "projection.dt.format": "yyyy/MM/dd/HH",
		"projection.dt.range": "NOW-2HOURS,NOW", "projection.dt.interval": "1", "projection.dt.interval.unit": "HOURS",
		"projection.hour.type": "enum", "projection.hour.values": "a,b"}
	parts, err = ProjectPartitions(tbl, now)
	if err != nil || len(parts) != 6 || parts[0].Values[0] != "2026/11/26/22" || parts[0].Location != "s3://b/lake/ticks/dt=2026/11/26/22/hour=a/" {
		t.Fatalf("hourly dates x enum: %v, %v", parts, err)
	}
	tbl.Parameters["projection.hour.type"] = "injected"
	if _, err := ProjectPartitions(tbl, now); err == nil {
		t.Error("injected accepted")
	}
	tbl.Parameters = map[string]string{"projection.enabled": "true", "projection.dt.type": "integer", "projection.dt.range": "-2,100000000000",
		"projection.hour.type": "integer", "projection.hour.range": "0,1"}
	if _, err := ProjectPartitions(tbl, now); err == nil {
		t.Error("a projection of 10^11 values accepted")
	}
	tbl.Parameters["projection.dt.range"] = "-2,2"
	tbl.Parameters["projection.dt.digits"] = "3"
	if parts, err := ProjectPartitions(tbl, now); err != nil || len(parts) != 10 || parts[0].Values[0] != "-002" || parts[9].Values[0] != "002" {
		t.Errorf("integers with digits: %v, %v", parts, err)
	}
}
