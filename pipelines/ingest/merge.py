"""Merge the incoming documents into their day partitions and rebuild those days' rollups."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines import arrow_numpy
from pipelines.fields import PARQUET_OPTIONS
from pipelines.ingest.progress import Progress
from pipelines.lake import idindex
from pipelines.lake import state as lake
from pipelines.lake.writing import Writer
from pipelines.sql import query

ROW_GROUP_SIZE = 256 * 1024
WRITERS = 2  # days rebuilt at once


def write_partition(writer: Writer, table_name: str, date: str, rows: pa.Table, keep_empty: bool = False) -> str | None:
    """Write one date's rows as its partition file; return its path in the lake (None: no rows,
    unless `keep_empty`: then an empty file is written too)."""
    if rows.num_rows == 0 and not keep_empty:
        return None
    staged = writer.staging / f"{table_name}-{date}.parquet"
    # pyarrow writes the same bytes for the same rows whatever their chunking (DuckDB's writer does
    # not promise that): the same content gives the same file, named by its hash
    pq.write_table(
        rows.combine_chunks(),
        staged,
        compression="zstd",
        row_group_size=ROW_GROUP_SIZE,
        **PARQUET_OPTIONS[table_name],
    )
    return writer.place_partition(table_name, date, staged)


def _point_state_at(files: dict[str, str], date: str, placed: str | None) -> bool:
    """Point the state at a date's new file; True if that changed anything."""
    if placed == files.get(date):
        return False
    if placed is None:
        del files[date]
    else:
        files[date] = placed
    return True


def _entries(relation) -> "np.ndarray":
    """The id index's entries of a relation of (_id, d)."""
    table = relation.to_arrow_table()
    return idindex.entries(idindex.keys(table.column("_id")), arrow_numpy.values(table.column("d")))


def rebuild_id_index(con, root: Path, state: lake.LakeState, staging: Path) -> None:
    """Point `state` at an _id index (lake/idindex.py) built afresh from its sessions partitions (an
    empty index when there are none)."""
    files = state.paths(root, "sessions")
    if not files:
        state.ids = []
        return
    every = con.sql(query("intermediate/stored_id_entries"), params={"files": files})
    state.ids = idindex.add(root, staging, [], _entries(every))


def _holding_files(con, root: Path, state: lake.LakeState, staging: Path, notes: list[str]) -> list[str]:
    """The sessions partitions that can hold a stored version of an incoming _id: the incoming
    dates' and those the _id index names (pipelines/lake/idindex.py), never every partition.

    A lake written before the index existed gets it here, once, from all its partitions; so does
    a lake whose index cannot be read (a run damaged, or gone): the index is only ever derived from
    the partitions, so it is rebuilt from them, and the run says so in `notes`."""
    if not state.files["sessions"]:
        return []
    incoming = con.sql(query("intermediate/incoming_ids")).to_arrow_table()
    hashes = np.unique(idindex.keys(incoming.column("_id")))
    days = None
    if state.ids is not None:
        try:
            days = idindex.days_of(root, state.ids, hashes)
        except (OSError, ValueError, EOFError) as exc:
            notes.append(f"the _id index could not be read ({exc}): rebuilt from the lake's partitions")
            # gone before the rebuild: it may be placed under a damaged run's name (same content)
            for relative in state.ids:
                (root / relative).unlink(missing_ok=True)
            state.ids = None
    if state.ids is None:
        rebuild_id_index(con, root, state, staging)
        days = idindex.days_of(root, state.ids, hashes)
    days |= {idindex.EPOCH + dt.timedelta(days=int(d)) for d in np.unique(arrow_numpy.values(incoming.column("d")))}
    current = state.files["sessions"]
    return [str(root / current[d]) for d in sorted(day.isoformat() for day in days) if d in current]


def merge(con, writer: Writer, one_version_each: bool, progress: Progress, notes: list[str]) -> list[str]:
    """Upsert the incoming documents into their day partitions, pointing the writer's state at the
    new files; return the dates whose files changed.

    `one_version_each` says the caller knows no _id came twice (one file, read by the fast path);
    what the run should tell its user beyond its counts goes to `notes`.
    """
    root, state, staging = writer.root, writer.state, writer.staging
    duplicates = not one_version_each and con.execute(query("intermediate/duplicate_ids")).fetchall()[0][0]
    if duplicates:
        con.sql(query("intermediate/latest_incoming")).create("latest_incoming")
    else:  # one version of each document: nothing to rank (most exports)
        con.sql(query("intermediate/valid_incoming")).create_view("latest_incoming")
    stored_files = _holding_files(con, root, state, staging, notes)
    if stored_files:
        con.sql(query("intermediate/stored_versions"), params={"files": stored_files}).create("stored_versions")
        con.sql(query("intermediate/accepted")).create("accepted")
    else:  # nothing stored can hold these _ids (a new lake, new days): everything that arrives is accepted
        con.sql(query("intermediate/no_stored_versions")).create("stored_versions")
        con.table("latest_incoming").create_view("accepted")
    con.sql(query("intermediate/replaced")).create("replaced")
    dates = [row[0].isoformat() for row in con.execute(query("intermediate/touched_dates")).fetchall()]
    empty = staging / "empty.parquet"
    pq.write_table(con.sql(query("intermediate/stored_columns")).to_arrow_table(), empty)
    partition_sql = query("intermediate/partition_rows")
    rollup_sql = query("marts/user_daily")

    def rebuild(date: str) -> tuple[str | None, str | None] | None:
        """The day's new sessions file and, when that changed, its new user_daily file."""
        cursor = con.cursor()
        current = state.files["sessions"].get(date)
        files = [str(root / current) if current else str(empty)]
        sessions = cursor.sql(partition_sql, params={"files": files, "date": date}).to_arrow_table()
        sessions = sessions.take(pc.sort_indices(sessions.column("_id")))  # half of sort_by's time
        placed = write_partition(writer, "sessions", date, sessions)
        if placed == current:
            return None
        cursor.register("day_sessions", sessions)
        user_days = cursor.sql(rollup_sql).to_arrow_table()
        return placed, write_partition(writer, "user_daily", date, user_days)

    def index() -> list[str]:
        """The id index's runs once it knows where each accepted version now lives (reads `accepted`
        and `stored_versions`, which the rebuilds do not change: it runs beside them)."""
        return idindex.add(
            root, staging, state.ids or [], _entries(con.cursor().sql(query("intermediate/new_id_entries")))
        )

    changed: list[str] = []
    progress.rebuilding(len(dates))
    with ThreadPoolExecutor(max_workers=WRITERS + 1) as pool:
        runs = pool.submit(index)
        for date, result in zip(dates, pool.map(rebuild, dates)):
            progress.rebuilt(1)
            if result is not None:
                _point_state_at(state.files["sessions"], date, result[0])
                _point_state_at(state.files["user_daily"], date, result[1])
                changed.append(date)
        state.ids = runs.result()
    return changed
