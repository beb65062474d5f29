"""Prefect flows: the nightly run and backfills, thin over the plain functions.

The nightly's decisions (steps, order, locks, which week) are `runs.nightly_run`; here its steps
become tasks. Only the I/O step that reads the outside world (the inbox) retries, in Prefect;
sending mail retries inside mail.send. A run that fails raises, and
the command line says which step failed. Importing this module imports Prefect: only the
commands that run a flow do.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import replace

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from pipelines import clock, runs
from pipelines.errors import UserError
from pipelines.ingest import load
from pipelines.ingest.run import console_lines, ingest_with
from pipelines.lake.state import require_lake
from pipelines.metrics.daily import daily
from pipelines.publish import outputs
from pipelines.publish.lineage import running
from pipelines.settings import Settings, load_settings


def _worth_retrying(task, task_run, state) -> bool:
    """Retry what may pass a second time (a file system hiccup), not a bad input file."""
    try:
        state.result()
    except UserError:
        return False
    except Exception:
        return True
    return True


ingest_inbox = task(
    runs.ingest_inbox,
    name="ingest the inbox",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=_worth_retrying,
)
# mail.send retries with backoff itself: the task does not retry on top of it
send_report = task(runs.send_report, name="send report")
send_corrections = task(runs.send_corrections, name="send corrections")
publish_week = task(runs.publish_week, name="publish week")
# a backfill's weeks go to at most this many tasks (a task run costs Prefect ~60 ms), one per core:
# the tasks are threads, and more of them than cores fight over the GIL (8 on 2 cores: 7.8 s for a
# year's weeks on the scale lake, 2: 5.3 s; docs/benchmarks.md)
BACKFILL_TASKS = min(8, os.cpu_count() or 2)


@task(name="publish weeks")
def publish_weeks(
    settings: Settings, ends: list[dt.date], force: bool, coming: list[dt.date]
) -> list[outputs.WeekOutput]:
    """A backfill's share of end dates, published one after another (the index is written once, after;
    each page links at once to the backfill's other weeks, `coming`)."""
    return [runs.publish_week(settings, end, force, False, frozenset(coming)) for end in ends]


@task(name="stage file", retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=_worth_retrying)
def stage_one_file(job: load.StageJob):
    """Map step: one input file read and staged (on whichever worker the task runner picks)."""
    return load.stage_file(job)


@flow(name="engagement-ingest")
def ingest_files(paths: list[str], settings: Settings | None = None, force: bool = False) -> list[str]:
    """Ingest files as map (each file staged, in parallel) then reduce (each touched day merged).

    Runs on the flow's task runner: the default one locally, or DaskTaskRunner on a cluster whose
    workers share the lake's storage. Gives the same lake as `engagement ingest`. Without
    `settings`, the environment's (ENGAGEMENT_*) when the run starts.
    """

    def stage_map(jobs: list[load.StageJob]) -> list:
        return [future.result() for future in stage_one_file.map(jobs)]

    return ingest_with(settings or load_settings(), paths, force=force, stage_map=stage_map).lines()


def _summary_markdown(result: runs.NightlyResult) -> str:
    lines = ["# Nightly run", "", *[f"- {line}" for line in result.summary], "", "## Outputs", ""]
    partial = f" (partial: {result.loaded_days} of 8 days loaded)" if result.loaded_days < 8 else ""
    lines += [f"- `{result.week.path}`: {'written' if result.week.written else 'unchanged'}{partial}"]
    lines += [f"- correction mailed ({c.via}): {c.subject}" for c in result.corrections]
    return "\n".join(lines) + "\n"


@flow(name="engagement-nightly")
def nightly(settings: Settings | None = None, run_date: dt.date | None = None, dask_address: str | None = None) -> dict:
    """Ingest new files, then publish the week ending on the last complete day (or `run_date`).

    Without `settings` (a scheduled run), the environment's (ENGAGEMENT_*) when the run starts. With
    `dask_address`, the ingest runs as a map/reduce subflow on that Dask cluster.
    """
    settings = settings or load_settings()
    logger = get_run_logger()
    steps = runs.Steps(ingest=ingest_inbox, publish=publish_week, send=send_report, correct=send_corrections)
    if dask_address:
        from prefect_dask import DaskTaskRunner

        on_cluster = ingest_files.with_options(task_runner=DaskTaskRunner(address=dask_address))

        def ingest_on_cluster(settings: Settings) -> list[str]:
            return on_cluster([str(settings.inbox)], settings)

        steps = replace(steps, ingest=ingest_on_cluster)
    result = runs.nightly_run(settings, run_date, clock.now(), steps)
    end, week = result.end, result.week
    done, rejected = console_lines(result.summary)
    logger.info(done)
    if rejected is not None:
        logger.warning(rejected)
    for line in result.summary:
        if line.startswith("warning: "):
            logger.warning(line.removeprefix("warning: "))
    if week.written:
        logger.info("week ending %s: wrote %s and its page", end, week.path)
    else:
        logger.info("week ending %s: unchanged, its 8 days as when written (%s)", end, week.path)
    for correction in result.corrections:
        logger.info("correction of the week ending %s: %s (%s)", correction.end, correction.subject, correction.via)
    partial = f" (partial: {result.loaded_days} of 8 days loaded)" if result.loaded_days < 8 else ""
    create_table_artifact(
        key="weekly-data",
        table=[
            {"date": f"{i['year']}-{i['month']:02d}-{i['day']:02d}", "users": i["users"]} for i in week.body["month"]
        ],
        description=f"Active users per day, week ending {end.isoformat()}{partial}",
    )
    create_markdown_artifact(key="nightly-summary", markdown=_summary_markdown(result))
    return result.as_dict()


@flow(name="engagement-backfill")
def backfill(
    first: dt.date, last: dt.date, settings: Settings | None = None, every: str = "day", force: bool = False
) -> list[dict]:
    """Publish the weekly-data output of every end date in [first, last] whose inputs changed, in at
    most BACKFILL_TASKS parallel tasks (with the environment's settings unless `settings`)."""
    settings = settings or load_settings()
    state = require_lake(settings.lake)
    ends = outputs.end_dates(first, last, every)
    daily(settings.lake, state)  # the snapshot's daily history, once, before the tasks share it
    with outputs.publishing(settings.out), running("backfill"):
        # a task only for the weeks whose inputs changed: a rerun with nothing to do runs no task
        todo = [end for end in ends if force or not outputs.up_to_date(settings.out, state, end)]
        # in a few tasks, not one per end date: Prefect's bookkeeping of 52 task runs cost 3 s
        size = -(-len(todo) // BACKFILL_TASKS) or 1
        shares = [todo[i : i + size] for i in range(0, len(todo), size)]
        futures = publish_weeks.map(unmapped(settings), shares, unmapped(force), unmapped(ends)) if shares else []
        done = {week.end: week for future in futures for week in future.result()}
        weeks = [done.get(end) or outputs.unchanged_week(settings.out, end) for end in ends]
        outputs.write_index(settings.out, settings.lake)  # once, after the parallel tasks: it lists them all
    runs.write_metrics(settings)
    written = sum(w.written for w in weeks)
    create_markdown_artifact(
        key="backfill-summary",
        markdown=f"# Backfill {first} .. {last} (every {every})\n\n{len(weeks)} end dates, {written} written, "
        f"{len(weeks) - written} unchanged.\n",
    )
    return [{"end": w.end.isoformat(), "path": str(w.path), "written": w.written} for w in weeks]


def nightly_schedule(cron: str, timezone: str):
    """The nightly deployment's schedule: a cron in an explicit zone (so 02:30 means 02:30 there)."""
    from prefect.schedules import Cron

    try:
        return Cron(cron, timezone=timezone)
    except ValueError:
        raise UserError(f"{cron!r} is not a cron expression: give five fields, e.g. '30 2 * * *'", "cron") from None


def nightly_deployment(cron: str, timezone: str):
    """The nightly deployment: the flow with no parameters (each run publishes yesterday's week, in the
    lake's zone), on a cron schedule in an explicit time zone."""
    schedule = nightly_schedule(cron, timezone)  # a bad cron is the user's mistake, said before serving
    return nightly.to_deployment(name="nightly", schedules=[schedule])


def serve_nightly(cron: str, timezone: str) -> None:
    """Serve the nightly deployment on its schedule (runs until stopped; needs a Prefect server)."""
    from prefect import serve

    serve(nightly_deployment(cron, timezone))
