"""`engagement query`: read-only SQL over one snapshot of the lake."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli, session, user_daily
from helpers import ingest_docs, while_ingesting

from pipelines.errors import UserError
from pipelines.metrics.lakesql import run_query


@pytest.fixture
def small(lake, export):
    ingest_docs(
        lake,
        export(
            [
                session("a", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z"),
                session("b", "u2", "2023-05-18T10:00:00.000Z", "2023-05-18T10:00:00.500Z"),
                user_daily("u3", 2023, 5, 18, role="anonymous"),
                "{not json",
                json.dumps({"_id": "c", "type": "session", "userId": "u4", "device": 5}),
            ]
        ),
    )
    return lake


def test_the_views_are_the_lakes_tables(small):
    stored = run_query(small, "select type, userId from sessions order by userId").to_pylist()
    assert stored == [
        {"type": "session", "userId": "u1"},
        {"type": "session", "userId": "u2"},
        {"type": "user_daily", "userId": "u3"},
    ]
    days = run_query(small, "select userId, role, source from user_daily order by userId").to_pylist()
    assert days == [  # u2's half-second session does not make an active day
        {"userId": "u1", "role": "user", "source": "sessions"},
        {"userId": "u3", "role": "anonymous", "source": "user_daily"},
    ]
    rejects = run_query(small, "select line, reason from rejects order by line").to_pylist()
    assert rejects == [{"line": 4, "reason": "bad_json"}, {"line": 5, "reason": "wrong_type:device"}]


@pytest.mark.parametrize(
    "sql,message",
    [
        ("copy (select 1) to 'x.csv'", "a copy statement is refused"),
        ("create table t as select 1", "a create statement is refused"),
        ("drop view sessions", "a drop statement is refused"),
        ("insert into t values (1)", "an insert statement is refused"),
        ("attach 'other.db'", "an attach statement is refused"),
        ("set threads = 1", "a set statement is refused"),
        ("pragma version", "a pragma statement is refused"),
        ("select 1; select 2", "give one statement, not 2"),
        ("selec 1", "cannot read the query: Parser Error"),
        ("select nope from sessions", "the query failed: Binder Error"),
        ("select * from read_csv('/etc/passwd')", "may read only the lake's tables"),
        ("select * from read_text('LAKE/_users.json')", "may read only the lake's tables"),
    ],
)
def test_what_is_not_a_read_of_the_lake_is_refused_in_one_line(small, tmp_path, sql, message):
    run_cli("users", "add", "--lake", str(small), "viewer")
    where = tmp_path / "cwd"
    where.mkdir()
    lake_files = sorted(p for p in small.rglob("*"))
    result = run_cli("query", "--lake", str(small), sql.replace("LAKE", str(small)), cwd=where)
    assert result.returncode == 2 and result.stdout == ""
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not list(where.iterdir()) and sorted(small.rglob("*")) == lake_files  # nothing written


def test_queries_see_whole_snapshots_while_an_ingest_runs(lake, export):
    ingest_docs(lake, export([session(f"s{d}", "u1", f"2023-06-{d:02d}T10:00:00.000Z", None) for d in range(1, 31)]))
    flips = []
    for i in range(1, 9):
        last = "2023-06-{d:02d}T11:00:00.000Z" if i % 2 else None
        updated = {"$date": f"2023-07-{i:02d}T00:00:00.000Z"}
        docs = [
            dict(
                session(f"n{d}", "u7", f"2023-06-{d:02d}T10:00:00.000Z", last and last.format(d=d)), _updatedAt=updated
            )
            for d in range(1, 31)
        ]
        flips.append(export(docs))

    def read():
        return run_query(lake, "select count(*) as n from user_daily where userId = 'u7'").column("n")[0].as_py()

    seen, reads = while_ingesting(lake, flips, read, 500)
    assert reads > 0
    assert seen <= {0, 30}  # u7 active on all 30 days or on none: never a mix of two snapshots
    assert run_query(lake, "select count(*) as n from user_daily where userId = 'u7'").column("n")[0].as_py() == 0


def test_the_query_command_writes_formats(small, tmp_path):
    sql = "select userId, role from user_daily order by userId"
    assert (
        run_cli("query", "--lake", str(small), sql, "--format", "csv").stdout == "userId,role\nu1,user\nu3,anonymous\n"
    )
    rows = json.loads(run_cli("query", "--lake", str(small), sql, "--format", "json").stdout)
    assert rows == [{"userId": "u1", "role": "user"}, {"userId": "u3", "role": "anonymous"}]
    with pytest.raises(UserError, match="only a query that reads"):
        run_query(small, "delete from sessions")


def test_a_query_leaves_this_threads_reading_connection_unlocked(small):
    """run_query locks its connection; the thread's shared reader (sql.reader) must not be that one."""
    import datetime as dt

    from pipelines.metrics.history import trend
    from pipelines.metrics.weekly import weekly_data

    before = weekly_data(small, dt.date(2023, 5, 19))
    run_query(small, "select count(*) from sessions")
    with pytest.raises(UserError):
        run_query(small, "select * from read_csv('/etc/passwd')")
    assert weekly_data(small, dt.date(2023, 5, 19)) == before
    assert trend(small, dt.date(2023, 5, 12), dt.date(2023, 5, 19)).num_rows == 8
