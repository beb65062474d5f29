"""Small helpers the tests share: ingest then ask for a week, in-process."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pipelines.ingest import ingest
from pipelines.weekly import weekly_data


def week(lake: Path, end: str) -> dict[Any, int]:
    """The weekly-data body for the window ending on ISO date `end`, as {(y, m, d): users}."""
    body = weekly_data(lake, dt.date.fromisoformat(end))
    return {(i["year"], i["month"], i["day"]): i["users"] for i in body["month"]}


def ingest_docs(lake: Path, *paths: Path, tz: str = "UTC"):
    """Ingest files into the lake in the given order."""
    return ingest(list(paths), lake, tz)
