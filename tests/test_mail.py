"""The week's email, delivered to a real SMTP server (aiosmtpd on a loopback port)."""

from __future__ import annotations

import datetime as dt
import email
import json
from email import policy

import pytest
from conftest import run_cli

from pipelines.publish import mail, report
from pipelines.settings import MailSettings, resolve


def settings(port: int, to=("boss@example.com", "team@example.com")) -> MailSettings:
    return resolve(
        MailSettings,
        smtp_host="127.0.0.1",
        smtp_port=str(port),
        smtp_security="none",
        mail_from="reports@example.com",
        mail_to=",".join(to),
    )


@pytest.fixture
def context(two_weeks):
    return report.week_context(two_weeks, dt.date(2023, 5, 19), today=dt.date(2023, 6, 1))


def test_the_email_reaches_the_server_whole(context, smtp_server, tmp_path):
    inbox, port = smtp_server()
    delivery = mail.send_week(context, tmp_path / "out", tmp_path / "outbox", settings(port), backoff=0.01)
    assert delivery.via == "smtp" and delivery.attempts == 1
    [(recipients, raw)] = inbox.messages
    assert recipients == ["boss@example.com", "team@example.com"]
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == context["subject"]
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    text, html = (part.get_content() for part in alternative.iter_parts())
    import re

    # the chart's rows, as rendered (CSS inlining may reorder a tag's attributes)
    rows = {}
    for tag in re.findall(r'<tr class="chart-row"[^>]*>', html):
        rows[re.search(r'data-date="([\d-]+)"', tag).group(1)] = int(re.search(r'data-users="(\d+)"', tag).group(1))
    for day in context["days"]:
        assert rows[day["date"]] == day["users"]
        assert f"{day['label']:<11} {day['users']:5d}" in text
    headline = text.split("Active users this week:")[1].split("\n")[0].strip()
    assert headline == f"{context['distinct_users']:,}{context['distinct_versus']}" == "5 (previous week 3, +67%)"
    assert context["distinct_users"] == 5  # u0..u4 on the two-week lake (the ghost is anonymous)
    assert attachment.get_filename() == "weekly-data-2023-05-19.json"
    assert json.loads(attachment.get_content()) == context["body"]
    assert len(raw) < 100 * 1024
    assert "<svg" not in html and "<script" not in html and 'src="http' not in html
    assert 'width="600"' in html and "style=" in html  # table layout, CSS inlined


def test_a_server_that_refuses_then_accepts(context, smtp_server, tmp_path):
    inbox, port = smtp_server(refusals=2)
    delivery = mail.send_week(context, tmp_path / "out", tmp_path / "outbox", settings(port), backoff=0.01)
    assert delivery.attempts == 3 and len(inbox.messages) == 1


def test_a_server_that_always_refuses_fails_and_keeps_the_report(context, smtp_server, tmp_path):
    inbox, port = smtp_server(refusals=99)
    with pytest.raises(mail.DeliveryFailed, match="after 3 attempts"):
        mail.send_week(context, tmp_path / "out", tmp_path / "outbox", settings(port), backoff=0.01)
    assert (tmp_path / "outbox" / "2023-05-19.eml").exists()


def test_a_week_is_mailed_once_unless_resent(context, smtp_server, tmp_path):
    inbox, port = smtp_server()
    smtp = settings(port)
    args = (context, tmp_path / "out", tmp_path / "outbox", smtp)
    assert mail.send_week(*args, backoff=0.01).via == "smtp"
    assert mail.send_week(*args, backoff=0.01).via == "skipped"
    assert mail.send_week(*args, resend=True, backoff=0.01).via == "smtp"
    assert len(inbox.messages) == 2
    assert mail.send_week(*args, recipients=["cfo@example.com"], backoff=0.01).via == "smtp"  # new people


def test_without_a_server_the_message_goes_to_the_outbox(context, tmp_path):
    smtp = resolve(MailSettings)
    delivery = mail.send_week(context, tmp_path / "out", tmp_path / "outbox", smtp)
    assert delivery.via == "outbox"
    message = email.message_from_bytes(delivery.eml.read_bytes(), policy=policy.default)
    assert message["Subject"] == context["subject"]
    before = delivery.eml.read_bytes()
    assert mail.send_week(context, tmp_path / "out", tmp_path / "outbox", smtp).via == "skipped"
    assert delivery.eml.read_bytes() == before


def test_the_send_command_fails_clearly_when_the_server_refuses(two_weeks, smtp_server, tmp_path):
    inbox, port = smtp_server(refusals=99)
    env = {
        "ENGAGEMENT_SMTP_HOST": "127.0.0.1",
        "ENGAGEMENT_SMTP_PORT": str(port),
        "ENGAGEMENT_SMTP_SECURITY": "none",
        "ENGAGEMENT_SMTP_PASSWORD": "hunter2",
        "ENGAGEMENT_OUTBOX": str(tmp_path / "outbox"),
        "ENGAGEMENT_SMTP_BACKOFF": "0",  # the three attempts without the real 2 s + 4 s between them
    }
    result = run_cli(
        "send",
        "--lake",
        str(two_weeks),
        "--start",
        "2023-05-19",
        "--to",
        "boss@example.com",
        "--out",
        str(tmp_path / "out"),
        env=env,
    )
    assert result.returncode == 1
    assert "could not send to 127.0.0.1" in result.stderr and "the report stays in" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert (tmp_path / "outbox" / "2023-05-19.eml").exists()


def test_the_email_links_to_the_report_site_only_when_its_address_is_set(context):
    _, html, text = mail.render_email(context)
    assert "page-link" not in html and "report site" not in text and "http" not in text
    _, html, text = mail.render_email(context, "https://reports.example.com/")
    assert 'href="https://reports.example.com/reports/2023-05-19"' in html
    assert "On the report site: https://reports.example.com/reports/2023-05-19\n" in text
    with pytest.raises(Exception, match="ENGAGEMENT_PUBLIC_URL must start with http"):
        resolve(MailSettings, public_url="reports.example.com")
