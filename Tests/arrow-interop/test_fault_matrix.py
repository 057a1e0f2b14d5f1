"""Fault matrix (issue #7), Arrow dialect: the real pyarrow 11 client is SIGKILLed at each step of an
object's life, and our plasma-store must clean up after it.

The native-dialect twin is Tests/PlasmaIntegrationTests/FaultMatrixTests.swift. For every cell a victim
process (its own interpreter: pyarrow.plasma.connect, or a raw Unix socket for the mid-frame cell) gets
to the step, prints a marker line and sleeps; the test checks that the store really sees the step, kills
the victim with SIGKILL and then checks, with `plasma stats --json` / `plasma list --json` (the native
view, through PLASMA_CLI_BIN), /proc/<store pid>/fd and a fresh pyarrow client, that

* the store is alive and serves a new pyarrow client (put/get round trip, even with the victim's id);
* the client count, pending gets, pending creates, subscriptions and queued events are back at their
  baseline, and no unsealed object is left (created_objects at baseline, nothing "created" in list);
* bytes in use are back at the baseline. Arrow's semantics, which our store follows: a client's
  disconnect aborts the objects it created but had not sealed (so after create and mid-write the
  object is gone, its bytes freed and its id free to be created again), and releases every reference
  it held. A sealed object was published, and only delete or eviction remove it; so after seal-before-
  release the object stays, sealed, with ref_count 0 and all its bytes evictable (bytes_in_use =
  baseline + its size, evictable_bytes = its size), and a newcomer reads the bytes the victim wrote;
* the store's open descriptors (the victim's connection; for the subscribe cell also the notification
  socket pyarrow passed with SCM_RIGHTS) are back at the baseline count.
"""
import gc
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import our_store

warnings.filterwarnings("ignore", "Plasma", DeprecationWarning)
import pyarrow.plasma as plasma  # noqa: E402

CLI_BIN = os.environ.get("PLASMA_CLI_BIN") or os.path.join(our_store.ROOT, ".build", "debug", "plasma")
MB = 1 << 20
STORE_MEMORY = 256 * MB
SETTLE_SECONDS = 5.0

PRELUDE = """
import os, socket, struct, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np
import pyarrow.plasma as plasma
name, object_id = sys.argv[1], plasma.ObjectID(bytes.fromhex(sys.argv[2]))
def ready(marker):
    print(marker, flush=True)
def hold():
    while True:
        time.sleep(3600)
"""

# Each cell: the victim's code (after PRELUDE; `name` is the socket, `object_id` the cell's id), its
# marker, and the size of the object that must outlive the victim (0: nothing may remain).
SIZE = 100000
WRITE_SIZE = 64 * MB
CELLS = {
    "after_create": ("""
client = plasma.connect(name)
buffer = client.create(object_id, %d)
ready("created")
hold()
""" % SIZE, "created", 0),
    "mid_write": ("""
client = plasma.connect(name)
buffer = client.create(object_id, %d)
data = np.frombuffer(buffer, dtype=np.uint8)
chunk = 1 << 20
value = 0
while True:
    for offset in range(0, data.size, chunk):
        data[offset:offset + chunk] = value & 0xff
        if value == 0 and offset == 4 * chunk:
            ready("writing")
    value += 1
""" % WRITE_SIZE, "writing", 0),
    "after_seal_before_release": ("""
client = plasma.connect(name)
buffer = client.create(object_id, %d)
np.frombuffer(buffer, dtype=np.uint8)[:] = np.arange(%d) %% 251
client.seal(object_id)
ready("sealed")  # `buffer` still references the object
hold()
""" % (SIZE, SIZE), "sealed", SIZE),
    "waiting_in_get": ("""
client = plasma.connect(name)
ready("waiting")
client.get_buffers([object_id], timeout_ms=-1)  # nobody creates it: blocks
ready("returned")
hold()
""", "waiting", 0),
    "subscribed": ("""
client = plasma.connect(name)
client.subscribe()
client.put_raw_buffer(b"seen by the subscriber", object_id=object_id)
notified, data_size, metadata_size = client.get_next_notification()
assert (notified, data_size, metadata_size) == (object_id, 22, 0), (notified, data_size, metadata_size)
client.delete([object_id])  # its notification stays unread
ready("subscribed")
hold()
""", "subscribed", 0),
    "mid_frame": ("""
raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
raw.connect(name)
# An Arrow header (version 0, PlasmaCreateRequest = 1) announcing 1000 payload bytes, and 10 of them.
raw.sendall(struct.pack("<qqq", 0, 1, 1000) + bytes(range(10)))
ready("sent")
hold()
""", "sent", 0),
}


def random_id():
    return plasma.ObjectID(np.random.bytes(20))


def cli(*arguments):
    run = subprocess.run([CLI_BIN, *arguments], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, "plasma %s: %s" % (" ".join(arguments), run.stderr)
    return json.loads(run.stdout)


def stats(name):
    # `plasma stats --json` groups the fields into settings, gauges and counters; one flat dict here.
    return {field: value for group in cli("stats", "--json", "--socket", name).values() for field, value in group.items()}


def listed(name):
    return {entry["id"]: entry for entry in cli("list", "--json", "--socket", name)}


def open_descriptors(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def peer_pid(name):
    """The pid of the process listening on `name`, from SO_PEERCRED (struct ucred: pid, uid, gid)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.connect(name)
        pid, _, _ = struct.unpack("3i", probe.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                         struct.calcsize("3i")))
    return pid


def eventually(predicate, timeout=SETTLE_SECONDS):
    """Polls `predicate` until it returns a truthy value; returns its last value."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() >= deadline:
            return value
        time.sleep(0.05)


def store_log(store_dir):
    try:
        with open(os.path.join(store_dir, "store.log"), errors="replace") as log:
            return log.read()[-4000:]
    except OSError:
        return "(no store log: PLASMA_STORE_QUIET unset, it went to stderr)"


@pytest.fixture
def store():
    """(socket path, store pid) of our store, started the way pyarrow starts its own (our_store.py)."""
    with our_store.start_plasma_store(STORE_MEMORY) as (name, proc):
        assert eventually(lambda: os.path.exists(name), 10), "the store never bound its socket"
        yield name, proc
        gc.collect()
        assert proc.poll() is None, "the store died during the test:\n" + store_log(os.path.dirname(name))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


# The keys every cell checks against the baseline once the victim is gone.
# (events_queued is a counter since start; the subscribe cell checks instead that no event is queued
# for the dead subscription afterwards.)
BACK_TO_BASELINE = ("clients", "created_objects", "pending_gets", "pending_creates", "subscriptions")


@pytest.mark.parametrize("cell", list(CELLS))
def test_killed_arrow_client_leaves_nothing_behind(store, cell):
    name, proc = store
    code, marker, kept = CELLS[cell]
    store_pid = proc.pid
    assert peer_pid(name) == store_pid, "the socket is served by another process"

    observer = plasma.connect(name)
    observer.put_raw_buffer(b"warm-up")  # maps the arena; deleted below so the baseline holds no object
    [warm] = observer.list()
    observer.delete([warm])
    assert eventually(lambda: observer.list() == {})
    gc.collect()
    # The CLI's own connections close asynchronously; measure the descriptors while none is open.
    baseline_fds = open_descriptors(store_pid)
    baseline = stats(name)  # counts the observer and this CLI connection
    assert baseline["created_objects"] == 0 and baseline["pending_gets"] == 0
    object_id = random_id()
    hex_id = object_id.binary().hex()

    victim = subprocess.Popen([sys.executable, "-c", PRELUDE + code, name, hex_id],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = victim.stdout.readline().strip()
        assert line == marker, "victim: %r, stderr: %s" % (line, victim.stderr.read() if victim.poll() is not None else "")

        # The store sees the step (and keeps serving others while the victim sits in it).
        during = eventually(lambda: (lambda s: s if s["clients"] == baseline["clients"] + 1 else None)(stats(name)))
        assert during, "the victim is not a client of the store: %s" % stats(name)
        if cell in ("after_create", "mid_write"):
            entry = listed(name)[hex_id]
            assert (entry["state"], entry["ref_count"]) == ("created", 1)
            assert during["created_objects"] == baseline["created_objects"] + 1
            assert during["bytes_in_use"] >= baseline["bytes_in_use"] + (SIZE if cell == "after_create" else WRITE_SIZE)
        elif cell == "after_seal_before_release":
            entry = listed(name)[hex_id]
            assert (entry["state"], entry["ref_count"], entry["data_size"]) == ("sealed", 1, SIZE)
            assert during["evictable_bytes"] == baseline["evictable_bytes"]
            assert observer.evict(10 * SIZE) == 0, "a referenced object must not be evictable"
        elif cell == "waiting_in_get":
            assert eventually(lambda: stats(name)["pending_gets"] == 1), stats(name)
        elif cell == "subscribed":
            assert during["subscriptions"] == baseline["subscriptions"] + 1
            # More notifications the victim will never read: a put and a delete.
            other = observer.put_raw_buffer(b"pending notification")
            observer.delete([other])
        elif cell == "mid_frame":
            round_trip = observer.put_raw_buffer(b"served during a partial frame")
            assert bytes(observer.get_buffers([round_trip], timeout_ms=5000)[0]) == b"served during a partial frame"
            observer.delete([round_trip])
        # The victim's connection (and a subscriber's notification socket, passed with SCM_RIGHTS) are
        # descriptors of the store, which the kill must give back.
        held = 2 if cell == "subscribed" else 1
        assert eventually(lambda: open_descriptors(store_pid) >= baseline_fds + held), \
            "store descriptors while the victim lives: %d, baseline %d" % (open_descriptors(store_pid), baseline_fds)
        assert victim.poll() is None, "the victim left its step early: %s" % victim.stderr.read()

        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=10) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
        victim.stdout.close()
        victim.stderr.close()

    log = lambda: store_log(os.path.dirname(name))  # noqa: E731
    assert proc.poll() is None, "the store died when the victim was killed:\n" + log()

    # The store notices the death: counters back at their baseline.
    def settled():
        current = stats(name)
        return current if all(current[key] == baseline[key] for key in BACK_TO_BASELINE) else None
    after = eventually(settled)
    assert after, "not back to baseline %s: %s\n%s" % (
        {key: baseline[key] for key in BACK_TO_BASELINE}, stats(name), log())

    objects = listed(name)
    assert all(entry["state"] == "sealed" and entry["ref_count"] == 0 for entry in objects.values()), objects
    assert after["bytes_in_use"] == baseline["bytes_in_use"] + kept, (baseline, after)
    assert after["evictable_bytes"] == baseline["evictable_bytes"] + kept, (baseline, after)
    if kept:
        assert list(objects) == [hex_id] and objects[hex_id]["data_size"] == kept
        assert after["sealed_objects"] == baseline["sealed_objects"] + 1
    else:
        assert objects == {}, "left behind: %s" % objects
        assert after["sealed_objects"] == baseline["sealed_objects"]

    descriptors = eventually(lambda: open_descriptors(store_pid) == baseline_fds)
    assert descriptors, "store descriptors: %d, baseline %d\n%s" % (open_descriptors(store_pid), baseline_fds, log())

    # A fresh pyarrow client is served, even with the victim's id.
    newcomer = plasma.connect(name)
    if kept:
        [data] = newcomer.get_buffers([object_id], timeout_ms=5000)
        assert bytes(data) == (np.arange(kept) % 251).astype(np.uint8).tobytes()
        del data
        # The release goes on the newcomer's socket and the evict on the observer's, and a release has no
        # reply: wait until the store has taken it, or the evict may be served first and find nothing.
        assert eventually(lambda: listed(name)[hex_id]["ref_count"] == 0), listed(name)
        assert observer.evict(10 * kept) == kept, "the released sealed object should be evictable"
    else:
        assert not newcomer.contains(object_id)
        newcomer.put_raw_buffer(b"after the kill", object_id=object_id)
        assert bytes(newcomer.get_buffers([object_id], timeout_ms=5000)[0]) == b"after the kill"
    value = {"cell": cell, "numbers": list(range(10))}
    assert newcomer.get(newcomer.put(value), timeout_ms=5000) == value
    newcomer.delete([object_id])
    final = stats(name)
    assert final["events_queued"] == after["events_queued"], "events were queued for a dead subscription"
    newcomer.disconnect()
    gc.collect()
    assert eventually(lambda: stats(name)["clients"] == baseline["clients"]), stats(name)
    assert eventually(lambda: open_descriptors(store_pid) == baseline_fds), \
        "store descriptors after the newcomer left: %d, baseline %d" % (open_descriptors(store_pid), baseline_fds)
