"""Where a published number comes from: an OpenLineage run event beside every published file.

Each file a run publishes (a week's weekly-data JSON, its page, its email, a correction, the index)
gets, in OUT/lineage/<its folder>/<its name>.json, one OpenLineage RunEvent (https://openlineage.io,
the open standard Marquez, DataHub and others read; built with the openlineage-python client's
classes, written atomically like every output):

- the run: an id, the time, and the job (`nightly`, `backfill`, `send`, `report`) and output kind;
- its inputs: each export file the numbers stand on (by path and sha256, as the lake's manifest
  recorded them: the files whose documents reach the days the output reads), and the lake's
  snapshot (its state file's sha256: the state names every partition by its content);
- its output: the file's path and sha256;
- facets: the code's version (processing_engine), the settings that change numbers (the lake's
  zone, the freshness thresholds, the messages' fill day: executionParameters), and the SQL files
  the run had read (by name and sha256).

The run id is derived from the job, the lake snapshot and the week (a UUID5): publishing the same
week from the same snapshot again is the same run, so its files keep the same bytes. `engagement
provenance FILE` finds a file's event (by its path, else by its content) and says whether the file
is still the one published.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipelines.lake import state as lake

FOLDER = "lineage"
NAMESPACE = "chat-engagement"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
FACETS = "https://chat-engagement.invalid/spec/facets/1-0-0/"  # our own facets' schema names

_job: list[str] = []  # the job running in this process (its tasks' threads publish for it)


@contextlib.contextmanager
def running(job: str) -> Iterator[None]:
    """Name the job whose outputs this process publishes (nightly, backfill, send, report)."""
    _job.append(job)
    try:
        yield
    finally:
        _job.pop()


def job_name() -> str:
    return _job[-1] if _job else "publish"


def snapshot_id(root: Path) -> str:
    """The lake snapshot's id: the sha256 of its state file (which names each partition by content)."""
    from pipelines.lake.layout import STATE_FILE

    return hashlib.sha256((root / STATE_FILE).read_bytes()).hexdigest()


def run_id(job: str, snapshot: str, end: dt.date | None) -> str:
    """The run that publishes the week ending `end` (None: the index) from `snapshot` as `job`."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{NAMESPACE}/{job}/{snapshot}/{end or 'index'}"))


def stands_on(root: Path, first: dt.date | None = None, last: dt.date | None = None) -> dict[str, Any]:
    """What the numbers of first..last (None: every day) stand on: the lake's snapshot and the export
    files whose stored documents reach those days (a file whose days the manifest does not know,
    an older manifest's or another collection's, is counted in)."""
    from pipelines.lake.manifest import read_manifest

    low, high = (first.isoformat() if first else ""), (last.isoformat() if last else "9999-12-31")
    exports = [entry for entry in read_manifest(root).entries if entry.stored and _reaches(entry, low, high)]
    return {
        "lake": str(root.resolve()),
        "zone": lake.read_state(root).zone,
        "snapshot": snapshot_id(root),
        "exports": [
            {"path": e.path, "sha256": e.sha256, "ingested_at": e.ingested_at, "stored": e.stored} for e in exports
        ],
        "newest_ingest": max((e.ingested_at for e in exports), default=None),
    }


def _reaches(entry, low: str, high: str) -> bool:
    """Whether a manifest entry's documents reach low..high (unknown days: counted in)."""
    if entry.first_day is None or entry.last_day is None:
        return True
    return entry.first_day <= high and entry.last_day >= low


def line(provenance: dict[str, Any], run: str | None = None) -> str:
    """'from 2 exports, the newest ingested 2023-05-20 02:30 UTC · lake snapshot 1a2b3c4d5e6f · run …'"""
    count = len(provenance["exports"])
    newest = provenance["newest_ingest"]
    when = f", the newest ingested {_minute(newest)}" if newest else ""
    text = f"from {count} export{'s' * (count != 1)}{when} · lake snapshot {provenance['snapshot'][:12]}"
    return text + (f" · run {run}" if run else "")


def _minute(iso: str) -> str:
    from pipelines import clock

    return clock.instant(iso).astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def where(out: Path, path: Path) -> Path:
    """The lineage file of the published `path`: OUT/lineage/<its folder's name>/<its name>.json."""
    return out / FOLDER / path.parent.name / f"{path.name}.json"


def record(out: Path, path: Path, data: bytes, provenance: dict[str, Any], kind: str, end: dt.date | None) -> Path:
    """Write the run event of the published file `path` (its bytes `data`) beside the outputs. Called
    when the file is written (or has no event yet: publish/outputs.py), so a rerun that writes no
    file writes no event either."""
    job = job_name()
    run = run_id(job, provenance["snapshot"], end)
    event = run_event(path, hashlib.sha256(data).hexdigest(), len(data), provenance, job, kind, run, end)
    target = where(out, path)
    _write(target, event)
    return target


def _write(target: Path, event: dict[str, Any]) -> None:
    """An event's file, written beside, then renamed."""
    from pipelines.files import atomic_write_bytes

    atomic_write_bytes(target, (json.dumps(event, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def amend(out: Path, path: Path, data: bytes, by: str) -> None:
    """After `by` (engagement forget) rewrote a published file in place: its event names its new bytes,
    and says what changed them (the numbers, and what they stand on, are the same)."""
    from pipelines import clock

    target = where(out, path)
    try:
        event = json.loads(target.read_text(encoding="utf-8"))
        output = event["outputs"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return  # no event (a file published before lineage): nothing to amend
    output["facets"]["version"]["datasetVersion"] = hashlib.sha256(data).hexdigest()
    output.setdefault("outputFacets", {}).setdefault("outputStatistics", {})["size"] = len(data)
    event["run"]["facets"]["engagement_amended"] = {
        "_producer": event["producer"],
        "_schemaURL": FACETS + "EngagementAmendedRunFacet.json",
        "by": by,
        "at": clock.now_iso(),
    }
    _write(target, event)


def run_event(
    path: Path, digest: str, size: int, provenance: dict[str, Any], job: str, kind: str, run: str, end: dt.date | None
) -> dict[str, Any]:
    """The OpenLineage RunEvent (COMPLETE) of one published file, as a JSON-ready dict."""
    from openlineage.client import event_v2
    from openlineage.client.facet_v2 import (
        dataset_version_dataset,
        execution_parameters_run,
        job_type_job,
        output_statistics_output_dataset,
        processing_engine_run,
    )
    from openlineage.client.serde import Serde

    from pipelines import clock

    producer = f"urn:{NAMESPACE}:{_version()}"
    inputs = [
        event_v2.InputDataset(
            namespace="file",
            name=e["path"],
            facets={
                "version": dataset_version_dataset.DatasetVersionDatasetFacet(e["sha256"] or "", producer=producer)
            },
        )
        for e in provenance["exports"]
    ]
    inputs.append(
        event_v2.InputDataset(
            namespace="file",
            name=provenance["lake"],
            facets={
                "version": dataset_version_dataset.DatasetVersionDatasetFacet(provenance["snapshot"], producer=producer)
            },
        )
    )
    parameters = [
        execution_parameters_run.ExecutionParameter(key=key, value=str(value), name=key)
        for key, value in _parameters(provenance, end).items()
    ]
    event = event_v2.RunEvent(
        eventType=event_v2.RunState.COMPLETE,
        eventTime=clock.now_iso(),
        producer=producer,
        run=event_v2.Run(
            runId=run,
            facets={
                "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
                    version=_version(), name=NAMESPACE, openlineageAdapterVersion=_client_version(), producer=producer
                ),
                "executionParameters": execution_parameters_run.ExecutionParametersRunFacet(
                    parameters=parameters, producer=producer
                ),
            },
        ),
        job=event_v2.Job(
            namespace=NAMESPACE,
            name=f"{job}.{kind}",
            facets={
                "jobType": job_type_job.JobTypeJobFacet(
                    processingType="BATCH", integration="CHAT_ENGAGEMENT", jobType=job.upper(), producer=producer
                )
            },
        ),
        inputs=inputs,
        outputs=[
            event_v2.OutputDataset(
                namespace="file",
                name=str(path.resolve()),
                facets={"version": dataset_version_dataset.DatasetVersionDatasetFacet(digest, producer=producer)},
                outputFacets={
                    "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                        size=size, fileCount=1, producer=producer
                    )
                },
            )
        ],
    )
    body = json.loads(Serde.to_json(event))
    body["schemaURL"] = SCHEMA
    body["job"]["facets"]["engagement_sql"] = {
        "_producer": producer,
        "_schemaURL": FACETS + "EngagementSqlJobFacet.json",
        "files": _sql_files(),
    }
    return body


def _parameters(provenance: dict[str, Any], end: dt.date | None) -> dict[str, Any]:
    """The settings that change numbers, and the week."""
    from pipelines.metrics.messages import fill_day
    from pipelines.settings import load_settings
    from pipelines.timeparse import duration_label

    settings = load_settings()
    return {
        "week_end": end.isoformat() if end else "every week",
        "zone": provenance["zone"],
        "freshness_warn": duration_label(settings.freshness_warn),
        "freshness_error": duration_label(settings.freshness_error),
        "messages_fill_day": fill_day(),
    }


def _sql_files() -> list[dict[str, str]]:
    """The SQL files the run had read when the file was written (the macros every connection runs too)."""
    from pipelines.sql import QUERIES, queries_read

    names = sorted({*queries_read(), *(f"macros/{p.stem}" for p in (QUERIES / "macros").glob("*.sql")), "session"})
    return [
        {"name": f"{name}.sql", "sha256": hashlib.sha256((QUERIES / f"{name}.sql").read_bytes()).hexdigest()}
        for name in names
    ]


def _version() -> str:
    from pipelines import __version__

    return __version__


def _client_version() -> str:
    from importlib.metadata import version

    return version("openlineage-python")


# --- engagement provenance FILE ---


def file_sha256(path: Path) -> str:
    """A file's sha256, read in pieces (a file in hand may be big)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def events(out: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every run event under OUT/lineage (unreadable ones left out)."""
    found = []
    for path in sorted((out / FOLDER).glob("*/*.json")):
        with contextlib.suppress(OSError, ValueError):
            event = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(event, dict) and event.get("outputs"):
                found.append((path, event))
    return found


def provenance_of(out: Path, path: Path) -> tuple[str, dict[str, Any] | None]:
    """('published' | 'copy' | 'changed' | 'unknown', the event): `path` is the file an event names
    with the same bytes, a copy of a published file (same bytes, elsewhere), that file changed since,
    or no published file at all."""
    digest = file_sha256(path)
    name = str(path.resolve())
    by_name, by_content = None, None
    for _, event in events(out):
        output = event["outputs"][0]
        published = output.get("facets", {}).get("version", {}).get("datasetVersion")
        if output.get("name") == name:
            by_name = event
        if published == digest and by_content is None:
            by_content = event
    if by_name is not None:
        same = by_name["outputs"][0]["facets"]["version"]["datasetVersion"] == digest
        return ("published" if same else "changed"), by_name
    if by_content is not None:
        return "copy", by_content
    return "unknown", None


def describe(path: Path, verdict: str, event: dict[str, Any] | None, out: Path) -> list[str]:
    """What `engagement provenance` prints (text)."""
    digest = file_sha256(path)
    if event is None:
        return [
            f"{path}: no run event in {out / FOLDER} names this file or its content (sha256 {digest}): "
            "it is not a file this tool published there (another --out?)"
        ]
    output = event["outputs"][0]
    published = output["facets"]["version"]["datasetVersion"]
    first = {
        "published": f"{path}: the file published by run {event['run']['runId']} (sha256 {digest})",
        "copy": f"{path}: a copy of {output['name']}, published by run {event['run']['runId']} (sha256 {digest})",
        "changed": f"{path}: CHANGED since run {event['run']['runId']} published it: sha256 {digest} now, {published} then",
    }[verdict]
    parameters = {p["key"]: p["value"] for p in event["run"]["facets"]["executionParameters"]["parameters"]}
    *exports, lake_input = event["inputs"]  # the exports, then the lake
    lines = [
        first,
        f"job: {event['job']['namespace']} {event['job']['name']}, at {event['eventTime']}, "
        f"code {event['run']['facets']['processing_engine']['name']} {event['run']['facets']['processing_engine']['version']}",
        f"lake: {lake_input['name']}, snapshot {lake_input['facets']['version']['datasetVersion']}",
        "settings: " + ", ".join(f"{k} {v}" for k, v in parameters.items()),
        f"exports ({len(exports)}):",
    ]
    lines += [f"  {e['name']}  sha256 {e['facets']['version']['datasetVersion'] or '(not recorded)'}" for e in exports]
    sql = event["job"]["facets"].get("engagement_sql", {}).get("files", [])
    lines.append(f"sql: {len(sql)} files read (each by name and sha256: --format json)")
    return lines
