"""The nightly run's decisions, as plain functions (no Prefect): which steps, in which order, under
which lock, for which week. `flows.py` runs the same steps as Prefect tasks; tests and other
orchestrators can call them directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from pipelines import clock
from pipelines.ingest.run import ingest_with
from pipelines.lake.layout import NIGHTLY_LOCK
from pipelines.lake.layout import RUNS_LEDGER as LEDGER
from pipelines.lake.ledger import read_runs
from pipelines.lake.locks import exclusive
from pipelines.publish import outputs
from pipelines.settings import MailSettings, Settings, resolve


class StepFailed(RuntimeError):
    """A run's step failed: which one, and why."""

    def __init__(self, step: str, error: BaseException):
        super().__init__(f"step '{step}' failed: {error}")
        self.step = step


def ingest_inbox(settings: Settings) -> list[str]:
    """Take the inbox's new files into the lake; the summary's lines. A missing inbox is an error."""
    from pipelines.inputs.readers import require_inbox

    return ingest_with(settings, [require_inbox(settings.inbox)]).lines()


def prune_raw(settings: Settings, now: dt.datetime) -> list[str]:
    """Drop the lake's raw rows older than ENGAGEMENT_KEEP_RAW before `now` (ingest/prune.py); the
    summary's lines."""
    from pipelines.ingest.prune import prune

    assert settings.keep_raw is not None
    return prune(settings.lake, settings.keep_raw, now).lines()


class StaleData(RuntimeError):
    """The lake's newest activity is older than the error threshold: nothing is published."""


def check_freshness(
    settings: Settings, run_date: dt.date | None, now: dt.datetime, end: dt.date | None = None
) -> dict[str, Any]:
    """How fresh the lake is for this run (lake/freshness.py), measured at `now`, or for a
    rerun of a past week (`run_date`) at the end of that day: a StaleData past the error threshold,
    or when no day of the week ending `end` is loaded (its zeros are not published or mailed)."""
    from pipelines.lake.freshness import day_end, freshness, freshness_report, stale_line
    from pipelines.metrics.weekly import window

    fresh = freshness(settings.lake)
    at = min(now, day_end(run_date, fresh.zone)) if run_date is not None else now
    report = freshness_report(fresh, at, settings.freshness_warn, settings.freshness_error)
    if fresh.newest_day is None:
        raise StaleData(f"the lake {settings.lake} holds no data: nothing to publish (is the inbox fed?)")
    if report["level"] == "error":
        raise StaleData(f"{stale_line(report)}: no new export since; nothing published or mailed")
    if end is not None and (empty := fresh.no_loaded_day(*window(end))):
        raise StaleData(f"{empty}: the week ending {end} is not published or mailed")
    return report


def publish_week(
    settings: Settings, end: dt.date, force: bool = False, index: bool = True, coming: Collection[dt.date] = ()
) -> outputs.WeekOutput:
    """Write the week's weekly-data JSON and HTML report (skipped when its 8 days did not change), then
    the index of weeks (unless `index` is False: a backfill writes it once, after every week).
    `coming`: the other weeks the run publishes (its page links to them at once)."""
    week = outputs.write_week(settings.lake, settings.out, end, force)
    outputs.write_report(settings.lake, settings.out, end, force, coming)
    if index:
        outputs.write_index(settings.out, settings.lake)
    return week


def send_report(settings: Settings, end: dt.date):
    """Mail the week's report (mail.send retries with backoff; a final failure raises, files stay)."""
    from pipelines.publish import mail, report

    context = report.week_context(settings.lake, end)
    return mail.send_week(context, settings.out, settings.outbox, resolve(MailSettings))


def send_corrections(settings: Settings, end: dt.date) -> list:
    """For each week mailed in the last ENGAGEMENT_CORRECTION_WEEKS weeks up to `end` whose numbers
    changed since: its outputs published again (its page saying what was corrected) and one
    correction mailed (publish/mail.py). The corrections made."""
    from pipelines.publish import mail, report

    smtp = resolve(MailSettings)
    oldest = end - dt.timedelta(days=7 * smtp.correction_weeks)
    ends = sorted({e["end"] for e in mail.mailed(settings.out) if oldest.isoformat() <= e["end"] <= end.isoformat()})
    why = mail.why_corrected(settings.lake)
    made = []
    for iso in ends:
        day = dt.date.fromisoformat(iso)
        correction = mail.correct_week(
            report.week_context(settings.lake, day), settings.out, settings.outbox, smtp, why
        )
        if correction is not None:
            publish_week(settings, day, index=False)  # its JSON and page, the page with the correction
            made.append(correction)
    if made:
        outputs.write_index(settings.out, settings.lake)
    return made


@dataclass(frozen=True)
class Steps:
    """How each step is run: the plain functions above, or the flow's tasks wrapping them."""

    ingest: Callable[[Settings], list[str]] = ingest_inbox
    publish: Callable[[Settings, dt.date], outputs.WeekOutput] = publish_week
    send: Callable[[Settings, dt.date], Any] = send_report
    correct: Callable[[Settings, dt.date], list] = send_corrections


@dataclass(frozen=True)
class NightlyResult:
    summary: list[str]
    end: dt.date
    week: outputs.WeekOutput
    delivery: Any
    corrections: list = field(default_factory=list)
    loaded_days: int = 8

    def as_dict(self) -> dict:
        """What the command prints."""
        return {
            "end": self.end.isoformat(),
            "path": str(self.week.path),
            "written": self.week.written,
            "delivery": self.delivery.via,
            "loaded_days": self.loaded_days,
            "corrections": [{"end": c.end, "via": c.via, "subject": c.subject} for c in self.corrections],
            "body": self.week.body,
        }


def _step(name: str, call: Callable, *args: Any) -> Any:
    """Run a step; if it fails (after whatever retries it has), say which step it was."""
    try:
        return call(*args)
    except Exception as exc:
        raise StepFailed(name, exc) from exc


def nightly_run(
    settings: Settings, run_date: dt.date | None, now: dt.datetime, steps: Steps = Steps()
) -> NightlyResult:
    """Under the nightly lock: ingest the inbox; then, under the outputs' lock, publish and mail the week
    ending `run_date`, else the last complete day before `now` in the lake's zone. Each run, done or
    failed, is a line of the lake's run ledger."""
    from pipelines.publish.lineage import running

    with exclusive(settings.lake, NIGHTLY_LOCK, wait=False), running("nightly"):
        record: dict[str, Any] = {"started": _now(), "status": "failed", "failed_step": None, "ingest": []}
        try:
            known = _ingested(settings)
            summary = _step("ingest the inbox", steps.ingest, settings)
            if settings.keep_raw is not None:  # ENGAGEMENT_KEEP_RAW: raw rows age out, the counts stay
                summary = [*summary, *_step("prune raw data", prune_raw, settings, now)]
            record["ingest"] = summary
            record["new_files"] = len(_ingested(settings) - known)  # 0: no new export arrived for the night
            end = outputs.nightly_end(settings.lake, settings.tz, settings.tz_explicit, run_date, now)
            record["week"] = end.isoformat()
            fresh = _step("check freshness", check_freshness, settings, run_date, now, end)
            record["freshness"] = fresh
            if fresh["level"] == "warn":
                from pipelines.lake.freshness import stale_line

                summary = [*summary, f"warning: {stale_line(fresh)}"]
            with outputs.publishing(settings.out, settings.outbox):
                week = _step("publish week", steps.publish, settings, end)
                record["outputs"] = {str(week.path): "written" if week.written else "unchanged"}
                delivery = _step("send report", steps.send, settings, end)
                record["delivery"] = delivery.via
                corrections = _step("send corrections", steps.correct, settings, end)
                record["corrections"] = [c.end for c in corrections]
            record["status"] = "succeeded"
            loaded = _loaded_days(settings, end)
            record["loaded_days"] = loaded
            return NightlyResult(summary, end, week, delivery, corrections, loaded)
        except StepFailed as exc:
            record["failed_step"], record["error"] = exc.step, str(exc.__cause__ or exc)
            raise
        finally:
            record["ended"] = _now()
            append_run(settings.lake, record)
            write_metrics(settings)


def write_metrics(settings: Settings) -> None:
    """With ENGAGEMENT_METRICS_TEXTFILE, the lake's metrics there for node_exporter (publish/prometheus.py):
    after every nightly run, failed or not (the last success stays the last run that succeeded). A
    file that cannot be written is said on stderr and fails nothing: the run's own outcome stands,
    and the metrics' age shows in Prometheus (the nightly's alert fires on it)."""
    if settings.metrics_textfile is None:
        return
    import sys

    from pipelines.publish.prometheus import write_textfile

    try:
        write_textfile(settings.lake, settings.metrics_textfile)
    except OSError as exc:
        print(
            f"engagement: cannot write the metrics to {settings.metrics_textfile}: {exc.strerror or exc}",
            file=sys.stderr,
        )


def _loaded_days(settings: Settings, end: dt.date) -> int:
    """How many of the week's 8 days are loaded (lake/freshness.py)."""
    from pipelines.lake.freshness import freshness
    from pipelines.metrics.weekly import window

    return freshness(settings.lake).loaded_days(*window(end))


def _ingested(settings: Settings) -> set[tuple[str, str, str]]:
    """The files the lake's manifest records, each (path, content, when): a run's new ones are the difference."""
    from pipelines.lake.manifest import read_manifest

    return {(e.path, e.content_hash, e.ingested_at) for e in read_manifest(settings.lake).entries}


def _now() -> str:
    return clock.now_iso()


def append_run(root, record: dict) -> None:
    """Add a run to the ledger (the whole file rewritten beside, then renamed: never half a line).
    Call under the nightly lock."""
    import json

    from pipelines.files import atomic_write_bytes, remove_temporaries
    from pipelines.lake.writing import private

    remove_temporaries(root, LEDGER)  # a killed run's; we hold the nightly lock, no other writes it
    lines = [json.dumps(r, sort_keys=False) for r in [*read_runs(root), record]]
    with private(root):  # the lake's own file: its owner's (lake/writing.py's lake_modes)
        atomic_write_bytes(root / LEDGER, ("\n".join(lines) + "\n").encode("utf-8"))
