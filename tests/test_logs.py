"""Plain session logs, CSV or JSON lines, read through a column mapping."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli
from helpers import week

from pipelines.errors import UserError
from pipelines.ingest.run import ingest
from pipelines.inputs.logs import load_mapping

CSV = """user_id,started_at,last_seen,role,client
ana,2023-05-19T10:00:00.000Z,2023-05-19T11:00:00.000Z,user,firefox
ana,2023-05-19T12:00:00.000Z,2023-05-19T12:30:00.000Z,user,phone
bo,2023-05-19T10:00:00.000Z,2023-05-19T10:00:00.999Z,user,firefox
cy,2023-05-18T22:30:00,2023-05-18T23:30:00,user,firefox
dee,2023-05-18T10:00:00.000Z,2023-05-18T10:05:00.000Z,anonymous,firefox
eve,2023-05-17T10:00:00.000Z,,user,firefox
"""


def mapping(**extra):
    pairs = ["userId=user_id", "loginAt=started_at", "lastActivityAt=last_seen", *extra.pop("pairs", [])]
    return load_mapping(None, pairs, extra.get("timestamp_format"), extra.get("timezone"))


def test_a_csv_log_counts_what_its_rows_imply(lake, tmp_path):
    path = tmp_path / "sso.csv"
    path.write_text(CSV)
    summary = ingest([path], lake, "UTC", mapping=mapping(pairs=["mostImportantRole=role", "device=client"]))
    assert (summary.read, summary.stored, dict(summary.rejected)) == (6, 6, {})
    # ana: twice on the 19th, one user-day; bo: 999 ms; cy: naive times, UTC by default, on the 18th;
    # dee: anonymous; eve: no lastActivityAt
    assert week(lake, "2023-05-19") == {(2023, 5, 19): 1, (2023, 5, 18): 1}


@pytest.mark.parametrize("zone,day", [("UTC", 19), ("Asia/Tokyo", 18)])
def test_naive_log_times_are_read_in_the_log_zone(lake, tmp_path, zone, day):
    path = tmp_path / "sso.csv"
    # 03:30 on the 19th in Tokyo is 18:30 UTC on the 18th
    path.write_text("user_id,started_at,last_seen\ncy,2023-05-19 03:30:00,2023-05-19 04:30:00\n")
    ingest([path], lake, "UTC", mapping=mapping(timezone=zone))
    assert week(lake, "2023-05-19") == {(2023, 5, day): 1}


def test_without_a_role_column_nobody_is_anonymous(lake, tmp_path):
    path = tmp_path / "sso.csv"
    path.write_text(CSV)
    ingest([path], lake, "UTC", mapping=mapping())
    assert week(lake, "2023-05-19") == {(2023, 5, 19): 1, (2023, 5, 18): 2}


def test_a_json_lines_log_with_epoch_times_and_a_toml_mapping(lake, tmp_path):
    mapping_file = tmp_path / "proxy.toml"
    mapping_file.write_text(
        'format = "ndjson"\ntimestamp_format = "epoch_ms"\n'
        '[columns]\nuserId = "user"\nloginAt = "start"\nlastActivityAt = "end"\n_id = "sid"\n'
    )
    rows = [
        {"sid": "a", "user": "ana", "start": 1684490400000, "end": 1684494000000},
        {"sid": "b", "user": "bo", "start": 1684490400000, "end": 1684490400999},
        {"sid": "c", "user": "cy", "start": 1684404000000, "end": 1684407600000},
    ]
    path = tmp_path / "proxy.log"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    result = run_cli("ingest", "--lake", str(lake), "--mapping", str(mapping_file), str(path))
    assert result.returncode == 0, result.stderr
    assert "documents read: 3" in result.stdout
    assert week(lake, "2023-05-19") == {(2023, 5, 19): 1, (2023, 5, 18): 1}


def test_bad_rows_are_rejected_with_their_line(lake, tmp_path):
    path = tmp_path / "sso.csv"
    path.write_text(CSV + "fay,not a time,2023-05-19T11:00:00Z,user,firefox\n")
    summary = ingest([path], lake, "UTC", mapping=mapping())
    assert dict(summary.rejected) == {"bad_date:loginAt": 1}
    [reject] = [json.loads(x) for x in next((lake / "rejects").glob("*.jsonl")).read_text().splitlines()]
    assert reject["line"] == 8
    assert reject["text"] == "fay,not a time,2023-05-19T11:00:00Z,user,firefox"


def test_a_longer_sighting_of_the_same_session_replaces_the_first(lake, tmp_path):
    first = tmp_path / "monday.csv"
    first.write_text("user_id,started_at,last_seen\nana,2023-05-19T10:00:00Z,2023-05-19T10:00:00.500Z\n")
    ingest([first], lake, "UTC", mapping=mapping())
    assert week(lake, "2023-05-19") == {}
    later = tmp_path / "tuesday.csv"
    later.write_text("user_id,started_at,last_seen\nana,2023-05-19T10:00:00Z,2023-05-19T10:30:00Z\n")
    ingest([later], lake, "UTC", mapping=mapping())
    assert week(lake, "2023-05-19") == {(2023, 5, 19): 1}


@pytest.mark.parametrize(
    "pairs,message",
    [
        (["userId=user_id"], "must name a column for loginAt, lastActivityAt"),
        (["userId"], "a mapping pair is FIELD=COLUMN"),
        (["userId=u", "loginAt=l", "lastActivityAt=x", "colour=c"], "unknown field(s) in the log mapping: colour"),
    ],
)
def test_unusable_mappings_are_clear_errors(pairs, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_mapping(None, pairs, None, None)


def test_a_column_the_log_does_not_have_is_a_clear_error(lake, tmp_path):
    path = tmp_path / "sso.csv"
    path.write_text(CSV)
    result = run_cli(
        "ingest",
        "--lake",
        str(lake),
        "--map",
        "userId=login",
        "--map",
        "loginAt=started_at",
        "--map",
        "lastActivityAt=last_seen",
        str(path),
    )
    assert result.returncode == 2
    assert "has no column 'login'" in result.stderr
