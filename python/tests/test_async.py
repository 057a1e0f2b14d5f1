"""The asyncio client against the real store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

import swiftplasma as sp
from conftest import REPORT, Store
from helpers import start_python


async def until(condition: Callable[[], bool], what: str, limit: float = 30) -> None:
    """Polls the store's state (bounded), never a fixed sleep."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.005)


def pending_gets(observer: sp.Client) -> int:
    return observer.stats()["pending_gets"]


def test_four_producers_awaited_with_as_future_take_one_second_not_four(store: Store) -> None:
    producer = """
        import sys, time, swiftplasma as sp
        client = sp.connect(sys.argv[1])
        print("ready", flush=True)
        sys.stdin.readline()                      # go
        time.sleep(1.0)                           # a second of work
        client.put(sp.ObjectID.from_name(sys.argv[2]), sys.argv[2].encode())
    """
    names = [f"producer-{i}" for i in range(4)]

    async def consume() -> tuple[list[bytes], float]:
        client = await sp.connect_async(store.path)
        ids = [sp.ObjectID.from_name(name) for name in names]
        producers = [start_python(producer, store.path, name) for name in names]
        for process in producers:  # started and connected: the clock measures the waits, not Python's start
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
        with sp.connect(store.path) as observer:
            started = time.monotonic()
            futures = [client.as_future(i) for i in ids]
            await until(lambda: pending_gets(observer) == 4, "the four waits are in the store")
            for process in producers:
                assert process.stdin is not None
                process.stdin.write("go\n")
                process.stdin.flush()
            buffers = await asyncio.gather(*futures)
            elapsed = time.monotonic() - started
        for process in producers:
            assert process.wait(timeout=60) == 0
        data = [bytes(b) for b in buffers]
        del buffers
        client.close()
        return data, elapsed

    data, elapsed = asyncio.run(consume())
    assert data == [name.encode() for name in names]
    REPORT.append(f"four producers, each sealing after 1 s, awaited with as_future + gather: {elapsed:.2f} s")
    assert 1.0 <= elapsed < 10.0  # ~1 s: the four waits overlap (four in a row would be 4 s)


def test_cancelling_a_future_or_task_withdraws_the_wait_in_the_store(store: Store) -> None:
    async def run() -> None:
        client = await sp.connect_async(store.path)
        with sp.connect(store.path) as observer:
            future = client.as_future(sp.ObjectID.random())
            task = asyncio.create_task(client.get(sp.ObjectID.random(), timeout=None))
            await until(lambda: pending_gets(observer) == 2, "both waits are in the store")
            future.cancel()
            await until(lambda: pending_gets(observer) == 1, "the future's wait is withdrawn")
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await until(lambda: pending_gets(observer) == 0, "the task's wait is withdrawn")
            assert client.pending == 0

            # A reply that races the cancellation is undone: its reference goes back.
            for _ in range(50):
                oid = sp.ObjectID.random()
                raced = client.as_future(oid)
                observer.put(oid, b"x")
                raced.cancel()
                await asyncio.sleep(0)
            await until(lambda: all(row.reference_count == 0 for row in observer.list()),
                        "every raced reply was released")
            assert len(observer.list()) == 50
        client.close()

    asyncio.run(run())


def test_close_fails_every_pending_future_clearly(store: Store) -> None:
    async def run() -> None:
        client = await sp.connect_async(store.path)
        futures = [client.as_future(sp.ObjectID.random()) for _ in range(100)]
        task = asyncio.create_task(client.get(sp.ObjectID.random()))
        stream = client.events()
        await asyncio.sleep(0)
        client.close()
        for future in futures:
            with pytest.raises(sp.DisconnectedError, match="the client closed the connection"):
                await future
        with pytest.raises(sp.DisconnectedError, match="closed"):
            await task
        with pytest.raises(sp.DisconnectedError):
            await stream.__anext__()
        with pytest.raises(sp.DisconnectedError):
            client.as_future(sp.ObjectID.random())

    asyncio.run(run())


def test_store_death_fails_pending_futures(store: Store) -> None:
    async def run() -> None:
        client = await sp.connect_async(store.path)
        futures = [client.as_future(sp.ObjectID.random()) for _ in range(10)]
        with sp.connect(store.path) as observer:
            await until(lambda: pending_gets(observer) == 10, "the waits are in the store")
        store.kill()
        results = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), timeout=30)
        assert all(isinstance(r, sp.DisconnectedError) and "closed the connection" in str(r) for r in results)
        assert client.closed

    asyncio.run(run())


def test_ten_thousand_pending_awaits_on_one_connection(store: Store) -> None:
    count = 10_000

    async def run() -> float:
        client = await sp.connect_async(store.path)
        ids = [sp.ObjectID.random() for _ in range(count)]
        futures = [client.as_future(i) for i in ids]
        with sp.connect(store.path) as producer:
            await until(lambda: pending_gets(producer) == count, f"{count} waits are in the store", 120)
            started = time.monotonic()
            for oid in ids:
                producer.put(oid, oid.binary())
            buffers = await asyncio.gather(*futures)
            elapsed = time.monotonic() - started
            assert all(bytes(b) == i.binary() for b, i in zip(buffers, ids))
            del buffers, futures  # a done future holds its result
            await until(lambda: producer.stats()["evictable_objects"] == count, "every buffer was released")
        client.close()
        return elapsed

    elapsed = asyncio.run(run())
    REPORT.append(f"{count} pending awaits on one connection, all resolved {elapsed:.2f} s after the first seal")


def test_get_timeout_names_the_id_and_get_many_keeps_order(store: Store) -> None:
    async def run() -> None:
        async with await sp.connect_async(store.path) as client:
            absent = sp.ObjectID.random()
            with pytest.raises(sp.ObjectTimeoutError, match=absent.hex()):
                await client.get(absent, timeout=0.05)
            ids = [sp.ObjectID.random() for _ in range(5)]
            for oid in reversed(ids):
                await client.put(oid, oid.binary(), metadata=b"m")
            buffers = await client.get_many(ids, timeout=0)
            assert [bytes(b) for b in buffers if b is not None] == [i.binary() for i in ids]
            partial = await client.get_many([ids[0], absent], timeout=0, missing_ok=True)
            assert partial[1] is None and partial[0] is not None and partial[0].metadata == b"m"
            big = sp.ObjectID.random()
            await client.put(big, bytes(1 << 20))
            assert await client.contains(big)
            await client.delete(big)
            assert not await client.contains(big)
            assert (await client.stats())["clients"] == 1
            del buffers, partial

    asyncio.run(run())


def test_event_streams_by_ids_prefix_and_all(store: Store) -> None:
    async def run() -> None:
        client = await sp.connect_async(store.path)
        with sp.connect(store.path) as producer:
            early = sp.ObjectID.random()
            producer.put(early, b"early")
            by_id = client.events(ids=[early])
            first = await asyncio.wait_for(by_id.__anext__(), 30)  # announced at once: no race
            assert first == sp.Event("sealed", early, 5, 0)

            prefixed = sp.ObjectID(b"\xab\xcd" + bytes(18))
            everything = client.events()
            by_prefix = client.events(prefix=b"\xab\xcd")
            await until(lambda: producer.stats()["subscriptions"] == 3, "three subscriptions")
            other = sp.ObjectID(b"\x01" + bytes(19))
            producer.put(other, b"1")
            producer.put(prefixed, b"22")
            producer.delete([other, prefixed])
            seen = [await asyncio.wait_for(everything.__anext__(), 30) for _ in range(4)]
            assert [(e.kind, e.object_id) for e in seen] == [
                ("sealed", other), ("sealed", prefixed), ("deleted", other), ("deleted", prefixed)]
            assert [await asyncio.wait_for(by_prefix.__anext__(), 30) for _ in range(2)] == [
                sp.Event("sealed", prefixed, 2, 0), sp.Event("deleted", prefixed)]

            producer.delete(early)
            async for event in by_id:  # leaving the loop unsubscribes
                assert event == sp.Event("deleted", early)
                break
            await by_prefix.aclose()
            async with everything:
                pass
            del by_id
            await until(lambda: producer.stats()["subscriptions"] == 0, "every subscription is gone")
        client.close()

    asyncio.run(run())


def test_cancelled_puts_leave_nothing_behind_and_the_connection_works(store: Store) -> None:
    async def run() -> None:
        client = await sp.connect_async(store.path)
        with sp.connect(store.path) as observer:
            for size in (64, 1 << 20):
                for _ in range(20):
                    task = asyncio.create_task(client.put(sp.ObjectID.random(), bytes(size)))
                    await asyncio.sleep(0)
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            await until(lambda: all(row.sealed and row.reference_count == 0 for row in observer.list()),
                        "no cancelled put holds a reference or an unsealed object")
            oid = sp.ObjectID.random()
            await client.put(oid, b"still works")
            assert bytes(await client.get(oid)) == b"still works"
        client.close()

    asyncio.run(run())


def test_create_write_in_place_and_seal_or_abort_on_the_asyncio_client(store: Store) -> None:
    async def run() -> None:
        client = await sp.connect_async(store.path)
        with sp.connect(store.path) as observer:
            oid = sp.ObjectID.random()
            waiting = client.as_future(oid)
            buffer = await client.create(oid, 8, metadata=b"meta")
            view = memoryview(buffer)
            view[:] = b"in place"
            with pytest.raises(sp.BufferInUseError):
                await buffer.seal()  # a view is alive: nothing may write after the seal
            del view
            buffer.as_numpy("uint8")[:1] = ord("I")  # the array is gone when the statement ends
            await buffer.seal()
            assert buffer.released
            found = await waiting
            assert bytes(found) == b"In place" and found.metadata == b"meta"
            found.close()
            await until(lambda: [(r.sealed, r.reference_count) for r in observer.list()] == [(True, 0)],
                        "the creator's reference is given back")
            assert bytes(observer.get(oid, timeout=0)) == b"In place"

            # async with: sealed on a normal exit, aborted when the block raised.
            sealed, aborted = sp.ObjectID.random(), sp.ObjectID.random()
            async with await client.create(sealed, 3) as created:
                memoryview(created)[:] = b"abc"
            with pytest.raises(RuntimeError, match="writer failed"):
                async with await client.create(aborted, 3) as created:
                    raise RuntimeError("writer failed")
            assert await client.contains(sealed) and not await client.contains(aborted)

            # Dropped unsealed: aborted with the connection's next request.
            dropped = sp.ObjectID.random()
            created = await client.create(dropped, 16)
            del created
            await client.contains(dropped)
            await until(lambda: dropped not in [r.object_id for r in observer.list()], "the dropped object is aborted")

            # Explicit abort; then the id is free again.
            again = await client.create(dropped, 4)
            await again.abort()
            assert not await client.contains(dropped)
            with pytest.raises(sp.BufferReleasedError):
                memoryview(again)

            # A seal cancelled at any point leaves no reference and no unsealed object behind.
            for delay in range(4):
                created = await client.create(sp.ObjectID.random(), 1 << 10)
                task = asyncio.create_task(created.seal())
                for _ in range(delay):
                    await asyncio.sleep(0)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await until(lambda: all(r.sealed and r.reference_count == 0 for r in observer.list()),
                        "no cancelled seal holds a reference or leaves an unsealed object")
            with pytest.raises(ValueError):
                await client.create(sp.ObjectID.random(), -1)
            with pytest.raises(sp.ObjectExistsError, match=sealed.hex()):
                await client.create(sealed, 1)
        client.close()

    asyncio.run(run())
