"""Ingest mongoexport files of rocketchat_sessions into the lake, then rebuild the touched days."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import lake, manifest
from pipelines.logs import LogMapping, log_rows
from pipelines.progress import Progress, Quiet
from pipelines.readers import find_inputs, is_bson, read_batches, sniff
from pipelines.sql import connect, query

ROW_GROUP_SIZE = 256 * 1024
# Dictionary-encode only the columns with few distinct values (the rest would waste the work),
# and keep min/max statistics only where a reader can prune with them.
PARQUET_OPTIONS = {
    "sessions": {
        "use_dictionary": ["date", "type", "userId", "device", "mostImportantRole", "year", "month", "day"],
        "write_statistics": ["date", "_id", "userId", "loginAt"],
    },
    "user_daily": {
        "use_dictionary": ["date", "role", "source"],
        "write_statistics": ["date", "userId"],
    },
}
WRITERS = 2  # partitions built and written at once


@dataclass
class IngestSummary:
    """What one ingest run read, stored and rejected."""

    files: int = 0
    read: int = 0
    stored: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    days_touched: list[str] = field(default_factory=list)
    rejects_files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary as the command prints it."""
        out = [f"files: {self.files}"] + self.notes
        if self.skipped:
            out.append(f"skipped, already ingested: {len(self.skipped)} (--force reads them again)")
            out += [f"  {path}: {why}" for path, why in self.skipped]
        out += [
            f"documents read: {self.read}",
            f"stored: {self.stored}",
            f"rejected: {sum(self.rejected.values())}",
        ]
        out += [f"  {reason}: {count}" for reason, count in sorted(self.rejected.items())]
        days = self.days_touched
        span = f" ({days[0]} .. {days[-1]})" if days else ""
        out.append(f"days touched: {len(days)}{span}")
        out += [f"rejects written to {path}" for path in self.rejects_files]
        out += [f"archived as {path}" for path in self.archived]
        return out


def _rejects_key(path: Path) -> str:
    """The name of an input file's rejects file: one per input path, replaced on each ingest."""
    return hashlib.sha256(str(path.resolve()).encode("utf-8")).hexdigest()[:16]


def _raw_lines(con, batch: pa.Table) -> pa.Table:
    """The relation fields_from_lines.sql reads: text (null where not UTF-8) and whether it is JSON."""
    lines = batch.column("line")
    con.register("undecoded", pa.table({"line": lines}))
    try:
        text = lines.cast(pa.large_string())
    except pa.ArrowInvalid:  # some line is not UTF-8: null those lines, keep the rest
        text = con.sql("select try(decode(line)) as text from undecoded").to_arrow_table().column("text")
    finally:
        con.unregister("undecoded")
    con.register("unchecked", pa.table({"text": text}))
    is_json = con.sql("select coalesce(json_valid(text), false) as is_json from unchecked")
    is_json = is_json.to_arrow_table().column("is_json")
    con.unregister("unchecked")
    known = batch.column("known_reason") if "known_reason" in batch.column_names else pa.nulls(len(batch), pa.string())
    table = pa.table({"line_no": batch.column("line_no"), "text": text, "is_json": is_json, "known_reason": known})
    return _parallel(table)


def _parallel(table: pa.Table) -> pa.Table:
    """The table in small record batches, which DuckDB scans on every core (one big one, on one)."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=16 * 1024))


def _insert_documents(con, tz: str, file_index: int) -> None:
    """Type the documents of the `fields` view and append them, stored or rejected, to `incoming`."""
    sql = query("staging/documents")
    params = {"tz": tz, "file_index": file_index}
    con.execute(f"create table if not exists incoming as {sql} limit 0", params)
    con.execute(f"insert into incoming {sql}", params)
    con.execute("drop view fields")


def _fast_load(con, path: Path, tz: str, file_index: int) -> bool:
    """Load a file with DuckDB's parallel JSON reader; False (nothing kept) when the careful path must.

    That is when something in it is rejected (to report its line) or an _id appears twice in it
    (the later line must win a tie, and only the careful path numbers lines).
    """
    fmt, compression = sniff(path)
    params = {"path": str(path), "format": fmt, "compression": compression}
    try:
        con.sql(query("staging/fields_from_file"), params=params).create_view("fields", replace=True)
        _insert_documents(con, tz, file_index)
    except duckdb.Error:
        return False  # unreadable as a whole: the careful path says what is wrong
    rejected, repeated = con.execute(
        "select count(*) filter (where reject_reason is not null), count(*) - count(distinct _id) "
        "from incoming where file_index = ?",
        [file_index],
    ).fetchall()[0]
    if rejected or repeated:
        con.execute("delete from incoming where file_index = ?", [file_index])
        return False
    return True


def _careful_load(con, path: Path, tz: str, file_index: int, mapping: LogMapping | None = None) -> list[dict]:
    """Load a file line by line (or a log row by row), so each rejected document is reported with its line."""
    rejects: list[dict] = []
    bson = mapping is None and is_bson(path)
    batches = log_rows(path, mapping, con) if mapping else read_batches(path)
    for batch in batches:
        if batch.num_rows == 0:
            continue
        first_line = batch.column("line_no")[0].as_py()
        if mapping:
            relation, fields_sql, params = "log_rows", "staging/fields_from_log", {
                "timestamp_format": mapping.timestamp_format,
                "log_tz": mapping.timezone,
            }
            con.register(relation, batch)
        elif bson:
            relation, fields_sql, params = "bson_rows", "staging/fields_from_bson", {}
            con.register(relation, _parallel(batch))
        else:
            relation, fields_sql, params = "raw_lines", "staging/fields_from_lines", {}
            con.register(relation, _raw_lines(con, batch))
        con.sql(query(fields_sql), params=params).create_view("fields", replace=True)
        _insert_documents(con, tz, file_index)
        con.unregister(relation)
        bad = con.execute(
            "select line_no, reject_reason from incoming "
            "where file_index = ? and line_no >= ? and reject_reason is not null order by line_no",
            [file_index, first_line],
        ).fetchall()
        # the batch's row of each rejected line (a log skips blank lines: numbers can have gaps)
        rows = np.searchsorted(batch.column("line_no").to_numpy(), [line_no for line_no, _ in bad])
        raw = batch.column("line") if "line" in batch.column_names else pa.nulls(len(batch), pa.large_binary())
        offsets = batch.column("offset") if "offset" in batch.column_names else None
        for (line_no, reason), row in zip(bad, rows.tolist()):
            line = raw[row].as_py() or b""
            text = line.decode("utf-8", errors="replace").rstrip("\r\n")
            reject = {"file": str(path.resolve()), "line": line_no, "reason": reason, "text": text[:100_000]}
            if offsets is not None:  # a BSON dump: where the document starts in the file
                reject["offset"] = offsets[row].as_py()
            rejects.append(reject)
    return rejects


@dataclass
class _Loaded:
    """One input file read into `incoming`."""

    path: Path
    file_index: int
    read: int
    rejects: list[dict]
    fast: bool
    digest: str


def _load_file(
    con, path: Path, file_index: int, tz: str, digest: Future[str], mapping: LogMapping | None
) -> _Loaded:
    """Parse one file's documents into the `incoming` table (its content hash is computed meanwhile)."""
    fast = mapping is None and not is_bson(path) and _fast_load(con, path, tz, file_index)
    rejects = [] if fast else _careful_load(con, path, tz, file_index, mapping)
    read = con.execute("select count(*) from incoming where file_index = ?", [file_index]).fetchall()[0][0]
    return _Loaded(path, file_index, read, rejects, fast, digest.result())


def _store_rejects(root: Path, path: Path, rejects: list[dict], summary: IngestSummary) -> None:
    target = root / "rejects" / f"{_rejects_key(path)}.jsonl"
    if rejects:
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rejects)
        lake.atomic_write_bytes(target, body.encode("utf-8"))
        summary.rejects_files.append(str(target))
    else:
        target.unlink(missing_ok=True)


def ingest(
    paths: list[str | Path],
    root: Path,
    tz: str,
    tz_explicit: bool = True,
    memory_limit: str = "1GB",
    force: bool = False,
    archive: Path | None = None,
    mapping: LogMapping | None = None,
    progress: Progress | None = None,
) -> IngestSummary:
    """Read export files or folders into the lake at `root`; upsert by _id; rebuild touched days.

    A file already in the lake's manifest (same path, size and time, or same content) is skipped
    unless `force`; with `archive`, each file ingested is also copied there. With `mapping`, the
    files are plain session logs read through it (pipelines/logs.py), not exports.
    """
    notes: list[str] = []
    files = find_inputs(paths, notes, logs=mapping is not None)
    summary = IngestSummary(files=len(files), notes=notes)
    with lake.write_lock(root):
        state = lake.read_state(root)
        tz = lake.resolve_tz(state, tz, tz_explicit, root)
        known = manifest.read_manifest(root)
        todo = []
        for path in files:
            entry = None if force else known.unchanged(path)
            if entry is None:
                todo.append(path)
            else:
                summary.skipped.append((str(path), f"unchanged since its ingest at {entry.ingested_at}"))
        shutil.rmtree(root / ".staging", ignore_errors=True)
        staging = lake.staging_dir(root)
        con = connect(memory_limit=memory_limit)
        con.execute("set temp_directory = ?", [str(staging / "spill")])
        # rows carry their file and line, so arrival order need not be kept (and parallel inserts gain)
        con.execute("set preserve_insertion_order = false")
        try:
            progress = progress or Quiet()
            progress.reading(sum(path.stat().st_size for path in todo))
            loaded = _load_all(con, todo, tz, known, force, summary, mapping, progress)
            if summary.stored:
                one_version_each = len(loaded) == 1 and loaded[0].fast
                summary.days_touched = _merge(con, root, state, staging, one_version_each, progress)
            state.tz = tz
            for item in loaded:
                _store_rejects(root, item.path, item.rejects, summary)
                if archive is not None:
                    summary.archived.append(str(_archive(item.path, item.digest, archive)))
                rejected = len(item.rejects)
                known.add(manifest.new_entry(item.path, item.digest, item.read, item.read - rejected, rejected))
            lake.write_state(root, state)
            manifest.write_manifest(root, known)
            lake.remove_unreferenced(root, state)
        finally:
            con.close()
            shutil.rmtree(staging, ignore_errors=True)
    return summary


def _load_all(
    con,
    paths: list[Path],
    tz: str,
    known: manifest.Manifest,
    force: bool,
    summary: IngestSummary,
    mapping: LogMapping | None,
    progress: Progress,
) -> list[_Loaded]:
    """Load each file; drop again any whose content the lake (or this run) already has."""
    loaded: list[_Loaded] = []
    seen: dict[str, Path] = {}
    with ThreadPoolExecutor(max_workers=1) as hasher:
        for index, path in enumerate(paths):
            item = _load_file(con, path, index, tz, hasher.submit(manifest.content_hash, path), mapping)
            progress.read(path.stat().st_size)
            earlier = None if force else known.same_content(item.digest)
            if earlier is not None or item.digest in seen:
                con.execute("delete from incoming where file_index = ?", [index])
                source = earlier.path if earlier is not None else str(seen[item.digest])
                summary.skipped.append((str(path), f"same content as {source}"))
                continue
            seen[item.digest] = path
            loaded.append(item)
            summary.read += item.read
            summary.rejected.update(r["reason"] for r in item.rejects)
    summary.stored = summary.read - sum(summary.rejected.values())
    return loaded


def _archive(path: Path, digest: str, folder: Path) -> Path:
    """Copy an ingested file into the archive folder under a name that tells copies apart."""
    target = folder / f"{digest.split(':')[-1][:16]}-{path.name}"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
    return target


def _write_partition(root: Path, staging: Path, table_name: str, date: str, rows: pa.Table) -> str | None:
    """Write one date's rows as its partition file; return its path in the lake (None: no rows)."""
    if rows.num_rows == 0:
        return None
    staged = staging / f"{table_name}-{date}.parquet"
    # pyarrow writes the same bytes for the same rows whatever their chunking (DuckDB's writer does
    # not promise that): the same content gives the same file, named by its hash
    pq.write_table(
        rows.combine_chunks(),
        staged,
        compression="zstd",
        row_group_size=ROW_GROUP_SIZE,
        **PARQUET_OPTIONS[table_name],
    )
    return lake.place_partition(root, table_name, date, staged)


def _set(files: dict[str, str], date: str, placed: str | None) -> bool:
    """Point the state at a date's new file; True if that changed anything."""
    if placed == files.get(date):
        return False
    if placed is None:
        del files[date]
    else:
        files[date] = placed
    return True


def _merge(
    con, root: Path, state: lake.LakeState, staging: Path, one_version_each: bool, progress: Progress
) -> list[str]:
    """Upsert the incoming documents into their day partitions; return the dates whose files changed.

    `one_version_each` says the caller knows no _id came twice (one file, read by the fast path).
    """
    duplicates = not one_version_each and con.execute(
        "select count(*) - count(distinct _id) from incoming where reject_reason is null"
    ).fetchall()[0][0]
    if duplicates:
        con.execute(f"create table latest_incoming as {query('staging/latest_incoming')}")
    else:  # one version of each document: nothing to rank (most exports)
        con.execute("create view latest_incoming as select * from incoming where reject_reason is null")
    stored_files = state.paths(root, "sessions")
    if stored_files:
        con.execute(f"create table stored_versions as {query('staging/stored_versions')}", {"files": stored_files})
        con.execute(f"create table accepted as {query('staging/accepted')}")
    else:  # a new lake: everything that arrives is accepted
        con.execute("create table stored_versions as select _id, _updatedAt, date from incoming where false")
        con.execute("create view accepted as select * from latest_incoming")
    con.execute(
        "create table replaced as select _id, date from stored_versions "
        "where _id in (select _id from accepted)"
    )
    dates = [
        row[0].isoformat()
        for row in con.execute(
            "select distinct date from accepted union select distinct date from replaced order by date"
        ).fetchall()
    ]
    empty = staging / "empty.parquet"
    pq.write_table(con.sql("select * exclude (file_index, line_no, reject_reason) from accepted limit 0").to_arrow_table(), empty)
    partition_sql = query("staging/partition_rows")
    rollup_sql = query("marts/user_daily")

    def rebuild(date: str) -> tuple[str | None, str | None] | None:
        """The day's new sessions file and, when that changed, its new user_daily file."""
        cursor = con.cursor()
        current = state.files["sessions"].get(date)
        files = [str(root / current) if current else str(empty)]
        sessions = cursor.sql(partition_sql, params={"files": files, "date": date}).to_arrow_table()
        sessions = sessions.sort_by("_id")
        placed = _write_partition(root, staging, "sessions", date, sessions)
        if placed == current:
            return None
        cursor.register("day_sessions", sessions)
        user_days = cursor.sql(rollup_sql).to_arrow_table()
        return placed, _write_partition(root, staging, "user_daily", date, user_days)

    changed: list[str] = []
    progress.rebuilding(len(dates))
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        for date, result in zip(dates, pool.map(rebuild, dates)):
            progress.rebuilt(1)
            if result is not None:
                _set(state.files["sessions"], date, result[0])
                _set(state.files["user_daily"], date, result[1])
                changed.append(date)
    return changed
