"""Who stays: retention cohorts, lifecycle, stickiness and last-seen, over the lake's whole history.

Each view reads the counted user-days (`user_daily`, non-anonymous as weekly-data counts them) of
one snapshot of the lake (snapshot.over_views), in the lake's zone, through one query of
queries/history/, and returns an Arrow table; the CLI prints it, the notebook API hands it over as
a DataFrame, the report site draws it. A user's first day is the first day the lake counts the
user active: a lake that begins after a server did cannot know who was active before it, and
retention says so when its first cohort holds the lake's first day (`note`).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pyarrow as pa

from pipelines import clock
from pipelines.errors import UserError
from pipelines.lake import state as lake
from pipelines.lake.snapshot import over_views
from pipelines.metrics.history import check_range, require_days
from pipelines.sql import query

COHORT_UNITS = ("week", "month")
LIFECYCLE_UNITS = ("day", "week", "month")
WINDOWS = (7, 30)
SHOWS = ("histogram", "daily")
_FIRSTS: dict[tuple, pa.Table] = {}  # the last snapshot's first days (first_days), by its user_daily files


def _unit(every: str, allowed: tuple[str, ...]) -> str:
    if every not in allowed:
        raise UserError(f"unknown period {every!r}: use {', '.join(allowed[:-1])} or {allowed[-1]}", "every")
    return every


def _lake_first_day(state: lake.LakeState) -> dt.date | None:
    held = sorted(state.files["user_daily"])
    return dt.date.fromisoformat(held[0]) if held else None


def _lake_last_day(state: lake.LakeState) -> dt.date | None:
    held = sorted(state.files["user_daily"])
    return dt.date.fromisoformat(held[-1]) if held else None


def _loaded_end(state: lake.LakeState, last: dt.date) -> dt.date:
    """The range's end, or the lake's last day when that is earlier: a day after the lake's data is
    unknown, not a day nobody came, so no view counts it."""
    held = _lake_last_day(state)
    return min(last, held) if held else last


def _cut_note(starts: list[dt.date], unit: str, end: dt.date, state: lake.LakeState) -> str | None:
    """What to say when the last period runs past the days counted (the range's end, or the lake's)."""
    if not starts:
        return None
    final = starts[-1]
    period_end = _next(final, unit) - dt.timedelta(days=1)
    if period_end <= end:
        return None
    why = "the lake's data ends" if end == _lake_last_day(state) else "the range ends"
    return (
        f"the last period (from {final}) is partial: {why} on {end}, so it counts {(end - final).days + 1} of its days"
    )


def _with_note(table: pa.Table, note: str | None) -> pa.Table:
    """The table, carrying `note` (what its reader must know) in its schema's metadata."""
    return table.replace_schema_metadata({"note": note}) if note else table


def note_of(table: pa.Table) -> str | None:
    """The note a view's table carries (retention's cut first cohort), if any."""
    metadata = table.schema.metadata or {}
    value = metadata.get(b"note")
    return value.decode("utf-8") if value else None


def retention(root: Path, first: dt.date, last: dt.date, every: str = "week", periods: int | None = None) -> pa.Table:
    """Retention cohorts of first..last: a row per cohort (the users first counted in an ISO week or
    calendar month starting in the range) and period k = 0, 1, ... (up to `periods`, and to the
    period holding `last`): cohort_start, cohort_size, period, active, share."""
    unit = _unit(every, COHORT_UNITS)
    if periods is not None and periods < 0:
        raise UserError(f"--periods must be 0 or more, not {periods}", "periods")

    def work(con, state: lake.LakeState) -> pa.Table:
        require_days(root, state)
        check_range(state, first, last)
        end = _loaded_end(state, last)
        table = _over_masks(con, "retention", unit, {"first": first, "last": end, "unit": unit, "periods": periods})
        notes = []
        lake_first = _lake_first_day(state)
        if table.num_rows and lake_first is not None:
            earliest = table.column("cohort_start")[0].as_py()
            if earliest <= lake_first < _next(earliest, unit):
                notes.append(
                    f"the lake's data begins on {lake_first}, in the cohort of {earliest}: its users may "
                    "have been active before the lake begins (they are the lake's first, not the server's)"
                )
        if table.num_rows:
            reached = max(
                _shift(c, unit, k)
                for c, k in zip(table.column("cohort_start").to_pylist(), table.column("period").to_pylist())
            )
            notes.append(_cut_note([reached], unit, end, state) or "")
        return _with_note(table, "; ".join(n for n in notes if n) or None)

    return over_views(root, work, None, last)


def _over_masks(con, name: str, unit: str, params: dict) -> pa.Table:
    """The rows of history/<name>.sql, which reads `marks`: each user's active periods up to
    params["last"] as 64-bit masks (history/period_masks.sql), made once here for the query."""
    masks = con.sql(query("history/period_masks"), params={"unit": unit, "last": params["last"]}).to_arrow_table()
    con.register("marks", masks)
    try:
        return con.sql(query(f"history/{name}"), params=params).to_arrow_table()
    finally:
        con.unregister("marks")


def _next(start: dt.date, unit: str) -> dt.date:
    """The start of the period after the one starting on `start`."""
    return _shift(start, unit, 1)


def _shift(start: dt.date, unit: str, k: int) -> dt.date:
    """The start of the k-th period after the one starting on `start`."""
    if unit == "day":
        return start + dt.timedelta(days=k)
    if unit == "week":
        return start + dt.timedelta(days=7 * k)
    months = start.year * 12 + start.month - 1 + k
    return dt.date(months // 12, months % 12 + 1, 1)


def lifecycle(root: Path, first: dt.date, last: dt.date, every: str = "week") -> pa.Table:
    """Per day, ISO week or month starting in first..last: period_start, new, returning, resurrecting
    and dormant (negative) users, as PostHog's lifecycle draws them."""
    unit = _unit(every, LIFECYCLE_UNITS)

    def work(con, state: lake.LakeState) -> pa.Table:
        require_days(root, state)
        check_range(state, first, last)
        end = _loaded_end(state, last)
        table = _over_masks(con, "lifecycle", unit, {"first": first, "last": end, "unit": unit})
        return _with_note(table, _cut_note(table.column("period_start").to_pylist(), unit, end, state))

    return over_views(root, work, None, last)


def stickiness(root: Path, first: dt.date, last: dt.date, window: int = 7, show: str = "histogram") -> pa.Table:
    """Stickiness of first..last. `show="histogram"`: per window of `window` (7 or 30) days ending on
    `last`, how many users were active on 1, 2, ... of its days (window_start, window_end,
    days_active, users, partial). `show="daily"`: per day, dau, dau_avg_30, mau, dau_mau,
    retained_30 (Synapse's 30-day retained users) and partial."""
    if window not in WINDOWS:
        raise UserError(f"--window must be 7 or 30, not {window}", "window")
    if show not in SHOWS:
        raise UserError(f"unknown view {show!r}: use histogram or daily", "show")

    def work(con, state: lake.LakeState) -> pa.Table:
        require_days(root, state)
        check_range(state, first, last)
        end = _loaded_end(state, last)
        params = {"first": first, "last": end, "lake_first": _lake_first_day(state)}
        if show == "daily":
            return con.sql(query("history/stickiness_daily"), params=params).to_arrow_table()
        params["window"] = window
        return con.sql(query("history/stickiness_histogram"), params=params).to_arrow_table()

    low = first - dt.timedelta(days=59) if show == "daily" and first > dt.date(1, 3, 1) else first
    return over_views(root, work, low, last)


def parse_span(text: str) -> int:
    """A span of days: 90d, 12w, 6m (30-day months) or a plain number of days."""
    match = re.fullmatch(r"\s*(\d+)\s*([dwm]?)\s*", text or "")
    if not match:
        raise UserError(f"cannot read the span {text!r}: write it as 90d, 12w or 3m", "inactive-for")
    days = int(match.group(1)) * {"": 1, "d": 1, "w": 7, "m": 30}[match.group(2)]
    if days < 1:
        raise UserError("--inactive-for must be at least one day", "inactive-for")
    return days


def _as_of(root: Path, as_of: dt.date | None) -> tuple[dt.date, str | None]:
    """The day last-seen looks from, and what to say of it: by default the lake's last loaded day
    (lake/freshness.py; today for a lake without one), as a day after it would call everyone
    inactive whose activity since the lake simply does not hold."""
    from pipelines.lake.freshness import freshness

    last = freshness(root).loaded_through
    if as_of is None:
        if last is None:
            return clock.today(), None
        return last, f"as of {last}, the lake's last loaded day (--as-of D looks from another day)"
    if last is not None and as_of > last:
        return as_of, f"the lake holds no loaded day after {last}: activity since is not known to it"
    return as_of, None


def last_seen(root: Path, as_of: dt.date | None = None, inactive_days: int | None = None) -> pa.Table:
    """Every user counted on or before `as_of` (default: the lake's last loaded day): userId,
    first_day, last_day, days_active, role (the last day's); with `inactive_days`, only those not
    seen for that long. The table's note says which day it looks from when that was not given."""
    as_of, note = _as_of(root, as_of)
    return _with_note(_seen(root, as_of, inactive_days), note)


def _seen(root: Path, as_of: dt.date, inactive_days: int | None) -> pa.Table:
    """last_seen's rows as of `as_of` (history/last_seen.sql)."""

    def work(con, state: lake.LakeState) -> pa.Table:
        require_days(root, state)
        params = {"as_of": as_of, "inactive_days": inactive_days}
        return con.sql(query("history/last_seen"), params=params).to_arrow_table()

    return over_views(root, work, None, as_of)


def last_seen_counts(root: Path, as_of: dt.date | None = None, inactive_days: int | None = None) -> pa.Table:
    """`engagement last-seen --count`: as_of, users (counted on or before it), and with
    `inactive_days`, how many of them are inactive (not seen for that long) and active."""
    as_of, note = _as_of(root, as_of)
    every = _seen(root, as_of, None)
    row = {"as_of": [as_of], "users": [every.num_rows]}
    if inactive_days is not None:
        import pyarrow.compute as pc

        cutoff = as_of - dt.timedelta(days=inactive_days)
        inactive = pc.sum(pc.less_equal(every.column("last_day"), pa.scalar(cutoff, pa.date32()))).as_py() or 0
        row |= {"inactive_for_days": [inactive_days], "inactive": [inactive], "active": [every.num_rows - inactive]}
    return _with_note(pa.table(row), note)


def first_days(con, state: lake.LakeState, root: Path) -> pa.Table:
    """Every user's first counted day in the lake (userId, first_day), for the snapshot `state`
    whose views `con` holds.

    The same for every week of a snapshot, so it is computed once per snapshot and process (a
    backfill's weeks, the served site's pages), keyed by the user_daily files the state names
    (named by their content: another snapshot is another key)."""
    key = _firsts_key(root, state)
    table = _FIRSTS.get(key)
    if table is None:
        table = con.sql(query("history/first_days")).to_arrow_table()
        _FIRSTS.clear()  # one snapshot kept (the served site's threads may race here: each keeps its own table)
        _FIRSTS[key] = table
    return table


def _firsts_key(root: Path, state: lake.LakeState) -> tuple:
    """What first_days are kept by: the lake and its user_daily files (named by their content)."""
    return (str(root), tuple(sorted(state.files["user_daily"].items())))


def _first_days_of(root: Path, state: lake.LakeState) -> pa.Table:
    """first_days of the snapshot `state`: kept per snapshot, else read over every day (on a
    connection of its own: the caller's has the views of its own days)."""
    table = _FIRSTS.get(_firsts_key(root, state))
    if table is None:
        from pipelines.lake.snapshot import create_views
        from pipelines.sql import connect

        con = connect()
        try:
            create_views(con, root, state)
            table = first_days(con, state, root)
        finally:
            con.close()
    return table


def who_stays_week(
    root: Path, first: dt.date, last: dt.date, cohort_first: dt.date, cohort_last: dt.date
) -> tuple[int, int, int]:
    """(new, cohort, back): users first counted in first..last; those first counted in
    cohort_first..cohort_last, and how many of them were active in first..last. One snapshot."""
    params = {"first": first, "last": last, "cohort_first": cohort_first, "cohort_last": cohort_last}

    def work(con, state: lake.LakeState) -> tuple[int, int, int]:
        con.register("firsts", _first_days_of(root, state))
        try:
            return tuple(con.execute(query("history/who_stays_week"), params).fetchall()[0])
        finally:
            con.unregister("firsts")

    return over_views(root, work, cohort_first, last)
