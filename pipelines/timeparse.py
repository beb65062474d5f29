"""Turn the `start` a user gives into the date it names in the server's zone; read and write durations."""

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


def parse_duration(text: str) -> dt.timedelta:
    """'26h', '50 h', '2d', '90m', '1d12h', or ISO 8601 'PT26H': a ValueError names the forms."""
    try:
        return _duration(text.strip().lower())
    except (ValueError, OverflowError):
        raise ValueError(f"{text!r} is not a duration: give one like 26h, 2d, 90m or PT26H") from None


def _duration(value: str) -> dt.timedelta:
    if value.startswith("p"):
        match = re.fullmatch(r"p(?:(\d+)d)?(?:t(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?)?", value)
        if match and any(match.groups()):
            d, h, m, s = (int(g or 0) for g in match.groups())
            return dt.timedelta(days=d, hours=h, minutes=m, seconds=s)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)", value)
        if parts and re.fullmatch(r"(?:\s*\d+(?:\.\d+)?\s*[dhms])+\s*", value):
            unit = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
            return sum((dt.timedelta(**{unit[u]: float(n)}) for n, u in parts), dt.timedelta(0))
    raise ValueError(value)


def duration_label(delta: dt.timedelta) -> str:
    """'50 h' under four days, else '1,068 days' (how a threshold or an age reads)."""
    hours = delta.total_seconds() / 3600
    if hours < 96:
        return f"{hours:,.0f} h" if hours >= 1 else f"{delta.total_seconds() / 60:,.0f} min"
    return f"{delta.days:,} days"


def parse_keep(text: str) -> dt.timedelta:
    """'30d', '13w', '400 d' or ISO 8601 'P30D': whole days, at least one. A ValueError names the
    forms (minutes, hours and months are refused: `30m` read as minutes would prune almost everything)."""
    value = text.strip().lower()
    match = re.fullmatch(r"(\d+)\s*([dw])|p(\d+)([dw])", value)  # 30d, 30 d; or ISO P30D
    if not match:
        raise ValueError(f"{text!r} is not a retention: give whole days or weeks, such as 30d, 13w or P400D")
    number, unit = match[1] or match[3], match[2] or match[4]
    days = int(number) * (7 if unit == "w" else 1)
    if not 1 <= days <= 3_650_000:
        raise ValueError(f"{text!r} is not a retention: keep at least 1 day (and fewer than 10,000 years)")
    return dt.timedelta(days=days)


def keep_label(keep: dt.timedelta) -> str:
    """How a retention reads: '30 days'."""
    return f"{keep.days:,} day{'s' if keep.days != 1 else ''}"
