"""Every form mongoexport writes: relaxed and canonical Extended JSON, --jsonArray, gzip."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest
from helpers import ingest_docs, week
from test_upsert import lake_fingerprint

from pipelines.inputs.sample import documents, write_export

FIRST = dt.date(2023, 5, 1)


def relaxed_lines(seed: int = 3) -> list[str]:
    return list(documents(25, FIRST, 20, seed=seed))


def canonical_lines(seed: int = 3) -> list[str]:
    return list(documents(25, FIRST, 20, seed=seed, canonical=True))


def test_canonical_and_relaxed_give_the_same_lake(tmp_path):
    relaxed = tmp_path / "relaxed.json"
    canonical = tmp_path / "canonical.json"
    write_export(relaxed, iter(relaxed_lines()))
    write_export(canonical, iter(canonical_lines()))
    assert relaxed.read_text() != canonical.read_text()
    ingest_docs(tmp_path / "a", relaxed)
    ingest_docs(tmp_path / "b", canonical)
    assert lake_fingerprint(tmp_path / "a") == lake_fingerprint(tmp_path / "b")
    assert week(tmp_path / "a", "2023-05-16")  # something to compare


@pytest.mark.parametrize(
    "name,json_array",
    [
        ("export.json.gz", False),
        ("export-array.json", True),
        ("export-array.json.gz", True),
    ],
)
def test_array_and_gzip_forms_give_the_same_lake(tmp_path, name, json_array):
    plain = tmp_path / "plain.json"
    other = tmp_path / "other" / name
    write_export(plain, iter(relaxed_lines()))
    write_export(other, iter(relaxed_lines()), json_array=json_array)
    ingest_docs(tmp_path / "a", plain)
    ingest_docs(tmp_path / "b", other)
    assert lake_fingerprint(tmp_path / "a") == lake_fingerprint(tmp_path / "b")


def test_a_pretty_printed_json_array(tmp_path):
    docs = [json.loads(line) for line in relaxed_lines()[:50]]
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(docs, indent=2))
    plain = tmp_path / "plain.json"
    write_export(plain, iter(relaxed_lines()[:50]))
    ingest_docs(tmp_path / "a", plain)
    summary = ingest_docs(tmp_path / "b", pretty)
    assert summary.read == 50 and not summary.rejected
    assert lake_fingerprint(tmp_path / "a") == lake_fingerprint(tmp_path / "b")


def test_gzip_is_recognised_by_content_not_name(tmp_path):
    plain = tmp_path / "plain.json"
    write_export(plain, iter(relaxed_lines()))
    hidden = tmp_path / "compressed.json"
    hidden.write_bytes(gzip.compress(plain.read_bytes()))
    ingest_docs(tmp_path / "a", plain)
    ingest_docs(tmp_path / "b", hidden)
    assert lake_fingerprint(tmp_path / "a") == lake_fingerprint(tmp_path / "b")


def test_legacy_numeric_dates_and_number_wrappers(lake, export):
    login = 1684490400000  # 2023-05-19T10:00:00Z
    doc = {
        "_id": "s1",
        "type": "session",
        "userId": "u1",
        "device": {"type": "browser"},
        "loginAt": {"$date": login},
        "lastActivityAt": {"$date": {"$numberLong": str(login + 1000)}},
        "year": {"$numberLong": "2023"},
        "month": {"$numberDouble": "5.0"},
        "day": 19.0,
    }
    summary = ingest_docs(lake, export([doc]))
    assert not summary.rejected
    assert week(lake, "2023-05-19") == {(2023, 5, 19): 1}


def test_crlf_line_endings_and_blank_lines(lake, tmp_path):
    lines = relaxed_lines()[:20]
    path = tmp_path / "crlf.json"
    path.write_bytes(("\r\n".join(lines[:10]) + "\r\n\r\n\n" + "\r\n".join(lines[10:]) + "\r\n").encode())
    summary = ingest_docs(lake, path)
    assert summary.read == 20 and not summary.rejected


def test_a_folder_is_read_recursively(tmp_path):
    lines = relaxed_lines()
    write_export(tmp_path / "in" / "a.json", iter(lines[: len(lines) // 2]))
    write_export(tmp_path / "in" / "deeper" / "b.json.gz", iter(lines[len(lines) // 2 :]))
    (tmp_path / "in" / "notes.txt").write_text("not an export")
    summary = ingest_docs(tmp_path / "lake", tmp_path / "in")
    assert summary.files == 2 and summary.read == len(lines)


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
def test_json_arrays_are_split_as_they_stream(monkeypatch, chunk):
    import io

    from pipelines.inputs import json_array

    monkeypatch.setattr(json_array, "CHUNK_BYTES", chunk)
    docs = [
        {"_id": "a", "note": 'brackets ] } [ { and "quotes" and a backslash \\'},
        {"_id": "b", "nested": {"list": [1, [2, {"x": "]"}]]}},
        {"_id": "c"},
    ]
    text = json.dumps(docs, indent=2).encode() + b"\n"
    stream = io.BytesIO(text[5:])
    tables = list(json_array.array_batches(stream, text[:5]))
    lines = [line for t in tables for line in t.column("line").to_pylist()]
    numbers = [n for t in tables for n in t.column("line_no").to_pylist()]
    assert [json.loads(line) for line in lines] == docs
    assert numbers == [1, 2, 3]


def test_a_truncated_json_array_keeps_its_whole_elements(lake, tmp_path):
    lines = relaxed_lines()[:10]
    path = tmp_path / "cut.json"
    text = "[" + ",".join(lines) + "]"
    path.write_text(text[: len(text) - 40])  # the last element is cut
    summary = ingest_docs(lake, path)
    assert summary.read == 10 and dict(summary.rejected) == {"bad_json": 1}
