"""Read input files into DuckDB's `incoming` table: the fast path, the careful path, the manifest check."""

from __future__ import annotations

import contextlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from pipelines import arrow_numpy
from pipelines.fields import JSON_COLUMNS, document_type
from pipelines.ingest.progress import Progress
from pipelines.inputs import gzipped
from pipelines.inputs.logs import LogMapping, Malformed, csv_rows_careful, log_rows
from pipelines.inputs.readers import is_bson, read_batches, sniff
from pipelines.lake import manifest
from pipelines.sql import query

STRUCTURE = json.dumps(JSON_COLUMNS)  # from_json's structure argument


def _raw_lines(con, batch: pa.Table) -> pa.Table:
    """The relation fields_from_lines.sql reads: text (null where not UTF-8) and whether it is JSON."""
    lines = batch.column("line")
    con.register("undecoded", pa.table({"line": lines}))
    try:
        text = lines.cast(pa.large_string())
    except pa.ArrowInvalid:  # some line is not UTF-8: null those lines, keep the rest
        text = con.sql(query("staging/decode_lines")).to_arrow_table().column("text")
    finally:
        con.unregister("undecoded")
    con.register("unchecked", pa.table({"text": text}))
    is_json = con.sql(query("staging/valid_json")).to_arrow_table().column("is_json")
    con.unregister("unchecked")
    known = batch.column("known_reason") if "known_reason" in batch.column_names else pa.nulls(len(batch), pa.string())
    table = pa.table({"line_no": batch.column("line_no"), "text": text, "is_json": is_json, "known_reason": known})
    return _parallel(table)


def _parallel(table: pa.Table) -> pa.Table:
    """The table in small record batches, which DuckDB scans on every core (one big one, on one)."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=16 * 1024))


def _fields_view(con, fields: duckdb.DuckDBPyRelation) -> None:
    """A reader's fields, typed, as the `typed` view documents.sql reads: `f` cast to the declared
    struct first, so a stored field this reader does not produce is null (pipelines/fields.py)."""
    f = duckdb.ColumnExpression("f").cast(document_type()).alias("f")
    fields.select(duckdb.StarExpression(exclude=["f"]), f).create_view("fields", replace=True)
    con.sql(query("staging/typed_from_json")).create_view("typed", replace=True)


def append(relation, table: str) -> None:
    """Append a relation's rows to the run's table `table`, which its first rows create."""
    try:
        relation.insert_into(table)
    except duckdb.CatalogException:  # the run's first rows of this table
        relation.create(table)


def _insert_documents(con, tz: str, file_index: int) -> None:
    """Type the documents of the `fields` view and append them, stored or rejected, to `incoming`."""
    append(con.sql(query("staging/documents"), params={"tz": tz, "file_index": file_index}), "incoming")


def _fast_load(con, path: Path, tz: str, file_index: int) -> int | None:
    """Load a file with DuckDB's parallel JSON reader: the documents read; None (nothing kept) when
    the careful path must.

    That is when something in it is rejected (to report its line) or an _id appears twice in it
    (the later line must win a tie, and only the careful path numbers lines).
    """
    fmt, compression = sniff(path)
    params = {"path": str(path), "format": fmt, "compression": compression, "columns": JSON_COLUMNS}
    try:
        _fields_view(con, con.sql(query("staging/fields_from_file"), params=params))
        _insert_documents(con, tz, file_index)
    except duckdb.Error:
        return None  # unreadable as a whole: the careful path says what is wrong
    read, rejected, repeated = _counts(con, file_index)
    if rejected or repeated:
        _forget(con, file_index)
        return None
    return read


def _counts(con, file_index: int) -> tuple[int, int, int]:
    """(read, rejected, repeated _ids) of one file's documents in `incoming` (none yet: zeros)."""
    try:
        return con.execute(query("staging/file_counts"), {"file_index": file_index}).fetchall()[0]
    except duckdb.CatalogException:  # no document in any file so far (an empty log, say)
        return 0, 0, 0


def reaches(con) -> dict[int, tuple[str | None, str | None, str | None, str | None]]:
    """How far each loaded file's stored documents reach, by file index: (newest activity as ISO UTC,
    latest user_daily day, first day, last day), each None when the file has none (staging/file_reach.sql)."""
    try:
        rows = con.execute(query("staging/file_reach")).fetchall()
    except duckdb.CatalogException:  # nothing loaded
        return {}
    return {
        index: (
            newest.isoformat(timespec="milliseconds") + "Z" if newest is not None else None,
            *(day.isoformat() if day is not None else None for day in days),
        )
        for index, newest, *days in rows
    }


def _forget(con, file_index: int) -> None:
    """Drop one file's documents from `incoming` (if there is anything yet)."""
    with contextlib.suppress(duckdb.CatalogException):
        con.execute(query("staging/forget_file"), {"file_index": file_index})


def prefetched(batches, depth: int = 1):
    """The batches, read one ahead in a thread: the next chunk is read and decoded (file reads and
    the BSON reader's compiled loops release the GIL) while DuckDB types the current one.

    The producer stops when the consumer does (a failure, or an early end), and its exceptions
    reach the consumer as if raised there.
    """
    import queue
    import threading

    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def offer(item) -> bool:
        """Hand an item over; False when the consumer has stopped (then nobody will take it)."""
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not offer((batch, None)):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            offer((done, exc))
            return
        finally:
            getattr(batches, "close", lambda: None)()  # its file, closed in the thread that ran it
        offer((done, None))

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            batch, error = ready.get()
            if error is not None:
                raise error
            if batch is done:
                return
            yield batch
    finally:
        stop.set()
        thread.join()


def _careful_load(con, path: Path, tz: str, file_index: int, mapping: LogMapping | None = None) -> list[dict]:
    """Load a file line by line (or a log row by row), so each rejected document is reported with its line."""
    # a log's rows are read through DuckDB (the connection is not shared across threads): not prefetched
    batches = log_rows(path, mapping, con) if mapping else prefetched(read_batches(path))
    try:
        return _insert_batches(con, path, tz, file_index, batches, mapping)
    except Malformed:  # a CSV row pyarrow cannot parse: again, row by row, each bad row a reject
        _forget(con, file_index)
        return _insert_batches(con, path, tz, file_index, csv_rows_careful(path, mapping), mapping)


def _insert_batches(con, path: Path, tz: str, file_index: int, batches, mapping: LogMapping | None) -> list[dict]:
    """Type each batch's documents into `incoming`; the rejects, each with its line and text."""
    rejects: list[dict] = []
    bson = mapping is None and is_bson(path)
    for batch in batches:
        if batch.num_rows == 0:
            continue
        first_line = batch.column("line_no")[0].as_py()
        if mapping:
            relation = "log_rows"
            con.register(relation, batch)
            params = {"timestamp_format": mapping.timestamp_format, "log_tz": mapping.timezone}
            _fields_view(con, con.sql(query("staging/fields_from_log"), params=params))
        elif bson:  # typed straight from BSON, no JSON in between
            relation = "bson_rows"
            con.register(relation, _parallel(batch))
            con.sql(query("staging/typed_from_bson")).create_view("typed", replace=True)
        else:
            relation = "raw_lines"
            con.register(relation, _raw_lines(con, batch))
            _fields_view(con, con.sql(query("staging/fields_from_lines"), params={"structure": STRUCTURE}))
        _insert_documents(con, tz, file_index)
        con.unregister(relation)
        bad = con.execute(
            query("staging/file_rejects"), {"file_index": file_index, "first_line": first_line}
        ).fetchall()
        # the batch's row of each rejected line (a log skips blank lines: numbers can have gaps)
        raw = batch.column("line") if "line" in batch.column_names else pa.nulls(len(batch), pa.large_binary())
        places = reject_places(batch, [line_no for line_no, _, _ in bad])
        for (_, reason, named_date), (row, where, offset) in zip(bad, places):
            line = raw[row].as_py() or b""
            text = line.decode("utf-8", errors="replace").rstrip("\r\n")
            reject = {"file": str(path.resolve()), "line": where, "reason": reason, "text": text[:100_000]}
            if offset is not None:  # a BSON dump: where the document starts in the file
                reject["offset"] = offset
            if named_date is not None:  # the server-local day the document names (explain counts by it)
                reject["date"] = named_date.isoformat()
            rejects.append(reject)
    return rejects


def reject_places(batch: pa.Table, line_nos: list[int]) -> list[tuple[int, int, int | None]]:
    """Where each rejected document (by line_no) of a reader's batch is: its row in the batch, its
    line in the file (lines after a JSON array are numbered after its elements: the file's own
    number is file_line), and its byte offset (a BSON dump's document; None otherwise)."""
    rows = np.searchsorted(arrow_numpy.values(batch.column("line_no")), line_nos).tolist()
    file_lines = batch.column("file_line") if "file_line" in batch.column_names else None
    offsets = batch.column("offset") if "offset" in batch.column_names else None
    return [
        (
            row,
            file_lines[row].as_py() if file_lines is not None else line_no,
            offsets[row].as_py() if offsets is not None else None,
        )
        for line_no, row in zip(line_nos, rows)
    ]


@dataclass
class _Loaded:
    """One input file read into `incoming`."""

    path: Path
    file_index: int
    read: int
    rejects: list[dict]
    fast: bool
    digest: str
    sha256: str = ""


def _load_file(
    con, path: Path, file_index: int, tz: str, pool: ThreadPoolExecutor, mapping: LogMapping | None
) -> _Loaded:
    """Parse one file's documents into the `incoming` table.

    Meanwhile a thread hashes its content and, for gzip, reads it through to its end: DuckDB's
    reader does not check gzip's CRC, so a damaged file takes the careful path, which reports the damage.
    """
    digest = pool.submit(manifest.content_hashes, path)
    damage = pool.submit(gzipped.check, path)
    read = _fast_load(con, path, tz, file_index) if mapping is None and not is_bson(path) else None
    if read is not None and damage.result() is not None:
        _forget(con, file_index)
        read = None
    fast, rejects = read is not None, []
    if not fast:
        rejects = _careful_load(con, path, tz, file_index, mapping)
        read, _, _ = _counts(con, file_index)
    return _Loaded(path, file_index, read, rejects, fast, *digest.result())


def load_all(
    con,
    paths: list[Path],
    tz: str,
    known: manifest.Manifest,
    force: bool,
    summary,
    mapping: LogMapping | None,
    progress: Progress,
) -> list[_Loaded]:
    """Load each file; drop again any whose content the lake (or this run) already has."""
    loaded: list[_Loaded] = []
    seen: dict[str, Path] = {}
    with ThreadPoolExecutor(max_workers=1) as hasher:
        for index, path in enumerate(paths):
            item = _load_file(con, path, index, tz, hasher, mapping)
            progress.read(path.stat().st_size)
            if _admit(item, known, force, seen, summary):
                loaded.append(item)
            else:
                _forget(con, index)
    summary.stored = summary.read - sum(summary.rejected.values())
    return loaded


def _admit(item: _Loaded, known: manifest.Manifest, force: bool, seen: dict[str, Path], summary) -> bool:
    """Count a loaded file in, unless the lake (or this run) already has its content (then note why)."""
    earlier = None if force else known.same_content(item.digest)
    if earlier is not None or item.digest in seen:
        source = earlier.path if earlier is not None else str(seen[item.digest])
        summary.skipped.append((str(item.path), f"same content as {source}"))
        return False
    seen[item.digest] = item.path
    summary.read += item.read
    summary.rejected.update(r["reason"] for r in item.rejects)
    return True


@dataclass(frozen=True)
class StageJob:
    """The map step's input: one file to read into its own staged Parquet file."""

    path: str
    file_index: int
    tz: str
    staging: str
    mapping: LogMapping | None
    memory_limit: str


def stage_file(job: StageJob) -> _Loaded:
    """Map step: read one file in a DuckDB of its own and stage its rows (any worker, shared storage)."""
    from pipelines.sql import connect

    path = Path(job.path)
    con = connect(memory_limit=job.memory_limit, ordered=False)
    try:
        with ThreadPoolExecutor(max_workers=1) as hasher:
            item = _load_file(con, path, job.file_index, job.tz, hasher, job.mapping)
        if item.read:
            con.table("incoming").write_parquet(str(staged_path(job.staging, job.file_index)))
        return item
    finally:
        con.close()


def staged_path(staging: str | Path, file_index: int) -> Path:
    """Where the map step leaves one file's rows."""
    return Path(staging) / f"incoming-{file_index:06d}.parquet"


def load_staged(
    con,
    items: list[_Loaded],
    staging: Path,
    known: manifest.Manifest,
    force: bool,
    summary,
    progress: Progress,
    table: bool = False,
) -> list[_Loaded]:
    """Reduce step's start: the staged files, less any whose content the lake (or this run) has, as
    `incoming` (a view over them; with `table`, a table, which the forgotten people's scrub updates)."""
    loaded: list[_Loaded] = []
    seen: dict[str, Path] = {}
    for item in sorted(items, key=lambda i: i.file_index):
        progress.read(item.path.stat().st_size)
        if _admit(item, known, force, seen, summary):
            loaded.append(item)
    summary.stored = summary.read - sum(summary.rejected.values())
    files = [str(staged_path(staging, item.file_index)) for item in loaded if item.read]
    if files and table:
        con.read_parquet(files).create("incoming")
    elif files:
        con.read_parquet(files).create_view("incoming", replace=True)
    return loaded
