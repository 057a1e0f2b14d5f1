"""Seal -> future-resolved latency for the asyncio client, measured as plasma-bench's wake-async is
(Benchmarks/plasma-bench/WakeWorkloads.swift): a waiter process awaits ``as_future(id)`` for each id in
turn; this process waits until the waiter's get is in the store, pauses 200-600 us so the waiter sleeps,
and seals the object with the seal time (CLOCK_MONOTONIC, the same clock in every process) in its
first 8 bytes; the waiter prints how long after that it had the object.

python/bench/wake.py SOCKET COUNT  ->  JSON {"p50": us, "p99": us, "samples": n}
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time

import swiftplasma as sp


async def waiter(path: str, list_path: str) -> None:
    with open(list_path) as handle:
        ids = [sp.ObjectID.from_hex(line.strip()) for line in handle if line.strip()]
    client = await sp.connect_async(path)
    lines = []
    for oid in ids:
        buffer = await client.as_future(oid)
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        lines.append(str(now - struct.unpack_from("<Q", memoryview(buffer))[0]))
        buffer.close()
    print("\n".join(lines))
    client.close()


def measure(path: str, count: int) -> dict[str, float]:
    ids = [sp.ObjectID.random() for _ in range(count)]
    with tempfile.NamedTemporaryFile("w", suffix=".ids", delete=False) as handle:
        handle.write("\n".join(i.hex() for i in ids))
    try:
        child = subprocess.Popen([sys.executable, __file__, "--waiter", path, handle.name], stdout=subprocess.PIPE,
                                 text=True)
        rng = random.Random(16)
        with sp.connect(path) as client:
            for oid in ids:
                while client.stats()["pending_gets"] == 0:
                    pass
                time.sleep(rng.uniform(200e-6, 600e-6))
                data = struct.pack("<Q", time.clock_gettime_ns(time.CLOCK_MONOTONIC)) + bytes(56)
                client.put(oid, data)
            output, _ = child.communicate(timeout=600)
            client.delete(ids)
    finally:
        os.unlink(handle.name)
    values = sorted(int(v) for v in output.split())
    assert len(values) == count, output[-500:]
    return {"p50": values[len(values) // 2] / 1000, "p99": values[min(len(values) - 1, int(len(values) * 0.99))] / 1000,
            "samples": count}


if __name__ == "__main__":
    if sys.argv[1] == "--waiter":
        asyncio.run(waiter(sys.argv[2], sys.argv[3]))
    else:
        print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))
