"""Turn the `start` a user gives into the date it names in the server's zone."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from pipelines.errors import UserError

# What JavaScript's Date.prototype.toISOString() prints, and so what the HTTP endpoint accepts.
# Exactly what JavaScript's Date.prototype.toISOString() prints for a real instant of years
# 0001..9999: ASCII digits only (Python's \d and strptime take any script's digits), months of
# their length, 29 February in leap years only. The HTTP endpoints accept this and nothing else,
# and their OpenAPI document states the same pattern.
_YEAR = r"(?:[0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][48]|[2468]0|[13579][26])00)"
_DATE = (
    rf"(?:{_YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    rf"|02-(?:0[1-9]|1[0-9]|2[0-8]))|{_LEAP_YEAR}-02-29)"
)
ISO_STRING_PATTERN = rf"^{_DATE}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{{3}}Z$"
ISO_STRING = re.compile(ISO_STRING_PATTERN)


def is_js_iso_string(value: str) -> bool:
    """True when `value` is exactly toISOString() output for a real instant of years 0001..9999."""
    return ISO_STRING.fullmatch(value) is not None


def date_of(value: str, tz: str) -> dt.date:
    """The date `value` falls on in zone `tz`: an ISO instant (Z or offset), a local time, or a bare date."""
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        moment = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise UserError(f"cannot read {value!r} as a date: use 2023-05-19 or 2023-05-19T23:59:59.999Z") from None
    zone = zoneinfo.ZoneInfo(tz)
    if moment.tzinfo is None:
        return moment.date()  # a local time is already in the server's zone
    try:
        return moment.astimezone(zone).date()
    except OverflowError:  # 9999-12-31T23:00Z is year 10000 east of UTC: the calendar's last date
        return dt.date.max if moment.year == dt.MAXYEAR else dt.date.min
