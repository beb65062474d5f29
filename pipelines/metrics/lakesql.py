"""`engagement query`: read-only SQL over one consistent snapshot of the lake.

Views: `sessions` and `user_daily` (the files the state names, never a glob) and `rejects` (every
rejected document). Only a query that reads is run (SELECT, WITH, FROM, DESCRIBE, SUMMARIZE,
EXPLAIN); DuckDB is then locked to exactly those files, so even a query cannot read or write
anything else.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from pipelines import arrow_numpy
from pipelines.errors import UserError
from pipelines.lake import state as lake
from pipelines.lake.layout import REJECTS_DIR
from pipelines.lake.snapshot import create_views
from pipelines.sql import connect, query

REJECTS_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("line", pa.int64()),
        ("reason", pa.string()),
        ("text", pa.string()),
        ("offset", pa.int64()),
        ("date", pa.date32()),
        ("rejects_file", pa.string()),
    ]
)


def check_read_only(text: str) -> None:
    """A UserError unless `text` is exactly one statement that reads."""
    import duckdb

    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise UserError(f"cannot read the query: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise UserError(f"give one statement, not {len(statements)}")
    kind = statements[0].type
    if kind not in (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN):
        name = kind.name.lower()
        article = "an" if name[0] in "aeiou" else "a"
        raise UserError(f"only a query that reads is run (SELECT, WITH, ...); {article} {name} statement is refused")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def rejects_files(root: Path) -> list[str]:
    return sorted(str(p) for p in (root / REJECTS_DIR).glob("*.jsonl"))


def rejects_view(con, root: Path) -> list[str]:
    """The view `rejects` over the lake's rejects files (an empty one without any); those files."""
    files = rejects_files(root)
    if files:
        con.sql(query("lake/rejects"), params={"files": files}).create_view("rejects", replace=True)
    else:
        con.from_arrow(arrow_numpy.empty_table(REJECTS_SCHEMA)).create_view("rejects", replace=True)
    return files


def run_query(root: Path, text: str) -> pa.Table:
    """The rows of a read-only query over one snapshot of the lake."""
    import duckdb

    check_read_only(text)

    def work(con, state: lake.LakeState) -> pa.Table:
        rejects = rejects_view(con, root)
        readable = [*(p for t in lake.TABLES for p in state.paths(root, t)), *rejects]
        if readable:
            con.execute(query("lake/allow_paths"), {"paths": readable})
        con.execute(query("lake/read_only"))
        try:
            return con.sql(text).to_arrow_table()
        except duckdb.PermissionException:
            if not all(Path(p).exists() for p in readable):  # a writer replaced a file: read again
                raise duckdb.IOException("the snapshot changed while it was read") from None
            raise
        except duckdb.IOException:
            raise
        except duckdb.Error as exc:
            raise UserError(f"the query failed: {_first_line(exc)}") from None

    def attempt(state: lake.LakeState) -> pa.Table:
        # a connection of its own, new for each attempt: the query locks it (never the thread's reader)
        con = connect()
        try:
            create_views(con, root, state)
            return work(con, state)
        finally:
            con.close()

    try:
        return lake.on_snapshot(root, attempt)
    except duckdb.PermissionException as exc:
        raise UserError(f"the query may read only the lake's tables: {_first_line(exc)}") from None
