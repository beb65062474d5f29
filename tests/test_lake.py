"""The lake: day partitions, the state file, atomic writes, one writer at a time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import session
from helpers import ingest_docs, week, while_ingesting

from pipelines.errors import UserError
from pipelines.files import atomic_write_bytes
from pipelines.lake import state as lakemod
from pipelines.lake import writing
from pipelines.metrics.weekly import weekly_data


def month_of_sessions(export, users: int = 3):
    docs = []
    for d in range(1, 31):
        for u in range(users):
            docs.append(
                session(f"s{d}-{u}", f"u{u}", f"2023-06-{d:02d}T10:00:00.000Z", f"2023-06-{d:02d}T11:00:00.000Z")
            )
    return export(docs)


def test_one_file_per_day_and_table(lake, export):
    ingest_docs(lake, month_of_sessions(export))
    state = lakemod.read_state(lake)
    assert len(state.files["sessions"]) == 30 and len(state.files["user_daily"]) == 30
    assert len(list((lake / "sessions").glob("date=*/*.parquet"))) == 30
    assert sorted(state.files["user_daily"]) == [f"2023-06-{d:02d}" for d in range(1, 31)]
    assert state.tz == "UTC"


def test_weekly_data_reads_only_the_8_partitions_of_its_window(lake, export):
    ingest_docs(lake, month_of_sessions(export))
    state = lakemod.read_state(lake)
    for date, relative in state.files["user_daily"].items():
        if not "2023-06-12" <= date <= "2023-06-19":
            (lake / relative).write_bytes(b"not parquet")  # would fail any query that read it
    assert week(lake, "2023-06-19") == {(2023, 6, d): 3 for d in range(19, 11, -1)}


def test_leftovers_of_a_crash_are_cleared_by_the_next_ingest(lake, export):
    ingest_docs(lake, month_of_sessions(export))
    stray = lake / "sessions" / "date=2023-06-01" / "part-deadbeef.parquet"
    stray.write_bytes(b"half a file")
    (lake / ".staging" / "tmpjunk").mkdir(parents=True)
    ingest_docs(lake, export([session("new", "u9", "2023-06-02T10:00:00.000Z", "2023-06-02T11:00:00.000Z")]))
    assert not stray.exists()
    assert not (lake / ".staging").exists() or not any((lake / ".staging").iterdir())


def test_a_second_writer_waits_or_is_told(lake):
    with writing.write_lock(lake):
        with pytest.raises(UserError, match="another run is writing the lake"):
            with writing.write_lock(lake, wait=False):
                pass
    with writing.write_lock(lake, wait=False):  # free again
        pass


def test_atomic_write_leaves_nothing_beside_the_target(tmp_path):
    target = tmp_path / "out" / "body.json"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["body.json"]


def test_readers_see_whole_snapshots_while_a_writer_works(lake, export):
    ingest_docs(lake, month_of_sessions(export))
    before = weekly_data(lake, dt.date(2023, 6, 19))
    flips = []
    for i in range(1, 13):
        # each file newer than the last: u7 active all month, then not, then again...
        updated = {"$date": f"2023-07-{i:02d}T00:00:00.000Z"}
        last = "2023-06-{d:02d}T11:00:00.000Z" if i % 2 else None
        flips.append(
            export(
                [
                    dict(
                        session(f"n{d}", "u7", f"2023-06-{d:02d}T10:00:00.000Z", last and last.format(d=d)),
                        _updatedAt=updated,
                    )
                    for d in range(1, 31)
                ]
            )
        )

    # flip the lake between two states again and again while reading it
    def read():
        return tuple(i["users"] for i in weekly_data(lake, dt.date(2023, 6, 19))["month"])

    seen, _ = while_ingesting(lake, flips, read, 2000)
    counts_before = tuple(i["users"] for i in before["month"])
    assert seen <= {counts_before, tuple(c + 1 for c in counts_before)}
    assert weekly_data(lake, dt.date(2023, 6, 19)) == before  # the last flip made u7 inactive


def test_a_file_replaced_between_the_state_and_the_query_is_read_again(lake, export):
    """The snapshot read's retry: the state names a file an ingest then replaces; the answer is the new one's."""
    import duckdb

    from pipelines.sql import connect, query

    ingest_docs(lake, month_of_sessions(export))
    day = dt.date(2023, 6, 19)
    newcomer = export([session("n", "u9", "2023-06-19T10:00:00.000Z", "2023-06-19T11:00:00.000Z")])
    con = connect(threads=1)
    calls = []

    def run(files):
        calls.append(files)
        if len(calls) == 1:  # between our reading the state and the query, a writer replaces the day
            ingest_docs(lake, newcomer)
            assert not any(Path(f).exists() for f in files)
        return con.execute(query("marts/weekly_data"), {"files": files, "first": day, "last": day}).fetchall()

    rows = lakemod.query_partitions(lake, "user_daily", day, day, run, [])
    assert len(calls) == 2 and calls[0] != calls[1]
    assert rows == [(4, 19, 6, 2023)]  # the new snapshot: u0..u2 and the newcomer
    with pytest.raises(duckdb.IOException):
        con.execute(query("marts/weekly_data"), {"files": calls[0], "first": day, "last": day}).fetchall()


def test_a_partition_lost_from_the_lake_is_one_line(two_weeks):
    from conftest import run_cli

    for table in ("sessions", "user_daily"):  # a day's files gone (by hand, or a lost disk block)
        next((two_weeks / table).glob("date=2023-05-19/*.parquet")).unlink()
    for args in (
        ["weekly-data", "--start", "2023-05-19"],
        ["trend", "--from", "2023-05-01", "--to", "2023-05-19"],
        ["explain", "--date", "2023-05-19"],
        ["query", "select count(*) from sessions"],
        ["status"],
    ):
        result = run_cli(*args, "--lake", str(two_weeks))
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert "names 2 file(s) that are missing, e.g. " in result.stderr and "date=2023-05-19" in result.stderr


def _stage(writer: writing.Writer, text: str) -> Path:
    staged = writer.staging / f"{text}.parquet"
    staged.write_text(text)
    return staged


def test_the_write_protocol_commits_whole_and_removes_what_it_superseded(lake):
    with writing.writing(lake) as w:
        old = w.place_partition("sessions", "2023-06-01", _stage(w, "old"))
        w.state.files["sessions"]["2023-06-01"] = old
        w.commit()
    with writing.writing(lake) as w:
        new = w.place_partition("sessions", "2023-06-01", _stage(w, "new"))
        w.state.files["sessions"]["2023-06-01"] = new
        assert (lake / old).exists() and (lake / new).exists()  # readers of the old state still read it
        w.commit()
    assert lakemod.read_state(lake).files["sessions"] == {"2023-06-01": new}
    assert not (lake / old).exists() and (lake / new).read_text() == "new"
    assert not (lake / ".staging").exists()


def test_a_write_that_fails_leaves_the_old_state_and_nothing_it_placed(lake):
    with writing.writing(lake) as w:
        w.state.files["sessions"]["2023-06-01"] = kept = w.place_partition("sessions", "2023-06-01", _stage(w, "a"))
        w.commit()
    with pytest.raises(RuntimeError), writing.writing(lake) as w:
        placed = w.place(writing.REGISTRATIONS_DIR, "users", _stage(w, "b"))
        w.state.registrations["users"] = placed
        raise RuntimeError("the disk went away")
    state = lakemod.read_state(lake)
    assert state.files["sessions"] == {"2023-06-01": kept} and state.registrations == {}
    assert not (lake / placed).exists() and (lake / kept).exists()
    assert not (lake / ".staging").exists()
