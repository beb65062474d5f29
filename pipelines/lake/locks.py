"""Advisory locks (flock) on files in a folder: one holder at a time, across processes and threads."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from pipelines.errors import UserError

LOCK_WAIT = 600.0  # seconds a writer waits for a lock before it gives up, naming the holder


def holder(fd: int) -> int | None:
    """The pid of another process holding a lock on the file open as `fd` (Linux's /proc/locks)."""
    inode = os.fstat(fd).st_ino
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[5].rsplit(":", 1)[-1] == str(inode) and fields[4].isdigit():
            if int(fields[4]) != os.getpid():
                return int(fields[4])
    return None


def open_lock(path: Path) -> int:
    """The lock file, opened without following a symbolic link (one planted there is refused)."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UserError(f"{path} is a symbolic link: a lock must be a plain file (remove the link)") from None
        raise


@contextlib.contextmanager
def exclusive(root: Path, name: str, wait: bool = True, timeout: float | None = None) -> Iterator[None]:
    """Hold root/name: wait for it (at most `timeout` seconds, LOCK_WAIT by default), or (wait=False)
    a UserError when another run holds it. A holder that keeps it longer (another user's shared
    lock, a hung process) is named in the error, by pid when Linux tells it."""
    root.mkdir(parents=True, exist_ok=True)
    fd = open_lock(root / name)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise UserError(f"another run is writing the lake {root} ({name}); wait for it to finish") from None
            _wait_for(fd, root, name, LOCK_WAIT if timeout is None else timeout)
        yield
    finally:
        os.close(fd)


def _wait_for(fd: int, root: Path, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                pid = holder(fd)
                who = f"process {pid}" if pid else "another process"
                raise UserError(
                    f"the lake {root} has been locked ({name}) by {who} for over {timeout:g} s: "
                    "stop it, or wait and run again"
                ) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
