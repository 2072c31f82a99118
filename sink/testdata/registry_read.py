"""Reads a landed table's Parquet objects with pyarrow, for
sink/registry_integration_test.go.

usage: registry_read.py TABLE_DIR

Prints one JSON object: "types" (column -> pyarrow type of the newest
file, which has the widest schema), "rows" (row count over all files)
and "records" (every row as JSON, values as text where JSON has no type).
"""

import glob
import json
import os
import sys

import pyarrow.parquet as pq

files = sorted(glob.glob(os.path.join(sys.argv[1], "**", "*.parquet"), recursive=True), key=os.path.getmtime)
types, records = {}, []
for f in files:
    t = pq.read_table(f, partitioning=None)
    for field in t.schema:
        types[field.name] = str(field.type)
    records.extend(t.to_pylist())
print(json.dumps({"types": types, "rows": len(records), "records": records}, default=str))
