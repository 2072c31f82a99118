package hive

import (
	"errors"
	"reflect"
	"testing"

	"github.com/stocklake/stocklake"
)

func TestParseType(t *testing.T) {
	for in, want := range map[string]string{
		"int":                            "int",
		"INTEGER":                        "integer",
		" BigInt ":                       "bigint",
		"decimal(10, 2)":                 "decimal(10,2)",
		"decimal":                        "decimal",
		"varchar(3)":                     "varchar(3)",
		"character varying(3)":           "varchar(3)",
		"double precision":               "double",
		"timestamp":                      "timestamp",
		"timestamp(3) with time zone":    "timestamp(3) with time zone",
		"timestamp with local time zone": "timestamp with local time zone",
		"interval day to second":         "interval day to second",
		"interval":                       "interval",
		"array<struct<a:int,b:map<string,double>>>": "array<struct<a:int,b:map<string,double>>>",
		"map < string , array < bigint > >":         "map<string,array<bigint>>",
		"struct<>":                                  "struct<>",
		"struct<`a b`:int,\"c\"\"d\":string>":       "struct<`a b`:int,`c\"d`:string>",
		"struct<a-b:int,$x:string,Mixed:date>":      "struct<a-b:int,$x:string,Mixed:date>",
		"struct<`x``y`:int>":                        "struct<`x``y`:int>",
		"uniontype<int,string>":                     "uniontype<int,string>",
		"struct<a:int>\n":                           "struct<a:int>",
		"float":                                     "float",
		"geometry":                                  "geometry",
	} {
		got, err := ParseType(in)
		if err != nil {
			t.Errorf("ParseType(%q): %v", in, err)
			continue
		}
		if got.String() != want {
			t.Errorf("ParseType(%q).String() = %q, want %q", in, got.String(), want)
		}
		again, err := ParseType(got.String())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("ParseType(%q) = %+v, %v; want %+v", got.String(), again, err, got)
		}
	}
	for _, bad := range []string{"", "array", "array<>", "array<int,int>", "map<string>", "struct<a int>", "struct<a:int",
		"decimal(a,b)", "decimal(10,", "int>", "struct<`a:int>", "varchar(-1)"} {
		if got, err := ParseType(bad); !errors.Is(err, stocklake.ErrInvalid) {
			t.Errorf("ParseType(%q) = %v, %v; want ErrInvalid", bad, got, err)
		}
	}
	st, _ := ParseType("struct<a:int,B:array<string>>")
	want := Type{Name: "struct", Fields: []string{"a", "B"}, Elems: []Type{{Name: "int"}, {Name: "array", Elems: []Type{{Name: "string"}}}}}
	if !reflect.DeepEqual(st, want) || !st.Complex() || st.Elems[0].Complex() {
		t.Errorf("ParseType tree = %+v, want %+v", st, want)
	}
}

func FuzzParseType(f *testing.F) {
	for _, s := range []string{"int", "array<struct<a:int,`b c`:map<string,decimal(10,2)>>>", "timestamp(3) with time zone"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ty, err := ParseType(s)
		if err != nil {
			return
		}
		again, err := ParseType(ty.String())
		if err != nil || !reflect.DeepEqual(again, ty) {
			t.Fatalf("ParseType(%q) = %+v; its String %q parses as %+v, %v", s, ty, ty.String(), again, err)
		}
	})
}

func TestStorage(t *testing.T) {
	in, out, serde, ok := Storage("PARQUET")
	if !ok || in != ParquetInputFormat || out != ParquetOutputFormat || serde != ParquetSerDe {
		t.Errorf("Storage(PARQUET) = %s %s %s %v", in, out, serde, ok)
	}
	if _, _, serde, _ := Storage(stocklake.FormatJSON); serde != OpenXJSONSerDe {
		t.Errorf("Storage(json) SerDe = %s", serde)
	}
	if _, _, serde, _ := Storage(stocklake.FormatCSV); serde != LazySimpleSerDe {
		t.Errorf("Storage(csv) SerDe = %s", serde)
	}
	if _, _, _, ok := Storage("orc"); ok {
		t.Error("Storage(orc) ok")
	}
}
