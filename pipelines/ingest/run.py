"""Ingest exports, dumps and logs of rocketchat_sessions into the lake: the whole run, start to end.

Reading is in pipelines/ingest/load.py, merging and rebuilding days in pipelines/ingest/merge.py; this module
holds the run around them: the lock, the manifest, the rejects files, the summary.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines import clock
from pipelines.errors import ONE_LINE, MachineError, machine_error, shown
from pipelines.faults import crash_point
from pipelines.files import atomic_write_bytes, flush_filesystem
from pipelines.ingest import messages, registrations
from pipelines.ingest.load import StageJob, load_all, load_staged, reaches
from pipelines.ingest.merge import merge
from pipelines.ingest.progress import Progress, Quiet
from pipelines.ingest.prune import PRUNED_REASON, pruned_days, refuse_pruned
from pipelines.inputs.logs import LogMapping
from pipelines.inputs.readers import find_inputs
from pipelines.lake import manifest
from pipelines.lake.forgetting import INCOMING, read_tombstones, scrub_incoming
from pipelines.lake.layout import REJECTS_DIR, rejects_key
from pipelines.lake.writing import writing
from pipelines.lake.zones import resolve_tz
from pipelines.sql import connect

if TYPE_CHECKING:  # only named in a signature: an ingest does not need pydantic-settings
    from pipelines.settings import Settings


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
        return [shown(line, ONE_LINE) for line in out]  # a file's name with a newline stays on its line


def summary_values(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """A summary's lines (IngestSummary.lines) read back: {"files": "2", "stored": "1032", ...} (the
    first of each key), and the rejection reasons under "rejected: N" ("bad_json: 1")."""
    values: dict[str, str] = {}
    reasons: list[str] = []
    key = ""
    for line in lines:
        if line.startswith("  "):  # under "rejected: N", a reason and its count
            if key == "rejected":
                reasons.append(line.strip())
            continue
        key, _, value = line.partition(": ")
        values.setdefault(key, value)
    return values, reasons


def console_lines(lines: list[str]) -> tuple[str, str | None]:
    """From a summary's lines (IngestSummary.lines, as a nightly run's ledger keeps them): one line of
    what the ingest did, and a warning naming how many documents were rejected, why and where they are
    kept (None when none was)."""
    values, reasons = summary_values(lines)
    skipped = values.get("skipped, already ingested", "0").split(" ", 1)[0]
    done = (
        f"ingest: {values.get('files', '0')} file(s)"
        + (f", {skipped} already ingested" if skipped != "0" else "")
        + f"; {values.get('documents read', '0')} documents read, {values.get('stored', '0')} stored, "
        f"{values.get('rejected', '0')} rejected"
    )
    if values.get("rejected", "0") == "0":
        return done, None
    where = [line.removeprefix("rejects written to ") for line in lines if line.startswith("rejects written to ")]
    return done, (
        f"{values['rejected']} document(s) rejected ({', '.join(reasons)}): each kept with its reason in "
        f"{', '.join(where) or 'the lake rejects files'} (engagement explain --date D lists a day's)"
    )


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
    stage_map: Callable[[list[StageJob]], list] | None = None,
) -> IngestSummary:
    """Read export files or folders into the lake at `root`; upsert by _id; rebuild touched days.

    A file already in the lake's manifest (same path, size and time, or same content) is skipped
    unless `force`; with `archive`, each file ingested is also copied there. With `mapping`, the
    files are plain session logs read through it (pipelines/inputs/logs.py), not exports.

    With `stage_map`, reading is a map step: each file is read by `load.stage_file` (wherever
    stage_map runs it, e.g. on Dask workers sharing the lake's storage) into a staged Parquet file,
    and the merge reduces them; without it, files are read here, into one DuckDB.
    """
    notes: list[str] = []
    run_at = clock.now_iso()  # one time for the run's files: when it started (a bad ENGAGEMENT_NOW stops it here)
    files = find_inputs(paths, notes, logs=mapping is not None)
    summary = IngestSummary(files=len(files), notes=notes)
    with writing(root) as writer:  # the lake's write protocol: lock, state, staging, commit, cleanup
        state = writer.state
        tz = resolve_tz(state, tz, tz_explicit, root)
        tombs = read_tombstones(root, state)  # forgotten people stay forgotten (lake/forgetting.py)
        known = manifest.read_manifest(root)
        todo = []
        for path in files:
            entry = None if force else known.unchanged(path)
            if entry is None:
                todo.append(path)
            else:
                summary.skipped.append((str(path), f"unchanged since its ingest at {entry.ingested_at}"))
        # exports of rocketchat_analytics and users feed new-users (pipelines/ingest/registrations.py)
        kinds = {} if mapping is not None else {path: registrations.collection_of(path) for path in todo}
        others = [path for path in todo if kinds.get(path, "sessions") != "sessions"]
        todo = [path for path in todo if kinds.get(path, "sessions") == "sessions"]
        uses = {
            "analytics": "new-users and the Messages tab",
            "users": "new-users",
            "rooms": "the Channels tab",
            "chat_messages": "the Messages and Channels tabs",
        }
        summary.notes += [f"{path}: an export of {kinds[path]} (for {uses[kinds[path]]})" for path in others]
        if archive is not None:
            for leftover in archive.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)
        con = None
        try:
            staging = writer.staging
            # rows carry their file and line, so arrival order need not be kept (and parallel inserts gain)
            con = connect(memory_limit=memory_limit, spill=staging / "spill", ordered=False)
            progress = progress or Quiet()
            progress.reading(sum(path.stat().st_size for path in todo + others))
            if stage_map is None:
                loaded = load_all(con, todo, tz, known, force, summary, mapping, progress)
            else:
                jobs = [StageJob(str(p), i, tz, str(staging), mapping, memory_limit) for i, p in enumerate(todo)]
                # a table, not a view, when the forgotten people's scrub or the pruned dates' refusal updates it
                updated = bool(tombs) or bool(pruned_days(state)["sessions"])
                loaded = load_staged(con, stage_map(jobs), staging, known, force, summary, progress, updated)
            crash_point("loaded")
            scrub_incoming(con, tombs, ["incoming"])
            # how far each file's stored documents reach (the lake's freshness, lake/freshness.py)
            by_index = reaches(con) if loaded else {}
            reach = {item.path: by_index[item.file_index] for item in loaded if item.file_index in by_index}
            # a pruned date keeps only its rollups: its documents are rejected (ingest/prune.py)
            refused = refuse_pruned(con, state, "incoming") if summary.stored else {}
            _count_refused(summary, refused)
            if summary.stored:
                one_version_each = len(loaded) == 1 and loaded[0].fast
                summary.days_touched = merge(con, writer, one_version_each, progress, summary.notes)
            others_loaded = [
                messages.load(con, path, tz, len(todo) + i)
                if kinds[path] == messages.COLLECTION
                else registrations.load(con, path, kinds[path], len(todo) + i)
                for i, path in enumerate(others)
            ]
            scrub_incoming(con, tombs, [t for t in INCOMING if t != "incoming"])
            for item in others_loaded:
                summary.read += item.read
                summary.stored += item.read - len(item.rejects)
                summary.rejected.update(r["reason"] for r in item.rejects)
            if any(messages.COLLECTION in item.tables for item in others_loaded):
                refused_messages = refuse_pruned(con, state, "incoming_chat_messages")
                _count_refused(summary, refused_messages)
                refused |= refused_messages
            tables = {table for item in others_loaded for table in item.tables}
            registrations.merge(con, writer, tables - {messages.COLLECTION})
            if messages.COLLECTION in tables:
                message_days = messages.merge(con, writer)
                summary.notes.append(f"message days touched: {len(message_days)}")
            indexes = [item.file_index for item in loaded] + [len(todo) + i for i in range(len(others))]
            loaded = [*loaded, *others_loaded]
            crash_point("merged")
            state.tz = tz
            for index, item in zip(indexes, loaded):
                _store_rejects(root, item.path, [tombs.scrub_reject(r) for r in item.rejects], summary)
                if archive is not None:
                    summary.archived.append(str(_archive(item.path, item.digest, archive)))
                rejected = len(item.rejects) + refused.get(index, 0)
                where = reach.get(item.path, (None, None, None, None))
                known.add(
                    manifest.new_entry(
                        item.path, item.digest, item.read, item.read - rejected, rejected, run_at, where, item.sha256
                    )
                )
            if archive is not None and loaded:
                flush_filesystem(archive)  # the copies are kept before the manifest says so
            crash_point("rejects written")
            writer.commit()
            manifest.write_manifest(root, known)
            crash_point("manifest written")
        except BaseException as exc:
            if con is not None:
                con.close()  # before the writer removes what this run placed (DuckDB spills into staging)
                con = None
            if not isinstance(exc, MachineError) and (
                error := machine_error(exc, getattr(exc, "filename", None) or root)
            ):
                raise error from None
            raise
        finally:
            if con is not None:
                con.close()
    return summary


def _count_refused(summary: IngestSummary, refused: dict[int, int]) -> None:
    """Documents of pruned dates, counted as rejected (reason pruned_day) instead of stored."""
    if refused:
        summary.stored -= sum(refused.values())
        if not summary.rejected[PRUNED_REASON]:
            summary.notes.append(
                f"{PRUNED_REASON}: documents of dates whose raw rows are pruned are not stored; "
                "those dates keep their counts (engagement prune)"
            )
        summary.rejected[PRUNED_REASON] += sum(refused.values())


def ingest_with(settings: Settings, paths: list[str | Path], **options) -> IngestSummary:
    """`ingest` into the lake of `settings`, in its zone and memory limit (`options`: ingest's others)."""
    return ingest(paths, settings.lake, settings.tz, settings.tz_explicit, settings.ingest_memory, **options)


def _archive(path: Path, digest: str, folder: Path) -> Path:
    """Copy an ingested file into the archive folder under a name that tells copies apart."""
    target = folder / f"{digest.split(':')[-1][:16]}-{path.name}"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
    return target


def _rejects_key(path: Path) -> str:
    """The name of an input file's rejects file: one per input path, replaced on each ingest."""
    return rejects_key(path)


def _store_rejects(root: Path, path: Path, rejects: list[dict], summary: IngestSummary) -> None:
    target = root / REJECTS_DIR / f"{_rejects_key(path)}.jsonl"
    if rejects:
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rejects)
        atomic_write_bytes(target, body.encode("utf-8"))
        summary.rejects_files.append(str(target))
    else:
        target.unlink(missing_ok=True)
