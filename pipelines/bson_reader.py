"""Read mongodump's BSON (concatenated documents) into Arrow, vectorised.

Documents are framed by their length prefix; then the top-level elements of all the documents of
a chunk are walked together, one element of every document per numpy step, so the cost is a few
array operations per element position rather than Python work per document. Of each document we
keep the fields the counting reads (their BSON type and value); `staging/fields_from_bson.sql`
writes them as the Extended JSON a mongoexport would hold, so the same rules apply and a dump
gives the same lake as an export. A device (an embedded document) is converted to JSON once per
distinct device by libbson (python-bsonjs).

A document whose elements do not add up is rejected (`bad_bson`) with its byte offset; when the
framing itself is broken (a length that cannot be), the rest of the file is reported unreadable
from that offset (`corrupt_bson`, or `truncated_bson` at the end of the file), and everything
before it is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.readers import CHUNK_BYTES, MAX_BSON_DOCUMENT

FIELDS = (
    "_id", "type", "userId", "device", "loginAt", "lastActivityAt", "closedAt", "_updatedAt",
    "mostImportantRole", "year", "month", "day",
)
STRING, DOCUMENT, OBJECT_ID, DATE, NULL, INT32, INT64, DOUBLE = 2, 3, 7, 9, 10, 16, 18, 1
# value sizes of the fixed-size BSON types; -1: sized by a prefix or cstrings; -2: not a type
_FIXED = np.full(256, -2, dtype=np.int64)
for _code, _size in {1: 8, 6: 0, 7: 12, 8: 1, 9: 8, 10: 0, 16: 4, 17: 8, 18: 8, 19: 16, 127: 0, 255: 0}.items():
    _FIXED[_code] = _size
for _code in (2, 3, 4, 5, 11, 12, 13, 14, 15):
    _FIXED[_code] = -1
_HEX = np.array([f"{i:02x}".encode() for i in range(256)]).view(np.uint8).reshape(256, 2)


def _int32(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Little-endian int32 at each position."""
    b = buf[at[:, None] + np.arange(4)].astype(np.int64)
    value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16) | (b[:, 3] << 24)
    return np.where(value >= 1 << 31, value - (1 << 32), value)


def _int64(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Little-endian int64 at each position."""
    return buf[at[:, None] + np.arange(8)].copy().view("<i8").reshape(-1)


def _float64(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    return buf[at[:, None] + np.arange(8)].copy().view("<f8").reshape(-1)


def _gather(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of each [start, start + length) range, concatenated, with Arrow offsets."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    index = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
    return buf[index], offsets


def _binary(buf, starts, lengths, valid, string: bool) -> pa.Array:
    """Arrow (large) strings or binaries of the ranges where `valid`, nulls elsewhere."""
    lengths = np.where(valid, lengths, 0)
    data, offsets = _gather(buf, np.where(valid, starts, 0), lengths)
    kind = pa.large_string() if string else pa.large_binary()
    bitmap = None if valid.all() else pa.array(valid).buffers()[1]
    return pa.Array.from_buffers(kind, len(lengths), [bitmap, pa.py_buffer(offsets), pa.py_buffer(data)])


def _schema() -> pa.Schema:
    """The columns of a batch (fields_from_bson.sql reads them)."""
    fields = [("line_no", pa.int64()), ("offset", pa.int64()), ("known_reason", pa.string())]
    for name in FIELDS:
        fields.append((f"k_{name}", pa.int16()))
        if name == "device":
            fields.append(("device_json", pa.large_string()))
            continue
        fields.append((f"s_{name}", pa.large_string()))
        if name == "_id":
            fields.append(("oid__id", pa.large_string()))
        fields += [(f"i_{name}", pa.int64()), (f"d_{name}", pa.float64())]
    return pa.schema(fields)


def scan(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[dict, np.ndarray]:
    """Walk the top-level elements of the documents [starts, ends); per wanted field, its type and value.

    Returns ({field: (type codes, value positions, value sizes)}, bad): type code 0 where the
    field is absent; `bad` marks documents whose elements do not add up.
    """
    n = len(starts)
    nul = np.flatnonzero(buf == 0)
    found = {f: (np.zeros(n, np.int16), np.zeros(n, np.int64), np.zeros(n, np.int64)) for f in FIELDS}
    names = [(f, np.frombuffer(f.encode(), np.uint8)) for f in FIELDS]
    cursor = starts + 4
    bad = np.zeros(n, bool)
    alive = np.flatnonzero(ends - starts >= 5)
    bad[ends - starts < 5] = True
    while len(alive):
        at = cursor[alive]
        kind = buf[at].astype(np.int64)
        finished = kind == 0
        bad[alive[finished & (at != ends[alive] - 1)]] = True  # a document ends where its length says
        alive, at, kind = alive[~finished], at[~finished], kind[~finished]
        if not len(alive):
            break
        name_start = at + 1
        k = np.searchsorted(nul, name_start)
        no_name = k >= len(nul)
        name_end = nul[np.minimum(k, len(nul) - 1)]
        value = name_end + 1
        size = _FIXED[kind]
        limit = ends[alive] - 1
        prefixed = size == -1
        if prefixed.any():
            p = np.flatnonzero(prefixed)
            readable = value[p] + 4 <= limit[p]
            length = np.zeros(len(p), np.int64)
            length[readable] = _int32(buf, value[p][readable])
            pk = kind[p]
            extra = np.select([np.isin(pk, (2, 13, 14)), np.isin(pk, (3, 4, 15)), pk == 5, pk == 12],
                              [length + 4, length, length + 5, length + 16], default=-2)
            extra[~readable] = -2
            regex = pk == 11
            if regex.any():
                r = np.flatnonzero(regex)
                first = nul[np.minimum(np.searchsorted(nul, value[p][r]), len(nul) - 1)]
                second = nul[np.minimum(np.searchsorted(nul, first + 1), len(nul) - 1)]
                extra[r] = second + 1 - value[p][r]
            size = size.copy()
            size[p] = extra
        following = value + size
        broken = no_name | (size < 0) | (following > limit) | (name_end >= limit)
        for field, name in names:
            codes, positions, sizes = found[field]
            match = (name_end - name_start == len(name)) & ~broken
            candidates = np.flatnonzero(match)
            for j, byte in enumerate(name):
                if not len(candidates):
                    break
                candidates = candidates[buf[name_start[candidates] + j] == byte]
            docs = alive[candidates]
            first_time = codes[docs] == 0
            docs, candidates = docs[first_time], candidates[first_time]
            codes[docs] = kind[candidates]
            positions[docs] = value[candidates]
            sizes[docs] = size[candidates]
        bad[alive[broken]] = True
        cursor[alive] = following
        alive = alive[~broken]
    return found, bad


def columns(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> dict[str, pa.Array]:
    """The Arrow columns fields_from_bson.sql reads, for documents [starts, ends) of `buf`."""
    import bsonjs

    found, bad = scan(buf, starts, ends)
    out: dict[str, pa.Array] = {"bad": pa.array(bad)}
    for field, (codes, positions, sizes) in found.items():
        codes = np.where(bad, 0, codes)
        out[f"k_{field}"] = pa.array(codes.astype(np.int16))
        is_string = codes == STRING
        if field == "device":
            is_document = codes == DOCUMENT
            raw = _binary(buf, positions, sizes, is_document, string=False)
            distinct = pc.unique(raw.drop_null())
            texts = pa.array([bsonjs.dumps(d.as_py()) for d in distinct], pa.large_string())
            out["device_json"] = pc.take(texts, pc.index_in(raw, value_set=distinct))
            continue
        # strings: int32 length (with its trailing NUL) then the bytes
        lengths = np.zeros(len(codes), np.int64)
        if is_string.any():
            lengths[is_string] = _int32(buf, positions[is_string]) - 1
        out[f"s_{field}"] = _binary(buf, positions + 4, lengths, is_string & (lengths >= 0), string=True)
        if field == "_id":
            is_oid = codes == OBJECT_ID
            hexed = np.zeros((len(codes), 24), np.uint8)
            if is_oid.any():
                raw = buf[positions[is_oid][:, None] + np.arange(12)]
                hexed[is_oid] = _HEX[raw].reshape(-1, 24)
            out["oid__id"] = _binary(hexed.reshape(-1), np.arange(len(codes)) * 24, np.full(len(codes), 24), is_oid,
                                     string=True)
        numbers = np.zeros(len(codes), np.int64)
        doubles = np.zeros(len(codes), np.float64)
        for code, reader in ((INT32, _int32), (INT64, _int64), (DATE, _int64)):
            chosen = codes == code
            if chosen.any():
                numbers[chosen] = reader(buf, positions[chosen])
        chosen = codes == DOUBLE
        if chosen.any():
            doubles[chosen] = _float64(buf, positions[chosen])
        out[f"i_{field}"] = pa.array(numbers)
        out[f"d_{field}"] = pa.array(doubles)
    return out


def _frame(data: bytes, base: int) -> tuple[list[int], list[int], int, str | None]:
    """Document starts and ends in `data`; where the whole documents stop; a framing problem."""
    starts: list[int] = []
    ends: list[int] = []
    position = 0
    size = len(data)
    from_bytes = int.from_bytes
    while position + 4 <= size:
        length = from_bytes(data[position : position + 4], "little")
        if length < 5 or length > MAX_BSON_DOCUMENT:
            return starts, ends, position, "corrupt_bson"
        if position + length > size:
            break
        starts.append(position)
        position += length
        ends.append(position)
    return starts, ends, position, None


def bson_batches(stream: BinaryIO) -> Iterator[pa.Table]:
    """Yield one table per chunk: line_no (document number), offset, known_reason and the field columns."""
    buffer = b""
    base = 0  # file offset of buffer[0]
    number = 0
    while True:
        block = stream.read(CHUNK_BYTES)
        ended = not block
        buffer = buffer + block if buffer else block
        starts, ends, stop, problem = _frame(buffer, base)
        if starts:
            s, e = np.array(starts, np.int64), np.array(ends, np.int64)
            cols = columns(np.frombuffer(buffer, np.uint8), s, e)
            count = len(starts)
            bad = cols.pop("bad")
            table = pa.table({
                "line_no": pa.array(np.arange(number + 1, number + count + 1)),
                "offset": pa.array(s + base),
                "known_reason": pc.if_else(bad, pa.scalar("bad_bson"), pa.scalar(None, pa.string())),
                **cols,
            }).select(_schema().names)
            number += count
            yield table
        if problem or (ended and stop < len(buffer)):
            number += 1
            schema = _schema()
            values = {"line_no": [number], "offset": [base + stop], "known_reason": [problem or "truncated_bson"]}
            yield pa.table({f.name: pa.array(values.get(f.name, [None]), f.type) for f in schema})
            return
        if ended:
            return
        base += stop
        buffer = buffer[stop:]
