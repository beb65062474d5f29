"""The compiled loops of the BSON reader (pipelines/inputs/bson_reader.py), imported only when a dump is read.

numba compiles them on first use and caches the machine code beside this module, so a later
process loads it instead of compiling (they are module-level functions: numba cannot reuse the
cache of a closure). They release the GIL: the reader's thread runs them beside DuckDB.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def frame(buf, limit, starts, ends):  # pragma: no cover
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


@njit(cache=True, nogil=True)
def seek(buf, start, limit):  # pragma: no cover
    """The next position after `start` that looks like a document start, or -1."""
    size = buf.shape[0]
    for q in range(start + 1, size - 6):
        length = (
            np.int64(buf[q]) | (np.int64(buf[q + 1]) << 8) | (np.int64(buf[q + 2]) << 16) | (np.int64(buf[q + 3]) << 24)
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


@njit(cache=True, nogil=True)
def little(buf, at, width):  # pragma: no cover
    """The little-endian unsigned integer of `width` bytes at `at`."""
    value = np.int64(0)
    for j in range(width - 1, -1, -1):
        value = (value << 8) | np.int64(buf[at + j])
    return value


@njit(cache=True, nogil=True)
def walk(
    buf, starts, ends, names, name_offsets, collect, rows, kinds, positions, numbers, data, offsets, bad
):  # pragma: no cover
    """Walk the top-level elements of the documents [starts, ends) of buf, for the wanted fields
    (`names`, cut by `name_offsets`; the first of a repeated name counts).

    Per field and document: its type code (kinds), where its value starts (positions), a number's
    value (numbers: int32 widened, int64, a date's milliseconds, a double's bits). A field whose
    `collect` is its type code has its bytes appended to its row (`rows`) of `data` (a string
    without its length and closing NUL, a subdocument whole), that row of `offsets` cutting them per
    document: Arrow's layout, built while the document is in the cache. A document whose elements do not add up is
    marked bad and collects nothing.
    """
    fields = name_offsets.shape[0] - 1
    collecting = data.shape[0]
    cursors = np.zeros(collecting, np.int64)
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
                length = little(buf, value, 4)
                if length >= 2147483648:
                    length -= 4294967296
                if kind == 2 or kind == 13 or kind == 14:
                    size = 4 + length
                    if length < 1:  # a string holds at least its closing NUL
                        ok = False
                        break
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
                if kinds[f, d] != 0 or name_offsets[f + 1] - name_offsets[f] != length:
                    continue
                same = True
                for j in range(length):
                    if buf[name_start + j] != names[name_offsets[f] + j]:
                        same = False
                        break
                if same:
                    kinds[f, d] = kind
                    positions[f, d] = value
                    if kind == 16:
                        number = little(buf, value, 4)
                        numbers[f, d] = number - 4294967296 if number >= 2147483648 else number
                    elif size == 8:
                        numbers[f, d] = little(buf, value, 8)
                    if collect[f] == kind:
                        start, count = (value + 4, size - 5) if kind == 2 else (value, size)
                        r = rows[f]
                        row = data[r]
                        at = cursors[r]
                        for j in range(count):
                            row[at + j] = buf[start + j]
                        cursors[r] = at + count
                    break
            position = value + size
        if not ok:
            bad[d] = True
            for r in range(collecting):  # what it collected is dropped
                cursors[r] = offsets[r, d]
        for r in range(collecting):
            offsets[r, d + 1] = cursors[r]
