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

from pipelines import arrow_numpy
from pipelines.days import DEFAULT_TZ
from pipelines.errors import UserError, shown
from pipelines.fields import LOG_COLUMNS

REQUIRED = ("userId", "loginAt", "lastActivityAt")
OPTIONAL = ("closedAt", "mostImportantRole", "device", "_id")
# the mappable fields -> the names fields_from_log.sql reads them as
RELATION_COLUMNS = LOG_COLUMNS
assert set(REQUIRED + OPTIONAL) == set(RELATION_COLUMNS), "logs.REQUIRED/OPTIONAL and fields.FIELDS disagree"
FORMATS = ("csv", "ndjson")


@dataclass(frozen=True)
class LogMapping:
    """How to read one kind of session log."""

    columns: dict[str, str]
    format: str | None = None
    timestamp_format: str = "iso"
    timezone: str = DEFAULT_TZ
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
            raise UserError(f"a mapping pair is FIELD=COLUMN, e.g. userId=user_id; got {pair!r}", "pairs")
        columns[key.strip()] = column.strip()
    unknown = sorted(set(columns) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise UserError(
            f"unknown field(s) in the log mapping: {', '.join(unknown)}; known: {', '.join(REQUIRED + OPTIONAL)}"
        )
    missing = [key for key in REQUIRED if key not in columns]
    if missing:
        raise UserError(
            f"the log mapping must name a column for {', '.join(missing)} (e.g. {missing[0]}=COLUMN)", "pairs"
        )
    fmt = body.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise UserError(f"log format must be csv or ndjson, not {fmt!r}")
    zone = timezone or body.get("timezone") or DEFAULT_TZ
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

    Each table has line_no (the line in the file; a CSV's header is line 1), `line`, the row as
    written (for the rejects file), and known_reason (a reject found while reading: a CSV row of
    the wrong width or not UTF-8, a damaged gzip).
    """
    if mapping.format_of(path) == "csv":
        yield from _csv_rows(path, mapping)
    else:
        yield from _ndjson_rows(path, mapping, con)


class Malformed(Exception):
    """pyarrow met a row it cannot parse: the file is read again row by row (the careful path)."""


def _csv_rows(path: Path, mapping: LogMapping) -> Iterator[pa.Table]:
    """A CSV log's mapped columns, read block by block (bounded memory) by pyarrow.

    A malformed row (wrong number of cells, not UTF-8) raises Malformed: the caller then drops
    what this pass stored and reads the file with csv_rows_careful, which knows each row's line
    (see load._careful_load).
    """
    import pyarrow.csv as csv

    from pipelines.inputs.readers import damage_of, damage_row, open_binary

    header, delimiter = _csv_header(path, mapping)
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
                cells = [batch.column(c) for c in batch.schema.names]
                yield _log_table(mapping, header, cells, range(line, line + batch.num_rows), delimiter)
                line += batch.num_rows
        except pa.ArrowInvalid as exc:  # a row of the wrong width, or not UTF-8
            raise Malformed(str(exc)) from None
        if (damage := damage_of(stream)) is not None:
            yield _with_relation_columns(damage_row(damage, line))


def csv_rows_careful(path: Path, mapping: LogMapping, rows_per_batch: int = 64 * 1024) -> Iterator[pa.Table]:
    """A CSV log read row by row with Python's csv module: each malformed row becomes a reject."""
    import csv as pycsv
    import io
    import sys

    from pipelines.inputs.readers import damage_of, damage_row, open_binary

    header, delimiter = _csv_header(path, mapping)
    pycsv.field_size_limit(sys.maxsize)
    with open_binary(path) as stream:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
        reader = pycsv.reader(text, delimiter=delimiter)
        try:
            next(reader, None)  # the header (read by _csv_header)
        except pycsv.Error as exc:
            raise UserError(f"{path}: its first line is not a CSV header ({exc}): is it a session log?") from None
        rows: list[list[str]] = []
        lines: list[int] = []
        reasons: list[str | None] = []
        line = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except pycsv.Error:
                row, reason = [], "bad_csv_row"
            else:
                reason = None if len(row) == len(header) else "bad_csv_row"
            if row and reason is None and any(_not_utf8(cell) for cell in row):
                reason = "bad_utf8"
            if row or reason:
                rows.append(row)
                lines.append(line)
                reasons.append(reason)
            line = reader.line_num + 1
            if len(rows) >= rows_per_batch:
                yield _careful_table(mapping, header, rows, lines, reasons, delimiter)
                rows, lines, reasons = [], [], []
        if rows:
            yield _careful_table(mapping, header, rows, lines, reasons, delimiter)
        if (damage := damage_of(stream)) is not None:
            yield _with_relation_columns(damage_row(damage, line))


def _not_utf8(cell: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in cell)


def _careful_table(mapping, header, rows, lines, reasons, delimiter) -> pa.Table:
    """One batch of the careful CSV pass; a malformed row keeps its text and its reason, no cells."""
    cells = []
    for i in range(len(header)):
        column = [row[i] if reason is None else None for row, reason in zip(rows, reasons)]
        cells.append(arrow_numpy.texts(column, pa.string()))
    texts = [delimiter.join(row).encode("utf-8", "surrogateescape") for row in rows]
    table = _log_table(mapping, header, cells, lines, delimiter, arrow_numpy.texts(texts, pa.large_binary()))
    return table.set_column(
        table.schema.get_field_index("known_reason"), "known_reason", arrow_numpy.texts(reasons, pa.string())
    )


def _csv_header(path: Path, mapping: LogMapping) -> tuple[list[str], str]:
    """The CSV's column names (a UserError if a mapped one is missing) and its delimiter."""
    import csv as pycsv
    import io

    from pipelines.inputs.readers import open_binary

    delimiter = "\t" if path.name.removesuffix(".gz").endswith(".tsv") else ","
    with open_binary(path) as stream:
        first = stream.readline().decode("utf-8-sig", "replace")
    try:
        header = next(pycsv.reader(io.StringIO(first, newline=""), delimiter=delimiter), [])
    except pycsv.Error as exc:
        raise UserError(f"{path}: its first line is not a CSV header ({exc}): is it a session log?") from None
    absent = [column for column in mapping.columns.values() if column not in header]
    if absent:
        columns = shown(", ".join(header)) or "none"
        raise UserError(f"{path} has no column {shown(absent[0])!r} (its columns: {columns})")
    return header, delimiter


def _log_table(mapping, header, cells, lines, delimiter, text=None) -> pa.Table:
    """The relation fields_from_log.sql reads, from a batch's cells (one array per header column)."""
    import pyarrow.compute as pc

    count = len(cells[0]) if cells else len(lines)
    by_name = dict(zip(header, cells))
    out = {"line_no": arrow_numpy.integers(lines)}
    for key, name in RELATION_COLUMNS.items():
        column = mapping.columns.get(key)
        out[name] = by_name[column] if column else pa.nulls(count, pa.string())
    if text is None:  # the row as written, for the rejects file (its cells joined again)
        text = pc.binary_join_element_wise(*[c.fill_null("") for c in cells], delimiter).cast(pa.large_binary())
    out["line"] = text
    out["known_reason"] = pa.nulls(count, pa.string())
    return pa.table(out)


def _with_relation_columns(problem: pa.Table) -> pa.Table:
    """A reader's problem row (line_no, line, known_reason, offset) with the mapped columns null."""
    for name in RELATION_COLUMNS.values():
        problem = problem.append_column(name, pa.nulls(problem.num_rows, pa.string()))
    return problem


def _json_pointer(key: str) -> str:
    """A JSON pointer to a top-level key (RFC 6901): any column name, quotes and slashes included."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _ndjson_rows(path: Path, mapping: LogMapping, con) -> Iterator[pa.Table]:
    from pipelines.inputs.readers import read_batches
    from pipelines.sql import query

    # an unmapped field reads a key no log has (a pointer cannot name it by accident: ~2 is invalid)
    paths = [_json_pointer(mapping.columns[key]) if key in mapping.columns else "/~2" for key in RELATION_COLUMNS]
    for batch in read_batches(path):
        if "known_reason" in batch.column_names:  # a damaged gzip's row
            yield _with_relation_columns(batch.select(["line_no", "line", "known_reason", "offset"]))
            continue
        con.register("log_lines", batch)
        found = con.sql(query("staging/log_rows_from_ndjson"), params={"paths": paths}).to_arrow_table()
        con.unregister("log_lines")
        values = found.column("v")
        rows = pa.table(
            {"line_no": found.column("line_no")}
            | {name: pa.compute.list_element(values, i) for i, name in enumerate(RELATION_COLUMNS.values())}
        )
        first = batch.column("line_no")[0].as_py()
        lines = batch.column("line").take(pa.compute.subtract(rows.column("line_no"), first))
        rows = rows.append_column("line", lines)
        yield rows.append_column("known_reason", pa.nulls(rows.num_rows, pa.string()))
