"""Dates at the ends of the calendar: every date from 0001-01-01 to 9999-12-31 is a valid question.

Rocket.Chat accepts any year 0001..9999; a window that would run off either end is clipped to it,
never an OverflowError.
"""

from __future__ import annotations

import datetime as dt

from pipelines.errors import UserError

# the longest range one answer lists day by day (or one backfill publishes): a century of days
MAX_DAYS = 36_600

# the zone days are counted in when the deployment names none (a lake records its own: lake/zones.py)
DEFAULT_TZ = "UTC"


def shifted(day: dt.date, days: int) -> dt.date | None:
    """`day` moved by `days`; None when that falls off the calendar."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return None


def clipped(day: dt.date, days: int) -> dt.date:
    """`day` moved by `days`, stopped at the calendar's first or last date."""
    return shifted(day, days) or (dt.date.min if days < 0 else dt.date.max)


def instant_clipped(moment: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """An aware `moment` moved by `delta`, stopped at the calendar's first or last instant."""
    try:
        return moment + delta
    except OverflowError:
        edge = dt.datetime.min if delta < dt.timedelta(0) else dt.datetime.max
        return edge.replace(tzinfo=moment.tzinfo)


def between(first: dt.date, last: dt.date) -> list[str]:
    """The ISO dates first..last, both included (none when last < first)."""
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def check_range(first: dt.date, last: dt.date, step: int = 1, held: str = "", unit: str = "days") -> None:
    """A UserError for a range that ends before it starts, or one of more than MAX_DAYS `unit`s of
    `step` days each (`held`, e.g. what the lake holds, is said with it)."""
    if last < first:
        raise UserError(f"the end date {last} is before the start date {first}", "last", "first")
    if (last - first).days // step >= MAX_DAYS:
        note = f" ({held})" if held else ""
        raise UserError(f"{first} .. {last} is more than {MAX_DAYS:,} {unit}: narrow it{note}", "first", "last")
