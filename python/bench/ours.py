"""Our Python client's side of the benchmark: python/bench/ours.py SOCKET REPETITIONS."""

from __future__ import annotations

import sys
from collections.abc import Callable

import swiftplasma as sp
from limits import Limits
from workloads import emit, run_all


class Ours:
    name = "swiftplasma"

    def __init__(self, path: str) -> None:
        self.client = sp.connect(path)

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
    emit(driver, run_all(driver, int(sys.argv[2]), limits))
    limits.close()
