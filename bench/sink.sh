#!/usr/bin/env bash
# bench/sink.sh: sink throughput from a pre-filled topic to Parquet on local disk.
#
#   bench/sink.sh [TICKS]        default 10,000,000
#
# Starts `stocklake broker` (in-memory) in its own process, fills a 3-partition
# topic with TICKS simulated ticks, then times `stocklake sink --exit-when-idle`
# landing all of them into a fresh file:// lake, and prints records/s, records
# per CPU-second (user+sys) and peak RSS of the sink process. Uses GNU time
# (apt-get install time).
set -euo pipefail
cd "$(dirname "$0")/.."
ticks=${1:-10000000}
work=$(mktemp -d /tmp/stocklake-bench-XXXXXX)
trap 'kill $broker_pid 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/stocklake" ./cmd/stocklake
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$work/stocklake" broker --listen "127.0.0.1:$port" --data "" --log-level warn >/dev/null &
broker_pid=$!
sleep 1
echo "filling topic with $ticks ticks..." >&2
start=$(date +%s.%N)
"$work/stocklake" produce --brokers "127.0.0.1:$port" --topic ticks --source sim --count "$ticks" --seed 1 --log-level warn 2>/dev/null
echo "produce: $(python3 -c "print(f'{$ticks/($(date +%s.%N)-$start):,.0f}')") ticks/s" >&2
/usr/bin/time -f '%e %U %S %M' -o "$work/time" \
  "$work/stocklake" sink --brokers "127.0.0.1:$port" --topic ticks --lake "file://$work/lake" \
  --exit-when-idle --log-level warn
read -r wall user sys rss_kb < "$work/time"
rows=$(find "$work/lake/ticks" -name '*.parquet' | wc -l)
bytes=$(du -sb "$work/lake/ticks" | cut -f1)
python3 - "$ticks" "$wall" "$user" "$sys" "$rss_kb" "$rows" "$bytes" <<'PY'
import sys
n, wall, user, sys_, rss, files, size = int(sys.argv[1]), *map(float, sys.argv[2:5]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
cpu = user + sys_
print(f"sink: {n:,} ticks in {wall:.2f}s wall, {cpu:.2f}s CPU")
print(f"  records/s:            {n/wall:,.0f}")
print(f"  records per CPU-sec:  {n/cpu:,.0f}")
print(f"  peak RSS:             {rss/1024:,.0f} MiB")
print(f"  lake:                 {files} Parquet files, {size/1e6:,.1f} MB ({size/n:.1f} bytes/tick)")
PY
