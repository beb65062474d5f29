"""A failing machine: a process killed at any step, a disk that fills up. Nothing is lost or half-kept."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli, session, write_ndjson
from helpers import ingest_docs

from pipelines.ingest.run import _rejects_key
from pipelines.lake import state as lakemod
from pipelines.lake import writing
from pipelines.metrics.weekly import weekly_data

ENDS = [dt.date(2023, 5, 1) + dt.timedelta(days=i) for i in range(30)]


def export_a(folder: Path) -> Path:
    docs = [
        session(f"a{d}-{u}", f"u{u}", f"2023-05-{d:02d}T10:00:00.000Z", f"2023-05-{d:02d}T11:00:00.000Z")
        for d in range(1, 15)
        for u in range(40)
    ]
    return write_ndjson(folder / "a.json", docs)


def export_b(folder: Path) -> Path:
    """Later days, later versions of some of A's sessions (now anonymous), and one broken line."""
    docs: list = [
        session(f"b{d}-{u}", f"u{u}", f"2023-05-{d:02d}T10:00:00.000Z", f"2023-05-{d:02d}T11:00:00.000Z")
        for d in range(10, 25)
        for u in range(50)
    ]
    docs += [
        session(
            f"a12-{u}",
            f"u{u}",
            "2023-05-12T10:00:00.000Z",
            "2023-05-12T11:00:00.000Z",
            role="anonymous",
            updated="2023-06-01T00:00:00.000Z",
        )
        for u in range(10)
    ]
    docs.append('{"_id": "broken", ')
    return write_ndjson(folder / "b.json", docs)


def answers(root: Path) -> list[dict]:
    from pipelines.sql import connect

    con = connect(threads=1)  # one connection for the 30 questions (each would open its own)
    try:
        return [weekly_data(root, end, con) for end in ENDS]
    finally:
        con.close()


def content(root: Path) -> dict:
    """What must be equal to a clean run's: the state, every file on disk, the rejects, the manifest's entries."""
    files = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "lock" not in p.name and p.parent.name != "_history"
    )
    entries = [
        {k: v for k, v in json.loads(line).items() if k not in ("ingested_at", "mtime_ns")}
        for line in (root / "_manifest.jsonl").read_text().splitlines()
    ]
    rejects = {p.name: p.read_text() for p in (root / "rejects").glob("*")}
    return {"state": (root / "_state.json").read_text(), "files": files, "rejects": rejects, "manifest": entries}


def leftovers(root: Path) -> list[str]:
    named = {root / rel for table in lakemod.TABLES for rel in lakemod.read_state(root).files[table].values()}
    # the daily history (metrics/daily.py) is no partition: a cache beside the state, rebuilt from it
    stray = [p for p in root.rglob("*.parquet") if p not in named and p.parent.name != "_history"]
    temporary = list(root.rglob("*.tmp")) + list((root / ".staging").rglob("*"))
    return sorted(str(p) for p in stray + temporary)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """A lake holding A (the 'before'), and a clean run of A then B (the 'after')."""
    folder = tmp_path_factory.mktemp("crash")
    a, b = export_a(folder), export_b(folder)
    before = folder / "before"
    ingest_docs(before, a)
    clean = folder / "clean"
    ingest_docs(clean, a)
    ingest_docs(clean, b)
    return {
        "a": a,
        "b": b,
        "before": before,
        "before_answers": answers(before),
        "after_answers": answers(clean),
        "clean": content(clean),
    }


POINTS = [
    "loaded",
    "partition placed",
    "merged",
    "renaming {rejects}",
    "rejects written",
    "renaming _state.json",
    "state written",
    "renaming _manifest.jsonl",
    "manifest written",
]


@pytest.mark.parametrize("point", POINTS)
def test_a_kill_at_any_step_leaves_before_or_after_and_the_rerun_converges(scenario, tmp_path, point):
    lake = tmp_path / "lake"
    shutil.copytree(scenario["before"], lake)
    point = point.format(rejects=f"{_rejects_key(scenario['b'])}.jsonl")
    killed = run_cli(
        "ingest", "--lake", str(lake), str(scenario["b"]), env={"ENGAGEMENT_CRASH_AT": point}, process=True
    )
    assert killed.returncode == -9, killed.stderr  # it really died there
    assert answers(lake) in (scenario["before_answers"], scenario["after_answers"])  # never a mix
    ingest_docs(lake, scenario["b"])  # the next run (in-process: the killed one was the real command)
    assert answers(lake) == scenario["after_answers"]
    assert content(lake) == scenario["clean"]
    assert leftovers(lake) == []


def test_the_cleanup_removes_only_leftovers(scenario, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(scenario["before"], lake)
    mine = [
        lake / "._state.json.abc123.tmp",
        lake / "._manifest.jsonl.x.tmp",
        lake / "rejects" / ".k.jsonl.y.tmp",
        lake / ".staging" / "tmpdir" / "incoming.parquet",
        lake / "user_daily" / "date=2023-05-02" / "part-0.parquet",
    ]
    theirs = [lake / "notes.txt", lake / "._users.json.keep.tmp", lake / "rejects" / "keep.jsonl"]
    for path in mine + theirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    writing.remove_leftovers(lake)
    assert [p for p in mine if p.exists()] == []
    assert all(p.exists() for p in theirs)
    assert answers(lake) == scenario["before_answers"]


# --- a full disk ---------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs mounted for the test (root only); yields (mount point, fill(leave_bytes), free())."""
    point = tmp_path / "small"
    point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    filler = point / "filler"

    def fill(leave: int) -> None:
        """Fill the disk so that about `leave` bytes stay free."""
        filler.unlink(missing_ok=True)
        free = shutil.disk_usage(point).free
        with open(filler, "wb") as handle:
            handle.write(b"\0" * max(free - leave, 0))

    def free_up() -> None:
        filler.unlink(missing_ok=True)

    try:
        yield point, fill, free_up
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def assert_one_line(result, code: int = 1) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no space left on device" in lines[0]


@pytest.mark.parametrize("leave", [0, 8 * 1024, 64 * 1024, 100 * 1024, 120 * 1024])
def test_a_full_disk_during_an_ingest_is_one_line_and_loses_nothing(scenario, small_disk, leave):
    point, fill, free_up = small_disk
    lake = point / "lake"
    shutil.copytree(scenario["before"], lake)
    fill(leave)
    result = run_cli("ingest", "--lake", str(lake), str(scenario["b"]), process=True)
    if result.returncode == 0:  # enough room after all: then it must be the clean result
        assert content(lake) == scenario["clean"]
        return
    assert_one_line(result)
    assert str(point) in result.stderr  # it names where
    assert answers(lake) == scenario["before_answers"]
    assert leftovers(lake) == []
    free_up()
    again = run_cli("ingest", "--lake", str(lake), str(scenario["b"]))
    assert again.returncode == 0, again.stderr
    assert content(lake) == scenario["clean"]


def test_a_full_disk_while_writing_outputs_is_one_line(scenario, small_disk, tmp_path):
    point, fill, _ = small_disk
    fill(0)
    lake = str(scenario["before"])
    out = run_cli("weekly-data", "--lake", lake, "--start", "2023-05-10", "--out", str(point / "w.json"))
    assert_one_line(out)
    assert not list(point.glob(".w.json.*"))
    page = run_cli("report", "--lake", lake, "--start", "2023-05-10", "--out", str(point / "r.html"))
    assert_one_line(page)
    mail = run_cli(
        "send",
        "--lake",
        lake,
        "--start",
        "2023-05-10",
        "--out",
        str(tmp_path / "out"),
        env={"ENGAGEMENT_OUTBOX": str(point / "outbox")},
    )
    assert_one_line(mail)


# --- a disk that fails to write what the run placed ----------------------------------------------


def test_a_disk_that_cannot_flush_the_new_files_keeps_the_state_before_them(scenario, tmp_path, monkeypatch):
    """Partitions are placed without an fsync each; one syncfs of the lake's filesystem comes before
    the state names them. When the disk fails it (EIO), the run is one line and the lake is as before."""
    import ctypes
    import errno

    from pipelines import files

    lake = tmp_path / "lake"
    shutil.copytree(scenario["before"], lake)
    flushed: list[int] = []

    def failing(fd: int) -> int:
        flushed.append(fd)
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(files, "_syncfs", lambda: failing)
    result = run_cli("ingest", "--lake", str(lake), str(scenario["b"]))
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "input/output error" in lines[0] and str(lake) in lines[0], result.stderr
    assert flushed
    assert answers(lake) == scenario["before_answers"]
    assert leftovers(lake) == []
    monkeypatch.undo()
    again = run_cli("ingest", "--lake", str(lake), str(scenario["b"]))
    assert again.returncode == 0, again.stderr
    assert content(lake) == scenario["clean"]


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="syncfs is Linux's")
def test_the_flush_is_the_filesystems_own_syncfs(tmp_path):
    from pipelines import files

    assert files._syncfs() is not None  # not the whole-machine sync of the fallback
    (tmp_path / "f").write_bytes(b"x")
    files.flush_filesystem(tmp_path)
    with pytest.raises(FileNotFoundError):
        files.flush_filesystem(tmp_path / "gone")


# --- no orphans ----------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def command_line(pid: int) -> bytes:
    """A process's command line; empty once it has exited (a child can end between listing and reading)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads children from /proc (Linux)")
def test_killing_a_backfill_takes_prefects_temporary_server_with_it(scenario, tmp_path):
    import signal
    import sys
    import time

    from conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGAGEMENT_", "PREFECT_API_URL"))}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines",
            "backfill",
            "--lake",
            str(scenario["before"]),
            "--out",
            str(tmp_path / "out"),
            "--from",
            "2023-05-01",
            "--to",
            "2023-05-30",
            "--force",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    server = []
    while not server and process.poll() is None and time.monotonic() < deadline:
        server = [c for c in children(process.pid) if b"uvicorn" in command_line(c)]
        time.sleep(0.05)
    assert server, "the backfill never started Prefect's temporary server"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 30  # a bound on waiting, not a performance limit
    while alive(server[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(server[0]), "Prefect's temporary server outlived the killed backfill"
