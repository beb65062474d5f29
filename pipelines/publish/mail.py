"""The week's email (HTML with inlined CSS, a plain-text twin, the JSON attached) and its delivery.

Delivery is over SMTP when ENGAGEMENT_SMTP_HOST is set, with retries and backoff; otherwise the
message is written as an .eml file to the outbox for a person to open. A ledger beside the
outputs records what was sent to whom, so a rerun does not mail managers twice.
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
from typing import Any

from pipelines.errors import UserError
from pipelines.files import atomic_write_bytes
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
    message["Date"] = formatdate(localtime=False)
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
    try:
        return [json.loads(line) for line in (out / LEDGER).read_text(encoding="utf-8").splitlines() if line]
    except FileNotFoundError:
        return []


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
    """Mail the week's report, once per week and recipients (again with `resend`); keep an .eml always."""
    to = [check_address(a, "recipient") for a in recipients] if recipients else list(smtp.mail_to)
    if not to and smtp.smtp_host:
        raise UserError("no recipients: name them, or set ENGAGEMENT_MAIL_TO", "recipients")
    end = context["end"]
    message = build_message(context, smtp.mail_from, to or ["managers@localhost"], smtp.public_url)
    eml = outbox / f"{end}.eml"
    if dry_run:
        return Delivery(end, to, "dry-run", None)
    via = "smtp" if smtp.smtp_host else "outbox"
    done = any(e["end"] == end and sorted(e["to"]) == sorted(to) and e["via"] == via for e in _ledger(out))
    if done and not resend and (via == "smtp" or eml.exists()):
        return Delivery(end, to, "skipped", eml if eml.exists() else None)
    atomic_write_bytes(eml, bytes(message))  # the report is on disk whatever SMTP does
    if not smtp.smtp_host:
        return _record(out, Delivery(end, to, "outbox", eml))
    tries = send(message, smtp, attempts=attempts, backoff=backoff)
    return _record(out, Delivery(end, to, "smtp", eml, tries))


def _record(out: Path, delivery: Delivery) -> Delivery:
    entry = {
        "end": delivery.end,
        "to": delivery.recipients,
        "via": delivery.via,
        "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    lines = _ledger(out) + [entry]
    body = "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines)
    atomic_write_bytes(out / LEDGER, body.encode("utf-8"))
    return delivery
