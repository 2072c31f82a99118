"""Reads a registry Iceberg table with pyiceberg, independently of
stocklake, for sink/registry_integration_test.go.

usage: registry_read_iceberg.py CATALOG_DB WAREHOUSE DATABASE.TABLE

Prints one JSON object: "types" (column -> Iceberg type of the current
schema), "arrow" (column -> pyarrow type of the scan), "rows" (row
count), "records" (every row, values as text where JSON has no type) and
"schemas" (how many schema versions the table has).
"""

import json
import sys

from pyiceberg.catalog.sql import SqlCatalog

db, warehouse, ident = sys.argv[1:4]
cat = SqlCatalog("stocklake", uri=f"sqlite:///{db}", warehouse=warehouse)
t = cat.load_table(ident)
tab = t.scan().to_arrow()
print(json.dumps({
    "types": {f.name: str(f.field_type) for f in t.schema().fields},
    "arrow": {f.name: str(f.type) for f in tab.schema},
    "rows": tab.num_rows,
    "records": tab.to_pylist(),
    "schemas": len(t.schemas()),
}, default=str))
