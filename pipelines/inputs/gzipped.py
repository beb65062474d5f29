"""Gzip read as far as it is sound: damage ends the stream cleanly and is remembered, not raised.

Python's GzipFile raises on a truncated or corrupt file, and every byte it had decompressed is lost
with the exception. This reader hands out every byte that decompressed before the damage, then ends;
`damage` says what was wrong (`truncated_gzip`, `corrupt_gzip`) and at which byte of the compressed
file it was found. Several gzip members one after another (`cat a.gz b.gz`) read as one stream,
as gzip(1) reads them.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from typing import BinaryIO

READ = 64 * 1024
OUT = 4 * 1024 * 1024  # decompressed bytes per step at most (a small file can expand a lot)
GZIP = 16 + zlib.MAX_WBITS


@dataclass(frozen=True)
class Damage:
    """What stopped the reading, and where (byte offset in the compressed file)."""

    reason: str
    offset: int
    detail: str


class TolerantGzip(io.RawIOBase):
    """A raw stream of the decompressed bytes of `raw`, ending (not raising) at the first damage."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.damage: Damage | None = None
        self.produced = 0  # decompressed bytes handed out so far
        self._d = zlib.decompressobj(GZIP)
        self._input = b""
        self._at = 0  # compressed offset of self._input[0]
        self._in_member = False
        self._members = 0
        self._out = b""
        self._pos = 0
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while self._pos >= len(self._out) and not self._ended:
            self._out, self._pos = self._step(), 0
        n = min(len(buffer), len(self._out) - self._pos)
        buffer[:n] = self._out[self._pos : self._pos + n]
        self._pos += n
        self.produced += n
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()

    def _stop(self, reason: str, offset: int, detail: str) -> bytes:
        self.damage = Damage(reason, offset, detail)
        self._ended = True
        return b""

    def _step(self) -> bytes:
        """Decompress the next piece; b"" at the end (or the damage)."""
        if not self._input:
            block = self.raw.read(READ)
            if not block:
                self._ended = True
                if self._in_member:
                    return self._stop(
                        "truncated_gzip", self._at, "the compressed data ends before the end of its gzip member"
                    )
                return b""
            self._input = block
        if not self._in_member and self._members:
            # after a whole member: zero padding may follow (gzip allows it), else another member
            padding = len(self._input) - len(self._input.lstrip(b"\0"))
            self._at += padding
            self._input = self._input[padding:]
            if not self._input:
                return b""
        self._in_member = True
        before = self._d.copy()
        try:
            out = self._d.decompress(self._input, OUT)
        except zlib.error as exc:
            # keep what decompresses before the damage, then end
            bad = _first_bad(before, self._input)
            good = _drain(before, self._input[:bad])
            self._stop("corrupt_gzip", self._at + bad, str(exc))
            return good
        if self._d.eof:
            rest = self._d.unused_data
            self._at += len(self._input) - len(rest)
            self._input = rest
            self._d = zlib.decompressobj(GZIP)
            self._in_member = False
            self._members += 1
        else:
            tail = self._d.unconsumed_tail
            self._at += len(self._input) - len(tail)
            self._input = tail
        return out


def _drain(state, data: bytes) -> bytes:
    """Everything `state` decompresses from `data` (raises zlib.error where it is bad)."""
    parts = []
    while data:
        parts.append(state.decompress(data, OUT))
        data = state.unconsumed_tail
        if state.eof:
            break
    return b"".join(parts)


def _first_bad(state, data: bytes) -> int:
    """Where in `data` the decompressor in `state` finds the damage: the shortest prefix it refuses,
    less one (bisection on copies of the state)."""
    good, bad = 0, len(data)
    while bad - good > 1:
        middle = (good + bad) // 2
        try:
            _drain(state.copy(), data[:middle])
            good = middle
        except zlib.error:
            bad = middle
    return good


def check(path) -> Damage | None:
    """Read a gzip file to its end; its damage, if any (None for a sound file or one not gzipped)."""
    with open(path, "rb") as handle:
        if handle.read(2) != b"\x1f\x8b":
            return None
        handle.seek(0)
        stream = TolerantGzip(handle)
        buffer = bytearray(OUT)
        while stream.readinto(buffer):
            pass
        return stream.damage
