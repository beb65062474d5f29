"""The `engagement` command line (Typer): a thin front over the plain functions.

Each option shared by several commands is declared once below (`Lake`, `Zone`, `Start`, ...) and each
command's help is its docstring. Heavy libraries (DuckDB, pyarrow, pydantic-settings, Prefect) are
imported inside the commands that need them, so `engagement --help` stays instant and no command but
a flow's imports Prefect. A user's mistake is one line on stderr and exit 2, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import enum
import errno
import functools
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from pipelines import prefect_runtime
from pipelines.errors import MachineError, UserError, machine_error

# NumPy's OpenBLAS starts a thread at import that spins for about 0.1 s of CPU (measured: `import
# numpy` costs 0.15 s of CPU with it, 0.05 s without). Nothing here uses BLAS, and on a 2-core machine
# that CPU is taken from DuckDB's threads. A user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# --- options shared by several commands, declared once ------------------------------------------------
Lake = Annotated[
    Optional[str],
    typer.Option("--lake", metavar="DIR", help="the lake folder (env ENGAGEMENT_LAKE, default data/lake)"),
]
Zone = Annotated[
    Optional[str],
    typer.Option(
        "--tz",
        metavar="ZONE",
        help="the Rocket.Chat server's IANA time zone (env ENGAGEMENT_TZ, default UTC; a lake keeps its own)",
    ),
]
Start = Annotated[str, typer.Option("--start", metavar="WHEN", help="as for weekly-data")]
OutFile = Annotated[
    Optional[str], typer.Option("--out", metavar="FILE", help="write it to FILE (atomically) instead of stdout")
]
Inbox = Annotated[
    Optional[str],
    typer.Option(
        "--inbox",
        metavar="[DIR]",
        help="take the files of the inbox (the folder new exports arrive in) not ingested yet "
        "(env ENGAGEMENT_INBOX, default data/inbox)",
    ),
]
OutDir = Annotated[Optional[str], typer.Option("--out", metavar="DIR", help="env ENGAGEMENT_OUT, default data/out")]


class Every(str, enum.Enum):
    day = "day"
    week = "week"


class Period(str, enum.Enum):
    day = "day"
    week = "week"
    month = "month"


Format = Annotated[str, typer.Option("--format", metavar="FORMAT", help="table (default), csv, json or parquet")]


app = typer.Typer(
    name="engagement",
    help="Rocket.Chat Engagement Dashboard numbers from rocketchat_sessions exports.",
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
users_app = typer.Typer(
    short_help="Manage who may call the API: add (prints a new token), list, revoke.",
    help="Manage who may call the API: add (prints a new token), list, revoke.\n\n"
    "`users add USER_ID [--permission NAME ...]` prints a new random token once (view-engagement-dashboard "
    "unless other permissions are named); `users list`; `users revoke USER_ID`.",
    rich_markup_mode=None,
)
app.add_typer(users_app, name="users")


def command(name: str, group: typer.Typer = app, label: str | None = None) -> Callable:
    """Register a command whose errors become one line: `engagement <label>: error: ...`, exit 2."""

    def register(func: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(func)
        def guarded(**kwargs: Any) -> int:
            return _guard(label or name, func, kwargs)

        # the docstring's first line is the command's line in `engagement --help`, the rest its description
        group.command(name, short_help=(func.__doc__ or "").strip().splitlines()[0])(guarded)
        return func

    return register


def _guard(name: str, func: Callable[..., int], kwargs: dict[str, Any]) -> int:
    try:
        return func(**kwargs)
    except UserError as exc:
        print(f"engagement {name}: error: {exc}{_flags(func, exc.about)}", file=sys.stderr)
        return 2
    except MachineError as exc:
        print(f"engagement {name}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.errno == errno.EPIPE:  # `engagement ... | head`: the reader has what it wanted
            _quiet_stdout()
            return 0
        if (machine := machine_error(exc)) is not None:
            print(f"engagement {name}: {machine}", file=sys.stderr)
            return 1
        if exc.errno in PATH_ERRNOS:  # a path the user gave that cannot be read or written
            where = f" {exc.filename}" if exc.filename else ""
            print(f"engagement {name}: error: cannot use{where}: {exc.strerror}", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        print(f"engagement {name}: interrupted", file=sys.stderr)
        return 130


# a library parameter whose flag has another name
FLAG_OF_PARAMETER = {"pairs": "--map", "recipients": "--to"}


def _flags(func: Callable[..., int], about: tuple[str, ...]) -> str:
    """' (--to, --from)': the flags of the command `func` that the library's parameters `about` came from."""
    import typing

    from typer.models import OptionInfo

    if not about:
        return ""
    flags = {}
    for name, hint in typing.get_type_hints(func, include_extras=True).items():
        for info in getattr(hint, "__metadata__", ()):
            if isinstance(info, OptionInfo):
                # in Annotated[..., typer.Option("--from")] the first name is held as the default
                names = (info.default, *(info.param_decls or ()))
                declared = [d for d in names if isinstance(d, str) and d.startswith("--")]
                flags[name] = declared[0] if declared else "--" + name.replace("_", "-")
    named = {flags[name]: None for name in about if name in flags}
    named |= {FLAG_OF_PARAMETER[name]: None for name in about if FLAG_OF_PARAMETER.get(name) in flags.values()}
    return f" ({', '.join(named)})" if named else ""


# a path that does not exist, is not a folder, or may not be written: the user's to fix
PATH_ERRNOS = frozenset(
    {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.ENAMETOOLONG}
)


def _write(out: str | None, text: str) -> None:
    """`text` to the file `out` (atomically), or to stdout."""
    if out:
        from pathlib import Path

        from pipelines.files import atomic_write_bytes

        atomic_write_bytes(Path(out), text.encode("utf-8"))
    else:
        sys.stdout.write(text)


# --- commands -------------------------------------------------------------------------------------------


@command("ingest")
def cmd_ingest(
    paths: Annotated[
        Optional[list[str]],
        typer.Argument(metavar="PATH", help="an export file or a folder of them", show_default=False),
    ] = None,
    inbox: Inbox = None,
    archive: Annotated[
        Optional[str],
        typer.Option(
            metavar="[DIR]",
            help="copy each file ingested into the archive folder (env ENGAGEMENT_ARCHIVE, default data/archive)",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="read files again even if the lake's manifest has them")
    ] = False,
    mapping_file: Annotated[
        Optional[str],
        typer.Option(
            "--mapping",
            metavar="FILE",
            help="plain session logs: a TOML file with the mapping (see docs/commands/ingest.md)",
        ),
    ] = None,
    map_: Annotated[
        Optional[list[str]],
        typer.Option(
            "--map",
            metavar="FIELD=COLUMN",
            help="plain session logs: map a field to a column, e.g. userId=user_id loginAt=started_at "
            "lastActivityAt=last_seen (repeat)",
        ),
    ] = None,
    timestamp_format: Annotated[
        Optional[str],
        typer.Option(
            metavar="FMT",
            help="plain session logs: iso (default), epoch_s, epoch_ms, or a strptime format such as "
            "'%d/%m/%Y %H:%M:%S'",
        ),
    ] = None,
    log_tz: Annotated[
        Optional[str],
        typer.Option(
            metavar="ZONE", help="plain session logs: the zone of timestamps written without one (default UTC)"
        ),
    ] = None,
    lake: Lake = None,
    tz: Zone = None,
) -> int:
    """Read rocketchat_sessions exports (mongoexport JSON, mongodump BSON, .gz) or session logs into the lake.

    Exports: mongoexport JSON lines or --jsonArray, mongodump BSON, gzipped or not; plain session
    logs (CSV or JSON lines) through --map or --mapping.
    Documents are upserted by _id (latest _updatedAt wins); rejected ones are written to the lake's
    rejects/ folder with file, line and reason. A file the lake's manifest already has (same path,
    size and time, or same content) is skipped.
    """
    from contextlib import nullcontext
    from pathlib import Path

    from pipelines.ingest.progress import for_terminal
    from pipelines.ingest.run import ingest_with
    from pipelines.settings import load_settings

    settings = load_settings(lake, tz, inbox=inbox, archive=archive)
    mapping = None
    if mapping_file or map_ or timestamp_format or log_tz:
        from pipelines.inputs.logs import load_mapping

        mapping = load_mapping(mapping_file, map_ or [], timestamp_format, log_tz)
    sources = list(paths or [])
    if inbox is not None:
        settings.inbox.mkdir(parents=True, exist_ok=True)
        sources.append(settings.inbox)
    if not sources:
        raise UserError("nothing to ingest: name export files or folders, or use --inbox")
    bars = for_terminal()
    with bars or nullcontext():
        summary = ingest_with(
            settings,
            sources,
            force=force,
            archive=Path(settings.archive) if archive is not None else None,
            mapping=mapping,
            progress=bars,
        )
    print("\n".join(summary.lines()))
    return 0


@command("weekly-data")
def cmd_weekly_data(
    start: Annotated[
        str,
        typer.Option(
            metavar="WHEN",
            help="2023-05-19T23:59:59.999Z, any ISO time with an offset, a local time, or a bare date",
        ),
    ],
    out: OutFile = None,
    indent: Annotated[Optional[int], typer.Option(metavar="N", help="pretty-print with N spaces")] = None,
    lake: Lake = None,
    tz: Zone = None,
) -> int:
    """Print the chat-busier/weekly-data body for the 8 days ending at --start.

    The body of GET /api/v1/engagement-dashboard/users/chat-busier/weekly-data: distinct
    non-anonymous active users per day for the 8 days ending on the date of --start.
    """
    from pipelines.lake.zones import lake_zone
    from pipelines.metrics.weekly import weekly_data
    from pipelines.settings import load_settings
    from pipelines.timeparse import date_of

    settings = load_settings(lake, tz)
    zone = lake_zone(settings.lake, settings.tz, settings.tz_explicit)
    body = weekly_data(settings.lake, date_of(start, zone))
    _write(out, json.dumps(body, indent=indent, separators=None if indent else (",", ":")) + "\n")
    return 0


@command("report")
def cmd_report(start: Start, out: OutFile = None, lake: Lake = None, tz: Zone = None) -> int:
    """The week's report as a self-contained HTML page.

    The bar chart, the table and the comparison with the week before, for the week ending on the
    date of --start; no JavaScript, no external resources, so it opens from disk.
    """
    from pipelines.lake.zones import lake_zone
    from pipelines.publish import report
    from pipelines.settings import load_settings
    from pipelines.timeparse import date_of

    settings = load_settings(lake, tz)
    zone = lake_zone(settings.lake, settings.tz, settings.tz_explicit)
    _write(out, report.render_page(report.week_context(settings.lake, date_of(start, zone))))
    return 0


@command("send")
def cmd_send(
    start: Start,
    to: Annotated[
        Optional[list[str]], typer.Option(metavar="ADDR", help="a recipient (repeat; default ENGAGEMENT_MAIL_TO)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="build the message, send nothing")] = False,
    resend: Annotated[bool, typer.Option("--resend", help="send even if this week already went to them")] = False,
    out: Annotated[
        Optional[str],
        typer.Option(metavar="DIR", help="where the delivery ledger is (env ENGAGEMENT_OUT, default data/out)"),
    ] = None,
    lake: Lake = None,
    tz: Zone = None,
) -> int:
    """Mail the week's report (SMTP from ENGAGEMENT_SMTP_*, else an .eml in the outbox).

    The report of the week ending on the date of --start: HTML and plain text, the JSON attached.
    SMTP settings come from ENGAGEMENT_SMTP_HOST/PORT/SECURITY/USER/PASSWORD, ENGAGEMENT_MAIL_FROM and
    ENGAGEMENT_MAIL_TO; without a host the message is written to the outbox (ENGAGEMENT_OUTBOX, default
    data/outbox). A week already sent to the same people is not sent again unless --resend.
    """
    from pipelines.lake.zones import lake_zone
    from pipelines.publish import mail, outputs, report
    from pipelines.settings import MailSettings, load_settings, resolve
    from pipelines.timeparse import date_of

    settings = load_settings(lake, tz, out=out)
    zone = lake_zone(settings.lake, settings.tz, settings.tz_explicit)
    context = report.week_context(settings.lake, date_of(start, zone))
    smtp = resolve(MailSettings)
    try:
        with outputs.publishing(settings.out, settings.outbox):
            delivery = mail.send_week(
                context, settings.out, settings.outbox, smtp, to or None, resend=resend, dry_run=dry_run
            )
    except mail.DeliveryFailed as exc:
        print(f"engagement send: {exc}; the report stays in {settings.outbox}", file=sys.stderr)
        return 1
    where = {
        "smtp": f"sent to {', '.join(delivery.recipients)} via {smtp.smtp_host}:{smtp.smtp_port}",
        "outbox": f"no SMTP server set (ENGAGEMENT_SMTP_HOST): written to {delivery.eml}",
        "dry-run": f"would send {context['subject']!r} to {', '.join(delivery.recipients) or '(nobody)'}",
        "skipped": f"already sent to {', '.join(delivery.recipients)} (--resend sends it again)",
    }[delivery.via]
    print(f"{context['subject']}\n{where}")
    return 0


@command("serve")
def cmd_serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 3000,
    public_reports: Annotated[
        bool, typer.Option("--public-reports", help="serve the report site without a login (a trusted intranet)")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="no line per request (uvicorn's access log)")] = False,
    lake: Lake = None,
) -> int:
    """Serve Rocket.Chat's user-engagement API from the lake (HTTP, uvicorn).

    GET /api/v1/engagement-dashboard/users/ chat-busier/weekly-data, chat-busier/hourly-data,
    active-users and users-by-time-of-the-day-in-a-week, with Rocket.Chat's X-User-Id / X-Auth-Token
    authentication (see `engagement users`), bodies and errors. The OpenAPI document is at
    /openapi.json. ENGAGEMENT_CORS_ORIGINS (comma-separated) lets pages of those origins call it.
    The report site: /reports/ (every week) and /reports/YYYY-MM-DD (the week ending that day),
    behind a login with the same user id and token (--public-reports: no login). It prints where it
    listens, then a line per request (--quiet: none); Ctrl-C or SIGTERM stops it.
    """
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from pipelines.api.server import create_app
    from pipelines.lake import state as lakes
    from pipelines.settings import load_settings

    settings = load_settings(lake)
    lakes.require_lake(settings.lake)
    _check_listen(host, port)
    app_ = create_app(settings.lake, settings.cors_origins, public_reports)
    where = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    print(
        f"serving the lake {settings.lake} at {where}/ (the API under /api/v1/, the reports at /reports/)", flush=True
    )
    logging = copy.deepcopy(LOGGING_CONFIG)
    logging["loggers"]["uvicorn.error"]["level"] = "WARNING"  # uvicorn's start-up chatter: said above
    uvicorn.run(app_, host=host, port=port, log_config=logging, log_level=None, access_log=not quiet)
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


UserId = Annotated[str, typer.Argument(metavar="USER_ID", help="Rocket.Chat's user id (visible ASCII, no spaces)")]


@command("add", users_app, "users")
def cmd_users_add(
    user_id: UserId,
    permission: Annotated[
        Optional[list[str]], typer.Option(metavar="NAME", help="a permission to grant (repeat)")
    ] = None,
    lake: Lake = None,
) -> int:
    """Add a user (or give it a new token); prints the token once."""
    from pipelines.api import users
    from pipelines.settings import load_settings

    token = users.add_user(load_settings(lake).lake, user_id, permission or None)
    print(f"user {user_id} can now call the API with headers X-User-Id and X-Auth-Token;")
    print("the token is shown this once (only a salted hash is kept):")
    print(token)
    return 0


@command("list", users_app, "users")
def cmd_users_list(lake: Lake = None) -> int:
    """List the users and their permissions."""
    from pipelines.api import users
    from pipelines.settings import load_settings

    for user_id, record in sorted(users.load_users(load_settings(lake).lake).items()):
        print(f"{user_id}\t{','.join(record['permissions'])}")
    return 0


@command("revoke", users_app, "users")
def cmd_users_revoke(user_id: UserId, lake: Lake = None) -> int:
    """Remove a user: its token stops working at once."""
    from pipelines.api import users
    from pipelines.settings import load_settings

    users.revoke_user(load_settings(lake).lake, user_id)
    print(f"user {user_id} revoked")
    return 0


def _existing_lake(lake: str | None) -> Path:
    """The lake folder the flag or ENGAGEMENT_LAKE names; a UserError when there is no lake there."""
    from pipelines.lake import state as lakes
    from pipelines.settings import load_settings

    root = load_settings(lake).lake
    lakes.require_lake(root)
    return root


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


def _date(value: str | None, flag: str | None = None) -> dt.date | None:
    """A YYYY-MM-DD flag's date (None stays None); a UserError naming the flag, when given, else the value."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        if flag:
            raise UserError(f"{flag} {value!r} is not a date: use YYYY-MM-DD") from None
        raise UserError(f"cannot read {value!r} as a date: use YYYY-MM-DD") from None


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
    from pipelines.settings import load_settings

    settings = load_settings(lake, tz, inbox=inbox, out=out)  # a mistake is one line, before Prefect starts
    run_date = _date(date, "--date")
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
    root = _existing_lake(lake)  # a user's mistake is one line, before Prefect starts
    step = 7 if every is Every.week else 1
    check_range(begin, end, step, span_note(lakes.read_state(root)), unit="end dates")
    settings = load_settings(lake, out=out)
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


@command("query")
def cmd_query(
    text: Annotated[str, typer.Argument(metavar="SQL", help="one SELECT (or WITH, FROM, DESCRIBE, EXPLAIN)")],
    fmt: Format = "table",
    out: OutFile = None,
    lake: Lake = None,
) -> int:
    """Read-only SQL (DuckDB) over one consistent snapshot of the lake.

    Views: sessions (every stored document: date, _id, type, userId, loginAt, lastActivityAt,
    closedAt, _updatedAt, device, mostImportantRole, year, month, day), user_daily (one row per
    active user-day: date, userId, role, seconds, sessions, source) and rejects (file, line, reason,
    text, offset, date). A statement that writes, attaches or reads other files is refused.
    """
    from pipelines.cli import tables
    from pipelines.metrics import lakesql

    tables.check_format(fmt, out)
    root = _existing_lake(lake)
    tables.write(lakesql.run_query(root, text), fmt, out)
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
    who is new and who is gone.
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
    run. --check is for cron or monitoring: exit 1 with a line per problem when the last nightly run
    failed or is older than 36 hours, a day of the last 7 has no data while the days around it do, or an
    output is stale; exit 0 otherwise.
    """
    from pipelines import status as health
    from pipelines.lake import state as lakes
    from pipelines.settings import load_settings

    settings = load_settings(lake, out=out)
    lakes.require_lake(settings.lake)
    report = health.status(settings.lake, settings.out)
    if check:
        print("\n".join(report["problems"]) if report["problems"] else "ok: no problems")
        return 1 if report["problems"] else 0
    print(json.dumps(report, indent=1) if as_json else health.as_text(report), end="\n" if as_json else "")
    return 0


def _version() -> str:
    """The installed package's version (pyproject.toml), without importing anything heavy."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chat-engagement")
    except PackageNotFoundError:  # run from a checkout that was not installed
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        print(f"engagement {_version()}")
        raise typer.Exit()


@app.callback()
def _engagement(
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_show_version, help="show the version and exit")
    ] = False,
) -> None:
    """Rocket.Chat Engagement Dashboard numbers from rocketchat_sessions exports."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `engagement` command: user mistakes are one line on stderr and exit 2."""
    command_ = typer.main.get_command(app)
    try:
        result = command_.main(
            args=_optional_values(list(sys.argv[1:] if argv is None else argv)),
            prog_name="engagement",
            standalone_mode=False,
        )
    except typer.TyperException as exc:  # the command line itself: an unknown command, a missing or bad option
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "engagement"
        hint = f"; see `{where} --help`" if ctx is not None else ""
        print(f"{where}: error: {exc.format_message().rstrip('.')}{hint}", file=sys.stderr)
        return exc.exit_code
    except typer.Abort:
        return 130
    return result if isinstance(result, int) else 0


# options whose value may be left out (`--inbox` alone: the inbox of the environment)
OPTIONAL_VALUES = {"ingest": ("--inbox", "--archive"), "nightly": ("--inbox",)}


def _optional_values(argv: list[str]) -> list[str]:
    """`ingest --inbox` with no DIR after it (at the end, or before another option) as `--inbox=`."""
    names = OPTIONAL_VALUES.get(argv[0], ()) if argv else ()
    return [
        f"{arg}=" if arg in names and (i + 1 == len(argv) or argv[i + 1].startswith("-")) else arg
        for i, arg in enumerate(argv)
    ]


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush does not fail on the closed pipe."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    raise SystemExit(main())
