"""History: trends over any range, checked against the plain-Python reference (tests/reference.py)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import reference
from conftest import run_cli
from helpers import ingest_docs

from pipelines.history import trend
from pipelines.sample import documents
from pipelines.weekly import weekly_data


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
    rows = [(r["period_start"], r["users"], r["user_days"], r["partial"]) for r in table.to_pylist()]
    assert rows == reference.trend_periods(paths, first, last, every)
    for row in table.to_pylist():
        inside = (min(row["period_end"], last) - max(row["period_start"], first)).days + 1
        assert row["days"] == inside and row["avg_dau"] == round(row["user_days"] / inside, 2)
    assert rows[0][3] and rows[-1][3]  # both ends cut


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
        (["--from", "2023-12-18", "--to", "2023-12-01"], "--to 2023-12-01 is before --from 2023-12-18"),
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
