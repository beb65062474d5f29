"""`engagement status`: the lake's health, and --check for monitoring."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
from conftest import run_cli, session, user_daily
from helpers import ingest_docs

from pipelines import runs
from pipelines.settings import load_settings

TODAY = dt.datetime.now(dt.timezone.utc).date()


def _day(days_ago: int) -> str:
    return (TODAY - dt.timedelta(days=days_ago)).isoformat()


def recent_docs(missing: set[int] = frozenset()) -> list[dict]:
    """Sessions on each of the last 10 days (but those `missing` days ago), and a rollup 12 days ago;
    the newest activity is yesterday at 23:00 (fresh: under 25 hours old whenever the test runs)."""
    docs = [
        session(f"s{n}", "u1", f"{_day(n)}T10:00:00.000Z", f"{_day(n)}T{23 if n == 1 else 11}:00:00.000Z")
        for n in range(1, 11)
        if n not in missing
    ]
    old = TODAY - dt.timedelta(days=12)
    return docs + [user_daily("u2", old.year, old.month, old.day)]


@pytest.fixture
def healthy(tmp_path, export, monkeypatch):
    """A lake whose nightly run just succeeded, with the last 10 days of data."""
    global TODAY
    TODAY = dt.datetime.now(dt.timezone.utc).date()  # the test's own today, not the module's import's (midnight)
    monkeypatch.setenv("ENGAGEMENT_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.delenv("ENGAGEMENT_SMTP_HOST", raising=False)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(export(recent_docs()), inbox / "export.json")
    settings = load_settings(str(tmp_path / "lake"), inbox=str(inbox), out=str(tmp_path / "out"))
    runs.nightly_run(settings, None, dt.datetime.now(dt.timezone.utc))
    return settings


def check(settings):
    return run_cli("status", "--check", "--lake", str(settings.lake), "--out", str(settings.out))


def test_a_healthy_lake_passes_the_check(healthy):
    result = check(healthy)
    assert (result.returncode, result.stdout) == (0, "ok: no problems\n")
    report = json.loads(run_cli("status", "--json", "--lake", str(healthy.lake), "--out", str(healthy.out)).stdout)
    assert (report["first_day"], report["last_day"], report["documents"]) == (_day(12), _day(1), 11)
    assert report["days_with_sessions"] == 10 and report["days_with_rollups_only"] == [[_day(12), _day(12)]]
    assert report["gaps"] == [[_day(11), _day(11)]]  # between the rollup and the sessions: not recent
    assert report["last_nightly"]["status"] == "succeeded" and report["stale_outputs"] == []
    assert report["last_ingest"]["documents"] == 11 and report["last_ingest"]["rejects_by_reason"] == {}


def test_a_missing_recent_day_is_a_problem(healthy, export):
    shutil.rmtree(healthy.lake)
    shutil.rmtree(healthy.out)  # (its outputs would be stale for the new lake)
    ingest_docs(healthy.lake, export(recent_docs(missing={3, 4})))
    runs.append_run(healthy.lake, {"started": _day(0) + "T00:00:00+00:00", "status": "succeeded"} | _ended_now())
    result = check(healthy)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"no data for {_day(4)}, while the days around it have data (a missing export?)",
        f"no data for {_day(3)}, while the days around it have data (a missing export?)",
    ]
    text = run_cli("status", "--lake", str(healthy.lake), "--out", str(healthy.out)).stdout
    assert f"gaps (no data between days with data): {_day(11)}, {_day(4)} .. {_day(3)}" in text


def _ended_now() -> dict:
    return {"ended": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "failed_step": None}


def test_a_stale_output_is_a_problem(healthy, export):
    week_end = TODAY - dt.timedelta(days=1)
    late = session("late", "u9", f"{_day(2)}T10:00:00.000Z", f"{_day(2)}T11:00:00.000Z")
    ingest_docs(healthy.lake, export([late]))  # a day of the published week changes
    result = check(healthy)
    assert result.returncode == 1
    hint = f"(`engagement backfill --from {week_end} --to {week_end}` writes it again)"
    assert result.stdout.splitlines() == [
        f"weekly-data/{week_end}.json is stale: its 8 days changed after it was written {hint}",
        f"reports/{week_end}.html is stale: its 8 days changed after it was written {hint}",
    ]
    # what that backfill does for the end date (flows.backfill: publish what changed, no --force)
    runs.publish_week(healthy, week_end, False, False)
    assert check(healthy).returncode == 0


def test_a_failed_or_missing_nightly_is_a_problem(healthy):
    def broken(settings):
        raise OSError("the inbox's disk is gone")

    with pytest.raises(runs.StepFailed):
        runs.nightly_run(healthy, None, dt.datetime.now(dt.timezone.utc), runs.Steps(ingest=broken))
    result = check(healthy)
    assert result.returncode == 1 and result.stdout.startswith("the last nightly run (")
    assert "failed at step 'ingest the inbox'" in result.stdout
    ledger = runs.read_runs(healthy.lake)
    assert [r["status"] for r in ledger] == ["succeeded", "failed"]
    assert ledger[-1]["error"] == "the inbox's disk is gone"
    old = dict(ledger[0], ended="2020-01-01T00:00:00+00:00")
    (healthy.lake / runs.LEDGER).write_text(json.dumps(old) + "\n")
    result = check(healthy)
    assert result.stdout == "no nightly run since 2020-01-01T00:00:00+00:00 (more than 36 hours)\n"
    (healthy.lake / runs.LEDGER).unlink()
    assert check(healthy).stdout == "no nightly run is recorded in this lake\n"


def test_status_mistakes(tmp_path):
    result = run_cli("status", "--lake", str(tmp_path / "none"))
    assert result.returncode == 2 and "no lake at" in result.stderr


def test_a_damaged_run_ledger_is_one_line(healthy):
    good = (healthy.lake / runs.LEDGER).read_text(encoding="utf-8")
    for damage in ("{not json\n", '["a list"]\n', '{"started": "x"}\n', "\u00ff\n"):
        (healthy.lake / runs.LEDGER).write_text(good + damage, encoding="utf-8")
        result = check(healthy)
        assert result.returncode == 2 and result.stderr.startswith("engagement status: error: ")
        assert "run ledger" in result.stderr and "at line 2" in result.stderr and result.stderr.count("\n") == 1
