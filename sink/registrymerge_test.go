package sink

import (
	"testing"

	"github.com/stocklake/stocklake"
)

// TestMergeFieldsStrict: Iceberg tables (strict) widen only as Iceberg
// promotes (int to long, float to double); the Hive path also takes int
// or long into double. Timestamp-millis fields become µs for Iceberg.
func TestMergeFieldsStrict(t *testing.T) {
	k := func(kind stocklake.FieldKind) []stocklake.Field {
		return []stocklake.Field{{Name: "x", Type: &stocklake.FieldType{Kind: kind, Optional: true}}}
	}
	for _, c := range []struct {
		table, writer stocklake.FieldKind
		strict        bool
		want          stocklake.FieldKind // 255: incompatible
	}{
		{stocklake.KindInt32, stocklake.KindInt64, true, stocklake.KindInt64},
		{stocklake.KindInt64, stocklake.KindInt32, true, stocklake.KindInt64},
		{stocklake.KindFloat32, stocklake.KindFloat64, true, stocklake.KindFloat64},
		{stocklake.KindFloat64, stocklake.KindFloat32, true, stocklake.KindFloat64},
		{stocklake.KindInt32, stocklake.KindFloat64, true, 255},
		{stocklake.KindInt64, stocklake.KindFloat64, true, 255},
		{stocklake.KindFloat32, stocklake.KindInt64, true, 255},
		{stocklake.KindString, stocklake.KindInt64, true, 255},
		{stocklake.KindInt32, stocklake.KindFloat64, false, stocklake.KindFloat64},
		{stocklake.KindFloat32, stocklake.KindInt64, false, stocklake.KindFloat64},
		{stocklake.KindString, stocklake.KindInt64, false, 255},
	} {
		got, _, err := mergeFields(k(c.table), k(c.writer), c.strict)
		switch {
		case c.want == 255 && err == nil:
			t.Errorf("strict %v: table %d, writer %d: merged into %d, want incompatible", c.strict, c.table, c.writer, got[0].Type.Kind)
		case c.want != 255 && err != nil:
			t.Errorf("strict %v: table %d, writer %d: %v, want %d", c.strict, c.table, c.writer, err, c.want)
		case c.want != 255 && got[0].Type.Kind != c.want:
			t.Errorf("strict %v: table %d, writer %d: merged into %d, want %d", c.strict, c.table, c.writer, got[0].Type.Kind, c.want)
		}
	}

	ms := &stocklake.FieldType{Kind: stocklake.KindTimestampMillis}
	fs := []stocklake.Field{{Name: "at", Type: ms},
		{Name: "legs", Type: &stocklake.FieldType{Kind: stocklake.KindList, Elem: &stocklake.FieldType{Kind: stocklake.KindRecord,
			Fields: []stocklake.Field{{Name: "t", Type: ms}, {Name: "n", Type: &stocklake.FieldType{Kind: stocklake.KindInt32}}}}}},
		{Name: "empty", Type: &stocklake.FieldType{Kind: stocklake.KindRecord}}}
	mf := microsFields(fs)
	if mf[0].Type.Kind != stocklake.KindTimestampMicros || mf[1].Type.Elem.Fields[0].Type.Kind != stocklake.KindTimestampMicros || fs[0].Type.Kind != stocklake.KindTimestampMillis {
		t.Errorf("microsFields: %+v (input %+v)", mf, fs)
	}
	rec := map[string]any{"at": int64(1500), "legs": []any{map[string]any{"t": int64(2), "n": int32(2)}, nil}, "empty": map[string]any{}}
	scaleMillis(fs, rec)
	if rec["at"] != int64(1_500_000) || rec["legs"].([]any)[0].(map[string]any)["t"] != int64(2000) || rec["legs"].([]any)[0].(map[string]any)["n"] != int32(2) {
		t.Errorf("scaleMillis: %v", rec)
	}
}
