"""The week's report: one context (the endpoint body plus derived figures), rendered as a page."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import run_cli
from jinja2 import UndefinedError

from pipelines.metrics.weekly import weekly_data
from pipelines.publish import report


def test_the_context_carries_the_body_and_the_figures(two_weeks):
    context = report.week_context(two_weeks, dt.date(2023, 5, 19), today=dt.date(2023, 6, 1))
    assert context["body"] == weekly_data(two_weeks, dt.date(2023, 5, 19))
    assert [d["users"] for d in context["days"]] == [3, 3, 0, 3, 3, 5, 3, 3]
    assert context["total_user_days"] == 23
    assert context["average_daily_users"] == 2.9
    assert context["busiest"]["date"] == "2023-05-17"
    assert context["quietest"]["date"] == "2023-05-12"  # of the days with data; on a tie the earlier
    assert context["previous_total_user_days"] == 7 * 2 + 3  # the window 5..12 May
    assert context["distinct_users"] == 5
    wednesday = context["days"][5]
    assert (wednesday["week_before"], wednesday["change"], wednesday["change_pct"]) == (2, 3, 150.0)
    # a day without data between days with data is a hole (a lost export?), not "not yet"
    assert context["notices"] == [
        "No data for Sun 14 May, while the days around it have data: an export may be missing."
    ]
    assert context["subject"].startswith("Chat activity, week ending 19 May 2023: 5 active users (")


def test_recent_weeks_say_they_may_be_incomplete(two_weeks):
    context = report.week_context(two_weeks, dt.date(2023, 5, 19), today=dt.date(2023, 5, 20))
    assert any("may be incomplete" in notice for notice in context["notices"])


def test_the_page_shows_the_numbers_of_the_context(two_weeks):
    context = report.week_context(two_weeks, dt.date(2023, 5, 19), today=dt.date(2023, 6, 1))
    html = report.render_page(context)
    for d in context["days"]:
        assert f'data-date="{d["date"]}" data-users="{d["users"]}"' in html
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "No data for Sun 14 May, while the days around it have data: an export may be missing." in html


def test_strings_are_escaped_and_missing_fields_fail(two_weeks):
    context = report.week_context(two_weeks, dt.date(2023, 5, 19), today=dt.date(2023, 6, 1))
    context["tz"] = "<script>alert(1)</script>"
    assert "&lt;script&gt;" in report.render_page(context)
    del context["average_daily_users"]
    with pytest.raises(UndefinedError):
        report.render_page(context)


def test_the_report_command_writes_the_page(two_weeks, tmp_path):
    out = tmp_path / "week.html"
    result = run_cli("report", "--lake", str(two_weeks), "--start", "2023-05-19T23:59:59.999Z", "--out", str(out))
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    assert "Chat activity, week ending 19 May 2023" in page
    # a page on its own: no link to a week or an index that is not beside it
    assert 'id="weeks-nav"' not in page and 'href="index.html"' not in page and '.html"' not in page
    piped = run_cli("report", "--lake", str(two_weeks), "--start", "2023-05-19")
    assert piped.returncode == 0 and piped.stdout == page  # to stdout when it is no terminal (> week.html)


def test_the_report_command_writes_no_html_on_a_terminal(two_weeks):
    import os
    import pty
    import subprocess
    import sys

    from conftest import ROOT

    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGEMENT_")}
    args = [sys.executable, "-m", "pipelines", "report", "--lake", str(two_weeks), "--start", "2023-05-19"]
    done = subprocess.run(args, stdout=follower, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, timeout=120)
    os.close(follower)
    os.set_blocking(leader, False)
    try:
        shown = os.read(leader, 65536)
    except OSError:  # nothing was written: EAGAIN, or EIO once the terminal's other end is closed
        shown = b""
    os.close(leader)
    assert done.returncode == 2 and shown == b""
    assert done.stderr == (
        "engagement report: error: the report is a whole HTML page: write it to a file "
        "(--out week.html, or > week.html)\n"
    )


def test_the_index_lists_every_week_newest_first(tmp_path):
    weeks = [
        {"end": "2023-05-12", "end_label": "12 May 2023", "distinct_users": 4, "average_daily_users": 2.0},
        {"end": "2023-05-19", "end_label": "19 May 2023", "distinct_users": 1234, "average_daily_users": 3.5},
    ]
    html = report.index_page(tmp_path / "a lake without days", weeks)
    assert html.index("2023-05-19.html") < html.index("2023-05-12.html")
    assert "1,234" in html and "<svg" not in html  # a lake without days: no charts
    assert 'id="weekdays"' not in html and "Ending on a" not in html  # one weekday: one list


def test_the_index_lists_weeks_ending_on_other_weekdays_apart_and_says_why(tmp_path):
    """After `backfill --every day`, weeks ending on a Friday and on a Wednesday: one table each."""

    def week(end, users):
        return {"end": end, "end_label": end, "distinct_users": users, "average_daily_users": 1.0}

    weeks = [week("2023-05-12", 1), week("2023-05-17", 2), week("2023-05-19", 3), week("2023-05-10", 4)]
    html = report.index_page(tmp_path / "a lake without days", weeks)
    assert "These weeks end on 2 different weekdays, listed apart" in html
    friday, wednesday = html.index('data-weekday="Friday"'), html.index('data-weekday="Wednesday"')
    assert html.index("<h3>Ending on a Friday</h3>") < friday < wednesday  # the newest week's weekday first
    assert friday < html.index("2023-05-19.html") < html.index("2023-05-12.html") < wednesday
    assert wednesday < html.index("2023-05-17.html") < html.index("2023-05-10.html")


def test_the_index_charts_the_lakes_history(two_weeks):
    from pipelines.metrics.history import trend, windows

    history = report.history_context(two_weeks)
    ends = [dt.date(2023, 5, 5), dt.date(2023, 5, 12), dt.date(2023, 5, 19)]  # back from the last day
    assert [(w["end"], w["users"]) for w in history["lake_weeks"]] == [
        (e.isoformat(), n) for e, n, _ in windows(two_weeks, ends)
    ]
    # the lake is younger than a year: the lines start at its first day, and the heading says so
    year = trend(two_weeks, dt.date(2023, 5, 4), dt.date(2023, 5, 19)).to_pylist()
    assert [(d["date"], d["dau"], d["wau"], d["mau"]) for d in history["year"]] == [
        (r["date"].isoformat(), r["dau"], r["wau"], r["mau"]) for r in year
    ]
    assert history["year_since"] == "2023-05-04"
    html = report.index_page(two_weeks, [])
    # the headings say the spans the charts really cover
    assert "DAU, WAU and MAU, 4 May 2023 to 19 May 2023" in html
    assert "each 8-day window, ending on a Friday, 5 May 2023 to 19 May 2023" in html
    assert [t["label"] for t in history["date_ticks"]] == ["4 May", "11 May", "18 May"]
    assert html.count('class="week" data-end=') == 3 and html.count('<polyline class="line"') == 3
    assert "<script" not in html
    # the served index lists every week of the lake, with the headline each week's page shows
    served = report.index_page(two_weeks, site=True)
    listed = [f'<a href="{e}.html">' for e in ("2023-05-19", "2023-05-12", "2023-05-05")]
    assert all(link in served for link in listed)
    assert served.index(listed[0]) < served.index(listed[1]) < served.index(listed[2])
    page = report.week_context(two_weeks, dt.date(2023, 5, 19))
    assert {k: page[k] for k in report.HEADLINE_KEYS} == report.headline(
        dt.date(2023, 5, 19), page["distinct_users"], page["total_user_days"]
    )


@pytest.fixture(scope="module")
def sample_lake(tmp_path_factory):
    from conftest import ROOT
    from helpers import ingest_docs

    lake = tmp_path_factory.mktemp("sample") / "lake"
    ingest_docs(lake, ROOT / "data" / "sample" / "rocketchat_sessions.json")
    return lake


@pytest.mark.parametrize(
    "end,subject",
    [
        # distinct users against the previous window's distinct users, user-days against user-days
        (
            "2023-05-19",
            "Chat activity, week ending 19 May 2023: 33 active users (as many as the week before), "
            "96 user-days (-5% vs 101)",
        ),
        (
            "2023-05-12",
            "Chat activity, week ending 12 May 2023: 33 active users (+3% vs 32 the week before), "
            "101 user-days (+6% vs 95)",
        ),
        # the lake's first week (it begins on 28 Apr): partial, and nothing before it to compare with
        (
            "2023-04-30",
            "Chat activity, week ending 30 Apr 2023: 22 active users, 29 user-days (partial: 3 of 8 days)",
        ),
        # a week before the lake's data, and the calendar's first week (no week before exists)
        ("2022-04-30", "Chat activity, week ending 30 Apr 2022: 0 active users, 0 user-days (partial: 0 of 8 days)"),
        ("0001-01-03", "Chat activity, week ending 3 Jan 0001: 0 active users, 0 user-days (partial: 0 of 8 days)"),
    ],
)
def test_the_subject_compares_like_with_like(sample_lake, end, subject):
    context = report.week_context(sample_lake, dt.date.fromisoformat(end), today=dt.date(2024, 1, 1))
    assert context["subject"] == subject


@pytest.mark.parametrize("command", [["report"], ["send", "--dry-run"]])
def test_a_week_with_no_loaded_day_is_refused_in_one_line(sample_lake, tmp_path, command):
    """The sample's data ends on 19 May: the week ending 27 May would be a week of zeros."""
    result = run_cli(
        *command, "--lake", str(sample_lake), "--start", "2023-05-27T23:59:59.999Z", "--out", str(tmp_path / "o")
    )
    assert result.returncode == 1 and result.stdout == "" and result.stderr.count("\n") == 1
    assert result.stderr == (
        f"engagement {command[0]}: the lake holds no loaded day of 2023-05-20 .. 2023-05-27: its last loaded day "
        "is 2023-05-19 (its first 2023-04-28): the week ending 2023-05-27 is not reported (it would show zeros)\n"
    )
    assert not (tmp_path / "o").exists()
    assert (
        run_cli(*command, "--lake", str(sample_lake), "--start", "2023-05-20", "--out", str(tmp_path / "p")).returncode
        == 0
    )


def test_the_page_of_a_week_with_no_loaded_day_shows_no_number_and_no_bar(sample_lake):
    context = report.week_context(sample_lake, dt.date(2023, 5, 27))
    page = report.render_page(context, site=True)
    assert 'id="no-data">No number for this week: the lake holds no loaded day of 2023-05-20 .. 2023-05-27' in page
    assert "active users this week" not in page and "<rect" not in page and 'id="distinct-users"' not in page
    assert "Not loaded yet" not in page  # the partial week's notice says nothing more
    before = report.render_page(report.week_context(sample_lake, dt.date(2022, 4, 30)))
    assert 'id="no-data"' in before and "its first 2023-04-28" in before and "<rect" not in before


def test_the_weeks_chart_marks_partial_windows_and_draws_no_bar_without_data(sample_lake):
    page = report.render_page(report.week_context(sample_lake, dt.date(2023, 5, 19)))
    chart = page[page.index('id="weeks"') : page.index("</svg>", page.index('id="weeks"'))]
    assert chart.count('data-no-data="true"') == 8  # 3 Mar .. 21 Apr: before the lake's first day
    partial = chart[chart.index('data-end="2023-04-28"') :]
    assert 'data-partial="true"' in partial[:200] and 'fill-opacity="0.45"' in partial[: partial.index("</g>")]
    assert ">17*</text>" in partial  # the partial window's number, marked as the email marks it
    assert "* and paler bars: partial windows" in page and "–: no day of that window is loaded." in page


def test_the_headline_figures_say_which_is_which(sample_lake):
    from pipelines.publish import mail

    context = report.week_context(sample_lake, dt.date(2023, 5, 12), today=dt.date(2024, 1, 1))
    assert (context["distinct_users"], context["previous_distinct_users"]) == (33, 32)
    assert (context["total_user_days"], context["previous_total_user_days"]) == (101, 95)
    page = report.render_page(context)
    assert 'id="distinct-users">33</div><div class="label">active users this week (previous week 32, +3%)' in page
    assert "101 <span" in page and "user-days (previous week 95)" in page
    _, html, text = mail.render_email(context)
    assert "active users this week (previous week 32, +3%)" in html
    assert "Active users this week: 33 (previous week 32, +3%)" in text
    assert "User-days:              101 (previous week 95, +6%)" in text
    first = report.week_context(sample_lake, dt.date(2023, 4, 30), today=dt.date(2024, 1, 1))
    # nothing to compare with
    assert "active users this week (no comparison: this week is partial)</div>" in report.render_page(first)


def test_days_after_the_last_data_are_not_loaded_yet(two_weeks):
    context = report.week_context(two_weeks, dt.date(2023, 5, 21), today=dt.date(2023, 5, 22))
    assert context["notices"][:2] == [
        "Not loaded yet: Sat 20 May, Sun 21 May. "
        "Averages are over the loaded days; no change is stated against the week before.",
        "No data for Sun 14 May, while the days around it have data: an export may be missing.",
    ]
    assert "may be incomplete" in context["notices"][2]
    assert (context["previous_end"], context["next_end"]) == ("2023-05-14", None)
    assert [d["status"] for d in context["days"]] == ["loaded"] * 6 + ["not loaded yet"] * 2
    # the loaded days' users: 14..19 May (none on Sunday 14)
    assert context["total_user_days"] == 0 + 3 + 3 + 5 + 3 + 3
    assert context["average_daily_users"] == round(17 / 6, 1)
    assert [d["change"] for d in context["days"]][-2:] == [None, None]
    assert context["change_vs_previous_pct"] is None and context["distinct_change_pct"] is None
    assert context["subject"].endswith("(partial: 6 of 8 days)")
    assert context["counters_on"] == "2023-05-19"  # the last loaded day, not an empty Sunday
    assert context["completeness"] == "6 of 8 days loaded (through Fri 19 May)"


def test_the_week_in_context_uses_the_history_functions(two_weeks):
    from pipelines.metrics.history import trend, windows

    context = report.week_context(two_weeks, dt.date(2023, 5, 17), today=dt.date(2023, 6, 1))
    rows = trend(two_weeks, dt.date(2023, 5, 16), dt.date(2023, 5, 17)).to_pylist()
    assert [(c["name"], c["value"], c["change"]) for c in context["counters"]] == [
        (name, rows[1][key], rows[1][key] - rows[0][key])
        for name, key in (("DAU", "dau"), ("WAU", "wau"), ("MAU", "mau"))
    ]
    assert [(c["value"], c["change"]) for c in context["counters"]] == [(5, 2), (5, 2), (5, 2)]
    ends = [dt.date(2023, 5, 17) - dt.timedelta(days=7 * i) for i in range(11, -1, -1)]
    assert [(w["end"], w["users"]) for w in context["weeks"]] == [
        (e.isoformat(), n) for e, n, _ in windows(two_weeks, ends)
    ]
    assert [w["users"] for w in context["weeks"]][-3:] == [0, 2, 5] and context["weeks"][-1]["current"]
    page = report.render_page(context)
    assert (
        'data-name="WAU" data-value="5"' in page and 'data-end="2023-05-17" data-users="5" data-current="true"' in page
    )
    assert '<a rel="prev" href="2023-05-10.html">' in page and '<a rel="next" href="2023-05-24.html">' not in page


def test_the_email_carries_the_counters_and_the_weeks(two_weeks):
    from pipelines.publish import mail

    context = report.week_context(two_weeks, dt.date(2023, 5, 17), today=dt.date(2023, 6, 1))
    _, html, text = mail.render_email(context)
    import re

    # CSS inlining may reorder a tag's attributes: read them one by one
    def attributes(tag: str) -> dict[str, str]:
        return dict(re.findall(r'(data-[a-z]+)="([^"]*)"', tag))

    counters = [attributes(t) for t in re.findall(r"<td[^>]*data-name=[^>]*>", html)]
    assert counters == [{"data-name": c["name"], "data-value": str(c["value"])} for c in context["counters"]]
    for c in context["counters"]:
        assert f"{c['name']:<4} {c['value']:>6,}  {c['change']:+d} vs the day before" in text
    weeks = [attributes(t) for t in re.findall(r"<tr[^>]*data-end=[^>]*>", html)]
    assert weeks == [{"data-end": w["end"], "data-users": str(w["users"])} for w in context["weeks"]]
    for w in context["weeks"]:
        # a window before the lake's first day has no data: a dash, not a zero
        assert f"{w['label']:<8} {'-' if w['no_data'] else w['users']:>5}" in text
    assert [w["no_data"] for w in context["weeks"]] == [True] * 10 + [False] * 2
    assert "17 May       5  <- this week" in text
    assert "<svg" not in html and "<img" not in html and len(html.encode()) < 100 * 1024
