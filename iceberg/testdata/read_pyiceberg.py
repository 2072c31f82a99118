"""Reads a stocklake Iceberg table with pyiceberg, independently of stocklake.

Usage: read_pyiceberg.py CATALOG_DB WAREHOUSE DATABASE.TABLE DAY_START DAY_END [SYMBOL]
For an s3:// warehouse, the S3 endpoint and keys come from the environment
(STOCKLAKE_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION).
Prints one JSON object: row count, distinct (symbol, trade_id) pairs, the
current snapshot's stocklake.offsets, the rows with DAY_START <= ts < DAY_END,
the Arrow type of ts, the number of snapshots and the database's tables;
with SYMBOL also the partition spec as pyiceberg reads it, and the rows of
that symbol and the files pyiceberg plans for them.
"""
import json
import os
import sys

from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, LessThan

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -P leaves this folder out
from stocklake_pyiceberg import sql_catalog  # noqa: E402

db, warehouse, ident, day_start, day_end = sys.argv[1:6]
cat = sql_catalog(db, warehouse)
t = cat.load_table(ident)
tab = t.scan().to_arrow()
pairs = set(zip(tab.column("symbol").to_pylist(), tab.column("trade_id").to_pylist()))
snap = t.current_snapshot()
day = t.scan(row_filter=And(GreaterThanOrEqual("ts", day_start), LessThan("ts", day_end))).to_arrow()
extra = {}
if len(sys.argv) > 6:
    sym = EqualTo("symbol", sys.argv[6])
    extra = {
        "spec": [f"{f.transform}({t.schema().find_column_name(f.source_id)})" for f in t.spec().fields],
        "symbol_rows": t.scan(row_filter=sym).to_arrow().num_rows,
        "symbol_files": len(list(t.scan(row_filter=sym).plan_files())),
    }
print(json.dumps(extra | {
    "rows": tab.num_rows,
    "distinct": len(pairs),
    "offsets": json.loads(snap.summary["stocklake.offsets"]),
    "day_rows": day.num_rows,
    "ts_type": str(tab.schema.field("ts").type),
    "snapshots": len(t.snapshots()),
    "tables": [".".join(x) for x in cat.list_tables(ident.split(".")[0])],
}))
