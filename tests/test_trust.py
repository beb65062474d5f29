"""A lake that trusts nothing it reads: paths confined to the lake, no symbolic links followed, private
modes, a lock nobody can hold forever, and damaged logs that end in one printable line."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from conftest import ROOT, run_cli, session
from helpers import ingest_docs

from pipelines.errors import UserError, shown
from pipelines.lake import locks
from pipelines.lake.state import read_state

SAMPLE = ROOT / "data" / "sample" / "rocketchat_sessions.json"


@pytest.fixture
def sample(tmp_path):
    lake = tmp_path / "lake"
    ingest_docs(lake, SAMPLE)
    return lake


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("outside", ["/etc/passwd", "../../elsewhere/part-0123456789abcdef0123.parquet", "sessions/x"])
def test_a_state_that_names_a_file_outside_the_lake_is_refused_in_one_line(sample, outside):
    body = json.loads((sample / "_state.json").read_text())
    day = next(iter(body["tables"]["sessions"]))
    body["tables"]["sessions"][day] = outside
    (sample / "_state.json").write_text(json.dumps(body))
    result = run_cli("weekly-data", "--lake", str(sample), "--start", "2023-05-19")
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "which is not one of the lake's files: refused" in result.stderr


def test_a_symlinked_state_or_ledger_is_refused_not_read_through(sample, tmp_path):
    private = tmp_path / "private.json"
    private.write_text((sample / "_state.json").read_text())
    (sample / "_state.json").unlink()
    (sample / "_state.json").symlink_to(private)
    with pytest.raises(UserError, match="is a symbolic link: refused"):
        read_state(sample)
    out = tmp_path / "out"
    out.mkdir()
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"end": "x", "to": ["root"], "via": "smtp"}\n')
    (out / "deliveries.jsonl").symlink_to(secret)
    (sample / "_state.json").unlink()
    (sample / "_state.json").write_text(private.read_text())
    result = run_cli("send", "--lake", str(sample), "--out", str(out), "--start", "2023-05-19")
    assert result.returncode == 2 and "deliveries.jsonl is a symbolic link: refused" in result.stderr
    assert (out / "deliveries.jsonl").is_symlink() and secret.read_text().count("\n") == 1  # nothing copied


def test_the_lake_is_its_owners_and_a_setting_shares_it_with_the_group(tmp_path, export):
    doc = export([session("s", "u", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z")])
    mine = tmp_path / "mine"
    ingest_docs(mine, doc)
    files = [p for p in mine.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert mode(mine) == 0o700 and {mode(p) for p in files} == {0o600}
    assert {mode(p) for p in mine.rglob("*") if p.is_dir()} == {0o700}
    run_cli("users", "add", "boss", "--lake", str(mine))
    assert mode(mine / "_users.json") == 0o600
    shared = tmp_path / "shared"
    result = run_cli("ingest", "--lake", str(shared), str(doc), env={"ENGAGEMENT_LAKE_GROUP_READABLE": "on"})
    assert result.returncode == 0, result.stderr
    assert mode(shared) == 0o750 and mode(shared / "_state.json") == 0o640


def test_a_symlinked_lock_is_refused(sample, tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("")
    (sample / ".lock").unlink(missing_ok=True)
    (sample / ".lock").symlink_to(target)
    result = run_cli("ingest", "--lake", str(sample), str(SAMPLE), "--force")
    assert result.returncode == 2 and ".lock is a symbolic link" in result.stderr


def test_a_lock_held_too_long_is_one_line_naming_the_holder(sample, monkeypatch):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
            "fcntl.flock(fd, fcntl.LOCK_SH); print('held', flush=True); time.sleep(60)",
            str(sample / ".lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(locks, "LOCK_WAIT", 0.3)
        result = run_cli("ingest", "--lake", str(sample), str(SAMPLE), "--force")
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
        assert f"has been locked (.lock) by process {holder.pid} for over 0.3 s" in result.stderr
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize(
    "content",
    [
        b'user,"login\rx",last\nu1,2023-05-19T10:00:00Z,2023-05-19T11:00:00Z\n',  # a CR inside the header
        b"\x01\x02\xff\xfe,\x1b[31m\r\x00\nrow\n",  # binary, a terminal escape and a CR: no column found
        b'user,login,last\nu1,"2023-05-19T10:00:00Z\r,x\n\x00\x00',  # a quoted field never closed
    ],
)
def test_garbage_csv_logs_end_in_one_printable_line(tmp_path, content):
    path = tmp_path / "garbage.csv"
    path.write_bytes(content)
    maps = ["--map", "userId=user", "--map", "loginAt=login", "--map", "lastActivityAt=last"]
    result = run_cli("ingest", "--lake", str(tmp_path / "lake"), *maps, str(path))
    assert result.returncode in (0, 2), result.stderr
    if result.returncode == 2:
        assert len(result.stderr.splitlines()) == 1 and result.stderr.isprintable() is False  # just the newline
        assert result.stderr[:-1].isprintable() and "\x1b" not in result.stderr


def test_a_value_from_a_file_is_shown_escaped_and_cut():
    assert shown("a\nb\x1b[31m") == "a\\nb\\x1b[31m"
    assert len(shown("x" * 1000)) == 120 and shown("x" * 1000).endswith("…")


@pytest.mark.parametrize("name", ["_users.json", "_state.json", "."])
def test_a_lake_file_others_can_write_is_refused_in_one_line(sample, name):
    assert run_cli("users", "add", "probe", "--lake", str(sample)).returncode == 0
    target = sample / name
    os.chmod(target, stat.S_IMODE(os.stat(target).st_mode) | stat.S_IWOTH)
    for command in (["users", "list"], ["weekly-data", "--start", "2023-05-19T23:59:59.999Z"], ["query", "select 1"]):
        if (name == "_users.json") != (command[0] == "users") and name != ".":
            continue  # users reads its file and the folder; the others the state and the folder
        result = run_cli(*command, "--lake", str(sample))
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, (command, result.stderr)
        assert "is writable by its group or by others" in result.stderr and "chmod go-w" in result.stderr
    ingest = run_cli("ingest", str(SAMPLE), "--lake", str(sample))
    if name != "_users.json":
        assert ingest.returncode == 2 and "refused" in ingest.stderr


def test_a_site_key_or_logouts_file_others_can_write_is_refused(sample):
    from pipelines.api import site

    key = site._key(sample)
    assert len(key) == 32
    os.chmod(sample / ".site_key", 0o666)
    with pytest.raises(UserError, match="writable by its group or by others"):
        site._key(sample)
    (sample / ".site_logouts").write_text("")
    os.chmod(sample / ".site_logouts", 0o620)
    with pytest.raises(UserError, match="writable by its group or by others"):
        site.Logouts(sample).ended_session("x")


@pytest.mark.skipif(os.geteuid() != 0, reason="making a file another user's needs root")
def test_a_lake_file_another_user_owns_is_refused(sample):
    assert run_cli("users", "add", "probe", "--lake", str(sample)).returncode == 0
    os.chown(sample / "_users.json", 65534, -1)
    result = run_cli("users", "list", "--lake", str(sample))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "belongs to user 65534" in result.stderr and "chown" in result.stderr


def test_a_file_named_with_a_newline_prints_on_one_line(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    odd = folder / "rocketchat_sessions\n<img src=x onerror=alert(3)>.json"
    odd.write_bytes(SAMPLE.read_bytes()[:2000].rsplit(b"\n", 1)[0] + b"\n")
    lake = str(tmp_path / "lake")
    first = run_cli("ingest", str(folder), "--lake", lake)
    again = run_cli("ingest", str(folder), "--lake", lake)
    for result in (first, again):
        assert result.returncode == 0, result.stderr
        assert not any(line.startswith("<img") for line in result.stdout.splitlines())
    assert "rocketchat_sessions\\n<img src=x onerror=alert(3)>.json: unchanged" in again.stdout
    missing = run_cli("ingest", str(folder / "no\nsuch.json"), "--lake", lake)
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1 and "no\\nsuch.json" in missing.stderr


def test_a_file_named_that_is_no_export_is_refused_before_the_lake_is_touched(tmp_path):
    """`ingest README.md`: not one of its lines is a document (a `{` alone in an example is not):
    one line, exit 2, as a folder of pictures is; an export with damaged lines is still read."""
    lake = tmp_path / "lake"
    result = run_cli("ingest", "--lake", str(lake), str(ROOT / "README.md"))
    assert result.returncode == 2 and result.stdout == "" and not lake.exists()
    assert result.stderr == (
        f"engagement ingest: error: {ROOT / 'README.md'} is no export: not one of its lines is a JSON document "
        "(mongoexport writes one per line, or a --jsonArray; mongodump writes .bson): nothing was read\n"
    )
    damaged = tmp_path / "damaged.json"
    damaged.write_bytes(b"not json\n" * 5000 + SAMPLE.read_bytes()[:2000].rsplit(b"\n", 1)[0] + b"\n")
    read = run_cli("ingest", "--lake", str(lake), str(damaged))
    assert read.returncode == 0 and "rejected: 5000" in read.stdout
    (tmp_path / "empty.json").write_bytes(b"")  # an empty export (no document that day) is an export
    assert run_cli("ingest", "--lake", str(lake), str(tmp_path / "empty.json")).returncode == 0
