"""`engagement query`: read-only SQL over one snapshot of the lake."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
    "sql",
    [
        "EXPLAIN ANALYZE COPY (select * from sessions) TO '.tmp/dump.parquet'",
        "explain analyze create table t as select 1",
        "/* hidden */ EXPLAIN ANALYZE DROP VIEW sessions",
        "explain (format json) call pragma_version()",
        "EXPLAIN ANALYSE insert into t values (1)",
        "explain select 1",
    ],
)
def test_explain_is_never_taken_from_the_text(small, tmp_path, sql):
    result = run_cli("query", "--lake", str(small), sql, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "engagement query: error: give the statement alone: EXPLAIN is asked for with --explain or --explain-analyze"
    )
    assert not (tmp_path / ".tmp").exists()


def test_explain_and_explain_analyze_of_a_read_work_through_their_flags(small):
    assert run_query(small, "select count(*) from sessions", explain="analyze").num_rows >= 1
    assert run_query(small, "select count(*) from sessions", explain="plan").num_rows >= 1
    shown = run_cli("query", "--lake", str(small), "--explain-analyze", "select count(*) from sessions")
    assert shown.returncode == 0 and "analyzed_plan" in shown.stdout
    refused = run_cli("query", "--lake", str(small), "--explain", "copy sessions to 'x.csv'")
    assert refused.returncode == 2 and "a copy statement is refused" in refused.stderr


def _lake_bytes(root) -> dict:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


COPY = (
    "COPY (SELECT DATE '2023-05-19' AS date, 'fake' || i::varchar AS userId, 'user' AS role, "
    "60::DECIMAL(38,0) AS seconds, 1::INT AS sessions, 'sessions' AS source FROM range(500) t(i)) "
    "TO 'P' (FORMAT parquet, USE_TMP_FILE false)"
)


@pytest.mark.parametrize(
    "template",
    [
        "EXPLAIN (ANALYZE ') select 1 --') {copy}",
        "/* /* */ SELECT 1 -- */ EXPLAIN ANALYZE {copy}",
        "-- a\rEXPLAIN ANALYZE {copy} /*\n SELECT 1 -- */",
    ],
)
def test_the_probes_that_rewrote_the_lake_change_no_byte(small, tmp_path, template):
    import datetime as dt

    from pipelines.lake.state import read_state
    from pipelines.metrics.weekly import weekly_data

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    target = small / read_state(small).files["user_daily"]["2023-05-19"]
    before, week = _lake_bytes(small), weekly_data(small, dt.date(2023, 5, 19))
    result = run_cli(
        "query", "--lake", str(small), template.format(copy=COPY.replace("'P'", f"'{target}'")), cwd=tmp_path
    )
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert _lake_bytes(small) == before and weekly_data(small, dt.date(2023, 5, 19)) == week
    assert list(cwd.iterdir()) == []


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
    with pytest.raises(UserError, match="EXPLAIN is asked for with --explain"):
        lake.sql("EXPLAIN ANALYZE COPY (select 1) TO 'x.csv'")
    with pytest.raises(UserError, match="a copy statement is refused"):
        lake.sql("COPY (select 1) TO 'x.csv'", explain="analyze")
    assert len(lake.sql("select 1", explain="plan")) >= 1
    assert lake.sql("select count(*) as n from sessions")["n"][0] == 3


def test_thousands_of_mutated_statements_change_no_byte_and_write_nothing(small, tmp_path, monkeypatch):
    """3,000 statements built from comments of every kind (nested, unterminated), quotes in EXPLAIN
    options, \\r, \\f and unicode spaces, semicolons, and every statement that writes, attaches, loads
    or sets: each is refused in one UserError or only reads; the lake and the folder stay as they were."""
    import random

    import duckdb

    from pipelines.lake.state import read_state

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    target = small / read_state(small).files["user_daily"]["2023-05-19"]
    writes = [
        COPY.replace("'P'", f"'{target}'"),
        f"COPY user_daily TO '{target}' (FORMAT parquet)",
        "COPY (select 1) TO 'out.csv'",
        "EXPORT DATABASE 'dump'",
        f"ATTACH '{small / 'x.db'}' AS x",
        "INSTALL httpfs",
        "LOAD httpfs",
        "CALL pragma_version()",
        "PRAGMA enable_profiling",
        "SET allowed_paths = ['/']",
        "SET enable_external_access = true",
        "CREATE TABLE t AS SELECT 1",
        "DROP VIEW sessions",
        "INSERT INTO t VALUES (1)",
        "DELETE FROM sessions",
        "CHECKPOINT",
        "select 1",
        "from user_daily",
    ]
    pieces = [
        "",
        " ",
        "\r",
        "\f",
        "\n",
        "\u00a0",
        "\u2028",
        ";",
        "; ",
        "-- c\n",
        "-- c\r",
        "-- c",
        "/* c */",
        "/* /* */",
        "/* /* */ */",
        "/*",
        "*/",
        "'",
        "')",
        "EXPLAIN ",
        "EXPLAIN ANALYZE ",
        "EXPLAIN (ANALYZE ') x --') ",
        "EXPLAIN (FORMAT json) ",
        "SELECT 1 ",
        "WITH a AS (SELECT 1) ",
        "DESCRIBE ",
        "SUMMARIZE ",
    ]
    rng = random.Random(33)
    before = _lake_bytes(small)
    outcomes = {"refused": 0, "read": 0}
    for _ in range(3000):
        parts = [rng.choice(pieces) for _ in range(rng.randint(0, 3))]
        parts.insert(rng.randint(0, len(parts)), rng.choice(writes))
        parts += [rng.choice(pieces) for _ in range(rng.randint(0, 2))]
        text = "".join(parts)
        try:
            run_query(small, text, explain=rng.choice([None, None, "plan", "analyze"]))
            outcomes["read"] += 1
        except UserError as exc:
            assert "\n" not in str(exc)
            outcomes["refused"] += 1
        except duckdb.Error as exc:  # a read DuckDB cannot run (a bad cast, say) is its own error, not a write
            assert not isinstance(exc, duckdb.PermissionException), text
    assert outcomes["refused"] > 2000 and outcomes["read"] > 50
    assert _lake_bytes(small) == before
    assert list(cwd.iterdir()) == []


# --- limits for the whole command, and the second wall (issue 33) ------------------------------


def _peak_rss_mb(*args: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    """Run the real command from a fresh wrapper; its answer, and the largest peak RSS of the command
    and every process it started (ru_maxrss of RUSAGE_CHILDREN: the largest one, so the whole
    command's peak is at most twice this: the command and its query's child)."""
    wrapper = (
        "import json, resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(json.dumps([r.returncode, r.stdout, r.stderr, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))\n"
    )
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGEMENT_")} | env
    done = subprocess.run(
        [sys.executable, "-c", wrapper, sys.executable, "-m", "pipelines", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )
    code, out, err, peak_kb = json.loads(done.stdout)
    return subprocess.CompletedProcess(args, code, out, err), peak_kb / 1024


def test_a_query_past_its_memory_is_stopped_by_the_kernel_in_one_line(small):
    """DuckDB's memory limit does not cover a list of 60 million numbers (3.6 GB before): the child's
    RLIMIT_DATA does."""
    result, peak = _peak_rss_mb(
        "query",
        "--lake",
        str(small),
        "select list_sum(range(60000000))",
        env={"ENGAGEMENT_QUERY_MEMORY": "100MB", "ENGAGEMENT_QUERY_THREADS": "1"},
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        "engagement query: error: the query needs more than 100MB of memory: narrow it, or raise "
        "ENGAGEMENT_QUERY_MEMORY\n"
    )
    assert peak < 250, peak  # so the command and its child together under 500 MB


def test_the_timeout_covers_the_writing_and_a_stopped_query_leaves_its_output_as_it_was(small, tmp_path):
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "o.csv"
    out.write_text("the last result\n")
    result = run_cli(
        "query",
        "--lake",
        str(small),
        "select * from range(20000000) t(i)",
        "--format",
        "csv",
        "--out",
        str(out),
        env={"ENGAGEMENT_QUERY_TIMEOUT": "1", "ENGAGEMENT_QUERY_MAX_ROWS": "100000000"},
    )
    assert result.returncode == 2
    assert result.stderr == (
        "engagement query: error: the query ran longer than 1 s and was stopped: narrow it, or give it more "
        "time with ENGAGEMENT_QUERY_TIMEOUT\n"
    )
    assert out.read_text() == "the last result\n" and list(out.parent.iterdir()) == [out]


@pytest.mark.parametrize(
    "env,message",
    [
        (
            {"ENGAGEMENT_QUERY_MAX_ROWS": "1000"},
            "the query returns more than 1,000 rows: narrow it (WHERE, GROUP BY, LIMIT), or raise "
            "ENGAGEMENT_QUERY_MAX_ROWS",
        ),
        (
            {"ENGAGEMENT_QUERY_MAX_BYTES": "2KB"},
            "the query's result is larger than 2KB: narrow it, or raise ENGAGEMENT_QUERY_MAX_BYTES",
        ),
    ],
)
def test_rows_and_bytes_past_their_caps_are_one_line_and_nothing_printed(small, env, message):
    sql = "select i from range(1001) t(i)"
    result = run_cli("query", "--lake", str(small), sql, "--format", "csv", env=env)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"engagement query: error: {message}\n")
    raised = {name: "1MB" if name.endswith("BYTES") else "1001" for name in env}
    allowed = run_cli("query", "--lake", str(small), sql, "--format", "csv", env=raised)
    assert allowed.returncode == 0 and allowed.stdout.splitlines()[-1] == "1000"


SECOND_WALL = """
import json, socket, sys
from pathlib import Path
import duckdb
from pipelines import landlock

private, target, cwd_file = map(Path, sys.argv[1:4])
landlock.forbid_writes([private])
con = duckdb.connect()  # no locks of DuckDB's own: only the kernel stands in the way
outcome = {}
for name, path in {"lake": target, "cwd": cwd_file, "private": private / "spill.csv"}.items():
    try:
        con.execute(f"COPY (select 'fake' as userId) TO '{path}' (FORMAT csv)")
        outcome[name] = "written"
    except duckdb.IOException as exc:
        outcome[name] = "refused" if "Permission denied" in str(exc) else str(exc)
try:
    open(cwd_file, "w")
    outcome["open"] = "opened"
except PermissionError:
    outcome["open"] = "refused"
try:
    socket.create_connection(("127.0.0.1", 9), timeout=2)
    outcome["tcp"] = "connected"
except PermissionError:
    outcome["tcp"] = "refused"
except OSError as exc:
    outcome["tcp"] = f"other: {exc}"
print(json.dumps(outcome))
"""


def test_the_second_wall_refuses_every_write_duckdb_itself_would_let_through(small, tmp_path):
    """The kernel's wall (Landlock), tried alone: a DuckDB connection without any lock of its own,
    in a process that gave up writing, cannot write over the lake's file nor into the folder."""
    from pipelines import landlock
    from pipelines.lake.state import read_state

    if landlock.abi() == 0:
        pytest.skip("this kernel has no Landlock")
    private = tmp_path / "private"
    private.mkdir()
    target = small / read_state(small).files["user_daily"]["2023-05-19"]
    before = _lake_bytes(small)
    done = subprocess.run(
        [sys.executable, "-c", SECOND_WALL, str(private), str(target), str(tmp_path / "x.csv")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome == {
        "lake": "refused",
        "cwd": "refused",
        "private": "written",
        "open": "refused",
        "tcp": "refused",
    }
    assert _lake_bytes(small) == before and not (tmp_path / "x.csv").exists()
