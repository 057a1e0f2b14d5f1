#!/usr/bin/env python3
"""Splits plasma-bench's wake-blocking path into its steps from the stamps of stamps.c.

usage: breakdown.py STAMPS_DIR
       breakdown.py --warm STAMPS_DIR   (the store's read of each createAndSeal -> its next send)

The processes are told apart by what they do: the sealer sends the 124-byte createAndSeal request
(64 B object), the store waits in epoll_wait, the waiter receives the 55-byte get reply. For each seal:
the sealer's clock read before it sends (its stamp of the seal), the store's epoll return, its read of
the request, its send of the waiter's reply, the waiter's poll return, its recvmsg of the reply and
its next clock read (its stamp of the wake). Prints p10/p50/p90 of each step in microseconds.
"""
import bisect
import glob
import statistics
import struct
import sys

EPOLL, READ, SEND, POLL, RECVMSG, CLOCK = 1, 2, 3, 4, 5, 6
REQUEST, REPLY = 124, 55
RECORD = struct.Struct("<QiiqiI")


def load(path):
    data = open(path, "rb").read()
    count = min(struct.unpack_from("<Q", data, 0)[0], (len(data) - 8) // RECORD.size)
    return sorted(RECORD.unpack_from(data, 8 + RECORD.size * i)[:4] for i in range(count))


def the_one(processes, what, test):
    found = [p for p, stamps in processes.items() if sum(1 for s in stamps if test(s)) >= 100]
    if len(found) != 1:
        sys.exit(f"breakdown.py: expected one {what} process, found {len(found)}")
    return processes[found[0]]


def first_after(stamps, time, test):
    for s in stamps[bisect.bisect_right(stamps, (time, 1 << 30)):]:
        if test(s):
            return s
    return None


def last_before(stamps, time, test):
    for s in reversed(stamps[:bisect.bisect_left(stamps, (time,))]):
        if test(s):
            return s
    return None


def percentiles(name, values):
    values.sort()
    print(f"  {name:52s} {values[len(values) // 10]:7.1f} {statistics.median(values):7.1f}"
          f" {values[len(values) * 9 // 10]:7.1f}")


def warm(processes):
    store = the_one(processes, "store", lambda s: s[1] == EPOLL)
    steps = []
    for read in (s for s in store if s[1] == READ and s[3] == REQUEST):
        answer = first_after(store, read[0], lambda s: s[1] == SEND)
        if answer:
            steps.append((answer[0] - read[0]) / 1e3)
    print(f"{len(steps)} createAndSeal requests, microseconds:")
    print(f"  {'step':52s} {'p10':>7s} {'p50':>7s} {'p90':>7s}")
    percentiles("store: read returned -> send of the answer", steps)


def main():
    if sys.argv[1] == "--warm":
        warm({path: load(path) for path in glob.glob(f"{sys.argv[2]}/stamps.*")})
        return
    processes = {path: load(path) for path in glob.glob(f"{sys.argv[1]}/stamps.*")}
    sealer = the_one(processes, "sealer", lambda s: s[1] == SEND and s[3] == REQUEST)
    store = the_one(processes, "store", lambda s: s[1] == EPOLL)
    waiter = the_one(processes, "waiter", lambda s: s[1] == RECVMSG and s[3] == REPLY)
    steps = {
        "sealer: its stamp -> send of createAndSeal": [],
        "hop 1: send -> store's epoll_wait returns": [],
        "store: epoll_wait returned -> read returned": [],
        "store: read returned -> send of the waiter's reply": [],
        "hop 2: that send -> waiter's poll returns": [],
        "waiter: poll returned -> recvmsg returned": [],
        "waiter: recvmsg returned -> its stamp": [],
        "total (stamp to stamp)": [],
    }
    for sent in (s for s in sealer if s[1] == SEND and s[3] == REQUEST):
        t0 = sent[0]
        stamped = last_before(sealer, t0, lambda s: s[1] == CLOCK)
        woke = first_after(store, t0, lambda s: s[1] == EPOLL)
        read = first_after(store, t0, lambda s: s[1] == READ and s[3] == REQUEST)
        answer = read and first_after(store, read[0], lambda s: s[1] == SEND and s[3] == REPLY)
        polled = answer and first_after(waiter, answer[0], lambda s: s[1] == POLL)
        received = answer and first_after(waiter, answer[0], lambda s: s[1] == RECVMSG and s[3] == REPLY)
        clocked = received and first_after(waiter, received[0], lambda s: s[1] == CLOCK)
        points = [stamped, sent, woke, read, answer, polled, received, clocked]
        if not all(points) or not all(a[0] <= b[0] for a, b in zip(points, points[1:])):
            continue  # a seal whose steps interleave with the next one's; rare, left out
        for (name, values), a, b in zip(steps.items(), points, points[1:]):
            values.append((b[0] - a[0]) / 1e3)
        steps["total (stamp to stamp)"].append((clocked[0] - stamped[0]) / 1e3)
    seals = len(steps["total (stamp to stamp)"])
    if seals < 100:
        sys.exit(f"breakdown.py: only {seals} seals followed whole")
    print(f"{seals} seals followed, microseconds:")
    print(f"  {'step':52s} {'p10':>7s} {'p50':>7s} {'p90':>7s}")
    for name, values in steps.items():
        percentiles(name, values)


main()
