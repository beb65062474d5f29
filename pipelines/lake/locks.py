"""Advisory locks (flock) on files in a folder: one holder at a time, across processes and threads."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from pipelines.errors import UserError


@contextlib.contextmanager
def exclusive(root: Path, name: str, wait: bool = True) -> Iterator[None]:
    """Hold root/name: wait for it, or (wait=False) a UserError when another run holds it."""
    root.mkdir(parents=True, exist_ok=True)
    handle = open(root / name, "a+")
    try:
        flags = fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.flock(handle, flags)
        except BlockingIOError:
            raise UserError(f"another run is writing the lake {root} ({name}); wait for it to finish") from None
        yield
    finally:
        handle.close()
