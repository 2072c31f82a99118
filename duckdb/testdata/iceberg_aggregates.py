"""Aggregates an Iceberg table with pyiceberg, independently of stocklake.

Usage: iceberg_aggregates.py CATALOG_DB WAREHOUSE DATABASE.TABLE SNAPSHOT_ID TS_FROM
Prints one JSON object with, per symbol, [rows, sum(size), min(ts), max(ts)]
(times as microseconds since the epoch) for the current snapshot ("all"),
the rows with ts >= TS_FROM ("from") and the snapshot SNAPSHOT_ID ("snapshot").
"""
import json
import sys

import pyarrow.compute as pc
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import GreaterThanOrEqual

db, warehouse, ident, snapshot_id, ts_from = sys.argv[1:6]
cat = SqlCatalog("stocklake", uri=f"sqlite:///{db}", warehouse=warehouse)
t = cat.load_table(ident)


def aggregate(tab):
    out = {}
    for sym in sorted(set(tab.column("symbol").to_pylist())):
        rows = tab.filter(pc.equal(tab.column("symbol"), sym))
        ts = rows.column("ts").cast("int64")
        out[sym] = [rows.num_rows, pc.sum(rows.column("size")).as_py(),
                    pc.min(ts).as_py(), pc.max(ts).as_py()]
    return out


print(json.dumps({
    "all": aggregate(t.scan().to_arrow()),
    "from": aggregate(t.scan(row_filter=GreaterThanOrEqual("ts", ts_from)).to_arrow()),
    "snapshot": aggregate(t.scan(snapshot_id=int(snapshot_id)).to_arrow()),
}))
