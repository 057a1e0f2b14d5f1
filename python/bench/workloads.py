"""The timed loops, shared by both clients' drivers (Python 3.11 compatible: pyarrow 11 runs there).

Method as plasma-bench's (Benchmarks/README.md): prepare untimed, a quarter of the operations as a
warm-up, then `repetitions` timed runs of the full count; the figure is the median rate, the spread the
lowest and highest.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from typing import Callable, Protocol

SMALL = 64
LARGE = 64 << 20
SMALL_OPS = 20_000
LARGE_OPS = 20


class Driver(Protocol):
    name: str

    def put(self, oid: bytes, data: object) -> None: ...
    def get_release(self, oid: bytes, read: Callable[[object], None]) -> None: ...
    def delete(self, oids: list[bytes]) -> None: ...


def _rates(run: Callable[[int], None], count: int, repetitions: int, unit_per_op: float) -> dict[str, float]:
    run(max(1, count // 4))
    rates = []
    for _ in range(repetitions):
        started = time.perf_counter()
        run(count)
        rates.append(count * unit_per_op / (time.perf_counter() - started))
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}


def run_all(driver: Driver, repetitions: int) -> dict[str, dict[str, float]]:
    import numpy as np

    results: dict[str, dict[str, float]] = {}
    small = os.urandom(SMALL)

    def put_small(count: int) -> None:
        for _ in range(count):
            driver.put(os.urandom(20), small)

    results["put-small (64 B)"] = _rates(put_small, SMALL_OPS, repetitions, 1)

    prepared = [os.urandom(20) for _ in range(1000)]
    for oid in prepared:
        driver.put(oid, small)

    def no_read(_: object) -> None:
        pass

    def get_small(count: int) -> None:
        for i in range(count):
            driver.get_release(prepared[i % 1000], no_read)

    results["get-small (64 B)"] = _rates(get_small, SMALL_OPS, repetitions, 1)
    driver.delete(prepared)

    source = np.random.default_rng(16).integers(0, 255, LARGE, dtype=np.uint8)

    def put_large(count: int) -> None:
        for _ in range(count):
            oid = os.urandom(20)
            driver.put(oid, source)
            driver.delete([oid])

    results["put-large (64 MiB)"] = _rates(put_large, LARGE_OPS, repetitions, LARGE / 1e9)

    large = os.urandom(20)
    driver.put(large, source)
    total = int(source.view(np.uint64).sum())

    def read_every_byte(buffer: object) -> None:
        assert int(np.frombuffer(buffer, dtype=np.uint64).sum()) == total  # type: ignore[call-overload]

    def get_large(count: int) -> None:
        for _ in range(count):
            driver.get_release(large, read_every_byte)

    results["get-large (64 MiB)"] = _rates(get_large, LARGE_OPS, repetitions, LARGE / 1e9)
    driver.delete([large])
    return results


def emit(driver: Driver, results: dict[str, dict[str, float]]) -> None:
    print(json.dumps({"client": driver.name, "results": results}))
