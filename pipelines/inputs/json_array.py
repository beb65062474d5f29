"""Split a JSON array (mongoexport --jsonArray) into its elements as it streams, in bounded memory.

A small numba-compiled scanner walks the bytes once, keeping only its state between chunks (depth,
inside a string, after a backslash): an element ends where the depth returns to the array's.
Each element is returned as its own text, numbered from 1, for the careful path to parse; what
does not parse there is rejected with its element number, and the other elements are kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from pipelines import arrow_numpy
from pipelines.inputs.json_lines import CHUNK_BYTES, ndjson_batches

_SCANNER = None


def _scanner():
    global _SCANNER
    if _SCANNER is None:
        from numba import njit

        @njit(cache=True, nogil=True)
        def scan(buf, begin, state, bounds):  # pragma: no cover - compiled
            """Element [start, end) positions in buf, scanning from `begin` (the state holds there).

            state = [depth, in_string, escaped, start of the element in progress or -1, newlines
            scanned, where the array closed or -1]. Scanning stops where the array closes: what
            follows it is read as lines.
            """
            depth, in_string, escaped, start = state[0], state[1], state[2], state[3]
            newlines = state[4]
            count = 0
            for i in range(begin, buf.shape[0]):
                b = buf[i]
                if b == 10:
                    newlines += 1
                if in_string:
                    if escaped:
                        escaped = 0
                    elif b == 92:  # backslash
                        escaped = 1
                    elif b == 34:  # quote
                        in_string = 0
                    continue
                if b == 32 or b == 9 or b == 10 or b == 13:
                    continue
                if depth == 0:
                    if b == 91:  # the array's [
                        depth = 1
                    continue
                if depth == 1:
                    if b == 44 or b == 93:  # , or ]: a scalar element ends here
                        if start >= 0:
                            bounds[count, 0] = start
                            bounds[count, 1] = i
                            count += 1
                            start = -1
                        if b == 93:
                            state[0], state[1], state[2], state[3], state[4], state[5] = 0, 0, 0, -1, newlines, i + 1
                            return count
                        continue
                    if start < 0:
                        start = i
                if b == 34:
                    in_string = 1
                elif b == 123 or b == 91:
                    depth += 1
                elif b == 125 or b == 93:
                    depth -= 1
                    if depth == 1:
                        bounds[count, 0] = start
                        bounds[count, 1] = i + 1
                        count += 1
                        start = -1
            state[0], state[1], state[2], state[3], state[4] = depth, in_string, escaped, start, newlines
            return count

        _SCANNER = scan
    return _SCANNER


def array_batches(stream: BinaryIO, head: bytes) -> Iterator[pa.Table]:
    """Yield (line_no, line) tables of the array's elements, read chunk by chunk.

    Whatever follows the array's closing bracket is read too: another array (`cat a.json b.json`
    of two array exports) likewise, JSON lines (`cat array.json lines.json`) as lines, numbered
    after the elements, each with its line in the file (file_line) for its reject.
    """
    scan = _scanner()
    state = np.array([0, 0, 0, -1, 0, -1], np.int64)
    carry = b""
    number = 0
    block = head
    while True:
        data = carry + block if carry else block
        if not block:
            if carry.strip():  # an element the file never finished: rejected as bad JSON
                yield _table([carry.strip().rstrip(b",]").strip()], number)
            return
        buf = np.frombuffer(data, np.uint8)
        bounds = np.empty((len(data) // 2 + 1, 2), np.int64)
        # the carried bytes were scanned already: go on from where they end
        count = scan(buf, len(carry), state, bounds)
        elements = [data[s:e] for s, e in bounds[:count]]
        if elements:
            yield _table(elements, number)
            number += len(elements)
        if state[5] >= 0:  # the array closed: what follows, if anything, is another array or lines
            line, rest = int(state[4]) + 1, data[int(state[5]) :]
            while not rest.strip():
                line += rest.count(b"\n")
                if not (rest := stream.read(CHUNK_BYTES)):
                    return
            if rest.lstrip()[:1] == b"[":  # `cat a.json b.json` of two --jsonArray exports
                state[:] = (0, 0, 0, -1, line - 1, -1)
                carry, block = b"", rest
                continue
            yield from ndjson_batches(stream, rest, first_line=line, numbered_after=number)
            return
        keep_from = int(state[3]) if state[3] >= 0 else len(data)
        carry = data[keep_from:]
        if state[3] >= 0:
            state[3] = 0  # the unfinished element now starts the carried bytes
        block = stream.read(CHUNK_BYTES)


def _table(elements: list[bytes], before: int) -> pa.Table:
    numbers = np.arange(before + 1, before + len(elements) + 1, dtype=np.int64)
    return pa.table({"line_no": arrow_numpy.array(numbers), "line": arrow_numpy.texts(elements, pa.large_binary())})
