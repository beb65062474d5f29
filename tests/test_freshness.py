"""Freshness: how far the lake's data reaches, what status --check and the nightly run do when it is
old, and how a partial week and a corrected week reach managers."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli, session, user_daily, write_ndjson
from helpers import ingest_docs

from pipelines import runs
from pipelines.lake.freshness import BEFORE_LAKE, LOADED, NOT_LOADED, freshness, freshness_of
from pipelines.lake.manifest import Entry
from pipelines.lake.state import LakeState
from pipelines.settings import load_settings
from pipelines.timeparse import parse_duration

UTC = dt.timezone.utc
D = dt.date(2023, 5, 19)  # the last day with data in the nightly scenarios below


def entry(newest: str | None, ingested: str, rollup: str | None = None) -> Entry:
    return Entry("/x", 1, 1, "h", 1, 1, 0, ingested, newest, rollup)


def state(*days: str, tz: str = "UTC") -> LakeState:
    lake = LakeState(tz=tz)
    lake.files["sessions"] = {d: f"{d}.parquet" for d in days}
    return lake


def test_a_day_counts_as_loaded_once_it_had_ended_before_the_ingest():
    held = state("2023-05-18", "2023-05-19")
    after = freshness_of([entry("2023-05-19T21:39:00.000Z", "2023-05-20T02:30:00+00:00")], held)
    assert (after.newest_day, after.loaded_through) == (D, D)
    # an export taken at noon holds half of its day: the day before is the last loaded one
    noon = freshness_of([entry("2023-05-19T11:00:00.000Z", "2023-05-19T12:00:00+00:00")], held)
    assert noon.loaded_through == D - dt.timedelta(days=1)
    assert noon.loaded_days(dt.date(2023, 5, 12), dt.date(2023, 5, 19)) == 1  # only the 18th
    assert after.loaded_days(dt.date(2023, 5, 12), dt.date(2023, 5, 19)) == 2
    assert after.loaded_days(dt.date(2023, 5, 20), dt.date(2023, 5, 27)) == 0
    assert [noon.status(d) for d in (dt.date(2023, 5, 17), D - dt.timedelta(days=1), D)] == [
        BEFORE_LAKE,
        LOADED,
        NOT_LOADED,
    ]


def test_the_day_ends_in_the_servers_zone():
    held = state("2023-05-19", tz="Europe/Berlin")
    # 19 May ends in Berlin at 22:00 UTC: an ingest at 21:30 UTC comes before its end
    early = freshness_of([entry("2023-05-19T21:00:00.000Z", "2023-05-19T21:30:00+00:00")], held)
    late = freshness_of([entry("2023-05-19T21:00:00.000Z", "2023-05-19T22:30:00+00:00")], held)
    assert (early.loaded_through, late.loaded_through) == (D - dt.timedelta(days=1), D)
    assert late.newest_label() == "2023-05-19 23:00"  # in the lake's zone


def test_the_first_ingest_that_brought_the_newest_activity_is_the_one_that_counts():
    entries = [
        entry("2023-05-19T21:00:00.000Z", "2023-05-19T22:00:00+00:00"),  # brought it before the day ended
        entry("2023-05-19T21:00:00.000Z", "2023-05-25T00:00:00+00:00"),  # the same data again, later
    ]
    assert freshness_of(entries, state("2023-05-19")).loaded_through == D - dt.timedelta(days=1)


def test_rollups_an_old_manifest_and_a_future_clock():
    held = state("2023-05-19")
    held.files["user_daily"] = {"2023-05-21": "r.parquet"}
    rollup = freshness_of([entry(None, "2023-06-01T00:00:00+00:00", "2023-05-21")], held)
    assert (rollup.newest_day, rollup.loaded_through, rollup.newest_activity) == (dt.date(2023, 5, 21),) * 2 + (None,)
    assert rollup.age(dt.datetime(2023, 5, 23, tzinfo=UTC)) == dt.timedelta(days=1)  # from the day's end
    # a manifest written before entries said how far they reach: the lake's last day
    old = freshness_of([entry(None, "2023-06-01T00:00:00+00:00")], state("2023-05-18", "2023-05-19"))
    assert old.loaded_through == D
    # activity stamped after its own ingest (a server clock ahead) counts as at the ingest
    ahead = freshness_of([entry("2030-01-01T00:00:00.000Z", "2023-05-20T03:00:00+00:00")], state("2023-05-19"))
    assert ahead.newest_activity == dt.datetime(2023, 5, 20, 3, tzinfo=UTC)
    empty = freshness_of([], LakeState())
    assert empty.loaded_through is None and empty.status(D) == BEFORE_LAKE and empty.age(dt.datetime.now(UTC)) is None


@pytest.mark.parametrize(
    "text,hours", [("26h", 26), ("50 h", 50), ("2d", 48), ("90m", 1.5), ("1d12h", 36), ("PT26H", 26), ("P2D", 48)]
)
def test_durations_read_like_dbt_thresholds(text, hours):
    assert parse_duration(text) == dt.timedelta(hours=hours)


@pytest.mark.parametrize("text", ["", "26", "h", "26x", "-1h", "P", "99999999999d"])
def test_a_bad_duration_is_refused(text):
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_bad_thresholds_are_one_line(tmp_path, export):
    ingest_docs(tmp_path / "lake", export([session("s", "u", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z")]))
    for env, says in (
        ({"ENGAGEMENT_FRESHNESS_WARN": "soon"}, "ENGAGEMENT_FRESHNESS_WARN: 'soon' is not a duration"),
        ({"ENGAGEMENT_FRESHNESS_WARN": "3d", "ENGAGEMENT_FRESHNESS_ERROR": "1d"}, "must not be shorter"),
    ):
        result = run_cli("status", "--lake", str(tmp_path / "lake"), env=env)
        assert result.returncode == 2 and says in result.stderr and len(result.stderr.splitlines()) == 1


def test_the_manifest_records_how_far_each_file_reaches(tmp_path, export):
    docs = [
        session("a", "u1", "2023-05-18T10:00:00.000Z", "2023-05-19T01:30:00.000Z"),
        session("b", "u2", "2023-05-19T09:00:00.000Z", None),
        user_daily("u3", 2023, 5, 17),
        '{"_id": "broken", ',  # rejected: reaches nowhere
    ]
    ingest_docs(tmp_path / "lake", export(docs))
    (line,) = (tmp_path / "lake" / "_manifest.jsonl").read_text().splitlines()
    recorded = json.loads(line)
    assert (recorded["newest_activity"], recorded["newest_rollup_day"]) == ("2023-05-19T09:00:00.000Z", "2023-05-17")
    fresh = freshness(tmp_path / "lake")
    assert (fresh.first_day, fresh.loaded_through) == (dt.date(2023, 5, 17), D)


# --- status --check ---------------------------------------------------------------------------


def _lake_aged(tmp_path, export, hours: float) -> Path:
    """A lake whose newest activity is `hours` old now, with a nightly run that just succeeded."""
    newest = dt.datetime.now(UTC) - dt.timedelta(hours=hours)
    iso = newest.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    lake = tmp_path / "lake"
    ingest_docs(lake, export([session("s", "u", iso, iso)]))
    runs.append_run(lake, {"started": "2026-01-01T00:00:00+00:00", "status": "succeeded"} | _ended_now())
    return lake


def _ended_now() -> dict:
    return {"ended": dt.datetime.now(UTC).isoformat(timespec="seconds")}


def test_check_warns_past_the_warn_threshold_and_fails_past_the_error_one(tmp_path, export):
    fresh = run_cli("status", "--check", "--lake", str(_lake_aged(tmp_path / "a", export, 2)), "--out", "o")
    assert (fresh.returncode, fresh.stdout) == (0, "ok: no problems\n")
    warned = run_cli("status", "--check", "--lake", str(_lake_aged(tmp_path / "b", export, 30)), "--out", "o")
    assert warned.returncode == 0
    assert warned.stdout.startswith("warning: stale data: newest activity ") and "(30 h old; warning after 26 h)" in (
        warned.stdout
    )
    stale = _lake_aged(tmp_path / "c", export, 24 * 1068)
    failed = run_cli("status", "--check", "--lake", str(stale), "--out", "o")
    assert failed.returncode == 1
    assert failed.stdout.splitlines()[0].endswith("(1,068 days old; error after 50 h)")
    loose = run_cli(
        "status",
        "--check",
        "--lake",
        str(stale),
        "--out",
        "o",
        env={"ENGAGEMENT_FRESHNESS_ERROR": "1100d", "ENGAGEMENT_FRESHNESS_WARN": "2000h"},
    )
    assert loose.returncode == 0 and "warning: stale data" in loose.stdout and "warning after 83 days" in loose.stdout
    text = run_cli("status", "--lake", str(stale), "--out", "o").stdout
    assert "data through: " in text and "1,068 days old" in text


# --- the nightly run ------------------------------------------------------------------------


@pytest.fixture
def night(tmp_path, export, monkeypatch):
    """An inbox with the 8 days to D (the newest activity 23:00 on D) and the run's settings."""
    monkeypatch.setenv("ENGAGEMENT_OUTBOX", str(tmp_path / "outbox"))
    for name in ("ENGAGEMENT_SMTP_HOST", "ENGAGEMENT_MAIL_TO", "ENGAGEMENT_MAIL_CORRECTIONS"):
        monkeypatch.delenv(name, raising=False)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    days = [D - dt.timedelta(days=n) for n in range(8)]
    docs = [
        session(f"{d}-{u}", f"u{u}", f"{d}T10:00:00.000Z", f"{d}T{23 if d == D else 11}:00:00.000Z")
        for d in days
        for u in range(3)
    ]
    shutil.copy(export(docs), inbox / "export.json")
    return load_settings(str(tmp_path / "lake"), inbox=str(inbox), out=str(tmp_path / "out"))


def at(day: dt.date) -> dt.datetime:
    """The nightly run's time: 02:30 UTC on `day`."""
    return dt.datetime.combine(day, dt.time(2, 30), UTC)


def test_three_nights_without_exports_warn_then_fail_and_mail_nothing_for_an_empty_week(night):
    first = runs.nightly_run(night, None, at(D + dt.timedelta(days=1)))
    assert (first.end, first.loaded_days, first.delivery.via) == (D, 8, "outbox")
    assert not any(line.startswith("warning") for line in first.summary)
    second = runs.nightly_run(night, None, at(D + dt.timedelta(days=2)))  # no new export: 27.5 h old
    assert second.summary[-1] == (
        "warning: stale data: newest activity 2023-05-19 23:00 (28 h old; warning after 26 h)"
    )
    assert (second.end, second.loaded_days) == (D + dt.timedelta(days=1), 7)
    eml = (night.outbox / f"{D + dt.timedelta(days=1)}.eml").read_bytes()
    assert b"(partial: 7 of 8 days)" in eml.replace(b"=\n", b"").replace(b"\n ", b" ")
    with pytest.raises(runs.StepFailed) as failed:  # 51.5 h old: past the error threshold
        runs.nightly_run(night, None, at(D + dt.timedelta(days=3)))
    assert failed.value.step == "check freshness"
    assert str(failed.value) == (
        "step 'check freshness' failed: stale data: newest activity 2023-05-19 23:00 (52 h old; error after 50 h): "
        "no new export since; nothing published or mailed"
    )
    third_week = D + dt.timedelta(days=2)
    assert not (night.out / "weekly-data" / f"{third_week}.json").exists()
    assert not (night.outbox / f"{third_week}.eml").exists()
    ledger = runs.read_runs(night.lake)
    assert [(r["status"], r["new_files"]) for r in ledger] == [("succeeded", 1), ("succeeded", 0), ("failed", 0)]
    assert ledger[-1]["failed_step"] == "check freshness"
    check = run_cli("status", "--check", "--lake", str(night.lake), "--out", str(night.out))
    assert check.returncode == 1
    assert check.stdout.splitlines()[0].startswith("stale data: newest activity 2023-05-19 23:00 (")
    assert "failed at step 'check freshness': stale data" in check.stdout


def test_an_empty_lake_fails_the_night_loudly(night):
    (night.inbox / "export.json").unlink()
    with pytest.raises(runs.StepFailed, match="holds no data: nothing to publish"):
        runs.nightly_run(night, None, at(D))


def test_a_missing_inbox_is_one_line_and_exit_2(tmp_path):
    for command in (["nightly"], ["ingest", "--inbox"]):
        missing = tmp_path / "no-inbox"
        flag = [] if command == ["ingest", "--inbox"] else ["--inbox"]
        result = run_cli(*command, *flag, str(missing), "--lake", str(tmp_path / "lake"))
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().endswith(
            f"the inbox {missing} does not exist: create it and have the exports "
            "copied there, or name the right folder (--inbox)"
        )
        assert not missing.exists() and not (tmp_path / "lake").exists()


def test_a_rerun_of_a_past_week_is_measured_at_that_weeks_end(night):
    """`nightly --date D` on an old lake: the data reaches D, so it is fresh for that week."""
    result = runs.nightly_run(night, D, dt.datetime.now(UTC))
    assert result.loaded_days == 8 and result.delivery.via == "outbox"
    with pytest.raises(runs.StepFailed, match="check freshness"):
        runs.nightly_run(night, D + dt.timedelta(days=5), dt.datetime.now(UTC))


def test_a_week_with_no_loaded_day_is_never_published_nor_mailed(night, monkeypatch):
    """With thresholds loose enough to let a rerun through, the week after the data still has no
    loaded day: the run fails at its freshness step and writes nothing (no week of zeros)."""
    monkeypatch.setenv("ENGAGEMENT_FRESHNESS_WARN", "365d")
    monkeypatch.setenv("ENGAGEMENT_FRESHNESS_ERROR", "365d")
    loose = load_settings(str(night.lake), inbox=str(night.inbox), out=str(night.out))
    later = D + dt.timedelta(days=8)
    with pytest.raises(runs.StepFailed) as failed:
        runs.nightly_run(loose, later, at(later + dt.timedelta(days=1)))
    assert str(failed.value) == (
        f"step 'check freshness' failed: the lake holds no loaded day of {D + dt.timedelta(days=1)} .. {later}: "
        f"its last loaded day is {D} (its first {D - dt.timedelta(days=7)}): "
        f"the week ending {later} is not published or mailed"
    )
    assert not (loose.out / "weekly-data" / f"{later}.json").exists()
    assert not (loose.outbox / f"{later}.eml").exists()
    assert runs.nightly_run(loose, later - dt.timedelta(days=1), at(later)).loaded_days == 1  # one day: partial


# --- corrections -----------------------------------------------------------------------------


@pytest.fixture
def mailed(night, smtp_server, monkeypatch):
    """The week ending D mailed through a real SMTP server; then late data for D in the inbox."""
    inbox, port = smtp_server()
    for name, value in {
        "ENGAGEMENT_SMTP_HOST": "127.0.0.1",
        "ENGAGEMENT_SMTP_PORT": str(port),
        "ENGAGEMENT_SMTP_SECURITY": "none",
        "ENGAGEMENT_MAIL_TO": "boss@example.com",
    }.items():
        monkeypatch.setenv(name, value)
    runs.nightly_run(night, D, at(D + dt.timedelta(days=1)))
    assert len(inbox.messages) == 1
    late = [session(f"late{u}", f"late{u}", f"{D}T12:00:00.000Z", f"{D}T13:00:00.000Z") for u in range(2)]
    write_ndjson(night.inbox / "late.json", late)
    return inbox


def _message(raw: bytes):
    import email
    from email import policy

    return email.message_from_bytes(raw, policy=policy.default)


def test_late_data_for_a_mailed_week_sends_exactly_one_correction(night, mailed):
    result = runs.nightly_run(night, D, at(D + dt.timedelta(days=1)))
    assert result.delivery.via == "skipped"  # the week itself is not mailed twice
    assert len(mailed.messages) == 2
    recipients, raw = mailed.messages[1]
    message = _message(raw)
    assert recipients == ["boss@example.com"]
    assert message["Subject"].strip() == "Corrected: chat activity, week ending 19 May 2023: 5 active users (was 3)"
    text = message.get_body(("plain",)).get_content()
    assert "- Fri 19 May: 5 (was 3)" in text and "- 24 user-days (was 3)" not in text
    assert "Why: late data ingested on " in text
    page = (night.out / "reports" / f"{D}.html").read_text()
    assert "Corrected on " in page and "5 active users (was 3); 26 user-days (was 24); Fri 19 May: 5 (was 3)." in page
    runs.nightly_run(night, D, at(D + dt.timedelta(days=1)))  # nothing changed since: no second correction
    assert len(mailed.messages) == 2
    check = run_cli("status", "--check", "--lake", str(night.lake), "--out", str(night.out))
    assert "stale" not in check.stdout.replace("stale data", "")  # no output left stale by the correction


def test_with_corrections_off_the_page_still_says_so(night, mailed, monkeypatch):
    monkeypatch.setenv("ENGAGEMENT_MAIL_CORRECTIONS", "off")
    result = runs.nightly_run(night, D, at(D + dt.timedelta(days=1)))
    assert [c.via for c in result.corrections] == ["off"] and len(mailed.messages) == 1
    assert "Corrected on " in (night.out / "reports" / f"{D}.html").read_text()


def test_send_says_a_sent_week_changed_and_sends_its_correction(night, mailed):
    import os

    from pipelines.ingest.run import ingest_with

    ingest_with(night, [night.inbox])
    args = ["--lake", str(night.lake), "--out", str(night.out), "--start", D.isoformat()]
    env = {k: v for k, v in os.environ.items() if k.startswith("ENGAGEMENT_")}  # the fixture's mail settings
    told = run_cli("send", *args, env=env)
    assert told.returncode == 0
    assert "but its numbers changed since: 5 active users (was 3)" in told.stdout and "--correction" in told.stdout
    sent = run_cli("send", "--correction", *args, env=env)
    assert sent.stdout.splitlines() == [
        "Corrected: chat activity, week ending 19 May 2023: 5 active users (was 3)",
        "sent to boss@example.com",
    ]
    again = run_cli("send", "--correction", *args, env=env)
    assert "no correction to send" in again.stdout and len(mailed.messages) == 2
