"""Small helpers the tests share: ingest then ask for a week, in-process."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pipelines.ingest.run import ingest
from pipelines.metrics.weekly import weekly_data


def week(lake: Path, end: str) -> dict[Any, int]:
    """The weekly-data body for the window ending on ISO date `end`, as {(y, m, d): users}."""
    body = weekly_data(lake, dt.date.fromisoformat(end))
    return {(i["year"], i["month"], i["day"]): i["users"] for i in body["month"]}


def ingest_docs(lake: Path, *paths: Path, tz: str = "UTC"):
    """Ingest files into the lake in the given order."""
    return ingest(list(paths), lake, tz)


def while_ingesting(lake: Path, paths: list[Path], read, limit: int) -> tuple[set, int]:
    """Ingest `paths` one after another in a thread while calling read() again and again (at most
    `limit` times); (what the reads returned, how many there were). A writer's error fails the test."""
    import threading

    stop, errors, seen = threading.Event(), [], set()

    def writer():
        try:
            for path in paths:
                ingest_docs(lake, path)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            stop.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reads = 0
    while not stop.is_set() and reads < limit:
        seen.add(read())
        reads += 1
    thread.join()
    assert not errors, errors
    return seen, reads
