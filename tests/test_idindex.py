"""The _id-to-day index: an ingest reads the partitions that can hold a stored version, and still
finds every stored version, whatever day it was stored under."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pytest
from conftest import session
from helpers import ingest_docs, week
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.ingest.merge import _holding_files
from pipelines.lake import idindex
from pipelines.lake import state as lakemod
from pipelines.sql import connect, query


def day_session(_id: str, user: str, date: dt.date, updated: str | None = None) -> dict:
    iso = date.isoformat()
    return session(_id, user, f"{iso}T10:00:00.000Z", f"{iso}T11:00:00.000Z", updated=updated)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.text(max_size=40), max_size=30))
def test_the_vectorised_key_is_the_plain_one(ids):
    array = pa.array(ids, pa.string())
    assert [int(k) for k in idindex.keys(array)] == [idindex.key(i) for i in ids]
    if len(ids) > 2:  # a slice of an array (an offset into its buffers) too
        assert [int(k) for k in idindex.keys(array.slice(1, len(ids) - 2))] == [idindex.key(i) for i in ids[1:-1]]


SPREAD = 2**64 // 23  # small numbers times this: keys in every part of the hash space


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.lists(st.tuples(st.integers(0, 20), st.integers(0, 9)), max_size=25), st.none() | st.integers(0, 6)
        ),
        min_size=1,
        max_size=3,
    ),
    st.lists(st.integers(0, 22), max_size=12, unique=True),
)
def test_days_of_finds_every_day_every_run_names_for_a_key(tmp_path_factory, runs, wanted):
    """Few keys, so that one key has entries of several days (a moved document), in several runs;
    each run written with a directory of 2**bits slots, or (None) as a run from before directories."""
    root = tmp_path_factory.mktemp("index")
    (root / "ids").mkdir()
    names = []
    for number, (pairs, bits) in enumerate(runs):
        keys = np.array([k * SPREAD for k, _ in pairs], np.uint64)
        days = np.array([d for _, d in pairs], np.uint64)
        run = idindex.entries(keys, days)
        np.save(root / "ids" / f"run-{number}.npy", run if bits is None else idindex._pack(run, bits))
        names.append(f"ids/run-{number}.npy")
    expected = {idindex.EPOCH + dt.timedelta(days=d) for pairs, _ in runs for k, d in pairs if k in wanted}
    hashes = np.array(sorted(k * SPREAD for k in wanted), np.uint64)
    assert idindex.days_of(root, names, hashes) == expected


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 2**64 - 1), max_size=300), st.lists(st.integers(0, 2**64 - 1), max_size=50))
def test_the_directory_finds_what_a_binary_search_finds(tmp_path_factory, stored, probes):
    """Any keys (the top and bottom of the range too), any directory size a run of them gets."""
    root = tmp_path_factory.mktemp("directory")
    run = idindex.entries(np.array(stored, np.uint64), np.zeros(len(stored), np.uint64))
    hashes = np.array(sorted(set(probes) | set(stored[:5])), np.uint64)
    for bits in {0, 1, 3, idindex._bits(run.shape[1])}:
        np.save(root / f"run-{bits}.npy", idindex._pack(run, bits))
        packed = idindex.load_run(root, f"run-{bits}.npy")
        assert packed.entries().tolist() == run.tolist()
        assert idindex._first_at_least(packed, hashes).tolist() == np.searchsorted(run[0], hashes).tolist()


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 2**64 - 1) | st.integers(0, 6), st.integers(0, 5)), max_size=40))
def test_entries_are_the_sorted_set_of_key_day_pairs(pairs):
    keys = np.array([k for k, _ in pairs], np.uint64)
    days = np.array([d for _, d in pairs], np.uint64)
    run = idindex.entries(keys, days)
    assert list(zip(run[0].tolist(), run[1].tolist())) == sorted(set(pairs))


def test_keys_tell_padding_and_length_apart():
    assert len({idindex.key(i) for i in ["", "a", "a\0", "a\0\0\0\0\0\0\0", "12345678", "12345678\0"]}) == 6


START = dt.date(2023, 1, 2)


@pytest.fixture
def month(lake, export):
    """30 days, 3 users a day."""
    docs = [day_session(f"m{n}-{u}", f"u{u}", START + dt.timedelta(days=n)) for n in range(30) for u in range(3)]
    ingest_docs(lake, export(docs))
    return lake


def holding(lake, docs, export) -> list[str]:
    """The partitions (dates) an ingest of `docs` would read stored versions from."""
    from pipelines.ingest.load import load_all
    from pipelines.ingest.progress import Quiet
    from pipelines.lake.manifest import read_manifest

    class Summary:
        read = stored = 0
        rejected: dict = {}

    state = lakemod.read_state(lake)
    con = connect()
    load_all(con, [export(docs)], "UTC", read_manifest(lake), True, Summary(), None, Quiet())
    con.sql(query("intermediate/valid_incoming")).create_view("latest_incoming")
    files = _holding_files(con, lake, state, lake, [])
    con.close()
    return [f.split("date=")[1][:10] for f in files]


def test_an_ingest_reads_only_the_days_that_can_hold_a_stored_version(month, export):
    # a new document of a new day: no partition can hold it
    assert holding(month, [day_session("new", "u9", dt.date(2023, 3, 1))], export) == []
    # a new version of a stored one, same day: that day alone
    assert holding(month, [day_session("m5-1", "u1", START + dt.timedelta(days=5))], export) == ["2023-01-07"]
    # a stored document arriving for another day: its new day and, from the index, its old one
    moved = day_session("m5-1", "u1", dt.date(2023, 1, 28))
    assert holding(month, [moved], export) == ["2023-01-07", "2023-01-28"]


def test_a_version_arriving_under_another_day_replaces_the_stored_one(month, export):
    far = dt.date(2023, 5, 19)
    moved = day_session("m5-1", "u1", far, updated="2023-06-01T00:00:00.000Z")
    summary = ingest_docs(month, export([moved]))
    assert summary.days_touched == ["2023-01-07", "2023-05-19"]
    assert week(month, "2023-01-07")[(2023, 1, 7)] == 2  # u1's session left the 7th
    assert week(month, far.isoformat()) == {(2023, 5, 19): 1}
    # and back again, later still: the index names both days; the 19 May copy goes
    back = day_session("m5-1", "u1", START + dt.timedelta(days=5), updated="2023-07-01T00:00:00.000Z")
    assert ingest_docs(month, export([back])).days_touched == ["2023-01-07", "2023-05-19"]
    assert week(month, "2023-01-07")[(2023, 1, 7)] == 3 and week(month, far.isoformat()) == {}
    # an older version for yet another day replaces nothing
    stale = day_session("m5-1", "u1", dt.date(2023, 3, 3), updated="2023-01-01T00:00:00.000Z")
    assert ingest_docs(month, export([stale])).days_touched == []


def test_a_lake_written_before_the_index_gets_it_and_stays_exact(month, export):
    state_file = month / "_state.json"
    body = json.loads(state_file.read_text())
    for run in body.pop("ids"):
        (month / run).unlink()
    state_file.write_text(json.dumps(body))
    moved = day_session("m5-1", "u1", dt.date(2023, 5, 19), updated="2023-06-01T00:00:00.000Z")
    assert ingest_docs(month, export([moved])).days_touched == ["2023-01-07", "2023-05-19"]
    runs = lakemod.read_state(month).ids
    assert runs and all((month / r).exists() for r in runs)
    entries = np.concatenate([idindex.load_run(month, r).entries() for r in runs], axis=1)
    assert entries.shape[1] == 30 * 3 + 1  # every stored row, and the moved one's new day


def test_runs_written_before_the_directory_are_read_and_merged(month, export):
    """A lake from before runs had a directory: its (2, n) runs still find stored versions, and
    the next merge writes the directory."""
    state = lakemod.read_state(month)
    for run in state.ids:
        np.save(month / run, idindex.load_run(month, run).entries())  # the old layout, same name
    assert all(idindex.load_run(month, r).directory is None for r in state.ids)
    moved = day_session("m5-1", "u1", dt.date(2023, 5, 19), updated="2023-06-01T00:00:00.000Z")
    assert ingest_docs(month, export([moved])).days_touched == ["2023-01-07", "2023-05-19"]
    # 50 more entries: a run big enough to merge with the one before it, then with the old one
    ingest_docs(month, export([day_session(f"late{n}", f"u{n}", dt.date(2023, 6, 1)) for n in range(50)]))
    [run] = [idindex.load_run(month, r) for r in lakemod.read_state(month).ids]
    assert len(run) == 30 * 3 + 1 + 50 and run.directory is not None


@pytest.mark.parametrize("damage", ["gone", "empty", "not npy", "cut short", "other array", "lying header"])
def test_an_index_that_cannot_be_read_is_rebuilt_and_the_upsert_stays_exact(month, export, damage):
    [run] = lakemod.read_state(month).ids
    path = month / run
    if damage == "gone":
        path.unlink()
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "not npy":
        path.write_bytes(b"not an index at all")
    elif damage == "cut short":
        path.write_bytes(path.read_bytes()[:-8])
    elif damage == "other array":
        np.save(path, np.zeros(7, np.float64))
    else:  # a directory of 2**62 slots: refused before anything that big is computed
        np.save(path, np.array([idindex.MAGIC, 5, 2**62, 0], np.uint64))
    moved = day_session("m5-1", "u1", dt.date(2023, 5, 19), updated="2023-06-01T00:00:00.000Z")
    summary = ingest_docs(month, export([moved]))
    assert summary.days_touched == ["2023-01-07", "2023-05-19"]  # the stored version found, and replaced
    assert [note for note in summary.notes if "_id index could not be read" in note]
    runs = lakemod.read_state(month).ids
    entries = np.concatenate([idindex.load_run(month, r).entries() for r in runs], axis=1)
    assert entries.shape[1] == 30 * 3 + 1  # every stored row, and the moved one's new day
    assert sorted(p.name for p in (month / "ids").iterdir()) == sorted(r.split("/")[1] for r in runs)


def test_runs_merge_like_a_binary_counter(lake, export):
    for n in range(8):
        ingest_docs(lake, export([day_session(f"d{n}", "u1", START + dt.timedelta(days=n))]))
    sizes = [len(idindex.load_run(lake, r)) for r in lakemod.read_state(lake).ids]
    assert sizes == [8]  # 1+1 -> 2, +1 +1 -> 2+2 -> 4, ... -> 8
    ingest_docs(lake, export([day_session("d8", "u1", START + dt.timedelta(days=8))]))
    assert [len(idindex.load_run(lake, r)) for r in lakemod.read_state(lake).ids] == [8, 1]
    assert len(list((lake / "ids").glob("*.npy"))) == 2  # merged-away runs are removed
