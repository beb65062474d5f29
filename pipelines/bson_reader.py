"""Read mongodump's BSON (concatenated documents) into Arrow, vectorised.

Documents are framed by their length prefix; then the top-level elements of every document of a
chunk are walked by a compiled loop, and the values are gathered into Arrow arrays with numpy, so
no Python runs per document. Of each document we keep the fields the counting reads (their BSON type and value); `staging/fields_from_bson.sql`
writes them as the Extended JSON a mongoexport would hold, so the same rules apply and a dump
gives the same lake as an export. A device (an embedded document) is converted to JSON once per
distinct device by libbson (python-bsonjs).

The walk over each document's elements is a small numba-compiled loop (compiled once, cached).
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

from pipelines.fields import FIELDS as STORED
from pipelines.fields import NAMES

FIELDS = NAMES  # the fields a document is walked for
CHUNK_BYTES = 64 * 1024 * 1024  # read at a time
MAX_BSON_DOCUMENT = 16 * 1024 * 1024 + 16 * 1024  # MongoDB's limit, with room for a dump's slack
BSON_KIND = {f.name: f.bson for f in STORED}
STRING, DOCUMENT, OBJECT_ID, DATE, NULL, INT32, INT64, DOUBLE = 2, 3, 7, 9, 10, 16, 18, 1
_HEX = np.array([f"{i:02x}".encode() for i in range(256)]).view(np.uint8).reshape(256, 2)


def _bytes_at(buf: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    """The `width` bytes at each position, as rows of a (len(at), width) array."""
    out = np.empty((len(at), width), np.uint8)
    _kernels()["take"](buf, at.astype(np.int64), width, out)
    return out


def _int32(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Little-endian int32 at each position (as int64)."""
    return _bytes_at(buf, at, 4).view("<i4").reshape(-1).astype(np.int64)


def _int64(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Little-endian int64 at each position."""
    return _bytes_at(buf, at, 8).view("<i8").reshape(-1)


def _float64(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    return _bytes_at(buf, at, 8).view("<f8").reshape(-1)


def _gather(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of each [start, start + length) range, concatenated, with Arrow offsets."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    out = np.empty(offsets[-1], np.uint8)
    _kernels()["copy"](buf, starts, offsets, out)
    return out, offsets


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
        if BSON_KIND[name] == "document":
            fields.append((f"{name}_json", pa.large_string()))
            continue
        fields.append((f"s_{name}", pa.large_string()))
        if BSON_KIND[name] == "id":
            fields.append((f"oid_{name}", pa.large_string()))
        fields += [(f"i_{name}", pa.int64()), (f"d_{name}", pa.float64())]
    return pa.schema(fields)


_KERNELS: dict = {}


def _kernels() -> dict:
    """The compiled loops (numba: compiled on first use, then cached beside this module)."""
    if not _KERNELS:
        _KERNELS.update(
            walk=_walk_kernel(), copy=_copy_kernel(), take=_take_kernel(), frame=_frame_kernel(), seek=_seek_kernel()
        )
    return _KERNELS


def _copy_kernel():
    from numba import njit

    @njit(cache=True, nogil=True)
    def copy(buf, starts, offsets, out):  # pragma: no cover - compiled
        for i in range(starts.shape[0]):
            start = starts[i]
            base = offsets[i]
            for j in range(offsets[i + 1] - base):
                out[base + j] = buf[start + j]

    return copy


def _take_kernel():
    from numba import njit

    @njit(cache=True, nogil=True)
    def take(buf, at, width, out):  # pragma: no cover - compiled
        for i in range(at.shape[0]):
            for j in range(width):
                out[i, j] = buf[at[i] + j]

    return take


def _frame_kernel():
    from numba import njit

    @njit(cache=True, nogil=True)
    def frame(buf, limit, starts, ends):  # pragma: no cover - compiled
        """Fill starts/ends with the whole documents of buf; return (count, stop, corrupt)."""
        position = 0
        count = 0
        size = buf.shape[0]
        while position + 4 <= size:
            length = (
                np.int64(buf[position])
                | (np.int64(buf[position + 1]) << 8)
                | (np.int64(buf[position + 2]) << 16)
                | (np.int64(buf[position + 3]) << 24)
            )
            if length < 5 or length > limit:
                return count, position, True
            if position + length > size:
                break
            starts[count] = position
            ends[count] = position + length
            count += 1
            position += length
        return count, position, False

    return frame


def _seek_kernel():
    from numba import njit

    @njit(cache=True, nogil=True)
    def seek(buf, start, limit):  # pragma: no cover - compiled
        """The next position after `start` that looks like a document start, or -1."""
        size = buf.shape[0]
        for q in range(start + 1, size - 6):
            length = (
                np.int64(buf[q])
                | (np.int64(buf[q + 1]) << 8)
                | (np.int64(buf[q + 2]) << 16)
                | (np.int64(buf[q + 3]) << 24)
            )
            if length < 7 or length > limit or q + length > size or buf[q + length - 1] != 0:
                continue
            kind = buf[q + 4]
            if not (1 <= kind <= 19 or kind == 127 or kind == 255):
                continue
            first = buf[q + 5]  # a field name starts with a printable character
            if 33 <= first <= 126:
                return q
        return -1

    return seek


def _walk_kernel():
    """The element walker."""
    from numba import njit

    @njit(cache=True, nogil=True)
    def walk(buf, starts, ends, names, name_offsets, kinds, positions, sizes, bad):  # pragma: no cover - compiled
        fields = name_offsets.shape[0] - 1
        for d in range(starts.shape[0]):
            position = np.int64(starts[d] + 4)
            last = ends[d] - 1  # the document's closing NUL
            ok = True
            while True:
                if position > last:
                    ok = False
                    break
                kind = buf[position]
                if kind == 0:
                    ok = position == last
                    break
                name_start = position + 1
                name_end = name_start
                while name_end < last and buf[name_end] != 0:
                    name_end += 1
                if name_end >= last:
                    ok = False
                    break
                value = name_end + 1
                size = np.int64(-1)
                if kind == 1 or kind == 9 or kind == 17 or kind == 18:
                    size = 8
                elif kind == 7:
                    size = 12
                elif kind == 8:
                    size = 1
                elif kind == 16:
                    size = 4
                elif kind == 19:
                    size = 16
                elif kind == 6 or kind == 10 or kind == 127 or kind == 255:
                    size = 0
                elif kind == 11:  # regex: two cstrings
                    end = value
                    while end < last and buf[end] != 0:
                        end += 1
                    end += 1
                    while end < last and buf[end] != 0:
                        end += 1
                    size = end + 1 - value
                elif kind in (2, 3, 4, 5, 12, 13, 14, 15):
                    if value + 4 > last:
                        ok = False
                        break
                    length = (
                        np.int64(buf[value])
                        | (np.int64(buf[value + 1]) << 8)
                        | (np.int64(buf[value + 2]) << 16)
                        | (np.int64(buf[value + 3]) << 24)
                    )
                    if length >= 2147483648:
                        length -= 4294967296
                    if kind == 2 or kind == 13 or kind == 14:
                        size = 4 + length
                    elif kind == 5:
                        size = 5 + length
                    elif kind == 12:
                        size = 16 + length
                    else:
                        size = length
                if size < 0 or value + size > last:
                    ok = False
                    break
                length = name_end - name_start
                for f in range(fields):
                    if kinds[d, f] != 0 or name_offsets[f + 1] - name_offsets[f] != length:
                        continue
                    same = True
                    for j in range(length):
                        if buf[name_start + j] != names[name_offsets[f] + j]:
                            same = False
                            break
                    if same:
                        kinds[d, f] = kind
                        positions[d, f] = value
                        sizes[d, f] = size
                        break
                position = value + size
            if not ok:
                bad[d] = True

    return walk


_NAMES = np.frombuffer(b"".join(f.encode() for f in FIELDS), np.uint8)
_NAME_OFFSETS = np.cumsum([0] + [len(f) for f in FIELDS]).astype(np.int64)


def scan(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[dict, np.ndarray]:
    """Walk the top-level elements of the documents [starts, ends); per wanted field, its type and value.

    Returns ({field: (type codes, value positions, value sizes)}, bad): type code 0 where the
    field is absent; `bad` marks documents whose elements do not add up.
    """
    n = len(starts)
    kinds = np.zeros((n, len(FIELDS)), np.int16)
    positions = np.zeros((n, len(FIELDS)), np.int64)
    sizes = np.zeros((n, len(FIELDS)), np.int64)
    bad = np.zeros(n, np.bool_)
    _kernels()["walk"](buf, starts, ends, _NAMES, _NAME_OFFSETS, kinds, positions, sizes, bad)
    found = {f: (kinds[:, i].copy(), positions[:, i].copy(), sizes[:, i].copy()) for i, f in enumerate(FIELDS)}
    return found, bad


def columns(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> dict[str, pa.Array]:
    """The Arrow columns fields_from_bson.sql reads, for documents [starts, ends) of `buf`."""
    found, bad = scan(buf, starts, ends)
    out: dict[str, pa.Array] = {}
    for field, (codes, positions, sizes) in found.items():
        codes = np.where(bad, 0, codes)
        out[f"k_{field}"] = pa.array(codes.astype(np.int16))
        is_string = codes == STRING
        if BSON_KIND[field] == "document":
            is_document = codes == DOCUMENT
            raw = _binary(buf, positions, sizes, is_document, string=False)
            distinct = pc.unique(raw.drop_null())
            texts = pa.array([_document_json(d.as_py()) for d in distinct], pa.large_string())
            out[f"{field}_json"] = pc.take(texts, pc.index_in(raw, value_set=distinct))
            # a subdocument libbson cannot read (a bad byte inside it) makes its document bad
            bad |= is_document & out[f"{field}_json"].is_null().to_numpy(zero_copy_only=False)
            continue
        # strings: int32 length (with its trailing NUL) then the bytes
        lengths = np.zeros(len(codes), np.int64)
        if is_string.any():
            lengths[is_string] = _int32(buf, positions[is_string]) - 1
        text, invalid = _utf8(_binary(buf, positions + 4, lengths, is_string & (lengths >= 0), string=False))
        out[f"s_{field}"] = text
        bad |= invalid
        if BSON_KIND[field] == "id":
            is_oid = codes == OBJECT_ID
            hexed = np.zeros((len(codes), 24), np.uint8)
            if is_oid.any():
                raw = buf[positions[is_oid][:, None] + np.arange(12)]
                hexed[is_oid] = _HEX[raw].reshape(-1, 24)
            out[f"oid_{field}"] = _binary(
                hexed.reshape(-1), np.arange(len(codes)) * 24, np.full(len(codes), 24), is_oid, string=True
            )
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
    out["bad"] = pa.array(bad)
    return out


def _document_json(raw: bytes) -> str | None:
    """A subdocument (a device) as relaxed Extended JSON; None when it is not valid BSON."""
    import bsonjs

    try:
        return bsonjs.dumps(raw)
    except ValueError:
        return None


def _utf8(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Binary strings as Arrow strings, and which of them are not UTF-8 (nulled; BSON requires UTF-8)."""
    try:
        return values.cast(pa.large_string()), np.zeros(len(values), np.bool_)
    except pa.ArrowInvalid:  # rare: find the bad ones one by one
        invalid = np.zeros(len(values), np.bool_)
        for i, value in enumerate(values.to_pylist()):
            if value is not None:
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    invalid[i] = True
        return pc.if_else(pa.array(invalid), pa.scalar(None, values.type), values).cast(pa.large_string()), invalid


def _frame(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, str | None]:
    """Document starts and ends in `buf`; where the whole documents stop; a framing problem."""
    most = len(buf) // 5 + 1
    starts = np.empty(most, np.int64)
    ends = np.empty(most, np.int64)
    count, stop, corrupt = _kernels()["frame"](buf, MAX_BSON_DOCUMENT, starts, ends)
    return starts[:count], ends[:count], int(stop), "corrupt_bson" if corrupt else None


def _resync(view: np.ndarray, stop: int) -> int:
    """After a broken length at `stop`: where the next whole, well-formed document starts (-1: none here)."""
    seek = _kernels()["seek"]
    position = stop
    while (position := seek(view, position, MAX_BSON_DOCUMENT)) >= 0:
        length = int(view[position : position + 4].view("<i4")[0])
        starts = np.array([position], np.int64)
        found, bad = scan(view, starts, starts + length)
        if not bad[0] and any(codes[0] for codes, _, _ in found.values()):
            return position
    return -1


def _problem_row(number: int, offset: int, reason: str) -> pa.Table:
    schema = _schema()
    values = {"line_no": [number], "offset": [offset], "known_reason": [reason]}
    return pa.table({f.name: pa.array(values.get(f.name, [None]), f.type) for f in schema})


def damage_table(damage, number: int) -> pa.Table:
    """The reject row of a damaged .bson.gz (pipelines/gzipped.py), numbered after the last document."""
    return _problem_row(number, damage.offset, damage.reason)


def bson_batches(stream: BinaryIO) -> Iterator[pa.Table]:
    """Yield one table per chunk: line_no (document number), offset, known_reason and the field columns.

    Broken framing is reported once, at its offset, as corrupt_bson; reading resumes at the next
    place where a well-formed document starts, so every readable document is kept.
    """
    buffer = b""
    base = 0  # file offset of buffer[0]
    number = 0
    lost = False  # inside a corrupt stretch, looking for the next document
    ended = False
    while True:
        if not ended:
            block = stream.read(CHUNK_BYTES)
            ended = not block
            buffer = buffer + block if buffer else block
        view = np.frombuffer(buffer, np.uint8)
        skip = 0
        if lost:
            found = _resync(view, -1)
            if found < 0:
                if ended:
                    return
                # keep the tail: a document may start there and end in the next block
                skip = max(0, len(buffer) - MAX_BSON_DOCUMENT)
                base += skip
                buffer = buffer[skip:]
                continue
            lost = False
            skip = found
            view = view[skip:]
        s, e, stop, problem = _frame(view)
        if len(s):
            cols = columns(view, s, e)
            count = len(s)
            bad = cols.pop("bad")
            table = pa.table(
                {
                    "line_no": pa.array(np.arange(number + 1, number + count + 1)),
                    "offset": pa.array(s + base + skip),
                    "known_reason": pc.if_else(bad, pa.scalar("bad_bson"), pa.scalar(None, pa.string())),
                    **cols,
                }
            ).select(_schema().names)
            number += count
            yield table
        stop += skip
        if problem:
            number += 1
            yield _problem_row(number, base + stop, problem)
            lost = True
            base += stop + 1
            buffer = buffer[stop + 1 :]
            continue
        if ended:
            if stop < len(buffer):
                number += 1
                yield _problem_row(number, base + stop, "truncated_bson")
            return
        base += stop
        buffer = buffer[stop:]
