"""The asyncio client: any number of awaits share one connection, each a wait in the store.

``as_future(id)`` sends one get that waits in the store until some process seals the id; the store
answers this connection only, with only that object. Cancelling the future (or the task awaiting it)
sends ``cancel``, which withdraws the wait in the store; a reply that raced the cancellation is undone
(its reference given back). ``close()`` fails every pending future with :class:`DisconnectedError`,
and so does the store going away: nothing hangs.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import struct
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, Final, Literal, TypeVar

from . import _copy, _transport, _wire
from ._frames import FrameBuffer
from .buffer import AsyncMutableBuffer, PlasmaBuffer, invalidate_all
from .client import INLINE_LIMIT, _Deferred, as_bytes_view, ids_of
from .errors import (STATUS_SUMMARIES, BufferInUseError, DisconnectedError, ObjectTimeoutError, PlasmaError,
                     ProtocolError, store_error)
from .objectid import ObjectID

T = TypeVar("T")
_SEALED_EVENT: Final = struct.Struct("<20sQQ")

EventKind = Literal["sealed", "deleted", "evicted", "aborted", "overflow"]
_KINDS: Final[dict[int, EventKind]] = {1: "sealed", 2: "deleted", 3: "evicted", 4: "aborted", 5: "overflow"}


@dataclass(frozen=True, slots=True)
class Event:
    """What a subscription reports. ``overflow`` (no id) means events were dropped (``dropped`` of them)
    because this client fell behind: resynchronise with ``contains`` or ``list``."""

    kind: EventKind
    object_id: ObjectID | None
    data_size: int = 0
    metadata_size: int = 0
    dropped: int = 0


def _decode_event(message_type: int, payload: bytes) -> Event:
    kind = _KINDS.get(message_type & ~_wire.EVENT_BIT)
    if kind == "sealed" and len(payload) == 36:
        raw, data_size, metadata_size = _SEALED_EVENT.unpack(payload)
        return Event("sealed", ObjectID(raw), data_size, metadata_size)
    if kind in ("deleted", "evicted", "aborted") and len(payload) == 20:
        return Event(kind, ObjectID(payload))
    if kind == "overflow" and len(payload) == 8:
        return Event("overflow", None, dropped=int.from_bytes(payload, "little"))
    raise ProtocolError(f"malformed event frame: type {message_type:#x}, {len(payload)} bytes")


class EventStream:
    """``async for event in client.events(...)``: the events of one subscription, in the order the
    store produced them. Leaving the loop (``aclose()``, ``async with`` exit, or dropping the stream)
    unsubscribes. Holds at most ``max_buffered`` unread events; past that it drops them for one
    ``overflow`` event, as the store does."""

    def __init__(self, client: AsyncClient, subscription_id: int, confirmed: asyncio.Future[None],
                 max_buffered: int) -> None:
        self._client = client
        self.subscription_id = subscription_id
        self._confirmed: asyncio.Future[None] | None = confirmed
        self._queue: collections.deque[Event] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._max = max_buffered
        self._dropped = 0

    def _deliver(self, event: Event) -> None:
        if self._closed:
            return
        if len(self._queue) >= self._max:
            self._dropped += len(self._queue) + 1
            self._queue.clear()
            event = Event("overflow", None, dropped=self._dropped + event.dropped)
        elif event.kind == "overflow" and self._queue and self._queue[0].kind == "overflow":
            event = Event("overflow", None, dropped=self._queue.popleft().dropped + event.dropped)
        self._queue.append(event)
        self._wake()

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        if self._confirmed is not None:
            await self._confirmed  # raises when the store refused the subscription
            self._confirmed = None
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            if self._error is not None:
                raise self._error
            self._waiter = self._client._loop.create_future()
            await self._waiter
        event = self._queue.popleft()
        if event.kind == "overflow":
            self._dropped = 0
        return event

    async def aclose(self) -> None:
        """Unsubscribes; the loop ends."""
        self.close()

    def close(self) -> None:
        """Unsubscribes (without waiting for the store's answer)."""
        if not self._closed:
            self._closed = True
            self._client._unsubscribe(self.subscription_id)
            self._wake()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self._closed = True
            self._client._defer(lambda: self._client._unsubscribe(self.subscription_id))


def _succeeded(future: asyncio.Future[Any]) -> bool:
    """The reply came and was a success (whether or not the awaiting task went on to see it)."""
    return future.done() and not future.cancelled() and future.exception() is None


class _Call:
    """A request awaiting its reply: the future, how to turn the reply into its result, and the ids of
    a get (whose late reply is undone when its waiter gave up). ``single``: the id of a one-id get,
    whose found reply is decoded on a fast path (the wake latency of ``as_future``)."""

    __slots__ = ("future", "parse", "ids", "message_type", "single")

    def __init__(self, future: asyncio.Future[Any], parse: Callable[[bytes], Any], ids: list[ObjectID],
                 message_type: int) -> None:
        self.future = future
        self.parse = parse
        self.ids = ids
        self.message_type = message_type
        self.single = ids[0] if message_type == _wire.GET and len(ids) == 1 else None


class _GetFuture(asyncio.Future[Any]):
    """A get's future: cancelling it (or the task awaiting it) withdraws the wait in the store at once,
    instead of through a done-callback that every resolved get would also pay a loop hop for."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client: AsyncClient) -> None:
        super().__init__(loop=loop)
        self._client: AsyncClient | None = client
        self._request_id = 0

    def cancel(self, msg: Any | None = None) -> bool:
        if not super().cancel(msg):
            return False
        client, self._client = self._client, None
        if client is not None:
            client._withdraw(self._request_id)
        return True


class AsyncClient:
    """An asyncio connection to the store. Use from one event loop; ``async with`` or ``close()``."""

    def __init__(self, handshake: _transport.Handshake, path: str, loop: asyncio.AbstractEventLoop,
                 copy_threads: int | None = None, copy_threshold: int = _copy.DEFAULT_THRESHOLD) -> None:
        self.path = path
        #: As :class:`swiftplasma.Client`'s: threads per large copy in ``put``, and from which size.
        self.copy_threads = _copy.default_threads() if copy_threads is None else max(1, copy_threads)
        self.copy_threshold = copy_threshold
        self.capacity = handshake.capacity
        self.client_id = handshake.client_id
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._sock = handshake.sock
        self._sock.setblocking(False)
        self._arena = handshake.arena
        self._frames = FrameBuffer(handshake.leftover)
        self._receive = bytearray(1 << 18)
        self._receive_view = memoryview(self._receive)
        self._next_id = 2
        self._next_subscription = 1
        self._pending: dict[int, _Call] = {}
        self._withdrawn: dict[int, _Call] = {}
        # Weak: a stream nobody reads any more is collected, and its finalizer unsubscribes.
        self._subscriptions: weakref.WeakValueDictionary[int, EventStream] = weakref.WeakValueDictionary()
        self._deferred = _Deferred()
        self._deferred_calls: list[Callable[[], None]] = []
        self._flush_scheduled = False
        self._out = bytearray()
        self._writing = False
        self._failure: PlasmaError | None = None
        self._buffers: weakref.WeakSet[PlasmaBuffer | AsyncMutableBuffer] = weakref.WeakSet()
        # Buffers may be viewed (and finalised) from any thread.
        self._export_lock = threading.RLock()
        #: Bytes read from / written to the socket since connect (the hello included).
        self.bytes_received = handshake.received
        self.bytes_sent = 0
        loop.add_reader(self._sock.fileno(), self._readable)
        if len(self._frames.data):
            loop.call_soon(self._dispatch_buffered)

    # MARK: writing

    def _write(self, data: bytes | bytearray) -> None:
        self.bytes_sent += len(data)
        if self._writing:
            self._out += data
            return
        try:
            sent = self._sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as error:
            self._fail(DisconnectedError(f"sending to the store at {self.path} failed: {error}"))
            return
        if sent < len(data):
            self._out += data[sent:]
            self._writing = True
            self._loop.add_writer(self._sock.fileno(), self._writable)

    def _writable(self) -> None:
        try:
            sent = self._sock.send(self._out)
        except BlockingIOError:
            return
        except OSError as error:
            self._fail(DisconnectedError(f"sending to the store at {self.path} failed: {error}"))
            return
        del self._out[:sent]
        if not self._out:
            self._writing = False
            self._loop.remove_writer(self._sock.fileno())

    def _send(self, message_type: int, payload: bytes) -> int:
        """Sends one request (after any deferred releases); returns its request id."""
        if self._failure is not None:
            raise self._failure
        head, request_id, self._next_id = self._deferred.request(self._next_id, message_type, len(payload))
        self._write(head + payload)
        return request_id

    def _post(self, message_type: int, payload: bytes) -> None:
        """A request whose reply nobody awaits."""
        if self._failure is None:
            self._send(message_type, payload)

    def _call(self, message_type: int, payload: bytes, parse: Callable[[bytes], T],
              ids: list[ObjectID] | None = None) -> asyncio.Future[T]:
        request_id = self._send(message_type, payload)
        future: asyncio.Future[T]
        if message_type == _wire.GET:
            get = _GetFuture(self._loop, self)
            get._request_id = request_id
            future = get
        else:
            future = self._loop.create_future()
        self._pending[request_id] = _Call(future, parse, ids or [], message_type)
        return future

    # Buffers call these (buffer._Owner); a finalizer may run mid-request, or on another thread.

    def _defer(self, action: Callable[[], None]) -> None:
        self._deferred_calls.append(action)
        self._schedule_flush()

    def _defer_release(self, oid: ObjectID) -> None:
        self._deferred.releases.append(oid)
        self._schedule_flush()

    def _defer_abort(self, oid: ObjectID) -> None:
        self._deferred.aborts.append(oid)
        self._schedule_flush()

    def _release_now(self, oid: ObjectID) -> None:
        self._defer_release(oid)

    def _schedule_flush(self) -> None:
        if self._flush_scheduled or self._failure is not None:
            return
        self._flush_scheduled = True
        try:
            if threading.get_ident() == self._loop_thread:
                self._loop.call_soon(self._flush)
            else:
                self._loop.call_soon_threadsafe(self._flush)
        except RuntimeError:
            pass  # the loop is closed: the connection goes with it

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._failure is not None:
            return
        calls, self._deferred_calls = self._deferred_calls, []
        for call in calls:
            call()
        deferred, used = self._deferred.frames(self._next_id)
        self._next_id += used
        if deferred:
            self._write(deferred)

    def _unsubscribe(self, subscription_id: int) -> None:
        self._subscriptions.pop(subscription_id, None)
        self._post(_wire.UNSUBSCRIBE, _wire.u64(subscription_id))

    # MARK: reading

    def _readable(self) -> None:
        try:
            count = self._sock.recv_into(self._receive_view)
        except BlockingIOError:
            return
        except OSError as error:
            self._fail(DisconnectedError(f"reading from the store at {self.path} failed: {error}"))
            return
        if count == 0:
            self._fail(DisconnectedError(f"the store at {self.path} closed the connection"))
            return
        self.bytes_received += count
        if self._frames.start == len(self._frames.data):
            self._dispatch_received(count)
        else:
            self._frames.feed(self._receive_view[:count])
            self._dispatch_buffered()

    def _dispatch_received(self, count: int) -> None:
        """Dispatches the whole frames in the first ``count`` bytes of the receive buffer where they
        lie (nothing else is buffered); keeps the rest for the next read."""
        data = self._receive
        at = 0
        try:
            while count - at >= _wire.HEADER_SIZE:
                magic, version, message_type, request_id, length, reserved = _wire.HEADER.unpack_from(data, at)
                if magic != _wire.MAGIC or version != _wire.VERSION or reserved:
                    _wire.decode_header(data, at)  # raises, naming what is wrong
                begin = at + _wire.HEADER_SIZE
                end = begin + length
                if end > count:
                    break
                at = end
                if message_type & _wire.REPLY_BIT and length == _wire.GET_ONE_REPLY.size:
                    call = self._pending.get(request_id)
                    if call is not None and call.single is not None and self._resolve_get(call, data, begin):
                        del self._pending[request_id]
                        continue
                self._dispatch(_wire.Header(message_type, request_id, length), bytes(data[begin:end]))
                if self._failure is not None:
                    return
        except PlasmaError as error:
            self._fail(error)
            return
        if at < count:
            self._frames.feed(self._receive_view[at:count])

    def _resolve_get(self, call: _Call, data: bytearray, at: int) -> bool:
        """The fast path of a one-id get's reply that found its object: decoded with one unpack straight
        into its buffer. False (the reply takes the general path) for anything else."""
        status, count, found, offset, data_size, metadata_size = _wire.GET_ONE_REPLY.unpack_from(data, at)
        future = call.future
        if status != _wire.OK or count != 1 or found != 1 or future.done():
            return False
        oid = call.single
        assert oid is not None
        end = offset + data_size
        if end + metadata_size > self._arena.size:
            self._arena.check(offset, data_size, metadata_size, f"object {oid.hex()}")
        view = self._arena.readable
        metadata = bytes(view[end:end + metadata_size]) if metadata_size else b""
        buffer = PlasmaBuffer(self, oid, view[offset:end], metadata)
        self._buffers.add(buffer)
        future.set_result(buffer)
        return True

    def _dispatch_buffered(self) -> None:
        try:
            for header, payload in self._frames.frames():
                self._dispatch(header, payload)
                if self._failure is not None:
                    return
        except PlasmaError as error:
            self._fail(error)

    def _dispatch(self, header: _wire.Header, payload: bytes) -> None:
        if header.type & _wire.REPLY_BIT:
            call = self._pending.pop(header.request_id, None)
            if call is not None:
                if call.future.done():  # cancelled, its done-callback not run yet
                    self._undo(call, payload)
                    return
                try:
                    call.future.set_result(call.parse(payload))
                except PlasmaError as error:
                    call.future.set_exception(error)
                return
            withdrawn = self._withdrawn.pop(header.request_id, None)
            if withdrawn is not None:
                self._undo(withdrawn, payload)
            elif header.request_id == 0:
                _, message, _ = _wire.status_of(payload)
                self._fail(DisconnectedError(f"the store ended the connection: {message}"))
            return
        if header.type & _wire.EVENT_BIT:
            event = _decode_event(header.type, payload)
            if header.request_id == 0:
                for stream in list(self._subscriptions.values()):
                    stream._deliver(event)
            else:
                target = self._subscriptions.get(header.request_id)
                if target is not None:
                    target._deliver(event)
            return
        raise ProtocolError(f"a frame of type {header.type:#x} is neither a reply nor an event")

    def _undo(self, call: _Call, payload: bytes) -> None:
        """A reply whose waiter gave up: a get gives back what it found, a create drops its object."""
        status, _, reader = _wire.status_of(payload)
        if status != _wire.OK:
            return
        if call.message_type == _wire.GET:
            for oid, location in zip(call.ids, reader.get_entries()):
                if location is not None:
                    self._deferred.releases.append(oid)
        elif call.message_type == _wire.CREATE:
            self._deferred.aborts.extend(call.ids)
        elif call.message_type == _wire.SEAL:
            self._deferred.releases.extend(call.ids)  # the creator's reference
        self._schedule_flush()

    def _withdraw(self, request_id: int) -> None:
        """A get's future was cancelled: the store drops the wait; a reply that raced it is undone."""
        call = self._pending.pop(request_id, None)
        if call is not None and self._failure is None:
            self._withdrawn[request_id] = call
            self._post(_wire.CANCEL, _wire.u64(request_id))

    def _fail(self, error: PlasmaError) -> None:
        with self._export_lock:
            if self._failure is not None:
                return
            self._failure = error
            # The store gives back every reference this connection held: no buffer may reach that memory.
            invalidate_all(self._buffers, f"its connection failed ({error})")
        pending, self._pending = self._pending, {}
        for call in pending.values():
            if not call.future.done():
                call.future.set_exception(error)
                call.future.exception()  # retrieved here: an abandoned future must not log it
        for stream in list(self._subscriptions.values()):
            stream._fail(error)
        self._subscriptions.clear()
        self._withdrawn.clear()
        try:
            self._loop.remove_reader(self._sock.fileno())
            if self._writing:
                self._loop.remove_writer(self._sock.fileno())
        except (RuntimeError, ValueError):
            pass
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # MARK: replies

    def _checked(self, operation: str, payload: bytes, oid: ObjectID | None = None) -> _wire.Reader:
        status, message, reader = _wire.status_of(payload)
        if status != _wire.OK:
            raise store_error(operation, status, message, oid)
        return reader

    def _done(self, operation: str, oid: ObjectID | None, payload: bytes) -> None:
        self._checked(operation, payload, oid).end()

    def _buffers_from(self, ids: list[ObjectID], timeout: float | None, missing_ok: bool, payload: bytes
                      ) -> list[PlasmaBuffer | None]:
        reader = self._checked("get", payload, ids[0] if len(ids) == 1 else None)
        locations = reader.get_entries()
        reader.end()
        if len(locations) != len(ids):
            raise ProtocolError(f"a get of {len(ids)} ids was answered with {len(locations)} entries")
        view = self._arena.readable
        buffers: list[PlasmaBuffer | None] = []
        missing: list[ObjectID] = []
        for oid, location in zip(ids, locations):
            if location is None:
                missing.append(oid)
                buffers.append(None)
                continue
            self._arena.check(location.offset, location.data_size, location.metadata_size, f"object {oid.hex()}")
            end = location.offset + location.data_size
            buffer = PlasmaBuffer(self, oid, view[location.offset:end], bytes(view[end:end + location.metadata_size]))
            self._buffers.add(buffer)
            buffers.append(buffer)
        if missing and not missing_ok:
            for found in buffers:
                if found is not None:
                    found.close()
            raise ObjectTimeoutError(missing, timeout)
        return buffers

    def _one_buffer(self, oid: ObjectID, timeout: float | None, payload: bytes) -> PlasmaBuffer:
        buffer = self._buffers_from([oid], timeout, False, payload)[0]
        assert buffer is not None
        return buffer

    # MARK: the API

    def as_future(self, object_id: ObjectID) -> asyncio.Future[PlasmaBuffer]:
        """A future that resolves with the object's buffer once some process seals it (at once if it
        is sealed already). One wait in the store; cancelling the future withdraws it."""
        return self._call(_wire.GET, _wire.get_payload([object_id], -1),
                          partial(self._one_buffer, object_id, None), [object_id])

    async def get(self, object_id: ObjectID, timeout: float | None = None) -> PlasmaBuffer:
        """Awaits the sealed object for up to ``timeout`` seconds (None: forever); raises
        :class:`ObjectTimeoutError` naming the id. Cancelling the task withdraws the wait."""
        return await self._call(_wire.GET, _wire.get_payload([object_id], _wire.timeout_ms(timeout)),
                                partial(self._one_buffer, object_id, timeout), [object_id])

    async def get_many(self, object_ids: Iterable[ObjectID], timeout: float | None = None,
                       missing_ok: bool = False) -> list[PlasmaBuffer | None]:
        """Every object, in order, from one wait in the store. Missing ones at the timeout raise
        :class:`ObjectTimeoutError` naming them, or are None with ``missing_ok``."""
        ids = list(object_ids)
        if not ids:
            return []
        return await self._call(_wire.GET, _wire.get_payload(ids, _wire.timeout_ms(timeout)),
                                partial(self._buffers_from, ids, timeout, missing_ok), ids)

    def events(self, ids: Iterable[ObjectID] | None = None, prefix: bytes | None = None,
               max_buffered: int = 1 << 16) -> EventStream:
        """Subscribes: events for these ids (already sealed ones are announced at once), or for ids
        starting with ``prefix`` (1 to 20 bytes), or, with neither, for every object. The store sends
        this connection only what matches."""
        if ids is not None and prefix is not None:
            raise ValueError("give ids or a prefix, not both")
        if prefix is not None and not 1 <= len(prefix) <= 20:
            raise ValueError(f"a prefix is 1 to 20 bytes, got {len(prefix)}")
        id_list = None if ids is None else list(ids)
        subscription_id = self._next_subscription
        self._next_subscription += 1
        confirmed = self._call(_wire.SUBSCRIBE, _wire.filter_payload(subscription_id, id_list, prefix),
                               partial(self._done, "subscribe", None))
        stream = EventStream(self, subscription_id, confirmed, max_buffered)
        self._subscriptions[subscription_id] = stream
        return stream

    async def put(self, object_id: ObjectID, data: object, metadata: bytes = b"",
                  wait_for_space: float | None = 0) -> None:
        """Stores ``data`` (any buffer-protocol object) as a sealed object; keeps no reference. A large
        copy runs on ``copy_threads`` threads, the event loop's among them (it blocks the loop, for
        less time than one thread's copy would)."""
        view = as_bytes_view(data)
        if len(view) + len(metadata) <= INLINE_LIMIT:
            payload = b"".join(bytes(p) for p in _wire.create_and_seal_parts(
                object_id, view, metadata, _wire.timeout_ms(wait_for_space)))
            await self._call(_wire.CREATE_AND_SEAL, payload, partial(self._done, "put", object_id))
            return
        buffer = await self.create(object_id, len(view), metadata, wait_for_space)
        try:
            target = buffer._view
            assert target is not None
            _copy.copy(target, view, self.copy_threads, self.copy_threshold)
        except BaseException:
            await buffer.abort()
            raise
        await buffer.seal()

    async def create(self, object_id: ObjectID, size: int, metadata: bytes = b"",
                     wait_for_space: float | None = 0) -> AsyncMutableBuffer:
        """Reserves ``size`` bytes of data (and the metadata, written now) and returns them writable;
        write in place (``memoryview(buf)``, ``buf.as_numpy()``), then ``await buf.seal()`` (or use
        ``async with``). ``wait_for_space``: seconds to wait when the store is full (None: forever).

        Cancelled at any step, nothing is left behind: a create cancelled before its reply came is
        aborted when the reply comes; one whose reply was dispatched before the task resumed is aborted
        here."""
        if size < 0:
            raise ValueError(f"size {size} is negative")
        created = self._call(_wire.CREATE, _wire.create_payload(object_id, size, len(metadata),
                                                               _wire.timeout_ms(wait_for_space)),
                             partial(self._checked, "create", oid=object_id), [object_id])
        try:
            reply = await created
        except BaseException:
            if _succeeded(created):
                self._defer_abort(object_id)
            raise
        try:
            offset = reply.u64()
            reply.end()
            self._arena.check(offset, size, len(metadata), f"object {object_id.hex()}")
            self._arena.writable[offset + size:offset + size + len(metadata)] = metadata
            buffer = AsyncMutableBuffer(self, object_id, self._arena.writable[offset:offset + size], self._finish)
        except BaseException:
            self._defer_abort(object_id)
            raise
        self._buffers.add(buffer)
        return buffer

    async def _finish(self, object_id: ObjectID, seal: bool) -> None:
        """A created object's seal (then the creator's reference goes back) or abort. A seal cancelled
        before its reply came is undone when the reply comes (_undo); one whose reply was dispatched
        before the task resumed, here."""
        if not seal:
            await self._call(_wire.ABORT, object_id.binary(), partial(self._done, "abort", object_id))
            return
        sealed = self._call(_wire.SEAL, object_id.binary(), partial(self._done, "seal", object_id), [object_id])
        try:
            await sealed
        finally:
            if _succeeded(sealed):
                self._release_now(object_id)  # the creator's reference

    async def contains(self, object_id: ObjectID) -> bool:
        """True when the object exists and is sealed."""
        reader = await self._call(_wire.CONTAINS, object_id.binary(), partial(self._checked, "contains", oid=object_id))
        return reader.boolean()

    async def delete(self, object_ids: ObjectID | Iterable[ObjectID]) -> None:
        """Deletes objects (a referenced one goes with its last release); raises for the first refused id."""
        ids = ids_of(object_ids)
        reader = await self._call(_wire.DELETE, _wire.ids_payload(ids), partial(self._checked, "delete", oid=None))
        for oid, status in zip(ids, reader.statuses()):
            if status not in (_wire.OK, _wire.DELETION_DEFERRED):
                raise store_error("delete", status, STATUS_SUMMARIES.get(status, str(status)), oid)

    async def stats(self) -> dict[str, int]:
        """The store's counters by name (see ``Client.stats``)."""
        reader = await self._call(_wire.STATS, b"", partial(self._checked, "stats", oid=None))
        count = reader.count(8)
        return {(_wire.STATS_FIELDS[i] if i < len(_wire.STATS_FIELDS) else f"field_{i}"): reader.i64()
                for i in range(count)}

    @property
    def pending(self) -> int:
        """Requests awaiting their replies (each pending ``as_future`` or ``get`` is one)."""
        return len(self._pending)

    @property
    def closed(self) -> bool:
        """True after ``close()`` or once the connection failed."""
        return self._failure is not None

    def close(self) -> None:
        """Closes the connection: every pending future and event stream fails with
        :class:`DisconnectedError` ("the client closed the connection"). Raises
        :class:`BufferInUseError` (closing nothing) while views of its buffers are alive."""
        if self._failure is not None and self._sock.fileno() < 0:
            return
        # Checked and invalidated under the export lock: no view can be taken in between.
        with self._export_lock:
            in_use = [b.object_id.hex() for b in list(self._buffers) if b._exports]
            if in_use:
                raise BufferInUseError(
                    f"cannot close the connection: views of {len(in_use)} object(s) are alive "
                    f"({', '.join(in_use[:4])})")
            count = len(self._pending)
            self._fail(DisconnectedError(f"the client closed the connection ({count} request(s) were pending)"))
            invalidate_all(self._buffers, "its connection was closed")
        self._sock.close()
        self._arena.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        self.close()


async def connect_async(path: str | None = None, *, name: str = "", trust: _transport.Trust = None,
                        prefault: bool = False, retries: int = 0, retry_interval: float = 0.1,
                        copy_threads: int | None = None, copy_threshold: int = _copy.DEFAULT_THRESHOLD) -> AsyncClient:
    """Connects to the store (same defaults, peer check and ``copy_threads`` as
    :func:`swiftplasma.connect`); the handshake runs in the default executor, so the event loop never
    blocks."""
    where = path or _transport.default_socket_path()
    loop = asyncio.get_running_loop()
    handshake = await loop.run_in_executor(
        None, _transport.perform, where, name, trust, prefault, retries, retry_interval)
    return AsyncClient(handshake, where, loop, copy_threads, copy_threshold)
