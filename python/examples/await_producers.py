import asyncio
import multiprocessing
import time

import swiftplasma as sp


def produce(name: str) -> None:  # a producer process: a second of work, then seal the result
    time.sleep(1)
    with sp.connect() as client:
        client.put(sp.ObjectID.from_name(name), f"result of {name}".encode())


async def main() -> None:
    client = await sp.connect_async()  # $PLASMA_STORE_SOCKET, else /tmp/plasma.sock
    names = [f"task-{i}" for i in range(4)]
    producers = [multiprocessing.Process(target=produce, args=(name,)) for name in names]
    for producer in producers:
        producer.start()
    started = time.monotonic()
    # Four waits sit in the store at once; each resolves when its producer seals.
    buffers = await asyncio.gather(*(client.as_future(sp.ObjectID.from_name(n)) for n in names))
    print([bytes(b) for b in buffers], f"after {time.monotonic() - started:.1f} s")  # ~1 s, not 4
    for producer in producers:
        producer.join()


if __name__ == "__main__":
    asyncio.run(main())
