"""Damaged inputs: every document before the damage is kept, the damage is a reject with its offset."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import zlib

import bson
import pytest
from conftest import run_cli, session
from helpers import ingest_docs, week
from test_rejects import rejects_of

from pipelines.inputs.logs import load_mapping


def docs(n: int, prefix: str = "s") -> list[dict]:
    return [session(f"{prefix}{i}", f"u{i}", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z") for i in range(n)]


def ndjson(items: list[dict]) -> bytes:
    return "".join(json.dumps(d) + "\n" for d in items).encode()


def test_a_truncated_gzip_keeps_every_document_before_the_cut(lake, tmp_path):
    whole = gzip.compress(ndjson(docs(3000)))
    path = tmp_path / "cut.json.gz"
    path.write_bytes(whole[: len(whole) // 2])
    kept = zlib.decompressobj(31).decompress(whole[: len(whole) // 2]).count(b"\n")
    summary = ingest_docs(lake, path)
    assert summary.stored == kept > 0
    assert summary.read == summary.stored + sum(summary.rejected.values())
    assert summary.rejected["truncated_gzip"] == 1
    [damage] = [r for r in rejects_of(lake) if r["reason"] == "truncated_gzip"]
    assert damage["file"] == str(path.resolve())
    assert damage["offset"] == len(whole) // 2


def test_a_flipped_byte_in_a_gzip_is_reported_and_the_rest_kept(lake, tmp_path):
    whole = bytearray(gzip.compress(ndjson(docs(3000))))
    whole[len(whole) // 3] ^= 0x55
    path = tmp_path / "flip.json.gz"
    path.write_bytes(bytes(whole))
    summary = ingest_docs(lake, path)
    assert summary.rejected["corrupt_gzip"] == 1
    assert summary.stored > 0
    assert summary.read == summary.stored + sum(summary.rejected.values())
    [damage] = [r for r in rejects_of(lake) if r["reason"] == "corrupt_gzip"]
    assert 0 < damage["offset"] <= len(whole)


def test_garbage_after_a_gzip_member_is_reported(lake, tmp_path):
    path = tmp_path / "tail.json.gz"
    path.write_bytes(gzip.compress(ndjson(docs(10))) + b"not gzip at all")
    summary = ingest_docs(lake, path)
    assert summary.stored == 10
    assert dict(summary.rejected) == {"corrupt_gzip": 1}


def test_concatenated_gzip_members_and_padding_read_as_one_file(lake, tmp_path):
    path = tmp_path / "two.json.gz"
    path.write_bytes(gzip.compress(ndjson(docs(5, "a"))) + gzip.compress(ndjson(docs(5, "b"))) + b"\0" * 64)
    summary = ingest_docs(lake, path)
    assert (summary.stored, sum(summary.rejected.values())) == (10, 0)


def bson_docs(n: int) -> list[bytes]:
    return [
        bson.encode(
            {
                "_id": f"s{i}",
                "type": "session",
                "userId": f"u{i}",
                "mostImportantRole": "user",
                "device": {"type": "browser", "name": "Chrome", "os": {"name": "Linux"}},
                "loginAt": dt.datetime(2023, 5, 19, 10),
                "lastActivityAt": dt.datetime(2023, 5, 19, 11),
                "year": 2023,
                "month": 5,
                "day": 19,
            }
        )
        for i in range(n)
    ]


def test_a_bad_byte_inside_one_bson_device_rejects_that_document_only(lake, tmp_path):
    parts = bson_docs(20)
    at = sum(len(d) for d in parts[:5]) + parts[5].index(b"Chrome") - 4  # the length of the name string
    data = bytearray(b"".join(parts))
    data[at] = 0x70
    path = tmp_path / "rocketchat_sessions.bson"
    path.write_bytes(bytes(data))
    summary = ingest_docs(lake, path)
    assert (summary.read, summary.stored, dict(summary.rejected)) == (20, 19, {"bad_bson": 1})
    [reject] = rejects_of(lake)
    assert (reject["line"], reject["offset"]) == (6, sum(len(d) for d in parts[:5]))


def test_a_bson_string_that_is_not_utf8_rejects_that_document_only(lake, tmp_path):
    parts = bson_docs(10)
    data = bytearray(b"".join(parts))
    data[sum(len(d) for d in parts[:3]) + parts[3].index(b"u3\0")] = 0xFF
    path = tmp_path / "rocketchat_sessions.bson"
    path.write_bytes(bytes(data))
    summary = ingest_docs(lake, path)
    assert (summary.stored, dict(summary.rejected)) == (9, {"bad_bson": 1})


def test_a_truncated_bson_gz_keeps_what_came_before(lake, tmp_path):
    whole = gzip.compress(b"".join(bson_docs(2000)))
    path = tmp_path / "rocketchat_sessions.bson.gz"
    path.write_bytes(whole[: len(whole) // 2])
    summary = ingest_docs(lake, path)
    assert summary.stored > 0
    assert summary.rejected["truncated_gzip"] == 1
    assert summary.read == summary.stored + sum(summary.rejected.values())


def test_lines_after_a_stray_array_line_are_read_as_lines(lake, tmp_path):
    path = tmp_path / "mixed.json"
    path.write_bytes(b"[1]\n" + ndjson(docs(2)) + b"not json\n")
    summary = ingest_docs(lake, path)
    assert (summary.read, summary.stored) == (4, 2)
    assert sorted((r["line"], r["reason"]) for r in rejects_of(lake)) == [(1, "not_an_object"), (4, "bad_json")]


def test_an_array_export_then_a_lines_export_keeps_both(lake, tmp_path):
    first, second = docs(300, "a"), docs(300, "b")
    path = tmp_path / "cat.json"
    path.write_bytes(json.dumps(first).encode() + b"\n" + ndjson(second))
    summary = ingest_docs(lake, path)
    assert (summary.read, summary.stored) == (600, 600)
    assert week(lake, "2023-05-19") == {(2023, 5, 19): 300}


CSV_HEADER = 'user_id,started_at,last_seen,us"er\n'


def log_mapping():
    return load_mapping(
        None,
        ["userId=user_id", "loginAt=started_at", "lastActivityAt=last_seen", 'mostImportantRole=us"er'],
        None,
        None,
    )


def test_a_malformed_csv_row_is_a_reject_of_that_row(lake, tmp_path):
    from pipelines.ingest.run import ingest

    rows = [
        "a,2023-05-19T10:00:00Z,2023-05-19T11:00:00Z,user",
        "b,2023-05-19T10:00:00Z,2023-05-19T11:00:00Z",  # a cell short
        '"c\nc",2023-05-19T10:00:00Z,2023-05-19T11:00:00Z,user',  # a quoted newline: two lines
        "d,2023-05-19T10:00:00Z,2023-05-19T11:00:00Z,user,extra",
        "e,2023-05-19T10:00:00Z,2023-05-19T11:00:00Z,user",
    ]
    path = tmp_path / "sso.csv"
    path.write_bytes(
        (CSV_HEADER + "\n".join(rows) + "\n").encode() + b"f,2023-05-19T10:00:00Z,2023-05-19T11:00:00Z,\xff\n"
    )
    summary = ingest([path], lake, "UTC", mapping=log_mapping())
    assert (summary.read, summary.stored) == (6, 3)
    assert sorted((r["line"], r["reason"]) for r in rejects_of(lake)) == [
        (3, "bad_csv_row"),
        (6, "bad_csv_row"),
        (8, "bad_utf8"),
    ]


def test_log_columns_with_any_name_work(lake, tmp_path):
    from pipelines.ingest.run import ingest

    path = tmp_path / "sso.jsonl"
    line = {
        "user_id": "a",
        "started_at": "2023-05-19T10:00:00Z",
        "last_seen": "2023-05-19T11:00:00Z",
        'us"er': "anonymous",
    }
    path.write_text(json.dumps(line) + "\n" + json.dumps(line | {"user_id": "b", 'us"er': "user"}) + "\n")
    summary = ingest([path], lake, "UTC", mapping=log_mapping())
    assert summary.stored == 2
    assert week(lake, "2023-05-19") == {(2023, 5, 19): 1}  # the anonymous one is read from us"er


def test_a_truncated_gzip_log_keeps_its_rows_through_the_command(lake, tmp_path):
    rows = "".join(f"u{i},2023-05-19T10:00:00Z,2023-05-19T11:00:00Z,user\n" for i in range(5000))
    whole = gzip.compress((CSV_HEADER + rows).encode())
    path = tmp_path / "sso.csv.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    result = run_cli(
        "ingest",
        "--lake",
        str(lake),
        "--map",
        "userId=user_id",
        "--map",
        "loginAt=started_at",
        "--map",
        "lastActivityAt=last_seen",
        str(path),
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "truncated_gzip: 1" in result.stdout


@pytest.mark.parametrize("name", ["a.json.gz", "rocketchat_sessions.bson.gz"])
def test_a_gzip_that_is_damaged_from_its_start_is_a_one_line_error(lake, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x1f\x8b\x08\x00garbage that is no deflate stream")
    result = run_cli("ingest", "--lake", str(lake), str(path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "cannot read" in result.stderr
