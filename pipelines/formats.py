"""Result tables (Arrow) as a person or a program wants them: an aligned text table, CSV, JSON (a
list of objects) or Parquet, as bytes. The CLI writes them (pipelines/cli/tables.py); the query
sandbox's child makes them within its limits (pipelines/metrics/sandbox.py).
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json

import pyarrow as pa

FORMATS = ("table", "csv", "json", "parquet")


def check_format(fmt: str, out: str | None) -> None:
    """A UserError for a format we do not write, or Parquet meant for a terminal."""
    from pipelines.errors import UserError

    if fmt not in FORMATS:
        raise UserError(f"unknown --format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "parquet" and not out:
        raise UserError("--format parquet needs --out FILE (Parquet is not for a terminal)")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _decimals(values: list) -> int:
    """The decimals a column of floats is printed with: as many as its most precise value needs (up to 6)."""
    needed = [len(repr(float(v)).partition(".")[2].rstrip("0")) for v in values if v is not None and "e" not in repr(v)]
    return min(max(needed, default=0), 6)


def as_text(table: pa.Table) -> str:
    """Columns aligned under their names; numbers to the right, a column's floats with the same decimals."""
    names = table.column_names
    rows = [[_text(v) for v in row.values()] for row in table.to_pylist()]
    for i, kind in enumerate(table.schema.types):
        if pa.types.is_floating(kind):
            values = table.column(i).to_pylist()
            places = _decimals(values)
            for row, value in zip(rows, values):
                if value is not None and value == value:  # not NaN
                    row[i] = f"{value:.{places}f}"
    widths = [max([len(n), *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]
    numeric = [pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) for t in table.schema.types]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)).rstrip()

    return "\n".join([line(names), *(line(r) for r in rows)]) + "\n"


def plain(value):
    """What JSON cannot hold as it is: dates as ISO text, DuckDB's decimals as numbers, bytes as text."""
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):  # DuckDB's sums: numbers, not strings
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def as_json(table: pa.Table) -> str:
    return json.dumps(table.to_pylist(), default=plain, ensure_ascii=False, indent=1) + "\n"


def as_csv(table: pa.Table) -> str:
    """RFC 4180 CSV, quoting only where needed; dates ISO, booleans true/false, nulls empty."""
    import csv

    sink = io.StringIO()
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow(table.column_names)
    for batch in table.to_batches(max_chunksize=64 * 1024):
        writer.writerows([_text(v) for v in row.values()] for row in batch.to_pylist())
    return sink.getvalue()


def as_parquet(table: pa.Table) -> bytes:
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def encode(table: pa.Table, fmt: str) -> bytes:
    """`table` in `fmt` (one of FORMATS), as the bytes of a file."""
    if fmt == "parquet":
        return as_parquet(table)
    return {"table": as_text, "csv": as_csv, "json": as_json}[fmt](table).encode("utf-8")
