"""Large puts copy into the arena on several threads (swiftplasma._copy): the bytes the store hands
back are the bytes put, whatever the size around the threshold, the thread count or the alignment."""

from __future__ import annotations

import asyncio
import ctypes
import random
import threading

import pytest

import swiftplasma as sp
from conftest import Store
from swiftplasma import _copy

MiB = 1 << 20
#: Sizes around the threshold (a chunk boundary falls inside a page unless moved), odd lengths, a
#: size with fewer MiB than chunks and one with a ragged last chunk.
SIZES = [_copy.DEFAULT_THRESHOLD - 1, _copy.DEFAULT_THRESHOLD, _copy.DEFAULT_THRESHOLD + 1,
         _copy.DEFAULT_THRESHOLD + 4095, 9 * MiB + 12345, 24 * MiB + 7]


def _check_put(client: sp.Client, data: object, metadata: bytes = b"") -> None:
    oid = sp.ObjectID.random()
    client.put(oid, data, metadata=metadata)
    expected = memoryview(data).tobytes()  # type: ignore[arg-type]
    with client.get(oid, timeout=0) as buffer:
        assert len(buffer) == len(expected)
        assert bytes(buffer) == expected
        assert buffer.metadata == metadata
    client.delete(oid)


@pytest.mark.store(memory="512M")
@pytest.mark.parametrize("threads", [2, 3, 4])
def test_large_puts_copy_every_byte_on_several_threads(store: Store, threads: int) -> None:
    rng = random.Random(16 + threads)
    with sp.connect(store.path, copy_threads=threads) as client:
        assert client.copy_threads == threads
        for size in SIZES:
            _check_put(client, rng.randbytes(size), metadata=b"m" * (size % 7))
    # The copies above the threshold took helpers from the pool (its threads are named).
    assert any(thread.name.startswith("swiftplasma-copy") for thread in threading.enumerate())


@pytest.mark.store(memory="512M")
def test_a_low_threshold_cuts_small_objects_into_chunks_too(store: Store) -> None:
    rng = random.Random(17)
    with sp.connect(store.path, copy_threads=2, copy_threshold=0) as client:
        for size in ((256 << 10) + 1, 2 * MiB - 1, 2 * MiB, 3 * MiB + 333):
            _check_put(client, rng.randbytes(size))


@pytest.mark.store(memory="512M")
def test_unaligned_sources_and_buffer_protocol_objects(store: Store) -> None:
    rng = random.Random(18)
    backing = bytearray(rng.randbytes(_copy.DEFAULT_THRESHOLD + 3 * MiB))
    with sp.connect(store.path, copy_threads=2) as client:
        for start in (1, 63, 4097):  # sources that start off any alignment
            _check_put(client, memoryview(backing)[start:start + _copy.DEFAULT_THRESHOLD + 5])
        import array
        words = array.array("I", backing[:12 * MiB])
        _check_put(client, words)
        _check_put(client, memoryview(bytes(backing[: 10 * MiB])))  # read-only source


@pytest.mark.store(memory="512M")
def test_puts_from_several_threads_at_once_share_the_helpers(store: Store) -> None:
    """More concurrent copies than helpers: a copy whose helpers are busy does its chunks itself."""
    failures: list[BaseException] = []

    def putter(seed: int) -> None:
        rng = random.Random(seed)
        try:
            with sp.connect(store.path, copy_threads=4) as client:
                for _ in range(3):
                    _check_put(client, rng.randbytes(9 * MiB + seed))
        except BaseException as error:  # surfaced below
            failures.append(error)

    threads = [threading.Thread(target=putter, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


@pytest.mark.store(memory="512M")
def test_the_asyncio_client_copies_on_several_threads_too(store: Store) -> None:
    data = random.Random(19).randbytes(_copy.DEFAULT_THRESHOLD + 777)

    async def main() -> bytes:
        client = await sp.connect_async(store.path, copy_threads=2)
        try:
            assert client.copy_threads == 2
            oid = sp.ObjectID.random()
            await client.put(oid, data)
            with await client.get(oid, timeout=0) as buffer:
                return bytes(buffer)
        finally:
            client.close()

    assert asyncio.run(main()) == data


def test_chunks_end_on_destination_pages_and_cover_the_copy() -> None:
    for destination in (0x10000, 0x10001, 0x10fff):
        for count in (8 * MiB, 8 * MiB + 1, 9 * MiB + 12345):
            chunks = _copy.chunks_for(count, 2)
            job = _copy._Job(destination, 0, count, chunks)
            starts = [job.start(index) for index in range(chunks + 1)]
            assert starts[0] == 0 and starts[-1] == count
            assert starts == sorted(starts)
            assert all((destination + start) % 4096 == 0 for start in starts[1:-1])


def test_overlapping_ranges_are_copied_as_memmove_would() -> None:
    size = 12 * MiB
    backing = bytearray(random.Random(20).randbytes(size + MiB))
    expected = bytearray(backing)
    expected[MiB:MiB + size] = bytes(backing[:size])
    view = memoryview(backing)
    _copy.copy(view[MiB:MiB + size], view[:size], threads=2, threshold=0)
    assert backing == expected


def test_the_copy_refuses_a_read_only_target_and_unequal_lengths() -> None:
    source = bytes(10 * MiB)
    with pytest.raises(BufferError):
        _copy.copy(memoryview(bytes(10 * MiB)), memoryview(source), threads=2, threshold=0)
    with pytest.raises(ValueError):
        _copy.copy(memoryview(bytearray(10)), memoryview(source), threads=2)


def test_the_buffer_api_is_there_on_cpython() -> None:
    # Otherwise every copy silently takes the one-thread path and the tests above prove nothing new.
    assert _copy._API is not None
    assert ctypes.sizeof(_copy._PyBuffer) == 80  # Py_buffer on 64-bit CPython


@pytest.mark.store(memory="256M")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")  # the point
def test_a_child_forked_while_another_thread_holds_the_pool_lock_can_still_put(store: Store) -> None:
    import os
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with _copy._pool_lock:
            holding.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(60)
    pid = os.fork()
    if pid == 0:  # the child: the parent's holder thread isn't here to release the lock
        code = 1
        try:
            with sp.connect(store.path, copy_threads=2) as client:
                _check_put(client, random.Random(5).randbytes(_copy.DEFAULT_THRESHOLD + 1))
            code = 0
        finally:
            os._exit(code)
    release.set()
    holder.join()
    # The child hangs for good on the inherited lock if it isn't replaced: wait 60 s (~1,000x its
    # expected time), then end it and fail.
    for _ in range(600):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        threading.Event().wait(0.1)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child's put hung on the copy pool's lock")
    assert os.waitstatus_to_exitcode(status) == 0
