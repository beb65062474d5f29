"""NumPy arrays of Arrow columns and Arrow arrays of NumPy ones, through their buffers.

pyarrow's own `to_numpy` (and `np.asarray` of an Arrow array) goes through its pandas shim, which
imports pandas: about 0.15 s of every sessions ingest, taken while other threads wait for the GIL.
`pa.array`, `pa.scalar` and `pa.table` go the same way. The sessions path (readers of exports and
dumps, the merge, the id index) only needs numbers, booleans and a few strings without nulls,
which are plain buffers. (The small new-users collections still go through `pa.array`.)
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def values(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The values of an integer, date or boolean column without nulls (a copy only where chunks
    must be joined, or booleans unpacked from their bits)."""
    array = column
    if isinstance(array, pa.ChunkedArray):
        if not array.num_chunks:
            return np.zeros(0, _NUMPY_TYPES.get(array.type, np.int64))
        array = array.chunk(0) if array.num_chunks == 1 else pa.concat_arrays(array.chunks)
    if array.null_count:
        raise ValueError(f"a column with {array.null_count} nulls has no plain NumPy form")
    data = array.buffers()[1]
    if pa.types.is_boolean(array.type):
        if data is None:
            return np.zeros(0, np.bool_)
        bits = np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little")
        return bits[array.offset : array.offset + len(array)].astype(np.bool_)
    if not (pa.types.is_integer(array.type) or pa.types.is_date32(array.type)):
        raise TypeError(f"no plain NumPy form for {array.type}")
    width = array.type.bit_width // 8
    kind = "u" if pa.types.is_unsigned_integer(array.type) else "i"
    if data is None:
        return np.zeros(0, f"<{kind}{width}")
    return np.frombuffer(data, f"<{kind}{width}")[array.offset : array.offset + len(array)]


_ARROW_TYPES = {
    np.dtype(np.int16): pa.int16(),
    np.dtype(np.int32): pa.int32(),
    np.dtype(np.int64): pa.int64(),
    np.dtype(np.uint64): pa.uint64(),
    np.dtype(np.float64): pa.float64(),
}


_NUMPY_TYPES = {arrow: numpy for numpy, arrow in _ARROW_TYPES.items()} | {
    pa.bool_(): np.dtype(np.bool_),
    pa.date32(): np.dtype(np.int32),
}


def array(values: np.ndarray) -> pa.Array:
    """An Arrow array of a one-dimensional NumPy array of numbers or booleans (no nulls)."""
    if values.dtype == np.bool_:
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(_ARROW_TYPES[values.dtype], len(values), [None, pa.py_buffer(values)])


def binaries(data: np.ndarray | bytes, offsets: np.ndarray, valid: np.ndarray, kind: pa.DataType) -> pa.Array:
    """A string or binary Arrow array of type `kind` over bytes cut by `offsets` (int32 for string
    and binary, int64 for their large forms), null where not `valid`."""
    bitmap = None if valid.all() else array(valid).buffers()[1]
    used = data[: int(offsets[-1])]
    return pa.Array.from_buffers(kind, len(valid), [bitmap, pa.py_buffer(offsets), pa.py_buffer(used)])


def strings(texts: list[str | None]) -> pa.Array:
    """A large_string Arrow array of Python strings (None: null)."""
    encoded = [t.encode("utf-8") if t is not None else b"" for t in texts]
    offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    valid = np.array([t is not None for t in texts], np.bool_)
    return binaries(b"".join(encoded), offsets, valid, pa.large_string())


def text_where(mask: np.ndarray, text: str) -> pa.Array:
    """A string Arrow array: `text` where `mask`, null elsewhere."""
    raw = text.encode("utf-8")
    offsets = np.zeros(len(mask) + 1, np.int32)
    np.cumsum(mask.astype(np.int32) * len(raw), out=offsets[1:])
    return binaries(raw * int(mask.sum()), offsets, mask, pa.string())
