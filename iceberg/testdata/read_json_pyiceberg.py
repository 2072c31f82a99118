"""Reads a stocklake Iceberg table of JSON records with pyiceberg, independently of stocklake.

Usage: read_json_pyiceberg.py CATALOG_DB WAREHOUSE DATABASE.TABLE KEY TIME_FIELD DAY_START DAY_END [PARTITION_COLUMN]
For an s3:// warehouse, the S3 endpoint and keys come from the environment
(STOCKLAKE_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION).
Prints one JSON object: row count, distinct values of KEY, the Iceberg type of
every column, the partition spec, the current snapshot's stocklake.offsets,
the rows with DAY_START <= TIME_FIELD < DAY_END and the null count per column.
With PARTITION_COLUMN (an identity partition source), also the rows per value
of it ("null" for null) from the table's partitions (inspect.partitions, the
manifests' partition values), and the rows a scan filtered on each value reads.
"""
import json
import os
import sys

from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, IsNull, LessThan

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -P leaves this folder out
from stocklake_pyiceberg import sql_catalog  # noqa: E402

db, warehouse, ident, key, time_field, day_start, day_end = sys.argv[1:8]
cat = sql_catalog(db, warehouse)
t = cat.load_table(ident)
tab = t.scan().to_arrow()
day = t.scan(row_filter=And(GreaterThanOrEqual(time_field, day_start), LessThan(time_field, day_end))).to_arrow()
extra = {}
if len(sys.argv) > 8:
    col = sys.argv[8]
    partitions, filtered = {}, {}
    for p in t.inspect.partitions().to_pylist():
        v = p["partition"][col]
        k = "null" if v is None else str(v)
        partitions[k] = partitions.get(k, 0) + p["record_count"]
    for k in partitions:
        f = IsNull(col) if k == "null" else EqualTo(col, k)
        filtered[k] = t.scan(row_filter=f).to_arrow().num_rows
    extra = {"partitions": partitions, "filtered": filtered}
print(json.dumps({
    **extra,
    "rows": tab.num_rows,
    "distinct": len(set(tab.column(key).to_pylist())),
    "types": {f.name: str(f.field_type) for f in t.schema().fields},
    "required": [f.name for f in t.schema().fields if f.required],
    "spec": str(t.spec()),
    "offsets": json.loads(t.current_snapshot().summary["stocklake.offsets"]),
    "day_rows": day.num_rows,
    "nulls": {n: tab.column(n).null_count for n in tab.column_names},
}))
