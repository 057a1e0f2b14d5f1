#!/usr/bin/env python3
# Needs Python >= 3.12 (the swiftplasma client).
"""Loop stall while another client forces spills (issue 12 item 3).

A well-behaved client (its own process) times get + release of one small object it keeps pinned
(so it is never spilled), one pair every 500 us: first with the store quiet, then while a writer
process puts --objects objects of --size bytes into a store of --memory bytes with a `file://`
external store, so that nearly every put spills older objects to disk. Percentiles are corrected for
coordinated omission (a pair that took L > 500 us also counts L - 500 us, L - 1 ms, ...). With
--read-back the other client writes first and, during the measured phase, reads every object back
(restores, each making room by spilling another).

Alternates the store binaries given (e.g. before/after) --rounds times, and prints per run: the
victim's p50/p99/max (ms) quiet and during the writes (or reads), the other client's MB/s, and the
store's spill counters (failed: spill and restore failures). The machine's own limit in the same run: how fast this process writes the same files into
the same directory (MB/s), once per round.

    PYTHONPATH=python/src python3 Benchmarks/spill-stall/spill_stall.py BEFORE-STORE AFTER-STORE
"""
import argparse
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time

import swiftplasma

PERIOD = 500e-6


def percentiles(latencies):
    corrected = []
    for latency in latencies:
        corrected.append(latency)
        extra = latency - PERIOD
        while extra > 0:
            corrected.append(extra)
            extra -= PERIOD
    corrected.sort()
    if not corrected:
        return (0.0, 0.0, 0.0)
    pick = lambda q: corrected[min(len(corrected) - 1, int(q * len(corrected)))]
    return (pick(0.5) * 1e3, pick(0.99) * 1e3, corrected[-1] * 1e3)


def victim(socket, quiet_seconds, start_writer, writer_done, results):
    client = swiftplasma.connect(socket, retries=50)
    oid = swiftplasma.ObjectID.random()
    client.put(oid, b"x" * 64)
    pinned = client.get(oid, timeout=0)
    for _ in range(200):  # warm up: the arena's first mapping and page faults are not a stall
        client.get(oid, timeout=0).close()
        client.contains(oid)
    phases = [[], []]
    phase = 0
    quiet_until = time.monotonic() + quiet_seconds
    while True:
        if phase == 0 and time.monotonic() >= quiet_until:
            phase = 1
            start_writer.set()
        elif phase == 1 and writer_done.is_set():
            break
        began = time.monotonic()
        buffer = client.get(oid, timeout=0)
        buffer.close()
        client.contains(oid)  # a round trip that also carries the deferred release
        phases[phase].append(time.monotonic() - began)
        pause = PERIOD - (time.monotonic() - began)
        if pause > 0:
            time.sleep(pause)
    pinned.close()
    results.put([percentiles(samples) for samples in phases] + [len(phases[1])])
    client.close()


def writer(socket, objects, size, read_back, start_writer, writer_done, results):
    client = swiftplasma.connect(socket, retries=50)
    payload = os.urandom(size)
    ids = [swiftplasma.ObjectID.random() for _ in range(objects)]
    if read_back:  # written before the measured phase; read back (restored) during it
        for oid in ids:
            client.put(oid, payload)
    start_writer.wait()
    began = time.monotonic()
    for oid in ids:
        if read_back:
            buffer = client.get(oid)  # waits: a restore (and the spills that make its room)
            buffer.close()
        else:
            client.put(oid, payload)
    elapsed = time.monotonic() - began
    writer_done.set()
    stats = client.stats()
    results.put((objects * size / elapsed / 1e6, stats.get("spilled_objects", 0), stats.get("spill_failures", 0) + stats.get("restore_failures", 0)))
    client.close()


def run(store, memory, objects, size, quiet_seconds, read_back):
    directory = tempfile.mkdtemp(prefix="spill-stall-")
    socket = os.path.join(directory, "store.sock")
    spill = os.path.join(directory, "spill")
    process = subprocess.Popen([store, "--memory", memory, "--socket", socket, "--external-store", "file://" + spill],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not os.path.exists(socket):
            time.sleep(0.01)
        start_writer, writer_done = mp.Event(), mp.Event()
        victim_results, writer_results = mp.Queue(), mp.Queue()
        children = [
            mp.Process(target=victim, args=(socket, quiet_seconds, start_writer, writer_done, victim_results)),
            mp.Process(target=writer, args=(socket, objects, size, read_back, start_writer, writer_done, writer_results)),
        ]
        for child in children:
            child.start()
        quiet, during, samples = victim_results.get()
        rate, spilled, failures = writer_results.get()
        for child in children:
            child.join()
        return quiet, during, samples, rate, spilled, failures
    finally:
        process.terminate()
        process.wait()
        shutil.rmtree(directory, ignore_errors=True)


def disk_limit(objects, size):
    """This process writing the same files (create, write, close, rename, as the store does; no fsync)."""
    directory = tempfile.mkdtemp(prefix="spill-stall-disk-")
    payload = os.urandom(size)
    began = time.monotonic()
    for index in range(objects):
        temporary = os.path.join(directory, ".%d.tmp" % index)
        with open(temporary, "wb") as file:
            file.write(payload)
        os.rename(temporary, os.path.join(directory, "%d" % index))
    elapsed = time.monotonic() - began
    shutil.rmtree(directory, ignore_errors=True)
    return objects * size / elapsed / 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stores", nargs="+", help="plasma-store binaries, alternated")
    parser.add_argument("--memory", default="64M")
    parser.add_argument("--objects", type=int, default=400)
    parser.add_argument("--size", type=int, default=1 << 20)
    parser.add_argument("--quiet-seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--read-back", action="store_true",
                        help="write first, then time the victim while the other client reads everything back")
    options = parser.parse_args()
    print("store                          | quiet p50/p99/max ms  | during p50/p99/max ms   | samples | other MB/s  | spilled | failed")
    for round in range(options.rounds):
        print("round %d: this process writes the same files at %.0f MB/s (the disk's limit here)"
              % (round + 1, disk_limit(options.objects, options.size)))
        for store in options.stores:
            quiet, during, samples, rate, spilled, failures = run(
                store, options.memory, options.objects, options.size, options.quiet_seconds, options.read_back)
            print("%-30s | %5.2f %6.2f %7.2f | %5.2f %7.2f %8.2f | %7d | %11.0f | %7d | %d"
                  % (store[-30:], *quiet, *during, samples, rate, spilled, failures))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
