"""engagement nightly, backfill and schedule: the Prefect flows."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Annotated, Any, Optional

import typer

from pipelines import prefect_runtime
from pipelines.cli.options import Every, Inbox, Lake, OutDir, Zone, _date, command


def _run_flow(command: str, call: Callable[[], Any]) -> int:
    """Run a flow (Prefect's ephemeral server unless PREFECT_API_URL is set); a failure names its step."""
    from pipelines.runs import StepFailed

    try:
        with prefect_runtime.running_flows():
            result = call()
    except StepFailed as exc:
        print(f"engagement {command}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


@command("nightly")
def cmd_nightly(
    date: Annotated[
        Optional[str], typer.Option(metavar="D", help="the week's last day (YYYY-MM-DD); default: yesterday")
    ] = None,
    inbox: Inbox = None,
    out: OutDir = None,
    dask_address: Annotated[
        Optional[str],
        typer.Option(
            metavar="tcp://HOST:PORT",
            help="ingest as map/reduce tasks on this Dask scheduler (its workers must share the lake's storage)",
        ),
    ] = None,
    lake: Lake = None,
    tz: Zone = None,
) -> int:
    """The nightly run (Prefect flow): ingest the inbox, publish the last complete day's week.

    Ingest the inbox's new files, then write out/weekly-data/<date>.json for the week ending on the
    last complete day in the server's zone (or --date). Runs as a Prefect flow, on Prefect's embedded
    server unless PREFECT_API_URL is set.
    """
    from pipelines.inputs.readers import require_inbox
    from pipelines.settings import load_settings

    settings = load_settings(lake, tz, inbox=inbox, out=out)  # a mistake is one line, before Prefect starts
    run_date = _date(date, "--date")
    require_inbox(settings.inbox)
    prefect_runtime.quiet()
    from pipelines.flows import nightly

    return _run_flow("nightly", lambda: nightly(settings, run_date=run_date, dask_address=dask_address))


@command("backfill")
def cmd_backfill(
    first: Annotated[str, typer.Option("--from", metavar="D", help="first end date (YYYY-MM-DD)")],
    last: Annotated[str, typer.Option("--to", metavar="D", help="last end date (YYYY-MM-DD)")],
    every: Annotated[Every, typer.Option(help="every end date, or every 7th")] = Every.day,
    force: Annotated[bool, typer.Option("--force", help="write every output again")] = False,
    out: OutDir = None,
    lake: Lake = None,
) -> int:
    """Publish weekly-data for every end date of a range (Prefect flow, parallel tasks).

    Write out/weekly-data/<date>.json for every end date from --from to --to; an end date whose 8
    days did not change since its output was written is skipped.
    """
    from pipelines.days import check_range
    from pipelines.lake import state as lakes
    from pipelines.metrics.history import span_note
    from pipelines.settings import load_settings

    begin, end = _date(first, "--from"), _date(last, "--to")
    settings = load_settings(lake, out=out)
    state = lakes.require_lake(settings.lake)  # a user's mistake is one line, before Prefect starts
    check_range(begin, end, 7 if every is Every.week else 1, span_note(state), unit="end dates")
    prefect_runtime.quiet()
    from pipelines.flows import backfill

    return _run_flow("backfill", lambda: backfill(begin, end, settings, every=every.value, force=force))


@command("schedule")
def cmd_schedule(
    cron: Annotated[str, typer.Option(help="when to run (default: 02:30 daily)")] = "30 2 * * *",
    tz: Zone = None,
) -> int:
    """Serve the nightly run on a cron schedule (needs a Prefect server; runs until stopped).

    Serves the nightly deployment with a cron schedule in the server's zone (--tz, else
    ENGAGEMENT_TZ, else UTC), so 02:30 means 02:30 there. Start `prefect server start` first and set
    PREFECT_API_URL; or run `engagement nightly` from cron instead. SIGTERM or Ctrl-C stops it.
    """
    from pipelines.settings import load_settings

    zone = load_settings(tz=tz).tz
    prefect_runtime.quiet()
    from pipelines.flows import nightly_schedule, serve_nightly

    nightly_schedule(cron, zone)  # a bad cron is the user's mistake, said before anything starts
    url = prefect_runtime.require_server()
    print(f"serving the nightly run at {cron!r} ({zone}) on the Prefect server at {url}; Ctrl-C stops it", flush=True)
    with prefect_runtime.stopping_quietly():
        serve_nightly(cron, zone)
    print("stopped", file=sys.stderr)
    return 0
