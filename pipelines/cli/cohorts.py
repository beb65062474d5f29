"""engagement retention, lifecycle, stickiness and last-seen: who stays, from the lake's whole history."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from pipelines.cli.options import Format, Lake, OutFile, _date, _existing_lake, command

First = Annotated[str, typer.Option("--from", metavar="D", help="first day (YYYY-MM-DD)")]
Last = Annotated[str, typer.Option("--to", metavar="D", help="last day (YYYY-MM-DD)")]


def _write(table, fmt: str, out: str | None) -> int:
    """Print a view's table; its note (a cut first cohort, a partial last period) on stderr."""
    from pipelines.cli import tables
    from pipelines.metrics.cohorts import note_of

    note = note_of(table)
    tables.write(table.replace_schema_metadata(None), fmt, out)
    if note:
        print(f"note: {note}", file=sys.stderr)
    return 0


@command("retention")
def cmd_retention(
    first: First,
    last: Last,
    every: Annotated[str, typer.Option(metavar="week|month", help="cohorts of ISO weeks or of months")] = "week",
    periods: Annotated[Optional[int], typer.Option(metavar="N", help="at most N periods after each cohort's")] = None,
    fmt: Format = "table",
    out: OutFile = None,
    lake: Lake = None,
) -> int:
    """Retention cohorts: of the users first seen in each week or month, how many come back after.

    A cohort is the users whose first counted day in the lake falls in an ISO week (Monday first) or
    calendar month starting in the range; a row per cohort and period k = 0, 1, ... (up to --periods,
    and to the range's end): cohort_start, cohort_size, period, active (of the cohort, active in its
    period + k), share. A note on stderr says when the lake's first day falls in the first cohort
    (those users may be older than the lake) or the last period is partial.
    """
    from pipelines.cli import tables
    from pipelines.metrics import cohorts

    tables.check_format(fmt, out)
    root = _existing_lake(lake)
    return _write(cohorts.retention(root, _date(first, "--from"), _date(last, "--to"), every, periods), fmt, out)


@command("lifecycle")
def cmd_lifecycle(
    first: First,
    last: Last,
    every: Annotated[str, typer.Option(metavar="day|week|month", help="a row per day, ISO week or month")] = "week",
    fmt: Format = "table",
    out: OutFile = None,
    lake: Lake = None,
) -> int:
    """Lifecycle: per period, the users who are new, returning, resurrecting, and gone dormant.

    Per day, ISO week or month starting in the range: new (first counted in the lake in this
    period), returning (active in the previous period too), resurrecting (not active in the previous
    period, first seen before it), dormant (active in the previous period, not in this one: negative).
    """
    from pipelines.cli import tables
    from pipelines.metrics import cohorts

    tables.check_format(fmt, out)
    root = _existing_lake(lake)
    return _write(cohorts.lifecycle(root, _date(first, "--from"), _date(last, "--to"), every), fmt, out)


@command("stickiness")
def cmd_stickiness(
    first: First,
    last: Last,
    window: Annotated[int, typer.Option(metavar="7|30", help="days in each window of the histogram")] = 7,
    show: Annotated[
        str, typer.Option(metavar="histogram|daily", help="the histogram, or DAU/MAU per day")
    ] = "histogram",
    fmt: Format = "table",
    out: OutFile = None,
    lake: Lake = None,
) -> int:
    """Stickiness: how many days of each week or month users come, and DAU/MAU per day.

    --show histogram (default): the range cut into windows of --window days (7 or 30) ending on its
    last day; per window, how many users were active on 1, 2, ... of its days. --show daily: per day,
    dau, dau_avg_30 (the average DAU of the 30 days ending that day), mau, dau_mau and retained_30
    (Synapse's 30-day retained users: seen on two days more than 30 days apart within the last 60).
    """
    from pipelines.cli import tables
    from pipelines.metrics import cohorts

    tables.check_format(fmt, out)
    root = _existing_lake(lake)
    return _write(cohorts.stickiness(root, _date(first, "--from"), _date(last, "--to"), window, show), fmt, out)


@command("last-seen")
def cmd_last_seen(
    inactive_for: Annotated[
        Optional[str], typer.Option(metavar="SPAN", help="only users not seen for SPAN (90d, 12w, 3m)")
    ] = None,
    as_of: Annotated[
        Optional[str], typer.Option(metavar="D", help="the day to look from (default: the lake's last loaded day)")
    ] = None,
    count: Annotated[bool, typer.Option("--count", help="only the numbers")] = False,
    fmt: Format = "table",
    out: OutFile = None,
    lake: Lake = None,
) -> int:
    """Last seen: every user's first and last counted day; who has not been seen for a while.

    Every user counted on or before --as-of (default: the lake's last loaded day, said on stderr;
    a later day would count the days the lake does not hold as inactive): userId, first_day, last_day,
    days_active, role (the last day's). --inactive-for 90d: only those whose last day is at least
    that long before --as-of (the licence-cost question). --count: as_of, users, and with
    --inactive-for, inactive and active.
    """
    from pipelines.cli import tables
    from pipelines.metrics import cohorts

    tables.check_format(fmt, out)
    root = _existing_lake(lake)
    days = cohorts.parse_span(inactive_for) if inactive_for is not None else None
    day = _date(as_of, "--as-of")
    table = cohorts.last_seen_counts(root, day, days) if count else cohorts.last_seen(root, day, days)
    return _write(table, fmt, out)
