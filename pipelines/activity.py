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


def _session_files(root: Path, first: dt.datetime, last: dt.datetime) -> list[str]:
    """The sessions partitions that can hold a loginAt in [first, last] (a day's margin each side:
    a session's partition is its server-local day)."""
    start, stop = first.date() - dt.timedelta(days=1), last.date() + dt.timedelta(days=1)
    dates = [(start + dt.timedelta(days=i)).isoformat() for i in range((stop - start).days + 1)]
    return lake.read_state(root).paths(root, "sessions", dates)


def _utc_naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def hourly_data(root: Path, start: dt.datetime, con=None) -> dict[str, Any]:
    """The hourly-data body for the 24 hours up to `start` (an aware datetime)."""
    first = start - dt.timedelta(hours=24)
    files = _session_files(root, first, start)
    params = {"files": files, "from": _utc_naive(first), "to": _utc_naive(start)}
    rows = _run(con, "marts/hourly_data", params) if files else [(0, h) for h in range(22, -1, -2)]
    return {"hours": [{"users": users, "hour": hour} for users, hour in rows], "success": True}


def users_by_time(root: Path, start: dt.datetime, end: dt.datetime, con=None) -> dict[str, Any]:
    """The users-by-time-of-the-day-in-a-week body for loginAt in [start, end]."""
    files = _session_files(root, start, end)
    params = {"files": files, "from": _utc_naive(start), "to": _utc_naive(end)}
    rows = _run(con, "marts/users_by_time", params) if files else []
    return {
        "week": [{"users": u, "hour": h, "day": d, "month": m, "year": y} for u, h, d, m, y in rows],
        "success": True,
    }


def _run(con, name: str, params: dict) -> list[tuple]:
    own = con is None
    con = con or connect(threads=1)
    try:
        return con.execute(query(name), params).fetchall()
    finally:
        if own:
            con.close()
