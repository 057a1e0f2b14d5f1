"""The timed loops, shared by both clients' drivers (Python 3.11 compatible: pyarrow 11 runs there).

Method as plasma-bench's (Benchmarks/README.md): prepare untimed, a quarter of the operations as a
warm-up, then `repetitions` timed runs of the full count, each after one sample of the workload's
machine limit (limits.Limits). run.sh runs each driver with one repetition at a time, alternating the
two clients, and takes the medians over all of them.
"""

from __future__ import annotations

import json
import os
import time
from typing import Callable, Protocol

from limits import LARGE, Limits

SMALL = 64
SMALL_OPS = 20_000
LARGE_OPS = 20


class Driver(Protocol):
    name: str

    def put(self, oid: bytes, data: object) -> None: ...
    def get_release(self, oid: bytes, read: Callable[[object], None]) -> None: ...
    def delete(self, oids: list[bytes]) -> None: ...


def _rates(run: Callable[[int], None], count: int, repetitions: int, unit_per_op: float, limits: Limits,
           limit: str, parallel_limit: str | None = None) -> dict[str, object]:
    """``parallel_limit``: a second limit sampled before each repetition too (the N-thread copy a put is
    also set against; ``limit`` stays one thread's memcpy)."""
    run(max(1, count // 4))
    rates, samples, parallel_samples = [], [], []
    for _ in range(repetitions):
        samples.append(limits.sample(limit))
        if parallel_limit is not None:
            parallel_samples.append(limits.sample(parallel_limit))
        started = time.perf_counter()
        run(count)
        rates.append(count * unit_per_op / (time.perf_counter() - started))
    result: dict[str, object] = {"rates": rates, "limit": limit, "limit_samples": samples}
    if parallel_limit is not None:
        result |= {"parallel_limit": parallel_limit, "parallel_limit_samples": parallel_samples}
    return result


def limit_threads() -> int:
    """The threads of the N-thread copy limit: $PLASMA_BENCH_LIMIT_THREADS (run.sh sets it to the
    Python client's default, one per core up to 4), the same for both drivers."""
    return int(os.environ.get("PLASMA_BENCH_LIMIT_THREADS", "1"))


def run_all(driver: Driver, repetitions: int, limits: Limits, copy_threads: int = 1) -> dict[str, dict[str, object]]:
    """``copy_threads``: the threads of the N-thread copy limit put-large is also set against (none: 1)."""
    import numpy as np

    results: dict[str, dict[str, object]] = {}
    small = os.urandom(SMALL)

    def put_small(count: int) -> None:
        for _ in range(count):
            driver.put(os.urandom(20), small)

    results["put-small (64 B)"] = _rates(put_small, SMALL_OPS, repetitions, 1, limits, "rtt-poll")

    prepared = [os.urandom(20) for _ in range(1000)]
    for oid in prepared:
        driver.put(oid, small)

    def no_read(_: object) -> None:
        pass

    def get_small(count: int) -> None:
        for i in range(count):
            driver.get_release(prepared[i % 1000], no_read)

    results["get-small (64 B)"] = _rates(get_small, SMALL_OPS, repetitions, 1, limits, "rtt-poll")
    driver.delete(prepared)

    source = np.random.default_rng(16).integers(0, 255, LARGE, dtype=np.uint8)

    def put_large(count: int) -> None:
        for _ in range(count):
            oid = os.urandom(20)
            driver.put(oid, source)
            driver.delete([oid])

    results["put-large (64 MiB)"] = _rates(put_large, LARGE_OPS, repetitions, LARGE / 1e9, limits, f"copy {LARGE}",
                                           f"pcopy {LARGE} {copy_threads}" if copy_threads > 1 else None)

    large = os.urandom(20)
    driver.put(large, source)
    total = int(source.view(np.uint64).sum())

    def read_every_byte(buffer: object) -> None:
        assert int(np.frombuffer(buffer, dtype=np.uint64).sum()) == total  # type: ignore[call-overload]

    def get_large(count: int) -> None:
        for _ in range(count):
            driver.get_release(large, read_every_byte)

    results["get-large (64 MiB)"] = _rates(get_large, LARGE_OPS, repetitions, LARGE / 1e9, limits, f"read {LARGE}")
    driver.delete([large])
    return results


def emit(driver: Driver, results: dict[str, dict[str, object]]) -> None:
    print(json.dumps({"client": driver.name, "results": results}))
