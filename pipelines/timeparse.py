"""Turn the `start` a user gives into the date it names in the server's zone."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from pipelines.errors import UserError

# What JavaScript's Date.prototype.toISOString() prints, and so what the HTTP endpoint accepts.
ISO_STRING = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def is_js_iso_string(value: str) -> bool:
    """True when `value` is exactly toISOString() output for a real instant."""
    if not ISO_STRING.fullmatch(value):
        return False
    try:
        dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return False
    return True


def date_of(value: str, tz: str) -> dt.date:
    """The date `value` falls on in zone `tz`: an ISO instant (Z or offset), a local time, or a bare date."""
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        moment = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise UserError(
            f"cannot read {value!r} as a date: use 2023-05-19 or 2023-05-19T23:59:59.999Z"
        ) from None
    zone = zoneinfo.ZoneInfo(tz)
    if moment.tzinfo is None:
        return moment.date()  # a local time is already in the server's zone
    try:
        return moment.astimezone(zone).date()
    except OverflowError:  # 9999-12-31T23:00Z is year 10000 east of UTC: the calendar's last date
        return dt.date.max if moment.year == dt.MAXYEAR else dt.date.min
