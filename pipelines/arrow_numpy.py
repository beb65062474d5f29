"""NumPy arrays of Arrow columns and Arrow arrays of NumPy ones, through their buffers.

pyarrow's own `to_numpy` (and `np.asarray` of an Arrow array) goes through its pandas shim, which
imports pandas: about 0.15 s of every sessions ingest, taken while other threads wait for the GIL.
`pa.array`, `pa.scalar` and `pa.table` (of NumPy arrays or Python lists) go the same way. What the
readers, the merge and the id index need are numbers, booleans and strings, which are plain
buffers: every Arrow array the ingest makes of NumPy or Python values is made here.
"""

from __future__ import annotations

from collections.abc import Sequence

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


def texts(values: Sequence[str | bytes | None], kind: pa.DataType = pa.large_string()) -> pa.Array:
    """An Arrow array of Python strings or bytes (None: null) of a string or binary `kind`."""
    encoded = [b"" if v is None else v.encode("utf-8") if isinstance(v, str) else v for v in values]
    offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, encoded), np.int64, len(encoded)), out=offsets[1:])
    valid = np.fromiter((v is not None for v in values), np.bool_, len(values))
    large = pa.large_string() if pa.types.is_string(kind) or pa.types.is_large_string(kind) else pa.large_binary()
    made = binaries(b"".join(encoded), offsets, valid, large)
    return made if made.type == kind else made.cast(kind)


def integers(values: Sequence[int] | range) -> pa.Array:
    """An int64 Arrow array of Python integers (no nulls)."""
    return array(np.fromiter(values, np.int64, len(values)))


def empty_table(schema: pa.Schema) -> pa.Table:
    """A table of `schema` with no rows (`Schema.empty_table()` goes through the pandas shim too)."""
    return pa.Table.from_batches([], schema)


def text_where(mask: np.ndarray, text: str) -> pa.Array:
    """A string Arrow array: `text` where `mask`, null elsewhere."""
    raw = text.encode("utf-8")
    offsets = np.zeros(len(mask) + 1, np.int32)
    np.cumsum(mask.astype(np.int32) * len(raw), out=offsets[1:])
    return binaries(raw * int(mask.sum()), offsets, mask, pa.string())
