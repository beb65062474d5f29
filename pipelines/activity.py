"""active-users: the active user-days of a date range, with the users' ids."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pipelines import lake
from pipelines.sql import connect, query


def active_users(root: Path, first: dt.date, last: dt.date, con=None) -> dict[str, Any]:
    """The endpoint body for dates first..last (inclusive), from their user_daily partitions."""
    days = (last - first).days + 1
    dates = [(first + dt.timedelta(days=i)).isoformat() for i in range(max(days, 0))]
    files = lake.read_state(root).paths(root, "user_daily", dates)
    rows = []
    if files:
        own = con is None
        con = con or connect(threads=1)
        try:
            rows = con.execute(query("marts/active_users"), {"files": files, "first": first, "last": last}).fetchall()
        finally:
            if own:
                con.close()
    return {
        "month": [
            {"day": day, "month": month, "year": year, "usersList": list(ids), "users": users}
            for day, month, year, ids, users in rows
        ],
        "success": True,
    }
