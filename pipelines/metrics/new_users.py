"""new-users: registrations per day of a period and against the period before, as Rocket.Chat answers it.

Rocket.Chat's findWeeklyUsersRegisteredData (ee/server/lib/engagementDashboard/users.ts), on the
lake's registrations (pipelines/ingest/registrations.py), with dates in the server's zone (the lake's):

- n = the whole days from start to end (wall clock, truncated toward zero, as moment's diff) + 1;
- this period: the dates (yyyyMMdd) of start..end with registrations, summed per date, latest
  first, the first n of them (Mongo's $sort then $limit); the previous period: the dates
  start-1-n .. start-1, the first n of those the same way;
- period: the sum of this period's users, variation that minus the previous period's sum;
- yesterday: the users of end's date minus one day among this period's rows, variation end's
  date's users minus it;
- days: this period's rows, each date as the instant of its local midnight.

The counts come from the analytics documents when the lake holds any; else from the accounts'
createdAt (Rocket.Chat fills its analytics from them when it has none: see docs/commands/ingest.md for how
that differs). Where Rocket.Chat's current code differs from the above, docs/commands/ingest.md says which.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipelines.days import clipped, shifted
from pipelines.lake import state as lake
from pipelines.metrics.contracts import NewUsers, checked
from pipelines.sql import query, reader

NO_LIMIT = 2**62


def as_int(day: dt.date) -> int:
    """Rocket.Chat's convertDateToInt: the date as the integer yyyyMMdd."""
    return day.year * 10000 + day.month * 100 + day.day


def midnight_iso(date: int, zone: ZoneInfo) -> str:
    """Rocket.Chat's convertIntToDate as JSON: the date's local midnight, as toISOString() prints it."""
    local = dt.datetime(date // 10000, date // 100 % 100, date % 100, tzinfo=zone)
    try:
        moment = local.astimezone(dt.timezone.utc)
    except OverflowError:  # 0001-01-01 in a zone ahead of UTC: before the first instant
        moment = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def period_days(start: dt.datetime, end: dt.datetime) -> int:
    """moment(end).diff(start, 'days') + 1: whole days of wall-clock time between them, truncated toward zero."""
    wall = end.replace(tzinfo=None) - start.replace(tzinfo=None)
    whole = abs(wall) // dt.timedelta(days=1)
    return (whole if wall >= dt.timedelta(0) else -whole) + 1


def period_body(zone: ZoneInfo, start: dt.datetime, end: dt.datetime, rows, key: str) -> dict[str, Any]:
    """Rocket.Chat's weekly per-day body (new-users' and messages-sent's: see the module's doc) from
    `rows(low, high, limit)`: the (yyyyMMdd, count) rows of dates low..high, latest first, at most
    `limit`; `key` names each day's count ("users", "messages")."""
    first, last = start.astimezone(zone), end.astimezone(zone)
    count = period_days(first, last)
    # Mongo's $limit with a count of 0 is not applied; a negative one Rocket.Chat cannot run
    # (its ranges are then empty anyway: end's date lies before start's)
    limit = count if count > 0 else NO_LIMIT
    last_end = shifted(first.date(), -1)  # None: start is the calendar's first day, nothing before it
    last_start = clipped(last_end, -count) if last_end and count >= 0 else dt.date.max

    def between(low: dt.date, high: dt.date | None) -> list[tuple[int, int]]:
        if high is None or low > high:
            return []
        return [(int(d), int(n)) for d, n in rows(as_int(low), as_int(high), limit)]

    current = between(first.date(), last.date())
    previous = between(last_start, last_end)
    by_date = dict(current)
    today = by_date.get(as_int(last.date()), 0)
    yesterday_date = clipped(last.date(), -1)
    yesterday = by_date.get(as_int(yesterday_date), 0) if yesterday_date != last.date() else 0
    total, total_before = sum(n for _, n in current), sum(n for _, n in previous)
    return {
        "days": [{"day": midnight_iso(d, zone), key: n} for d, n in current],
        "period": {"count": total, "variation": total - total_before},
        "yesterday": {"count": yesterday, "variation": today - yesterday},
        "success": True,
    }


def new_users(root: Path, start: dt.datetime, end: dt.datetime, con=None) -> dict[str, Any]:
    """The new-users body for the aware instants start..end."""

    def answer(state: lake.LakeState) -> dict[str, Any]:
        zone = ZoneInfo(state.zone)
        analytics = state.registration(root, "analytics")
        accounts = state.registration(root, "users")
        if analytics:
            name, params = "marts/new_users_analytics", {"files": [analytics]}
        elif accounts:
            name, params = "marts/new_users_accounts", {"files": [accounts], "tz": str(zone)}
        else:
            return period_body(zone, start, end, lambda low, high, limit: [], "users")

        def rows(low: int, high: int, limit: int) -> list[tuple]:
            return con.execute(query(name), {**params, "first": low, "last": high, "limit": limit}).fetchall()

        return period_body(zone, start, end, rows, "users")

    con = con or reader()
    return checked(NewUsers, lake.on_snapshot(root, answer))
