"""`engagement query`: read-only SQL over one consistent snapshot of the lake.

Views: `sessions` and `user_daily` (the files the state names, never a glob), `chat_messages` and
`room_daily` (the messages of rocketchat_message exports, with their `date`), `logins` (what a
pruned date keeps of its sessions), and `rejects` (the
rejected documents of the files the manifest records). Only a query that reads is run (SELECT,
WITH, FROM, DESCRIBE, SUMMARIZE): DuckDB's own parser must find one SELECT statement, which
json_serialize_sql must serialise (it refuses every other kind); EXPLAIN [ANALYZE] only through
`explain`, put before a statement so accepted. DuckDB is then locked to exactly those files, with a private,
empty temporary folder, so even a query cannot read or write anything else; its memory, threads
and time are bounded (ENGAGEMENT_QUERY_MEMORY, _THREADS, _TIMEOUT).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from pipelines import arrow_numpy
from pipelines.errors import UserError
from pipelines.lake import state as lake
from pipelines.lake.layout import LOGINS, REJECTS_DIR
from pipelines.lake.snapshot import create_views
from pipelines.sql import connect, query

# a pruned date's logins (marts/logins.sql, pipelines/ingest/prune.py)
LOGINS_SCHEMA = pa.schema(
    [("date", pa.date32()), ("userId", pa.string()), ("loginAt", pa.timestamp("us")), ("closedHour", pa.int8())]
)
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


EXPLAIN = {"plan": "EXPLAIN ", "analyze": "EXPLAIN ANALYZE "}  # what --explain and --explain-analyze put before a read


def check_read_only(text: str) -> None:
    """A UserError unless `text` is exactly one statement that reads, by DuckDB's own parser: it must
    parse as one SELECT statement, and serialise as a SELECT tree (json_serialize_sql refuses every
    other kind). No regular expression reads the text. EXPLAIN is not taken in the text: the
    --explain flags put it before a statement accepted here (`explained`)."""
    import duckdb

    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise UserError(f"cannot read the query: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise UserError(f"give one statement, not {len(statements)}")
    kind = statements[0].type
    if kind == duckdb.StatementType.EXPLAIN:
        raise UserError("give the statement alone: EXPLAIN is asked for with --explain or --explain-analyze")
    if kind != duckdb.StatementType.SELECT or not _serialises_as_a_read(text):
        name = kind.name.lower()
        article = "an" if name[0] in "aeiou" else "a"
        raise UserError(f"only a query that reads is run (SELECT, WITH, ...); {article} {name} statement is refused")


def _serialises_as_a_read(text: str) -> bool:
    """Whether DuckDB serialises `text` as exactly one SELECT tree (json_serialize_sql, in a
    connection of its own that reads nothing)."""
    import json

    import duckdb

    con = duckdb.connect(config={"enable_external_access": False})
    try:
        body = json.loads(con.execute("select json_serialize_sql($1::varchar)", [text]).fetchone()[0])
    except (duckdb.Error, ValueError, TypeError):
        return False
    finally:
        con.close()
    return not body.get("error") and len(body.get("statements", [])) == 1


def explained(text: str, explain: str | None) -> str:
    """The statement to run for an accepted read: itself, or EXPLAIN [ANALYZE] of it (then it must
    parse as one EXPLAIN statement)."""
    import duckdb

    if explain is None:
        return text
    wrapped = EXPLAIN[explain] + text
    statements = duckdb.extract_statements(wrapped)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.EXPLAIN:
        raise UserError("this statement cannot be explained: give it without --explain")
    return wrapped


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def rejects_files(root: Path) -> list[str]:
    """The rejects files of the input files the lake's manifest records (a run killed before it
    recorded its files leaves rejects no snapshot includes); a symlink among them is refused."""
    from pipelines.lake.layout import rejects_key
    from pipelines.lake.manifest import read_manifest

    folder = root / REJECTS_DIR
    keys = {rejects_key(e.path) for e in read_manifest(root).entries}
    files = []
    for key in sorted(keys):
        path = folder / f"{key}.jsonl"
        if path.is_symlink():
            raise UserError(f"the lake's rejects file {path} is a symbolic link: refused (remove it)")
        if path.is_file():
            files.append(str(path))
    return files


def rejects_view(con, root: Path) -> list[str]:
    """The view `rejects` over the lake's rejects files (an empty one without any); those files."""
    files = rejects_files(root)
    if files:
        con.sql(query("lake/rejects"), params={"files": files}).create_view("rejects", replace=True)
    else:
        con.from_arrow(arrow_numpy.empty_table(REJECTS_SCHEMA)).create_view("rejects", replace=True)
    return files


@dataclass(frozen=True)
class Limits:
    """What one query may use: memory, threads, seconds before it is stopped, rows it returns and
    the size of its result as written."""

    memory: str = "2GB"
    threads: int | None = None  # None: every core
    timeout: float = 300.0
    rows: int = 10_000_000
    size: str = "1GB"


def limits_of(settings) -> Limits:
    """A query's bounds from the settings (ENGAGEMENT_QUERY_MEMORY, _THREADS, _TIMEOUT, _MAX_ROWS, _MAX_BYTES)."""
    return Limits(
        settings.query_memory,
        settings.query_threads or None,
        settings.query_timeout,
        settings.query_max_rows,
        settings.query_max_bytes,
    )


ROWS_PER_BATCH = 64 * 1024


def too_many_rows(rows: int) -> UserError:
    return UserError(
        f"the query returns more than {rows:,} rows: narrow it (WHERE, GROUP BY, LIMIT), or raise "
        "ENGAGEMENT_QUERY_MAX_ROWS"
    )


def out_of_memory(memory: str) -> UserError:
    return UserError(f"the query needs more than {memory} of memory: narrow it, or raise ENGAGEMENT_QUERY_MEMORY")


def timed_out(timeout: float) -> UserError:
    return UserError(
        f"the query ran longer than {timeout:g} s and was stopped: narrow it, or give it more time with "
        "ENGAGEMENT_QUERY_TIMEOUT"
    )


def _fetch(con, text: str, rows: int) -> pa.Table:
    """The rows of `text`, read in batches: a UserError as soon as there are more than `rows`."""
    reader = con.sql(text).to_arrow_reader(ROWS_PER_BATCH)
    batches, count = [], 0
    for batch in reader:
        count += batch.num_rows
        if count > rows:
            raise too_many_rows(rows)
        batches.append(batch)
    return pa.Table.from_batches(batches, reader.schema)


def message_views(con, root: Path, state: lake.LakeState) -> list[str]:
    """Views `chat_messages` and `room_daily` over the state's files (each row with its `date`), and
    `logins` (the rollup of pruned dates), empty when the lake has none; the files they read."""
    from pipelines.ingest.messages import ROLLUP_SCHEMA, SCHEMA

    read: list[str] = []
    for table, schema in (("chat_messages", SCHEMA), ("room_daily", ROLLUP_SCHEMA), (LOGINS, LOGINS_SCHEMA)):
        files = state.paths(root, table)
        if files:
            relation = con.sql(query("lake/partitioned"), params={"files": files})
        else:
            if "date" not in schema.names:
                schema = schema.append(pa.field("date", pa.date32()))
            relation = con.from_arrow(arrow_numpy.empty_table(schema))
        relation.create_view(table, replace=True)
        read += files
    return read


def run_query(
    root: Path,
    text: str,
    limits: Limits = Limits(),
    explain: str | None = None,
    spill: Path | None = None,
    before: Callable[[], None] | None = None,
) -> pa.Table:
    """The rows of a read-only query over one snapshot of the lake, within `limits` as DuckDB keeps
    them (its memory limit, an interrupt at the timeout, the rows); with `explain` ("plan" or
    "analyze"), those of EXPLAIN [ANALYZE] of it. `spill`: DuckDB's temporary folder, private and
    empty (a new one by default); `before` is called once the views are made, just before the
    statement runs. This is the first wall; pipelines/metrics/sandbox.py runs it in a child process
    behind the second, where the limits hold for the whole process."""
    import contextlib
    import tempfile

    import duckdb

    check_read_only(text)
    text = explained(text, explain)

    def work(con, state: lake.LakeState) -> pa.Table:
        rejects = rejects_view(con, root)
        messages = message_views(con, root, state)
        readable = [*(p for t in lake.TABLES for p in state.paths(root, t)), *messages, *rejects]
        if readable:
            con.execute(query("lake/allow_paths"), {"paths": readable})
        con.execute(query("lake/read_only"))
        timer = threading.Timer(limits.timeout, con.interrupt)
        timer.start()
        try:
            if before is not None:
                before()
            return _fetch(con, text, limits.rows)
        except duckdb.PermissionException:
            if not all(Path(p).exists() for p in readable):  # a writer replaced a file: read again
                raise duckdb.IOException("the snapshot changed while it was read") from None
            raise
        except duckdb.InterruptException:
            raise timed_out(limits.timeout) from None
        except duckdb.OutOfMemoryException:
            raise out_of_memory(limits.memory) from None
        except duckdb.IOException:
            raise
        except duckdb.Error as exc:
            raise UserError(f"the query failed: {_first_line(exc)}") from None
        finally:
            timer.cancel()

    def attempt(state: lake.LakeState) -> pa.Table:
        # a connection of its own, new for each attempt: the query locks it (never the thread's reader);
        # its temporary folder private and empty, removed after (nothing in it for a query to read)
        with (
            contextlib.nullcontext(spill) if spill else tempfile.TemporaryDirectory(prefix="engagement-query-")
        ) as private:
            con = connect(threads=limits.threads, memory_limit=limits.memory, spill=Path(private))
            try:
                create_views(con, root, state)
                return work(con, state)
            finally:
                con.close()

    try:
        return lake.on_snapshot(root, attempt)
    except duckdb.PermissionException as exc:
        raise UserError(f"the query may read only the lake's tables: {_first_line(exc)}") from None
