"""The daily history every report reads (metrics/daily.py): exact against trend and the 8-day windows,
and the same whether kept, recomputed from a changed day on, or computed from nothing."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pyarrow.parquet as pq
import pytest
from conftest import session, write_ndjson
from helpers import ingest_docs

from pipelines.inputs.sample import documents
from pipelines.metrics import daily
from pipelines.metrics.history import trend, windows


def _export(folder, first: dt.date, days: int, seed: int):
    path = folder / f"export-{first}-{seed}.json"
    path.write_text("".join(line + "\n" for line in documents(30, first, days, seed=seed)))
    return path


@pytest.fixture
def lake(tmp_path):
    root = tmp_path / "lake"
    ingest_docs(root, _export(tmp_path, dt.date(2023, 3, 1), 70, 3))
    daily._memo.clear()
    return root


def _fresh(root):
    """The history computed from nothing (no kept file, no memo)."""
    shutil.rmtree(root / daily.FOLDER, ignore_errors=True)
    daily._memo.clear()
    return daily.daily(root).to_pylist()


def test_every_row_is_trends_and_the_windows(lake):
    rows = daily.daily(lake).to_pylist()
    first, last = rows[0]["date"], rows[-1]["date"]
    assert (first, last) == (dt.date(2023, 3, 1), dt.date(2023, 5, 9) + dt.timedelta(days=7))
    expected = trend(lake, first, last, require=False).to_pylist()
    assert [(r["date"], r["dau"], r["wau"], r["mau"]) for r in rows] == [
        (r["date"], r["dau"], r["wau"], r["mau"]) for r in expected
    ]
    days = daily.days(lake)
    for end, users, user_days in windows(lake, [r["date"] for r in rows]):
        assert daily.window(days, end) == (users, user_days)
    assert daily.window(days, last + dt.timedelta(days=1)) == (0, 0)  # after the data: no window users
    assert (lake / daily.FOLDER / daily.FILE).exists()


def test_a_new_snapshot_recomputes_from_its_first_changed_day_and_equals_a_fresh_computation(lake, tmp_path):
    kept = daily.daily(lake)
    # a later day (a nightly), then late data for a day in the middle
    ingest_docs(lake, _export(tmp_path, dt.date(2023, 5, 10), 1, 4))
    after_nightly = daily.daily(lake).to_pylist()
    assert after_nightly[: len(kept) - 7] == kept.to_pylist()[: len(kept) - 7]  # the days before: the same
    assert after_nightly == _fresh(lake)
    late = [session("late-1", "someone-new", "2023-04-02T10:00:00.000Z", "2023-04-02T11:00:00.000Z")]
    ingest_docs(lake, write_ndjson(tmp_path / "late.json", late))
    daily._memo.clear()  # another process: it reads the kept file, and recomputes from 2 April on
    changed = daily.daily(lake).to_pylist()
    row = {r["date"]: r for r in changed}
    assert row[dt.date(2023, 4, 2)]["dau"] == {r["date"]: r for r in after_nightly}[dt.date(2023, 4, 2)]["dau"] + 1
    assert changed == _fresh(lake)
    meta = json.loads(pq.read_schema(lake / daily.FOLDER / daily.FILE).metadata[b"engagement"])
    assert meta["zone"] == "UTC" and len(meta["files"]) == 71


def test_a_lake_it_cannot_keep_the_history_in_still_answers(lake):
    """A read-only lake, or a disk that fails: nothing kept, the same rows computed each time."""
    rows = _fresh(lake)
    shutil.rmtree(lake / daily.FOLDER)
    (lake / daily.FOLDER).write_text("not a folder")  # the folder cannot be made
    daily._memo.clear()
    assert daily.daily(lake).to_pylist() == rows
    assert (lake / daily.FOLDER).read_text() == "not a folder"


def test_an_empty_lake_has_no_rows(tmp_path):
    root = tmp_path / "lake"
    ingest_docs(root, write_ndjson(tmp_path / "x.json", ['{"_id": "x1", "userId": 5}']))
    assert daily.daily(root).num_rows == 0 and daily.window(daily.days(root), dt.date(2023, 5, 1)) == (0, 0)


def test_a_kept_file_of_another_shape_is_computed_again(lake):
    """A history kept by another version (other columns), or damaged: computed again, not trusted."""
    rows = _fresh(lake)
    path = lake / daily.FOLDER / daily.FILE
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["window_users"]).replace_schema_metadata(table.schema.metadata), path)
    daily._memo.clear()
    assert daily.daily(lake).to_pylist() == rows
    path.write_bytes(b"not parquet")
    daily._memo.clear()
    assert daily.daily(lake).to_pylist() == rows
