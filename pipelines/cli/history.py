"""engagement trend, query, explain and status: the lake's history and health."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from pipelines.cli.options import Format, Lake, OutDir, OutFile, Period, _date, _existing_lake, command
from pipelines.errors import UserError


@command("trend")
def cmd_trend(
    first: Annotated[str, typer.Option("--from", metavar="D", help="first day (YYYY-MM-DD)")],
    last: Annotated[str, typer.Option("--to", metavar="D", help="last day (YYYY-MM-DD)")],
    every: Annotated[Period, typer.Option(help="a row per day (DAU, WAU, MAU), ISO week or month")] = Period.day,
    fmt: Format = "table",
    out: OutFile = None,
    lake: Lake = None,
) -> int:
    """Active users over any range of history: DAU, WAU and MAU per day, or per week or month.

    Per day (Rocket.Chat's Active Users chart): dau, the non-anonymous active users of the day
    (weekly-data's number); wau and mau, the distinct such users of the 7 and 30 days ending that
    day, exact from the first row on (earlier days are read as needed). Per ISO week or month:
    distinct users, user-days and the average DAU; a period the range cuts is partial. Days without
    data are rows with zeros and has_data false.
    """
    from pipelines.cli import tables
    from pipelines.metrics import history

    tables.check_format(fmt, out)
    root = _existing_lake(lake)
    tables.write(history.trend(root, _date(first, "--from"), _date(last, "--to"), every.value), fmt, out)
    return 0


@command("messages")
def cmd_messages(
    first: Annotated[str, typer.Option("--from", metavar="D", help="first day (YYYY-MM-DD)")],
    last: Annotated[str, typer.Option("--to", metavar="D", help="last day (YYYY-MM-DD)")],
    every: Annotated[Period, typer.Option(help="a row per day, ISO week or month")] = Period.day,
    by: Annotated[Optional[str], typer.Option(metavar="room|type", help="a row per room, or per room type")] = None,
    fmt: Format = "table",
    out: OutFile = None,
    lake: Lake = None,
) -> int:
    """Messages sent over any range of history: per day, ISO week or month, in total or per room or type.

    From the type "messages" documents of ingested rocketchat_analytics exports (the Messages tab's
    source), and for days they do not cover from rocketchat_message exports by Rocket.Chat's fill
    rule: period_start, (room_id, room_name, t with --by room; t with --by type), messages, partial
    for a period the range cuts, and source (rocketchat_analytics, rocketchat_message, or both).
    """
    from pipelines.cli import tables
    from pipelines.days import check_range
    from pipelines.metrics import messages

    tables.check_format(fmt, out)
    root = _existing_lake(lake)
    begin, end = _date(first, "--from"), _date(last, "--to")
    check_range(begin, end)
    tables.write(messages.by_period(root, begin, end, every.value, by or ""), fmt, out)
    return 0


@command("query")
def cmd_query(
    text: Annotated[str, typer.Argument(metavar="SQL", help="one SELECT (or WITH, FROM, DESCRIBE, SUMMARIZE)")],
    explain: Annotated[bool, typer.Option("--explain", help="DuckDB's plan of the query instead of its rows")] = False,
    explain_analyze: Annotated[
        bool, typer.Option("--explain-analyze", help="run the query and print its plan with timings")
    ] = False,
    fmt: Format = "table",
    out: OutFile = None,
    lake: Lake = None,
) -> int:
    """Read-only SQL (DuckDB) over one consistent snapshot of the lake.

    Views: sessions (every stored document: date, _id, type, userId, loginAt, lastActivityAt,
    closedAt, _updatedAt, device, mostImportantRole, year, month, day), user_daily (one row per
    active user-day: date, userId, role, seconds, sessions, source) and rejects (file, line, reason,
    text, offset, date). Only one statement that DuckDB's parser reads as a SELECT runs: one that
    writes, attaches or reads other files is refused; EXPLAIN [ANALYZE] through --explain and
    --explain-analyze only. The query runs in a child process that can write no file (Landlock),
    bounded by ENGAGEMENT_QUERY_MEMORY (2GB), ENGAGEMENT_QUERY_THREADS (every core),
    ENGAGEMENT_QUERY_TIMEOUT (300 s), ENGAGEMENT_QUERY_MAX_ROWS and ENGAGEMENT_QUERY_MAX_BYTES;
    --out is written only when the whole result is in.
    """
    from pipelines.formats import check_format
    from pipelines.lake import state as lakes
    from pipelines.metrics import lakesql, sandbox
    from pipelines.settings import load_settings

    check_format(fmt, out)
    settings = load_settings(lake)
    lakes.require_lake(settings.lake)
    if explain and explain_analyze:
        raise UserError("give --explain or --explain-analyze, not both")
    how = "analyze" if explain_analyze else "plan" if explain else None
    limits = lakesql.limits_of(settings)
    sandbox.write(settings.lake, text, limits, how, fmt, Path(out) if out else None)
    return 0


@command("explain")
def cmd_explain(
    date: Annotated[Optional[str], typer.Option(metavar="D", help="the day to explain (YYYY-MM-DD)")] = None,
    user: Annotated[Optional[str], typer.Option(metavar="U", help="only this user id")] = None,
    compare: Annotated[
        Optional[str], typer.Option(metavar="D2", help="who is new and who is gone on D2 against --date")
    ] = None,
    week: Annotated[Optional[str], typer.Option(metavar="END", help="with --compare-week: an 8-day window")] = None,
    compare_week: Annotated[
        Optional[str], typer.Option(metavar="END2", help="who is new and who is gone in the window ending END2")
    ] = None,
    messages: Annotated[
        bool, typer.Option("--messages", help="with --date: each room's messages that day, and their source")
    ] = False,
    fmt: Format = "table",
    out: OutFile = None,
    lake: Lake = None,
) -> int:
    """Explain a day's number: every user counted, every user seen and not counted (and why).

    For --date D: each user weekly-data counts that day (role, source: sessions, user_daily or both,
    seconds, sessions, the device whose role was taken), then each user seen and not counted with
    the reason (anonymous; sessions under a whole second, without a device, lastActivityAt or
    loginAt), then the rejected documents that name the day, per reason and rejects file (table
    and json; csv and parquet hold the users). --compare D2, or --week END --compare-week END2:
    who is new and who is gone. --date D --messages: each room's messages that day (the Messages
    tab's numbers) and the source that answered.
    """
    from pipelines.cli import tables
    from pipelines.metrics import history
    from pipelines.metrics.weekly import window

    tables.check_format(fmt, out)
    root = _existing_lake(lake)
    if week is not None or compare_week is not None:
        if week is None or compare_week is None or date is not None or compare is not None:
            raise UserError("--week END and --compare-week END2 go together (and without --date/--compare)")
        a, b = window(_date(week, "--week")), window(_date(compare_week, "--compare-week"))
        tables.write(history.compare(root, a, b), fmt, out)
        return 0
    if date is None:
        raise UserError("name the day: --date D (or compare windows with --week END --compare-week END2)")
    day = _date(date, "--date")
    if messages:
        from pipelines.metrics import messages as message_counts

        tables.write(message_counts.of_day(root, day), fmt, out)
        return 0
    if compare is not None:
        other = _date(compare, "--compare")
        tables.write(history.compare(root, (day, day), (other, other)), fmt, out)
        return 0
    users, rejects = history.explain(root, day)
    tables.write_explained(day, users, rejects, fmt, out, user)
    return 0


@command("status")
def cmd_status(
    as_json: Annotated[bool, typer.Option("--json", help="the report as JSON")] = False,
    check: Annotated[
        bool, typer.Option("--check", help="print only the problems, one a line; exit 1 if there is any")
    ] = False,
    out: OutDir = None,
    lake: Lake = None,
) -> int:
    """The lake's health: what it holds, gaps, the last ingest, stale outputs, the last nightly run.

    Zone, first and last day, documents and size on disk; days with raw sessions and days with only
    Rocket.Chat's rollups; gaps (days with nothing between days with data); the last ingest (files,
    documents, rejects by reason); published weeks whose 8 days changed since (stale); the last nightly
    run; how far the data reaches and how old its newest activity is. --check is for cron or
    monitoring: exit 1 with a line per problem when the newest activity is older than
    ENGAGEMENT_FRESHNESS_ERROR, the last nightly run failed or is older than 36 hours, a day of the last
    7 has no data while the days around it do, or an output is stale; a newest activity older than
    ENGAGEMENT_FRESHNESS_WARN is a warning line (exit 0 if nothing else is wrong).
    """
    from pipelines import status as health
    from pipelines.lake import state as lakes
    from pipelines.settings import load_settings

    settings = load_settings(lake, out=out)
    lakes.require_lake(settings.lake)
    report = health.status(
        settings.lake,
        settings.out,
        warn=settings.freshness_warn,
        error=settings.freshness_error,
        keep_raw=settings.keep_raw,
    )
    if check:
        lines = report["problems"] + [f"warning: {w}" for w in report["warnings"]]
        print("\n".join(lines) if lines else "ok: no problems")
        return 1 if report["problems"] else 0
    print(json.dumps(report, indent=1) if as_json else health.as_text(report), end="\n" if as_json else "")
    return 0


@command("verify")
def cmd_verify(
    against: Annotated[
        str, typer.Option("--against", metavar="URL", help="the Rocket.Chat server (or `engagement serve`) to ask")
    ],
    user_id: Annotated[
        str, typer.Option(metavar="ID", envvar="ENGAGEMENT_RC_USER_ID", help="an admin's user id (X-User-Id)")
    ],
    token: Annotated[
        str,
        typer.Option(
            metavar="T", envvar="ENGAGEMENT_RC_TOKEN", help="that user's personal access token (X-Auth-Token)"
        ),
    ],
    first: Annotated[
        Optional[str], typer.Option("--from", metavar="D", help="first day (default: 45 days before --to)")
    ] = None,
    last: Annotated[
        Optional[str], typer.Option("--to", metavar="D", help="last day (default: the lake's last loaded day)")
    ] = None,
    allow_http: Annotated[
        bool, typer.Option("--allow-http", help="send the token over plain http to another host (a network of yours)")
    ] = False,
    lake: Lake = None,
) -> int:
    """Check the lake's active users of each day against a live Rocket.Chat's; exit 1 if any differ.

    Asks the server's Users tab endpoint (active-users) for the days --from..--to (by default the
    lake's last 45 loaded days: Rocket.Chat keeps about 45) and prints each day whose users differ,
    with both numbers and the likely cause: a day missing from the exports, zones that differ,
    documents rejected at ingest, or a server that knows more (or less) than the exports did. This is
    how an archive is proved before Rocket.Chat's TTL erases the days. The token can come from
    ENGAGEMENT_RC_TOKEN instead of the command line (where other users of the machine can see it);
    it goes over plain http only to this machine, unless --allow-http. The answer is read as a
    stream: at most 64 MB, all of it within 120 s.
    """
    from pipelines import verify
    from pipelines.days import check_range, clipped

    root = _existing_lake(lake)
    held_first, held_last = verify.default_range(root) if first is None or last is None else (None, None)
    end = _date(last, "--to") if last is not None else held_last
    begin = (
        _date(first, "--from")
        if first is not None
        else min(end, max(held_first, clipped(end, 1 - verify.RETENTION_DAYS)))
    )
    check_range(begin, end)
    verify.check_address(against, allow_http)
    result = verify.verify(root, against, user_id, token, begin, end)
    print("\n".join(result.lines()))
    return 1 if result.differences else 0
