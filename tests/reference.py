"""An independent, plain-Python reading of the counting rules, to check the pipeline against.

Written from the spec (shared/spec/semantics.md) without DuckDB: one document at a time, the way a
person would count by hand. Slow, and only for tests.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections import defaultdict
from pathlib import Path
from typing import Any

UTC = dt.timezone.utc


def _date_value(value: Any) -> dt.datetime | None:
    if not isinstance(value, dict) or "$date" not in value:
        return None
    inner = value["$date"]
    if isinstance(inner, str):
        return dt.datetime.fromisoformat(inner.replace("Z", "+00:00"))
    if isinstance(inner, dict):
        inner = int(inner["$numberLong"])
    return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=inner)


def _int_value(value: Any) -> int | None:
    if isinstance(value, dict):
        value = next(iter(value.values()))
    return None if value is None else int(float(value))


def load(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """Read exports in ingest order; keep per _id the version with the latest _updatedAt (ties: last read)."""
    kept: dict[str, dict[str, Any]] = {}
    floor = dt.datetime.min.replace(tzinfo=UTC)
    for path in paths:
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            doc = json.loads(line)
            key = doc["_id"]["$oid"] if isinstance(doc["_id"], dict) else doc["_id"]
            old = kept.get(key)
            if old is None:
                kept[key] = doc
                continue
            new_at, old_at = _date_value(doc.get("_updatedAt")), _date_value(old.get("_updatedAt"))
            if new_at is None and old_at is not None:
                continue
            if (new_at or floor) >= (old_at or floor):
                kept[key] = doc
    return kept


def _day_of(doc: dict[str, Any], zone: zoneinfo.ZoneInfo) -> dt.date | None:
    year, month, day = (_int_value(doc.get(k)) for k in ("year", "month", "day"))
    if year is not None and month is not None and day is not None:
        return dt.date(year, month, day)
    login = _date_value(doc.get("loginAt"))
    return login.astimezone(zone).date() if login else None


def active_user_days(docs: dict[str, dict[str, Any]], tz: str) -> dict[tuple[str, dt.date], str | None]:
    """(userId, date) -> role, the union of user_daily documents and days built from raw sessions."""
    zone = zoneinfo.ZoneInfo(tz)
    devices: dict[tuple[str, dt.date], dict[str, list]] = defaultdict(dict)
    from_documents: dict[tuple[str, dt.date], tuple] = {}
    for _id, doc in docs.items():
        user = doc.get("userId")
        if user is None:
            continue
        if doc["type"] == "user_daily":
            day = _day_of(doc, zone)
            rank = (_date_value(doc.get("_updatedAt")) or dt.datetime.min.replace(tzinfo=UTC), _id)
            if (user, day) not in from_documents or rank > from_documents[(user, day)][0]:
                from_documents[(user, day)] = (rank, doc.get("mostImportantRole"))
            continue
        login, last = _date_value(doc.get("loginAt")), _date_value(doc.get("lastActivityAt"))
        device = doc.get("device")
        if login is None or last is None or device is None:
            continue
        elapsed_ms = round((last - login).total_seconds() * 1000)
        if elapsed_ms < 1000:
            continue
        key = json.dumps(device, separators=(",", ":"), ensure_ascii=False)
        entry = devices[(user, _day_of(doc, zone))].setdefault(key, [0, None])
        entry[0] += elapsed_ms // 1000
        first = (login, _id)
        if entry[1] is None or first < entry[1][0]:
            entry[1] = (first, doc.get("mostImportantRole"))
    days: dict[tuple[str, dt.date], str | None] = {}
    for user_day, per_device in devices.items():
        top = max(per_device, key=lambda k: (per_device[k][0], k))
        days[user_day] = per_device[top][1][1]
    for user_day, (_, role) in from_documents.items():
        days[user_day] = role
    return days


def weekly_data(paths: list[Path], end: dt.date, tz: str = "UTC") -> dict[str, Any]:
    """The weekly-data body for the 8 dates ending on `end`."""
    counts: dict[dt.date, int] = defaultdict(int)
    for (_, day), role in active_user_days(load(paths), tz).items():
        if role != "anonymous" and end - dt.timedelta(days=7) <= day <= end:
            counts[day] += 1
    items = [
        {"users": counts[day], "day": day.day, "month": day.month, "year": day.year}
        for day in sorted(counts, reverse=True)
    ]
    return {"month": items, "success": True}


def counted_days(paths: list[Path], tz: str = "UTC") -> dict[dt.date, set[str]]:
    """date -> the users counted that day (active, role not anonymous)."""
    users: dict[dt.date, set[str]] = defaultdict(set)
    for (user, day), role in active_user_days(load(paths), tz).items():
        if role != "anonymous":
            users[day].add(user)
    return users


def trend_daily(paths: list[Path], first: dt.date, last: dt.date, tz: str = "UTC") -> list[tuple]:
    """(date, dau, wau, mau) for every date first..last: users of the day, of the 7 and 30 days ending it."""
    users = counted_days(paths, tz)
    rows = []
    day = first
    while day <= last:
        window = [users.get(day - dt.timedelta(days=i), set()) for i in range(30)]
        rows.append((day, len(window[0]), len(set().union(*window[:7])), len(set().union(*window))))
        day += dt.timedelta(days=1)
    return rows


def held_days(paths: list[Path], tz: str = "UTC") -> set[dt.date]:
    """The dates any document names (the days the lake holds)."""
    zone = zoneinfo.ZoneInfo(tz)
    return {day for doc in load(paths).values() if (day := _day_of(doc, zone)) is not None}


def trend_periods(paths: list[Path], first: dt.date, last: dt.date, every: str, tz: str = "UTC") -> list[tuple]:
    """(period_start, users, user_days, avg_dau, partial) per ISO week or month of first..last: the
    average over the days held; partial when the range cuts the period or a day of it is not held."""
    users = counted_days(paths, tz)
    held = held_days(paths, tz)
    periods: dict[dt.date, list] = {}
    day = first
    while day <= last:
        start = day - dt.timedelta(days=day.weekday()) if every == "week" else day.replace(day=1)
        entry = periods.setdefault(start, [set(), 0, 0])
        entry[0] |= users.get(day, set())
        entry[1] += len(users.get(day, set()))
        entry[2] += day in held
        day += dt.timedelta(days=1)
    rows = []
    for start, (who, user_days, days_held) in sorted(periods.items()):
        if every == "week":
            end = start + dt.timedelta(days=6)
        else:
            end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        whole = (end - start).days + 1
        average = round(user_days / days_held, 2) if days_held else None
        rows.append((start, len(who), user_days, average, start < first or end > last or days_held < whole))
    return rows
