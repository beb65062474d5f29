"""Several exports of the same sessions: upsert by _id, latest _updatedAt wins, whatever the order."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import session, user_daily
from helpers import ingest_docs, week

from pipelines.lake import state as lakemod

D = "2023-05-19"


def lake_fingerprint(root: Path) -> str:
    """A hash of every partition file's name and bytes, and of the state file."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.parquet")) + [root / "_state.json"]:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def open_then_closed(export):
    # exported while open (no lastActivityAt), then again once closed
    first = export([session("s1", "u1", "2023-05-19T10:00:00.000Z", None, updated="2023-05-19T10:00:00.000Z")])
    second = export([session("s1", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T10:30:00.000Z")])
    return first, second


@pytest.mark.parametrize("order", ["in order", "reversed"])
def test_the_latest_updated_at_wins_whatever_the_file_order(lake, open_then_closed, order):
    first, second = open_then_closed
    files = [first, second] if order == "in order" else [second, first]
    for path in files:
        ingest_docs(lake, path)
    assert week(lake, D) == {(2023, 5, 19): 1}


def test_both_orders_give_the_same_lake_bytes(tmp_path, open_then_closed):
    first, second = open_then_closed
    a, b = tmp_path / "a", tmp_path / "b"
    ingest_docs(a, first, second)
    ingest_docs(b, second)
    ingest_docs(b, first)
    assert lake_fingerprint(a) == lake_fingerprint(b)


def test_an_older_version_never_replaces_a_newer_one(lake, open_then_closed):
    first, second = open_then_closed
    ingest_docs(lake, second)
    before = lake_fingerprint(lake)
    summary = ingest_docs(lake, first)
    assert summary.days_touched == []
    assert lake_fingerprint(lake) == before


def test_on_a_tie_the_document_ingested_last_wins(lake, export):
    same_time = "2023-05-19T12:00:00.000Z"
    counted = session("s1", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z", updated=same_time)
    anonymous = dict(counted, mostImportantRole="anonymous")
    ingest_docs(lake, export([counted]), export([anonymous]))  # one run, two files
    assert week(lake, D) == {}
    # a later run: another export that has the same version as the first file wins the tie
    ingest_docs(lake, export([counted, session("other", "u2", "2023-05-12T10:00:00.000Z", None)]))
    assert week(lake, D) == {(2023, 5, 19): 1}


def test_within_one_file_the_later_line_wins_a_tie(lake, export):
    same_time = "2023-05-19T12:00:00.000Z"
    counted = session("s1", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z", updated=same_time)
    anonymous = dict(counted, mostImportantRole="anonymous")
    ingest_docs(lake, export([counted, anonymous]))
    assert week(lake, D) == {}


def test_within_one_file_the_latest_updated_at_wins(lake, export):
    new = session("s1", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z")
    old = session("s1", "u1", "2023-05-19T10:00:00.000Z", None, updated="2023-05-19T10:00:00.000Z")
    ingest_docs(lake, export([new, old]))
    assert week(lake, D) == {(2023, 5, 19): 1}


def test_re_ingesting_a_file_changes_nothing(lake, export):
    path = export(
        [
            session("s1", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z"),
            user_daily("u2", 2023, 5, 18),
        ]
    )
    ingest_docs(lake, path)
    before = lake_fingerprint(lake)
    summary = ingest_docs(lake, path)
    assert summary.days_touched == []
    assert lake_fingerprint(lake) == before


def test_a_document_whose_day_changes_moves_partition(lake, export):
    ingest_docs(lake, export([session("s1", "u1", "2023-05-18T10:00:00.000Z", "2023-05-18T11:00:00.000Z")]))
    assert week(lake, D) == {(2023, 5, 18): 1}
    moved = session(
        "s1", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z", updated="2023-05-20T00:00:00.000Z"
    )
    summary = ingest_docs(lake, export([moved]))
    assert summary.days_touched == ["2023-05-18", "2023-05-19"]
    assert week(lake, D) == {(2023, 5, 19): 1}
    state = lakemod.read_state(lake)
    assert "2023-05-18" not in state.files["sessions"]
    assert not list((lake / "sessions").glob("date=2023-05-18/*"))


def test_an_object_id_and_its_hex_string_are_the_same_document(lake, export):
    closed = session("x", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z")
    closed["_id"] = {"$oid": "6463a1b2c3d4e5f601234567"}
    opened = session(
        "6463a1b2c3d4e5f601234567", "u1", "2023-05-19T10:00:00.000Z", None, updated="2023-05-19T10:00:00.000Z"
    )
    ingest_docs(lake, export([closed]), export([opened]))
    assert week(lake, D) == {(2023, 5, 19): 1}


def test_only_touched_days_are_rewritten(lake, export):
    ingest_docs(
        lake,
        export(
            [
                session("a", "u1", "2023-05-18T10:00:00.000Z", "2023-05-18T11:00:00.000Z"),
                session("b", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z"),
            ]
        ),
    )
    before = lakemod.read_state(lake).files
    summary = ingest_docs(lake, export([session("c", "u2", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z")]))
    after = lakemod.read_state(lake).files
    assert summary.days_touched == ["2023-05-19"]
    assert after["sessions"]["2023-05-18"] == before["sessions"]["2023-05-18"]
    assert after["sessions"]["2023-05-19"] != before["sessions"]["2023-05-19"]
    assert week(lake, D) == {(2023, 5, 19): 2, (2023, 5, 18): 1}
