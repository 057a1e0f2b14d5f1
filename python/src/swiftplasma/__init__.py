"""swiftplasma: a pure-Python client of swift-plasma's store, speaking its native protocol.

Blocking: ``swiftplasma.connect()``; asyncio: ``await swiftplasma.connect_async()``. Objects come back
as zero-copy, read-only buffers on the shared arena (see :mod:`swiftplasma.buffer`).
"""

from ._transport import default_socket_path
from .aio import AsyncClient, Event, EventStream, connect_async
from .buffer import AsyncMutableBuffer, MutableBuffer, PlasmaBuffer
from .client import Client, ObjectInfo, connect
from .errors import (BufferInUseError, BufferReleasedError, CancelledByClientError, CannotConnectError,
                     DisconnectedError, LimitReachedError, ObjectExistsError, ObjectNotFoundError,
                     ObjectTimeoutError, OutOfMemoryError, PlasmaError, ProtocolError, StoreError,
                     UntrustedStoreError)
from .objectid import ObjectID

__version__ = "0.1.0"

__all__ = [
    "AsyncClient", "AsyncMutableBuffer", "BufferInUseError", "BufferReleasedError", "CancelledByClientError",
    "CannotConnectError", "Client", "DisconnectedError", "Event", "EventStream", "LimitReachedError", "MutableBuffer",
    "ObjectExistsError", "ObjectID", "ObjectInfo", "ObjectNotFoundError", "ObjectTimeoutError", "OutOfMemoryError",
    "PlasmaBuffer", "PlasmaError", "ProtocolError", "StoreError", "UntrustedStoreError", "connect", "connect_async",
    "default_socket_path",
]
