"""Nothing lost: every document is stored or rejected with its file, line and reason."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import session
from helpers import ingest_docs, week

from pipelines.errors import UserError
from pipelines.ingest.run import ingest

GOOD = session("ok", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z")


def rejects_of(lake: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted((lake / "rejects").glob("*.jsonl"))
        # one reject a line: "\n" only (a reject's text may hold other line separators)
        for line in path.read_text(encoding="utf-8").split("\n")
        if line
    ]


def with_field(**fields) -> dict:
    doc = session("x", "u2", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z")
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not None}


@pytest.mark.parametrize(
    "bad,reason",
    [
        ('{"_id": "x", "type": "session", ', "bad_json"),
        ("not json at all", "bad_json"),
        ("[1, 2, 3]", "not_an_object"),
        ("42", "not_an_object"),
        (with_field(_id=None), "no_id"),
        (with_field(_id=17), "wrong_type:_id"),
        (with_field(type="login"), "unknown_type"),
        (with_field(type=None), "unknown_type"),
        (with_field(userId=5), "wrong_type:userId"),
        (with_field(loginAt={"$date": "yesterday"}), "bad_date:loginAt"),
        (with_field(loginAt="2023-05-19T10:00:00.000Z"), "bad_date:loginAt"),
        (with_field(lastActivityAt={"$date": {"$numberLong": "soon"}}), "bad_date:lastActivityAt"),
        (with_field(_updatedAt=12), "bad_date:_updatedAt"),
        (with_field(device="Chrome"), "wrong_type:device"),
        (with_field(mostImportantRole=["user"]), "wrong_type:mostImportantRole"),
        (with_field(year="2023", month=5, day=19), "wrong_type:year"),
        (with_field(year=2023, month=5.5, day=19), "wrong_type:month"),
        (with_field(year=2023, month=13, day=19), "bad_day_fields"),
        (with_field(year=2023, month=2, day=30), "bad_day_fields"),
        (with_field(loginAt=None), "no_day"),
        ({"_id": "u-2023-5-19", "type": "user_daily", "userId": "u"}, "no_day"),
        # values outside a type's range or the calendar: that document's reject, never the run's end
        (with_field(year=10000, month=1, day=1), "bad_day_fields"),
        (with_field(year=0, month=6, day=1), "bad_day_fields"),
        (with_field(year=-5, month=6, day=1), "bad_day_fields"),
        (with_field(year=3000000000, month=5, day=19), "bad_day_fields"),
        (with_field(year=3000000000), "bad_day_fields"),
        (with_field(loginAt={"$date": {"$numberLong": "253402300800000"}}), "bad_date:loginAt"),
        (with_field(loginAt={"$date": "0000-06-01T00:00:00.000Z"}), "bad_date:loginAt"),
        (with_field(lastActivityAt={"$date": {"$numberLong": "-62135596800001"}}), "bad_date:lastActivityAt"),
        (with_field(type=5), "wrong_type:type"),
    ],
)
def test_each_reason_is_reported_with_file_and_line(lake, export, bad, reason):
    path = export([GOOD, bad, GOOD | {"_id": "ok2"}])
    summary = ingest_docs(lake, path)
    assert summary.read == 3
    assert summary.stored == 2
    assert dict(summary.rejected) == {reason: 1}
    [reject] = rejects_of(lake)
    assert reject["file"] == str(path.resolve())
    assert reject["line"] == 2
    assert reject["reason"] == reason
    expected_text = bad if isinstance(bad, str) else json.dumps(bad, separators=(",", ":"))
    assert reject["text"] == expected_text
    assert week(lake, "2023-05-19") == {(2023, 5, 19): 1}  # the good documents were stored


def test_invalid_utf8_is_rejected_and_the_rest_kept(lake, tmp_path):
    path = tmp_path / "latin1.json"
    good = json.dumps(GOOD).encode()
    path.write_bytes(good + b"\n" + b'{"_id":"caf\xe9","type":"session"}\n' + good.replace(b'"ok"', b'"ok2"') + b"\n")
    summary = ingest_docs(lake, path)
    assert (summary.read, summary.stored, dict(summary.rejected)) == (3, 2, {"bad_utf8": 1})
    assert rejects_of(lake)[0]["line"] == 2


def test_blank_lines_are_not_documents_and_line_numbers_stay_true(lake, export):
    path = export([GOOD, "", "   ", "{broken", GOOD | {"_id": "ok2"}])
    summary = ingest_docs(lake, path)
    assert (summary.read, summary.stored) == (3, 2)
    assert [r["line"] for r in rejects_of(lake)] == [4]


def test_rejects_in_a_json_array_are_numbered_by_element(lake, tmp_path):
    path = tmp_path / "array.json"
    path.write_text(json.dumps([GOOD, with_field(userId=5), GOOD | {"_id": "ok2"}]))
    summary = ingest_docs(lake, path)
    assert dict(summary.rejected) == {"wrong_type:userId": 1}
    assert rejects_of(lake)[0]["line"] == 2


def test_re_ingesting_does_not_double_the_rejects(lake, export):
    path = export([GOOD, "{broken"])
    ingest_docs(lake, path)
    first = rejects_of(lake)
    ingest_docs(lake, path)
    assert rejects_of(lake) == first


def test_every_document_is_counted_once(lake, export):
    docs = [GOOD | {"_id": f"ok{i}"} for i in range(50)] + ["{bad"] * 7 + [with_field(userId=1)] * 3
    summary = ingest_docs(lake, export(docs))
    assert summary.read == 60
    assert summary.stored + sum(summary.rejected.values()) == summary.read
    assert len(rejects_of(lake)) == 10


def test_a_gzip_with_nothing_readable_is_a_clear_error(lake, tmp_path):
    path = tmp_path / "cut.json.gz"
    path.write_bytes(gzip.compress((json.dumps(GOOD) + "\n").encode() * 2000)[:12])
    with pytest.raises(UserError, match="cannot read .*truncated_gzip at byte"):
        ingest_docs(lake, path)


def test_a_missing_input_is_a_clear_error(lake, tmp_path):
    with pytest.raises(UserError, match="no such file or folder"):
        ingest_docs(lake, tmp_path / "nope.json")


def test_a_bad_later_version_does_not_replace_the_good_one(lake, export):
    good = session("s1", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z")
    later = good | {"type": 5, "_updatedAt": {"$date": "2023-05-20T00:00:00.000Z"}}
    ingest_docs(lake, export([good]))
    summary = ingest_docs(lake, export([later]))
    assert dict(summary.rejected) == {"wrong_type:type": 1}
    assert week(lake, "2023-05-19") == {(2023, 5, 19): 1}


def test_a_login_that_is_year_10000_in_the_servers_zone_is_rejected(lake, export):
    late = session("late", "u2", "9999-12-31T23:30:00.000Z", "9999-12-31T23:59:00.000Z")
    summary = ingest([export([GOOD, late])], lake, "Pacific/Kiritimati")
    assert summary.stored == 1
    assert dict(summary.rejected) == {"bad_date:loginAt": 1}
