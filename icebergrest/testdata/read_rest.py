"""Reads a table through an Iceberg REST catalog with pyiceberg's RestCatalog.

Usage: read_rest.py URI AUTH DATABASE.TABLE DAY_START DAY_END
AUTH is "token=T" (a bearer token), "credential=ID:SECRET" (the OAuth
client-credentials flow) or "none". pyiceberg gets nothing else: the S3
endpoint, region and keys of an s3:// table must come from the table's
config in the server's answer. Prints one JSON object: the namespaces, the
database's tables, row count, sum(size), distinct (symbol, trade_id) pairs,
the rows with DAY_START <= ts < DAY_END, the current snapshot's
stocklake.offsets and the metadata location; "paged_namespaces" and
"paged_tables" list again with rest-page-size=1 (a page per item).
"""
import json
import sys

import pyarrow.compute as pc
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan

uri, auth, ident, day_start, day_end = sys.argv[1:6]
props = {"uri": uri}
if auth != "none":
    k, v = auth.split("=", 1)
    props[k] = v
cat = RestCatalog("stocklake", **props)
t = cat.load_table(ident)
tab = t.scan().to_arrow()
pairs = set(zip(tab.column("symbol").to_pylist(), tab.column("trade_id").to_pylist()))
day = t.scan(row_filter=And(GreaterThanOrEqual("ts", day_start), LessThan("ts", day_end))).to_arrow()
paged = RestCatalog("stocklake", **(props | {"rest-page-size": "1"}))
print(json.dumps({
    "paged_namespaces": [".".join(n) for n in paged.list_namespaces()],
    "paged_tables": [".".join(x) for x in paged.list_tables(ident.split(".")[0])],
    "namespaces": [".".join(n) for n in cat.list_namespaces()],
    "tables": [".".join(x) for x in cat.list_tables(ident.split(".")[0])],
    "rows": tab.num_rows,
    "sum_size": pc.sum(tab.column("size")).as_py(),
    "distinct": len(pairs),
    "day_rows": day.num_rows,
    "offsets": json.loads(t.current_snapshot().summary["stocklake.offsets"]),
    "metadata_location": t.metadata_location,
}))
