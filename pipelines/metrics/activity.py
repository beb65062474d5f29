"""active-users: the active user-days of a date range, with the users' ids."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pipelines.days import clipped, instant_clipped
from pipelines.lake.snapshot import rows_over_days, rows_over_logins
from pipelines.metrics.contracts import ActiveUsers, HourlyData, UsersByTime, checked


def active_users(root: Path, first: dt.date, last: dt.date, con=None) -> dict[str, Any]:
    """The endpoint body for dates first..last (inclusive), from their user_daily partitions."""
    rows = rows_over_days(root, "user_daily", first, last, "marts/active_users", {"first": first, "last": last}, con)
    body = {
        "month": [
            {"day": day, "month": month, "year": year, "usersList": list(ids), "users": users}
            for day, month, year, ids, users in rows
        ],
        "success": True,
    }
    return checked(ActiveUsers, body)


def _session_dates(first: dt.datetime, last: dt.datetime) -> tuple[dt.date, dt.date]:
    """The sessions partitions that can hold a loginAt in [first, last] (a day's margin each side:
    a session's partition is its server-local day), clipped to the calendar."""
    return clipped(first.date(), -1), clipped(last.date(), 1)


def _utc_naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def hourly_data(root: Path, start: dt.datetime, con=None) -> dict[str, Any]:
    """The hourly-data body for the 24 hours up to `start` (an aware datetime)."""
    first = instant_clipped(start, -dt.timedelta(hours=24))
    params = {"from": _utc_naive(first), "to": _utc_naive(start)}
    rows = rows_over_logins(root, *_session_dates(first, start), "marts/hourly_data", params, con) or [
        (0, hour) for hour in range(22, -1, -2)
    ]
    return checked(HourlyData, {"hours": [{"users": users, "hour": hour} for users, hour in rows], "success": True})


def users_by_time(root: Path, start: dt.datetime, end: dt.datetime, con=None) -> dict[str, Any]:
    """The users-by-time-of-the-day-in-a-week body for loginAt in [start, end]."""
    params = {"from": _utc_naive(start), "to": _utc_naive(end)}
    rows = rows_over_logins(root, *_session_dates(start, end), "marts/users_by_time", params, con)
    body = {
        "week": [{"users": u, "hour": h, "day": d, "month": m, "year": y} for u, h, d, m, y in rows],
        "success": True,
    }
    return checked(UsersByTime, body)
