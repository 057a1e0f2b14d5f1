"""Interruptions, cancellations, refused views, lost connections and extreme timeouts leave nothing
behind: the store's own counters and listing are the witnesses (issue #16's review)."""

from __future__ import annotations

import asyncio
import inspect
import io
import math
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

import swiftplasma as sp
from conftest import Store
from swiftplasma import _wire


class Interrupted(Exception):
    """What a signal handler (or a KeyboardInterrupt) raises in the middle of a call."""


def until(condition: Callable[[], bool], what: str, limit: float = 30) -> None:
    """Polls the store's state (bounded), never a fixed sleep."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.005)


def rows_of(observer: sp.Client, oid: sp.ObjectID) -> list[sp.ObjectInfo]:
    return [row for row in observer.list() if row.object_id == oid]


class SocketProxy:
    """Stands in for a client's socket so a test can interrupt it at a chosen point."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.on_recv: Callable[[], None] | None = None
        self.send_only: int | None = None

    def recv_into(self, *args: Any) -> int:
        hook, self.on_recv = self.on_recv, None
        if hook is not None:
            hook()
        return self.sock.recv_into(*args)

    def sendmsg(self, parts: list[bytes | memoryview]) -> int:
        if self.send_only is None:
            return self.sock.sendmsg(parts)
        return self.sock.send(b"".join(bytes(p) for p in parts)[:self.send_only])

    def sendall(self, data: bytes) -> None:
        if self.send_only is not None:
            raise Interrupted("in the middle of sendall")
        self.sock.sendall(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


# MARK: 1. a refused writable view is not counted

def test_a_refused_writable_view_of_a_sealed_buffer_is_not_counted(store: Store) -> None:
    with sp.connect(store.path) as client:
        oid = sp.ObjectID.from_name("read-only")
        client.put(oid, b"sealed bytes")
        buffer = client.get(oid)
        with pytest.raises(TypeError, match="read-write"):  # CPython turns the refusal into a TypeError
            io.BytesIO(b"x").readinto(buffer)
        with pytest.raises(BufferError, match="read-only"):
            buffer.__buffer__(inspect.BufferFlags.WRITABLE)
        assert buffer.exports == 0
        buffer.close()  # no phantom view holds it
        client.stats()  # the release went out before this reply
        assert [row.reference_count for row in rows_of(client, oid)] == [0]
    assert client.closed


def test_a_writable_view_of_a_created_buffer_is_allowed(store: Store) -> None:
    with sp.connect(store.path) as client:
        oid = sp.ObjectID.from_name("writable")
        with client.create(oid, 1) as created:
            assert io.BytesIO(b"w").readinto(created) == 1
            assert created.exports == 0
        assert client.get(oid).to_bytes() == b"w"


# MARK: 2. a cancelled async put leaves nothing behind

@pytest.mark.parametrize("stage", [_wire.CREATE, _wire.SEAL], ids=["after-create", "after-seal"])
def test_an_async_put_cancelled_after_its_reply_came_leaves_nothing(store: Store, stage: int,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    oid = sp.ObjectID.from_name(f"cancelled-put-{stage}")
    replied_before_cancel: list[bool] = []

    async def scenario() -> None:
        client = await sp.connect_async(store.path)
        task: asyncio.Task[None] | None = None
        original = client._call

        def hooked(message_type: int, payload: bytes, parse: Callable[[bytes], Any],
                   ids: list[sp.ObjectID] | None = None) -> asyncio.Future[Any]:
            future = original(message_type, payload, parse, ids)
            if message_type == stage:
                def cancel_the_task(done: asyncio.Future[Any]) -> None:
                    # Runs after the reply was dispatched and before the task resumes: the worst moment.
                    replied_before_cancel.append(not done.cancelled() and done.exception() is None)
                    assert task is not None
                    task.cancel()
                future.add_done_callback(cancel_the_task)
            return future

        monkeypatch.setattr(client, "_call", hooked)
        task = asyncio.ensure_future(client.put(oid, bytes(range(256)) * 2048))  # 512 KiB: create + seal
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.stats()  # a round trip: what the cancelled put gave back was sent before it
        # Checked while the connection lives (closing it would make the store drop everything it held).
        with sp.connect(store.path) as observer:
            rows = rows_of(observer, oid)
            if stage == _wire.CREATE:
                assert rows == [], "the created object was aborted"
            else:
                assert [(row.sealed, row.reference_count) for row in rows] == [(True, 0)], \
                    "sealed, and the creator's reference given back"
        client.close()

    asyncio.run(scenario())
    assert replied_before_cancel == [True]


# MARK: 3. an interrupted blocking call withdraws its wait and gives back a late reply

def test_an_interrupted_blocking_get_is_cancelled_in_the_store(store: Store) -> None:
    oid = sp.ObjectID.from_name("interrupted-get")
    with sp.connect(store.path, spin=0) as client, sp.connect(store.path) as observer:
        main = threading.get_ident()
        fired = threading.Event()

        def handler(signum: int, frame: FrameType | None) -> None:
            if fired.is_set():
                return  # one interruption; later signals of the loop below are ignored
            fired.set()
            raise Interrupted("signal")

        def interrupter() -> None:
            until(lambda: observer.stats()["pending_gets"] == 1, "the get waits in the store")
            # The store can see the get before the client is back in recv: a signal then runs its handler
            # only after recv returns, which it never would. So signal until the handler has run.
            while not fired.is_set():
                signal.pthread_kill(main, signal.SIGUSR1)
                fired.wait(0.05)

        previous = signal.signal(signal.SIGUSR1, handler)
        # A parent may start us with SIGUSR1 blocked (swift test's runner does): it would stay pending.
        mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
        thread = threading.Thread(target=interrupter)
        thread.start()
        try:
            with pytest.raises(Interrupted):
                client.get(oid)  # forever
        finally:
            thread.join()
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            signal.signal(signal.SIGUSR1, previous)
        until(lambda: observer.stats()["pending_gets"] == 0, "the wait was withdrawn")
        observer.put(oid, b"later")
        assert client.contains(oid)  # the connection still works; the get's late reply was read
        client.stats()
        assert [row.reference_count for row in rows_of(observer, oid)] == [0]
        assert client.get(oid, timeout=0).to_bytes() == b"later"


def test_a_late_get_reply_after_an_interrupt_is_given_back(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    oid = sp.ObjectID.from_name("late-reply")
    with sp.connect(store.path, spin=0) as client, sp.connect(store.path) as observer:
        proxy = SocketProxy(client._sock)
        monkeypatch.setattr(client, "_sock", proxy)

        def seal_then_interrupt() -> None:
            until(lambda: observer.stats()["pending_gets"] == 1, "the get waits in the store")
            observer.put(oid, b"found")
            until(lambda: [r.reference_count for r in rows_of(observer, oid)] == [1],
                  "the store answered the get, pinning the object for it")
            raise Interrupted("the reply is in the socket, unread")

        proxy.on_recv = seal_then_interrupt
        with pytest.raises(Interrupted):
            client.get(oid)
        assert client.contains(oid)  # reads the late reply: found, so its reference goes back
        client.stats()
        assert [row.reference_count for row in rows_of(observer, oid)] == [0]
        assert observer.stats()["pending_gets"] == 0


def test_an_interrupt_in_the_middle_of_a_frame_closes_the_connection(store: Store,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with sp.connect(store.path) as client, sp.connect(store.path) as observer:
        proxy = SocketProxy(client._sock)
        monkeypatch.setattr(client, "_sock", proxy)
        proxy.send_only = 10  # of a 24-byte header
        with pytest.raises(Interrupted):
            client.stats()
        assert client.closed, "half a frame was sent: the connection can't be used"
        with pytest.raises(sp.DisconnectedError, match="interrupted mid-frame"):
            client.contains(sp.ObjectID.from_name("x"))
        until(lambda: observer.stats()["clients"] == 1, "the store dropped the broken connection")


# MARK: 4. buffers of a lost connection refuse access

def test_buffers_of_a_failed_connection_refuse_access(store: Store) -> None:
    client = sp.connect(store.path)
    kept, viewed = sp.ObjectID.from_name("kept"), sp.ObjectID.from_name("viewed")
    client.put(kept, b"k" * 64)
    client.put(viewed, b"v" * 64)
    unviewed = client.get(kept)
    buffer = client.get(viewed)
    view = memoryview(buffer)
    created = client.create(sp.ObjectID.from_name("unsealed"), 64)
    store.kill()
    with pytest.raises(sp.DisconnectedError):
        client.contains(kept)
    for lost in (unviewed, created):
        assert lost.released
        with pytest.raises(sp.BufferReleasedError):
            bytes(lost)
        with pytest.raises(sp.BufferReleasedError):
            len(lost)
    with pytest.raises(sp.BufferReleasedError, match="connection failed"):
        memoryview(buffer)  # a buffer with a live view refuses new ones
    with pytest.raises(sp.BufferReleasedError):
        buffer.as_numpy()
    with pytest.raises(sp.BufferInUseError):
        client.close()  # the old view still maps the arena
    view.release()
    buffer.close()
    client.close()


def test_buffers_of_a_failed_async_connection_refuse_access(store: Store) -> None:
    async def scenario() -> None:
        client = await sp.connect_async(store.path)
        oid = sp.ObjectID.from_name("async-kept")
        await client.put(oid, b"a" * 64)
        buffer = await client.get(oid)
        store.kill()
        deadline = time.monotonic() + 30
        while not client.closed:
            assert time.monotonic() < deadline, "the client noticed the store's death"
            await asyncio.sleep(0.005)
        with pytest.raises(sp.BufferReleasedError, match="connection failed"):
            bytes(buffer)
        client.close()

    asyncio.run(scenario())


# MARK: 5. timeouts of any size

def test_timeouts_clamp_to_forever_and_to_no_wait() -> None:
    assert _wire.timeout_ms(None) == -1
    assert _wire.timeout_ms(math.inf) == -1
    assert _wire.timeout_ms(1e300) == -1
    assert _wire.timeout_ms(2.0 ** 63 / 1000) == -1
    assert 0 < _wire.timeout_ms(9.2e15) < 1 << 63
    assert _wire.timeout_ms(0) == 0
    assert _wire.timeout_ms(-5) == 0
    assert _wire.timeout_ms(-math.inf) == 0
    assert _wire.timeout_ms(0.0001) == 1
    with pytest.raises(ValueError, match="NaN"):
        _wire.timeout_ms(math.nan)


def test_an_infinite_timeout_waits_in_the_store(store: Store) -> None:
    oid = sp.ObjectID.from_name("infinite-wait")
    with sp.connect(store.path) as client, sp.connect(store.path) as producer:
        got: list[bytes] = []
        thread = threading.Thread(target=lambda: got.append(client.get(oid, timeout=math.inf).to_bytes()))
        thread.start()
        until(lambda: producer.stats()["pending_gets"] == 1, "the get waits in the store")
        producer.put(oid, b"at last", wait_for_space=math.inf)
        thread.join(timeout=30)
        assert got == [b"at last"]

    async def scenario() -> bytes:
        async with await sp.connect_async(store.path) as aclient:
            return (await aclient.get(oid, timeout=1e300)).to_bytes()

    assert asyncio.run(scenario()) == b"at last"
