"""Read mongodump's BSON (concatenated documents) as relaxed Extended JSON lines.

Each document is converted by libbson (python-bsonjs, C) to the same relaxed Extended JSON that
mongoexport writes, so a dump and an export of the same sessions go through the same typing and
give the same lake. A document that does not decode is rejected with its byte offset; when the
framing itself is broken (a length that cannot be), the rest of the file is reported unreadable
from that offset, and everything before it is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import pyarrow as pa

from pipelines.readers import CHUNK_BYTES, MAX_BSON_DOCUMENT

BATCH_DOCUMENTS = 64 * 1024


def _table(numbers: list[int], lines: list[bytes | None], offsets: list[int], reasons: list[str | None]) -> pa.Table:
    return pa.table(
        {
            "line_no": pa.array(numbers, pa.int64()),
            "line": pa.array(lines, pa.large_binary()),
            "offset": pa.array(offsets, pa.int64()),
            "known_reason": pa.array(reasons, pa.string()),
        }
    )


def bson_batches(stream: BinaryIO) -> Iterator[pa.Table]:
    """Yield (line_no, line, offset, known_reason) tables; line_no numbers documents from 1."""
    import bsonjs

    numbers: list[int] = []
    lines: list[bytes | None] = []
    offsets: list[int] = []
    reasons: list[str | None] = []
    buffer = b""
    base = 0  # file offset of buffer[0]
    number = 0
    ended = False
    while not ended:
        block = stream.read(CHUNK_BYTES)
        ended = not block
        buffer = buffer + block if buffer else block
        position = 0
        size = len(buffer)
        while position + 4 <= size:
            length = int.from_bytes(buffer[position : position + 4], "little")
            if length < 5 or length > MAX_BSON_DOCUMENT:
                number += 1
                numbers.append(number)
                lines.append(None)
                offsets.append(base + position)
                reasons.append("corrupt_bson")
                position = size  # the framing is lost: nothing after this can be trusted
                ended = True
                break
            if position + length > size:
                break  # the document continues in the next block
            number += 1
            numbers.append(number)
            offsets.append(base + position)
            document = buffer[position : position + length]
            try:
                lines.append(bsonjs.dumps(document).encode("utf-8"))
                reasons.append(None)
            except ValueError:
                lines.append(None)
                reasons.append("bad_bson")
            position += length
            if len(numbers) >= BATCH_DOCUMENTS:
                yield _table(numbers, lines, offsets, reasons)
                numbers, lines, offsets, reasons = [], [], [], []
        base += position
        buffer = buffer[position:]
        if ended and buffer:
            number += 1
            numbers.append(number)
            lines.append(None)
            offsets.append(base)
            reasons.append("truncated_bson")
    if numbers:
        yield _table(numbers, lines, offsets, reasons)
