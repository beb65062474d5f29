"""Read mongodump's BSON (concatenated documents) into Arrow, vectorised.

Documents are framed by their length prefix; then the top-level elements of every document of a
chunk are walked by a compiled loop, which notes each wanted field's BSON type and value, and the
values are gathered into Arrow arrays with numpy, so no Python runs per document. Of each document
we keep the fields the lake stores, each in the form its stored type is made from (text for a
string field, milliseconds for a date, integer and double for a number);
`staging/typed_from_bson.sql` types them as `staging/typed_from_json.sql` types the Extended JSON
a mongoexport writes for the same document, so a dump gives the same lake as an export. A device
(an embedded document) is converted to JSON once per distinct device by libbson (python-bsonjs).

The walk over each document's elements is a small numba-compiled loop (compiled once, cached).
A document whose elements do not add up is rejected (`bad_bson`) with its byte offset; when the
framing itself is broken (a length that cannot be), the rest of the file is reported unreadable
from that offset (`corrupt_bson`, or `truncated_bson` at the end of the file), and everything
before it is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines import arrow_numpy
from pipelines.fields import FIELDS as STORED
from pipelines.fields import NAMES

FIELDS = NAMES  # the fields a document is walked for
CHUNK_BYTES = 64 * 1024 * 1024  # read at a time
MAX_BSON_DOCUMENT = 16 * 1024 * 1024 + 16 * 1024  # MongoDB's limit, with room for a dump's slack
STRING, DOCUMENT, OBJECT_ID = 2, 3, 7  # BSON type codes the reader handles itself (the SQL reads the rest)
_HEX = np.array([f"{i:02x}".encode() for i in range(256)]).view(np.uint8).reshape(256, 2)


def _schema() -> pa.Schema:
    """The columns of a batch (staging/typed_from_bson.sql reads them): per field its type code, and
    the value in the form its stored type is typed from."""
    fields = [("line_no", pa.int64()), ("offset", pa.int64()), ("known_reason", pa.string())]
    for field in STORED:
        name = field.name
        fields.append((f"k_{name}", pa.int16()))
        if field.bson == "document":
            fields.append((f"{name}_json", pa.large_string()))
        elif field.stored == "string":
            fields.append((f"s_{name}", pa.large_string()))
            if field.bson == "id":
                fields.append((f"oid_{name}", pa.large_string()))
        elif field.stored == "timestamp":
            fields.append((f"i_{name}", pa.int64()))
        else:
            fields += [(f"i_{name}", pa.int64()), (f"d_{name}", pa.float64())]
    return pa.schema(fields)


def _kernels():
    """The compiled loops (pipelines/inputs/bson_kernels.py: numba, imported on first use)."""
    from pipelines.inputs import bson_kernels

    return bson_kernels


# the type code whose bytes a field collects (0: none), and its row in the collected bytes (-1: none)
_COLLECT = np.array(
    [DOCUMENT if f.bson == "document" else STRING if f.stored == "string" else 0 for f in STORED], np.int16
)


def walk_fields(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, names: list[str], collect: np.ndarray
) -> tuple[dict, np.ndarray]:
    """Walk the top-level elements of the documents [starts, ends) for the fields `names`; per field its
    type and value, and the bytes of the fields whose `collect` is their type code (a string's text, a
    subdocument whole, which can be walked in turn).

    Returns ({field: (type codes, value positions, numbers, collected bytes or None, their offsets)}, bad):
    type code 0 where the field is absent; `bad` marks documents whose elements do not add up.
    """
    n, width = len(starts), len(names)
    name_bytes = np.frombuffer(b"".join(f.encode() for f in names), np.uint8)
    name_offsets = np.cumsum([0] + [len(f.encode()) for f in names]).astype(np.int64)
    rows = np.where(collect > 0, np.cumsum(collect > 0) - 1, -1).astype(np.int64)
    kinds = np.zeros((width, n), np.int16)
    positions = np.zeros((width, n), np.int64)
    numbers = np.zeros((width, n), np.int64)
    # a string or subdocument field collects at most the chunk's bytes (np.empty's pages take
    # memory only once written)
    collecting = int((collect > 0).sum())
    data = np.empty((collecting, len(buf) if n else 0), np.uint8)
    offsets = np.zeros((collecting, n + 1), np.int64)
    bad = np.zeros(n, np.bool_)
    _kernels().walk(
        buf, starts, ends, name_bytes, name_offsets, collect, rows, kinds, positions, numbers, data, offsets, bad
    )
    found = {}
    for i, f in enumerate(names):
        row = rows[i]
        collected = (data[row], offsets[row]) if row >= 0 else (None, None)
        found[f] = (kinds[i], positions[i], numbers[i], *collected)
    return found, bad


def scan(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[dict, np.ndarray]:
    """walk_fields for the sessions' stored fields."""
    return walk_fields(buf, starts, ends, FIELDS, _COLLECT)


def object_ids(buf: np.ndarray, codes: np.ndarray, positions: np.ndarray) -> pa.Array:
    """The 24-character hex of each ObjectId value (type code 7) at `positions`; null elsewhere."""
    is_oid = codes == OBJECT_ID
    hexed = np.zeros((len(codes), 24), np.uint8)
    if is_oid.any():
        raw = buf[positions[is_oid][:, None] + np.arange(12)]
        hexed[is_oid] = _HEX[raw].reshape(-1, 24)
    hex_offsets = np.arange(len(codes) + 1, dtype=np.int64) * 24
    return arrow_numpy.binaries(hexed.reshape(-1), hex_offsets, is_oid, pa.large_string())


def columns(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[dict[str, pa.Array], np.ndarray]:
    """The Arrow columns typed_from_bson.sql reads, for documents [starts, ends) of `buf`; which
    documents are bad (their elements do not add up, or a value is not what BSON allows)."""
    found, bad = scan(buf, starts, ends)
    out: dict[str, pa.Array] = {}
    for field in STORED:
        codes, positions, numbers, data, offsets = found[field.name]
        codes = np.where(bad, 0, codes)
        name = field.name
        out[f"k_{name}"] = arrow_numpy.array(codes)
        if field.bson == "document":
            is_document = codes == DOCUMENT
            raw = arrow_numpy.binaries(data, offsets, is_document, pa.large_binary())
            distinct = pc.unique(raw.drop_null())
            texts = arrow_numpy.texts([_document_json(d.as_py()) for d in distinct])
            out[f"{name}_json"] = pc.take(texts, pc.index_in(raw, value_set=distinct))
            # a subdocument libbson cannot read (a bad byte inside it) makes its document bad
            bad |= is_document & arrow_numpy.values(out[f"{name}_json"].is_null())
        elif field.stored == "string":
            text, invalid = _utf8(arrow_numpy.binaries(data, offsets, codes == STRING, pa.large_binary()))
            out[f"s_{name}"] = text
            bad |= invalid
            if field.bson == "id":
                out[f"oid_{name}"] = object_ids(buf, codes, positions)
        elif field.stored == "timestamp":
            out[f"i_{name}"] = arrow_numpy.array(numbers)
        else:  # a whole number: from an int32, an int64 or a double
            out[f"i_{name}"] = arrow_numpy.array(numbers)
            out[f"d_{name}"] = arrow_numpy.array(numbers.view(np.float64))
    return out, bad


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
        nulls = pa.nulls(len(values), values.type)
        return pc.if_else(arrow_numpy.array(invalid), nulls, values).cast(pa.large_string()), invalid


class Shape(NamedTuple):
    """What a dump's documents are read for: the batch's columns of documents [starts, ends) and
    which are bad (`columns`), the batch's schema, and the walk that tells a document start (`scan`)."""

    columns: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[dict[str, pa.Array], np.ndarray]]
    schema: Callable[[], pa.Schema]
    scan: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[dict, np.ndarray]]


SESSIONS = Shape(columns, _schema, scan)


def frame(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, str | None]:
    """Document starts and ends in `buf`; where the whole documents stop; a framing problem."""
    most = len(buf) // 5 + 1
    starts = np.empty(most, np.int64)
    ends = np.empty(most, np.int64)
    count, stop, corrupt = _kernels().frame(buf, MAX_BSON_DOCUMENT, starts, ends)
    return starts[:count], ends[:count], int(stop), "corrupt_bson" if corrupt else None


def _resync(view: np.ndarray, stop: int, shape: Shape) -> int:
    """After a broken length at `stop`: where the next whole, well-formed document starts (-1: none here)."""
    seek = _kernels().seek
    position = stop
    while (position := seek(view, position, MAX_BSON_DOCUMENT)) >= 0:
        length = int(view[position : position + 4].view("<i4")[0])
        starts = np.array([position], np.int64)
        found, bad = shape.scan(view, starts, starts + length)
        if not bad[0] and any(codes[0] for codes, *_ in found.values()):
            return position
    return -1


def _problem_row(number: int, offset: int, reason: str, shape: Shape) -> pa.Table:
    given = {
        "line_no": arrow_numpy.integers([number]),
        "offset": arrow_numpy.integers([offset]),
        "known_reason": arrow_numpy.texts([reason], pa.string()),
    }
    return pa.table({f.name: given.get(f.name, pa.nulls(1, f.type)) for f in shape.schema()})


def damage_table(damage, number: int, shape: Shape | None = None) -> pa.Table:
    """The reject row of a damaged .bson.gz (pipelines/inputs/gzipped.py), numbered after the last document."""
    return _problem_row(number, damage.offset, damage.reason, shape or SESSIONS)


class _Window:
    """The unread bytes of a stream, in one reused buffer: read a block onto the end, drop from the
    front. (Batches never point into it: the reader copies what it keeps.)"""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.store = np.empty(CHUNK_BYTES + MAX_BSON_DOCUMENT, np.uint8)
        self.filled = 0
        self.ended = False

    @property
    def view(self) -> np.ndarray:
        return self.store[: self.filled]

    def read(self) -> None:
        """Append up to CHUNK_BYTES from the stream (`ended` once it has none)."""
        if self.filled + CHUNK_BYTES > len(self.store):  # a long unread tail (after corrupt bytes)
            self.store = np.concatenate([self.view, np.empty(CHUNK_BYTES, np.uint8)])
        target = memoryview(self.store)[self.filled : self.filled + CHUNK_BYTES]
        got = 0
        while got < CHUNK_BYTES and (count := self.stream.readinto(target[got:])):
            got += count
        self.filled += got
        self.ended = got == 0

    def drop(self, count: int) -> None:
        """Forget the first `count` bytes."""
        self.store[: self.filled - count] = self.store[count : self.filled]
        self.filled -= count


def bson_batches(stream: BinaryIO, shape: Shape | None = None) -> Iterator[pa.Table]:
    """Yield one table per chunk: line_no (document number), offset, known_reason and the field columns.

    Broken framing is reported once, at its offset, as corrupt_bson; reading resumes at the next
    place where a well-formed document starts, so every readable document is kept.
    """
    shape = shape or SESSIONS
    window = _Window(stream)
    base = 0  # file offset of the window's first byte
    number = 0
    lost = False  # inside a corrupt stretch, looking for the next document
    while True:
        if not window.ended:
            window.read()
        view = window.view
        skip = 0
        if lost:
            found = _resync(view, -1, shape)
            if found < 0:
                if window.ended:
                    return
                # keep the tail: a document may start there and end in the next block
                skip = max(0, len(view) - MAX_BSON_DOCUMENT)
                base += skip
                window.drop(skip)
                continue
            lost = False
            skip = found
            view = view[skip:]
        s, e, stop, problem = frame(view)
        if len(s):
            cols, bad = shape.columns(view, s, e)
            count = len(s)
            cols |= {
                "line_no": arrow_numpy.array(np.arange(number + 1, number + count + 1, dtype=np.int64)),
                "offset": arrow_numpy.array(s + base + skip),
                "known_reason": arrow_numpy.text_where(bad, "bad_bson"),
            }
            names = shape.schema().names
            table = pa.Table.from_arrays([cols[name] for name in names], names=names)
            number += count
            yield table
        stop += skip
        if problem:
            number += 1
            yield _problem_row(number, base + stop, problem, shape)
            lost = True
            base += stop + 1
            window.drop(stop + 1)
            continue
        if window.ended:
            if stop < window.filled:
                number += 1
                yield _problem_row(number, base + stop, "truncated_bson", shape)
            return
        base += stop
        window.drop(stop)
