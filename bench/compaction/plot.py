"""Plots bench/compaction's samples: data files a reader opens and the
fixed query's wall-clock and CPU time per minute, and its CPU time per
million rows read (the table grows all the time, so a whole-table query's
time grows with it; per row, it shows what the files cost), per table
format, with and without maintenance.

Usage: plot.py compaction.json compaction.png (needs matplotlib: scripts/pyenv)
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

res = json.load(open(sys.argv[1]))
fig, (ax_files, ax_query, ax_cpu, ax_row) = plt.subplots(1, 4, figsize=(21, 4.5))
for run in res["runs"]:
    xs = [s["minute"] for s in run["samples"]]
    label = "%s, %s" % (run["format"], "maintain --every " + res.get("maintain_every", "1m") if run["maintain"] else "no maintenance")
    style = "-" if run["maintain"] else "--"
    ax_files.plot(xs, [s["files"] for s in run["samples"]], style, marker="o", label=label)
    ax_query.plot(xs, [s["query_ms"] for s in run["samples"]], style, marker="o", label=label)
    ax_cpu.plot(xs, [s.get("query_cpu_ms", 0) for s in run["samples"]], style, marker="o", label=label)
    per = [(s["minute"], s.get("query_cpu_ms", 0) / (s["rows"] / 1e6)) for s in run["samples"] if s.get("rows")]
    ax_row.plot([m for m, _ in per], [v for _, v in per], style, marker="o", label=label)
ax_files.set(title="data files a reader opens", xlabel="minutes of ingest", ylabel="files")
ax_query.set(title="VWAP-per-symbol query (DuckDB), wall clock", xlabel="minutes of ingest", ylabel="ms")
ax_cpu.set(title="the same query, CPU time", xlabel="minutes of ingest", ylabel="ms")
ax_row.set(title="its CPU time per million rows read", xlabel="minutes of ingest", ylabel="ms per million rows")
for ax in (ax_files, ax_query, ax_cpu, ax_row):
    ax.grid(alpha=0.3)
    ax.set_ylim(bottom=0)
ax_files.legend(fontsize=8)
title = "%d ticks/s, 1 s commits (%s UTC)" % (res["rate"], res["date"][:16].replace("T", " "))
if res.get("parallel"):
    title += ": the %d runs ingested concurrently on one machine" % len(res["runs"])
fig.suptitle(title)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
