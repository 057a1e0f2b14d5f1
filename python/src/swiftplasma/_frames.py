"""Splitting received bytes into frames, shared by both clients."""

from __future__ import annotations

from collections.abc import Iterator

from . import _wire


class FrameBuffer:
    """Bytes received and not yet consumed; yields whole frames as (header, payload)."""

    __slots__ = ("data", "start")

    def __init__(self, initial: bytes = b"") -> None:
        self.data = bytearray(initial)
        self.start = 0

    def feed(self, chunk: bytes | memoryview) -> None:
        if self.start and self.start == len(self.data):
            self.data.clear()
            self.start = 0
        elif self.start > (1 << 16):
            del self.data[:self.start]
            self.start = 0
        self.data += chunk

    def frames(self) -> Iterator[tuple[_wire.Header, bytes]]:
        data = self.data
        while len(data) - self.start >= _wire.HEADER_SIZE:
            header = _wire.decode_header(data, self.start)
            begin = self.start + _wire.HEADER_SIZE
            end = begin + header.length
            if len(data) < end:
                return
            self.start = end
            yield header, bytes(data[begin:end])
