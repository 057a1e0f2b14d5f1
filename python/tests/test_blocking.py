"""The blocking client against the real store."""

from __future__ import annotations

import gc
import os
import random
import shutil
import subprocess

import pytest

import swiftplasma as sp
from conftest import Store, store_binary
from helpers import run_python


def references(client: sp.Client, oid: sp.ObjectID) -> int:
    rows = [row for row in client.list() if row.object_id == oid]
    return rows[0].reference_count if rows else -1


def test_put_get_small_and_large_with_metadata(store: Store) -> None:
    rng = random.Random(16)
    with sp.connect(store.path) as client:
        for size in (0, 1, 64, 4096, (256 << 10) + 1, 8 << 20):
            oid = sp.ObjectID.random()
            data = rng.randbytes(size)
            client.put(oid, data, metadata=b"meta")
            with client.get(oid, timeout=0) as buffer:
                assert len(buffer) == size
                assert bytes(buffer) == data
                assert buffer.metadata == b"meta"
            assert references(client, oid) == 0


def test_put_accepts_buffer_protocol_objects(store: Store) -> None:
    with sp.connect(store.path) as client:
        for value in (bytearray(b"abc"), memoryview(b"xyz123")[1:4], __import__("array").array("i", [1, 2, 3])):
            oid = sp.ObjectID.random()
            client.put(oid, value)
            with client.get(oid) as buffer:
                assert bytes(buffer) == memoryview(value).tobytes()


def test_create_write_in_place_seal(store: Store) -> None:
    with sp.connect(store.path) as client:
        oid = sp.ObjectID.from_name("python/create")
        buffer = client.create(oid, 10, metadata=b"m")
        view = memoryview(buffer)
        view[:] = b"0123456789"
        with pytest.raises(sp.BufferInUseError, match=oid.hex()):
            buffer.seal()  # a live view could write after the seal
        del view
        assert not client.contains(oid)
        buffer.seal()
        assert client.contains(oid)
        with pytest.raises(sp.BufferReleasedError):
            memoryview(buffer)
        with client.get(oid) as got:
            assert bytes(got) == b"0123456789" and got.metadata == b"m"


def test_create_context_aborts_on_error_and_dropping_an_unsealed_object_aborts_it(store: Store) -> None:
    with sp.connect(store.path) as client:
        oid = sp.ObjectID.random()
        with pytest.raises(RuntimeError):
            with client.create(oid, 4):
                raise RuntimeError("writer failed")
        assert client.list() == []
        other = sp.ObjectID.random()
        client.create(other, 4)  # dropped at once
        gc.collect()
        assert client.list() == []  # the abort went out before the list
        with client.create(oid, 3) as buffer:
            memoryview(buffer)[:] = b"abc"
        assert client.contains(oid)


def test_buffers_are_read_only_and_released_by_close_exit_and_gc(store: Store) -> None:
    with sp.connect(store.path) as client:
        oid = sp.ObjectID.random()
        client.put(oid, b"hello")
        buffer = client.get(oid)
        view = memoryview(buffer)
        assert view.readonly
        with pytest.raises(TypeError):
            view[0] = 1
        assert references(client, oid) == 1
        with pytest.raises(sp.BufferInUseError, match=oid.hex()):
            buffer.close()  # releasing under a live view would let it read reused memory
        del view
        buffer.close()
        assert references(client, oid) == 0
        with pytest.raises(sp.BufferReleasedError, match=oid.hex()):
            bytes(buffer)
        with pytest.raises(sp.BufferReleasedError):
            len(buffer)
        buffer.close()  # idempotent

        with client.get(oid) as inside:
            assert references(client, oid) == 1
            assert bytes(inside) == b"hello"
        assert references(client, oid) == 0

        dropped = client.get(oid)
        assert references(client, oid) == 1
        del dropped
        gc.collect()
        assert references(client, oid) == 0


def test_get_many_timeouts_and_errors_name_the_id_and_reason(store: Store) -> None:
    with sp.connect(store.path) as client:
        present, absent = sp.ObjectID.random(), sp.ObjectID.random()
        client.put(present, b"x")
        with pytest.raises(sp.ObjectTimeoutError, match=absent.hex()) as timeout:
            client.get(absent, timeout=0.05)
        assert timeout.value.object_ids == [absent]
        with pytest.raises(sp.ObjectTimeoutError, match=absent.hex()):
            client.get_many([present, absent], timeout=0)
        assert references(client, present) == 0  # the found one was given back
        found = client.get_many([present, absent, present], timeout=0, missing_ok=True)
        assert [b is not None for b in found] == [True, False, True]
        assert references(client, present) == 2
        del found
        with pytest.raises(sp.ObjectExistsError, match=present.hex()) as exists:
            client.put(present, b"again")
        assert exists.value.reason.startswith("an object with this id already exists")
        with pytest.raises(sp.ObjectNotFoundError, match=f"{absent.hex()}.*no such object"):
            client.delete(absent)
        with pytest.raises(sp.StoreError, match="tooLarge"):
            client.create(sp.ObjectID.random(), 1 << 40)


def test_contains_delete_list_stats_evict(store: Store) -> None:
    with sp.connect(store.path) as client:
        ids = [sp.ObjectID.random() for _ in range(3)]
        for oid in ids:
            client.put(oid, oid.binary())
        assert all(client.contains(oid) for oid in ids)
        rows = client.list()
        assert {row.object_id for row in rows} == set(ids)
        assert all(row.sealed and row.data_size == 20 for row in rows)
        stats = client.stats()
        assert stats["sealed_objects"] == 3 and stats["clients"] == 1 and stats["capacity"] == 256 << 20
        held = client.get(ids[0])
        client.delete(ids)  # the held one is deferred
        assert [client.contains(oid) for oid in ids] == [True, False, False]
        held.close()
        assert not client.contains(ids[0])
        client.put(ids[1], b"y" * 100)
        assert client.evict(1) == (100, 1)


def test_objects_cross_processes(store: Store) -> None:
    with sp.connect(store.path) as client:
        oid = sp.ObjectID.from_name("python/cross-process")
        run_python("""
            import sys, swiftplasma as sp
            with sp.connect(sys.argv[1]) as client:
                client.put(sp.ObjectID.from_name("python/cross-process"), bytes(range(256)) * 4096)
        """, store.path)
        with client.get(oid, timeout=0) as buffer:
            assert bytes(buffer) == bytes(range(256)) * 4096


def test_default_socket_path_comes_from_the_environment(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLASMA_STORE_SOCKET", store.path)
    assert sp.default_socket_path() == store.path
    with sp.connect() as client:
        assert client.path == store.path
    monkeypatch.setenv("PLASMA_STORE_SOCKET", "")
    assert sp.default_socket_path() == "/tmp/plasma.sock"


def test_connect_failures_say_why(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(sp.CannotConnectError, match="nowhere.sock"):
        sp.connect(store.path + ".nowhere.sock")
    monkeypatch.setenv("PLASMA_TRUSTED_STORE_UID", "12,banana")
    with pytest.raises(ValueError, match="PLASMA_TRUSTED_STORE_UID"):
        sp.connect(store.path)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_a_store_of_another_user_is_refused_unless_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """This client runs as root; a store run by uid 65534 is neither its user nor root."""
    import tempfile
    from pathlib import Path

    from conftest import Store, store_binary
    directory = tempfile.mkdtemp(prefix="swiftplasma-trust-")
    os.chmod(directory, 0o1777)  # the store refuses a directory anyone may write without the sticky bit
    path = os.path.join(directory, "other.sock")
    log = Path(directory) / "store.log"
    process = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", store_binary(),
                                "--memory", "16M", "--socket", path, "--socket-mode", "666"],
                               stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        probe = Store.__new__(Store)
        probe.path, probe.process, probe.log = path, process, log
        probe.wait_until_listening()
        with pytest.raises(sp.UntrustedStoreError, match="uid 65534"):
            sp.connect(path)
        with sp.connect(path, trust=[65534]) as client:
            assert client.client_id > 0
        monkeypatch.setenv("PLASMA_TRUSTED_STORE_UID", "65534")
        with sp.connect(path) as client:
            assert client.client_id > 0
        with sp.connect(path, trust="any"):
            pass
    finally:
        process.terminate()
        process.wait()
        shutil.rmtree(directory, ignore_errors=True)


def test_close_from_another_thread_ends_a_waiting_get(store: Store) -> None:
    import threading
    client = sp.connect(store.path)
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            client.get(sp.ObjectID.random())  # forever
        except BaseException as error:
            outcome.append(error)

    waiter = threading.Thread(target=wait)
    waiter.start()
    with sp.connect(store.path) as observer:
        for _ in range(3000):
            if observer.stats()["pending_gets"] == 1:
                break
            __import__("time").sleep(0.01)
        assert observer.stats()["pending_gets"] == 1
        client.close()
        waiter.join(30)
        assert not waiter.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], sp.DisconnectedError)
        assert "the client closed the connection" in str(outcome[0])
