"""The lake's write protocol, in one place: every writer of the lake goes through `writing`.

    with writing(root) as w:        # the writers' lock; the state on disk; a killed run's leftovers removed
        staged = w.staging / "x.parquet"       # write files beside the lake (same file system) ...
        w.state.files["sessions"][day] = w.place_partition("sessions", day, staged)  # ... rename them in
        w.commit()                  # the new state in one atomic rename, once its files are on the disk
    # on leaving: the files only the old state named are removed; after an error (or a kill, at the
    # next writer's start) every file this run placed and no state names is removed, and the state
    # on disk is the old one

Files are named by their content (`<name>-<hash>`), so an unchanged day keeps its file and a rerun
writes nothing new. Readers take no lock (lake/state.py: on_snapshot).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.faults import crash_point
from pipelines.files import atomic_write_bytes, flush_filesystem, lake_modes, remove_temporaries
from pipelines.lake.layout import (
    FORGOTTEN_DIR,
    IDS_DIR,
    MANIFEST_FILE,
    PARTITIONED,
    REGISTRATIONS_DIR,
    REJECTS_DIR,
    STAGING_DIR,
    STATE_FILE,
    WRITE_LOCK,
)
from pipelines.lake.locks import exclusive
from pipelines.lake.state import LakeState, read_state, referenced


@dataclass
class Writer:
    """One write of the lake, under its lock: the state to change, and where to stage files."""

    root: Path
    state: LakeState
    before: set[str]  # the files the state on disk named when the write began
    committed: bool = False
    _staging: Path | None = field(default=None, repr=False)

    @property
    def staging(self) -> Path:
        """This write's private folder inside the lake, made on first use."""
        if self._staging is None:
            self._staging = staging_dir(self.root)
        return self._staging

    def place(self, folder: str, name: str, staged: Path, suffix: str = ".parquet") -> str:
        """Rename a staged file to <folder>/<name>-<content hash><suffix>; its path in the lake."""
        return place_file(self.root, folder, name, staged, suffix)

    def place_partition(self, table: str, date: str, staged: Path) -> str:
        """Rename a staged Parquet file to its content-named place in <table>/date=<date>/."""
        return place_partition(self.root, table, date, staged)

    def commit(self) -> None:
        """Make the new state the lake's, in one rename."""
        write_state(self.root, self.state)
        crash_point("state written")
        self.committed = True


@contextlib.contextmanager
def private(root: Path) -> Iterator[None]:
    """Around a write into the lake: its folder kept to its owner (see lake_modes), and the files and
    folders the write makes too (the process's umask, restored after)."""
    from pipelines.files import check_trusted

    mask, mode = lake_modes()
    root.mkdir(parents=True, exist_ok=True)
    if (root / STATE_FILE).exists():  # an existing lake others could write is refused, not made private
        check_trusted(root)
    with contextlib.suppress(PermissionError):  # not ours to change: the owner's modes stay
        os.chmod(root, mode)
    before = os.umask(mask)
    try:
        yield
    finally:
        os.umask(before)


@contextlib.contextmanager
def writing(root: Path, wait: bool = True) -> Iterator[Writer]:
    """The write protocol around a writer's work (see the module's docstring)."""
    with private(root), write_lock(root, wait):
        state = read_state(root)
        remove_leftovers(root, state, thorough=False)  # of a run that was killed, or lost its disk
        writer = Writer(root, state, referenced(state))
        try:
            yield writer
            if writer.committed:
                remove_superseded(root, writer.before, writer.state)
        except BaseException:
            # the state on disk is the previous one (or, if only what followed the commit failed,
            # the new one): what this run placed and that state does not name goes
            remove_leftovers(root)
            raise
        finally:
            shutil.rmtree(root / STAGING_DIR, ignore_errors=True)


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
    placed = [
        (IDS_DIR, "*.npy"),
        (FORGOTTEN_DIR, "*.json"),
        (REGISTRATIONS_DIR, "*.parquet"),
        *((table, "date=*/*.parquet") for table in PARTITIONED),
    ]
    for folder, pattern in placed:
        for path in (root / folder).glob(pattern):
            if path not in keep:
                path.unlink(missing_ok=True)
                removed += 1
    for table in PARTITIONED:
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
    remove_temporaries(root, STATE_FILE)
    remove_temporaries(root, MANIFEST_FILE)
    remove_temporaries(root / REJECTS_DIR, "*.jsonl")
    if thorough or (root / STAGING_DIR).exists():
        shutil.rmtree(root / STAGING_DIR, ignore_errors=True)
        remove_unreferenced(root, state or read_state(root))


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
    with exclusive(root, WRITE_LOCK, wait):
        yield


def staging_dir(root: Path) -> Path:
    """A private folder inside the lake for files being written (same file system: renames are atomic)."""
    base = root / STAGING_DIR
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=base))
