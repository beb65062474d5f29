"""The lake's manifest: every input file ingested, by content, so none is read twice by mistake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from pipelines import clock
from pipelines.errors import UserError
from pipelines.files import atomic_write_bytes, read_text_nofollow
from pipelines.lake.layout import MANIFEST_FILE

HASH_BUFFER = 4 * 1024 * 1024


class Entry(NamedTuple):
    """One ingested input file (a named tuple: a big lake's manifest has a line per nightly file,
    and a frozen dataclass took three times as long to make)."""

    path: str
    size: int
    mtime_ns: int
    content_hash: str
    documents: int
    stored: int
    rejected: int
    ingested_at: str
    # how far the file's stored documents reach (lake/freshness.py); absent from older manifests
    newest_activity: str | None = None  # the latest loginAt/lastActivityAt of its sessions, ISO UTC
    newest_rollup_day: str | None = None  # the latest day of its user_daily rollups
    sha256: str | None = None  # the file's sha256 (what lineage names it by); absent from older manifests
    first_day: str | None = None  # the first and last day (lake zone) of its stored documents (lineage)
    last_day: str | None = None


class Manifest:
    """The entries of a lake's manifest, looked up by (path, size, time) and by content."""

    def __init__(self, entries: list[Entry], lines: list[str] | None = None):
        # one entry per (file, content): reading the same file again (--force) replaces its entry
        self._entries = {(e.path, e.content_hash): e for e in entries}
        # the line on disk of each entry read and not replaced since (written back as is)
        self._lines = {(e.path, e.content_hash): line for e, line in zip(entries, lines or [])}
        self._by_stat = {(e.path, e.size, e.mtime_ns): e for e in entries}
        self._by_hash = {e.content_hash: e for e in entries}

    @property
    def entries(self) -> list[Entry]:
        """Every entry, oldest first."""
        return list(self._entries.values())

    def unchanged(self, path: Path) -> Entry | None:
        """The entry of this very file, if it has not changed since (no need to read it)."""
        st = path.stat()
        return self._by_stat.get((str(path.resolve()), st.st_size, st.st_mtime_ns))

    def same_content(self, content_hash: str) -> Entry | None:
        """The entry of a file with this content, if one was ingested."""
        return self._by_hash.get(content_hash)

    def line(self, entry: Entry) -> str:
        """The entry's line in the manifest file (sorted keys, one JSON object)."""
        line = self._lines.get((entry.path, entry.content_hash))
        return line if line is not None else json.dumps(entry._asdict(), sort_keys=True)

    def add(self, entry: Entry) -> None:
        """Record a file; the same file with the same content (read again with --force) replaces its entry."""
        self._entries.pop((entry.path, entry.content_hash), None)
        self._lines.pop((entry.path, entry.content_hash), None)
        self._entries[(entry.path, entry.content_hash)] = entry
        self._by_stat[(entry.path, entry.size, entry.mtime_ns)] = entry
        self._by_hash.setdefault(entry.content_hash, entry)


def read_manifest(root: Path) -> Manifest:
    """The lake's manifest (empty for a new lake)."""
    try:
        lines = read_text_nofollow(root / MANIFEST_FILE).splitlines()
    except FileNotFoundError:
        return Manifest([])
    lines = [line for line in lines if line.strip()]
    try:
        # one parse for every line (a big lake's manifest has one per nightly file)
        parsed = json.loads("[" + ",".join(lines) + "]")
        if len(parsed) != len(lines):
            raise ValueError("a line holds more than one entry")
        return Manifest([Entry(**fields) for fields in parsed], lines)
    except (ValueError, TypeError) as exc:
        raise UserError(
            f"cannot read the manifest {root / MANIFEST_FILE}: {exc}; remove it and the next ingest reads every file again"
        ) from None


def write_manifest(root: Path, manifest: Manifest) -> None:
    """Replace the manifest in one rename."""
    # a big lake's manifest has a line per nightly file: lines read are written back, not re-encoded
    body = "".join(manifest.line(e) + "\n" for e in manifest.entries)
    atomic_write_bytes(root / MANIFEST_FILE, body.encode("utf-8"))


def content_hash(path: Path) -> str:
    """A fast hash of a file's bytes (xxh3-128), read through one small buffer to keep memory flat."""
    return content_hashes(path, sha=False)[0]


def content_hashes(path: Path, sha: bool = True) -> tuple[str, str]:
    """The file's xxh3-128 (the manifest's key: fast) and, with `sha`, its sha256 (what lineage and
    people name a file by), in one pass through one small buffer."""
    import hashlib

    import xxhash

    digest, named = xxhash.xxh3_128(), hashlib.sha256() if sha else None
    buffer = bytearray(HASH_BUFFER)
    view = memoryview(buffer)
    with open(path, "rb") as handle:
        while count := handle.readinto(buffer):
            digest.update(view[:count])
            if named is not None:
                named.update(view[:count])
    return "xxh3-128:" + digest.hexdigest(), named.hexdigest() if named is not None else ""


def new_entry(
    path: Path,
    digest: str,
    documents: int,
    stored: int,
    rejected: int,
    ingested_at: str | None = None,
    reach: tuple[str | None, str | None, str | None, str | None] = (None, None, None, None),
    sha256: str | None = None,
) -> Entry:
    """The manifest entry for a file just ingested (at `ingested_at`: the run's time, now by default);
    `reach`: its newest activity, latest rollup day, first and last day; `sha256`: its content's."""
    st = path.stat()
    return Entry(
        path=str(path.resolve()),
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        content_hash=digest,
        documents=documents,
        stored=stored,
        rejected=rejected,
        ingested_at=ingested_at or clock.now_iso(),
        newest_activity=reach[0],
        newest_rollup_day=reach[1],
        sha256=sha256 or None,
        first_day=reach[2],
        last_day=reach[3],
    )
