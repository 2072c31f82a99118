#!/usr/bin/env python3
"""Independent check of a stocklake Iceberg tick table with pyiceberg (not stocklake's code).

Usage: verify_iceberg.py CATALOG_DB WAREHOUSE DATABASE.TABLE EXPECTED_ROWS
  CATALOG_DB  the SQLite file of the Iceberg SQL catalog (sink --catalog sqlite://CATALOG_DB)
  WAREHOUSE   file:///dir or s3://bucket/prefix (S3 endpoint and keys from
              AWS_ENDPOINT_URL_S3 or STOCKLAKE_S3_ENDPOINT, AWS_ACCESS_KEY_ID,
              AWS_SECRET_ACCESS_KEY, AWS_REGION)

Opens the table with pyiceberg's SqlCatalog, scans its current snapshot, and
checks that there are exactly EXPECTED_ROWS rows and that every
(symbol, trade_id) pair occurs exactly once. Prints one JSON line with the
figures (as scripts/verify_lake.py does, plus the snapshot count); exits 1
on a mismatch.
"""
import json
import os
import sys

import pyarrow.compute as pc
from pyiceberg.catalog.sql import SqlCatalog


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    db, warehouse, ident, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    props = {}
    if warehouse.startswith("s3://"):
        props = {
            "s3.endpoint": os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ["STOCKLAKE_S3_ENDPOINT"],
            "s3.access-key-id": os.environ["AWS_ACCESS_KEY_ID"],
            "s3.secret-access-key": os.environ["AWS_SECRET_ACCESS_KEY"],
            "s3.region": os.environ.get("AWS_REGION", "us-east-1"),
        }
    cat = SqlCatalog("stocklake", uri=f"sqlite:///{db}", warehouse=warehouse, **props)
    t = cat.load_table(ident)
    scan = t.scan(selected_fields=("symbol", "trade_id"))
    files = sum(1 for _ in scan.plan_files())
    tab = scan.to_arrow()
    keys = pc.binary_join_element_wise(tab["symbol"], tab["trade_id"], "/")
    counts = pc.value_counts(keys)
    dup = pc.sum(pc.greater(counts.field("counts"), 1)).as_py() or 0
    out = {"files": files, "rows": tab.num_rows, "distinct": len(counts), "duplicated_keys": dup,
           "expected": expected, "snapshots": len(t.snapshots())}
    print(json.dumps(out))
    ok = tab.num_rows == expected and len(counts) == expected and dup == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
