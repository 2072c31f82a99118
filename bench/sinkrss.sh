#!/usr/bin/env bash
# bench/sinkrss.sh: what the sink's peak RSS is made of (issue 18: peak RSS
# at most 256 MiB with default flags).
#
#   bench/sinkrss.sh [--bin BIN] [--keep DIR] [TICKS]     TICKS default 10,000,000
#
# Starts `stocklake broker` (in memory), fills a 3-partition topic with
# TICKS simulated ticks (--seed 1), then runs `stocklake sink
# --exit-when-idle` with default flags into a fresh file:// Hive lake, plus
# --metrics-addr for Go's figures. It samples /proc/PID/smaps_rollup every
# 20 ms and, at each new peak, keeps /proc/PID/smaps, the metrics endpoint's
# Go figures and the present bits of the binary's pages (/proc/PID/pagemap).
# It prints the run's records per CPU-second and peak RSS (getrusage, as
# GNU time's %M), and the peak's breakdown: resident memory by mapping
# (the binary's code and read-only data, other files, anonymous: Go's heap
# arena and the rest, C malloc's [heap]), Go's runtime figures at that
# moment (heap in use, idle, released, stacks, GC goal, memory limit) and
# the binary's resident pages by owner (Go package, Go's pclntab and type
# data, C++: DuckDB, ELF sections such as .dynsym), from `go tool nm`
# and readelf. --keep DIR keeps the samples, smaps and metrics there.
# Linux only.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${STOCKLAKE_BIN:-}
keep=
while [[ $# -gt 0 ]]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    -*) echo "bench/sinkrss.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
ticks=${1:-10000000}
work=$(mktemp -d /tmp/stocklake-sinkrss-XXXXXX)
broker_pid=
trap 'kill $broker_pid 2>/dev/null || true; rm -rf "$work"' EXIT
if [[ -z $bin ]]; then
  bin=$work/stocklake
  go build -o "$bin" ./cmd/stocklake
fi
out=${keep:-$work/out}
mkdir -p "$out"
go tool nm -size -sort address "$bin" > "$work/nm"
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(freeport)
mport=$(freeport)
"$bin" broker --listen "127.0.0.1:$port" --data "" --log-level warn >/dev/null 2>&1 &
broker_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
echo "filling topic with $ticks ticks..." >&2
"$bin" produce --brokers "127.0.0.1:$port" --topic ticks --source sim --count "$ticks" --seed 1 --log-level warn 2>/dev/null
echo "sink (load average $(cut -d' ' -f1-3 /proc/loadavg))..." >&2
python3 - "$ticks" "$out" "$work/nm" "127.0.0.1:$mport" "$bin" sink --brokers "127.0.0.1:$port" --topic ticks \
  --exit-when-idle --lake "file://$work/lake" --metrics-addr "127.0.0.1:$mport" --log-level warn <<'PY'
import bisect, collections, os, re, resource, struct, subprocess, sys, time, urllib.request

n, out, nmfile, maddr, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
binpath = os.path.realpath(cmd[0])

def binary_pages(pid):
    """Present 4 KiB pages of the binary's mappings: [(addr, perms)]."""
    pages = []
    with open(f"/proc/{pid}/pagemap", "rb") as pm:
        for line in open(f"/proc/{pid}/maps"):
            f = line.split()
            if len(f) < 6 or os.path.realpath(f[5]) != binpath:
                continue
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            pm.seek(lo // 4096 * 8)
            data = pm.read((hi - lo) // 4096 * 8)
            for i in range(len(data) // 8):
                if struct.unpack_from("<Q", data, i * 8)[0] >> 63:
                    pages.append((lo + i * 4096, f[1]))
    return pages

t0 = time.time()
p = subprocess.Popen(cmd, stderr=open(f"{out}/sink.log", "w"))
peak, samples, pages, metrics = 0, [], [], ""
while p.poll() is None:
    try:
        rollup = open(f"/proc/{p.pid}/smaps_rollup").read()
        rss = int(re.search(r"^Rss:\s+(\d+) kB", rollup, re.M)[1])
        samples.append((time.time() - t0, rss))
        if rss > peak + 1024:
            peak = rss
            smaps = open(f"/proc/{p.pid}/smaps").read()
            pages = binary_pages(p.pid)
            try:
                metrics = urllib.request.urlopen(f"http://{maddr}/metrics", timeout=1).read().decode()
            except OSError:
                pass
            open(f"{out}/smaps", "w").write(smaps)
            open(f"{out}/metrics", "w").write(metrics)
    except (OSError, TypeError):
        pass
    time.sleep(0.02)
p.wait()
if p.returncode:
    sys.exit(f"bench/sinkrss.sh: the sink exited {p.returncode}; its log is {out}/sink.log")
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu, wall = ru.ru_utime + ru.ru_stime, time.time() - t0
with open(f"{out}/samples", "w") as f:
    f.writelines(f"{t:.2f} {r}\n" for t, r in samples)
print(f"sink: {n:,} ticks, {wall:.2f} s wall, {cpu:.2f} s CPU: {n / cpu:,.0f} records per CPU-second, "
      f"peak RSS {ru.ru_maxrss / 1024:.0f} MiB (sampled peak {peak / 1024:.0f} MiB)")

# Resident memory at the sampled peak, by mapping.
maps, cur = [], None
for line in open(f"{out}/smaps"):
    m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)", line)
    if m:
        cur = {"size": int(m[2], 16) - int(m[1], 16), "perm": m[3], "path": m[4].strip(), "Rss": 0}
        maps.append(cur)
    elif (m := re.match(r"(\w+):\s+(\d+) kB", line)) and cur is not None:
        cur[m[1]] = int(m[2]) * 1024
anon = sorted((m for m in maps if not m["path"]), key=lambda m: -m["Rss"])
kinds = collections.Counter()
for m in maps:
    if m["path"].startswith("/"):
        k = ("binary " if os.path.realpath(m["path"]) == binpath else os.path.basename(m["path"]) + " ") + m["perm"]
    elif m["path"]:
        k = m["path"] + (" (C malloc)" if m["path"] == "[heap]" else "")
    elif anon and m is anon[0]:
        k = "anonymous: largest mapping (Go's heap arena)"
    else:
        k = "anonymous: other (Go runtime, thread stacks, mmap'd C memory)"
    kinds[k] += m["Rss"]
mib = lambda v: f"{v / 2**20:8.1f} MiB"
print("resident at the peak, by mapping:")
for k, v in kinds.most_common():
    if v >= 1 << 20:
        print(f"  {mib(v)}  {k}")
print(f"  {mib(sum(kinds.values()))}  total")

# Go's own figures at the peak.
if metrics:
    print("Go runtime at the peak (metrics endpoint):")
    names = {"go_memstats_heap_inuse_bytes": "heap in use", "go_memstats_heap_idle_bytes": "heap idle",
             "go_memstats_heap_released_bytes": "heap idle, released to the OS", "go_memstats_stack_inuse_bytes": "stacks",
             "go_memstats_sys_bytes": "obtained from the OS", "go_memstats_next_gc_bytes": "GC goal (next_gc)",
             "go_gc_gomemlimit_bytes": "memory limit"}
    for line in metrics.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] in names:
            print(f"  {mib(float(f[1]))}  {names[f[0]]}")

# The binary's resident pages by owner.
syms = []
for line in open(nmfile):
    f = line.split(None, 3)
    if len(f) == 4 and re.fullmatch(r"[0-9a-f]+", f[0]) and int(f[0], 16):
        syms.append((int(f[0], 16), int(f[1]), f[3].strip()))
syms.sort()
sections = []
for line in subprocess.run(["readelf", "-SW", binpath], capture_output=True, text=True, check=True).stdout.splitlines():
    m = re.search(r"\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", line)
    if m and int(m[2], 16):
        sections.append((int(m[2], 16), int(m[2], 16) + int(m[3], 16), m[1]))
addrs = [a for a, _, _ in syms]
def owner(name):
    if "duckdb" in name.lower() or name.startswith("icudt"):
        return "C++ (DuckDB)"
    if name.startswith("_Z") or "." not in name:
        return "C/C++ other"
    if name == "runtime.findfunctab" or name.startswith("go:func"):
        return "Go function tables (go:func.*, findfunctab)"
    if name.startswith("type:") or name.startswith("go:type") or name.startswith("go:itab"):
        return "Go type data"
    if name.startswith("go:string") or name.startswith("go:"):
        return "Go strings and constants"
    pkg = re.sub(r"\.[^/]*$", "", name).split("/")
    return "Go " + "/".join(pkg[:3])
owners = collections.Counter()
for a, perm in pages:
    sec = next((name for lo, hi, name in sections if lo <= a < hi), "?")
    i = bisect.bisect_right(addrs, a) - 1
    if sec == ".gopclntab":
        o = "Go function tables (.gopclntab)"
    elif i < 0 or not syms[i][1] or a >= syms[i][0] + max(syms[i][1], 4096):
        o = "section " + sec  # no sized symbol here: ELF tables, padding
    else:
        o = owner(syms[i][2])
    owners[f"{o} ({perm})"] += 4096
print(f"the binary's resident pages at the peak by owner ({mib(sum(owners.values())).strip()}):")
for k, v in owners.most_common(15):
    print(f"  {mib(v)}  {k}")
PY
