"""Each day's active users of a lake snapshot, computed once and kept beside it: the history every
report reads.

A row per date from the lake's first user_daily day to 7 days after its last (the last 8-day window
that still holds a day of data): `dau` (weekly-data's number for that date), `wau` and `mau` (the
distinct users of the 7 and 30 days ending it: `engagement trend`'s) and `window_users` (of the 8
days ending it: weekly-data's window, the reports' "active users this week"). A week's page, its
email, the index and `status` read their counters, 8-day windows and year of DAU/WAU/MAU here
instead of each asking the lake again.

The rows are kept in LAKE/_history/daily.parquet with the user_daily file each day was computed
from (files are named by their content, so a file name is that day's version). A new snapshot
recomputes only from its first changed day on (a nightly: its last days; a date's counts read the 29
days before it); the rows before are the same. Counts only, of no one: forgetting a person changes
no count, so no row. In a process, the table of a snapshot is kept in memory too.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pyarrow as pa

from pipelines.lake import state as lake

FOLDER = "_history"
FILE = "daily.parquet"
REACH = 29  # a date's counts read the 29 days before it (MAU's 30-day window)
AFTER = 7  # rows run on 7 days after the last day: the 8-day windows that still hold data
COLUMNS = ["date", "dau", "wau", "window_users", "mau"]

_memo: dict[tuple, tuple] = {}
_lock = threading.Lock()


def daily(root: Path, state: lake.LakeState | None = None) -> pa.Table:
    """The snapshot's rows (date, dau, wau, window_users, mau), oldest first; empty for a lake without
    user-days. Read from LAKE/_history when it holds them, else computed (from the first changed day
    on) and kept there."""
    return _of(root, state or lake.require_lake(root))[0]


def days(root: Path, state: lake.LakeState | None = None) -> dict[dt.date, dict[str, int]]:
    """daily()'s rows as {date: {dau, wau, window_users, mau}}."""
    return _of(root, state or lake.require_lake(root))[1]


ZERO = {"dau": 0, "wau": 0, "window_users": 0, "mau": 0}  # a date without a row: no user


def day(days_: dict[dt.date, dict[str, int]], date: dt.date) -> dict[str, int]:
    """The row of `date` in days(), or zeros for a date it has none for."""
    return days_.get(date, ZERO)


def window(days_: dict[dt.date, dict[str, int]], end: dt.date) -> tuple[int, int]:
    """(distinct users, user-days) of the 8-day window ending on `end`, from days()."""
    user_days = sum(day(days_, end - dt.timedelta(days=i))["dau"] for i in range(8) if end.toordinal() > i)
    return day(days_, end)["window_users"], user_days


def _of(root: Path, state: lake.LakeState) -> tuple[pa.Table, dict[dt.date, dict[str, int]]]:
    """The snapshot's table and rows, kept per snapshot (its zone and user_daily files). Under the
    lock: a backfill's parallel tasks (or a site's threads) wait for one computation rather than each
    making its own."""
    files = dict(sorted(state.files["user_daily"].items()))
    key = (str(root), state.zone, tuple(files.items()))
    with _lock:
        if key not in _memo:
            table = _read_or_compute(root, state, files)
            _memo.clear()  # one snapshot kept: a served site's or a backfill's
            _memo[key] = (table, {row.pop("date"): row for row in table.to_pylist()})
        return _memo[key]


def _read_or_compute(root: Path, state: lake.LakeState, files: dict[str, str]) -> pa.Table:
    if not files:
        return _empty()
    first, last = dt.date.fromisoformat(min(files)), dt.date.fromisoformat(max(files))
    kept, kept_files = _kept(root, state.zone)
    # the first day whose file differs from the one its row was computed from (or that came or went)
    changed = sorted(d for d in set(files) | set(kept_files) if files.get(d) != kept_files.get(d))
    if kept is not None and not changed:
        return kept
    if kept is None or not kept_files or min(kept_files) != min(files):
        start = first
    else:
        start = dt.date.fromisoformat(changed[0])
    fresh = _compute(root, start, last + dt.timedelta(days=AFTER))
    if start > first and kept is not None:
        import pyarrow.compute as pc

        before = kept.filter(pc.less(kept.column("date"), pa.scalar(start, pa.date32())))
        table = pa.concat_tables([before, fresh.cast(before.schema)])
    else:
        table = fresh
    _keep(root, state.zone, table, files)
    return table


def _compute(root: Path, first: dt.date, last: dt.date) -> pa.Table:
    """The rows of first..last from the lake (history/trend_daily.sql with the 8-day window too)."""
    from pipelines.days import clipped
    from pipelines.lake.snapshot import over_views
    from pipelines.sql import query

    def work(con, state: lake.LakeState) -> pa.Table:
        params = {"first": first, "last": last, "held": [], "widths": [7, 8, 30]}
        rows = con.sql(query("history/trend_daily"), params=params).to_arrow_table()
        return rows.select(COLUMNS)

    return over_views(root, work, clipped(first, -REACH), last)


def _path(root: Path) -> Path:
    return root / FOLDER / FILE


def _kept(root: Path, zone: str) -> tuple[pa.Table | None, dict[str, str]]:
    """The rows kept beside the lake, and the user_daily files they were computed from (none: empty)."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(_path(root))
        meta = json.loads(table.schema.metadata[b"engagement"])
    except (OSError, KeyError, ValueError, pa.ArrowException):
        return None, {}
    if meta.get("zone") != zone or table.column_names != COLUMNS:  # another zone, or another version's rows
        return None, {}
    return table.replace_schema_metadata(None), meta.get("files", {})


def _keep(root: Path, zone: str, table: pa.Table, files: dict[str, str]) -> None:
    """Write the rows beside the lake (beside, then renamed); a lake this process may not write
    (a read-only site) keeps none: the rows are computed again next time."""
    import pyarrow.parquet as pq

    from pipelines.errors import MachineError
    from pipelines.files import atomic_writer
    from pipelines.lake.writing import private

    meta = json.dumps({"zone": zone, "files": files}, sort_keys=True)
    table = table.replace_schema_metadata({"engagement": meta})
    try:
        with private(root):
            (root / FOLDER).mkdir(exist_ok=True)
            with atomic_writer(_path(root)) as handle:
                pq.write_table(table, handle, compression="zstd")
    except (OSError, MachineError):
        return


def _empty() -> pa.Table:
    return pa.table(
        {
            "date": pa.array([], pa.date32()),
            **{name: pa.array([], pa.int64()) for name in ("dau", "wau", "window_users", "mau")},
        }
    )
