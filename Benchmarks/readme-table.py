#!/usr/bin/env python3
"""Rewrites the README's performance table from one `plasma-bench --json` run.

Usage: Benchmarks/readme-table.py RESULTS.json [README.md]

RESULTS.json is what `Benchmarks/readme-table.sh` saves: plasma-bench's JSON, one object per workload,
each with the machine limit it was set against, measured by the same invocation between repetitions. The table goes between the
`<!-- bench-table:begin -->` and `<!-- bench-table:end -->` markers; everything else is left alone.
Every figure in it comes from that one file, beside the limit it is set against, so the README's numbers
are exactly what that run printed.
"""
import json
import os
import subprocess
import sys

BEGIN, END = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"


def rate(value, unit):
    if unit == "us":
        return f"{value:.1f} µs"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M {unit}"
    if value >= 1e3:
        return f"{value / 1e3:.1f}K {unit}"
    return f"{value:.2f} {unit}"


def limit_cell(row):
    """The limit and ratio cells; a put row adds the same copy on N threads (the client's ParallelCopy)."""
    if "limit" not in row:
        return "", ""
    limit, ratio = f"{rate(row['limit'], row['limit_unit'])} ({row['limit_name']})", f"{row['ratio']:.2f}"
    if "parallel_limit" in row:
        limit += f"; {rate(row['parallel_limit'], row['parallel_limit_unit'])} ({row['parallel_limit_name']})"
        ratio += f"; {row['parallel_ratio']:.2f}"
    return limit, ratio


def headline(row):
    """The row's figure, its unit, and a spread, whatever kind of row it is."""
    if "median" not in row and "p50" not in row and "figure" in row:
        return row["figure"] + (f" ({row['spread']})" if row.get("spread") else "")
    if "p50" in row and row.get("unit") in ("us", "ms"):
        unit = "µs" if row["unit"] == "us" else "ms"
        return f"p50 {row['p50']:.1f} {unit}, p99 {row['p99']:.1f} {unit}"
    if "median" in row and "unit" in row:
        text = rate(row["median"], row["unit"])
        if row.get("clients", 1) > 1 and "per_client_median" in row:
            text += f" aggregate, {rate(row['per_client_median'], row['unit'])} per client"
        return text
    return ""


def table(rows, source):
    compared = {r["workload"].removeprefix("arrow-compare:") for r in rows if r["workload"].startswith("arrow-compare:")}
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [f"From `{source}`: one run of `Benchmarks/readme-table.sh` (release build{', commit ' + commit if commit else ''}),",
             f"on a machine of {os.cpu_count()} cores and {memory:.0f} GiB.", "",
             "| workload | ours (native client) | limit, same run | ratio | Arrow 11 store, same run |", "|---|---|---|---|---|"]
    for r in rows:
        name = r["workload"]
        if name.startswith("arrow-compare:"):
            figure = rate(r["native_median"], r["unit"])
            arrow = rate(r["arrow_median"], r["unit"])
            what = name.removeprefix("arrow-compare:")
        else:
            if name in compared and r.get("clients", 1) == 1:
                continue
            figure, arrow = headline(r), "—"
            clients = r.get("clients", 1)
            what = name if clients == 1 else f"{name}, {clients} client processes"
            if "median" not in r and "p50" not in r and "what" in r:
                what = f"{name}: {r['what']}"
        limit, ratio = limit_cell(r)
        lines.append(f"| {what} | {figure} | {limit} | {ratio} | {arrow} |")
    lines += ["", "limit: the machine's own, measured by the same invocation before each repetition of the row (the",
              "median of those samples): copying the object's size into populated shared memory (puts: one thread's",
              "memmove; then the same copy on N threads, as the client's write does it), reading it",
              "(gets); for ops/s rows, one request per 32 B Unix-socket round trip between two processes that both",
              "poll (put-small and get-small make two per operation); for µs rows, that round trip with both sides",
              "sleeping in read, as a woken waiter does. ratio: figure / limit; for µs rows, latency / round trip",
              "(lower is better)."]
    return "\n".join(lines)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    results, readme = sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else "README.md"
    with open(results) as f:
        rows = json.load(f)
    with open(readme) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        sys.exit(f"{readme}: no {BEGIN} … {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(readme, "w") as f:
        f.write(head + BEGIN + "\n" + table(rows, results) + "\n" + END + tail)


if __name__ == "__main__":
    main()
