import numpy as np

import swiftplasma as sp

with sp.connect() as client:  # $PLASMA_STORE_SOCKET, else /tmp/plasma.sock
    oid = sp.ObjectID.from_name("weights/v3")  # the same id as Swift's ObjectID(name: "weights/v3")
    client.put(oid, np.arange(1_000_000, dtype=np.float32), metadata=b"f32")

    # Any process: wait up to 5 s for it, then read it in place (no copy, read-only).
    with client.get(oid, timeout=5) as buffer:
        weights = buffer.as_numpy(np.float32)
        print(buffer.metadata, weights.sum())
        del weights  # views end before the buffer is released

    # Large objects: write in place, then seal.
    with client.create(sp.ObjectID.random(), 8 << 20) as created:  # sealed at the end of the block
        created.as_numpy(np.uint8)[:] = 7
