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
    assert heights[-2] / heights[-1] == pytest.approx(3 / 5, abs=0.01)
    no_data = page.eval_on_selector_all(
        "#weeks g.week[data-no-data]", "gs => gs.map(g => g.querySelectorAll('rect').length)"
    )
    assert no_data and set(no_data) == {0} and len(heights) == len(weeks) - len(no_data)  # no bar, not a 0 bar
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


def test_the_index_draws_who_stays_in_chromium(browser, tmp_path):
    """The retention triangle, the lifecycle bars and DAU/MAU, read back from Chromium as the
    hand-worked answers (tests/test_cohorts.py) say."""
    from conftest import write_ndjson
    from test_cohorts import DOCS

    from pipelines.ingest.run import ingest
    from pipelines.publish import outputs

    lake, out = tmp_path / "lake", tmp_path / "out"
    ingest([write_ndjson(tmp_path / "export.json", DOCS)], lake, "UTC")
    outputs.write_index(out, lake)
    page = browser.new_page(viewport={"width": 900, "height": 1400})
    page.goto((out / "reports" / "index.html").as_uri())
    triangle = page.eval_on_selector_all(
        "#retention tr[data-cohort]",
        "rows => rows.map(r => [r.dataset.cohort, ...Array.from(r.querySelectorAll('td.share'), td => td.textContent)])",
    )
    assert triangle == [["2023-05-01", "100%", "50%", "100%"], ["2023-05-08", "100%", "50%"], ["2023-05-15", "100%"]]
    shades = page.eval_on_selector_all(
        "#retention td.share", "tds => tds.map(td => getComputedStyle(td).backgroundColor)"
    )
    assert shades[0] != shades[1] and shades[0] == shades[2]  # shaded by share: 100%, 50%, 100%
    weeks = page.eval_on_selector_all(
        "#lifecycle g.life",
        "gs => gs.map(g => [g.dataset.start, ...['new', 'returning', 'resurrecting', 'dormant'].map(k => Number(g.dataset[k]))])",
    )
    assert weeks == [["2023-05-01", 2, 0, 0, 0], ["2023-05-08", 2, 1, 0, -1], ["2023-05-15", 1, 2, 1, -1]]
    # above the axis the three stack, below it the dormant: the week of 8 May's bars, in pixels
    rects = page.eval_on_selector_all(
        "#lifecycle g.life:nth-of-type(2) rect",
        "rs => rs.map(r => [r.getBoundingClientRect().top, r.getBoundingClientRect().height])",
    )
    (ret_top, ret_h), (new_top, new_h), _, (dormant_top, dormant_h) = rects
    assert new_h == pytest.approx(2 * ret_h, rel=0.02) and dormant_h == pytest.approx(ret_h, rel=0.02)
    assert new_top < ret_top < dormant_top and dormant_top == pytest.approx(ret_top + ret_h, abs=0.5)
    # a lake of 17 days: every day's 30 days reach before it, so the whole line is the dashed one
    dashed = page.get_attribute("#dau-mau polyline.ratio.partial", "points").split()
    assert len(dashed) == 17 and page.get_attribute("#dau-mau polyline.ratio:not(.partial)", "points").strip() == ""
    assert "DAU/MAU 11.8%" in page.locator("#dau-mau").text_content()  # 17 May: (10 user-days / 17 days) / 5 users
    screenshot(page, "who-stays-index")
