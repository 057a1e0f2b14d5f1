"""Zero-copy object buffers.

A buffer is a window on the shared arena. Its bytes are reached through the buffer protocol
(``memoryview(buf)``, ``bytes(buf)``, ``numpy.frombuffer(buf)``, ``pyarrow.py_buffer(buf)``); every such
view is counted (PEP 688 ``__buffer__`` / ``__release_buffer__``), so:

- a buffer whose views are all gone may be released (``close()``, ``with``, or garbage collection),
  which gives its reference back to the store;
- releasing a buffer that still has views raises :class:`BufferInUseError` instead of leaving a view
  on memory the store may hand to another object;
- a released buffer raises :class:`BufferReleasedError` on every access;
- a writable view of a read-only buffer is refused (``BufferError``) before anything is counted;
- once the connection fails or closes, the store may reuse the buffer's memory: a buffer without views
  is released, and one with views refuses every new view and access (``BufferReleasedError``). Views
  taken before the failure still map that memory and must not be used (pure Python can't unmap part of
  an ``mmap``): drop them.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterable
from inspect import BufferFlags
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from .errors import BufferInUseError, BufferReleasedError
from .objectid import ObjectID

if TYPE_CHECKING:
    import numpy
    import numpy.typing


class _Owner(Protocol):
    """What a buffer needs from its connection: references given back later, in order, by the
    connection's next write (a buffer may be collected in the middle of another request)."""

    def _defer_release(self, oid: ObjectID) -> None: ...
    def _defer_abort(self, oid: ObjectID) -> None: ...
    def _release_now(self, oid: ObjectID) -> None: ...

    #: Held while a view is counted and while the connection checks for views and invalidates its
    #: buffers, so no view can be taken between that check and the invalidation.
    _export_lock: threading.RLock


class _Region:
    __slots__ = ("object_id", "_owner", "_view", "_exports", "_released", "_lost", "__weakref__")

    object_id: ObjectID
    _owner: _Owner
    _view: memoryview | None
    _exports: int
    _released: bool
    _lost: str | None

    def __init__(self, owner: _Owner, oid: ObjectID, view: memoryview) -> None:
        self.object_id = oid
        self._owner = owner
        self._view = view
        self._exports = 0
        self._released = False
        self._lost = None

    def _live_view(self) -> memoryview:
        view = self._view
        if self._lost is not None:
            raise BufferReleasedError(f"object {self.object_id.hex()}: {self._lost}; the store may have reused "
                                      f"its memory")
        if view is None:
            raise BufferReleasedError(f"object {self.object_id.hex()} was released: its bytes are gone")
        return view

    def __buffer__(self, flags: int) -> memoryview:
        with self._owner._export_lock:
            view = self._live_view()
            # Refused before counting: CPython checks the flags only after __buffer__ returns, and a
            # refused export is never released, so counting it would pin the buffer for ever.
            if flags & BufferFlags.WRITABLE and view.readonly:
                raise BufferError(f"object {self.object_id.hex()} is sealed: its buffer is read-only")
            # A fresh memoryview per export: releasing it never touches another consumer's view.
            fresh = view[:]
            self._exports += 1
            return fresh

    def __release_buffer__(self, view: memoryview) -> None:
        with self._owner._export_lock:
            self._exports -= 1
        view.release()

    def __len__(self) -> int:
        return len(self._live_view())

    def _invalidate(self, reason: str) -> None:
        """The connection is gone (caller holds the export lock): without views the buffer is released
        now; with views it refuses every new view and access."""
        self._lost = reason
        if self._exports == 0 and self._view is not None:
            self._view.release()
            self._view = None

    @property
    def size(self) -> int:
        """Bytes of data (metadata not included)."""
        return len(self)

    @property
    def released(self) -> bool:
        """True once the buffer was released (or sealed / aborted, for a created object)."""
        return self._view is None

    @property
    def exports(self) -> int:
        """Views of this buffer alive now (memoryviews, numpy arrays, pyarrow buffers)."""
        return self._exports

    def _take_view(self, action: str) -> memoryview:
        """Ends access; refuses while views exist."""
        with self._owner._export_lock:
            view = self._view
            if view is None:
                raise BufferReleasedError(f"object {self.object_id.hex()} was already released")
            if self._exports:
                raise BufferInUseError(
                    f"cannot {action} object {self.object_id.hex()}: {self._exports} view(s) of it are alive "
                    f"(memoryviews, numpy arrays, pyarrow buffers); drop them first")
            self._view = None
            return view

    def as_numpy(self, dtype: numpy.typing.DTypeLike = "uint8", shape: int | tuple[int, ...] | None = None
                 ) -> numpy.ndarray[Any, Any]:
        """The data as a numpy array on the same memory (no copy). Read-only for a gotten object.
        ``shape`` defaults to one dimension over the whole data; it must cover it exactly."""
        import numpy as np

        array = np.frombuffer(self, dtype=dtype)
        return array if shape is None else array.reshape(shape)

    def to_bytes(self) -> bytes:
        """A copy of the data."""
        return bytes(self)


def invalidate_all(buffers: Iterable[_Region], reason: str) -> list[str]:
    """Invalidates every buffer of a failed or closed connection (caller holds the export lock);
    returns the ids (hex) of those that still have views."""
    in_use: list[str] = []
    for buffer in list(buffers):
        if buffer._exports:
            in_use.append(buffer.object_id.hex())
        buffer._invalidate(reason)
    return in_use


class PlasmaBuffer(_Region):
    """A sealed object, read-only and zero-copy, holding one reference in the store until released."""

    __slots__ = ("metadata",)

    metadata: bytes

    def __init__(self, owner: _Owner, oid: ObjectID, view: memoryview, metadata: bytes) -> None:
        super().__init__(owner, oid, view)
        self.metadata = metadata

    def close(self) -> None:
        """Gives the reference back (idempotent). Raises :class:`BufferInUseError` while views of the
        buffer are alive."""
        if self._view is None:
            return
        self._take_view("release").release()
        self._owner._release_now(self.object_id)

    release = close

    def __enter__(self) -> PlasmaBuffer:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        # No view can be alive here: every view holds a strong reference to this buffer.
        if getattr(self, "_view", None) is not None:
            self._view = None
            self._owner._defer_release(self.object_id)

    def __repr__(self) -> str:
        state = "released" if self._view is None else f"{len(self._view)} bytes"
        return f"PlasmaBuffer({self.object_id.hex()}, {state})"


class MutableBuffer(_Region):
    """An object being written: writable in place until ``seal()`` publishes it or ``abort()`` drops
    it. Dropping it unsealed aborts it."""

    __slots__ = ("_seal",)

    _seal: Callable[[ObjectID, bool], None]

    def __init__(self, owner: _Owner, oid: ObjectID, view: memoryview,
                 seal: Callable[[ObjectID, bool], None]) -> None:
        super().__init__(owner, oid, view)
        self._seal = seal

    def seal(self) -> None:
        """Publishes the object (every waiting get and subscription sees it) and gives the creator's
        reference back. Raises :class:`BufferInUseError` while views of the buffer are alive, so nothing
        can write to the object after it is sealed."""
        self._take_view("seal").release()
        self._seal(self.object_id, True)

    def abort(self) -> None:
        """Drops the unsealed object."""
        self._take_view("abort").release()
        self._seal(self.object_id, False)

    def __enter__(self) -> MutableBuffer:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        """Seals on a normal exit, aborts when the block raised."""
        if self._view is None:
            return
        if kind is None:
            self.seal()
        else:
            self.abort()

    def __del__(self) -> None:
        if getattr(self, "_view", None) is not None:
            self._view = None
            self._owner._defer_abort(self.object_id)

    def __repr__(self) -> str:
        state = "done" if self._view is None else f"{len(self._view)} bytes, unsealed"
        return f"MutableBuffer({self.object_id.hex()}, {state})"


class AsyncMutableBuffer(_Region):
    """An object being written through the asyncio client: writable in place until ``await seal()``
    publishes it or ``await abort()`` drops it. ``async with`` seals on a normal exit and aborts when
    the block raised; dropping it unsealed aborts it."""

    __slots__ = ("_finish",)

    _finish: Callable[[ObjectID, bool], Awaitable[None]]

    def __init__(self, owner: _Owner, oid: ObjectID, view: memoryview,
                 finish: Callable[[ObjectID, bool], Awaitable[None]]) -> None:
        super().__init__(owner, oid, view)
        self._finish = finish

    async def seal(self) -> None:
        """Publishes the object and gives the creator's reference back. Raises
        :class:`BufferInUseError` while views of the buffer are alive (nothing may write to a sealed
        object). Cancelled while the seal is on its way, the object is still sealed and the reference
        still given back."""
        self._take_view("seal").release()
        await self._finish(self.object_id, True)

    async def abort(self) -> None:
        """Drops the unsealed object."""
        self._take_view("abort").release()
        await self._finish(self.object_id, False)

    async def __aenter__(self) -> AsyncMutableBuffer:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        """Seals on a normal exit, aborts when the block raised."""
        if self._view is None:
            return
        if kind is None:
            await self.seal()
        else:
            await self.abort()

    def __del__(self) -> None:
        if getattr(self, "_view", None) is not None:
            self._view = None
            self._owner._defer_abort(self.object_id)

    def __repr__(self) -> str:
        state = "done" if self._view is None else f"{len(self._view)} bytes, unsealed"
        return f"AsyncMutableBuffer({self.object_id.hex()}, {state})"
