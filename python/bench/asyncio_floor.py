"""The floor under any asyncio client's wake latency on this machine: a bare asyncio reader of a
socketpair, woken by another process that writes its CLOCK_MONOTONIC time after the same 200-600 us
pause as wake.py; no store, no protocol. python/bench/asyncio_floor.py COUNT -> JSON {"p50": us}."""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import struct
import sys
import time


def main(count: int) -> dict[str, float]:
    ours, theirs = socket.socketpair()
    child = os.fork()
    if child == 0:
        ours.close()
        rng = random.Random(16)
        for _ in range(count):
            theirs.recv(1)  # the waiter waits
            time.sleep(rng.uniform(200e-6, 600e-6))
            theirs.send(struct.pack("<Q", time.clock_gettime_ns(time.CLOCK_MONOTONIC)))
        os._exit(0)
    theirs.close()

    async def wait_each() -> list[int]:
        loop = asyncio.get_running_loop()
        ours.setblocking(False)
        latencies = []
        for _ in range(count):
            future: asyncio.Future[bytes] = loop.create_future()

            def readable(future: asyncio.Future[bytes] = future) -> None:
                loop.remove_reader(ours.fileno())
                future.set_result(ours.recv(8))

            loop.add_reader(ours.fileno(), readable)
            ours.send(b"w")
            stamp = struct.unpack("<Q", await future)[0]
            latencies.append(time.clock_gettime_ns(time.CLOCK_MONOTONIC) - stamp)
        return sorted(latencies)

    latencies = asyncio.run(wait_each())
    os.waitpid(child, 0)
    return {"p50": latencies[count // 2] / 1000, "samples": count}


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
