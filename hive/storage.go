package hive

import (
	"strings"

	"github.com/stocklake/stocklake"
)

// Hadoop class names that Glue records and Athena, Trino and Hive read.
const (
	ParquetInputFormat  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
	ParquetOutputFormat = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
	ParquetSerDe        = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
	TextInputFormat     = "org.apache.hadoop.mapred.TextInputFormat"
	TextOutputFormat    = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
	// OpenXJSONSerDe is the JSON SerDe Glue's crawler and Athena use.
	OpenXJSONSerDe = "org.openx.data.jsonserde.JsonSerDe"
	// HiveJSONSerDe is Hive's own JSON SerDe (HCatalog).
	HiveJSONSerDe = "org.apache.hive.hcatalog.data.JsonSerDe"
	// LazySimpleSerDe reads delimited text without quotes.
	LazySimpleSerDe = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
	// OpenCSVSerDe reads quoted CSV; Trino reads it only with string columns.
	OpenCSVSerDe = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
	ORCSerDe     = "org.apache.hadoop.hive.ql.io.orc.OrcSerde"
	AvroSerDe    = "org.apache.hadoop.hive.serde2.avro.AvroSerDe"
)

// Storage returns the input format, output format and SerDe that Athena
// and Trino expect for a stocklake data format (stocklake.FormatParquet,
// FormatJSON or FormatCSV, in any case); ok is false for other formats.
// CSV gets LazySimpleSerDe; a writer of quoted CSV picks OpenCSVSerDe.
func Storage(format string) (input, output, serde string, ok bool) {
	switch strings.ToLower(format) {
	case stocklake.FormatParquet:
		return ParquetInputFormat, ParquetOutputFormat, ParquetSerDe, true
	case stocklake.FormatJSON:
		return TextInputFormat, TextOutputFormat, OpenXJSONSerDe, true
	case stocklake.FormatCSV:
		return TextInputFormat, TextOutputFormat, LazySimpleSerDe, true
	}
	return "", "", "", false
}
