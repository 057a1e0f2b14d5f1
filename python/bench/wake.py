"""Seal -> future-resolved latency of the asyncio client beside the Swift AsyncPlasmaClient's, measured
as plasma-bench's wake-async is (Benchmarks/plasma-bench/WakeWorkloads.swift) and with the same
producer for both: a waiter process awaits each id in turn (ours: ``await client.as_future(id)``; Swift:
``plasma-bench __wake-waiter async``, the waiter of ``plasma-bench wake-async``); this process waits
until the waiter's get is in the store, pauses 200-600 us so the waiter sleeps, and seals the object with
the seal time (CLOCK_MONOTONIC, the same clock in every process) in its first 8 bytes; the waiter prints
how long after that it had the object. The seal is a createAndSeal frame encoded before the stamp and
sent right after it (``_Sealer``), so the producer's Python adds one ``pack_into`` and one ``send`` to
both figures. The two waiters alternate in blocks, each block after one sample of the machine's sleeping
round trip (limits.py, rtt-sleep).

python/bench/wake.py SOCKET COUNT PLASMA_BENCH  ->  JSON {"python": {p50, p99, samples}, "swift": {...},
"limit_samples": [us, ...]}
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import time

import swiftplasma as sp
from swiftplasma import _wire

BLOCKS = 4
_STAMP = struct.Struct("<Q")


async def waiter(path: str, list_path: str) -> None:
    with open(list_path) as handle:
        ids = [sp.ObjectID.from_hex(line.strip()) for line in handle if line.strip()]
    client = await sp.connect_async(path)
    lines = []
    for oid in ids:
        buffer = await client.as_future(oid)
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        lines.append(str(now - _STAMP.unpack_from(memoryview(buffer))[0]))
        buffer.close()
    print("\n".join(lines))
    client.close()


class _Sealer:
    """A connection of its own that seals 64-byte objects with createAndSeal frames built in advance."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.sendall(_wire.frame(_wire.CONNECT, 1, struct.pack("<I", 0)))
        self._reply()  # the arena's descriptor, not taken with recvmsg, is closed by the kernel
        self.next_id = 2

    def _reply(self) -> bytes:
        data = b""
        while len(data) < _wire.HEADER_SIZE or len(data) < _wire.HEADER_SIZE + _wire.decode_header(data).length:
            chunk = self.sock.recv(1 << 16)
            assert chunk, "the store closed the producer's connection"
            data += chunk
        assert data[_wire.HEADER_SIZE:_wire.HEADER_SIZE + 2] == b"\0\0", data
        return data

    def frame(self, oid: sp.ObjectID) -> bytearray:
        payload = struct.pack("<q20sI", 0, oid.binary(), 64) + bytes(64) + struct.pack("<I", 0)
        self.next_id += 1
        return bytearray(_wire.frame(_wire.CREATE_AND_SEAL, self.next_id, payload))

    def send_stamped(self, frame: bytearray) -> None:
        _STAMP.pack_into(frame, _wire.HEADER_SIZE + 32, time.clock_gettime_ns(time.CLOCK_MONOTONIC))
        self.sock.send(frame)
        self._reply()


def _block(client: sp.Client, sealer: _Sealer, command: list[str], count: int, rng: random.Random) -> list[int]:
    ids = [sp.ObjectID.random() for _ in range(count)]
    with tempfile.NamedTemporaryFile("w", suffix=".ids", delete=False) as handle:
        handle.write("\n".join(i.hex() for i in ids))
    try:
        child = subprocess.Popen([*command, handle.name], stdout=subprocess.PIPE, text=True)
        for oid in ids:
            frame = sealer.frame(oid)
            while client.stats()["pending_gets"] == 0:
                pass
            time.sleep(rng.uniform(200e-6, 600e-6))
            sealer.send_stamped(frame)
        output, _ = child.communicate(timeout=600)
        client.delete(ids)
    finally:
        os.unlink(handle.name)
    values = [int(v) for v in output.split()]
    assert len(values) == count and child.returncode == 0, output[-500:]
    return values


def _summary(values: list[int]) -> dict[str, float]:
    values = sorted(values)
    return {"p50": values[len(values) // 2] / 1000, "p99": values[min(len(values) - 1, int(len(values) * 0.99))] / 1000,
            "samples": len(values)}


def measure(path: str, count: int, plasma_bench: str) -> dict[str, object]:
    from limits import Limits

    limits = Limits()
    rng = random.Random(16)
    waiters = {"python": [sys.executable, __file__, "--waiter", path],
               "swift": [plasma_bench, "__wake-waiter", "async", path]}
    latencies: dict[str, list[int]] = {name: [] for name in waiters}
    samples = []
    sealer = _Sealer(path)
    with sp.connect(path) as client:
        for _ in range(BLOCKS):
            for name, command in waiters.items():
                samples.append(limits.sample("rtt-sleep"))
                latencies[name] += _block(client, sealer, command, count // BLOCKS, rng)
    sealer.sock.close()
    limits.close()
    return {**{name: _summary(values) for name, values in latencies.items()}, "limit_samples": samples}


if __name__ == "__main__":
    if sys.argv[1] == "--waiter":
        asyncio.run(waiter(sys.argv[2], sys.argv[3]))
    else:
        print(json.dumps(measure(sys.argv[1], int(sys.argv[2]), sys.argv[3])))
