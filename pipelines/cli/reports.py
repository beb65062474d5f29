"""engagement report and send: the week's page and email."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Annotated, Optional

import typer

from pipelines.cli.options import Lake, OutFile, Start, Zone, _write, command
from pipelines.errors import UserError


@command("report")
def cmd_report(start: Start, out: OutFile = None, lake: Lake = None, tz: Zone = None) -> int:
    """The week's report as a self-contained HTML page.

    The bar chart, the table and the comparison with the week before, for the week ending on the
    date of --start; no JavaScript, no external resources, so it opens from disk. A page on its own:
    it links to no other week (the published pages and the report site do). Written to --out, or to
    stdout when that is not a terminal.
    """
    from pipelines.lake.zones import lake_zone
    from pipelines.publish import report
    from pipelines.settings import load_settings
    from pipelines.timeparse import date_of

    if out is None and sys.stdout.isatty():
        raise UserError("the report is a whole HTML page: write it to a file (--out week.html, or > week.html)")
    settings = load_settings(lake, tz)
    zone = lake_zone(settings.lake, settings.tz, settings.tz_explicit)
    context = report.week_context(settings.lake, date_of(start, zone))
    report.require_loaded(context)
    _write(out, report.render_page(context, alone=True))
    return 0


@command("provenance")
def cmd_provenance(
    file: Annotated[
        str, typer.Argument(metavar="FILE", help="a published file: a week's JSON, page or email, the index")
    ],
    fmt: Annotated[
        str, typer.Option("--format", metavar="text|json", help="text, or the OpenLineage run event")
    ] = "text",
    out: Annotated[
        Optional[str],
        typer.Option(
            metavar="DIR", help="where the published files and their lineage are (env ENGAGEMENT_OUT, default data/out)"
        ),
    ] = None,
) -> int:
    """Where a published file comes from: its OpenLineage run event, and whether it is still the one published.

    Each published file has a run event in OUT/lineage/: the run, the job, the exports (by path and
    sha256) and the lake snapshot its numbers stand on, its own sha256, the settings that change
    numbers and the SQL files read. FILE is found by its path, else by its content (a forwarded copy).
    Exit 1 when FILE changed since it was published, or is no file this tool published in OUT.
    """
    import json
    from pathlib import Path

    from pipelines.publish import lineage
    from pipelines.settings import load_settings

    if fmt not in ("text", "json"):
        raise UserError(f"unknown --format {fmt!r}: use text or json", "fmt")
    path = Path(file)
    if not path.is_file():
        raise UserError(f"no such file: {path}", "file")
    folder = load_settings(out=out).out
    try:
        verdict, event = lineage.provenance_of(folder, path)
        said = lineage.describe(path, verdict, event, folder)
    except (KeyError, TypeError, IndexError, AttributeError) as exc:
        raise UserError(
            f"a run event under {folder / lineage.FOLDER} is not as this tool writes it (no {exc}): "
            "remove it, and publish its file again"
        ) from None
    if fmt == "json" and event is not None:
        print(json.dumps(event, indent=1, sort_keys=True))
        if verdict == "changed":
            print(said[0], file=sys.stderr)
    else:
        print("\n".join(said), file=sys.stdout if event else sys.stderr)
    return 0 if verdict in ("published", "copy") else 1


@command("send")
def cmd_send(
    start: Start,
    to: Annotated[
        Optional[list[str]], typer.Option(metavar="ADDR", help="a recipient (repeat; default ENGAGEMENT_MAIL_TO)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="build the message, send nothing")] = False,
    resend: Annotated[bool, typer.Option("--resend", help="send even if this week already went to them")] = False,
    correction: Annotated[
        bool,
        typer.Option("--correction", help="mail the correction of a week whose numbers changed since it was mailed"),
    ] = False,
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
    data/outbox). A week already sent to the same people is not sent again unless --resend; if its
    numbers changed since, --correction mails them a correction (old and new numbers), as the nightly
    run does by itself.
    """
    from pipelines.lake.zones import lake_zone
    from pipelines.publish import mail, outputs, report
    from pipelines.publish.lineage import running
    from pipelines.settings import MailSettings, load_settings, resolve
    from pipelines.timeparse import date_of

    settings = load_settings(lake, tz, out=out)
    zone = lake_zone(settings.lake, settings.tz, settings.tz_explicit)
    context = report.week_context(settings.lake, date_of(start, zone))
    smtp = resolve(MailSettings)  # a mistake in the mail settings is said first
    report.require_loaded(context)  # before the outputs' lock: a refused week creates no folder
    if correction:
        return _send_correction(settings, smtp, context)
    try:
        with outputs.publishing(settings.out, settings.outbox), running("send"):
            delivery = mail.send_week(
                context, settings.out, settings.outbox, smtp, to or None, resend=resend, dry_run=dry_run
            )
    except mail.DeliveryFailed as exc:
        print(f"engagement send: {exc}; the report stays in {settings.outbox}", file=sys.stderr)
        return 1
    nobody = "" if delivery.recipients else " and no recipient (--to, ENGAGEMENT_MAIL_TO)"
    where = {
        "smtp": f"sent to {', '.join(delivery.recipients)} via {smtp.smtp_host}:{smtp.smtp_port}",
        "outbox": f"no SMTP server set (ENGAGEMENT_SMTP_HOST){nobody}: written to {delivery.eml}",
        "dry-run": f"would send {context['subject']!r} to {', '.join(delivery.recipients) or '(nobody)'}",
        "skipped": f"already sent to {', '.join(delivery.recipients) or '(nobody)'} (--resend sends it again)",
    }[delivery.via]
    was = mail.stated_numbers(settings.out, context["end"]) if delivery.via == "skipped" else None
    if was is not None and was != mail.week_numbers(context):
        changed = "; ".join(mail.changes(was, mail.week_numbers(context)))
        where = (
            f"already sent to {', '.join(delivery.recipients) or '(nobody)'}, but its numbers changed since: "
            f"{changed} (--correction mails the correction, --resend the whole week again)"
        )
    print(f"{context['subject']}\n{where}")
    return 0


def _send_correction(settings, smtp, context) -> int:
    """`send --correction`: the week's correction, if its numbers changed since it was mailed."""
    from pipelines.publish import mail, outputs
    from pipelines.publish.lineage import running

    if mail.stated_numbers(settings.out, context["end"]) is None:
        raise UserError(f"the week ending {context['end']} was not mailed: send it first (without --correction)")
    why = mail.why_corrected(settings.lake)
    try:
        with outputs.publishing(settings.out, settings.outbox), running("send"):
            made = mail.correct_week(context, settings.out, settings.outbox, smtp, why)
            if made is not None:
                outputs.write_report(settings.lake, settings.out, dt.date.fromisoformat(context["end"]))
    except mail.DeliveryFailed as exc:
        print(f"engagement send: {exc}; the correction stays in {settings.outbox}", file=sys.stderr)
        return 1
    if made is None:
        print(f"the week ending {context['end']} has the numbers it was mailed with: no correction to send")
        return 0
    how = {"smtp": f"sent to {', '.join(made.recipients)}", "outbox": f"written to {made.eml}"}
    print(f"{made.subject}\n{how.get(made.via, 'recorded only (ENGAGEMENT_MAIL_CORRECTIONS is off)')}")
    return 0
