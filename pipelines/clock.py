"""The instant the commands take as now: the system clock, or ENGAGEMENT_NOW when it is set.

Everything that says how old something is or when it happened reads the clock here, and nowhere
else: the freshness age (`status`, the nightly's check), the week a nightly publishes when it is
given no `--date`, `--as-of`'s default (`last-seen`), the time an ingest, a run or a delivery is
recorded at, and an email's Date. Setting ENGAGEMENT_NOW pins all of them to one instant (an ISO
time such as 2023-05-20T02:30:00Z; a time without an offset is UTC; a bare date is its midnight
UTC): the README's and the docs' examples run at a fixed now, so they read the same on any day, and
a past night can be rerun as it ran.

`engagement serve`'s login sessions and login budget keep the system clock: a pinned clock must never
keep a session alive. Durations (timeouts, progress) use time.monotonic, which is no date.
"""

from __future__ import annotations

import datetime as dt


def pinned() -> dt.datetime | None:
    """ENGAGEMENT_NOW as an aware UTC instant, or None when it is unset (a bad value: a UserError)."""
    from pipelines.settings import Clock, resolve

    return resolve(Clock).now


def now() -> dt.datetime:
    """The current instant, aware, in UTC."""
    return pinned() or dt.datetime.now(dt.timezone.utc)


def now_iso() -> str:
    """now() as the lake records times: 2023-05-20T02:30:00+00:00."""
    return iso(now())


def iso(moment: dt.datetime) -> str:
    """An aware instant as the lake records times, in UTC: 2023-05-20T02:30:00+00:00."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def instant(text: str) -> dt.datetime:
    """A time the lake recorded (ISO, 'Z' or an offset; none read as UTC) as an aware datetime."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def today() -> dt.date:
    """Today's date on this machine's calendar (its local zone), as date.today() says, at now()."""
    return now().astimezone().date()
