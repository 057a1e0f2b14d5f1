#!/usr/bin/env python3
"""Splits plasma-bench's wake-blocking path into its steps from the stamps of stamps.c.

usage: breakdown.py STAMPS_DIR
       breakdown.py --warm STAMPS_DIR   (the store's read of each createAndSeal -> its next send)

The processes are told apart by what they do: the sealer sends the 124-byte createAndSeal request
(64 B object), the store waits in epoll_wait, the waiter receives the 55-byte get reply. For each seal:
the sealer's monotonic clock read before it sends (on the sending thread: its stamp of the seal), the
store's epoll return that delivered the request, its read of it, its send of the waiter's reply, the
waiter's poll return before its recvmsg of the reply, that recvmsg, and the receiving thread's next
monotonic clock read (its stamp of the wake). Prints p10/p50/p90 of each step in microseconds, as
plasma-bench takes them (index count * p of the sorted values).
"""
import bisect
import glob
import struct
import sys

EPOLL, READ, SEND, POLL, RECVMSG, CLOCK = 1, 2, 3, 4, 5, 6
CLOCK_MONOTONIC = 1
REQUEST, REPLY = 124, 55
RECORD = struct.Struct("<QiiqiI")  # nanoseconds, event, descriptor (clock id for CLOCK), size, thread


def load(path):
    data = open(path, "rb").read()
    capacity = (len(data) - 8) // RECORD.size
    written = struct.unpack_from("<Q", data, 0)[0]
    if written > capacity:
        print(f"breakdown.py: {path} filled up: {written - capacity} stamps lost", file=sys.stderr)
    return sorted(RECORD.unpack_from(data, 8 + RECORD.size * i)[:5] for i in range(min(written, capacity)))


def load_all(directory):
    return {path: load(path) for path in glob.glob(f"{directory}/stamps.*")}


def the_one(processes, what, test):
    found = [p for p, stamps in processes.items() if sum(1 for s in stamps if test(s)) >= 100]
    if len(found) != 1:
        sys.exit(f"breakdown.py: expected one {what} process, found {len(found)}")
    return processes[found[0]]


def first_after(stamps, time, test):
    for i in range(bisect.bisect_right(stamps, (time, 1 << 30)), len(stamps)):
        if test(stamps[i]):
            return stamps[i]
    return None


def last_before(stamps, time, test):
    for i in range(bisect.bisect_left(stamps, (time,)) - 1, -1, -1):
        if test(stamps[i]):
            return stamps[i]
    return None


def percentile(values, p):
    return values[min(len(values) - 1, int(len(values) * p))]


def show(name, values):
    values.sort()
    print(f"  {name:52s} {percentile(values, 0.1):7.1f} {percentile(values, 0.5):7.1f} {percentile(values, 0.9):7.1f}")


def warm(processes):
    store = the_one(processes, "store", lambda s: s[1] == EPOLL)
    steps = []
    for read in (s for s in store if s[1] == READ and s[3] == REQUEST):
        answer = first_after(store, read[0], lambda s: s[1] == SEND and s[4] == read[4])
        if answer:
            steps.append((answer[0] - read[0]) / 1e3)
    if len(steps) < 100:
        sys.exit(f"breakdown.py: only {len(steps)} createAndSeal requests answered")
    print(f"{len(steps)} createAndSeal requests, microseconds:")
    print(f"  {'step':52s} {'p10':>7s} {'p50':>7s} {'p90':>7s}")
    show("store: read returned -> send of the answer", steps)


def wake(processes):
    sealer = the_one(processes, "sealer", lambda s: s[1] == SEND and s[3] == REQUEST)
    store = the_one(processes, "store", lambda s: s[1] == EPOLL)
    waiter = the_one(processes, "waiter", lambda s: s[1] == RECVMSG and s[3] == REPLY)
    names = [
        "sealer: its stamp -> send of createAndSeal",
        "hop 1: send -> store's epoll_wait returns",
        "store: epoll_wait returned -> read returned",
        "store: read returned -> send of the waiter's reply",
        "hop 2: that send -> waiter's poll returns",
        "waiter: poll returned -> recvmsg returned",
        "waiter: recvmsg returned -> its stamp",
    ]
    steps = {name: [] for name in names + ["total (stamp to stamp)"]}
    seals = left_out = 0
    for sent in (s for s in sealer if s[1] == SEND and s[3] == REQUEST):
        seals += 1
        t0, thread = sent[0], sent[4]
        stamped = last_before(sealer, t0, lambda s: s[1] == CLOCK and s[2] == CLOCK_MONOTONIC and s[4] == thread)
        read = first_after(store, t0, lambda s: s[1] == READ and s[3] == REQUEST)
        woke = read and last_before(store, read[0], lambda s: s[1] == EPOLL)
        answer = read and first_after(store, read[0], lambda s: s[1] == SEND and s[3] == REPLY)
        received = answer and first_after(waiter, answer[0], lambda s: s[1] == RECVMSG and s[3] == REPLY)
        polled = received and last_before(waiter, received[0], lambda s: s[1] == POLL and s[4] == received[4])
        clocked = received and first_after(
            waiter, received[0], lambda s: s[1] == CLOCK and s[2] == CLOCK_MONOTONIC and s[4] == received[4])
        points = [stamped, sent, woke, read, answer, polled, received, clocked]
        # Left out: a seal whose steps interleave with another's, or whose waiter never slept in poll.
        if not all(points) or not all(a[0] <= b[0] for a, b in zip(points, points[1:])):
            left_out += 1
            continue
        for name, a, b in zip(names, points, points[1:]):
            steps[name].append((b[0] - a[0]) / 1e3)
        steps["total (stamp to stamp)"].append((clocked[0] - stamped[0]) / 1e3)
    followed = seals - left_out
    if followed < 100:
        sys.exit(f"breakdown.py: only {followed} of {seals} seals followed whole")
    print(f"{followed} of {seals} seals followed whole ({left_out} left out), microseconds:")
    print(f"  {'step':52s} {'p10':>7s} {'p50':>7s} {'p90':>7s}")
    for name, values in steps.items():
        show(name, values)


if len(sys.argv) == 3 and sys.argv[1] == "--warm":
    warm(load_all(sys.argv[2]))
elif len(sys.argv) == 2:
    wake(load_all(sys.argv[1]))
else:
    sys.exit(__doc__)
