"""`engagement status`: the lake's health at a glance, and `--check` for cron or monitoring.

What the lake holds (zone, days, documents, size), the days with raw sessions or only Rocket.Chat's
rollups, gaps (days with nothing between days with data), the last ingest, outputs whose 8 days
changed after they were written, and the last nightly run (the run ledger, runs.LEDGER).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pipelines import clock
from pipelines.lake import state as lake
from pipelines.lake.forgetting import forgotten_counts
from pipelines.lake.freshness import freshness, freshness_report, stale_line
from pipelines.lake.layout import LOGINS
from pipelines.lake.manifest import read_manifest
from pipelines.lake.snapshot import over_views
from pipelines.publish.outputs import stale_outputs
from pipelines.runs import read_runs
from pipelines.sql import query
from pipelines.timeparse import keep_label

NIGHTLY_EVERY = dt.timedelta(hours=36)  # --check: a nightly run older than this is missing
WARN_AFTER, ERROR_AFTER = dt.timedelta(hours=26), dt.timedelta(hours=50)  # the settings' defaults


def _ranges(days: list[dt.date]) -> list[list[str]]:
    """Consecutive dates as [first, last] ranges."""
    out: list[list[str]] = []
    for day in days:
        if out and dt.date.fromisoformat(out[-1][1]) + dt.timedelta(days=1) == day:
            out[-1][1] = day.isoformat()
        else:
            out.append([day.isoformat(), day.isoformat()])
    return out


def _gaps(held: list[dt.date]) -> list[dt.date]:
    """Days without data between the first and the last day with data."""
    have = set(held)
    gaps = []
    for before, after in zip(held, held[1:]):
        day = before + dt.timedelta(days=1)
        while day < after:
            if day not in have:
                gaps.append(day)
            day += dt.timedelta(days=1)
    return gaps


def _last_ingest(root: Path, con) -> dict[str, Any] | None:
    entries = read_manifest(root).entries
    if not entries:
        return None
    when = max(e.ingested_at for e in entries)
    files = [e for e in entries if e.ingested_at == when]
    from pipelines.metrics.lakesql import rejects_view

    rejects_view(con, root)
    paths = [e.path for e in files]
    reasons = con.execute(query("lake/rejects_by_reason"), {"files": paths}).fetchall()
    return {
        "at": when,
        "files": paths,
        "documents": sum(e.documents for e in files),
        "stored": sum(e.stored for e in files),
        "rejected": sum(e.rejected for e in files),
        "rejects_by_reason": dict(reasons),
    }


def status(
    root: Path,
    out: Path,
    now: dt.datetime | None = None,
    warn: dt.timedelta = WARN_AFTER,
    error: dt.timedelta = ERROR_AFTER,
    keep_raw: dt.timedelta | None = None,
) -> dict[str, Any]:
    """The lake's health as a dict (what --json prints), with `problems` (what --check reports and
    exits 1 for) and `warnings` (what it reports without failing). `warn`, `error`: the freshness
    thresholds (ENGAGEMENT_FRESHNESS_WARN, _ERROR); `keep_raw`: the retention (ENGAGEMENT_KEEP_RAW)."""
    from zoneinfo import ZoneInfo

    now = now or clock.now()

    def work(con, state: lake.LakeState) -> dict[str, Any]:
        days = con.execute(query("lake/days")).fetchall()
        # a pruned day keeps only its rollups (ingest/prune.py): held, with no raw document left
        pruned = [dt.date.fromisoformat(d) for d in state.files.get(LOGINS, {})]
        days = sorted([*days, *((d, 0, 0, 0) for d in pruned)])
        gaps = _gaps([d for d, *_ in days])
        report = _report(root, out, state, days, gaps, con)
        report["raw_data"] = _raw_data(state, keep_raw)
        report["freshness"] = freshness_report(freshness(root, state), now, warn, error)
        report["problems"] = _problems(report, gaps, now.astimezone(ZoneInfo(state.zone)).date(), now)
        report["warnings"] = [stale_line(report["freshness"])] if report["freshness"]["level"] == "warn" else []
        return report

    return over_views(root, work)


def _report(root: Path, out: Path, state: lake.LakeState, days: list[tuple], gaps: list[dt.date], con) -> dict:
    held = [d for d, *_ in days]
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    runs = read_runs(root)
    return {
        "lake": str(root),
        "zone": state.tz,
        "first_day": held[0].isoformat() if held else None,
        "last_day": held[-1].isoformat() if held else None,
        "documents": sum(n for _, n, _, _ in days),
        "bytes": size,
        "days_with_sessions": len([d for d, _, sessions, _ in days if sessions]),
        "days_with_rollups_only": _ranges([d for d, _, sessions, rollups in days if rollups and not sessions]),
        "gaps": _ranges(gaps),
        "new_users": _registrations(root, state),
        "message_days": _message_days(state),
        "last_ingest": _last_ingest(root, con),
        "stale_outputs": stale_outputs(out, state),
        "last_nightly": runs[-1] if runs else None,
        "forgotten": forgotten_counts(root, state),
    }


def _raw_data(state: lake.LakeState, keep: dt.timedelta | None) -> dict[str, Any]:
    """The retention (ENGAGEMENT_KEEP_RAW, None: keep everything), the last date whose raw rows are
    pruned, how many dates are, and when the last prune ran (ingest/prune.py)."""
    return {
        "keep_days": keep.days if keep is not None else None,
        "pruned_through": state.pruned_through,
        "pruned_days": len(state.files.get(LOGINS, {})),
        "last_pruned_at": state.pruned[-1]["at"] if state.pruned else None,
    }


def _registrations(root: Path, state: lake.LakeState) -> dict[str, int]:
    """Rows of the new-users tables (pipelines/ingest/registrations.py): analytics documents, accounts."""
    import pyarrow.parquet as pq

    return {
        name: pq.ParquetFile(path).metadata.num_rows if (path := state.registration(root, name)) else 0
        for name in lake.REGISTRATIONS
    }


def _message_days(state: lake.LakeState) -> dict[str, Any]:
    """The days the lake holds rocketchat_message rollups for (pipelines/ingest/messages.py)."""
    held = sorted(state.files.get("room_daily", {}))
    return {"days": len(held), "first": held[0] if held else None, "last": held[-1] if held else None}


def _problems(report: dict[str, Any], gaps: list[dt.date], today: dt.date, now: dt.datetime) -> list[str]:
    problems = []
    if report["freshness"]["level"] == "error":
        problems.append(stale_line(report["freshness"]))
    last = report["last_nightly"]
    if last is None:
        problems.append("no nightly run is recorded in this lake")
    else:
        if last["status"] != "succeeded":
            why = f": {last['error']}" if last.get("error") else ""
            problems.append(f"the last nightly run ({last['started']}) failed at step '{last['failed_step']}'{why}")
        ended = dt.datetime.fromisoformat(last["ended"])
        if now - ended > NIGHTLY_EVERY:
            problems.append(f"no nightly run since {last['ended']} (more than 36 hours)")
    recent = [d for d in gaps if today - dt.timedelta(days=7) <= d < today]
    for day in recent:
        problems.append(f"no data for {day.isoformat()}, while the days around it have data (a missing export?)")
    for name in report["stale_outputs"]:
        end = name.split("/")[-1].split(".")[0]
        problems.append(
            f"{name} is stale: its 8 days changed after it was written "
            f"(`engagement backfill --from {end} --to {end}` writes it again)"
        )
    return problems


def as_text(report: dict[str, Any]) -> str:
    """The report for a person."""

    def spans(ranges: list[list[str]]) -> str:
        return ", ".join(a if a == b else f"{a} .. {b}" for a, b in ranges) or "none"

    lines = [
        f"lake: {report['lake']} (days in {report['zone'] or 'UTC'})",
        f"days: {report['first_day'] or '-'} .. {report['last_day'] or '-'}; "
        f"{report['documents']:,} documents, {report['bytes'] / 1e6:,.1f} MB on disk",
        f"days with raw sessions: {report['days_with_sessions']}; "
        f"with only Rocket.Chat's rollups: {spans(report['days_with_rollups_only'])}",
        f"gaps (no data between days with data): {spans(report['gaps'])}",
    ]
    held = report["new_users"]
    if any(held.values()):
        source = "its analytics" if held["analytics"] else "the accounts' createdAt"
        lines.append(
            f"new users: {held['analytics']:,} analytics documents, {held['users']:,} accounts "
            f"(new-users counts from {source})"
        )
    if held["messages"] or held["rooms"] or report["message_days"]["days"]:
        days = report["message_days"]
        span = f" ({days['first']} .. {days['last']})" if days["days"] else ""
        lines.append(
            f"messages: {held['messages']:,} analytics documents, {held['rooms']:,} rooms; "
            f"rocketchat_message on {days['days']:,} days{span} (for days without analytics)"
        )
    ingest = report["last_ingest"]
    if ingest:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(ingest["rejects_by_reason"].items())) or "none"
        lines.append(
            f"last ingest: {ingest['at']}, {len(ingest['files'])} file(s), {ingest['documents']:,} documents, "
            f"{ingest['rejected']:,} rejected ({reasons})"
        )
    else:
        lines.append("last ingest: none recorded")
    fresh = report["freshness"]
    if fresh["newest_activity"]:
        lines.append(
            f"data through: {fresh['loaded_through'] or '-'} (newest activity {fresh['newest_activity']}, "
            f"{fresh['age']} old; ingested {fresh['ingested_at']}; warn after {fresh['warn_after']}, "
            f"error after {fresh['error_after']})"
        )
    lines.append(f"stale outputs: {', '.join(report['stale_outputs']) or 'none'}")
    raw = report["raw_data"]
    keep = (
        f"{keep_label(dt.timedelta(days=raw['keep_days']))} (ENGAGEMENT_KEEP_RAW)"
        if raw["keep_days"] is not None
        else "everything"
    )
    pruned = (
        f"pruned through {raw['pruned_through']} ({raw['pruned_days']:,} days keep only their rollups; "
        f"last prune {raw['last_pruned_at']})"
        if raw["pruned_through"]
        else "nothing pruned"
    )
    lines.append(f"raw data kept: {keep}; {pruned}")
    gone = report["forgotten"]
    lines.append(f"forgotten: {gone['user_ids']} user id(s), {gone['usernames']} username(s) (engagement forget)")
    night = report["last_nightly"]
    if night:
        how = "succeeded" if night["status"] == "succeeded" else f"failed at step '{night['failed_step']}'"
        lines.append(f"last nightly run: {night['started']} .. {night['ended']}, {how}")
    else:
        lines.append("last nightly run: none recorded")
    lines += [f"warning: {w}" for w in report["warnings"]]
    lines += [f"problem: {p}" for p in report["problems"]] or ["problems: none"]
    return "\n".join(lines) + "\n"
