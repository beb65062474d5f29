"""`engagement prune`: raw rows age out and every endpoint body over the pruned days stays the same;
a later export cannot change a pruned day; a kill at any point leaves the lake before or after, and
the rerun converges to the same bytes; the nightly applies ENGAGEMENT_KEEP_RAW."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import run_cli, session, user_daily, write_ndjson
from test_forget import GONE, STAYS, _exports, bodies

from pipelines.ingest.prune import last_date_to_prune
from pipelines.ingest.run import ingest
from pipelines.lake.state import read_state
from pipelines.metrics import weekly
from pipelines.timeparse import parse_keep

INGESTED = "2023-05-20T02:00:00Z"  # when the fixture's exports were ingested (the clock pinned)
LATER = "2023-07-01T00:00:00Z"  # a prune's clock: with 30 days kept, every day of the exports is older
PRUNE = ["prune", "--keep-raw", "30d"]


@pytest.fixture
def lake(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "lake"
    monkeypatch.setenv("ENGAGEMENT_NOW", INGESTED)
    ingest(_exports(tmp_path / "exports"), root, "UTC")
    monkeypatch.delenv("ENGAGEMENT_NOW")
    return root


def _prune(root: Path):
    return run_cli(*PRUNE, "--lake", str(root), env={"ENGAGEMENT_NOW": LATER})


def _files(root: Path) -> dict[str, bytes]:
    """Every file of the lake but its lock files, by path: what two runs must agree on, byte for byte."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def test_prune_drops_every_raw_row_and_no_body_changes(lake):
    before = bodies(lake)
    done = _prune(lake)
    assert done.returncode == 0, done.stderr
    assert "the dates through 2023-05-31 keep no raw rows" in done.stdout
    assert "raw sessions of 3 day(s), the raw messages of 2 day(s)" in done.stdout
    assert bodies(lake) == before
    state = read_state(lake)
    assert state.files["sessions"] == {} and state.files["chat_messages"] == {}
    assert not list(lake.glob("sessions/**/*.parquet")) and not list(lake.glob("chat_messages/**/*.parquet"))
    assert sorted(state.files["room_daily"]) == ["2023-05-15", "2023-05-16"]
    assert state.pruned == [
        {"at": "2023-07-01T00:00:00+00:00", "through": "2023-05-17", "days": [["2023-05-15", "2023-05-17"]]}
    ]
    assert state.ids == []
    # by hand: the logins of each day (the forgotten one's on the 17th is Rocket.Chat's rollup: no login)
    logins = {d: pq.read_table(lake / f).to_pylist() for d, f in sorted(state.files["logins"].items())}
    assert [(r["userId"], r["loginAt"].isoformat(), r["closedHour"]) for r in logins["2023-05-16"]] == [
        (STAYS, "2023-05-16T09:00:00", None),
        (GONE, "2023-05-16T10:00:00", None),
    ]
    assert [r["userId"] for r in logins["2023-05-17"]] == [STAYS]
    # the rejected line (no date; its file ingested before the cutoff) keeps its reason, not its text
    [rejects] = (lake / "rejects").glob("*.jsonl")
    [reject] = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert reject["reason"] == "bad_date:loginAt" and reject["text"] is None and GONE not in rejects.read_text()
    # a second prune changes nothing
    files = _files(lake)
    assert _prune(lake).returncode == 0
    assert _files(lake) == files


def test_a_later_export_cannot_change_a_pruned_day_and_a_new_old_day_is_pruned_next(lake, tmp_path):
    assert _prune(lake).returncode == 0
    pruned = bodies(lake)
    again = _exports(tmp_path / "again")
    late = session("s18", GONE, "2023-05-18T09:00:00.000Z", "2023-05-18T10:00:00.000Z")
    write_ndjson(tmp_path / "again" / "late.json", [late, user_daily(STAYS, 2023, 5, 19)])
    done = run_cli("ingest", *map(str, again), str(tmp_path / "again" / "late.json"), "--force", "--lake", str(lake))
    assert done.returncode == 0, done.stderr
    # 4 sessions and a rollup on the 15th..17th, 3 messages on the 15th and 16th: refused, and said so
    assert "  pruned_day: 8" in done.stdout and "engagement prune" in done.stdout
    state = read_state(lake)
    assert sorted(state.files["sessions"]) == ["2023-05-18", "2023-05-19"] and state.files["chat_messages"] == {}
    now = bodies(lake)
    assert {k: v for k, v in now.items() if "18" not in k} == {k: v for k, v in pruned.items() if "18" not in k}
    assert now["weekly 14-18"]["month"][0] == {"day": 18, "month": 5, "year": 2023, "users": 1}
    week = weekly.weekly_data(lake, dt.date(2023, 5, 19))
    # the 18th and 19th were never pruned: stored, counted, and gone at the next prune, their counts kept
    assert _prune(lake).returncode == 0
    state = read_state(lake)
    assert state.files["sessions"] == {} and bodies(lake) == now
    assert weekly.weekly_data(lake, dt.date(2023, 5, 19)) == week
    assert [p["days"] for p in state.pruned] == [[["2023-05-15", "2023-05-17"]], [["2023-05-18", "2023-05-19"]]]
    # the 19th held only Rocket.Chat's rollup: its logins file is empty, and the day is still held
    assert pq.read_table(lake / state.files["logins"]["2023-05-19"]).num_rows == 0
    assert state.held_days()[-1] == "2023-05-19"


def test_explain_and_status_say_what_was_pruned(lake, tmp_path):
    assert _prune(lake).returncode == 0
    told = run_cli("explain", "--date", "2023-05-16", "--lake", str(lake))
    assert told.returncode == 0, told.stderr
    assert "2023-05-16: 2 users counted" in told.stdout
    assert "the raw sessions of 2023-05-16 were pruned at 2023-07-01T00:00:00+00:00" in told.stdout
    assert "2 login(s) of 2 user(s)" in told.stdout
    as_json = json.loads(run_cli("explain", "--date", "2023-05-16", "--format", "json", "--lake", str(lake)).stdout)
    assert as_json["counted"] == 2 and "were pruned at" in as_json["note"]
    raw = run_cli("explain", "--date", "2023-05-18", "--lake", str(lake))
    assert "pruned" not in raw.stdout
    env = {"ENGAGEMENT_KEEP_RAW": "30d", "ENGAGEMENT_NOW": LATER}
    shown = run_cli("status", "--lake", str(lake), "--out", str(tmp_path / "out"), env=env)
    assert (
        "raw data kept: 30 days (ENGAGEMENT_KEEP_RAW); pruned through 2023-05-17 (3 days keep only their "
        "rollups; last prune 2023-07-01T00:00:00+00:00)"
    ) in shown.stdout
    assert (
        "days: 2023-05-15 .. 2023-05-17" in shown.stdout
        and "gaps (no data between days with data): none" in shown.stdout
    )
    report = json.loads(run_cli("status", "--json", "--lake", str(lake), "--out", str(tmp_path / "out")).stdout)
    assert report["raw_data"] == {
        "keep_days": None,
        "pruned_through": "2023-05-17",
        "pruned_days": 3,
        "last_pruned_at": "2023-07-01T00:00:00+00:00",
    }


def test_forget_after_prune_reaches_the_logins(lake):
    from test_forget import holding

    assert _prune(lake).returncode == 0
    before = bodies(lake)
    assert run_cli("forget", GONE, "--lake", str(lake), "--out", str(lake.parent / "out")).returncode == 0
    assert holding(lake, GONE) == []
    [pid] = set(pq.read_table(lake / read_state(lake).files["user_daily"]["2023-05-15"])["userId"].to_pylist())
    renamed = {k: json.loads(json.dumps(v).replace(f'"{GONE}"', f'"{pid}"')) for k, v in before.items()}
    assert bodies(lake) == renamed


@pytest.mark.parametrize("point", ["prune logins placed", "partition placed", "prune rejects written", "state written"])
def test_a_kill_during_prune_leaves_before_or_after_and_the_rerun_converges(lake, tmp_path, point):
    clean = tmp_path / "clean"
    shutil.copytree(lake, clean)
    assert _prune(clean).returncode == 0
    before = bodies(lake)
    env = {"ENGAGEMENT_NOW": LATER, "ENGAGEMENT_CRASH_AT": point}
    killed = run_cli(*PRUNE, "--lake", str(lake), env=env, process=True)
    assert killed.returncode == -9, killed.stderr
    assert bodies(lake) == before
    assert _prune(lake).returncode == 0
    assert bodies(lake) == before
    assert _files(lake) == _files(clean)


def test_the_nightly_prunes_what_ENGAGEMENT_KEEP_RAW_says(tmp_path, export, monkeypatch):
    from pipelines import runs
    from pipelines.settings import load_settings

    monkeypatch.setenv("ENGAGEMENT_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.setenv("ENGAGEMENT_KEEP_RAW", "3d")
    for name in ("ENGAGEMENT_SMTP_HOST", "ENGAGEMENT_MAIL_TO", "ENGAGEMENT_MAIL_CORRECTIONS"):
        monkeypatch.delenv(name, raising=False)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    days = [dt.date(2023, 5, d) for d in range(12, 20)]
    docs = [
        session(f"{d}-{u}", f"u{u}", f"{d}T10:00:00.000Z", f"{d}T{23 if d.day == 19 else 11}:00:00.000Z")
        for d in days
        for u in range(3)
    ]
    shutil.copy(export(docs), inbox / "export.json")
    settings = load_settings(str(tmp_path / "lake"), inbox=str(inbox), out=str(tmp_path / "out"))
    night = runs.nightly_run(settings, None, dt.datetime(2023, 5, 20, 2, 30, tzinfo=dt.timezone.utc))
    assert "kept raw: 3 days; the dates through 2023-05-16 keep no raw rows" in night.summary
    state = read_state(settings.lake)
    assert sorted(state.files["sessions"]) == ["2023-05-17", "2023-05-18", "2023-05-19"]
    assert sorted(state.files["logins"]) == [d.isoformat() for d in days[:5]]
    assert [i["users"] for i in night.week.body["month"]] == [3] * 8
    assert night.loaded_days == 8


def test_prune_mistakes_are_one_line(lake, tmp_path):
    nothing = run_cli("prune", "--lake", str(lake))
    assert nothing.returncode == 2 and nothing.stderr.count("\n") == 1 and "--keep-raw 30d" in nothing.stderr
    minutes = run_cli("prune", "--keep-raw", "30m", "--lake", str(lake))
    assert minutes.returncode == 2 and minutes.stderr.count("\n") == 1 and "whole days or weeks" in minutes.stderr
    setting = run_cli("prune", "--lake", str(lake), env={"ENGAGEMENT_KEEP_RAW": "a month"})
    assert setting.returncode == 2 and setting.stderr.count("\n") == 1 and "ENGAGEMENT_KEEP_RAW" in setting.stderr
    no_lake = run_cli(*PRUNE, "--lake", str(tmp_path / "none"))
    assert no_lake.returncode == 2 and "no lake at" in no_lake.stderr


def test_a_retention_reads_days_and_weeks_and_a_day_is_pruned_once_wholly_older():
    assert parse_keep("30d") == parse_keep("P30D") == dt.timedelta(days=30)
    assert parse_keep(" 13w ") == parse_keep("p13w") == dt.timedelta(days=91)
    for bad in ("30", "30m", "1y", "0d", "-3d", "d"):
        with pytest.raises(ValueError):
            parse_keep(bad)
    utc = dt.timezone.utc
    now = dt.datetime(2023, 5, 20, 2, 30, tzinfo=utc)
    assert last_date_to_prune(now, dt.timedelta(days=30), "UTC") == dt.date(2023, 4, 19)
    # 2023-04-20T02:30Z is still the 19th in Los Angeles: the 18th is the last day wholly older
    assert last_date_to_prune(now, dt.timedelta(days=30), "America/Los_Angeles") == dt.date(2023, 4, 18)
    assert last_date_to_prune(dt.datetime(1, 1, 2, tzinfo=utc), dt.timedelta(days=30), "UTC") is None


def test_the_sample_pruned_with_30_days_kept_answers_every_body_as_before(tmp_path):
    from conftest import ROOT

    from pipelines.metrics import activity

    root = tmp_path / "lake"
    ingest([ROOT / "data" / "sample" / "rocketchat_sessions.json"], root, "UTC")
    utc = dt.timezone.utc
    first, last = dt.datetime(2023, 4, 27, tzinfo=utc), dt.datetime(2023, 5, 20, tzinfo=utc)

    def answers() -> dict:
        whole = {
            "by-time": activity.users_by_time(root, first, last),
            "active": activity.active_users(root, first.date(), last.date()),
        }
        hours = {f"hourly {d}": activity.hourly_data(root, first + dt.timedelta(days=d, hours=7)) for d in range(24)}
        weeks = {f"weekly {d}": weekly.weekly_data(root, first.date() + dt.timedelta(days=d)) for d in range(24)}
        return {**bodies(root), **whole, **hours, **weeks}

    before = answers()
    assert sum(i["users"] for i in before["active"]["month"]) > 0 and before["by-time"]["week"]
    done = _prune(root)
    assert done.returncode == 0, done.stderr
    assert "the raw sessions of 22 day(s)" in done.stdout
    assert read_state(root).files["sessions"] == {} and not list(root.glob("sessions/**/*.parquet"))
    assert answers() == before
