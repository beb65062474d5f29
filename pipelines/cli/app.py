"""The `engagement` command line (Typer): a thin front over the plain functions.

One module per command group (ingest, weekly, reports, serve, nightly, history, cohorts) registers its commands
on the app of `options`, where the options shared by several commands are declared once. Heavy
libraries (DuckDB, pyarrow, pydantic-settings, Prefect) are imported inside the commands that need
them, so `engagement --help` stays instant and no command but a flow's imports Prefect. A user's
mistake is one line on stderr and exit 2, never a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from pipelines.cli.options import app

# each group registers its commands on `app` when imported: in this order, the order of `--help`
for _group in ("ingest", "weekly", "reports", "serve", "nightly", "history", "cohorts"):
    importlib.import_module(f"pipelines.cli.{_group}")


def _version() -> str:
    """The installed package's version (pyproject.toml), without importing anything heavy."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chat-engagement")
    except PackageNotFoundError:  # run from a checkout that was not installed
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        print(f"engagement {_version()}")
        raise typer.Exit()


@app.callback()
def _engagement(
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_show_version, help="show the version and exit")
    ] = False,
) -> None:
    """Rocket.Chat Engagement Dashboard numbers from rocketchat_sessions exports."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `engagement` command: user mistakes are one line on stderr and exit 2."""
    from pipelines.files import lake_modes

    command_ = typer.main.get_command(app)
    umask = os.umask(lake_modes()[0])  # every file a command writes is the lake's kind: private by default
    try:
        result = command_.main(
            args=_optional_values(list(sys.argv[1:] if argv is None else argv)),
            prog_name="engagement",
            standalone_mode=False,
        )
    except typer.TyperException as exc:  # the command line itself: an unknown command, a missing or bad option
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "engagement"
        hint = f"; see `{where} --help`" if ctx is not None else ""
        print(f"{where}: error: {exc.format_message().rstrip('.')}{hint}", file=sys.stderr)
        return exc.exit_code
    except typer.Abort:
        return 130
    finally:
        os.umask(umask)
    return result if isinstance(result, int) else 0


# options whose value may be left out (`--inbox` alone: the inbox of the environment)
OPTIONAL_VALUES = {"ingest": ("--inbox", "--archive"), "nightly": ("--inbox",)}


def _optional_values(argv: list[str]) -> list[str]:
    """`ingest --inbox` with no DIR after it (at the end, or before another option) as `--inbox=`."""
    names = OPTIONAL_VALUES.get(argv[0], ()) if argv else ()
    return [
        f"{arg}=" if arg in names and (i + 1 == len(argv) or argv[i + 1].startswith("-")) else arg
        for i, arg in enumerate(argv)
    ]


if __name__ == "__main__":
    raise SystemExit(main())
