"""ObjectID: the store's 20-byte object name."""

from __future__ import annotations

import hashlib
import os
from typing import Final

BYTE_COUNT: Final = 20


class ObjectID:
    """A 20-byte object id. Immutable and hashable; equal when the bytes are equal.

    ``ObjectID.from_name(name)`` is the same rule as Swift's ``ObjectID(name:)``: the first 20 bytes
    of the SHA-256 digest of the name's UTF-8 bytes, so every process (Swift or Python) derives the same
    id from the same name.
    """

    __slots__ = ("_bytes",)

    _bytes: bytes

    def __init__(self, value: bytes | bytearray | memoryview) -> None:
        raw = bytes(value)
        if len(raw) != BYTE_COUNT:
            raise ValueError(f"an ObjectID is {BYTE_COUNT} bytes, got {len(raw)}")
        object.__setattr__(self, "_bytes", raw)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ObjectID is immutable")

    @classmethod
    def from_hex(cls, text: str) -> ObjectID:
        """Parses 40 hex digits (either case)."""
        if len(text) != 2 * BYTE_COUNT:
            raise ValueError(f"an ObjectID is {2 * BYTE_COUNT} hex digits, got {len(text)}: {text!r}")
        return cls(bytes.fromhex(text))

    @classmethod
    def from_name(cls, name: str) -> ObjectID:
        """The id every process derives from ``name``: SHA-256 of its UTF-8 bytes, first 20 bytes."""
        return cls(hashlib.sha256(name.encode("utf-8")).digest()[:BYTE_COUNT])

    @classmethod
    def random(cls) -> ObjectID:
        """A random id from the operating system's random source."""
        return cls(os.urandom(BYTE_COUNT))

    def binary(self) -> bytes:
        """The 20 raw bytes."""
        return self._bytes

    def hex(self) -> str:
        """40 lowercase hex digits, as the Swift client and `plasma` print ids."""
        return self._bytes.hex()

    def __bytes__(self) -> bytes:
        return self._bytes

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectID) and other._bytes == self._bytes

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __repr__(self) -> str:
        return f"ObjectID({self.hex()})"

    def __str__(self) -> str:
        return self.hex()
