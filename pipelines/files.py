"""Files written whole or not at all: beside their target, then renamed over it.

Everything the project publishes or keeps (the lake's state and manifest, outputs, pages, the
outbox, the users) is written here, so a killed process or a full disk never leaves half a file.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from pathlib import Path

from pipelines.errors import machine_error
from pipelines.faults import crash_point


@functools.cache
def _umask() -> int:
    """The process's umask, read without changing it (Linux), else by setting it back at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(target: Path, data: bytes, private: bool = False) -> None:
    """Write `data` to a file beside `target`, fsync it, then rename it over `target`.

    The file gets the mode any new file gets (the umask's), so a published report is readable
    like any other file; `private` keeps it to its owner (0600), for secrets. A full or failing
    disk is a MachineError naming `target`, and the half-written file is removed.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise machine_error(exc, target) or OSError(exc.errno, exc.strerror, str(exc.filename or target)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            if not private:
                os.fchmod(handle.fileno(), 0o666 & ~_umask())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        crash_point(f"renaming {target.name}")
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            # say which file could not be written: the target, not the temporary file beside it
            raise machine_error(exc, target) or OSError(exc.errno, exc.strerror, str(target)) from None
        raise


def remove_temporaries(folder: Path, name: str = "*") -> None:
    """Remove what atomic_write_bytes leaves in `folder` when killed mid-write: its temporary files
    for targets named `name` (a glob; every target by default). Call it only where no writer is at work."""
    for path in folder.glob(f".{name}.*.tmp"):
        path.unlink(missing_ok=True)
