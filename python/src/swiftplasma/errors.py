"""Exceptions. Every store failure names the object id (where there is one) and the store's reason."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .objectid import ObjectID

#: Status names by wire value (Sources/PlasmaCore/PlasmaStatus.swift).
STATUS_NAMES: Final = {
    0: "ok", 1: "objectExists", 2: "objectNotFound", 3: "outOfMemory", 4: "objectNotSealed",
    5: "objectInUse", 6: "objectAlreadySealed", 7: "notCreator", 8: "notHeld", 9: "timedOut",
    10: "invalidRequest", 11: "tooLarge", 12: "limitReached", 13: "deletionDeferred", 14: "shuttingDown",
    15: "cancelled",
}

#: What each status means (PlasmaStatus.summary), for per-item statuses that carry no message.
STATUS_SUMMARIES: Final = {
    0: "ok", 1: "an object with this id already exists", 2: "no such object",
    3: "the store is full and nothing evictable frees enough space", 4: "the object is not sealed yet",
    5: "the object is in use", 6: "the object is already sealed",
    7: "only the client that created the object may do this", 8: "this client holds no reference to the object",
    9: "timed out", 10: "invalid request", 11: "larger than the store's capacity", 12: "a store limit was reached",
    13: "deletion deferred until every reference is released", 14: "the store is shutting down",
    15: "cancelled by the client",
}


class PlasmaError(Exception):
    """Base of every error this package raises."""


class StoreError(PlasmaError):
    """The store refused a request. ``status`` is the wire code, ``status_name`` its name, ``reason``
    the store's own message, ``object_id`` the id concerned (None for requests without one)."""

    def __init__(self, operation: str, status: int, reason: str, object_id: ObjectID | None = None) -> None:
        self.operation = operation
        self.status = status
        self.status_name = STATUS_NAMES.get(status, f"status {status}")
        self.reason = reason
        self.object_id = object_id
        subject = f" {object_id.hex()}" if object_id is not None else ""
        super().__init__(f"{operation}{subject} failed ({self.status_name}): {reason}")


class ObjectExistsError(StoreError):
    """A create of an id that is taken."""


class ObjectNotFoundError(StoreError, KeyError):
    """No object with this id (seal, abort, delete)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class OutOfMemoryError(StoreError):
    """The store is full and evicting can't make room."""


class LimitReachedError(StoreError):
    """A per-client or per-store limit (the message names it)."""


class CancelledByClientError(StoreError):
    """The store answered a withdrawn request."""


_BY_STATUS: Final[dict[int, type[StoreError]]] = {
    1: ObjectExistsError, 2: ObjectNotFoundError, 3: OutOfMemoryError, 12: LimitReachedError,
    15: CancelledByClientError,
}


def store_error(operation: str, status: int, reason: str, object_id: ObjectID | None = None) -> StoreError:
    """The exception class that fits the status."""
    return _BY_STATUS.get(status, StoreError)(operation, status, reason, object_id)


class ObjectTimeoutError(PlasmaError, TimeoutError):
    """A get whose timeout passed before these ids were sealed (``object_ids``)."""

    def __init__(self, object_ids: list[ObjectID], timeout: float | None) -> None:
        self.object_ids = object_ids
        names = ", ".join(i.hex() for i in object_ids[:8]) + (", …" if len(object_ids) > 8 else "")
        super().__init__(f"timed out after {timeout} s waiting for {len(object_ids)} object(s): {names}")


class DisconnectedError(PlasmaError, ConnectionError):
    """The connection ended (closed by this client, or the store went away); the text says which."""


class CannotConnectError(PlasmaError, ConnectionError):
    """Nothing answered at the socket path, or the handshake failed."""


class UntrustedStoreError(PlasmaError, PermissionError):
    """The store at the path runs as a user this client doesn't trust (see PLASMA_TRUSTED_STORE_UID)."""


class ProtocolError(PlasmaError):
    """The store sent something the protocol doesn't allow."""


class BufferReleasedError(PlasmaError, ValueError):
    """An object buffer was used after its release: its bytes may already belong to another object."""


class BufferInUseError(PlasmaError, BufferError):
    """A buffer can't be released or sealed while views of it (memoryviews, numpy arrays, pyarrow
    buffers) are alive: drop them first."""
