"""Files written whole or not at all: beside their target, then renamed over it.

Everything the project publishes or keeps (the lake's state and manifest, outputs, pages, the
outbox, the users) is written here, so a killed process or a full disk never leaves half a file.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from pipelines.errors import machine_error
from pipelines.faults import crash_point


def lake_modes() -> tuple[int, int]:
    """(umask, folder mode) of the lake's files: its owner's only (0600 files, 0700 folders: it holds
    each user's activity, personal data), or with ENGAGEMENT_LAKE_GROUP_READABLE=on readable by the
    group too (0640, 0750: a team of analysts). What the lake publishes (outputs, emails, ledgers)
    gets the same modes: the `engagement` command sets its umask so (cli/app.py's main)."""
    group = os.environ.get("ENGAGEMENT_LAKE_GROUP_READABLE", "").strip().lower() in ("on", "true", "yes", "1")
    return (0o027, 0o750) if group else (0o077, 0o700)


def _umask() -> int:
    """The process's umask now (a write into the lake narrows it: lake/writing.py's private), read
    without changing it (Linux), else by setting it back at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_writer(target: Path, private: bool = False) -> Iterator[BinaryIO]:
    """A file to write beside `target`, fsynced and renamed over it when the block ends, and removed
    if it raises (a stopped query, a full disk): `target` is whole or as it was.

    The file gets the mode any new file gets (the umask's), so a published report is readable
    like any other file; `private` keeps it to its owner (0600), for secrets. A full or failing
    disk is a MachineError naming `target`.
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
            yield handle
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


def atomic_write_bytes(target: Path, data: bytes, private: bool = False) -> None:
    """Write `data` to a file beside `target`, fsync it, then rename it over `target` (atomic_writer)."""
    with atomic_writer(target, private) as handle:
        handle.write(data)


def flush_filesystem(path: Path) -> None:
    """Make everything written so far on `path`'s filesystem durable, before a commit names it.

    The lake's partitions and index runs are placed by rename without an fsync each (that would
    cost a disk round trip per file); one syncfs (Linux; a whole sync elsewhere) before the state
    is written makes sure a power cut never leaves a state naming files whose bytes never reached
    the disk. A disk that fails to write them is a MachineError, and the state is not written.
    """
    syncfs = _syncfs()
    if syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            import ctypes

            code = ctypes.get_errno()
            exc = OSError(code, os.strerror(code), str(path))
            raise machine_error(exc, path) or exc
    finally:
        os.close(fd)


@functools.cache
def _syncfs():
    """libc's syncfs(fd), or None where there is none."""
    import ctypes

    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function


def remove_temporaries(folder: Path, name: str = "*") -> None:
    """Remove what atomic_write_bytes leaves in `folder` when killed mid-write: its temporary files
    for targets named `name` (a glob; every target by default). Call it only where no writer is at work."""
    for path in folder.glob(f".{name}.*.tmp"):
        path.unlink(missing_ok=True)


def read_bytes_nofollow(path: Path) -> bytes:
    """A file of the lake (its state, a ledger, a key) read without following a symbolic link, and only
    if nobody else can have written it (check_trusted): a link planted in its place, or a file another
    user owns or that its group or others may write, is refused (a UserError naming it and the fix),
    never read. FileNotFoundError as usual."""
    import errno

    from pipelines.errors import UserError

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UserError(f"{path} is a symbolic link: refused (the lake reads only its own plain files)") from None
        raise
    with os.fdopen(fd, "rb") as handle:
        check_trusted(path, os.fstat(handle.fileno()))
        return handle.read()


def read_text_nofollow(path: Path) -> str:
    """read_bytes_nofollow, as UTF-8 text."""
    return read_bytes_nofollow(path).decode("utf-8")


def check_trusted(path: Path, st: os.stat_result | None = None) -> None:
    """A UserError (naming the file and the fix) when `path` (a lake's file or folder) is owned by
    another user, or writable by its group or by others: whatever such a file says could be anyone's."""
    import stat as stat_module

    from pipelines.errors import UserError

    st = st or os.stat(path, follow_symlinks=False)
    me = os.geteuid()
    if st.st_uid != me:
        raise UserError(
            f"{path} belongs to user {st.st_uid}, not to this user ({me}): refused, anyone with that account "
            f"could have written it (`chown {me} {path}` if it is yours)"
        )
    if st.st_mode & (stat_module.S_IWGRP | stat_module.S_IWOTH):
        mode = stat_module.S_IMODE(st.st_mode)
        raise UserError(
            f"{path} is writable by its group or by others (mode {mode:o}): refused, anyone could have written "
            f"it (`chmod go-w {path}`)"
        )


def read_ledger(path: Path, keys: set[str], what: str, removing: str) -> list[dict]:
    """A ledger of one JSON object a line (none yet: empty), read without following a link; a line
    that is not an object with `keys` is a UserError naming `what` and the line, and what `removing`
    that line means."""
    import json

    from pipelines.errors import UserError

    try:
        text = read_text_nofollow(path)
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the {what} {path}: {exc}") from None
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if not isinstance(entry, dict) or not keys <= entry.keys():
            raise UserError(f"the {what} {path} is damaged at line {number}: remove that line ({removing})")
        entries.append(entry)
    return entries
