"""pyarrow 11 programs that work on Arrow's own store must work on ours (issue 13, drop-in fidelity).

Each test runs against BOTH stores: Arrow's `plasma-store-server` from the pyarrow 11 wheel (the
reference) and ours, started with the same flags plus, for ours, whatever limit the test is about.
Run by run.sh, e.g. `PYTEST_ARGS='-k dropin' bash Tests/arrow-interop/run.sh`.
"""
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pytest

import our_store

warnings.filterwarnings("ignore", "Plasma", DeprecationWarning)
import pyarrow  # noqa: E402
import pyarrow.plasma as plasma  # noqa: E402

ARROW_STORE_BIN = os.path.join(os.path.dirname(pyarrow.__file__), "plasma-store-server")
MB = 1 << 20
START_SECONDS = 30


@contextlib.contextmanager
def running_store(binary, memory, extra=()):
    """(socket path, process) of `binary` started Arrow's way (-s, -m), ready once the socket accepts."""
    with tempfile.TemporaryDirectory(prefix="dropin-") as directory:
        name = os.path.join(directory, "plasma.sock")
        with open(os.path.join(directory, "store.log"), "wb") as log:
            process = subprocess.Popen([binary, "-s", name, "-m", str(memory), *extra], stderr=log, stdout=log)
        try:
            # Waits on the store's state (its socket answering), not on a fixed sleep.
            deadline = time.monotonic() + START_SECONDS
            while True:
                assert process.poll() is None, "the store exited at start: " + open(os.path.join(directory, "store.log")).read()
                try:
                    plasma.connect(name, num_retries=1).disconnect()
                    break
                except Exception:
                    assert time.monotonic() < deadline, "the store did not start answering"
                    time.sleep(0.05)
            yield name, process
            assert process.poll() is None, "the store died during the test"
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture(params=["arrow", "ours"])
def store_kind(request):
    if request.param == "arrow" and not os.access(ARROW_STORE_BIN, os.X_OK):
        pytest.fail("Arrow's plasma-store-server is missing from the pyarrow wheel: " + ARROW_STORE_BIN)
    return request.param


def start(kind, memory, ours_extra=()):
    """The store of `kind`; `ours_extra` are flags only our store has (the limit under test)."""
    if kind == "arrow":
        return running_store(ARROW_STORE_BIN, memory)
    return running_store(our_store.STORE_BIN, memory, ours_extra)


def seeded_ids(count, seed):
    """`count` distinct object ids from a seeded generator."""
    raw = np.random.default_rng(seed).bytes(20 * count)
    return [plasma.ObjectID(raw[20 * index:20 * (index + 1)]) for index in range(count)]


# Run in a child process: libplasma aborts its whole process on a frame it doesn't understand (what a
# native refusal frame did to pyarrow), and that must fail this test, not kill the test run.
MANY_CLIENTS = """
import sys, warnings
warnings.filterwarnings("ignore", "Plasma", DeprecationWarning)
import pyarrow.plasma as plasma
name, count = sys.argv[1], int(sys.argv[2])
clients = [plasma.connect(name) for _ in range(count)]
ids = [plasma.ObjectID(bytes([index]) * 20) for index in range(count)]
for index, (client, object_id) in enumerate(zip(clients, ids)):
    client.put_raw_buffer(bytes([index]) * 100, object_id=object_id)
for client in clients:
    buffers = client.get_buffers(ids, timeout_ms=1000)
    assert [bytes(buffer)[:1] for buffer in buffers] == [bytes([index]) for index in range(count)]
del buffers
for client in clients:
    client.disconnect()
print("served", count)
"""


def test_dropin_more_clients_than_the_native_limit_all_connect_and_work(store_kind):
    # Ours with --max-clients 2: the limit is for native clients; Arrow's store has none short of
    # descriptors, and before this fix the third pyarrow client was sent a native frame and aborted.
    with start(store_kind, 64 * MB, ["--max-clients", "2"]) as (name, process):
        result = subprocess.run([sys.executable, "-c", MANY_CLIENTS, name, "8"], capture_output=True, text=True,
                                timeout=120)
        assert (result.returncode, result.stdout.strip()) == (0, "served 8"), result.stderr[-2000:]


def test_dropin_get_buffers_and_delete_of_70001_ids(store_kind):
    count = 70_001  # more than the native protocol's 65,536 items per request
    with start(store_kind, 256 * MB) as (name, process):
        client = plasma.connect(name)
        ids = seeded_ids(count, seed=2)
        present = ids[::1000]
        for object_id in present:
            client.put_raw_buffer(b"x" * 10, object_id=object_id)
        buffers = client.get_buffers(ids, timeout_ms=0)
        assert len(buffers) == count
        found = [index for index, buffer in enumerate(buffers) if buffer is not None]
        assert found == list(range(0, count, 1000))
        assert all(bytes(buffers[index]) == b"x" * 10 for index in found)
        del buffers
        client.disconnect()  # releases what the get took, so that every object can go

        client = plasma.connect(name)
        client.delete(ids)
        assert not any(client.contains(object_id) for object_id in present)
        assert client.list() == {}
        client.disconnect()


def test_dropin_a_subscriber_that_reads_late_gets_every_notification(store_kind):
    seals = 100_000  # past 8 MiB of notifications: where ours used to drop the subscription
    with start(store_kind, 512 * MB) as (name, process):
        subscriber = plasma.connect(name)
        subscriber.subscribe()
        producer = plasma.connect(name)
        ids = seeded_ids(seals, seed=3)
        for object_id in ids:
            buffer = producer.create(object_id, 1)
            producer.seal(object_id)
            del buffer  # pyarrow releases the object when its buffer goes
        seen = []
        for _ in range(seals):
            object_id, data_size, metadata_size = subscriber.get_next_notification()
            assert (data_size, metadata_size) == (1, 0)
            seen.append(object_id)
        assert seen == ids, "every seal, in seal order"
        # The stream is still alive: one more seal arrives.
        last = seeded_ids(1, seed=4)[0]
        producer.put_raw_buffer(b"!", object_id=last)
        assert subscriber.get_next_notification()[0] == last


REFUSED_CLIENT = """
import sys, time, warnings
warnings.filterwarnings("ignore", "Plasma", DeprecationWarning)
import pyarrow.plasma as plasma
name = sys.argv[1]
probe = plasma.ObjectID(b"p" * 20)
# The first client waits until the start-up probe's connection has gone (the store's state, no sleep
# standing in for it): until then it is the one refused.
deadline = time.monotonic() + 30
while True:
    try:
        first = plasma.connect(name, num_retries=1)
        first.contains(probe)
        break
    except OSError:
        assert time.monotonic() < deadline, "the first client was never admitted"
        time.sleep(0.05)
try:
    plasma.connect(name, num_retries=1)
    print("second admitted")
except OSError as error:
    print("second refused:", type(error).__name__)
assert not first.contains(probe)
print("first still served")
"""


def test_dropin_an_arrow_client_past_max_arrow_clients_gets_an_error_not_an_abort():
    # Ours only: Arrow's store has no such limit (the reference is "no limit", the test above). What
    # matters is how pyarrow sees a refusal: an OSError it can catch, never an aborted process.
    with running_store(our_store.STORE_BIN, 64 * MB, ["--max-arrow-clients", "1"]) as (name, process):
        result = subprocess.run([sys.executable, "-c", REFUSED_CLIENT, name], capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.splitlines() == ["second refused: OSError", "first still served"]
