"""Plain session logs (CSV or JSON lines from a proxy or SSO) read through a column mapping.

The mapping names, for each field the counting needs, the log's column that holds it:

    format = "csv"                    # csv or ndjson; by default from the file name
    timestamp_format = "iso"          # iso, epoch_s, epoch_ms, or strptime ("%d/%m/%Y %H:%M:%S")
    timezone = "UTC"                  # the zone of timestamps written without one
    [columns]
    userId = "user_id"                # required
    loginAt = "started_at"            # required
    lastActivityAt = "last_seen"      # required
    closedAt = "ended_at"             # optional
    mostImportantRole = "role"        # optional: without it, every user counts (none is anonymous)
    device = "client"                 # optional: without it, all of a user's sessions are one device
    _id = "session_id"                # optional: without it, a session is its user and loginAt
"""

from __future__ import annotations

import tomllib
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute below

from pipelines.errors import UserError

REQUIRED = ("userId", "loginAt", "lastActivityAt")
OPTIONAL = ("closedAt", "mostImportantRole", "device", "_id")
# the names fields_from_log.sql reads
RELATION_COLUMNS = {"userId": "userId", "loginAt": "loginAt", "lastActivityAt": "lastActivityAt",
                    "closedAt": "closedAt", "mostImportantRole": "role", "device": "device", "_id": "_id"}
FORMATS = ("csv", "ndjson")


@dataclass(frozen=True)
class LogMapping:
    """How to read one kind of session log."""

    columns: dict[str, str]
    format: str | None = None
    timestamp_format: str = "iso"
    timezone: str = "UTC"
    extra: dict[str, str] = field(default_factory=dict)

    def format_of(self, path: Path) -> str:
        """csv or ndjson: as the mapping says, else by the file's name."""
        if self.format:
            return self.format
        name = path.name.removesuffix(".gz")
        return "csv" if name.endswith((".csv", ".tsv")) else "ndjson"


def load_mapping(file: str | None, pairs: list[str], timestamp_format: str | None, timezone: str | None) -> LogMapping:
    """A mapping from a TOML file and/or KEY=COLUMN pairs (the pairs win); a UserError if unusable."""
    body: dict = {}
    if file:
        try:
            body = tomllib.loads(Path(file).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"no such mapping file: {file}") from None
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"cannot read the mapping {file}: {exc}") from None
    columns = dict(body.get("columns", {}))
    for pair in pairs:
        key, sep, column = pair.partition("=")
        if not sep or not key or not column:
            raise UserError(f"--map takes FIELD=COLUMN, e.g. userId=user_id; got {pair!r}")
        columns[key.strip()] = column.strip()
    unknown = sorted(set(columns) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise UserError(f"unknown field(s) in the log mapping: {', '.join(unknown)}; known: {', '.join(REQUIRED + OPTIONAL)}")
    missing = [key for key in REQUIRED if key not in columns]
    if missing:
        raise UserError(f"the log mapping must name a column for {', '.join(missing)} (e.g. --map {missing[0]}=COLUMN)")
    fmt = body.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise UserError(f"log format must be csv or ndjson, not {fmt!r}")
    zone = timezone or body.get("timezone") or "UTC"
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UserError(f"unknown time zone {zone!r} in the log mapping") from None
    return LogMapping(
        columns=columns,
        format=fmt,
        timestamp_format=timestamp_format or body.get("timestamp_format") or "iso",
        timezone=zone,
    )


def log_rows(path: Path, mapping: LogMapping, con) -> Iterator[pa.Table]:
    """The log's rows as text, one column per mapped field (named as fields_from_log.sql reads them).

    Each table has line_no (the line in the file; a CSV's header is line 1) and `line`, the row as
    written (for the rejects file).
    """
    if mapping.format_of(path) == "csv":
        yield from _csv_rows(path, mapping)
    else:
        yield from _ndjson_rows(path, mapping, con)


def _csv_rows(path: Path, mapping: LogMapping) -> Iterator[pa.Table]:
    """A CSV log's mapped columns, read block by block (bounded memory)."""
    import csv as pycsv
    import io

    import pyarrow.compute as pc
    import pyarrow.csv as csv

    from pipelines.readers import open_binary

    delimiter = "\t" if path.name.removesuffix(".gz").endswith(".tsv") else ","
    with open_binary(path) as stream:
        first = stream.readline().decode("utf-8-sig", "replace")
    header = next(pycsv.reader(io.StringIO(first), delimiter=delimiter), [])
    absent = [column for column in mapping.columns.values() if column not in header]
    if absent:
        raise UserError(f"{path} has no column {absent[0]!r} (its columns: {', '.join(header)})")
    line = 2  # the header is line 1
    with open_binary(path) as stream:
        try:
            reader = csv.open_csv(
                stream,
                read_options=csv.ReadOptions(block_size=16 * 1024 * 1024),
                parse_options=csv.ParseOptions(delimiter=delimiter),
                convert_options=csv.ConvertOptions(column_types={name: pa.string() for name in header}),
            )
            for batch in reader:
                out = {"line_no": pa.array(range(line, line + batch.num_rows), pa.int64())}
                for key, name in RELATION_COLUMNS.items():
                    column = mapping.columns.get(key)
                    out[name] = batch.column(column) if column else pa.nulls(batch.num_rows, pa.string())
                # the row as written, for the rejects file (its cells joined again)
                cells = [batch.column(c).fill_null("") for c in batch.schema.names]
                out["line"] = pc.binary_join_element_wise(*cells, delimiter).cast(pa.large_binary())
                line += batch.num_rows
                yield pa.table(out)
        except pa.ArrowInvalid as exc:
            raise UserError(f"cannot read {path} as CSV: {exc}") from None


def _ndjson_rows(path: Path, mapping: LogMapping, con) -> Iterator[pa.Table]:
    from pipelines.readers import read_batches
    from pipelines.sql import query

    paths = [f'$."{mapping.columns[key]}"' if key in mapping.columns else "$.__unmapped__" for key in RELATION_COLUMNS]
    for batch in read_batches(path):
        con.register("log_lines", batch)
        rows = con.sql(query("staging/log_rows_from_ndjson"), params={"paths": paths}).to_arrow_table()
        con.unregister("log_lines")
        first = batch.column("line_no")[0].as_py()
        lines = batch.column("line").take(pa.compute.subtract(rows.column("line_no"), first))
        yield rows.append_column("line", lines)
