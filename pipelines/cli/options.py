"""What every command shares: the Typer apps, the options declared once, and the guard that turns
a user's mistake into one line and exit 2 (a failing machine's into one line and exit 1)."""

from __future__ import annotations

import datetime as dt
import enum
import errno
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from pipelines.errors import ONE_LINE, MachineError, NoData, UserError, machine_error, shown

# NumPy's OpenBLAS starts a thread at import that spins for about 0.1 s of CPU (measured: `import
# numpy` costs 0.15 s of CPU with it, 0.05 s without). Nothing here uses BLAS, and on a 2-core machine
# that CPU is taken from DuckDB's threads. A user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# --- options shared by several commands, declared once ------------------------------------------------
Lake = Annotated[
    Optional[str],
    typer.Option("--lake", metavar="DIR", help="the lake folder (env ENGAGEMENT_LAKE, default data/lake)"),
]
Zone = Annotated[
    Optional[str],
    typer.Option(
        "--tz",
        metavar="ZONE",
        help="the Rocket.Chat server's IANA time zone (env ENGAGEMENT_TZ, default UTC; a lake keeps its own)",
    ),
]
Start = Annotated[str, typer.Option("--start", metavar="WHEN", help="as for weekly-data")]
OutFile = Annotated[
    Optional[str], typer.Option("--out", metavar="FILE", help="write it to FILE (atomically) instead of stdout")
]
Inbox = Annotated[
    Optional[str],
    typer.Option(
        "--inbox",
        metavar="[DIR]",
        help="take the files of the inbox (the folder new exports arrive in) not ingested yet "
        "(env ENGAGEMENT_INBOX, default data/inbox)",
    ),
]
OutDir = Annotated[Optional[str], typer.Option("--out", metavar="DIR", help="env ENGAGEMENT_OUT, default data/out")]


class Every(str, enum.Enum):
    day = "day"
    week = "week"


class Period(str, enum.Enum):
    day = "day"
    week = "week"
    month = "month"


Format = Annotated[str, typer.Option("--format", metavar="FORMAT", help="table (default), csv, json or parquet")]


app = typer.Typer(
    name="engagement",
    help="Rocket.Chat Engagement Dashboard numbers from rocketchat_sessions exports.",
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
users_app = typer.Typer(
    short_help="Manage who may call the API: add (prints a new token), list, revoke.",
    help="Manage who may call the API: add (prints a new token), list, revoke.\n\n"
    "`users add USER_ID [--permission NAME ...]` prints a new random token once (view-engagement-dashboard "
    "unless other permissions are named); `users list`; `users revoke USER_ID`.",
    rich_markup_mode=None,
)
app.add_typer(users_app, name="users")


def command(name: str, group: typer.Typer = app, label: str | None = None) -> Callable:
    """Register a command whose errors become one line: `engagement <label>: error: ...`, exit 2."""

    def register(func: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(func)
        def guarded(**kwargs: Any) -> int:
            return _guard(label or name, func, kwargs)

        # the docstring's first line is the command's line in `engagement --help`, the rest its description
        group.command(name, short_help=(func.__doc__ or "").strip().splitlines()[0])(guarded)
        return func

    return register


def _guard(name: str, func: Callable[..., int], kwargs: dict[str, Any]) -> int:
    try:
        return func(**kwargs)
    except UserError as exc:
        # one line, whatever a path or value in it holds (a newline in a file name would make two)
        print(f"engagement {name}: error: {shown(str(exc), ONE_LINE)}{_flags(func, exc.about)}", file=sys.stderr)
        return 2
    except (MachineError, NoData) as exc:
        print(f"engagement {name}: {shown(str(exc), ONE_LINE)}", file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.errno == errno.EPIPE:  # `engagement ... | head`: the reader has what it wanted
            _quiet_stdout()
            return 0
        if (machine := machine_error(exc)) is not None:
            print(f"engagement {name}: {machine}", file=sys.stderr)
            return 1
        if exc.errno in PATH_ERRNOS:  # a path the user gave that cannot be read or written
            where = f" {exc.filename}" if exc.filename else ""
            print(f"engagement {name}: error: cannot use{where}: {exc.strerror}", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        print(f"engagement {name}: interrupted", file=sys.stderr)
        return 130


# a library parameter whose flag has another name
FLAG_OF_PARAMETER = {"pairs": "--map", "recipients": "--to"}


def _flags(func: Callable[..., int], about: tuple[str, ...]) -> str:
    """' (--to, --from)': the flags of the command `func` that the library's parameters `about` came from."""
    import typing

    from typer.models import OptionInfo

    if not about:
        return ""
    flags = {}
    for name, hint in typing.get_type_hints(func, include_extras=True).items():
        for info in getattr(hint, "__metadata__", ()):
            if isinstance(info, OptionInfo):
                # in Annotated[..., typer.Option("--from")] the first name is held as the default
                names = (info.default, *(info.param_decls or ()))
                declared = [d for d in names if isinstance(d, str) and d.startswith("--")]
                flags[name] = declared[0] if declared else "--" + name.replace("_", "-")
    named = {flags[name]: None for name in about if name in flags}
    named |= {FLAG_OF_PARAMETER[name]: None for name in about if FLAG_OF_PARAMETER.get(name) in flags.values()}
    return f" ({', '.join(named)})" if named else ""


# a path that does not exist, is not a folder, or may not be written: the user's to fix
PATH_ERRNOS = frozenset(
    {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.ENAMETOOLONG}
)


def _write(out: str | None, text: str) -> None:
    """`text` to the file `out` (atomically), or to stdout."""
    if out:
        from pathlib import Path

        from pipelines.files import atomic_write_bytes

        atomic_write_bytes(Path(out), text.encode("utf-8"))
    else:
        sys.stdout.write(text)


def _existing_lake(lake: str | None) -> Path:
    """The lake folder the flag or ENGAGEMENT_LAKE names; a UserError when there is no lake there."""
    from pipelines.lake import state as lakes
    from pipelines.settings import load_settings

    root = load_settings(lake).lake
    lakes.require_lake(root)
    return root


def _date(value: str | None, flag: str | None = None) -> dt.date | None:
    """A YYYY-MM-DD flag's date (None stays None); a UserError naming the flag, when given, else the value."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        if flag:
            raise UserError(f"{flag} {value!r} is not a date: use YYYY-MM-DD") from None
        raise UserError(f"cannot read {value!r} as a date: use YYYY-MM-DD") from None


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush does not fail on the closed pipe."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
