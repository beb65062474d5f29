"""The `engagement` command line: a thin front over the plain functions.

Heavy libraries (DuckDB, pyarrow, Prefect) are imported inside the commands that need them, so
`engagement --help` stays instant and no command but a flow's imports Prefect.
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import json
import sys
from collections.abc import Callable, Sequence

from pipelines.errors import MachineError, UserError, machine_error


def _lake(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lake", metavar="DIR", help="the lake folder (env ENGAGEMENT_LAKE, default data/lake)")


def _common(parser: argparse.ArgumentParser) -> None:
    _lake(parser)
    parser.add_argument(
        "--tz",
        metavar="ZONE",
        help="the Rocket.Chat server's IANA time zone (env ENGAGEMENT_TZ, default UTC; a lake keeps its own)",
    )


def cmd_ingest(args: argparse.Namespace) -> int:
    """Run `engagement ingest`."""
    from pathlib import Path

    from pipelines.ingest import ingest
    from pipelines.settings import load_settings

    settings = load_settings(args.lake, args.tz, inbox=args.inbox, archive=args.archive)
    mapping = None
    if args.mapping or args.map or args.timestamp_format or args.log_tz:
        from pipelines.logs import load_mapping

        mapping = load_mapping(args.mapping, args.map, args.timestamp_format, args.log_tz)
    paths = list(args.paths)
    if args.inbox is not None:
        settings.inbox.mkdir(parents=True, exist_ok=True)
        paths.append(settings.inbox)
    if not paths:
        raise UserError("nothing to ingest: name export files or folders, or use --inbox")
    from contextlib import nullcontext

    from pipelines.progress import for_terminal

    bars = for_terminal()
    with bars or nullcontext():
        summary = ingest(
            paths,
            settings.lake,
            settings.tz,
            settings.tz_explicit,
            settings.ingest_memory,
            force=args.force,
            archive=Path(settings.archive) if args.archive is not None else None,
            mapping=mapping,
            progress=bars,
        )
    print("\n".join(summary.lines()))
    return 0


def cmd_weekly_data(args: argparse.Namespace) -> int:
    """Run `engagement weekly-data`."""
    from pipelines import lake
    from pipelines.settings import load_settings
    from pipelines.timeparse import date_of
    from pipelines.weekly import weekly_data

    settings = load_settings(args.lake, args.tz)
    state = lake.require_lake(settings.lake)
    tz = lake.resolve_tz(state, settings.tz, settings.tz_explicit, settings.lake)
    body = weekly_data(settings.lake, date_of(args.start, tz))
    text = json.dumps(body, indent=args.indent, separators=None if args.indent else (",", ":")) + "\n"
    if args.out:
        from pathlib import Path

        from pipelines.files import atomic_write_bytes

        atomic_write_bytes(Path(args.out), text.encode("utf-8"))
    else:
        sys.stdout.write(text)
    return 0


def _quiet_prefect() -> None:
    """No telemetry from Prefect's embedded server (the network may be closed; nothing to report)."""
    import os

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def _run_flow(command: str, call) -> int:
    """Run a flow (Prefect's ephemeral server unless PREFECT_API_URL is set); a failure names its step."""
    from pipelines.flows import StepFailed, start_temporary_server

    start_temporary_server()
    try:
        result = call()
    except StepFailed as exc:
        print(f"engagement {command}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


def _date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UserError(f"cannot read {value!r} as a date: use YYYY-MM-DD") from None


def cmd_nightly(args: argparse.Namespace) -> int:
    """Run `engagement nightly`."""
    _quiet_prefect()
    from pipelines.flows import nightly
    from pipelines.settings import check_tz

    if args.tz:
        check_tz(args.tz)
    run_date = _date(args.date)
    return _run_flow(
        "nightly",
        lambda: nightly(
            run_date=run_date,
            lake=args.lake,
            inbox=args.inbox,
            out=args.out,
            tz=args.tz,
            dask_address=args.dask_address,
        ),
    )


MAX_BACKFILL = 36_600  # end dates in one backfill: a century of days


def cmd_backfill(args: argparse.Namespace) -> int:
    """Run `engagement backfill`."""
    first, last = _date(args.first), _date(args.last)
    if last < first:
        raise UserError(f"--to {last} is before --from {first}")
    if (last - first).days // (7 if args.every == "week" else 1) >= MAX_BACKFILL:
        from pipelines import lake
        from pipelines.settings import load_settings

        days = sorted(lake.require_lake(load_settings(args.lake).lake).files["user_daily"])
        held = f"the lake holds {days[0]} .. {days[-1]}" if days else "the lake holds no days yet"
        raise UserError(f"--from {first} --to {last} is more than {MAX_BACKFILL:,} end dates: narrow it ({held})")
    _quiet_prefect()
    from pipelines.flows import backfill

    return _run_flow(
        "backfill",
        lambda: backfill(first=first, last=last, every=args.every, force=args.force, lake=args.lake, out=args.out),
    )


def cmd_schedule(args: argparse.Namespace) -> int:
    """Run `engagement schedule` (serves until stopped)."""
    from pipelines.settings import check_tz

    check_tz(args.timezone)
    _quiet_prefect()
    from pipelines.flows import serve_nightly

    serve_nightly(args.cron, args.timezone)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Run `engagement report`."""
    from pathlib import Path

    from pipelines import lake, report
    from pipelines.settings import load_settings
    from pipelines.timeparse import date_of

    settings = load_settings(args.lake, args.tz)
    tz = lake.resolve_tz(lake.require_lake(settings.lake), settings.tz, settings.tz_explicit, settings.lake)
    html = report.render_page(report.week_context(settings.lake, date_of(args.start, tz)))
    if args.out:
        from pipelines.files import atomic_write_bytes

        atomic_write_bytes(Path(args.out), html.encode("utf-8"))
    else:
        sys.stdout.write(html)
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    """Run `engagement send`."""
    from pipelines import lake, mail, outputs, report
    from pipelines.settings import load_settings
    from pipelines.timeparse import date_of

    settings = load_settings(args.lake, args.tz, out=args.out)
    tz = lake.resolve_tz(lake.require_lake(settings.lake), settings.tz, settings.tz_explicit, settings.lake)
    context = report.week_context(settings.lake, date_of(args.start, tz))
    smtp = mail.smtp_settings()
    try:
        with outputs.publishing(settings.out, settings.outbox):
            delivery = mail.send_week(
                context, settings.out, settings.outbox, smtp, args.to or None, resend=args.resend, dry_run=args.dry_run
            )
    except mail.DeliveryFailed as exc:
        print(f"engagement send: {exc}; the report stays in {settings.outbox}", file=sys.stderr)
        return 1
    where = {
        "smtp": f"sent to {', '.join(delivery.recipients)} via {smtp.host}:{smtp.port}",
        "outbox": f"no SMTP server set (ENGAGEMENT_SMTP_HOST): written to {delivery.eml}",
        "dry-run": f"would send {context['subject']!r} to {', '.join(delivery.recipients) or '(nobody)'}",
        "skipped": f"already sent to {', '.join(delivery.recipients)} (--resend sends it again)",
    }[delivery.via]
    print(f"{context['subject']}\n{where}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run `engagement serve`."""
    import uvicorn

    from pipelines import lake
    from pipelines.server import create_app
    from pipelines.settings import load_settings

    settings = load_settings(args.lake)
    lake.require_lake(settings.lake)
    _check_listen(args.host, args.port)
    app = create_app(settings.lake, settings.cors_origins)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _check_listen(host: str, port: int) -> None:
    """A UserError unless host:port can be listened on (a port in use, a host that is not this machine's)."""
    import socket

    if not 1 <= port <= 65535:
        raise UserError(f"--port {port} is no port: give one from 1 to 65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise UserError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --host or --port"
        ) from None


def cmd_users(args: argparse.Namespace) -> int:
    """Run `engagement users add|list|revoke`."""
    from pipelines import users
    from pipelines.settings import load_settings

    root = load_settings(args.lake).lake
    if args.action == "add":
        token = users.add_user(root, args.user_id, args.permission or None)
        print(f"user {args.user_id} can now call the API with headers X-User-Id and X-Auth-Token;")
        print("the token is shown this once (only a salted hash is kept):")
        print(token)
    elif args.action == "list":
        for user_id, record in sorted(users.load_users(root).items()):
            print(f"{user_id}\t{','.join(record['permissions'])}")
    else:
        users.revoke_user(root, args.user_id)
        print(f"user {args.user_id} revoked")
    return 0


def _version() -> str:
    """The installed package's version (pyproject.toml), without importing anything heavy."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chat-engagement")
    except PackageNotFoundError:  # run from a checkout that was not installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = argparse.ArgumentParser(
        prog="engagement",
        description="Rocket.Chat Engagement Dashboard numbers from rocketchat_sessions exports.",
    )
    parser.add_argument("--version", action="version", version=f"engagement {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    ingest = sub.add_parser(
        "ingest",
        help="read mongoexport files (JSON lines, --jsonArray, .gz) into the lake",
        description="Read mongoexport files or folders of rocketchat_sessions into the Parquet lake. "
        "Documents are upserted by _id (latest _updatedAt wins); rejected ones are written "
        "to the lake's rejects/ folder with file, line and reason. A file the lake's manifest "
        "already has (same path, size and time, or same content) is skipped.",
    )
    ingest.add_argument("paths", nargs="*", metavar="PATH", help="an export file or a folder of them")
    ingest.add_argument(
        "--inbox",
        nargs="?",
        const="",
        metavar="DIR",
        help="also take the files in the inbox folder that are not ingested yet "
        "(env ENGAGEMENT_INBOX, default data/inbox)",
    )
    ingest.add_argument(
        "--archive",
        nargs="?",
        const="",
        metavar="DIR",
        help="copy each file ingested into the archive folder (env ENGAGEMENT_ARCHIVE, default data/archive)",
    )
    ingest.add_argument("--force", action="store_true", help="read files again even if the lake's manifest has them")
    logs = ingest.add_argument_group(
        "plain session logs",
        "CSV or JSON-lines logs (from a proxy or SSO) instead of Rocket.Chat exports, read through a "
        "mapping of fields to the log's columns; see the README",
    )
    logs.add_argument("--mapping", metavar="FILE", help="a TOML file with the mapping")
    logs.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="map a field to a column, e.g. userId=user_id loginAt=started_at lastActivityAt=last_seen",
    )
    logs.add_argument(
        "--timestamp-format",
        metavar="FMT",
        help="iso (default), epoch_s, epoch_ms, or a strptime format such as '%%d/%%m/%%Y %%H:%%M:%%S'",
    )
    logs.add_argument("--log-tz", metavar="ZONE", help="the zone of log timestamps written without one (default UTC)")
    _common(ingest)
    ingest.set_defaults(func=cmd_ingest)

    weekly = sub.add_parser(
        "weekly-data",
        help="print the chat-busier/weekly-data body for the 8 days ending at --start",
        description="Print GET /api/v1/engagement-dashboard/users/chat-busier/weekly-data's body: "
        "distinct non-anonymous active users per day for the 8 days ending on the date of --start.",
    )
    weekly.add_argument(
        "--start",
        required=True,
        metavar="WHEN",
        help="2023-05-19T23:59:59.999Z, any ISO time with an offset, a local time, or a bare date",
    )
    weekly.add_argument("--out", metavar="FILE", help="write the body to FILE (atomically) instead of stdout")
    weekly.add_argument("--indent", type=int, default=None, metavar="N", help="pretty-print with N spaces")
    _common(weekly)
    weekly.set_defaults(func=cmd_weekly_data)

    page = sub.add_parser(
        "report",
        help="the week's report as a self-contained HTML page",
        description="Write the HTML report (bar chart, table, comparison with the week before) of the week "
        "ending on the date of --start; no JavaScript, no external resources, so it opens from disk.",
    )
    page.add_argument("--start", required=True, metavar="WHEN", help="as for weekly-data")
    page.add_argument("--out", metavar="FILE", help="write the page to FILE (atomically) instead of stdout")
    _common(page)
    page.set_defaults(func=cmd_report)

    send = sub.add_parser(
        "send",
        help="mail the week's report (SMTP from ENGAGEMENT_SMTP_*, else an .eml in the outbox)",
        description="Mail the report of the week ending on the date of --start: HTML and plain text, the JSON "
        "attached. SMTP settings come from ENGAGEMENT_SMTP_HOST/PORT/SECURITY/USER/PASSWORD, ENGAGEMENT_MAIL_FROM "
        "and ENGAGEMENT_MAIL_TO; without a host the message is written to the outbox (ENGAGEMENT_OUTBOX, "
        "default data/outbox). A week already sent to the same people is not sent again unless --resend.",
    )
    send.add_argument("--start", required=True, metavar="WHEN", help="as for weekly-data")
    send.add_argument("--to", action="append", metavar="ADDR", help="a recipient (repeat; default ENGAGEMENT_MAIL_TO)")
    send.add_argument("--dry-run", action="store_true", help="build the message, send nothing")
    send.add_argument("--resend", action="store_true", help="send even if this week already went to them")
    send.add_argument(
        "--out", metavar="DIR", help="where the delivery ledger is (env ENGAGEMENT_OUT, default data/out)"
    )
    _common(send)
    send.set_defaults(func=cmd_send)

    serve = sub.add_parser(
        "serve",
        help="serve Rocket.Chat's user-engagement API from the lake (HTTP, uvicorn)",
        description="Serve GET /api/v1/engagement-dashboard/users/ chat-busier/weekly-data, chat-busier/hourly-data, "
        "active-users and users-by-time-of-the-day-in-a-week, with Rocket.Chat's X-User-Id / X-Auth-Token authentication (see `engagement users`), bodies and "
        "errors. The OpenAPI document is at /openapi.json. ENGAGEMENT_CORS_ORIGINS (comma-separated) lets pages "
        "of those origins call it.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=3000, help="port (default 3000)")
    _lake(serve)
    serve.set_defaults(func=cmd_serve)

    people = sub.add_parser(
        "users",
        help="manage who may call the API: add (prints a new token), list, revoke",
        description="API users: `users add USER_ID [--permission NAME ...]` prints a new random token once "
        "(view-engagement-dashboard unless other permissions are named); `users list`; `users revoke USER_ID`.",
    )
    actions = people.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a user (or give it a new token); prints the token once")
    add.add_argument("user_id", metavar="USER_ID", help="Rocket.Chat's user id (visible ASCII, no spaces)")
    add.add_argument("--permission", action="append", metavar="NAME", help="a permission to grant (repeat)")
    listing = actions.add_parser("list", help="list the users and their permissions")
    revoke = actions.add_parser("revoke", help="remove a user: its token stops working at once")
    revoke.add_argument("user_id", metavar="USER_ID")
    for action in (add, listing, revoke):
        _lake(action)
        action.set_defaults(func=cmd_users)

    night = sub.add_parser(
        "nightly",
        help="the nightly run (Prefect flow): ingest the inbox, publish the last complete day's week",
        description="Ingest the inbox's new files, then write out/weekly-data/<date>.json for the week ending "
        "on the last complete day in the server's zone (or --date). Runs as a Prefect flow, on Prefect's "
        "embedded server unless PREFECT_API_URL is set.",
    )
    night.add_argument("--date", metavar="D", help="the week's last day (YYYY-MM-DD); default: yesterday")
    night.add_argument("--inbox", metavar="DIR", help="env ENGAGEMENT_INBOX, default data/inbox")
    night.add_argument("--out", metavar="DIR", help="env ENGAGEMENT_OUT, default data/out")
    night.add_argument(
        "--dask-address",
        metavar="tcp://HOST:PORT",
        help="ingest as map/reduce tasks on this Dask scheduler (its workers must share the lake's storage)",
    )
    _common(night)
    night.set_defaults(func=cmd_nightly)

    fill = sub.add_parser(
        "backfill",
        help="publish weekly-data for every end date of a range (Prefect flow, parallel tasks)",
        description="Write out/weekly-data/<date>.json for every end date from --from to --to; an end date "
        "whose 8 days did not change since its output was written is skipped.",
    )
    fill.add_argument("--from", dest="first", required=True, metavar="D", help="first end date (YYYY-MM-DD)")
    fill.add_argument("--to", dest="last", required=True, metavar="D", help="last end date (YYYY-MM-DD)")
    fill.add_argument("--every", choices=["day", "week"], default="day", help="every end date, or every 7th")
    fill.add_argument("--force", action="store_true", help="write every output again")
    fill.add_argument("--out", metavar="DIR", help="env ENGAGEMENT_OUT, default data/out")
    _lake(fill)
    fill.set_defaults(func=cmd_backfill)

    schedule = sub.add_parser(
        "schedule",
        help="serve the nightly run on a cron schedule (needs a Prefect server; runs until stopped)",
        description="Serve the nightly deployment with a cron schedule in an explicit time zone. Start "
        "`prefect server start` first and set PREFECT_API_URL; or run `engagement nightly` from cron instead.",
    )
    schedule.add_argument("--cron", default="30 2 * * *", help="when to run (default 30 2 * * *: 02:30 daily)")
    schedule.add_argument("--timezone", default="UTC", metavar="ZONE", help="the cron's time zone (default UTC)")
    schedule.set_defaults(func=cmd_schedule)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `engagement` command: user mistakes are one line on stderr and exit 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except UserError as exc:
        print(f"engagement {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MachineError as exc:
        print(f"engagement {args.command}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.errno == errno.EPIPE:  # `engagement ... | head`: the reader has what it wanted
            _quiet_stdout()
            return 0
        if (machine := machine_error(exc)) is not None:
            print(f"engagement {args.command}: {machine}", file=sys.stderr)
            return 1
        if exc.errno in PATH_ERRNOS:  # a path the user gave that cannot be read or written
            where = f" {exc.filename}" if exc.filename else ""
            print(f"engagement {args.command}: error: cannot use{where}: {exc.strerror}", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        print(f"engagement {args.command}: interrupted", file=sys.stderr)
        return 130


# a path that does not exist, is not a folder, or may not be written: the user's to fix
PATH_ERRNOS = frozenset(
    {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.ENAMETOOLONG}
)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush does not fail on the closed pipe."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    raise SystemExit(main())
