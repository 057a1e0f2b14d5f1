"""The blocking client."""

from __future__ import annotations

import socket
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Final

from . import _copy, _transport, _wire
from ._frames import FrameBuffer
from .buffer import MutableBuffer, PlasmaBuffer, invalidate_all
from .errors import (BufferInUseError, DisconnectedError, ObjectTimeoutError, PlasmaError, ProtocolError,
                     store_error)
from .objectid import ObjectID

#: Objects up to this size travel inline in one createAndSeal round trip; larger ones are created,
#: copied into the arena in place and sealed.
INLINE_LIMIT: Final = 256 << 10


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One row of ``list()``."""

    object_id: ObjectID
    data_size: int
    metadata_size: int
    reference_count: int
    sealed: bool
    created_at_ns: int
    seal_duration_ns: int
    delete_pending: bool


def ids_of(ids: ObjectID | Iterable[ObjectID]) -> list[ObjectID]:
    return [ids] if isinstance(ids, ObjectID) else list(ids)


def as_bytes_view(data: object) -> memoryview:
    """Any bytes-like or buffer-protocol object as flat unsigned bytes."""
    view = data if isinstance(data, memoryview) else memoryview(data)  # type: ignore[arg-type]
    if view.ndim != 1 or view.format != "B" or not view.c_contiguous:
        view = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
    return view


class _Deferred:
    """References to give back, and unsealed objects to drop, collected from buffers' finalizers and
    sent in order before the connection's next request (a finalizer may run in the middle of one)."""

    __slots__ = ("releases", "aborts")

    def __init__(self) -> None:
        self.releases: list[ObjectID] = []
        self.aborts: list[ObjectID] = []

    def frames(self, next_id: int) -> tuple[bytes, int]:
        """The frames to send now and how many request ids they used."""
        if not self.releases and not self.aborts:
            return b"", 0
        releases, self.releases = self.releases, []
        aborts, self.aborts = self.aborts, []
        out = bytearray()
        used = 0
        for start in range(0, len(releases), _wire.MAX_ITEMS):
            out += _wire.frame(_wire.RELEASE, next_id + used, _wire.ids_payload(releases[start:start + _wire.MAX_ITEMS]))
            used += 1
        for oid in aborts:
            out += _wire.frame(_wire.ABORT, next_id + used, oid.binary())
            used += 1
        return bytes(out), used

    def request(self, next_id: int, message_type: int, length: int) -> tuple[bytes, int, int]:
        """What goes out before a request's payload (the deferred frames, then the request's header),
        the request's id and the next free id. Both clients send every request through this."""
        deferred, used = self.frames(next_id)
        request_id = next_id + used
        return deferred + _wire.header(message_type, request_id, length), request_id, request_id + 1


class Client:
    """A blocking connection to the store. Calls from several threads are serialised on the one
    connection (a get that waits holds the others up: give each waiting thread its own client, or use
    the asyncio client). Use as a context manager, or call ``close()``."""

    def __init__(self, handshake: _transport.Handshake, path: str, spin: float = 50e-6,
                 copy_threads: int | None = None, copy_threshold: int = _copy.DEFAULT_THRESHOLD) -> None:
        self.path = path
        self._spin = spin
        #: Threads per large copy in ``put`` (the calling thread included) and the smallest copy that
        #: uses them (see :mod:`swiftplasma._copy`).
        self.copy_threads = _copy.default_threads() if copy_threads is None else max(1, copy_threads)
        self.copy_threshold = copy_threshold
        self.capacity = handshake.capacity
        self.client_id = handshake.client_id
        self._sock = handshake.sock
        self._arena = handshake.arena
        self._frames = FrameBuffer(handshake.leftover)
        self._lock = threading.Lock()
        self._export_lock = threading.RLock()
        self._next_id = 2  # 1 was the hello
        self._deferred = _Deferred()
        self._buffers: weakref.WeakSet[PlasmaBuffer | MutableBuffer] = weakref.WeakSet()
        self._failure: PlasmaError | None = None
        #: Requests whose caller was interrupted (KeyboardInterrupt, a signal handler's exception) while
        #: waiting for the reply: type and ids, so a late reply is undone (see _undo_locked).
        self._abandoned: dict[int, tuple[int, list[ObjectID]]] = {}
        #: The id of the request being sent or awaited by ``_call`` (None before it has one).
        self._sending: int | None = None
        self._receive = bytearray(1 << 18)
        self._receive_view = memoryview(self._receive)
        #: Bytes read from / written to the socket since connect (the hello included).
        self.bytes_received = handshake.received
        self.bytes_sent = 0

    # MARK: the connection

    def _send_locked(self, parts: Sequence[bytes | memoryview]) -> None:
        total = sum(len(p) for p in parts)
        sent = -1  # until sendmsg returns, nothing of the frame went out
        try:
            sent = self._sock.sendmsg(parts)
            if sent < total:
                rest = b"".join(bytes(p) for p in parts)[sent:]
                self._sock.sendall(rest)
        except OSError as error:
            self._fail(DisconnectedError(f"sending to the store at {self.path} failed: {error}"))
            raise self._failure from error  # type: ignore[misc]
        except BaseException as error:
            if 0 <= sent < total:  # sendall was interrupted: how much of the rest went out is unknown
                # Interrupted (a signal handler raised) with part of a frame sent: the stream can't be
                # resynchronised, so the connection is given up rather than left with half a frame.
                self._fail(DisconnectedError(
                    f"sending to the store at {self.path} was interrupted mid-frame ({error!r})"))
                try:
                    self._sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            raise
        self.bytes_sent += total

    def _fail(self, error: PlasmaError) -> None:
        """Marks the connection failed; the store gives back every reference it held, so no buffer may
        reach that memory any more (see buffer.py)."""
        with self._export_lock:
            if self._failure is None:
                self._failure = error
                invalidate_all(self._buffers, f"its connection failed ({error})")

    def _request_locked(self, message_type: int, payload: Sequence[bytes | memoryview]) -> int:
        if self._failure is not None:
            raise self._failure
        head, request_id, self._next_id = self._deferred.request(self._next_id, message_type,
                                                                 sum(len(p) for p in payload))
        self._sending = request_id  # for _call: an interrupt from here on may leave it in the store
        self._send_locked([head, *payload])
        return request_id

    def _read_reply_locked(self, request_id: int) -> bytes:
        while True:
            for header, payload in self._frames.frames():
                if header.request_id == request_id and header.type & _wire.REPLY_BIT:
                    return payload
                if header.request_id == 0 and header.type & _wire.REPLY_BIT:
                    status, message, _ = _wire.status_of(payload)
                    self._fail(DisconnectedError(f"the store ended the connection: {message}"))
                    raise self._failure  # type: ignore[misc]
                abandoned = self._abandoned.pop(header.request_id, None) if header.type & _wire.REPLY_BIT else None
                if abandoned is not None:
                    self._undo_locked(*abandoned, payload)
                # Otherwise: the reply to a deferred release, abort or cancel; nobody waits for it.
            try:
                count = self._receive_spinning() if self._spin > 0 else self._sock.recv_into(self._receive_view)
            except OSError as error:
                self._fail(DisconnectedError(f"reading from the store at {self.path} failed: {error}"))
                raise self._failure from error  # type: ignore[misc]
            if count == 0:
                self._fail(DisconnectedError(f"the store at {self.path} closed the connection"))
                raise self._failure  # type: ignore[misc]
            self.bytes_received += count
            self._frames.feed(self._receive_view[:count])

    def _receive_spinning(self) -> int:
        """Polls for the reply for up to ``spin`` seconds before sleeping in the kernel: the store
        answers in microseconds, and a sleeping reader pays a CPU wake-up of tens of microseconds on a
        VM (the Swift client does the same; docs/ARCHITECTURE.md, "Busy polling")."""
        deadline = time.perf_counter() + self._spin
        while True:
            try:
                return self._sock.recv_into(self._receive_view, 0, socket.MSG_DONTWAIT)
            except BlockingIOError:
                if time.perf_counter() >= deadline:
                    return self._sock.recv_into(self._receive_view)

    def _call(self, message_type: int, *payload: bytes | memoryview, ids: list[ObjectID] | None = None) -> bytes:
        """One request and its reply. ``ids``: what a late reply must undo if the wait is interrupted
        (a get's ids, a create's or seal's object)."""
        with self._lock:
            self._sending = None
            try:
                request_id = self._request_locked(message_type, payload)
                reply = self._read_reply_locked(request_id)
            except PlasmaError:
                raise
            except BaseException:
                # Interrupted anywhere after the request got its id: while it was sent (a frame cut in
                # half fails the connection, and then nothing is abandoned), after it went out but before
                # the reply wait began, or during that wait. In the first two cases the store may or may
                # not have it; abandoning it either way is safe: a cancel of a request the store never
                # saw is answered and ignored.
                if self._sending is not None:
                    self._abandon_locked(self._sending, message_type, ids or [])
                raise
            if self._deferred.releases or self._deferred.aborts:
                self._flush_deferred_locked()  # what a late reply to an abandoned request held
            return reply

    def _abandon_locked(self, request_id: int, message_type: int, ids: list[ObjectID]) -> None:
        """The caller stopped waiting (an exception from a signal handler, such as KeyboardInterrupt):
        a get is withdrawn in the store with cancel, as the asyncio client does, and whatever its late
        reply holds is given back when it is read."""
        if self._failure is not None:
            return
        self._abandoned[request_id] = (message_type, ids)
        if message_type == _wire.GET:
            try:
                self._request_locked(_wire.CANCEL, [_wire.u64(request_id)])
            except PlasmaError:
                pass

    def _undo_locked(self, message_type: int, ids: list[ObjectID], payload: bytes) -> None:
        status, _, reader = _wire.status_of(payload)
        if status != _wire.OK:
            return  # cancelled, timed out or refused: nothing held
        if message_type == _wire.GET:
            for oid, location in zip(ids, reader.get_entries()):
                if location is not None:
                    self._deferred.releases.append(oid)
        elif message_type == _wire.CREATE:
            self._deferred.aborts.extend(ids)
        elif message_type == _wire.SEAL:
            self._deferred.releases.extend(ids)  # the creator's reference

    def _flush_deferred_locked(self) -> None:
        if self._failure is None:
            deferred, used = self._deferred.frames(self._next_id)
            self._next_id += used
            if deferred:
                self._send_locked([deferred])

    def _checked(self, operation: str, reply: bytes, oid: ObjectID | None = None) -> _wire.Reader:
        status, message, reader = _wire.status_of(reply)
        if status != _wire.OK:
            raise store_error(operation, status, message, oid)
        return reader

    # Buffers call these (see buffer._Owner).

    def _defer_release(self, oid: ObjectID) -> None:
        self._deferred.releases.append(oid)

    def _defer_abort(self, oid: ObjectID) -> None:
        self._deferred.aborts.append(oid)

    def _release_now(self, oid: ObjectID) -> None:
        """Queued, and sent at once unless another thread is mid-request (then with its next one)."""
        self._deferred.releases.append(oid)
        if self._lock.acquire(blocking=False):
            try:
                self._flush_deferred_locked()
            except PlasmaError:
                pass
            finally:
                self._lock.release()

    def _seal_or_abort(self, oid: ObjectID, seal: bool) -> None:
        if seal:
            self._checked("seal", self._call(_wire.SEAL, oid.binary(), ids=[oid]), oid)
            self._release_now(oid)
        else:
            self._checked("abort", self._call(_wire.ABORT, oid.binary()), oid)

    # MARK: lifetime

    def close(self) -> None:
        """Closes the connection; the store gives back every reference it held. Raises
        :class:`BufferInUseError` (and closes nothing) while views of its buffers are alive."""
        # Checked and invalidated under the export lock: no view can be taken in between.
        with self._export_lock:
            in_use = [b.object_id.hex() for b in list(self._buffers) if b._exports]
            if in_use:
                raise BufferInUseError(
                    f"cannot close the connection: views of {len(in_use)} object(s) are alive "
                    f"({', '.join(in_use[:4])}); drop them first")
            self._fail(DisconnectedError("the client closed the connection"))
            invalidate_all(self._buffers, "its connection was closed")
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes a thread waiting for a reply: it fails
        except OSError:
            pass
        with self._lock:
            self._sock.close()
            self._arena.close()

    @property
    def closed(self) -> bool:
        """True after ``close()`` or once the connection failed."""
        return self._failure is not None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        sock = getattr(self, "_sock", None)
        if sock is not None:
            sock.close()

    # MARK: writing

    def put(self, object_id: ObjectID, data: object, metadata: bytes = b"", wait_for_space: float | None = 0
            ) -> None:
        """Stores ``data`` (bytes, bytearray, memoryview, numpy array: anything with the buffer
        protocol) as a sealed object. Small objects travel inline in one round trip; large ones are
        copied straight into the arena, from ``copy_threshold`` bytes on ``copy_threads`` threads. No
        reference is kept."""
        view = as_bytes_view(data)
        timeout = _wire.timeout_ms(wait_for_space)
        if len(view) + len(metadata) <= INLINE_LIMIT:
            reply = self._call(_wire.CREATE_AND_SEAL, *_wire.create_and_seal_parts(object_id, view, metadata, timeout))
            self._checked("put", reply, object_id)
            return
        buffer = self.create(object_id, len(view), metadata, wait_for_space)
        target = buffer._view
        assert target is not None
        try:
            _copy.copy(target, view, self.copy_threads, self.copy_threshold)
        except BaseException as error:
            try:
                buffer.abort()  # don't leave an unsealed object behind (a copy thread refused, an interrupt)
            except BaseException as abort_error:
                raise error from abort_error  # the copy's error is the one to see
            raise
        buffer.seal()

    def create(self, object_id: ObjectID, size: int, metadata: bytes = b"", wait_for_space: float | None = 0
               ) -> MutableBuffer:
        """Reserves ``size`` bytes of data (and the metadata, written now) and returns them writable;
        write in place (``memoryview(buf)``, ``buf.as_numpy()``), then ``seal()``. ``wait_for_space``:
        seconds to wait when the store is full (None: forever)."""
        if size < 0:
            raise ValueError(f"size {size} is negative")
        reply = self._call(_wire.CREATE, _wire.create_payload(object_id, size, len(metadata),
                                                             _wire.timeout_ms(wait_for_space)), ids=[object_id])
        reader = self._checked("create", reply, object_id)
        offset = reader.u64()
        reader.end()
        self._arena.check(offset, size, len(metadata), f"object {object_id.hex()}")
        self._arena.writable[offset + size:offset + size + len(metadata)] = metadata
        buffer = MutableBuffer(self, object_id, self._arena.writable[offset:offset + size], self._seal_or_abort)
        self._buffers.add(buffer)
        return buffer

    # MARK: reading

    def _get_locations(self, ids: list[ObjectID], timeout: float | None) -> list[_wire.Location | None]:
        reply = self._call(_wire.GET, _wire.get_payload(ids, _wire.timeout_ms(timeout)), ids=ids)
        reader = self._checked("get", reply, ids[0] if len(ids) == 1 else None)
        entries = reader.get_entries()
        reader.end()
        if len(entries) != len(ids):
            raise ProtocolError(f"a get of {len(ids)} ids was answered with {len(entries)} entries")
        return entries

    def _buffer(self, oid: ObjectID, location: _wire.Location) -> PlasmaBuffer:
        self._arena.check(location.offset, location.data_size, location.metadata_size, f"object {oid.hex()}")
        end = location.offset + location.data_size
        view = self._arena.readable
        buffer = PlasmaBuffer(self, oid, view[location.offset:end], bytes(view[end:end + location.metadata_size]))
        self._buffers.add(buffer)
        return buffer

    def get(self, object_id: ObjectID, timeout: float | None = None) -> PlasmaBuffer:
        """The sealed object, zero-copy and read-only, waiting up to ``timeout`` seconds (None: forever,
        0: not at all) for some process to seal it. Raises :class:`ObjectTimeoutError` naming the id."""
        (location,) = self._get_locations([object_id], timeout)
        if location is None:
            raise ObjectTimeoutError([object_id], timeout)
        return self._buffer(object_id, location)

    def get_many(self, object_ids: Iterable[ObjectID], timeout: float | None = None, missing_ok: bool = False
                 ) -> list[PlasmaBuffer | None]:
        """Buffers for every id, in order, waiting up to ``timeout`` for all of them in one request.
        Missing ones raise :class:`ObjectTimeoutError` naming them (after giving back the found ones),
        or are None with ``missing_ok``."""
        ids = list(object_ids)
        if not ids:
            return []
        locations = self._get_locations(ids, timeout)
        buffers = [None if loc is None else self._buffer(oid, loc) for oid, loc in zip(ids, locations)]
        missing = [oid for oid, loc in zip(ids, locations) if loc is None]
        if missing and not missing_ok:
            for buffer in buffers:
                if buffer is not None:
                    buffer.close()
            raise ObjectTimeoutError(missing, timeout)
        return buffers

    def contains(self, object_id: ObjectID) -> bool:
        """True when the object exists and is sealed."""
        reader = self._checked("contains", self._call(_wire.CONTAINS, object_id.binary()), object_id)
        present = reader.boolean()
        reader.end()
        return present

    def delete(self, object_ids: ObjectID | Iterable[ObjectID]) -> None:
        """Deletes objects; one still referenced goes with its last release. Raises for the first id
        the store refused (unknown, or unsealed), naming it and the store's reason."""
        ids = ids_of(object_ids)
        reader = self._checked("delete", self._call(_wire.DELETE, _wire.ids_payload(ids)))
        statuses = reader.statuses()
        for oid, status in zip(ids, statuses):
            if status not in (_wire.OK, _wire.DELETION_DEFERRED):
                from .errors import STATUS_SUMMARIES
                raise store_error("delete", status, STATUS_SUMMARIES.get(status, str(status)), oid)

    def evict(self, size: int) -> tuple[int, int]:
        """Evicts least recently used unreferenced objects until ``size`` bytes are freed; returns
        (bytes freed, objects evicted)."""
        reader = self._checked("evict", self._call(_wire.EVICT, _wire.u64(size)))
        return reader.u64(), reader.u64()

    def list(self) -> list[ObjectInfo]:
        """Every object present, sealed or not, oldest first."""
        reader = self._checked("list", self._call(_wire.LIST))
        rows = [ObjectInfo(ObjectID(raw), data, meta, refs, state == 1, created, seal, pending == 1)
                for raw, data, meta, refs, state, created, seal, pending in reader.list_entries()]
        reader.end()
        return rows

    def stats(self) -> dict[str, int]:
        """The store's counters by name (docs/PROTOCOL.md section 7.3); fields a newer store adds are
        named ``field_N``."""
        reader = self._checked("stats", self._call(_wire.STATS))
        count = reader.count(8)
        values = [reader.i64() for _ in range(count)]
        return {(_wire.STATS_FIELDS[i] if i < len(_wire.STATS_FIELDS) else f"field_{i}"): v
                for i, v in enumerate(values)}


def connect(path: str | None = None, *, name: str = "", trust: _transport.Trust = None, prefault: bool = False,
            retries: int = 0, retry_interval: float = 0.1, spin: float = 50e-6, copy_threads: int | None = None,
            copy_threshold: int = _copy.DEFAULT_THRESHOLD) -> Client:
    """Connects to the store at ``path`` (default ``$PLASMA_STORE_SOCKET``, else ``/tmp/plasma.sock``).

    ``trust``: whose store to accept (default: PLASMA_TRUSTED_STORE_UID, else own user or root);
    ``prefault``: map the arena with MAP_POPULATE; ``retries``: further attempts, ``retry_interval``
    seconds apart, while nothing listens yet; ``spin``: seconds to poll for each reply before sleeping
    (0: never poll); ``copy_threads``: threads per copy into the arena of ``copy_threshold`` bytes or
    more in ``put`` (default: one per core, at most 4; 1: the calling thread alone)."""
    where = path or _transport.default_socket_path()
    return Client(_transport.perform(where, name, trust, prefault, retries, retry_interval), where, spin,
                  copy_threads, copy_threshold)
