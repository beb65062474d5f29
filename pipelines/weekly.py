"""weekly-data: distinct non-anonymous active users per day over the 8 days ending at `start`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb

from pipelines import lake
from pipelines.schema import check_weekly_body
from pipelines.sql import connect, query

WINDOW_DAYS = 8
READ_ATTEMPTS = 5


def window(end: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last date of the 8-day window ending on `end`."""
    return end - dt.timedelta(days=WINDOW_DAYS - 1), end


def weekly_data(root: Path, end: dt.date, con=None) -> dict[str, Any]:
    """The endpoint body for the window ending on `end`, read from the lake's 8 user_daily partitions."""
    first, last = window(end)
    dates = [(first + dt.timedelta(days=i)).isoformat() for i in range(WINDOW_DAYS)]
    own = con is None
    con = con or connect(threads=1)
    try:
        for attempt in range(READ_ATTEMPTS):
            files = lake.read_state(root).paths(root, "user_daily", dates)
            if not files:
                rows = []
                break
            try:
                rows = con.execute(
                    query("marts/weekly_data"), {"files": files, "first": first, "last": last}
                ).fetchall()
                break
            except duckdb.IOException:
                # a writer replaced a partition between our reading the state and the file: reload
                if attempt == READ_ATTEMPTS - 1:
                    raise
    finally:
        if own:
            con.close()
    body = {
        "month": [{"users": users, "day": day, "month": month, "year": year} for users, day, month, year in rows],
        "success": True,
    }
    return check_weekly_body(body)
