"""The exceptions a user sees as one line: their mistake (exit 2), or a failing machine (exit 1)."""

from __future__ import annotations

import errno
import os

# What a failing machine says: out of space or quota, a read-only or failing disk.
MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG})


class UserError(Exception):
    """A mistake in the user's input: shown as one line, exit code 2, no traceback.

    The message speaks of values ("the end date 2023-05-01 is before the start date 2023-05-10"), so
    it reads right in a notebook; `about` names the parameters those values came from (`first`,
    `last`), and the CLI adds the flags it took them from.
    """

    def __init__(self, message: str, *about: str):
        super().__init__(message)
        self.about = about


class MachineError(Exception):
    """The machine failed under us (a full disk, say): one line, exit code 1; nothing half-written is kept."""


class NoData(Exception):
    """The lake holds nothing an output asked for could stand on (no loaded day of the week): one
    line, exit code 1. Not the user's mistake, and not the machine's: a number of zeros is refused."""


def describe_os_error(exc: OSError, path: object = None) -> str:
    """One line for a failing machine's OSError, naming the path when known."""
    where = path or exc.filename
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    hint = (
        "free some space, then run the command again"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT)
        else ("check the disk, then run the command again")
    )
    return f"{reason.lower()}{f' writing {where}' if where else ''}: {hint} (nothing half-written was kept)"


def machine_error(exc: BaseException, path: object = None) -> MachineError | None:
    """A MachineError for an OSError (or DuckDB/pyarrow I/O error) that says the disk is full or failing."""
    if isinstance(exc, OSError) and exc.errno in MACHINE_ERRNOS:
        return MachineError(describe_os_error(exc, path))
    text = str(exc)
    for code in MACHINE_ERRNOS:
        if os.strerror(code) in text:  # DuckDB's IOException and pyarrow's OSError carry only the text
            return MachineError(describe_os_error(OSError(code, os.strerror(code)), path))
    return None


ONE_LINE = 100_000  # shown()'s limit for a whole message: escaped, never cut in practice


def shown(value: str, limit: int = 120) -> str:
    """A name or value read from a file, fit for a one-line message: control and unprintable
    characters escaped (a newline in it would make the line two), cut to `limit` characters."""
    escaped = "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"
