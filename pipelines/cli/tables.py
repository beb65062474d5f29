"""Result tables (Arrow) written as a person or a program wants them: an aligned text table, CSV,
JSON (a list of objects) or Parquet; to stdout, or atomically to a file.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pyarrow as pa

from pipelines.formats import as_text, check_format, encode, plain


def write(table: pa.Table, fmt: str, out: str | None) -> None:
    """`table` in `fmt` to the file `out` (written beside, then renamed) or to stdout."""
    check_format(fmt, out)
    _emit(encode(table, fmt), out)


def write_explained(
    day: dt.date, users: pa.Table, rejects: pa.Table, fmt: str, out: str | None, user: str | None = None
) -> None:
    """explain's answer: the users (or one), then the day's rejects (table and json; csv and parquet:
    the users)."""
    import pyarrow.compute as pc

    from pipelines.metrics.cohorts import note_of

    note = note_of(users)
    counted = sum(users.column("counted").to_pylist())
    if user is not None:
        users = users.filter(pc.equal(users.column("userId"), user))
    if fmt == "json":
        body = {"date": day.isoformat(), "counted": counted, "users": users.to_pylist(), "rejects": rejects.to_pylist()}
        if note:
            body["note"] = note
        text = json.dumps(body, default=plain, ensure_ascii=False, indent=1)
        _emit((text + "\n").encode("utf-8"), out)
    elif fmt == "table":
        parts = [f"{day.isoformat()}: {counted} users counted (weekly-data's number)", as_text(users).rstrip("\n")]
        if note:
            parts.insert(1, f"note: {note}")
        if rejects.num_rows:
            parts += [f"rejected documents that name {day.isoformat()}:", as_text(rejects).rstrip("\n")]
        else:
            parts.append(f"no rejected document names {day.isoformat()}")
        _emit(("\n\n".join(parts) + "\n").encode("utf-8"), out)
    else:
        if note:
            print(f"note: {note}", file=sys.stderr)
        write(users, fmt, out)


def _emit(data: bytes, out: str | None) -> None:
    if out:
        from pipelines.files import atomic_write_bytes

        atomic_write_bytes(Path(out), data)
    else:
        sys.stdout.write(data.decode("utf-8"))
