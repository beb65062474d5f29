"""History over any range: DAU/WAU/MAU trends and explaining one day's number.

Each function reads one snapshot of the lake (snapshot.over_views) and returns an Arrow table; the
CLI prints it, the notebook API (pipelines.notebook) hands it over as a DataFrame.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from pipelines import days
from pipelines.days import clipped
from pipelines.errors import UserError
from pipelines.lake import state as lake
from pipelines.lake.snapshot import over_views
from pipelines.sql import query

EVERY = ("day", "week", "month")


def span_note(state: lake.LakeState) -> str:
    """What days the lake holds, for a message."""
    days = state.held_days()
    return f"the lake holds {days[0]} .. {days[-1]}" if days else "the lake holds no days yet"


def require_days(root: Path, state: lake.LakeState) -> None:
    """A UserError for a lake that holds no day yet (every document rejected, or none read)."""
    if not state.held_days():
        raise UserError(f"the lake {root} holds no days yet: ingest exports into it first")


def check_range(state: lake.LakeState, first: dt.date, last: dt.date) -> None:
    """A UserError for a reversed range, or one too long to list day by day."""
    days.check_range(first, last, held=span_note(state))


def _held(state: lake.LakeState, first: dt.date, last: dt.date) -> list[dt.date]:
    """The dates first..last the lake holds any document for."""
    low, high = first.isoformat(), last.isoformat()
    return [dt.date.fromisoformat(d) for d in state.held_days() if low <= d <= high]


def trend(root: Path, first: dt.date, last: dt.date, every: str = "day", require: bool = True) -> pa.Table:
    """Rows of active users over first..last: per day (date, dau, wau, mau, has_data), or per ISO week
    or month (period_start, period_end, users, user_days, avg_dau, days, days_with_data, partial).
    `require`: a lake without days is a UserError (else: rows of zeros)."""
    if every not in EVERY:
        raise UserError(f"unknown period {every!r}: use day, week or month", "every")

    def work(con, state: lake.LakeState) -> pa.Table:
        if require:
            require_days(root, state)
        check_range(state, first, last)
        params = {"first": first, "last": last, "held": _held(state, first, last)}
        if every == "day":
            table = _fetch(con, "history/trend_daily", params | {"widths": [7, 30]}).drop_columns(["window_users"])
        else:
            table = _fetch(con, "history/trend_periods", params | {"unit": every})
        return _with_messages(con, root, state, table, first, last)

    return over_views(root, work, clipped(first, -29) if every == "day" else first, last)


def _with_messages(con, root: Path, state: lake.LakeState, table: pa.Table, first: dt.date, last: dt.date) -> pa.Table:
    """The trend's rows with a `messages` column (messages sent that day or period, from the messages
    analytics documents, else the messages themselves) when the lake holds any; the rows as they are otherwise."""
    from pipelines.metrics.messages import has_messages, per_date
    from pipelines.metrics.new_users import as_int

    if not has_messages(root, state):
        return table
    sent = per_date(con, root, state, first, last)
    if "date" in table.column_names:
        counts = [sent.get(as_int(d), 0) for d in table.column("date").to_pylist()]
    else:
        counts = [
            sum(n for d, n in sent.items() if as_int(max(low, first)) <= d <= as_int(min(high, last)))
            for low, high in zip(table.column("period_start").to_pylist(), table.column("period_end").to_pylist())
        ]
    return table.append_column("messages", pa.array(counts, pa.int64()))


def _fetch(con, name: str, params: dict) -> pa.Table:
    return con.sql(query(name), params=params).to_arrow_table()


def explain(root: Path, date: dt.date, con=None) -> tuple[pa.Table, pa.Table]:
    """Why weekly-data shows its number for `date`: every user seen that day (counted first, then
    those not counted with the reason), and that day's rejected documents per reason and file.
    `con`: a connection to reuse (its views are replaced), for many days in a row."""
    from pipelines.metrics.lakesql import rejects_view

    def work(db, state: lake.LakeState) -> tuple[pa.Table, pa.Table]:
        require_days(root, state)
        rejects_view(db, root)
        users = _fetch(db, "history/explain_day", {"date": date})
        note = _pruned_note(root, state, date)
        if note is not None:
            users = users.replace_schema_metadata({**(users.schema.metadata or {}), b"note": note.encode("utf-8")})
        return users, _fetch(db, "history/rejects_of_day", {"date": date})

    return over_views(root, work, date, date, con)


def _pruned_note(root: Path, state: lake.LakeState, date: dt.date) -> str | None:
    """What `explain` says of a date whose raw sessions are pruned (ingest/prune.py); None for another."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from pipelines.lake.layout import LOGINS

    relative = state.files.get(LOGINS, {}).get(date.isoformat())
    if relative is None:
        return None
    logins = pq.read_table(root / relative, columns=["userId"]).column("userId")
    return (
        f"the raw sessions of {date.isoformat()} were pruned at {state.pruned_at(date.isoformat()) or '?'} "
        "(engagement prune, ENGAGEMENT_KEEP_RAW): the users counted are the user_daily rollup's, which stays "
        "(the device is no longer known), and users seen and not counted cannot be listed; the logins rollup keeps "
        f"{len(logins):,} login(s) of {pc.count_distinct(logins).as_py():,} user(s) for hourly-data and users-by-time"
    )


def compare(root: Path, a: tuple[dt.date, dt.date], b: tuple[dt.date, dt.date]) -> pa.Table:
    """Users counted in span `b` and not in span `a` (new), and the reverse (gone)."""

    def work(con, state: lake.LakeState) -> pa.Table:
        require_days(root, state)
        params = {"a_first": a[0], "a_last": a[1], "b_first": b[0], "b_last": b[1]}
        return _fetch(con, "history/compare", params)

    return over_views(root, work, min(a[0], b[0]), max(a[1], b[1]))


def windows(root: Path, ends: list[dt.date]) -> list[tuple[dt.date, int, int]]:
    """(end, distinct counted users, counted user-days) of the 8-day window ending at each of `ends`."""
    if not ends:
        return []

    def work(con, state: lake.LakeState) -> list[tuple[dt.date, int, int]]:
        return con.execute(query("history/windows"), {"ends": ends}).fetchall()

    return over_views(root, work, clipped(min(ends), -7), max(ends))
