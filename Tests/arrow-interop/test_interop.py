"""Unmodified pyarrow 11 clients (Python and C++ libplasma) against OUR plasma-store.

Run by run.sh (which builds the C++ client and sets PLASMA_STORE_BIN, PLASMA_CLI_BIN, CPP_CLIENT_BIN).
Every store here is our binary, started the way pyarrow starts its own (our_store.py).
"""
import gc
import glob
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pytest

import our_store

warnings.filterwarnings("ignore", "Plasma", DeprecationWarning)
import pyarrow as pa  # noqa: E402
import pyarrow.plasma as plasma  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CLI_BIN = os.environ.get("PLASMA_CLI_BIN") or os.path.join(our_store.ROOT, ".build", "debug", "plasma")
CPP_CLIENT_BIN = os.environ.get("CPP_CLIENT_BIN") or os.path.join(our_store.ROOT, ".build", "arrow-interop", "cpp_client")
MB = 1 << 20


def random_id():
    return plasma.ObjectID(np.random.bytes(20))


def pending_gets(name):
    """The store's pending_gets gauge, through `plasma stats --json` (its own connection)."""
    run = subprocess.run([CLI_BIN, "stats", "--json", "--socket", name], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)["gauges"]["pending_gets"]


def eventually(predicate, timeout=10):
    """Polls `predicate` until it is true or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def store(request):
    """(socket path, process) of our store; `@pytest.mark.store(memory=..., external=...)` to vary it."""
    marker = request.node.get_closest_marker("store")
    options = dict(marker.kwargs) if marker else {}
    with our_store.start_plasma_store(options.pop("memory", 64 * MB),
                                      external_store=options.pop("external", None)) as (name, proc):
        yield name, proc
        gc.collect()  # buffers release their references while the store still listens
        assert proc.poll() is None, "the store died during the test"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


@pytest.fixture
def client(store):
    return plasma.connect(store[0])


def create_sealed(client, size, metadata=b"", fill=None):
    object_id = random_id()
    buffer = client.create(object_id, size, metadata)
    if size:
        np.frombuffer(buffer, dtype=np.uint8)[:] = fill if fill is not None else np.random.randint(0, 256, size)
    client.seal(object_id)
    return object_id


def test_create_seal_get_contains_metadata(store, client):
    other = plasma.connect(store[0])
    object_id = random_id()
    assert not client.contains(object_id)
    buffer = client.create(object_id, 1000, b"the metadata")
    np.frombuffer(buffer, dtype=np.uint8)[:] = np.arange(1000) % 251
    assert not other.contains(object_id), "unsealed objects are not contained"
    client.seal(object_id)
    assert other.contains(object_id)
    [data] = other.get_buffers([object_id])
    assert bytes(data) == (np.arange(1000) % 251).astype(np.uint8).tobytes()
    [metadata] = other.get_metadata([object_id])
    assert bytes(metadata) == b"the metadata"
    with pytest.raises(plasma.PlasmaObjectExists):
        other.create(object_id, 10)


def test_put_get_and_raw_buffers(client):
    value = {"numbers": list(range(100)), "text": "hello"}
    object_id = client.put(value)
    assert client.get(object_id) == value
    raw = client.put_raw_buffer(b"raw bytes", metadata=b"RAW")
    [(metadata, data)] = client.get_buffers([raw], with_meta=True)
    assert (bytes(data), bytes(metadata)) == (b"raw bytes", b"RAW")
    assert client.get(random_id(), timeout_ms=0) is plasma.ObjectNotAvailable


def test_get_timeouts_and_missing(client):
    missing = [random_id() for _ in range(5)]
    for timeout in (0, 10, 100):
        assert client.get_buffers(missing, timeout_ms=timeout) == [None] * 5
    present = create_sealed(client, 10)
    result = client.get_buffers([missing[0], present], timeout_ms=50)
    assert result[0] is None and result[1] is not None


def test_zero_size_objects(client):
    empty = create_sealed(client, 0)
    assert client.contains(empty)
    [data] = client.get_buffers([empty])
    assert data is not None and data.size == 0
    with_metadata = random_id()
    client.create(with_metadata, 0, b"only metadata")
    client.seal(with_metadata)
    [metadata] = client.get_metadata([with_metadata])
    assert bytes(metadata) == b"only metadata"


def test_hash_is_stable_and_content_based(client):
    a = client.put_raw_buffer(b"same bytes")
    b = client.put_raw_buffer(b"same bytes")
    c = client.put_raw_buffer(b"other bytes")
    assert client.hash(a) == client.hash(b) != client.hash(c)
    with pytest.raises(pa.ArrowException):
        client.hash(random_id())


@pytest.mark.store(memory=10000)
def test_capacity_is_the_exact_memory_flag(client):
    assert client.store_capacity() == 10000


@pytest.mark.store(memory=1000000)
def test_an_object_of_exactly_the_capacity_fits_and_one_byte_more_does_not(client):
    object_id = create_sealed(client, 1000000)
    [data] = client.get_buffers([object_id])
    assert data.size == 1000000
    del data
    create_sealed(client, 999990, metadata=b"0123456789")  # evicts the first, exactly full again
    with pytest.raises(plasma.PlasmaStoreFull):
        client.create(random_id(), 1000001)


def test_list_reports_state_sizes_references_and_times(client):
    before = time.time()
    unsealed = random_id()
    buffer = client.create(unsealed, 11, b"1234567")
    listed = client.list()[unsealed]
    assert (listed["data_size"], listed["metadata_size"], listed["state"]) == (11, 7, "created")
    assert before - 2 <= listed["create_time"] <= time.time() + 2
    client.seal(unsealed)
    assert client.list()[unsealed]["state"] == "sealed"
    del buffer
    reader = plasma.connect(client.store_socket_name)
    held = reader.get_buffers([unsealed])
    held_again = reader.get_buffers([unsealed])  # a second get by the same client: still one reference
    assert client.list()[unsealed]["ref_count"] == 1
    del held, held_again


def test_evict_takes_least_recently_released_first(client):
    first = create_sealed(client, 1000)
    unsealed = random_id()
    pinned = client.create(unsealed, 999)
    second = create_sealed(client, 998)
    assert client.evict(1) == 1000
    assert not client.contains(first)
    assert client.evict(1) == 998
    assert client.evict(1) == 0, "unsealed objects are not evictable"
    client.seal(unsealed)
    del pinned
    assert client.evict(10**9) == 999
    assert not client.contains(second)


def test_delete_is_deferred_while_another_client_holds_the_object(store, client):
    reader = plasma.connect(store[0])
    object_id = create_sealed(client, 100)
    [held] = reader.get_buffers([object_id])
    client.delete([object_id])
    assert client.contains(object_id), "deleted while referenced"
    del held
    deadline = time.time() + 5
    while client.contains(object_id) and time.time() < deadline:
        time.sleep(0.01)
    assert not client.contains(object_id)


def test_subscribe_gets_existing_seals_deletions_and_evictions(store, client):
    existing = create_sealed(client, 5, metadata=b"m")
    subscriber = plasma.connect(store[0])
    subscriber.subscribe()
    assert subscriber.get_next_notification() == (existing, 5, 1)
    fresh = create_sealed(client, 42, metadata=b"abc")
    assert subscriber.get_next_notification() == (fresh, 42, 3)
    client.delete([existing])
    assert subscriber.get_next_notification() == (existing, -1, -1)
    client.evict(1)
    assert subscriber.get_next_notification() == (fresh, -1, -1)


def test_notification_socket_framing(store, client):
    client.subscribe()
    rsock = client.get_notification_socket()
    object_id = create_sealed(client, 7)
    size, = struct.unpack("L", rsock.recv(8))
    ids, data_sizes, metadata_sizes = client.decode_notifications(rsock.recv(size))
    assert (ids[0], data_sizes[0], metadata_sizes[0]) == (object_id, 7, 0)


def test_set_client_options_quota(store, client):
    client.set_client_options("half", client.store_capacity() // 2)
    with pytest.raises(plasma.PlasmaStoreFull):
        client.set_client_options("again", 1)  # granted at most once
    other = plasma.connect(store[0])
    with pytest.raises(plasma.PlasmaStoreFull):
        other.set_client_options("too much", client.store_capacity() // 4)  # would leave < 30 %
    with pytest.raises(plasma.PlasmaStoreFull):
        client.create(random_id(), client.store_capacity() // 2 + 1)
    assert "quota" in client.debug_string()


BLOCKED_GET = """
import sys, warnings
warnings.simplefilter("ignore")
import pyarrow.plasma as plasma
client = plasma.connect(sys.argv[1])
ids = [plasma.ObjectID(bytes.fromhex(h)) for h in sys.argv[2:]]
print("waiting", flush=True)
buffers = client.get_buffers(ids, timeout_ms=-1)
print(" ".join(bytes(b).decode() for b in buffers), flush=True)
"""


def test_blocking_get_across_processes(store, client):
    ids = [random_id() for _ in range(3)]
    waiter = subprocess.Popen([sys.executable, "-c", BLOCKED_GET, store[0]] + [i.binary().hex() for i in ids],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert waiter.stdout.readline().strip() == "waiting"
        # The waiter prints before it sends its get: wait until the store holds the get (not a fixed sleep,
        # which under load may end first), so that the puts below really answer a waiting get.
        assert eventually(lambda: pending_gets(store[0]) == 1), "the waiter's get never waited in the store"
        for index, object_id in enumerate(ids):
            assert waiter.poll() is None, "the get returned before every object was sealed"
            client.put_raw_buffer(b"value%d" % index, object_id=object_id)
        assert waiter.stdout.readline().split() == ["value0", "value1", "value2"]
        assert waiter.wait(timeout=10) == 0
    finally:
        waiter.kill()


def test_client_killed_during_get(store, client):
    object_id = random_id()
    waiter = subprocess.Popen([sys.executable, "-c", BLOCKED_GET, store[0], object_id.binary().hex()],
                              stdout=subprocess.PIPE, text=True)
    assert waiter.stdout.readline().strip() == "waiting"
    # Killed while its get waits in the store, and the put comes once the store has dropped that get:
    # waits on the store's state (a fixed sleep may end first under load and test something else).
    assert eventually(lambda: pending_gets(store[0]) == 1), "the waiter's get never waited in the store"
    waiter.kill()
    waiter.wait()
    assert eventually(lambda: pending_gets(store[0]) == 0), "the store kept the dead waiter's get"
    client.put_raw_buffer(b"after the death", object_id=object_id)
    assert bytes(client.get_buffers([object_id])[0]) == b"after the death"
    assert not client.contains(random_id())


def test_raw_misuse_disconnects_only_that_client(store, client):
    object_id = create_sealed(client, 3)
    for frame in (
        struct.pack("<qqq", 0, 1, 1 << 40),  # a header claiming 2^40 payload bytes
        struct.pack("<qqq", 0, 24, 0),  # UnsubscribeRequest: unused, Arrow's store aborted
        struct.pack("<qqq", 0, 7, 4) + b"\xff\xff\xff\xff",  # a seal whose flatbuffer is garbage
    ):
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.connect(store[0])
        raw.sendall(frame)
        raw.settimeout(10)
        assert raw.recv(1) == b"", "the store should close this connection"
        raw.close()
    assert client.contains(object_id)
    assert plasma.connect(store[0]).contains(object_id)


@pytest.mark.store(memory=1000 * 1024, external="hashtable://test")
def test_external_hashtable_store_restores_evicted_objects(client):
    ids = [random_id() for _ in range(20)]
    for index, object_id in enumerate(ids):
        client.create_and_seal(object_id, bytes([index]) * 100 * 1024, b"")
        assert client.contains(object_id)
    for index, object_id in enumerate(ids):
        [data] = client.get_buffers([object_id])
        assert bytes(data) == bytes([index]) * 100 * 1024
    listed = client.list()
    assert all(object_id in listed for object_id in ids)


def test_external_file_store_spills_to_files_and_restores(tmp_path):
    spill = tmp_path / "spill"
    with our_store.start_plasma_store(1 << 20, external_store="file://%s" % spill) as (name, proc):
        client = plasma.connect(name)
        ids = [random_id() for _ in range(12)]
        for index, object_id in enumerate(ids):
            client.create_and_seal(object_id, bytes([index + 1]) * 200000, b"md%d" % index)
        assert len(glob.glob(str(spill / "*"))) >= 6, "evicted objects should be files in the directory"
        for index, object_id in enumerate(ids):
            assert client.contains(object_id)
            [(metadata, data)] = client.get_buffers([object_id], with_meta=True)
            assert bytes(data) == bytes([index + 1]) * 200000 and bytes(metadata) == b"md%d" % index
            del data, metadata
        stats = subprocess.run([CLI_BIN, "stats", "-s", name], capture_output=True, text=True)
        if stats.returncode == 0:
            assert "restored_objects" in stats.stdout or "restored" in stats.stdout.lower()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert glob.glob(str(spill / "*")) == [], "spill files are removed when the store stops"


def test_cross_dialect_native_put_arrow_get(store, client, tmp_path):
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"written by the swift plasma CLI" * 10)
    object_hex = np.random.bytes(20).hex()
    put = subprocess.run([CLI_BIN, "put", "-s", store[0], "--metadata", "swift", object_hex, str(payload)],
                         capture_output=True, text=True, timeout=30)
    assert put.returncode == 0, put.stderr
    object_id = plasma.ObjectID(bytes.fromhex(object_hex))
    [(metadata, data)] = client.get_buffers([object_id], timeout_ms=5000, with_meta=True)
    assert bytes(data) == payload.read_bytes() and bytes(metadata) == b"swift"


def test_cross_dialect_arrow_put_native_get(store, client, tmp_path):
    object_id = client.put_raw_buffer(b"written by pyarrow 11", metadata=b"py")
    out = tmp_path / "out.bin"
    get = subprocess.run([CLI_BIN, "get", "-s", store[0], "-o", str(out), object_id.binary().hex()],
                         capture_output=True, text=True, timeout=30)
    assert get.returncode == 0, get.stderr
    assert out.read_bytes() == b"written by pyarrow 11"
    meta = subprocess.run([CLI_BIN, "get", "-s", store[0], "--metadata", object_id.binary().hex()],
                          capture_output=True, timeout=30)
    assert meta.returncode == 0 and meta.stdout == b"py"


def test_cpp_client(store, client):
    assert os.access(CPP_CLIENT_BIN, os.X_OK), "build the C++ client first (run.sh does)"
    left = random_id()
    run = subprocess.run([CPP_CLIENT_BIN, store[0], left.binary().hex()], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1] == "ALL OK"
    [(metadata, data)] = client.get_buffers([left], with_meta=True)
    assert (bytes(data), bytes(metadata)) == (b"from c++", b"cpp-meta")


@pytest.mark.parametrize("directory,hugepages", [("/dev/shm", False), ("/tmp", True)])
def test_arena_in_a_directory_and_hugepage_flag(directory, hugepages):
    """Arrow's -d and -h: the arena is an unlinked file in the directory (hugepages fall back to
    normal pages with a log line when none are reserved); clients map it the same way."""
    with our_store.start_plasma_store(10**7, plasma_directory=directory, use_hugepages=hugepages) as (name, proc):
        writer, reader = plasma.connect(name), plasma.connect(name)
        object_id = writer.put_raw_buffer(b"in a directory")
        assert bytes(reader.get_buffers([object_id])[0]) == b"in a directory"
        assert reader.store_capacity() == 10**7
