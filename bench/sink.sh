#!/usr/bin/env bash
# bench/sink.sh: sink throughput from a pre-filled topic to Parquet on local disk.
#
#   bench/sink.sh [--bin BIN] [--json FILE] [TICKS]     TICKS default 10,000,000
#
# Starts `stocklake broker` (in-memory) in its own process, fills a 3-partition
# topic with TICKS simulated ticks, then times `stocklake sink --exit-when-idle`
# landing all of them into a fresh file:// lake, and prints records/s, records
# per CPU-second (user+sys) and peak RSS of the sink process. Uses GNU time
# (apt-get install time).
#
# --bin BIN (or STOCKLAKE_BIN) uses that stocklake binary instead of building
# ./cmd/stocklake; --json FILE also writes the figures as a JSON object.
# --format avro also lands the same ticks written as Avro (produce --format
# avro through the schema registry stand-in, internal/srstandin) in the same
# run, and prints its figures beside the JSON ones (JSON keys avro_*).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${STOCKLAKE_BIN:-}
json=
format=json
while [[ $# -gt 0 ]]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    --format) format=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "bench/sink.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
ticks=${1:-10000000}
[[ $format == json || $format == avro ]] || { echo "bench/sink.sh: --format $format: want json or avro" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "bench/sink.sh: needs GNU time (apt-get install time)" >&2; exit 1; }
work=$(mktemp -d /tmp/stocklake-bench-XXXXXX)
broker_pid=
registry_pid=
trap 'for p in $broker_pid $registry_pid; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
if [[ -z $bin ]]; then
  bin=$work/stocklake
  go build -o "$bin" ./cmd/stocklake
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" broker --listen "127.0.0.1:$port" --data "" --log-level warn >/dev/null &
broker_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
echo "filling topic with $ticks ticks..." >&2
start=$(date +%s.%N)
"$bin" produce --brokers "127.0.0.1:$port" --topic ticks --source sim --count "$ticks" --seed 1 --log-level warn 2>/dev/null
produce_secs=$(python3 -c "print($(date +%s.%N)-$start)")
echo "produce: $(python3 -c "print(f'{$ticks/$produce_secs:,.0f}')") ticks/s" >&2
/usr/bin/time -f '%e %U %S %M' -o "$work/time" \
  "$bin" sink --brokers "127.0.0.1:$port" --topic ticks --lake "file://$work/lake" \
  --exit-when-idle --log-level warn
read -r wall user sys rss_kb < "$work/time"
files=$(find "$work/lake/ticks" -name '*.parquet' | wc -l)
bytes=$(du -sb "$work/lake/ticks" | cut -f1)
python3 - "$ticks" "$wall" "$user" "$sys" "$rss_kb" "$files" "$bytes" "$produce_secs" "$json" <<'PY'
import json, sys
n, wall, user, sys_, rss, files, size, produce = int(sys.argv[1]), *map(float, sys.argv[2:5]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), float(sys.argv[8])
out = sys.argv[9]
cpu = user + sys_
print(f"sink: {n:,} ticks in {wall:.2f}s wall, {cpu:.2f}s CPU")
print(f"  records/s:            {n/wall:,.0f}")
print(f"  records per CPU-sec:  {n/cpu:,.0f}")
print(f"  peak RSS:             {rss/1024:,.0f} MiB")
print(f"  lake:                 {files} Parquet files, {size/1e6:,.1f} MB ({size/n:.1f} bytes/tick)")
if out:
    with open(out, "w") as f:
        json.dump({"bench": "sink", "ticks": n, "wall_seconds": wall, "user_seconds": user, "sys_seconds": sys_,
                   "cpu_seconds": cpu, "records_per_second": n / wall, "records_per_cpu_second": n / cpu,
                   "peak_rss_mib": rss / 1024, "parquet_files": files, "lake_bytes": size, "bytes_per_tick": size / n,
                   "produce_seconds": produce, "produce_per_second": n / produce}, f, indent=2)
        f.write("\n")
PY

# --format avro: the same ticks as Avro, landed by a second sink in this run.
if [[ $format == avro ]]; then
  go build -o "$work/srstandin" ./internal/srstandin
  rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$work/srstandin" -listen "127.0.0.1:$rport" 2>/dev/null &
  registry_pid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && break; sleep 0.1; done
  echo "filling topic ticks_avro with $ticks Avro ticks..." >&2
  "$bin" produce --brokers "127.0.0.1:$port" --topic ticks_avro --source sim --count "$ticks" --seed 1 --log-level warn \
    --format avro --registry "http://127.0.0.1:$rport" 2>/dev/null
  /usr/bin/time -f '%e %U %S %M' -o "$work/time.avro" \
    "$bin" sink --brokers "127.0.0.1:$port" --topic ticks_avro --lake "file://$work/lake" --exit-when-idle --log-level warn
  read -r awall auser asys arss_kb < "$work/time.avro"
  python3 - "$ticks" "$wall" "$user" "$sys" "$awall" "$auser" "$asys" "$arss_kb" "$json" <<'PY'
import json, sys
n, wall, user, sys_, awall, auser, asys = int(sys.argv[1]), *map(float, sys.argv[2:8])
rss, out = int(sys.argv[8]), sys.argv[9]
cpu, acpu = user + sys_, auser + asys
print(f"sink, Avro ticks: {n:,} ticks in {awall:.2f}s wall, {acpu:.2f}s CPU")
print(f"  records/s:            {n/awall:,.0f}")
print(f"  records per CPU-sec:  {n/acpu:,.0f}  (JSON ticks: {n/cpu:,.0f}; Avro/JSON {cpu/acpu:.2f}x)")
print(f"  peak RSS:             {rss/1024:,.0f} MiB")
if out:
    with open(out) as f:
        d = json.load(f)
    d.update({"avro_wall_seconds": awall, "avro_cpu_seconds": acpu, "avro_records_per_second": n / awall,
              "avro_records_per_cpu_second": n / acpu, "avro_peak_rss_mib": rss / 1024})
    with open(out, "w") as f:
        json.dump(d, f, indent=2)
        f.write("\n")
PY
fi
