"""The commands' one clock (pipelines/clock.py): ENGAGEMENT_NOW pins every age, default date and
recorded time; unset, the system clock; a bad value is one line and exit 2."""

from __future__ import annotations

import datetime as dt
import json

from conftest import run_cli, session

from pipelines.lake.manifest import read_manifest

NIGHT = {"ENGAGEMENT_NOW": "2023-05-20T02:30:00Z"}


def test_a_pinned_now_is_the_time_of_the_ingest_the_age_and_as_of(tmp_path, export):
    lake = str(tmp_path / "lake")
    path = export([session("s1", "u1", "2023-05-18T10:00:00.000Z", "2023-05-19T23:30:00.000Z")])
    assert run_cli("ingest", str(path), "--lake", lake, env=NIGHT).returncode == 0
    assert [e.ingested_at for e in read_manifest(tmp_path / "lake").entries] == ["2023-05-20T02:30:00+00:00"]

    status = run_cli("status", "--json", "--lake", lake, "--out", str(tmp_path / "out"), env=NIGHT)
    fresh = json.loads(status.stdout)["freshness"]
    assert (fresh["age_hours"], fresh["level"], fresh["loaded_through"]) == (3.0, "ok", "2023-05-19")
    # the same lake on the system clock: years old
    fresh = json.loads(run_cli("status", "--json", "--lake", lake, "--out", str(tmp_path / "out")).stdout)
    assert fresh["freshness"]["level"] == "error" and fresh["freshness"]["age_hours"] > 24 * 365

    # last-seen looks from the lake's last loaded day, whatever the clock says (not from a today the
    # lake holds nothing of: everyone would look inactive), and says so
    for env in (NIGHT, None):
        seen = run_cli("last-seen", "--count", "--format", "json", "--lake", lake, env=env)
        assert json.loads(seen.stdout)[0]["as_of"] == "2023-05-19"
        assert seen.stderr == "note: as of 2023-05-19, the lake's last loaded day (--as-of D looks from another day)\n"
    later = run_cli("last-seen", "--count", "--format", "json", "--lake", lake, "--as-of", dt.date.today().isoformat())
    assert json.loads(later.stdout)[0]["as_of"] == dt.date.today().isoformat()
    assert later.stderr == "note: the lake holds no loaded day after 2023-05-19: activity since is not known to it\n"


def test_forms_of_now(monkeypatch):
    from pipelines import clock

    utc = dt.timezone.utc
    for given, instant in [
        ("2023-05-20T02:30:00Z", dt.datetime(2023, 5, 20, 2, 30, tzinfo=utc)),
        ("2023-05-20T04:30:00+02:00", dt.datetime(2023, 5, 20, 2, 30, tzinfo=utc)),
        ("2023-05-20 02:30", dt.datetime(2023, 5, 20, 2, 30, tzinfo=utc)),  # no offset: UTC
        ("2023-05-20", dt.datetime(2023, 5, 20, tzinfo=utc)),
    ]:
        monkeypatch.setenv("ENGAGEMENT_NOW", given)
        assert clock.now() == instant and clock.now().tzinfo == utc
    monkeypatch.setenv("ENGAGEMENT_NOW", "")  # empty: unset, the system clock
    assert abs(clock.now() - dt.datetime.now(utc)) < dt.timedelta(minutes=1)


def test_a_bad_now_is_one_line(tmp_path, export):
    lake = str(tmp_path / "lake")
    path = export([session("s1", "u1", "2023-05-18T10:00:00.000Z", "2023-05-18T11:00:00.000Z")])
    done = run_cli("ingest", str(path), "--lake", lake, env={"ENGAGEMENT_NOW": "yesterday"})
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "engagement ingest: error: ENGAGEMENT_NOW must be an ISO time such as 2023-05-20T02:30:00Z or a date, "
        "not 'yesterday'"
    ]
    assert "Traceback" not in done.stdout + done.stderr
