"""Load the SQL files under queries/ by name; values are always bound as parameters."""

from __future__ import annotations

import threading
from functools import cache
from importlib.resources import files
from pathlib import Path

# queries/ at the top of the repository, shipped inside the wheel as the package pipelines.queries
QUERIES = Path(str(files("pipelines.queries")))


_read: set[str] = set()  # the names this process has asked for: a published file's lineage names them


def query(name: str) -> str:
    """Return the text of queries/<name>.sql, e.g. query("marts/weekly_data")."""
    _read.add(name)  # a set's add holds the GIL: safe from the threads of a backfill
    return _text(name)


@cache
def _text(name: str) -> str:
    return (QUERIES / f"{name}.sql").read_text(encoding="utf-8")


def queries_read() -> list[str]:
    """The queries/ files this process has read so far, by name."""
    return sorted(set(_read))


def connect(
    threads: int | None = None, memory_limit: str | None = None, spill: Path | None = None, ordered: bool = True
):
    """A fresh in-memory DuckDB connection in UTC with the project's macros defined.

    `spill`: where DuckDB writes what does not fit in `memory_limit`. `ordered=False` lets inserts
    run in parallel without keeping arrival order (for rows that carry their file and line).
    """
    import duckdb

    config: dict[str, str | int | bool] = {}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    if spill is not None:
        config["temp_directory"] = str(spill)
    if not ordered:
        config["preserve_insertion_order"] = False
    con = duckdb.connect(":memory:", config=config)
    con.execute(query("session"))
    for path in sorted((QUERIES / "macros").glob("*.sql")):
        con.execute(path.read_text(encoding="utf-8"))
    return con


_readers = threading.local()


def reader(threads: int | None = None):
    """This thread's reading connection (one per `threads`: DuckDB's own count by default), made
    once: a new connection and its macros cost ~16 ms, and a backfill or the server asks hundreds
    of questions. For reads only; callers must not close it."""
    made = _readers.__dict__.setdefault("made", {})
    con = made.get(threads)
    if con is None:
        con = made[threads] = connect(threads=threads)
    return con
