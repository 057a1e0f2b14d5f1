"""Large copies into the arena on several threads.

One core's memcpy doesn't reach the machine's memory bandwidth (Arrow's Plasma client copied with
``parallel_memcopy`` on a thread pool for the same reason). ``put`` of ``threshold`` bytes or more cuts
the copy into chunks (boundaries on 4 KiB pages of the destination) that the calling thread and helper
threads take in turn, each with ``ctypes.memmove``, which releases the GIL while it copies. The helpers
are one small pool per process, started on first use and kept. A copy whose helpers are busy with
another copy (or never start, as in a forked child) does the rest of its chunks itself: the caller
waits only for chunks a helper has already taken. Smaller copies are one memoryview assignment.

Standard library only: the buffers' addresses come from ``PyObject_GetBuffer`` through
``ctypes.pythonapi`` (CPython); where that is missing, every copy is the memoryview assignment.
"""

from __future__ import annotations

import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

#: Copies of fewer bytes run on the calling thread alone: waking a helper costs tens of microseconds.
DEFAULT_THRESHOLD: Final = 8 << 20
#: Two or three cores' copies already reach a socket's memory bandwidth on common servers.
MAXIMUM_DEFAULT_THREADS: Final = 4
#: No chunk smaller than this (below it glibc's memmove changes method); four chunks per thread.
MINIMUM_CHUNK: Final = 1 << 20
CHUNKS_PER_THREAD: Final = 4
#: glibc's memmove uses non-temporal stores from about this size (240 MiB on the reference VM).
LARGE_CHUNK: Final = 256 << 20
#: The pool's size: more helpers than cores would only queue for them.
MAXIMUM_HELPERS: Final = 15
_PAGE: Final = 4096


def default_threads() -> int:
    """One thread per core this process may run on, at most ``MAXIMUM_DEFAULT_THREADS``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(MAXIMUM_DEFAULT_THREADS, cores))


class _PyBuffer(ctypes.Structure):
    """CPython's ``Py_buffer`` (part of the stable ABI)."""

    _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p), ("len", ctypes.c_ssize_t),
                ("itemsize", ctypes.c_ssize_t), ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p), ("strides", ctypes.c_void_p),
                ("suboffsets", ctypes.c_void_p), ("internal", ctypes.c_void_p)]


_PyBUF_WRITABLE: Final = 0x0001



def _buffer_api() -> tuple[Any, Any] | None:
    """PyObject_GetBuffer and PyBuffer_Release, or None where ctypes.pythonapi lacks them (not CPython)."""
    try:
        get, release = ctypes.pythonapi.PyObject_GetBuffer, ctypes.pythonapi.PyBuffer_Release
    except (AttributeError, OSError):
        return None
    get.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
    get.restype = ctypes.c_int
    release.argtypes = [ctypes.POINTER(_PyBuffer)]
    release.restype = None
    return get, release


_API: Final = _buffer_api()


class _Job:
    """One copy: its addresses, its chunks, the next chunk nobody has taken and how many chunks
    helpers are copying (both under ``idle``'s lock)."""

    __slots__ = ("destination", "source", "count", "chunks", "idle", "next", "copying", "error")

    def __init__(self, destination: int, source: int, count: int, chunks: int) -> None:
        self.destination, self.source, self.count, self.chunks = destination, source, count, chunks
        self.idle = threading.Condition(threading.Lock())
        self.next = 0
        self.copying = 0
        self.error: BaseException | None = None

    def start(self, index: int) -> int:
        """Where chunk ``index`` starts: an even share, moved up to the next 4 KiB page of the
        destination, so that no two threads write one page."""
        if index == 0:
            return 0
        if index >= self.chunks:
            return self.count
        address = self.destination + self.count // self.chunks * index
        return min(self.count, (address + _PAGE - 1) // _PAGE * _PAGE - self.destination)

    def work(self, helper: bool = True) -> None:
        """Takes and copies chunks until none is left (the caller and each helper run this). A
        helper's chunks are counted while it copies them, for the caller to wait on."""
        while True:
            with self.idle:
                if self.next >= self.chunks:
                    return
                index = self.next
                self.next += 1
                if helper:
                    self.copying += 1
            start, end = self.start(index), self.start(index + 1)
            try:
                if end > start:
                    ctypes.memmove(self.destination + start, self.source + start, end - start)
            except BaseException as error:
                if not helper:
                    raise
                self.error = error  # a helper can't raise to the caller: hand it over
            finally:
                if helper:
                    with self.idle:
                        self.copying -= 1
                        self.idle.notify_all()


_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


def _forget_pool_after_fork() -> None:
    """In a forked child: a fresh lock (another thread of the parent may have held this one at the
    fork, and would never release it here) and no pool (its threads stayed in the parent)."""
    global _pool, _pool_pid, _pool_lock
    _pool, _pool_pid, _pool_lock = None, 0, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _helpers() -> ThreadPoolExecutor:
    """The process's helpers; a forked child, which has none of its parent's threads, makes its own."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=MAXIMUM_HELPERS, thread_name_prefix="swiftplasma-copy")
            _pool_pid = os.getpid()
        return _pool


def _wait_out(job: _Job) -> None:
    """Drops the chunks nobody has taken and waits until no helper copies any more: the caller's
    target may be aborted and reused once it returns, so an interrupt (KeyboardInterrupt) is raised
    only after that."""
    interrupted: BaseException | None = None
    while True:
        try:
            with job.idle:
                job.next = job.chunks
                while job.copying:
                    job.idle.wait()
            break
        except BaseException as error:
            interrupted = error
    if interrupted is not None:
        raise interrupted


def chunks_for(count: int, threads: int) -> int:
    """Four chunks per thread, none under 1 MiB; copies of 512 MiB and more keep chunks of at least
    ``LARGE_CHUNK``, so that each keeps glibc's non-temporal stores (as the Swift client does:
    Sources/PlasmaClient/ParallelCopy.swift)."""
    if count >= 2 * LARGE_CHUNK:
        return max(1, min(threads * CHUNKS_PER_THREAD, count // LARGE_CHUNK))
    return max(1, min(threads * CHUNKS_PER_THREAD, count // MINIMUM_CHUNK))


def copy(target: memoryview, source: memoryview, threads: int, threshold: int = DEFAULT_THRESHOLD) -> None:
    """``target[:] = source`` (equal lengths, flat bytes), on ``threads`` threads when ``source`` has
    ``threshold`` bytes or more."""
    count = len(source)
    if len(target) != count:
        raise ValueError(f"cannot copy {count} bytes into {len(target)}")
    chunks = chunks_for(count, threads)
    if threads <= 1 or count < threshold or chunks <= 1 or _API is None:
        target[:] = source
        return
    get_buffer, release_buffer = _API
    destination, origin = _PyBuffer(), _PyBuffer()
    get_buffer(target, ctypes.byref(destination), _PyBUF_WRITABLE)  # raises (BufferError) on failure
    try:
        get_buffer(source, ctypes.byref(origin), 0)
        try:
            to, start = int(destination.buf or 0), int(origin.buf or 0)
            if to < start + count and start < to + count:  # overlapping: one memmove keeps it right
                ctypes.memmove(to, start, count)
                return
            job = _Job(to, start, count, chunks)
            try:
                pool = _helpers()
                for _ in range(min(threads, MAXIMUM_HELPERS + 1) - 1):
                    pool.submit(job.work)
                job.work(helper=False)
            finally:
                _wait_out(job)
            if job.error is not None:
                raise job.error
        finally:
            release_buffer(ctypes.byref(origin))
    finally:
        release_buffer(ctypes.byref(destination))
