"""Reading one snapshot of the lake: views of whole tables (history, `engagement query`), and one
query over the partitions of a range of days (the endpoints).

`sessions` and `user_daily` are the files the state names (never a glob, so a writer's new or
half-placed files are not seen); a table without files is an empty table of the same columns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pyarrow as pa

from pipelines import arrow_numpy
from pipelines.fields import sessions_schema
from pipelines.lake import state as lake
from pipelines.lake.layout import LOGINS
from pipelines.sql import query, reader

USER_DAILY_SCHEMA = pa.schema(
    [
        ("date", pa.date32()),
        ("userId", pa.string()),
        ("role", pa.string()),
        ("seconds", pa.decimal128(38, 0)),
        ("sessions", pa.int32()),
        ("source", pa.string()),
    ]
)


def empty(table: str) -> pa.Table:
    return arrow_numpy.empty_table(sessions_schema() if table == "sessions" else USER_DAILY_SCHEMA)


def create_views(
    con, root: Path, state: lake.LakeState, first: dt.date | None = None, last: dt.date | None = None
) -> None:
    """Views `sessions` and `user_daily` over the state's files of dates first..last (all by default)."""
    for table in lake.TABLES:
        files = state.paths(root, table, first, last)
        relation = con.read_parquet(files) if files else con.from_arrow(empty(table))
        relation.create_view(table, replace=True)


T = TypeVar("T")


def over_views(
    root: Path,
    work: Callable[[object, lake.LakeState], T],
    first: dt.date | None = None,
    last: dt.date | None = None,
    con=None,
) -> T:
    """work(con, state) on one snapshot of the lake, with the views of dates first..last (all by
    default) on `con`, or on this thread's reading connection (sql.reader); read again if a writer replaced a file meanwhile
    (lake.on_snapshot)."""

    def run(state: lake.LakeState) -> T:
        db = reader() if con is None else con
        create_views(db, root, state, first, last)
        return work(db, state)

    return lake.on_snapshot(root, run)


def rows_over_days(root, table: str, first, last, name: str, params: dict, con=None) -> list[tuple]:
    """Rows of queries/<name>.sql over the lake's `table` partitions of dates first..last.

    The query reads them as $files (no partitions: no rows, the query is not run). Its other
    parameters are `params`. Takes no lock: see lake.query_partitions for the snapshot's retry.
    """
    con = con or reader()
    return lake.query_partitions(
        root, table, first, last, lambda files: con.execute(query(name), {"files": files, **params}).fetchall(), []
    )


LOGIN_COLUMNS = "userId, loginAt, closedHour"


def logins_view(con, root: Path, state: lake.LakeState, first: dt.date, last: dt.date) -> bool:
    """The view `logins` (marts/logins.sql's userId, loginAt, closedHour) of dates first..last: from the
    raw sessions of a date that has them, from the `logins` rollup of a pruned one. False: neither."""
    parts = []
    raw = state.paths(root, "sessions", first, last)
    if raw:
        parts.append(con.sql(query("marts/logins"), params={"files": raw}).select(LOGIN_COLUMNS))
    pruned = state.paths(root, LOGINS, first, last)
    if pruned:
        parts.append(con.read_parquet(pruned).select(LOGIN_COLUMNS))
    if not parts:
        return False
    relation = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    relation.create_view("logins", replace=True)
    return True


def rows_over_logins(root, first, last, name: str, params: dict, con=None) -> list[tuple]:
    """Rows of queries/<name>.sql over the view `logins` of dates first..last (see logins_view); none
    when the lake holds no session of those dates (the query is not run). One snapshot, no lock."""
    con = con or reader()

    def run(state: lake.LakeState) -> list[tuple]:
        if not logins_view(con, root, state, first, last):
            return []
        return con.execute(query(name), params).fetchall()

    return lake.on_snapshot(root, run)
