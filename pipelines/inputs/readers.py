"""Read export files into batches of raw lines (Arrow), without parsing JSON per line in Python.

Which reader a file needs (JSON lines: json_lines.py, a JSON array: json_array.py, a mongodump:
bson_reader.py), through gzip when it is gzipped (gzipped.py); those modules import nothing from here.

This is the careful path, taken for files in which DuckDB's reader found something to reject:
a batch is an Arrow table (line_no, line), `line` the raw bytes of one document and `line_no`
its 1-based line in the file (for a --jsonArray file, its element number).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from pipelines import arrow_numpy
from pipelines.errors import UserError
from pipelines.inputs.gzipped import Damage, TolerantGzip
from pipelines.inputs.json_lines import ndjson_batches

JSON_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")
BSON_SUFFIXES = (".bson", ".bson.gz")
COLLECTION = "rocketchat_sessions"
# a dump's collections an ingest reads: sessions; analytics and users (new-users), rooms (the
# Channels tab): pipelines/ingest/registrations.py; messages: pipelines/ingest/messages.py
DUMPED = (COLLECTION, "rocketchat_analytics", "users", "rocketchat_room", "rocketchat_message")
METADATA_SUFFIXES = (".metadata.json", ".metadata.json.gz")  # mongodump's note of a collection's indexes


def is_bson(path: Path) -> bool:
    """A mongodump file (.bson, or .bson.gz from mongodump --gzip)."""
    return path.name.endswith(BSON_SUFFIXES)


LOG_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".log")
LOG_SUFFIXES = LOG_SUFFIXES + tuple(s + ".gz" for s in LOG_SUFFIXES)


def require_inbox(folder: Path) -> Path:
    """The inbox folder, which must exist and be readable: a missing one (a typo, an export job that
    never ran) is an error, never an empty night."""
    import os

    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise UserError(
            f"the inbox {folder} {what}: create it and have the exports copied there, or name the right folder",
            "inbox",
        )
    if not os.access(folder, os.R_OK | os.X_OK):
        raise UserError(f"the inbox {folder} cannot be read: give this user read access to it", "inbox")
    return folder


def find_inputs(paths: list[str | Path], notes: list[str] | None = None, logs: bool = False) -> list[Path]:
    """Expand files and folders (recursively) into the sorted list of export files to read.

    In a folder: JSON exports (not a dump's *.metadata.json[.gz]), and of mongodump's .bson files
    those of the collections in DUMPED; other collections are noted in `notes` and left alone.
    With `logs`, a folder's session logs instead (.csv, .tsv, .jsonl, .ndjson, .json, .log).
    Folders whose files are all something else (pictures, pages) are a UserError naming them.
    """
    found: list[Path] = []
    skipped: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for candidate in sorted(p for p in path.rglob("*") if p.is_file()):
                name = candidate.name
                if logs:
                    if name.endswith(LOG_SUFFIXES):
                        found.append(candidate)
                elif name.endswith(JSON_SUFFIXES) and not name.endswith(METADATA_SUFFIXES):
                    found.append(candidate)
                elif is_bson(candidate):
                    if name.split(".", 1)[0] in DUMPED:
                        found.append(candidate)
                    elif notes is not None:
                        notes.append(f"ignored {candidate}: a collection this tool does not read")
                else:
                    skipped.append(candidate)
        elif path.is_file():
            if not logs and not is_bson(path) and not holds_a_document(path):
                raise UserError(
                    f"{path} is no export: not one of its lines is a JSON document (mongoexport writes one "
                    "per line, or a --jsonArray; mongodump writes .bson): nothing was read",
                    "paths",
                )
            found.append(path)
        elif path.exists():
            raise UserError(f"cannot read {path}: not a regular file or folder")
        else:
            raise UserError(f"no such file or folder: {path}")
    if skipped and not found:
        shown = ", ".join(str(p) for p in skipped[:3]) + (f" and {len(skipped) - 3} more" if len(skipped) > 3 else "")
        wanted = (
            "session logs (.csv, .tsv, .jsonl, .ndjson, .json, .log)"
            if logs
            else ("exports (mongoexport .json, mongodump .bson, either gzipped)")
        )
        raise UserError(f"nothing to ingest: skipped {shown}, which are not {wanted}", "paths")
    return found


def holds_a_document(path: Path) -> bool:
    """Whether a file named as an export could be one: it is blank, starts a JSON array, or has a line
    that is a JSON object. A real export answers on its first line; a page or a picture is read
    through (in 1 MB pieces) before it is refused. A file that cannot be read is left to the reader."""
    try:
        with open_binary(path) as stream:
            head = stream.read(1 << 20).removeprefix(b"\xef\xbb\xbf")
            if not head.strip() or head.lstrip()[:1] == b"[":
                return True
            text = head
            while text:
                lines = text.split(b"\n")
                tail = lines.pop()
                if any(_is_document(line) for line in lines):
                    return True
                more = stream.read(1 << 20)
                if not more:
                    return _is_document(tail)
                text = tail + more
            return False
    except (OSError, UserError):
        return True


def _is_document(line: bytes) -> bool:
    """A line that is one JSON object (a `{` alone, as in a page's example, is not)."""
    import json

    if line.lstrip()[:1] != b"{":
        return False
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def open_binary(path: Path) -> BinaryIO:
    """Open a file for reading, decompressing gzip (by magic number, not by name).

    A damaged gzip ends early instead of raising: `damage_of(stream)` then says what and where.
    """
    try:
        handle = open(path, "rb")
        magic = handle.read(2)
        handle.seek(0)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    if magic == b"\x1f\x8b":
        return io.BufferedReader(TolerantGzip(handle), buffer_size=1024 * 1024)  # type: ignore[return-value]
    return handle


def damage_of(stream: BinaryIO) -> Damage | None:
    """The damage that ended a gzip stream from open_binary early (None: sound, or not gzip)."""
    raw = getattr(stream, "raw", None)
    return raw.damage if isinstance(raw, TolerantGzip) else None


def refuse_unreadable(path: Path, stream: BinaryIO) -> None:
    """A UserError when a damaged gzip gave not one byte: nothing in it can be judged."""
    damage = damage_of(stream)
    if damage is not None and stream.raw.produced == 0:  # type: ignore[attr-defined]
        raise UserError(
            f"cannot read {path}: {damage.reason} at byte {damage.offset} ({damage.detail}), nothing before it"
        )


def damage_row(damage: Damage, number: int) -> pa.Table:
    """The reject row of a damaged gzip stream: numbered after the last document read from it."""
    return pa.table(
        {
            "line_no": arrow_numpy.integers([number]),
            "line": arrow_numpy.texts([damage.detail.encode()], pa.large_binary()),
            "known_reason": arrow_numpy.texts([damage.reason], pa.string()),
            "offset": arrow_numpy.integers([damage.offset]),
        }
    )


def sniff(path: Path) -> tuple[str, str]:
    """DuckDB's (format, compression) for an export: JSON lines or a JSON array, gzip or not."""
    with open_binary(path) as stream:
        head = stream.read(4096)
        refuse_unreadable(path, stream)
        compression = "gzip" if isinstance(getattr(stream, "raw", None), TolerantGzip) else "none"
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return ("array" if head.lstrip()[:1] == b"[" else "newline_delimited"), compression


def read_batches(path: Path, shape=None) -> Iterator[pa.Table]:
    """Yield batches of raw documents from one export file (NDJSON, JSON array or BSON; gzip or not).

    A dump's documents are read for the fields of `shape` (bson_reader.Shape; the sessions' by default).
    A damaged gzip yields every document before the damage, then one row for the damage itself.
    """
    with open_binary(path) as stream:
        if is_bson(path):
            from functools import partial

            from pipelines.inputs.bson_reader import bson_batches, damage_table

            batches = bson_batches(stream, shape)
            damage_rows = partial(damage_table, shape=shape)
        else:
            head = stream.read(4096)
            refuse_unreadable(path, stream)
            if head.startswith(b"\xef\xbb\xbf"):
                head = head[3:]
            if head.lstrip()[:1] == b"[":
                from pipelines.inputs.json_array import array_batches

                batches = array_batches(stream, head)
            else:
                batches = ndjson_batches(stream, head)
            damage_rows = damage_row
        last = 0
        for batch in _guard(batches, path):
            last = batch.column("line_no")[-1].as_py() if batch.num_rows else last
            yield batch
        refuse_unreadable(path, stream)
        if (damage := damage_of(stream)) is not None:
            yield damage_rows(damage, last + 1)


def _guard(batches: Iterator[pa.Table], path: Path) -> Iterator[pa.Table]:
    try:
        yield from batches
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
