"""JSON lines split into Arrow tables of raw lines (line_no, line), without copying the text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from pipelines.arrow_numpy import array

CHUNK_BYTES = 64 * 1024 * 1024  # read at a time


def _lines_table(data: bytes, first_line: int, numbered_after: int | None = None) -> pa.Table:
    """Split `data` (whole lines) at newlines into an Arrow table without copying the text.

    With `numbered_after` (lines that follow a JSON array's elements), line_no continues after the
    elements and file_line keeps each line's own number in the file.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    offsets = np.empty(len(ends) + 2, dtype=np.int64)
    offsets[0] = 0
    offsets[1:-1] = ends + 1
    offsets[-1] = len(data)
    count = len(offsets) - 1
    if count and offsets[-1] == offsets[-2]:
        count -= 1  # the data ended with a newline: no line after it
    lines = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), count, [None, pa.py_buffer(offsets[: count + 1]), pa.py_buffer(data)]
    )
    line_no = np.arange(first_line, first_line + count, dtype=np.int64)
    # Arrow arrays of the numbers, not NumPy ones: pa.table would import pandas to take those
    if numbered_after is None:
        return pa.table({"line_no": array(line_no), "line": lines})
    return pa.table({"line_no": array(line_no + numbered_after), "line": lines, "file_line": array(line_no)})


def ndjson_batches(
    stream: BinaryIO, head: bytes, first_line: int = 1, numbered_after: int | None = None
) -> Iterator[pa.Table]:
    """Tables of whole lines from `head` then the rest of `stream`, numbered from `first_line`."""
    carry = head
    line = first_line
    while True:
        block = stream.read(CHUNK_BYTES)
        data = carry + block if carry else block
        if not block:
            if data:
                yield _lines_table(data, line, numbered_after)
            return
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        whole, carry = data[: cut + 1], data[cut + 1 :]
        table = _lines_table(whole, line, numbered_after)
        line += table.num_rows
        yield table
