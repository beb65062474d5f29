"""Progress of an ingest: a small interface the plain functions report to, and a rich bar for terminals."""

from __future__ import annotations

import sys
from typing import Protocol


class Progress(Protocol):
    """What an ingest reports as it goes."""

    def reading(self, total_bytes: int) -> None: ...
    def read(self, done_bytes: int) -> None: ...
    def rebuilding(self, days: int) -> None: ...
    def rebuilt(self, days: int) -> None: ...


class Quiet:
    """Reports nothing (not a terminal, or in a flow)."""

    def reading(self, total_bytes: int) -> None: ...
    def read(self, done_bytes: int) -> None: ...
    def rebuilding(self, days: int) -> None: ...
    def rebuilt(self, days: int) -> None: ...


class RichBars:
    """Two bars on the terminal's stderr: bytes of input read, then days rebuilt; gone when done."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = None

    def __enter__(self) -> RichBars:
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bars.stop()

    def reading(self, total_bytes: int) -> None:
        self._task = self._bars.add_task("reading (MiB)", total=max(1, total_bytes >> 20))

    def read(self, done_bytes: int) -> None:
        self._bars.advance(self._task, done_bytes >> 20)

    def rebuilding(self, days: int) -> None:
        self._task = self._bars.add_task("rebuilding days", total=max(1, days))

    def rebuilt(self, days: int) -> None:
        self._bars.advance(self._task, days)


def for_terminal():
    """Rich bars when stderr is a terminal, else quiet."""
    return RichBars() if sys.stderr.isatty() else None
