#!/usr/bin/env python3
"""Independent check of a Hive table through its catalog partitions, with pyarrow.

Usage: verify_partitions.py PARTITIONS_JSON EXPECTED_ROWS
  PARTITIONS_JSON  the output of `stocklake catalog partitions TABLE --format json`
                   (file:// locations)

Reads the Parquet objects directly in each partition's location (not in
subfolders, skipping names that start with '_' or '.', as Athena and Trino
do): exactly what a reader of the catalog sees, compacted partitions
included. Checks that there are EXPECTED_ROWS rows and that every
(symbol, trade_id) pair occurs once. Prints one JSON line with the figures;
exits 1 on a mismatch.
"""
import json
import os
import sys
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        parts = json.load(f)
    expected = int(sys.argv[2])
    tables, files = [], 0
    for p in parts:
        u = urlparse(p["Location"])
        if u.scheme != "file":
            sys.exit("only file:// locations: " + p["Location"])
        folder = unquote(u.path)
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if name.startswith(("_", ".")) or not os.path.isfile(path) or os.path.getsize(path) == 0:
                continue
            tables.append(pq.read_table(path, columns=["symbol", "trade_id"]))
            files += 1
    t = pa.concat_tables(tables) if tables else pa.table({"symbol": [], "trade_id": []})
    keys = pc.binary_join_element_wise(t["symbol"], t["trade_id"], "\x00")
    counts = pc.value_counts(keys)
    dup = sum(1 for c in counts.field("counts").to_pylist() if c > 1)
    out = {"partitions": len(parts), "files": files, "rows": t.num_rows, "distinct": len(counts), "duplicated_keys": dup}
    print(json.dumps(out))
    if t.num_rows != expected or len(counts) != expected or dup:
        sys.exit(1)


if __name__ == "__main__":
    main()
