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


# --- the sandbox holds (issue 24's probes) ---------------------------------------------------


@pytest.mark.parametrize(
    "sql,kind",
    [
        ("EXPLAIN ANALYZE COPY (select * from sessions) TO '.tmp/dump.parquet'", "copy"),
        ("explain analyze create table t as select 1", "create"),
        ("/* hidden */ EXPLAIN ANALYZE DROP VIEW sessions", "drop"),
        ("explain (format json) call pragma_version()", "call"),
        ("EXPLAIN ANALYSE insert into t values (1)", "insert"),
    ],
)
def test_explain_analyze_runs_nothing_but_a_read(small, tmp_path, sql, kind):
    result = run_cli("query", "--lake", str(small), sql, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "engagement query: error: only a query that reads is run (SELECT, WITH, ...); "
        f"a{'n' if kind[0] in 'aeiou' else ''} {kind} statement is refused"
    )
    assert not (tmp_path / ".tmp").exists()


def test_explain_and_explain_analyze_of_a_read_still_work(small):
    assert run_query(small, "explain analyze select count(*) from sessions").num_rows >= 1
    assert run_query(small, "EXPLAIN select count(*) from sessions").num_rows >= 1


def test_duckdbs_temporary_folder_holds_nothing_to_read(small, tmp_path):
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / "secret.txt").write_text("secret")
    for sql in ("select * from read_text('.tmp/secret.txt')", "select * from glob('.tmp/*')"):
        result = run_cli("query", "--lake", str(small), sql, cwd=tmp_path)
        assert result.returncode == 2 and "secret" not in result.stdout
        assert "may read only the lake's tables" in result.stderr and len(result.stderr.splitlines()) == 1


def test_an_unbounded_query_is_stopped_by_the_timeout_in_one_line(small):
    result = run_cli(
        "query",
        "--lake",
        str(small),
        "select count(*) from range(1000000000000)",
        env={"ENGAGEMENT_QUERY_TIMEOUT": "1"},
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "engagement query: error: the query ran longer than 1 s and was stopped: narrow it, or give it more "
        "time with ENGAGEMENT_QUERY_TIMEOUT"
    )


def test_a_query_that_needs_more_memory_than_its_limit_is_one_line(small):
    result = run_cli(
        "query",
        "--lake",
        str(small),
        "select list(range) from range(30000000)",
        env={"ENGAGEMENT_QUERY_MEMORY": "64MB", "ENGAGEMENT_QUERY_THREADS": "1"},
    )
    assert result.returncode == 2 and "more than 64MB of memory" in result.stderr, result.stderr


def test_the_rejects_view_shows_only_the_recorded_files_rejects(small):
    before = run_query(small, "select count(*) as n from rejects").to_pylist()[0]["n"]
    assert before == 2
    stray = small / "rejects" / "ffffffffffffffff.jsonl"  # a killed run's: its file is not in the manifest
    stray.write_text(json.dumps({"file": "/x", "line": 1, "reason": "bad_json", "text": "x"}) + "\n")
    assert run_query(small, "select count(*) as n from rejects").to_pylist()[0]["n"] == before


def test_a_symlinked_rejects_file_is_refused_in_one_line(small, tmp_path):
    outside = tmp_path / "private.txt"
    outside.write_text('{"file": "/etc/shadow", "line": 1, "reason": "x", "text": "root:secret"}\n')
    outside.chmod(0o600)
    (existing,) = (small / "rejects").glob("*.jsonl")
    existing.unlink()
    existing.symlink_to(outside)
    result = run_cli("query", "--lake", str(small), "select text from rejects")
    assert result.returncode == 2 and "secret" not in result.stdout
    assert "is a symbolic link: refused" in result.stderr and len(result.stderr.splitlines()) == 1


def test_the_notebook_sql_has_the_same_sandbox(small):
    from pipelines.notebook import open_lake

    lake = open_lake(small)
    with pytest.raises(UserError, match="a copy statement is refused"):
        lake.sql("EXPLAIN ANALYZE COPY (select 1) TO 'x.csv'")
    assert lake.sql("select count(*) as n from sessions")["n"][0] == 3
