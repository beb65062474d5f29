"""The page and the email's HTML, opened from disk in a real browser (Debian's Chromium)."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from conftest import screenshot

from pipelines.publish import mail, report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(two_weeks):
    return report.week_context(two_weeks, dt.date(2023, 5, 19), today=dt.date(2023, 6, 1))


def users_by_date(body: dict) -> dict[str, int]:
    return {f"{i['year']}-{i['month']:02d}-{i['day']:02d}": i["users"] for i in body["month"]}


def test_the_page_draws_the_json_in_chromium(browser, context, tmp_path):
    page_file = tmp_path / "2023-05-19.html"
    page_file.write_text(report.render_page(context))
    page = browser.new_page(viewport={"width": 900, "height": 1000})
    page.goto(page_file.as_uri())
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    bars = page.eval_on_selector_all(
        "g.bar",
        """groups => groups.map(g => ({
            date: g.dataset.date,
            label: g.querySelectorAll('text')[0].textContent,
            weekday: g.querySelectorAll('text')[1].textContent,
            height: g.querySelector('rect').getBoundingClientRect().height,
        }))""",
    )
    expected = users_by_date(context["body"])
    assert [b["date"] for b in bars] == [d["date"] for d in context["days"]]
    tallest = max(b["height"] for b in bars)
    for bar in bars:
        users = expected.get(bar["date"], 0)
        assert bar["label"] == str(users)
        assert bar["weekday"] == dt.date.fromisoformat(bar["date"]).strftime("%a")
        assert abs(bar["height"] - tallest * users / max(expected.values())) < 1.0
    assert page.inner_text("#distinct-users") == "5"
    assert (tmp_path / "page.png").stat().st_size > 10_000
    page.close()


def test_the_email_draws_the_json_in_chromium(browser, context, tmp_path):
    message = mail.build_message(context, "reports@example.com", ["boss@example.com"])
    html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_content()
    email_file = tmp_path / "email.html"
    email_file.write_text(html)
    page = browser.new_page(viewport={"width": 700, "height": 800})
    page.goto(email_file.as_uri())
    page.screenshot(path=str(tmp_path / "email.png"), full_page=True)
    rows = page.eval_on_selector_all(
        "tr.chart-row",
        """rows => rows.map(r => ({
            date: r.dataset.date,
            shown: r.querySelectorAll('td.num')[0].textContent,
            width: r.querySelector('td.bar, td.bar-missing').getBoundingClientRect().width,
        }))""",
    )
    expected = users_by_date(context["body"])
    widest = max(r["width"] for r in rows)
    for row in rows:
        users = expected.get(row["date"], 0)
        assert row["shown"] == str(users)
        if users:
            assert abs(row["width"] - widest * users / max(expected.values())) < 2.0
    card = page.eval_on_selector("table.card", "t => t.getBoundingClientRect().width")
    assert card <= 600
    page.close()


def test_a_manager_browses_weeks_and_the_index_from_disk(browser, two_weeks, tmp_path):
    """Published pages link to each other: previous week, index, next week; the weeks chart and the
    counters read as the context says, in Chromium."""
    from pipelines.metrics.weekly import weekly_data
    from pipelines.publish import outputs

    out = tmp_path / "out"
    for end in (dt.date(2023, 5, 12), dt.date(2023, 5, 19)):
        outputs.write_report(two_weeks, out, end)
    outputs.write_index(out, two_weeks)
    page = browser.new_page(viewport={"width": 900, "height": 1400})
    page.goto((out / "reports" / "2023-05-19.html").as_uri())
    weeks = page.eval_on_selector_all(
        "#weeks g.week", "gs => gs.map(g => [g.dataset.end, Number(g.dataset.users), g.dataset.current === 'true'])"
    )
    assert weeks[-1] == ["2023-05-19", 5, True] and weeks[-2] == ["2023-05-12", 3, False]
    heights = page.eval_on_selector_all("#weeks g.week rect", "rs => rs.map(r => r.getBoundingClientRect().height)")
    assert heights[-2] / heights[-1] == pytest.approx(3 / 5, abs=0.01) and heights[0] == 0
    counters = page.eval_on_selector_all(".counter", "cs => cs.map(c => [c.dataset.name, Number(c.dataset.value)])")
    body = weekly_data(two_weeks, dt.date(2023, 5, 19))
    assert counters[0] == ["DAU", users_by_date(body)["2023-05-19"]]
    page.screenshot(path=str(tmp_path / "week.png"), full_page=True)
    page.click("a[rel=prev]")
    assert page.url.endswith("/reports/2023-05-12.html")
    assert page.locator("h1").inner_text() == "Chat activity, week ending 12 May 2023"
    page.click("a[rel=next]")
    assert page.url.endswith("/reports/2023-05-19.html")
    page.click("#weeks-nav >> text=all weeks")
    assert page.url.endswith("/reports/index.html")
    assert page.locator("#year polyline").count() == 3 and page.locator("svg g.week").count() == 3
    screenshot(page, "static-index")
    page.click("table#weeks >> text=19 May 2023")
    assert page.url.endswith("/reports/2023-05-19.html")


def test_a_partial_week_reads_as_partial_in_chromium(browser, two_weeks, tmp_path):
    """The week ending Sun 21 May holds data through Fri 19 May: the page and the email say 6 of 8
    days are loaded, show the two others as not loaded yet (no bar, no -100%), and the subject says so."""
    context = report.week_context(two_weeks, dt.date(2023, 5, 21), today=dt.date(2023, 6, 1))
    subject, html, _ = mail.render_email(context)
    assert subject.endswith("(partial: 6 of 8 days)")
    for name, text in (("partial-page", report.render_page(context)), ("partial-email", html)):
        path = tmp_path / f"{name}.html"
        path.write_text(text)
        page = browser.new_page(viewport={"width": 900, "height": 1000})
        page.goto(path.as_uri())
        shown = page.locator("body").inner_text()
        assert "Partial week: 6 of 8 days loaded (through Fri 19 May)" in shown
        assert "not loaded yet" in shown
        for day in ("2023-05-20", "2023-05-21"):  # no count, no change: only that it is not loaded yet
            row = page.locator(f"tr[data-date='{day}']").inner_text()
            assert "not loaded yet" in row and "%" not in row and "-" not in row.replace("–", "")
        waiting = page.eval_on_selector_all("[data-status]", "es => es.map(e => [e.dataset.date, e.dataset.status])")
        assert [d for d, status in waiting if status == "not loaded yet"] == ["2023-05-20", "2023-05-21"]
        if name == "partial-page":
            drawn = page.eval_on_selector_all("g.bar rect", "rs => rs.length")
            assert drawn == 6  # no bar for a day not loaded
            assert "average daily users (over the 6 loaded days)" in shown
        screenshot(page, name)
        page.close()
