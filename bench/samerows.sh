#!/usr/bin/env bash
# bench/samerows.sh: the lake a stocklake binary writes holds the same rows
# as the one another binary writes from the same ticks (issue 18: a faster
# sink must land identical contents).
#
#   bench/samerows.sh --old BIN [--new BIN] [TICKS]     TICKS default 1,000,000
#
# Starts `stocklake broker` (in memory), fills a 3-partition topic with TICKS
# simulated ticks (--seed 1), then lands the topic with each binary's sink
# (default flags, --exit-when-idle) as a Hive table and as an Iceberg table
# (SQLite catalog), four lakes in all. With pyarrow (scripts/pyenv) it
# reads every Parquet data file of each, adds the file's partition folder
# (dt=/hour= for Hive, the folder under data/ for Iceberg) as a column,
# sorts all rows by every column and compares old with new, for each table
# format: it prints the row counts and "identical", or the first rows that
# differ and exits 1. --new defaults to a build of ./cmd/stocklake; --old
# is e.g. a build of the main branch (git worktree add, go build).
set -euo pipefail
cd "$(dirname "$0")/.."
old= new=
while [[ $# -gt 0 ]]; do
  case $1 in
    --old) old=$2; shift 2 ;;
    --new) new=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "bench/samerows.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
ticks=${1:-1000000}
[[ -n $old ]] || { echo "bench/samerows.sh: --old BIN is required" >&2; exit 2; }
eval "$(scripts/pyenv)"
work=$(mktemp -d /tmp/stocklake-samerows-XXXXXX)
broker_pid=
trap 'kill $broker_pid 2>/dev/null || true; rm -rf "$work"' EXIT
if [[ -z $new ]]; then
  new=$work/stocklake
  go build -o "$new" ./cmd/stocklake
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$new" broker --listen "127.0.0.1:$port" --data "" --log-level warn >/dev/null &
broker_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
echo "filling topic with $ticks ticks..." >&2
"$new" produce --brokers "127.0.0.1:$port" --topic ticks --source sim --count "$ticks" --seed 1 --log-level warn 2>/dev/null
for v in old new; do
  bin=${!v}
  echo "sink ($v: $bin)..." >&2
  "$bin" sink --brokers "127.0.0.1:$port" --topic ticks --group "rows-$v-hive" --exit-when-idle --log-level warn \
    --lake "file://$work/$v-hive" --table-format hive
  "$bin" sink --brokers "127.0.0.1:$port" --topic ticks --group "rows-$v-ice" --exit-when-idle --log-level warn \
    --lake "file://$work/$v-ice" --table-format iceberg --catalog "sqlite://$work/$v-catalog.db"
done
"$STOCKLAKE_PYTHON" - "$work" "$ticks" <<'PY'
import os, sys
import pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq

work, n = sys.argv[1], int(sys.argv[2])

def rows(root, data_dir):
    """Every row of the Parquet data files under root, with its folder."""
    parts = []
    for d, _, files in os.walk(root):
        comps = os.path.relpath(d, root).split(os.sep)
        if data_dir not in comps:
            continue
        folder = "/".join(comps[comps.index(data_dir) + 1:])
        for f in sorted(files):
            if not f.endswith(".parquet"):
                continue
            t = pq.read_table(os.path.join(d, f))
            t = t.append_column("folder", pa.array([folder] * t.num_rows, pa.string()))
            # Lists do not sort: compare them as text (null stays null).
            t = t.set_column(t.schema.get_field_index("conditions"), "conditions",
                             pc.binary_join(t["conditions"].cast(pa.list_(pa.string())), "\x1f"))
            parts.append(t)
    t = pa.concat_tables(parts)
    return t.sort_by([(c, "ascending") for c in t.column_names])

bad = False
for fmt, lake, data_dir in (("hive", "hive", "ticks"), ("iceberg", "ice", "data")):
    a, b = rows(f"{work}/old-{lake}", data_dir), rows(f"{work}/new-{lake}", data_dir)
    same = a.num_rows == b.num_rows == n and a.schema.equals(b.schema) and a.equals(b)
    print(f"{fmt:8} old {a.num_rows:,} rows, new {b.num_rows:,} rows (want {n:,}), sorted contents: {'identical' if same else 'DIFFERENT'}")
    if not same:
        bad = True
        if a.num_rows == b.num_rows and a.schema.equals(b.schema):
            for i in range(a.num_rows):
                if a.slice(i, 1) != b.slice(i, 1):
                    print("  first difference at sorted row", i, "\n  old:", a.slice(i, 1).to_pylist(), "\n  new:", b.slice(i, 1).to_pylist())
                    break
        else:
            print("  old schema:", a.schema, "\n  new schema:", b.schema)
sys.exit(1 if bad else 0)
PY
