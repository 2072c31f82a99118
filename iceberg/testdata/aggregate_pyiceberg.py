"""Aggregates a stocklake tick table with pyiceberg, independently of stocklake.

Usage: aggregate_pyiceberg.py METADATA_LOCATION
Opens the table from its metadata file (pyiceberg's StaticTable: what a Glue
table's metadata_location names), the S3 endpoint and keys from the
environment (STOCKLAKE_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION). Prints one JSON object per symbol: {"SYMBOL": {"n": rows,
"size": sum(size), "min_ts": ..., "max_ts": ...}}, times as
"YYYY-MM-DD HH:MM:SS.ffffff" in UTC.
"""
import json
import os
import sys

from pyiceberg.table import StaticTable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -P leaves this folder out
from stocklake_pyiceberg import s3_props  # noqa: E402

meta = sys.argv[1]
t = StaticTable.from_metadata(meta, properties=s3_props(meta))
tab = t.scan(selected_fields=("symbol", "size", "ts")).to_arrow()
agg = tab.group_by("symbol").aggregate([("symbol", "count"), ("size", "sum"), ("ts", "min"), ("ts", "max")])
out = {}
for row in agg.to_pylist():
    out[row["symbol"]] = {
        "n": row["symbol_count"],
        "size": row["size_sum"],
        "min_ts": row["ts_min"].strftime("%Y-%m-%d %H:%M:%S.%f"),
        "max_ts": row["ts_max"].strftime("%Y-%m-%d %H:%M:%S.%f"),
    }
print(json.dumps(out))
