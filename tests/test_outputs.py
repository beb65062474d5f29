"""Published outputs: one JSON per end date, rewritten only when its 8 days changed."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import session
from helpers import ingest_docs

from pipelines.errors import UserError
from pipelines.metrics.weekly import weekly_data
from pipelines.publish import outputs


def day_session(_id: str, user: str, day: str, updated: str | None = None):
    return session(_id, user, f"{day}T10:00:00.000Z", f"{day}T11:00:00.000Z", updated=updated)


def test_end_dates_every_day_or_week():
    first, last = dt.date(2023, 5, 1), dt.date(2023, 5, 20)
    assert len(outputs.end_dates(first, last)) == 20
    assert outputs.end_dates(first, last, "week") == [dt.date(2023, 5, d) for d in (1, 8, 15)]


def test_the_last_complete_day_is_yesterday_in_the_server_zone():
    now = dt.datetime(2023, 5, 20, 23, 30, tzinfo=dt.timezone.utc)
    assert outputs.last_complete_day(now, "UTC") == dt.date(2023, 5, 19)
    assert outputs.last_complete_day(now, "Asia/Tokyo") == dt.date(2023, 5, 20)  # already the 21st there


def test_an_output_equals_weekly_data_and_a_rerun_writes_nothing(lake, export, tmp_path):
    ingest_docs(lake, export([day_session("a", "u1", "2023-05-19")]))
    out = tmp_path / "out"
    first = outputs.write_week(lake, out, dt.date(2023, 5, 19))
    assert first.written and first.body == weekly_data(lake, dt.date(2023, 5, 19))
    assert first.path.read_text() == '{"month":[{"users":1,"day":19,"month":5,"year":2023}],"success":true}\n'
    mtime = first.path.stat().st_mtime_ns
    again = outputs.write_week(lake, out, dt.date(2023, 5, 19))
    assert not again.written and again.path.stat().st_mtime_ns == mtime


def test_late_data_rewrites_only_the_weeks_that_contain_its_day(lake, export, tmp_path):
    docs = [day_session(f"s{d}", "u1", f"2023-05-{d:02d}") for d in range(1, 29)]
    ingest_docs(lake, export(docs))
    out = tmp_path / "out"
    ends = outputs.end_dates(dt.date(2023, 5, 8), dt.date(2023, 5, 28))
    assert all(w.written for w in [outputs.write_week(lake, out, end) for end in ends])
    ingest_docs(lake, export([day_session("late", "u2", "2023-05-10")]))  # a late export for the 10th
    rewritten = [w.end.day for w in (outputs.write_week(lake, out, end) for end in ends) if w.written]
    assert rewritten == list(range(10, 18))  # the 8 windows that contain the 10th, no other


def test_force_recomputes_but_writes_the_same_bytes(lake, export, tmp_path):
    ingest_docs(lake, export([day_session("a", "u1", "2023-05-19")]))
    out = tmp_path / "out"
    outputs.write_week(lake, out, dt.date(2023, 5, 19))
    assert not outputs.write_week(lake, out, dt.date(2023, 5, 19), force=True).written


def test_publishing_clears_a_killed_runs_temporary_files_and_nothing_else(tmp_path):
    from pipelines.publish.outputs import publishing

    out, outbox = tmp_path / "out", tmp_path / "outbox"
    leftovers = [
        out / "weekly-data" / ".2023-05-19.json.x1.tmp",
        out / "weekly-data" / ".keys" / ".2023-05-19.json.key.x2.tmp",
        out / "reports" / ".index.html.x3.tmp",
        out / "reports" / ".keys" / ".2023-05-19.json.x4.tmp",
        out / ".deliveries.jsonl.x5.tmp",
        outbox / ".2023-05-19.eml.x6.tmp",
    ]
    kept = [
        out / "weekly-data" / "2023-05-19.json",
        out / "reports" / "index.html",
        outbox / "2023-05-19.eml",
        out / "deliveries.jsonl",
        out / "weekly-data" / ".keys" / "2023-05-19.json.key",
    ]
    for path in leftovers + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    with publishing(out, outbox):
        assert [p for p in leftovers if p.exists()] == []
    assert all(p.exists() for p in kept)


def test_the_nightly_publishes_the_given_date_or_the_last_complete_day_in_the_lakes_zone(two_weeks):
    import datetime as dt

    from pipelines.publish.outputs import nightly_end

    now = dt.datetime(2023, 5, 20, 23, 30, tzinfo=dt.timezone.utc)  # the lake counts in UTC: the 20th is not over
    assert nightly_end(two_weeks, "UTC", False, dt.date(2023, 5, 1), now) == dt.date(2023, 5, 1)
    assert nightly_end(two_weeks, "UTC", False, None, now) == dt.date(2023, 5, 19)


def test_the_nightly_run_decides_without_prefect(tmp_path, monkeypatch):
    """runs.nightly_run is the nightly's logic as a plain function: yesterday's week in the lake's
    zone, the steps in order, and no second run while one holds the lake."""
    import datetime as dt
    import shutil

    from conftest import ROOT

    from pipelines import runs
    from pipelines.lake.locks import exclusive
    from pipelines.settings import load_settings

    monkeypatch.setenv("ENGAGEMENT_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.delenv("ENGAGEMENT_SMTP_HOST", raising=False)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(ROOT / "data" / "sample" / "rocketchat_sessions.json", inbox)
    settings = load_settings(str(tmp_path / "lake"), inbox=str(inbox), out=str(tmp_path / "out"))
    called = []

    def step(name, call):
        return lambda *args: called.append(name) or call(*args)

    steps = runs.Steps(
        ingest=step("ingest", runs.ingest_inbox),
        publish=step("publish", runs.publish_week),
        send=step("send", runs.send_report),
    )
    now = dt.datetime(2023, 5, 20, 0, 30, tzinfo=dt.timezone.utc)
    result = runs.nightly_run(settings, None, now, steps)
    assert called == ["ingest", "publish", "send"]
    assert result.end == dt.date(2023, 5, 19) and result.week.written and result.delivery.via == "outbox"
    assert result.as_dict()["path"] == str(tmp_path / "out" / "weekly-data" / "2023-05-19.json")
    assert result.summary[0] == "files: 1"

    called.clear()
    with exclusive(settings.lake, runs.NIGHTLY_LOCK), pytest.raises(UserError, match="another run"):
        runs.nightly_run(settings, None, now, steps)
    assert called == []

    def broken(settings, end):
        raise OSError("disk gone")

    with pytest.raises(runs.StepFailed, match="step 'publish week' failed: disk gone"):
        runs.nightly_run(settings, None, now, runs.Steps(publish=broken))


def test_the_index_is_rebuilt_only_when_what_it_shows_changed(two_weeks, export, tmp_path):
    """Its year of trends costs a big lake half a second: a nightly whose weeks did not change skips it."""
    out = tmp_path / "out"
    outputs.write_report(two_weeks, out, dt.date(2023, 5, 19))
    index = outputs.write_index(out, two_weeks)
    first = index.read_text()
    index.write_text("stale on purpose")  # a rebuild would put the real page back
    outputs.write_index(out, two_weeks)
    assert index.read_text() == "stale on purpose"  # same weeks, same days: not rebuilt
    ingest_docs(two_weeks, export([session("late", "u9", "2023-05-20T10:00:00.000Z", "2023-05-20T11:00:00.000Z")]))
    outputs.write_index(out, two_weeks)
    assert index.read_text() != "stale on purpose" and index.read_text() != first  # a new day: rebuilt
    outputs.write_report(two_weeks, out, dt.date(2023, 5, 12))
    index.write_text("stale again")
    outputs.write_index(out, two_weeks)
    assert '<a href="2023-05-12.html">' in index.read_text()  # a new week listed: rebuilt
