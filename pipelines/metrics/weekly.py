"""weekly-data: distinct non-anonymous active users per day over the 8 days ending at `start`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pipelines.days import clipped
from pipelines.lake.snapshot import rows_over_days
from pipelines.metrics.contracts import check_weekly_body

WINDOW_DAYS = 8


def window(end: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last date of the 8-day window ending on `end` (clipped at 0001-01-01)."""
    return clipped(end, -(WINDOW_DAYS - 1)), end


def weekly_data(root: Path, end: dt.date | None, con=None) -> dict[str, Any]:
    """The endpoint body for the window ending on `end`, read from the lake's 8 user_daily partitions.

    `end` None (a window before the calendar's first day) has no users.
    """
    if end is None:
        return check_weekly_body({"month": [], "success": True})
    first, last = window(end)
    params = {"first": first, "last": last}
    rows = rows_over_days(root, "user_daily", first, last, "marts/weekly_data", params, con)
    body = {
        "month": [{"users": users, "day": day, "month": month, "year": year} for users, day, month, year in rows],
        "success": True,
    }
    return check_weekly_body(body)
