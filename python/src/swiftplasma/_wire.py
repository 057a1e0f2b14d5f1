"""The native protocol's frames (docs/PROTOCOL.md; Sources/PlasmaWire is the reference).

Every frame is a 24-byte little-endian header (magic "PLSN", version 1, type, request id, payload
length, reserved 0) and a payload. Replies set bit 15 of the type, events bit 14.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from .errors import ProtocolError
from .objectid import ObjectID

HEADER: Final = struct.Struct("<4sHHQII")
HEADER_SIZE: Final = 24
MAGIC: Final = b"PLSN"
VERSION: Final = 1
REPLY_BIT: Final = 0x8000
EVENT_BIT: Final = 0x4000

# Message types (Sources/PlasmaWire/MessageType.swift).
CONNECT: Final = 1
CREATE: Final = 2
SEAL: Final = 3
ABORT: Final = 4
CREATE_AND_SEAL: Final = 5
CREATE_AND_SEAL_BATCH: Final = 6
GET: Final = 7
RELEASE: Final = 8
CONTAINS: Final = 9
DELETE: Final = 10
EVICT: Final = 11
LIST: Final = 12
STATS: Final = 13
CANCEL: Final = 14
SUBSCRIBE: Final = 15
UNSUBSCRIBE: Final = 16

# Statuses (Sources/PlasmaCore/PlasmaStatus.swift).
OK: Final = 0
DELETION_DEFERRED: Final = 13
CANCELLED: Final = 15

_U16: Final = struct.Struct("<H")
_U32: Final = struct.Struct("<I")
_U64: Final = struct.Struct("<Q")
_I64: Final = struct.Struct("<q")
_GET_ENTRY: Final = struct.Struct("<BQQQ")
#: A one-id get's reply: status, count 1, then its entry (found, offset, data size, metadata size).
GET_ONE_REPLY: Final = struct.Struct("<HIBQQQ")
_LIST_ENTRY: Final = struct.Struct("<20sQQQBqqB")
_CREATE_HEAD: Final = struct.Struct("<20sQQq")
_INLINE_HEAD: Final = struct.Struct("<q20sI")

#: The store's payload limit for one request frame (WireLimits.maxPayload).
MAX_REQUEST_PAYLOAD: Final = 64 << 20
#: The most ids in one get / release / delete (WireLimits.maxItems).
MAX_ITEMS: Final = 1 << 16

#: Wire order of the stats fields (StoreStatistics.fieldNames); a newer store may append more.
STATS_FIELDS: Final = (
    "capacity", "arena_size", "bytes_in_use", "arena_bytes_allocated", "created_objects", "sealed_objects",
    "evictable_objects", "evictable_bytes", "evicted_objects", "evicted_bytes", "deleted_objects", "clients",
    "pending_gets", "pending_creates", "fragmentation_permille", "largest_free_block",
    "subscriptions", "events_queued", "events_dropped",
    "spilled_objects", "spilled_bytes", "restored_objects", "restored_bytes",
    "spill_failures", "restore_failures",
    "connections_refused", "arrow_subscriptions_dropped",
    "client_state_budget", "client_state_used", "client_state_refusals",
    "client_state_inbound", "client_state_replies", "client_state_waiting_gets", "client_state_waiting_creates",
    "client_state_events", "client_state_arrow_notifications", "empty_objects", "empty_objects_limit",
)


def header(message_type: int, request_id: int, length: int) -> bytes:
    """A request's 24-byte header, for a payload of ``length`` bytes sent after it."""
    return HEADER.pack(MAGIC, VERSION, message_type, request_id, length, 0)


def frame(message_type: int, request_id: int, payload: bytes = b"") -> bytes:
    """One whole request frame."""
    return header(message_type, request_id, len(payload)) + payload


def ids_payload(ids: list[ObjectID]) -> bytes:
    """An id list: u32 count, then 20 bytes each."""
    return _U32.pack(len(ids)) + b"".join(i.binary() for i in ids)


#: Milliseconds from which a wait is "forever" on the wire (as Swift's Wait clamps): an i64 holds no more.
FOREVER_MS: Final = 1 << 63


def timeout_ms(timeout: float | None) -> int:
    """Seconds to the wire's milliseconds: None, ``math.inf`` and anything of 2^63 ms or more are
    forever (-1); zero or negative is "don't wait" (0); NaN is a ValueError."""
    if timeout is None:
        return -1
    if timeout != timeout:
        raise ValueError("a timeout of NaN seconds")
    if timeout <= 0:
        return 0
    if timeout * 1000 >= FOREVER_MS:  # also math.inf, which int() can't convert
        return -1
    return min(FOREVER_MS - 1, max(1, int(timeout * 1000)))


def create_payload(oid: ObjectID, data_size: int, metadata_size: int, timeout: int) -> bytes:
    return _CREATE_HEAD.pack(oid.binary(), data_size, metadata_size, timeout)


def create_and_seal_parts(oid: ObjectID, data: memoryview, metadata: bytes, timeout: int) -> list[bytes | memoryview]:
    """The payload of a createAndSeal in pieces, so the data is not copied into a new bytes object."""
    return [_INLINE_HEAD.pack(timeout, oid.binary(), len(data)), data, _U32.pack(len(metadata)) + metadata]


def get_payload(ids: list[ObjectID], timeout: int) -> bytes:
    return _I64.pack(timeout) + ids_payload(ids)


def u64(value: int) -> bytes:
    return _U64.pack(value)


def filter_payload(subscription_id: int, ids: list[ObjectID] | None, prefix: bytes | None) -> bytes:
    head = _U64.pack(subscription_id)
    if ids is not None:
        return head + b"\x01" + ids_payload(ids)
    if prefix is not None:
        return head + b"\x02" + _U32.pack(len(prefix)) + prefix
    return head + b"\x00"


@dataclass(frozen=True, slots=True)
class Header:
    """A decoded frame header."""

    type: int
    request_id: int
    length: int


def decode_header(raw: bytes | bytearray | memoryview, offset: int = 0) -> Header:
    """Checks magic, version and reserved field, as the Swift client does."""
    magic, version, message_type, request_id, length, reserved = HEADER.unpack_from(raw, offset)
    if magic != MAGIC:
        raise ProtocolError(f"bad frame magic {bytes(magic)!r}")
    if version != VERSION:
        raise ProtocolError(f"unsupported protocol version {version}")
    if reserved != 0:
        raise ProtocolError(f"nonzero reserved field {reserved}")
    return Header(message_type, request_id, length)


@dataclass(frozen=True, slots=True)
class Location:
    """Where a found object lies in the arena: data at `offset`, metadata right after it."""

    offset: int
    data_size: int
    metadata_size: int


class Reader:
    """Reads little-endian fields from one payload, checking every length."""

    __slots__ = ("_raw", "_at")

    def __init__(self, raw: bytes | memoryview) -> None:
        self._raw = raw
        self._at = 0

    def _take(self, count: int) -> int:
        at = self._at
        if count < 0 or at + count > len(self._raw):
            raise ProtocolError(f"truncated payload: needed {count} bytes at {at} of {len(self._raw)}")
        self._at = at + count
        return at

    def u8(self) -> int:
        return self._raw[self._take(1)]

    def u16(self) -> int:
        return int(_U16.unpack_from(self._raw, self._take(2))[0])

    def u32(self) -> int:
        return int(_U32.unpack_from(self._raw, self._take(4))[0])

    def u64(self) -> int:
        return int(_U64.unpack_from(self._raw, self._take(8))[0])

    def i64(self) -> int:
        return int(_I64.unpack_from(self._raw, self._take(8))[0])

    def boolean(self) -> bool:
        value = self.u8()
        if value > 1:
            raise ProtocolError(f"boolean {value}")
        return value == 1

    def oid(self) -> ObjectID:
        at = self._take(20)
        return ObjectID(bytes(self._raw[at:at + 20]))

    def text(self) -> str:
        count = self.u32()
        at = self._take(count)
        return bytes(self._raw[at:at + count]).decode("utf-8", "replace")

    def count(self, item_size: int) -> int:
        count = self.u32()
        if count * item_size > len(self._raw) - self._at:
            raise ProtocolError(f"a count of {count} items doesn't fit the payload")
        return count

    def get_entries(self) -> list[Location | None]:
        count = self.count(_GET_ENTRY.size)
        entries: list[Location | None] = []
        for _ in range(count):
            found, offset, data_size, metadata_size = _GET_ENTRY.unpack_from(self._raw, self._take(_GET_ENTRY.size))
            if found > 1:
                raise ProtocolError(f"boolean {found}")
            entries.append(Location(offset, data_size, metadata_size) if found else None)
        return entries

    def list_entries(self) -> list[tuple[bytes, int, int, int, int, int, int, int]]:
        count = self.count(_LIST_ENTRY.size)
        return [_LIST_ENTRY.unpack_from(self._raw, self._take(_LIST_ENTRY.size)) for _ in range(count)]

    def statuses(self) -> list[int]:
        count = self.count(2)
        return [self.u16() for _ in range(count)]

    def end(self) -> None:
        if self._at != len(self._raw):
            raise ProtocolError(f"{len(self._raw) - self._at} trailing bytes in a payload")


def status_of(payload: bytes | memoryview) -> tuple[int, str, Reader]:
    """The reply's status; for a failure its message, else a reader positioned at the body."""
    reader = Reader(payload)
    status = reader.u16()
    if status != OK:
        message = reader.text()
        return status, message, reader
    return status, "", reader
