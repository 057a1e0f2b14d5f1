"""Zero-copy interop: numpy 2 arrays and a pyarrow IPC stream passed between processes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import swiftplasma as sp
from conftest import Store
from helpers import run_python


def test_as_numpy_views_the_arena_with_dtype_and_shape(store: Store) -> None:
    assert np.__version__.startswith("2")
    with sp.connect(store.path) as client:
        matrix = np.arange(12, dtype=np.float32).reshape(3, 4)
        oid = sp.ObjectID.random()
        client.put(oid, matrix)
        buffer = client.get(oid)
        view = buffer.as_numpy(np.float32, (3, 4))
        assert np.array_equal(view, matrix)
        assert not view.flags.writeable  # a gotten object is read-only
        with pytest.raises(ValueError):
            view[0, 0] = 1
        # Zero copy: the array's memory is the buffer's memory.
        assert view.ctypes.data == np.frombuffer(buffer, np.uint8).ctypes.data
        with pytest.raises(sp.BufferInUseError):
            buffer.close()
        del view
        buffer.close()
        with pytest.raises(sp.BufferReleasedError):
            buffer.as_numpy(np.float32)

        # Writing in place through numpy before the seal.
        created = client.create(sp.ObjectID.from_name("numpy/in-place"), 8 * 1000)
        target = created.as_numpy(np.int64)
        target[:] = np.arange(1000)
        assert target.flags.writeable
        del target
        created.seal()
        with client.get(sp.ObjectID.from_name("numpy/in-place")) as back:
            assert int(back.as_numpy(np.int64).sum()) == sum(range(1000))


WRITER = """
    import sys
    import pandas as pd, pyarrow as pa, swiftplasma as sp
    frame = pd.DataFrame({"n": range(100_000), "x": [i * 0.5 for i in range(100_000)],
                          "s": [f"row {i}" for i in range(100_000)]})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.MockOutputStream()                       # first the size of the stream
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    with sp.connect(sys.argv[1]) as client:
        buffer = client.create(sp.ObjectID.from_name("frames/example"), sink.size(), metadata=b"arrow-ipc")
        stream = pa.FixedSizeBufferWriter(pa.py_buffer(buffer))   # written in place in the arena
        with pa.ipc.new_stream(stream, table.schema) as writer:
            writer.write_table(table)
        del stream, writer                             # the writer's views end before the seal
        buffer.seal()
"""

READER = """
    import sys
    import pyarrow as pa, swiftplasma as sp
    with sp.connect(sys.argv[1]) as client:
        buffer = client.get(sp.ObjectID.from_name("frames/example"), timeout=60)
        arrow = pa.py_buffer(buffer)
        table = pa.ipc.open_stream(arrow).read_all()
        start, end = arrow.address, arrow.address + arrow.size
        # Zero copy: every column buffer of the table lies inside the object's bytes in the arena.
        inside = all(start <= b.address and b.address + b.size <= end
                     for column in table.columns for chunk in column.chunks for b in chunk.buffers() if b is not None)
        frame = table.to_pandas()
        print(buffer.metadata.decode(), table.num_rows, inside, frame["n"].sum(), frame["x"].sum(), frame["s"].iloc[-1])
        del table, arrow, frame
        buffer.close()
"""


def test_a_dataframe_written_as_arrow_ipc_by_one_process_is_read_zero_copy_by_another(store: Store) -> None:
    assert int(pa.__version__.split(".")[0]) >= 15
    run_python(WRITER, store.path)
    output = run_python(READER, store.path).split()
    assert output == ["arrow-ipc", "100000", "True", str(sum(range(100_000))),
                      str(sum(i * 0.5 for i in range(100_000))), "row", "99999"]
