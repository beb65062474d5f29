"""The Parquet lake: day partitions, a state file naming the current file of each, atomic writes.

Layout under the lake folder:
    _state.json                                   which file is current for each table and day
    sessions/date=YYYY-MM-DD/part-<hash>.parquet  every stored document, one row per _id
    user_daily/date=YYYY-MM-DD/part-<hash>.parquet  the active user-days of that date
    rejects/<key>.jsonl                           rejected documents of one input file
    ids/run-<hash>.npy                            the _id-to-day index's runs (pipelines/lake/idindex.py)
    registrations/<name>-<hash>.parquet           new users: rocketchat_analytics "users" documents
                                                  (name analytics) and users accounts (name users)

Partition files are immutable and named by their content, so an unchanged day keeps its file
and a rerun writes nothing new. A writer stages a file beside its target and renames it into
place, then replaces _state.json in one rename: a reader that loads the state sees one
consistent snapshot of every day.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pipelines.errors import UserError
from pipelines.faults import crash_point
from pipelines.files import atomic_write_bytes, flush_filesystem, remove_temporaries
from pipelines.lake.locks import exclusive
from pipelines.lake.manifest import MANIFEST_FILE

T = TypeVar("T")

STATE_FILE = "_state.json"
STATE_VERSION = 1
TABLES = ("sessions", "user_daily")
REGISTRATIONS = ("analytics", "users")  # one file each, not partitioned: a row per day, or per account


@dataclass
class LakeState:
    """Which Parquet file is current for each (table, date), and the zone the lake was built in."""

    tz: str | None = None
    files: dict[str, dict[str, str]] = field(default_factory=lambda: {t: {} for t in TABLES})
    registrations: dict[str, str] = field(default_factory=dict)  # name -> its current file
    ids: list[str] | None = None  # the _id-to-day index's runs (pipelines/lake/idindex.py); None: not built yet

    def registration(self, root: Path, name: str) -> str | None:
        """The absolute path of a registrations table's current file; None when the lake has none."""
        relative = self.registrations.get(name)
        return str(root / relative) if relative else None

    def paths(self, root: Path, table: str, first: dt.date | None = None, last: dt.date | None = None) -> list[str]:
        """Absolute paths of the table's current files, oldest first: all, or those of dates first..last.

        The cost is that of the days the lake holds, never of the range asked for (0001..9999 is fine).
        """
        current = self.files.get(table, {})
        low = first.isoformat() if first else ""
        high = last.isoformat() if last else "~"
        return [str(root / current[d]) for d in sorted(current) if low <= d <= high]

    def to_json(self) -> str:
        body = {
            "version": STATE_VERSION,
            "tz": self.tz,
            "tables": {t: dict(sorted(self.files.get(t, {}).items())) for t in TABLES},
        }
        if self.registrations:  # absent from a sessions-only lake, whose state keeps its old bytes
            body["registrations"] = dict(sorted(self.registrations.items()))
        if self.ids is not None:
            body["ids"] = list(self.ids)
        return json.dumps(body, indent=1, sort_keys=False) + "\n"


def read_state(root: Path) -> LakeState:
    """Load the lake's state; an absent lake is an empty state."""
    path = root / STATE_FILE
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return LakeState()
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the lake state {path}: {exc}; is --lake a chat-engagement lake?") from None
    if body.get("version") != STATE_VERSION:
        raise UserError(f"{path} has state version {body.get('version')!r}; this tool reads version {STATE_VERSION}")
    files = {t: dict(body.get("tables", {}).get(t, {})) for t in TABLES}
    registrations = {n: r for n, r in dict(body.get("registrations", {})).items() if n in REGISTRATIONS}
    ids = body.get("ids")
    return LakeState(
        tz=body.get("tz"), files=files, registrations=registrations, ids=list(ids) if ids is not None else None
    )


READ_ATTEMPTS = 5


def on_snapshot(root: Path, run: Callable[[LakeState], T]) -> T:
    """run(state) with the lake's current state, whose files it reads; readers take no lock.

    If a writer replaces a file between our reading the state and the file, the state is read
    again and `run` called again: the answer is always one whole snapshot's.
    """
    import duckdb

    for attempt in range(READ_ATTEMPTS):
        state = read_state(root)
        try:
            return run(state)
        except duckdb.IOException:
            if attempt == READ_ATTEMPTS - 1:
                missing = [str(root / rel) for rel in sorted(referenced(state)) if not (root / rel).exists()]
                if missing:  # not a writer at work: files the state names are gone
                    raise UserError(
                        f"the lake {root} names {len(missing)} file(s) that are missing, e.g. {missing[0]}: "
                        "restore them from a backup, or ingest the exports again into a new --lake"
                    ) from None
                raise
    raise AssertionError("unreachable")


def query_partitions(
    root: Path, table: str, first: dt.date, last: dt.date, run: Callable[[list[str]], T], empty: T
) -> T:
    """run(files) over the current files of `table` for dates first..last (`empty` when there are none),
    on one snapshot (see on_snapshot)."""

    def over(state: LakeState) -> T:
        files = state.paths(root, table, first, last)
        return run(files) if files else empty

    return on_snapshot(root, over)


def require_lake(root: Path) -> LakeState:
    """The state of an existing lake; a UserError when there is none at `root`."""
    if not (root / STATE_FILE).exists():
        raise UserError(f"no lake at {root}: run `engagement ingest` first, or point --lake (ENGAGEMENT_LAKE) at one")
    return read_state(root)


def write_state(root: Path, state: LakeState) -> None:
    """Replace the lake's state in one rename, once the files it names are on the disk."""
    flush_filesystem(root)
    atomic_write_bytes(root / STATE_FILE, state.to_json().encode("utf-8"))


def file_digest(path: Path) -> str:
    """Hex SHA-256 of a file's content."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def place_partition(root: Path, table: str, date: str, staged: Path) -> str:
    """Move a staged Parquet file to its content-named place; return its path relative to root."""
    return place_file(root, f"{table}/date={date}", "part", staged)


def place_file(root: Path, folder: str, name: str, staged: Path, suffix: str = ".parquet") -> str:
    """Move a staged file to <folder>/<name>-<content hash><suffix>; return that path relative to root."""
    relative = f"{folder}/{name}-{file_digest(staged)[:20]}{suffix}"
    target = root / relative
    if target.exists():
        staged.unlink()  # the same bytes are already in place: nothing changes
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        crash_point("partition placed")
    return relative


def remove_unreferenced(root: Path, state: LakeState) -> int:
    """Delete partition files the state no longer names (superseded days, leftovers of a crash)."""
    keep = {root / rel for rel in referenced(state)}
    removed = 0
    placed = [("ids", "*.npy"), ("registrations", "*.parquet"), *((table, "date=*/*.parquet") for table in TABLES)]
    for folder, pattern in placed:
        for path in (root / folder).glob(pattern):
            if path not in keep:
                path.unlink(missing_ok=True)
                removed += 1
    for table in TABLES:
        for folder in (root / table).glob("date=*"):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only succeeds when empty
    return removed


def remove_leftovers(root: Path, state: LakeState | None = None, thorough: bool = True) -> None:
    """Remove what an interrupted run left: temporary files, the staging folder, partitions that
    `state` (by default, the state on disk) does not name.

    Without `thorough`, the partitions are checked only when the staging folder is there: a writer
    creates it before it places any file and removes it when it ends, so without it the last
    writer ended and left nothing (listing every day's folder costs a big lake tens of ms).

    Call under the writers' lock: then no other writer has files in progress.
    """
    import shutil

    remove_temporaries(root, STATE_FILE)
    remove_temporaries(root, MANIFEST_FILE)
    remove_temporaries(root / "rejects", "*.jsonl")
    if thorough or (root / ".staging").exists():
        shutil.rmtree(root / ".staging", ignore_errors=True)
        remove_unreferenced(root, state or read_state(root))


def referenced(state: LakeState) -> set[str]:
    """Every file the state names, relative to the lake."""
    named = {rel for table in TABLES for rel in state.files.get(table, {}).values()}
    return named | set(state.registrations.values()) | set(state.ids or [])


def remove_superseded(root: Path, before: set[str], state: LakeState) -> None:
    """After `state` replaced one that named `before`: delete the files only the old one named."""
    for relative in sorted(before - referenced(state)):
        path = root / relative
        path.unlink(missing_ok=True)
        if path.parent.name.startswith("date="):
            with contextlib.suppress(OSError):
                path.parent.rmdir()  # only succeeds when the day is gone


@contextlib.contextmanager
def write_lock(root: Path, wait: bool = True) -> Iterator[None]:
    """Hold the lake's writers' lock: one writer at a time; readers never need it."""
    with exclusive(root, ".lock", wait):
        yield


def staging_dir(root: Path) -> Path:
    """A private folder inside the lake for files being written (same file system: renames are atomic)."""
    base = root / ".staging"
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=base))
