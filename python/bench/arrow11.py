"""pyarrow 11's pyarrow.plasma side of the benchmark (run in .venv-arrow, Python 3.11):
python/bench/arrow11.py SOCKET REPETITIONS."""

from __future__ import annotations

import sys
import warnings
from typing import Callable

warnings.simplefilter("ignore", DeprecationWarning)
import pyarrow.plasma as plasma  # noqa: E402

from limits import Limits
from workloads import emit, limit_threads, run_all  # noqa: E402


class Arrow11:
    name = "pyarrow 11 plasma"

    def __init__(self, path: str) -> None:
        self.client = plasma.connect(path)

    def put(self, oid: bytes, data: object) -> None:
        # Create + copy (Arrow's multi-threaded memcpy) + Seal (with Arrow's XXH64 digest) + Release.
        self.client.put_raw_buffer(data, object_id=plasma.ObjectID(oid))

    def get_release(self, oid: bytes, read: Callable[[object], None]) -> None:
        (buffer,) = self.client.get_buffers([plasma.ObjectID(oid)], timeout_ms=0)
        read(buffer)
        del buffer  # pyarrow releases when the buffer goes

    def delete(self, oids: list[bytes]) -> None:
        self.client.delete([plasma.ObjectID(o) for o in oids])


if __name__ == "__main__":
    driver = Arrow11(sys.argv[1])
    limits = Limits()
    emit(driver, run_all(driver, int(sys.argv[2]), limits, limit_threads()))
    limits.close()
