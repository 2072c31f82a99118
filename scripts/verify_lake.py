#!/usr/bin/env python3
"""Independent check of a stocklake tick lake with pyarrow (not stocklake's code).

Usage: verify_lake.py LAKE_URL TABLE EXPECTED_ROWS
  LAKE_URL  file:///dir or s3://bucket/prefix (S3 endpoint and keys from
            AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)

Reads every Parquet object under TABLE/ (Hive partitions), then checks that
there are exactly EXPECTED_ROWS rows and that every (symbol, trade_id) pair
occurs exactly once. Prints one JSON line with the figures; exits 1 on a
mismatch.
"""
import json
import os
import sys
from urllib.parse import urlparse

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    lake, table, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    u = urlparse(lake)
    if u.scheme == "s3":
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        kw = {}
        if endpoint:
            e = urlparse(endpoint)
            kw = {"endpoint_override": e.netloc, "scheme": e.scheme or "http"}
        fs = pafs.S3FileSystem(access_key=os.environ.get("AWS_ACCESS_KEY_ID"),
                               secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
                               region=os.environ.get("AWS_REGION", "us-east-1"),
                               force_virtual_addressing=False, **kw)
        root = (u.netloc + "/" + u.path.strip("/")).rstrip("/") + "/" + table
    else:
        fs = pafs.LocalFileSystem()
        root = os.path.join(u.netloc + u.path if u.netloc in ("", ".") else u.netloc + u.path, table)
    sel = pafs.FileSelector(root, recursive=True)
    files = [f.path for f in fs.get_file_info(sel) if f.path.endswith(".parquet")]
    dataset = ds.dataset(files, filesystem=fs, format="parquet")
    t = dataset.to_table(columns=["symbol", "trade_id"])
    keys = pc.binary_join_element_wise(t["symbol"], t["trade_id"], "/")
    counts = pc.value_counts(keys)
    dup = pc.sum(pc.greater(counts.field("counts"), 1)).as_py() or 0
    out = {"files": len(files), "rows": t.num_rows, "distinct": len(counts), "duplicated_keys": dup, "expected": expected}
    print(json.dumps(out))
    ok = t.num_rows == expected and len(counts) == expected and dup == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
