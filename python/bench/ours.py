"""Our Python client's side of the benchmark: python/bench/ours.py SOCKET REPETITIONS."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import swiftplasma as sp
from limits import Limits
from workloads import emit, limit_threads, run_all


class Ours:
    name = "swiftplasma"

    def __init__(self, path: str) -> None:
        # PLASMA_BENCH_COPY_THREADS: threads per large put's copy (default: the client's, one per core
        # up to 4; 1: the one-thread copy of earlier versions, for before/after runs).
        threads = os.environ.get("PLASMA_BENCH_COPY_THREADS")
        self.client = sp.connect(path, copy_threads=int(threads) if threads else None)

    def put(self, oid: bytes, data: object) -> None:
        self.client.put(sp.ObjectID(oid), data)

    def get_release(self, oid: bytes, read: Callable[[object], None]) -> None:
        with self.client.get(sp.ObjectID(oid), timeout=0) as buffer:
            read(buffer)

    def delete(self, oids: list[bytes]) -> None:
        self.client.delete([sp.ObjectID(o) for o in oids])


if __name__ == "__main__":
    driver = Ours(sys.argv[1])
    limits = Limits()
    emit(driver, run_all(driver, int(sys.argv[2]), limits, limit_threads()))
    limits.close()
