"""Where a 64 MiB put's time goes (page faults counted), beside the memcpy limit sampled right before each put (finer than
run.sh's per-repetition samples, so load that moves between them cancels out):
python/bench/put_breakdown.py SOCKET [PUTS (40)] -> the medians of create, copy, seal and delete, and of
each put's and each copy's rate over its own memcpy sample. Needs numpy (the source is a numpy array,
as in workloads.py)."""

from __future__ import annotations

import ctypes
import mmap
import os
import resource
import statistics
import sys
import time

import numpy as np

import swiftplasma as sp

SIZE = 64 << 20


def main(path: str, puts: int) -> None:
    client = sp.connect(path)
    memcpy = ctypes.CDLL(None).memcpy
    memcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    source = np.random.default_rng(16).integers(0, 255, SIZE, dtype=np.uint8)
    descriptor = os.memfd_create("limit")
    os.ftruncate(descriptor, SIZE)
    target = mmap.mmap(descriptor, SIZE, flags=mmap.MAP_SHARED | mmap.MAP_POPULATE)
    target_address = ctypes.addressof(ctypes.c_char.from_buffer(target))
    for _ in range(3):  # warm-up: the client's mapping of the arena faults its pages in once
        oid = sp.ObjectID.random()
        client.put(oid, source)
        client.delete(oid)
    steps: dict[str, list[float]] = {"create": [], "copy": [], "seal": [], "delete": []}
    put_ratios, copy_ratios = [], []
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(puts):
        started = time.perf_counter()
        memcpy(target_address, source.ctypes.data, SIZE)
        limit = SIZE / (time.perf_counter() - started)
        oid = sp.ObjectID.random()
        t0 = time.perf_counter()
        created = client.create(oid, SIZE)
        t1 = time.perf_counter()
        with memoryview(created) as view:
            view[:] = source  # what put does: memoryview slice assignment (glibc memcpy)
        t2 = time.perf_counter()
        created.seal()
        t3 = time.perf_counter()
        client.delete(oid)
        t4 = time.perf_counter()
        for name, duration in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            steps[name].append(duration)
        put_ratios.append(SIZE / (t4 - t0) / limit)
        copy_ratios.append(SIZE / (t2 - t1) / limit)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    print(f"{puts} puts of 64 MiB, each after one memcpy limit sample ({faults} page faults in all); medians:")
    print("  " + ", ".join(f"{name} {statistics.median(values) * 1e6:,.0f} us" for name, values in steps.items()))
    print(f"  put (create + copy + seal + delete) / limit {statistics.median(put_ratios):.3f}; "
          f"copy alone / limit {statistics.median(copy_ratios):.3f}")
    target.close()
    os.close(descriptor)
    client.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 40)
