"""Opening a connection: the default socket path, the peer check, the hello and the arena mapping.

The rules are the Swift client's (Sources/PlasmaClient: PlasmaClient.defaultSocketPath, StoreTrust,
Handshake, ArenaMapping): the path is ``$PLASMA_STORE_SOCKET`` when set and not empty, else
``/tmp/plasma.sock``; before sending a byte the client asks the kernel who listens there
(``SO_PEERCRED``) and talks only to a store run by its own user or root, unless
``PLASMA_TRUSTED_STORE_UID`` (comma-separated uids, or ``any``) or ``trust=`` widens that.
"""

from __future__ import annotations

import mmap
import os
import socket
import struct
import time
from dataclasses import dataclass
from typing import Final

from . import _wire
from .errors import CannotConnectError, ProtocolError, UntrustedStoreError, store_error

DEFAULT_SOCKET: Final = "/tmp/plasma.sock"
TRUST_VARIABLE: Final = "PLASMA_TRUSTED_STORE_UID"
_UCRED: Final = struct.Struct("3i")


def default_socket_path() -> str:
    """``$PLASMA_STORE_SOCKET`` when set and not empty, else ``/tmp/plasma.sock``."""
    return os.environ.get("PLASMA_STORE_SOCKET") or DEFAULT_SOCKET


Trust = str | list[int] | None
"""Whose store to accept: None reads PLASMA_TRUSTED_STORE_UID (default: own user or root), ``"any"``
checks nothing, a list of uids trusts those besides the own user and root."""


def _parse_trust(value: str) -> set[int] | None:
    """``any`` -> None (anyone); uids separated by commas -> that set. A value that doesn't parse is an
    error: a typo must not silently mean "trust fewer" or "trust more"."""
    if value == "any":
        return None
    users: set[int] = set()
    for part in value.split(","):
        part = part.replace(" ", "")
        if not part.isdigit() or int(part) > 0xFFFF_FFFF:
            raise ValueError(f"{TRUST_VARIABLE}={value!r} is neither a comma-separated list of uids nor 'any'")
        users.add(int(part))
    return users


def _trusted_users(trust: Trust) -> set[int] | None:
    if trust is None:
        value = os.environ.get(TRUST_VARIABLE, "")
        return set() if value == "" else _parse_trust(value)
    if isinstance(trust, str):
        return _parse_trust(trust)
    return set(trust)


def check_owner(sock: socket.socket, path: str, trust: Trust) -> None:
    """Refuses a store run by another user (other than root) unless trusted."""
    users = _trusted_users(trust)
    if users is None:
        return
    try:
        pid, uid, _gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    except OSError as error:
        raise CannotConnectError(f"cannot connect to {path}: cannot learn who runs the store: {error}") from error
    client = os.geteuid()
    if uid in (client, 0) or uid in users:
        return
    raise UntrustedStoreError(
        f"the store at {path} runs as uid {uid} (pid {pid}), not as this process's uid {client} or root; "
        f"set {TRUST_VARIABLE}={uid} (or pass trust=[{uid}]) to trust it")


@dataclass
class Arena:
    """The arena mapped twice: read-write for objects this client creates, read-only for gets, so a
    stray write to a sealed object raises instead of corrupting it."""

    size: int
    writable_map: mmap.mmap
    readable_map: mmap.mmap
    writable: memoryview
    readable: memoryview

    def check(self, offset: int, data_size: int, metadata_size: int, what: str) -> None:
        """The store's offsets are checked, never trusted."""
        if offset < 0 or data_size < 0 or metadata_size < 0 or offset + data_size + metadata_size > self.size:
            raise ProtocolError(
                f"{what} at {offset}+{data_size}+{metadata_size} lies outside the arena of {self.size} bytes")

    def close(self) -> None:
        """Unmaps, unless views of it are still alive (then the garbage collector unmaps later)."""
        for view in (self.writable, self.readable):
            view.release()
        for mapping in (self.writable_map, self.readable_map):
            try:
                mapping.close()
            except BufferError:
                pass


@dataclass
class Handshake:
    """A connected socket, the mapped arena and bytes already read past the connect reply."""

    sock: socket.socket
    capacity: int
    client_id: int
    arena: Arena
    leftover: bytes
    received: int


def _open(path: str, retries: int, retry_interval: float) -> socket.socket:
    attempt = 0
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            sock.connect(path)
            return sock
        except OSError as error:
            sock.close()
            if attempt >= retries:
                raise CannotConnectError(f"cannot connect to {path}: {error.strerror or error}") from error
            attempt += 1
            time.sleep(retry_interval)


def _receive_connect_reply(sock: socket.socket, path: str) -> tuple[_wire.Header, bytes, list[int]]:
    """Reads with recvmsg until the whole connect reply is in: its first byte carries the arena's
    descriptor (SCM_RIGHTS), which a plain read would lose."""
    data = bytearray()
    descriptors: list[int] = []
    space = socket.CMSG_SPACE(4 * struct.calcsize("i"))
    while True:
        if len(data) >= _wire.HEADER_SIZE:
            header = _wire.decode_header(data)
            end = _wire.HEADER_SIZE + header.length
            if len(data) >= end:
                return header, bytes(data), descriptors
        chunk, ancillary, _flags, _address = sock.recvmsg(1 << 16, space, socket.MSG_CMSG_CLOEXEC)
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                usable = len(payload) - len(payload) % 4
                descriptors.extend(struct.unpack(f"{usable // 4}i", payload[:usable]))
        if not chunk:
            for fd in descriptors:
                os.close(fd)
            raise CannotConnectError(f"cannot connect to {path}: the store closed the connection during the hello")
        data += chunk


def _map(descriptor: int, size: int, writable: bool, prefault: bool) -> mmap.mmap:
    flags = mmap.MAP_SHARED | (mmap.MAP_POPULATE if prefault else 0)
    prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
    return mmap.mmap(descriptor, size, flags=flags, prot=prot)


def perform(path: str, name: str, trust: Trust, prefault: bool, retries: int, retry_interval: float) -> Handshake:
    """Connect, check the peer, say hello (request id 1), map the arena."""
    sock = _open(path, retries, retry_interval)
    try:
        check_owner(sock, path, trust)
        hello = name.encode("utf-8")
        try:
            sock.sendall(_wire.frame(_wire.CONNECT, 1, struct.pack("<I", len(hello)) + hello))
        except OSError:
            pass  # a store that refuses us (too many clients) says why and closes: read its reason below
        header, data, descriptors = _receive_connect_reply(sock, path)
        try:
            end = _wire.HEADER_SIZE + header.length
            status, message, reader = _wire.status_of(memoryview(data)[_wire.HEADER_SIZE:end])
            if status != _wire.OK:
                raise store_error("connect", status, message)
            if header.type != _wire.CONNECT | _wire.REPLY_BIT or header.request_id != 1:
                raise ProtocolError(f"expected a connect reply, got type {header.type:#x}")
            capacity, arena_size, client_id = reader.u64(), reader.u64(), reader.u64()
            reader.end()
            if not descriptors:
                raise ProtocolError("the store sent no arena descriptor with its connect reply")
            writable_map = _map(descriptors[-1], arena_size, True, prefault)
            readable_map = _map(descriptors[-1], arena_size, False, prefault)
        finally:
            for fd in descriptors:
                os.close(fd)
        arena = Arena(arena_size, writable_map, readable_map, memoryview(writable_map), memoryview(readable_map))
        return Handshake(sock, capacity, client_id, arena, data[end:], len(data))
    except BaseException:
        sock.close()
        raise
