"""Prints run.sh's table from the drivers' JSON: python/bench/report.py WORK_DIRECTORY."""

from __future__ import annotations

import json
import statistics
import sys
from typing import Any


def _merged(path: str) -> dict[str, dict[str, list[float]]]:
    """Every repetition's rates and limit samples, by workload, over the driver's invocations."""
    rows: dict[str, dict[str, list[float]]] = {}
    with open(path) as handle:
        for line in handle:
            for name, result in json.loads(line)["results"].items():
                row = rows.setdefault(name, {"rates": [], "limits": [], "parallel_limits": []})
                row["rates"] += result["rates"]
                row["limits"] += result["limit_samples"]
                row["parallel_limits"] += result.get("parallel_limit_samples", [])
    return rows


def _ratio(row: dict[str, list[float]], limits: str = "limits") -> float:
    """The median over repetitions of each one's rate over the limit sampled just before it (the load
    on a shared machine moves both between repetitions)."""
    return statistics.median(rate / limit for rate, limit in zip(row["rates"], row[limits]))


def _parallel_threads(path: str) -> str:
    """N of the N-thread copy limit ("pcopy SIZE N"), or "N" when no row carries one."""
    with open(path) as handle:
        for line in handle:
            for result in json.loads(line)["results"].values():
                if "parallel_limit" in result:
                    return str(result["parallel_limit"].split()[-1])
    return "N"


def _format(value: float, unit: str) -> str:
    return f"{value:,.2f} {unit}" if unit == "GB/s" else f"{value:,.0f} {unit}"


def main(work: str) -> None:
    ours, arrow = _merged(f"{work}/ours.jsonl"), _merged(f"{work}/arrow.jsonl")
    threads = _parallel_threads(f"{work}/ours.jsonl")
    print()
    print(f"{'workload':20}{'swiftplasma':>16}{'limit':>16}{'ratio':>7}{'pyarrow 11':>16}{'limit':>16}{'ratio':>7}"
          f"{'ours/pyarrow':>14}")
    for name, mine in ours.items():
        theirs = arrow[name]
        unit = "GB/s" if "MiB" in name else "ops/s"
        m, t = statistics.median(mine["rates"]), statistics.median(theirs["rates"])
        ml, tl = statistics.median(mine["limits"]), statistics.median(theirs["limits"])
        print(f"{name:20}{_format(m, unit):>16}{_format(ml, unit):>16}{_ratio(mine):>7.2f}{_format(t, unit):>16}"
              f"{_format(tl, unit):>16}{_ratio(theirs):>7.2f}{m / t:>13.2f}x")
        print(f"{'':20}ours {_format(min(mine['rates']), unit)} … {_format(max(mine['rates']), unit)}, limit "
              f"{_format(min(mine['limits']), unit)} … {_format(max(mine['limits']), unit)}; pyarrow "
              f"{_format(min(theirs['rates']), unit)} … {_format(max(theirs['rates']), unit)}, limit "
              f"{_format(min(theirs['limits']), unit)} … {_format(max(theirs['limits']), unit)}")
        if mine["parallel_limits"] and theirs["parallel_limits"]:
            ours_n, theirs_n = statistics.median(mine["parallel_limits"]), statistics.median(theirs["parallel_limits"])
            print(f"{'':20}against the {threads}-thread copy limit (same repetitions): ours {_ratio(mine, 'parallel_limits'):.2f} "
                  f"of {_format(ours_n, unit)}, pyarrow {_ratio(theirs, 'parallel_limits'):.2f} of {_format(theirs_n, unit)}")
    print("limit: sampled before each repetition (median shown): memcpy into / read of 64 MiB of populated shared\n"
          "memory (one thread's); for ops/s, 1 / the polling Unix-socket round trip p50. ratio: the median over\n"
          "repetitions of each repetition's rate / its own limit sample. The N-thread copy limit: the same memcpy cut\n"
          "into chunks on N threads, as swiftplasma's put cuts it (both clients copy large puts on several threads).")

    wake: dict[str, Any] = json.load(open(f"{work}/wake.json"))
    python, swift = wake["python"], wake["swift"]
    limit = statistics.median(wake["limit_samples"])
    print()
    print(f"seal -> resolved, same producer, alternating blocks ({python['samples']} wakes each):")
    print(f"  swiftplasma as_future     p50 {python['p50']:7.1f} us  (p99 {python['p99']:.1f})")
    print(f"  Swift AsyncPlasmaClient   p50 {swift['p50']:7.1f} us  (p99 {swift['p99']:.1f})")
    print(f"  ratio {python['p50'] / swift['p50']:.2f}x; limit: sleeping Unix-socket round trip p50 {limit:.1f} us "
          f"(median of {len(wake['limit_samples'])} samples, {min(wake['limit_samples']):.1f} … "
          f"{max(wake['limit_samples']):.1f}): {python['p50'] / limit:.1f} and {swift['p50'] / limit:.1f} round trips")
    reference = json.load(open(f"{work}/wake-swift.json"))[0]  # plasma-bench --json: one row
    print(f"  reference, plasma-bench wake-async (its own Swift producer and waiter, after the blocks): p50 "
          f"{float(reference['p50']):.1f} us (p99 {float(reference['p99']):.1f}); as_future / it: "
          f"{python['p50'] / float(reference['p50']):.2f}x")
    floor = json.load(open(f"{work}/asyncio-floor.json"))
    print(f"asyncio floor (a bare asyncio reader of a socketpair woken by another process, no store): "
          f"p50 {floor['p50']:.1f} us")


if __name__ == "__main__":
    main(sys.argv[1])
