"""The week's email (HTML with inlined CSS, a plain-text twin, the JSON attached) and its delivery.

Delivery is over SMTP when ENGAGEMENT_SMTP_HOST is set, with retries and backoff; otherwise the
message is written as an .eml file to the outbox for a person to open. A ledger beside the
outputs records what was sent to whom, and the numbers it said, so a rerun does not mail managers
twice, and a week whose numbers change after it was mailed gets one correction per change.
"""

from __future__ import annotations

import datetime as dt
import json
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from time import sleep
from typing import Any, TypeVar

from pipelines import clock
from pipelines.errors import UserError
from pipelines.files import atomic_write_bytes, read_ledger
from pipelines.settings import MailSettings, check_address

MAX_BYTES = 100 * 1024
LEDGER = "deliveries.jsonl"


def page_url(public_url: str | None, end: str) -> str | None:
    """The week's page on the report site, as managers reach it (ENGAGEMENT_PUBLIC_URL), or None."""
    return f"{public_url.rstrip('/')}/reports/{end}" if public_url else None


def render_email(context: dict[str, Any], public_url: str | None = None) -> tuple[str, str, str]:
    """(subject, HTML with CSS inlined, plain text) of the week's email; with `public_url` (the report
    site's address), it links to the week's page."""
    import css_inline

    from pipelines.publish.report import environment

    env = environment()
    link = page_url(public_url, context["end"])
    html = css_inline.inline(env.get_template("email.html").render(page_url=link, **context))
    text = env.get_template("email.txt").render(page_url=link, **context)
    return context["subject"], html, text


def build_message(
    context: dict[str, Any], sender: str, recipients: list[str], public_url: str | None = None
) -> EmailMessage:
    """multipart/mixed: multipart/alternative (text, HTML) and the week's JSON body attached."""
    subject, html, text = render_email(context, public_url)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(clock.now().timestamp(), localtime=False)
    message["Message-ID"] = make_msgid(domain="chat-engagement")
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    body = (json.dumps(context["body"], separators=(",", ":")) + "\n").encode("utf-8")
    message.add_attachment(body, maintype="application", subtype="json", filename=f"weekly-data-{context['end']}.json")
    size = len(message.as_bytes())
    if size > MAX_BYTES:
        raise ValueError(f"the email is {size} bytes, over the {MAX_BYTES} limit")
    return message


class DeliveryFailed(RuntimeError):
    """SMTP refused the message after every retry (the report stays on disk)."""


def _send_once(message: EmailMessage, smtp: MailSettings, timeout: float) -> None:
    if smtp.smtp_security == "ssl":
        client = smtplib.SMTP_SSL(smtp.smtp_host, smtp.smtp_port, timeout=timeout, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(smtp.smtp_host, smtp.smtp_port, timeout=timeout)
    with client:
        if smtp.smtp_security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if smtp.smtp_user:
            client.login(smtp.smtp_user, smtp.smtp_password or "")
        client.send_message(message)


def send(
    message: EmailMessage, smtp: MailSettings, attempts: int = 3, backoff: float | None = None, timeout: float = 30
) -> int:
    """Send over SMTP, retrying with exponential backoff (smtp.smtp_backoff unless given); return the attempts it took."""
    backoff = smtp.smtp_backoff if backoff is None else backoff
    for attempt in range(1, attempts + 1):
        try:
            _send_once(message, smtp, timeout)
            return attempt
        except (smtplib.SMTPException, OSError) as exc:
            if attempt == attempts:
                raise DeliveryFailed(
                    f"could not send to {smtp.smtp_host}:{smtp.smtp_port} after {attempts} attempts: {exc}"
                ) from None
            sleep(backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def _ledger(out: Path) -> list[dict]:
    return read_ledger(out / LEDGER, {"end", "to", "via"}, "delivery ledger", "that week may then be mailed again")


def mailed(out: Path) -> list[dict[str, Any]]:
    """The ledger's deliveries of weeks that reached someone (an email or an .eml), oldest first."""
    return [e for e in _ledger(out) if e["via"] in ("smtp", "outbox") and e.get("kind", "week") == "week"]


def week_numbers(context: dict[str, Any]) -> dict[str, Any]:
    """The numbers a week's email states, as the ledger keeps them: distinct users, user-days, and
    each loaded day's active users."""
    return {
        "distinct_users": context["distinct_users"],
        "user_days": context["total_user_days"],
        "days": {d["date"]: d["users"] for d in context["days"] if d["loaded"]},
    }


def stated_numbers(out: Path, end: str) -> dict[str, Any] | None:
    """The numbers managers were last told for the week ending `end` (its email, or its latest
    correction); None if it was not mailed with them."""
    told = [e for e in _ledger(out) if e["end"] == end and "numbers" in e and e["via"] != "dry-run"]
    return told[-1]["numbers"] if told else None


def corrections_of(out: Path, end: str) -> list[dict[str, Any]]:
    """The corrections recorded for the week ending `end`, oldest first (what its page shows)."""
    return [
        {"on": e["at"][:10], "text": "; ".join(changes(e["was"], e["numbers"]))}
        for e in _ledger(out)
        if e["end"] == end and e.get("kind") == "correction"
    ]


def _day_label(iso: str) -> str:
    day = dt.date.fromisoformat(iso)
    return f"{day.strftime('%a')} {day.day} {day.strftime('%b')}"


def changes(was: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What changed, a phrase each: '34 active users (was 33)', 'Fri 19 May: 11 (was 9)'."""
    out = []
    if now["distinct_users"] != was["distinct_users"]:
        out.append(f"{now['distinct_users']:,} active users (was {was['distinct_users']:,})")
    if now["user_days"] != was["user_days"]:
        out.append(f"{now['user_days']:,} user-days (was {was['user_days']:,})")
    for day in sorted(set(now["days"]) | set(was["days"])):
        before, after = was["days"].get(day), now["days"].get(day)
        if before != after:
            old = "not loaded yet" if before is None else f"{before:,}"
            new = "not loaded" if after is None else f"{after:,}"
            out.append(f"{_day_label(day)}: {new} (was {old})")
    return out


def correction_subject(end: dt.date, was: dict[str, Any], now: dict[str, Any]) -> str:
    """`Corrected: chat activity, week ending 19 May 2023: 34 active users (was 33)`."""
    users = f"{now['distinct_users']:,} active user{'s' * (now['distinct_users'] != 1)}"
    if now["distinct_users"] != was["distinct_users"]:
        users += f" (was {was['distinct_users']:,})"
    elif now["user_days"] != was["user_days"]:
        users += f", {now['user_days']:,} user-days (was {was['user_days']:,})"
    else:
        users += ", daily counts changed"
    return f"Corrected: chat activity, week ending {end.day} {end.strftime('%b')} {end.year:04d}: {users}"


def build_correction(
    context: dict[str, Any],
    was: dict[str, Any],
    why: str,
    sender: str,
    recipients: list[str],
    public_url: str | None = None,
) -> EmailMessage:
    """The correction of a mailed week: what changed (old and new numbers) and why; the new JSON attached."""
    from pipelines.publish.report import environment

    now = week_numbers(context)
    end = dt.date.fromisoformat(context["end"])
    fields = {"subject": correction_subject(end, was, now), "changes": changes(was, now), "why": why}
    fields |= {"page_url": page_url(public_url, context["end"]), "end_label": context["end_label"]}
    env = environment()
    message = EmailMessage()
    message["Subject"] = fields["subject"]
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(clock.now().timestamp(), localtime=False)
    message["Message-ID"] = make_msgid(domain="chat-engagement")
    message.set_content(env.get_template("correction.txt").render(**fields))
    import css_inline

    message.add_alternative(css_inline.inline(env.get_template("correction.html").render(**fields)), subtype="html")
    body = (json.dumps(context["body"], separators=(",", ":")) + "\n").encode("utf-8")
    message.add_attachment(body, maintype="application", subtype="json", filename=f"weekly-data-{context['end']}.json")
    return message


def why_corrected(root: Path) -> str:
    """Why a mailed week's numbers changed, as its correction says: the day late data was ingested."""
    from pipelines.lake.freshness import freshness

    fresh = freshness(root)
    return f"late data ingested on {fresh.ingested_at:%Y-%m-%d}" if fresh.ingested_at else "the lake changed"


@dataclass
class Correction:
    """A correction correct_week made: of which week, to whom, how (smtp, outbox, or off: only recorded)."""

    end: str
    recipients: list[str]
    via: str
    eml: Path | None
    subject: str


def _record_lineage(out: Path, eml: Path, data: bytes, context: dict[str, Any], kind: str) -> None:
    """The mailed message's run event beside the outputs (publish/lineage.py)."""
    from pipelines.publish import lineage

    lineage.record(out, eml, data, context["provenance"], kind, dt.date.fromisoformat(context["end"]))


def correct_week(context: dict[str, Any], out: Path, outbox: Path, smtp: MailSettings, why: str) -> Correction | None:
    """If the week was mailed with other numbers than it has now, mail one correction to the people it
    went to (recorded in the ledger, so once per change); with ENGAGEMENT_MAIL_CORRECTIONS off, only
    record it (its page still says so). None when nothing changed or the week was never mailed."""
    end = context["end"]
    was = stated_numbers(out, end)
    now = week_numbers(context)
    if was is None or was == now:
        return None
    sent = [e for e in _ledger(out) if e["end"] == end and e.get("kind", "week") == "week" and e["via"] != "dry-run"]
    recipients = sent[-1]["to"] if sent else list(smtp.mail_to)
    subject = correction_subject(dt.date.fromisoformat(end), was, now)
    if not smtp.mail_corrections:
        return _record(out, Correction(end, recipients, "off", None, subject), now, was)
    message = build_correction(context, was, why, smtp.mail_from, recipients or ["managers@localhost"], smtp.public_url)
    number = 1 + sum(e["end"] == end and e.get("kind") == "correction" for e in _ledger(out))
    eml = outbox / f"{end}-correction-{number}.eml"
    atomic_write_bytes(eml, bytes(message))
    _record_lineage(out, eml, bytes(message), context, "correction")
    if smtp.smtp_host:
        send(message, smtp)
    return _record(out, Correction(end, recipients, "smtp" if smtp.smtp_host else "outbox", eml, subject), now, was)


@dataclass
class Delivery:
    """What send_week did."""

    end: str
    recipients: list[str]
    via: str  # smtp, outbox, dry-run, skipped
    eml: Path | None
    attempts: int = 0


def send_week(
    context: dict[str, Any],
    out: Path,
    outbox: Path,
    smtp: MailSettings,
    recipients: list[str] | None = None,
    resend: bool = False,
    dry_run: bool = False,
    attempts: int = 3,
    backoff: float | None = None,
) -> Delivery:
    """Mail the week's report, once per week and recipients (again with `resend`); keep an .eml always.
    A week with no loaded day is a NoData: never mailed."""
    from pipelines.publish.report import published_line, require_loaded

    require_loaded(context)
    to = [check_address(a, "recipient") for a in recipients] if recipients else list(smtp.mail_to)
    if not to and smtp.smtp_host:
        raise UserError("no recipients: name them, or set ENGAGEMENT_MAIL_TO", "recipients")
    end = context["end"]
    context = context | {"provenance_line": published_line(context, dt.date.fromisoformat(end))}
    message = build_message(context, smtp.mail_from, to or ["managers@localhost"], smtp.public_url)
    eml = outbox / f"{end}.eml"
    if dry_run:
        return Delivery(end, to, "dry-run", None)
    via = "smtp" if smtp.smtp_host else "outbox"
    done = any(e["end"] == end and sorted(e["to"]) == sorted(to) and e["via"] == via for e in _ledger(out))
    if done and not resend and (via == "smtp" or eml.exists()):
        return Delivery(end, to, "skipped", eml if eml.exists() else None)
    atomic_write_bytes(eml, bytes(message))  # the report is on disk whatever SMTP does
    _record_lineage(out, eml, bytes(message), context, "email")
    numbers = week_numbers(context)
    if not smtp.smtp_host:
        return _record(out, Delivery(end, to, "outbox", eml), numbers)
    tries = send(message, smtp, attempts=attempts, backoff=backoff)
    return _record(out, Delivery(end, to, "smtp", eml, tries), numbers)


D = TypeVar("D", Delivery, Correction)


def _record(out: Path, delivery: D, numbers: dict[str, Any], was: dict[str, Any] | None = None) -> D:
    """Add a delivery to the ledger with the numbers it stated (a correction: and those it corrected)."""
    entry: dict[str, Any] = {
        "end": delivery.end,
        "to": delivery.recipients,
        "via": delivery.via,
        "at": clock.now_iso(),
        "numbers": numbers,
    }
    if was is not None:
        entry |= {"kind": "correction", "was": was}
    lines = _ledger(out) + [entry]
    body = "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines)
    atomic_write_bytes(out / LEDGER, body.encode("utf-8"))
    return delivery
