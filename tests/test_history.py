"""History: trends over any range, checked against the plain-Python reference (tests/reference.py)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import reference
from conftest import run_cli, session, user_daily
from helpers import ingest_docs

from pipelines.inputs.sample import documents
from pipelines.metrics.history import trend
from pipelines.metrics.weekly import weekly_data


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """1 Sep .. 19 Dec 2023 of a generated server, with whole days missing (as if exports were lost)."""
    folder = tmp_path_factory.mktemp("history")
    docs = [json.loads(line) for line in documents(40, dt.date(2023, 9, 1), 110, seed=7)]
    missing = {dt.date(2023, 10, 3), dt.date(2023, 11, 14), dt.date(2023, 11, 15)}

    def day_of(doc):
        return dt.date(doc["year"], doc["month"], doc["day"])

    kept = [d for d in docs if day_of(d) not in missing]
    path = folder / "export.json"
    path.write_text("".join(json.dumps(d) + "\n" for d in kept))
    lake = folder / "lake"
    ingest_docs(lake, path)
    return lake, [path], missing


def test_daily_trend_is_exact_from_the_first_row_of_a_range_that_starts_mid_history(history):
    lake, paths, missing = history
    first, last = dt.date(2023, 10, 1), dt.date(2023, 12, 25)  # past the last day with data too
    table = trend(lake, first, last)
    assert table.column_names == ["date", "dau", "wau", "mau", "has_data"]
    rows = [(r["date"], r["dau"], r["wau"], r["mau"]) for r in table.to_pylist()]
    assert rows == reference.trend_daily(paths, first, last)
    has_data = {r["date"]: r["has_data"] for r in table.to_pylist()}
    assert not any(has_data[d] for d in missing) and not has_data[dt.date(2023, 12, 20)]
    assert has_data[dt.date(2023, 10, 2)] and has_data[dt.date(2023, 12, 19)]


def test_dau_is_weekly_datas_number_for_every_date(history):
    lake, _, _ = history
    first, last = dt.date(2023, 9, 1), dt.date(2023, 12, 24)  # 8-day windows cover every day with data
    dau = {r["date"]: r["dau"] for r in trend(lake, first, last).to_pylist()}
    shown = {}
    for end in sorted(dau)[7::8]:
        shown |= {dt.date(i["year"], i["month"], i["day"]): i["users"] for i in weekly_data(lake, end)["month"]}
    assert shown == {date: users for date, users in dau.items() if users}  # weekly-data leaves out zeros


@pytest.mark.parametrize("every", ["week", "month"])
def test_weekly_and_monthly_rows_are_exact(history, every):
    lake, paths, _ = history
    first, last = dt.date(2023, 9, 20), dt.date(2023, 12, 20)  # a Wednesday to a Wednesday
    table = trend(lake, first, last, every)
    rows = [(r["period_start"], r["users"], r["user_days"], r["avg_dau"], r["partial"]) for r in table.to_pylist()]
    assert rows == reference.trend_periods(paths, first, last, every)
    for row in table.to_pylist():
        inside = (min(row["period_end"], last) - max(row["period_start"], first)).days + 1
        assert row["days"] == inside
    assert rows[0][4] and rows[-1][4]  # both ends cut


def test_a_period_the_lake_does_not_wholly_hold_is_partial_and_averages_its_held_days(history):
    """October 2023 lacks the 3rd, November the 14th and 15th: each is partial though the range
    covers it whole, and its average DAU is over the days held only (as the reports average)."""
    lake, paths, missing = history
    rows = {r["period_start"]: r for r in trend(lake, dt.date(2023, 9, 1), dt.date(2023, 11, 30), "month").to_pylist()}
    for month in (dt.date(2023, 10, 1), dt.date(2023, 11, 1)):
        row = rows[month]
        lost = sum(d.month == month.month for d in missing)
        assert row["partial"] and row["days_with_data"] == row["days"] - lost
        assert row["avg_dau"] == round(row["user_days"] / row["days_with_data"], 2)
    assert not rows[dt.date(2023, 9, 1)]["partial"]  # held whole, and the range covers it
    empty = trend(lake, dt.date(2024, 2, 1), dt.date(2024, 3, 31), "month", require=False).to_pylist()
    assert [(r["avg_dau"], r["partial"], r["days_with_data"]) for r in empty] == [(None, True, 0)] * 2


def test_the_trend_command_writes_every_format(history, tmp_path):
    lake, _, _ = history
    args = ["trend", "--lake", str(lake), "--from", "2023-12-18", "--to", "2023-12-21"]
    table = run_cli(*args)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["date", "dau", "wau", "mau", "has_data"]
    assert table.stdout.splitlines()[-1].endswith("false")  # 21 December: no data
    assert table.stdout.splitlines()[1].endswith("true")
    csv = run_cli(*args, "--format", "csv").stdout.splitlines()
    assert csv[0] == "date,dau,wau,mau,has_data" and len(csv) == 5
    rows = json.loads(run_cli(*args, "--format", "json").stdout)
    assert [r["date"] for r in rows] == ["2023-12-18", "2023-12-19", "2023-12-20", "2023-12-21"]
    out = tmp_path / "trend.parquet"
    assert run_cli(*args, "--format", "parquet", "--out", str(out)).returncode == 0
    import pyarrow.parquet as pq

    assert pq.read_table(out).to_pylist() == trend(lake, dt.date(2023, 12, 18), dt.date(2023, 12, 21)).to_pylist()


@pytest.mark.parametrize(
    "extra,message",
    [
        (
            ["--from", "2023-12-18", "--to", "2023-12-01"],
            "the end date 2023-12-01 is before the start date 2023-12-18 (--to, --from)",
        ),
        (["--from", "2023-12-18", "--to", "2023-13-01"], "--to '2023-13-01' is not a date"),
        (["--from", "0001-01-01", "--to", "9999-12-31"], "more than 36,600 days: narrow it (the lake holds"),
        (["--from", "2023-12-18", "--to", "2023-12-19", "--format", "xml"], "unknown --format 'xml'"),
        (["--from", "2023-12-18", "--to", "2023-12-19", "--format", "parquet"], "--format parquet needs --out"),
        (["--from", "2023-12-18", "--to", "2023-12-19", "--every", "year"], "Invalid value for '--every'"),
    ],
)
def test_trend_mistakes_are_one_line(history, extra, message):
    lake, _, _ = history
    result = run_cli("trend", "--lake", str(lake), *extra)
    assert result.returncode == 2 and result.stdout == ""
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_trend_on_an_empty_or_missing_lake(tmp_path):
    result = run_cli("trend", "--lake", str(tmp_path / "none"), "--from", "2023-12-18", "--to", "2023-12-19")
    assert result.returncode == 2 and "no lake at" in result.stderr


D = "2023-05-19"


def _t(seconds: float) -> str:
    return (dt.datetime(2023, 5, 19, 10) + dt.timedelta(seconds=seconds)).isoformat(timespec="milliseconds") + "Z"


@pytest.fixture
def one_day(lake, export):
    """One hand-written day: a user counted per source, and one user per reason not to count."""
    other = {"type": "mobile-app", "name": "RC", "longVersion": "4", "os": {"name": "iOS", "version": "17"}}
    docs = [
        # counted from sessions: two devices, the role of the one with more seconds wins
        session("s1", "both-devices", _t(0), _t(100), role="user"),
        session("s2", "both-devices", _t(0), _t(500), role="admin", device=other),
        user_daily("from-rollup", 2023, 5, 19),  # counted from Rocket.Chat's rollup
        session("s3", "from-rollup-too", _t(0), _t(60)),
        user_daily("from-rollup-too", 2023, 5, 19, role="owner"),  # both: the rollup's role
        user_daily("ghost", 2023, 5, 19, role="anonymous"),
        session("s4", "quick", _t(0), _t(0.999)),  # 999 ms: not a whole second
        session("s5", "no-device", _t(0), _t(60), device=None),
        session("s6", "still-open", _t(0), None),
        session("s7", "no-login", None, _t(60), day=(2023, 5, 19)),
        json.dumps(session("bad", "x", _t(0), _t(60), device=None) | {"device": "a string"}),
        json.dumps(session("bad2", "y", _t(0), _t(60)) | {"mostImportantRole": 5}),
        "{broken",
    ]
    ingest_docs(lake, export(docs))
    return lake


def test_explain_counts_what_weekly_data_counts_and_says_why_the_others_are_left_out(one_day):
    from pipelines.metrics.history import explain

    users, rejects = explain(one_day, dt.date(2023, 5, 19))
    rows = {r["userId"]: r for r in users.to_pylist()}
    counted = [u for u, r in rows.items() if r["counted"]]
    assert counted == ["both-devices", "from-rollup", "from-rollup-too"]
    assert len(counted) == weekly_data(one_day, dt.date(2023, 5, 19))["month"][0]["users"]
    both = rows["both-devices"]
    assert (both["role"], both["source"], both["seconds"], both["sessions"]) == ("admin", "sessions", 600, 2)
    assert json.loads(both["device"])["type"] == "mobile-app"  # the device whose role was taken
    assert rows["from-rollup"]["source"] == "user_daily" and rows["from-rollup"]["device"] is None
    assert (rows["from-rollup-too"]["source"], rows["from-rollup-too"]["role"]) == ("both", "owner")
    reasons = {u: r["reason"] for u, r in rows.items() if not r["counted"]}
    assert reasons == {
        "ghost": "anonymous",
        "quick": "1 under a whole second (of 1 session)",
        "no-device": "1 without a device (of 1 session)",
        "still-open": "1 without lastActivityAt (of 1 session)",
        "no-login": "1 without loginAt (of 1 session)",
    }
    by_reason = {r["reason"]: r["documents"] for r in rejects.to_pylist()}
    assert by_reason == {"wrong_type:device": 1, "wrong_type:mostImportantRole": 1}  # "{broken" names no day
    assert all(str(one_day / "rejects") in r["rejects_file"] for r in rejects.to_pylist())


def test_explain_matches_weekly_data_on_every_date_of_the_test_lakes(history, two_weeks):
    from pipelines.metrics.history import explain
    from pipelines.sql import connect

    for lake, first, last in (
        (history[0], dt.date(2023, 9, 1), dt.date(2023, 12, 19)),
        (two_weeks, dt.date(2023, 5, 4), dt.date(2023, 5, 19)),
    ):
        con = connect()  # one connection for the lake's days (explain replaces its views)
        day = first
        while day <= last:
            users, _ = explain(lake, day, con)
            counted = sum(users.column("counted").to_pylist())
            shown = {dt.date(i["year"], i["month"], i["day"]): i["users"] for i in weekly_data(lake, day, con)["month"]}
            assert counted == shown.get(day, 0), day
            day += dt.timedelta(days=1)


def test_compare_days_and_weeks(two_weeks):
    from pipelines.metrics.history import compare

    # two_weeks: u0, u1 every day of the week before; u0..u2 (u0..u4 on the 17th) this week
    assert compare(two_weeks, (dt.date(2023, 5, 16),) * 2, (dt.date(2023, 5, 17),) * 2).to_pylist() == [
        {"userId": "u3", "change": "new"},
        {"userId": "u4", "change": "new"},
    ]
    result = run_cli("explain", "--lake", str(two_weeks), "--week", "2023-05-11", "--compare-week", "2023-05-19")
    assert result.returncode == 0 and result.stdout.split()[2:] == ["u2", "new", "u3", "new", "u4", "new"]
    gone = run_cli(
        "explain", "--lake", str(two_weeks), "--date", "2023-05-17", "--compare", "2023-05-18", "--format", "csv"
    )
    assert gone.stdout == "userId,change\nu3,gone\nu4,gone\n"


def test_the_explain_command(one_day):
    result = run_cli("explain", "--lake", str(one_day), "--date", D)
    assert result.returncode == 0
    assert result.stdout.startswith(f"{D}: 3 users counted (weekly-data's number)\n")
    assert "rejected documents that name 2023-05-19:" in result.stdout
    one = run_cli("explain", "--lake", str(one_day), "--date", D, "--user", "quick", "--format", "json")
    body = json.loads(one.stdout)
    assert body["counted"] == 3 and [u["userId"] for u in body["users"]] == ["quick"]


@pytest.mark.parametrize(
    "args,message",
    [
        ([], "name the day: --date D"),
        (["--date", "2023-02-30"], "--date '2023-02-30' is not a date"),
        (["--week", "2023-05-19"], "--week END and --compare-week END2 go together"),
        (["--date", D, "--format", "yaml"], "unknown --format 'yaml'"),
    ],
)
def test_explain_mistakes_are_one_line(one_day, args, message):
    result = run_cli("explain", "--lake", str(one_day), *args)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1


def test_the_notebook_api_gives_the_commands_numbers_as_dataframes(one_day, tmp_path):
    from pipelines import open_lake
    from pipelines.errors import UserError

    lake = open_lake(one_day, tmp_path / "out")
    frame = lake.trend("2023-05-18", "2023-05-19")
    cli = json.loads(
        run_cli(
            "trend", "--lake", str(one_day), "--from", "2023-05-18", "--to", "2023-05-19", "--format", "json"
        ).stdout
    )
    assert [{**r, "date": r["date"].isoformat()} for r in frame.to_dict("records")] == cli
    users = lake.explain(D)
    assert users["counted"].sum() == 3 and set(users.attrs["rejects"]["reason"]) == {
        "wrong_type:device",
        "wrong_type:mostImportantRole",
    }
    assert lake.sql("select count(*) as n from user_daily")["n"][0] == 4
    assert lake.weekly_data(D) == weekly_data(one_day, dt.date(2023, 5, 19))
    problems = lake.status()["problems"]  # a lake of 2023: its data is stale, and no nightly ran
    assert problems[0].startswith("stale data: newest activity 2023-05-19") and problems[1:] == [
        "no nightly run is recorded in this lake"
    ]
    assert list(lake.compare("2023-05-19", "2023-05-20")["change"]) == ["gone"] * 3
    with pytest.raises(UserError, match="no lake at"):
        open_lake(tmp_path / "none")


@pytest.mark.parametrize(
    "args",
    [
        ["trend", "--from", "2023-05-01", "--to", "2023-05-02"],
        ["explain", "--date", "2023-05-01"],
        ["explain", "--date", "2023-05-01", "--compare", "2023-05-02"],
    ],
)
def test_an_empty_lake_is_one_line(lake, export, args):
    ingest_docs(lake, export(['{"_id": "x1", "userId": 5}']))  # a lake whose only document was rejected
    result = run_cli(*args, "--lake", str(lake))
    assert result.returncode == 2 and result.stderr == (
        f"engagement {args[0]}: error: the lake {lake} holds no days yet: ingest exports into it first\n"
    )
    status = run_cli("status", "--lake", str(lake))
    assert status.returncode == 0 and "days: - .. -; 0 documents" in status.stdout
    assert run_cli("query", "--lake", str(lake), "select count(*) as n from sessions").stdout == "n\n0\n"


@pytest.mark.parametrize(
    "doc,reason",
    [
        (user_daily("x", 2023, 5, 19, role="anonymous"), "anonymous"),
        (session("s", "x", _t(0), _t(60), role="anonymous"), "anonymous"),
        (session("s", "x", _t(0), _t(0.999)), "1 under a whole second (of 1 session)"),
        (session("s", "x", _t(0), _t(60), device=None), "1 without a device (of 1 session)"),
        (session("s", "x", _t(0), None), "1 without lastActivityAt (of 1 session)"),
        (session("s", "x", None, _t(60), day=(2023, 5, 19)), "1 without loginAt (of 1 session)"),
    ],
)
def test_each_reason_on_its_own_export(lake, export, doc, reason):
    from pipelines.metrics.history import explain

    ingest_docs(lake, export([doc, session("ok", "counted", _t(0), _t(60))]))
    users, _ = explain(lake, dt.date(2023, 5, 19))
    assert [(r["userId"], r["counted"], r["reason"]) for r in users.to_pylist()] == [
        ("counted", True, None),
        ("x", False, reason),
    ]


@pytest.mark.parametrize("every", ["day", "week", "month"])
@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_trend_at_the_calendars_ends(two_weeks, every, fmt):
    for first, last in (("0001-01-01", "0001-02-10"), ("9999-11-20", "9999-12-31")):
        result = run_cli(
            "trend", "--lake", str(two_weeks), "--from", first, "--to", last, "--every", every, "--format", fmt
        )
        assert result.returncode == 0 and result.stderr == "", result.stderr
    rows = trend(two_weeks, dt.date(9999, 12, 20), dt.date(9999, 12, 31), "week").to_pylist()
    assert (rows[-1]["period_start"], rows[-1]["period_end"], rows[-1]["partial"]) == (
        dt.date(9999, 12, 27),
        dt.date(9999, 12, 31),
        True,  # the ISO week runs past the calendar
    )


def test_library_errors_speak_of_values_and_the_cli_adds_its_flags(two_weeks):
    """A notebook user reads about dates, not about --from and --to; the CLI names its flags."""
    from pipelines.errors import UserError
    from pipelines.inputs.logs import load_mapping

    with pytest.raises(UserError) as reversed_range:
        trend(two_weeks, dt.date(2023, 5, 19), dt.date(2023, 5, 1))
    assert str(reversed_range.value) == "the end date 2023-05-01 is before the start date 2023-05-19"
    with pytest.raises(UserError) as bad_period:
        trend(two_weeks, dt.date(2023, 5, 1), dt.date(2023, 5, 19), every="year")
    with pytest.raises(UserError) as bad_pair:
        load_mapping(None, ["userId"], None, None)
    for error in (reversed_range, bad_period, bad_pair):
        assert "--" not in str(error.value)
    cli = run_cli("trend", "--lake", str(two_weeks), "--from", "2023-05-19", "--to", "2023-05-01")
    assert cli.stderr == (
        "engagement trend: error: the end date 2023-05-01 is before the start date 2023-05-19 (--to, --from)\n"
    )


def test_monthly_trend_of_the_sample_averages_its_loaded_days(tmp_path):
    """The sample holds 28..30 April and 1..19 May 2023: April's average is over its 3 days, and
    neither month is held whole."""
    from conftest import ROOT

    lake = tmp_path / "lake"
    ingest_docs(lake, ROOT / "data" / "sample" / "rocketchat_sessions.json")
    rows = trend(lake, dt.date(2023, 4, 1), dt.date(2023, 5, 31), "month").to_pylist()
    assert [(r["avg_dau"], r["days_with_data"], r["partial"]) for r in rows] == [(9.67, 3, True), (12.42, 19, True)]
    table = run_cli("trend", "--lake", str(lake), "--from", "2023-04-01", "--to", "2023-05-31", "--every", "month")
    assert table.stdout.splitlines()[1].split() == ["2023-04-01", "2023-04-30", "22", "29", "9.67", "30", "3", "true"]
