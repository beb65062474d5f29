"""How far the lake's data reaches, and how old it is: what a report may state and what it must not.

Each manifest entry records how far its file's stored documents reach (the newest activity of its
sessions, the latest day of its user_daily rollups) and when the ingest that brought it ran. From
these, for the lake's zone:

- the newest activity, and the ingest that first brought it;
- the last loaded day: the day of the newest activity (or the latest rollup day), counted as loaded
  only if it had ended, in the zone, before that ingest ran (an export taken at noon holds half a day);
- each day's status: before the lake's data, loaded, or not loaded yet.

Like dbt's `source freshness`, the age of the newest activity is checked against two thresholds
(ENGAGEMENT_FRESHNESS_WARN and _ERROR): `engagement status --check` and the nightly run use them.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines import clock
from pipelines.lake import state as lake
from pipelines.lake.manifest import Entry, read_manifest
from pipelines.timeparse import duration_label

BEFORE_LAKE = "before the lake's data"
LOADED = "loaded"
NOT_LOADED = "not loaded yet"


def day_end(day: dt.date, zone: str) -> dt.datetime:
    """The moment `day` ends in `zone` (the next day's midnight there), in UTC."""
    after = dt.datetime.combine(day, dt.time()) + dt.timedelta(days=1)
    return after.replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(dt.timezone.utc)


@dataclass(frozen=True)
class Freshness:
    """How far a lake's data reaches (see the module's doc). Every field is None for an empty lake."""

    zone: str
    first_day: dt.date | None  # the lake's first day with data
    newest_activity: dt.datetime | None  # UTC; None when only rollups (or an older manifest) tell
    newest_day: dt.date | None  # the day of the newest activity, or the latest rollup day
    ingested_at: dt.datetime | None  # when the ingest that brought it ran
    loaded_through: dt.date | None  # the last day whose data is loaded whole

    def status(self, day: dt.date) -> str:
        """BEFORE_LAKE, LOADED or NOT_LOADED: whether the lake can say how many users `day` had."""
        if self.first_day is None or day < self.first_day:
            return BEFORE_LAKE
        if self.loaded_through is None or day > self.loaded_through:
            return NOT_LOADED
        return LOADED

    def loaded_days(self, first: dt.date, last: dt.date) -> int:
        """How many days of first..last are loaded (they are one run: before, loaded, not loaded yet)."""
        if self.first_day is None or self.loaded_through is None:
            return 0
        low, high = max(first, self.first_day), min(last, self.loaded_through)
        return max((high - low).days + 1, 0)

    def loaded_span(self) -> str:
        """'its last loaded day is 2023-05-19 (its first 2023-04-28)', for a message."""
        if self.first_day is None or self.loaded_through is None or self.loaded_through < self.first_day:
            return "it holds no loaded day yet"
        return f"its last loaded day is {self.loaded_through} (its first {self.first_day})"

    def no_loaded_day(self, first: dt.date, last: dt.date) -> str | None:
        """What to say of first..last when no day of it is loaded (a count the lake cannot stand behind,
        not zero users); None when some day is."""
        if self.loaded_days(first, last):
            return None
        return f"the lake holds no loaded day of {first} .. {last}: {self.loaded_span()}"

    def age(self, at: dt.datetime) -> dt.timedelta | None:
        """How old the newest data is at `at`: from the newest activity, or from the end of the newest
        day when only a rollup reaches that day."""
        if self.newest_day is None:
            return None
        newest = self.newest_activity
        if newest is None or newest.astimezone(zoneinfo.ZoneInfo(self.zone)).date() < self.newest_day:
            newest = day_end(self.newest_day, self.zone)
        return max(at - newest, dt.timedelta(0))

    def newest_label(self) -> str | None:
        """'2023-05-19 21:39' in the lake's zone (the newest activity), or the newest day; None if empty."""
        if self.newest_activity is not None and self.newest_activity.astimezone(
            zoneinfo.ZoneInfo(self.zone)
        ).date() >= (self.newest_day or dt.date.min):
            return self.newest_activity.astimezone(zoneinfo.ZoneInfo(self.zone)).strftime("%Y-%m-%d %H:%M")
        return self.newest_day.isoformat() if self.newest_day else None


def _loaded_through(day: dt.date, ingested: dt.datetime, zone: str) -> dt.date:
    """`day` if it had ended in `zone` when the ingest ran, else the day before."""
    return day if day_end(day, zone) <= ingested else day - dt.timedelta(days=1)


def freshness_of(entries: list[Entry], state: lake.LakeState) -> Freshness:
    """The lake's freshness from its manifest's entries and its state (which days it holds)."""
    zone = state.zone
    held = sorted({*state.held_days(), *state.files["user_daily"]})
    if not held:
        return Freshness(zone, None, None, None, None, None)
    first = dt.date.fromisoformat(held[0])
    activity = [(clock.instant(e.newest_activity), clock.instant(e.ingested_at)) for e in entries if e.newest_activity]
    rollups = [
        (dt.date.fromisoformat(e.newest_rollup_day), clock.instant(e.ingested_at))
        for e in entries
        if e.newest_rollup_day
    ]
    candidates: list[tuple[dt.date, dt.date, dt.datetime | None, dt.datetime]] = []  # (loaded, day, newest, ingested)
    if activity:
        newest = max(a for a, _ in activity)
        ingested = min(i for a, i in activity if a == newest)  # the ingest that first brought it
        newest = min(newest, ingested)  # activity after its own ingest is a server's clock error
        day = newest.astimezone(zoneinfo.ZoneInfo(zone)).date()
        candidates.append((_loaded_through(day, ingested, zone), day, newest, ingested))
    if rollups:
        day = max(d for d, _ in rollups)
        ingested = min(i for d, i in rollups if d == day)
        candidates.append((_loaded_through(day, ingested, zone), day, None, ingested))
    if not candidates:  # a manifest written before entries recorded their reach: the lake's last day
        day = dt.date.fromisoformat(held[-1])
        ingested = max((clock.instant(e.ingested_at) for e in entries), default=day_end(day, zone))
        candidates.append((_loaded_through(day, ingested, zone), day, None, ingested))
    loaded, day, _, ingested = max(candidates, key=lambda c: (c[0], c[1]))
    newest = max((c[2] for c in candidates if c[2] is not None), default=None)
    return Freshness(zone, first, newest, day, ingested, loaded)


def freshness(root: Path, state: lake.LakeState | None = None) -> Freshness:
    """The freshness of the lake at `root` (its state read unless given)."""
    return freshness_of(read_manifest(root).entries, state or lake.read_state(root))


def freshness_report(fresh: Freshness, now: dt.datetime, warn: dt.timedelta, error: dt.timedelta) -> dict[str, Any]:
    """How far the data reaches and how old it is at `now`, against the thresholds: level ok, warn or error."""
    age = fresh.age(now)
    level = "ok" if age is None or age <= warn else "warn" if age <= error else "error"
    return {
        "newest_activity": fresh.newest_label(),
        "loaded_through": fresh.loaded_through.isoformat() if fresh.loaded_through else None,
        "ingested_at": fresh.ingested_at.isoformat(timespec="seconds") if fresh.ingested_at else None,
        "age_hours": round(age.total_seconds() / 3600, 1) if age is not None else None,
        "age": duration_label(age) if age is not None else None,
        "warn_after": duration_label(warn),
        "error_after": duration_label(error),
        "level": level,
    }


def stale_line(report: dict[str, Any]) -> str:
    """`stale data: newest activity 2023-12-31 23:12 (1,068 days old; error after 50 h)`."""
    threshold = report["error_after"] if report["level"] == "error" else report["warn_after"]
    which = "error" if report["level"] == "error" else "warning"
    return f"stale data: newest activity {report['newest_activity']} ({report['age']} old; {which} after {threshold})"
