"""The command line at its edges: the calendar's ends, hostile values, closed pipes, file modes."""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import subprocess
import sys

import pytest
from conftest import ROOT, run_cli, session
from helpers import ingest_docs

from pipelines.cli.app import main


def call(*argv: str) -> tuple[int, str, str]:
    """The command in-process: an exception escaping main() would be a traceback for the user."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def small_lake(lake, export, tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGEMENT_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.setenv("ENGAGEMENT_OUT", str(tmp_path / "out"))
    for name in ("ENGAGEMENT_SMTP_HOST", "ENGAGEMENT_MAIL_TO", "ENGAGEMENT_MAIL_FROM", "ENGAGEMENT_TZ"):
        monkeypatch.delenv(name, raising=False)
    ingest_docs(
        lake,
        # 10:00 to 11:00 on 19 May in the lake's zone (UTC+14): the week ending 19 May has a loaded day
        export([session("a", "u1", "2023-05-18T20:00:00.000Z", "2023-05-18T21:00:00.000Z")]),
        tz="Pacific/Kiritimati",
    )
    return lake


@pytest.mark.parametrize("command", ["weekly-data", "report", "send"])
@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01",
        "0001-01-03",
        "0001-01-01T00:00:00.000Z",
        "0001-01-01T00:00:00-05:00",
        "9999-12-31",
        "9999-12-31T23:59:59.999Z",
        "0000-12-31",
        "10000-01-01",
        "9999-13-01",
    ],
)
def test_every_date_is_an_answer_or_one_line(small_lake, command, when):
    code, out, err = call(command, "--lake", str(small_lake), "--start", when)
    assert code in (0, 1, 2)
    if code == 2:
        assert err.count("\n") == 1 and "cannot read" in err
    elif code == 1:  # a report of a week the lake holds no day of: refused, not zeros
        assert command != "weekly-data" and err.count("\n") == 1 and "holds no loaded day of" in err
    elif command == "weekly-data":
        assert json.loads(out)["success"] is True


@pytest.mark.parametrize(
    "args,env",
    [
        (["--to", "a@x\r\nBcc: e@x"], {}),
        (["--to", "a@"], {}),
        ([], {"ENGAGEMENT_MAIL_TO": "boss@example.com, a@x\r\nBcc: e@x"}),
        ([], {"ENGAGEMENT_MAIL_FROM": "me@x\nBcc: e@x"}),
    ],
)
def test_a_bad_address_is_one_line_not_a_traceback(small_lake, monkeypatch, args, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, _, err = call("send", "--lake", str(small_lake), "--start", "2023-05-19", *args)
    assert code == 2
    assert err.count("\n") == 1 and ("is not an email address" in err or "not an email address list" in err)


@pytest.mark.parametrize(
    "args,env,says",
    [
        (["--to", "boss@example.com, spy@evil.com"], {}, "recipient 'boss@example.com, spy@evil.com' holds 2"),
        (["--to", "boss@example.com spy@evil.com"], {}, "holds 2 addresses"),
        (
            [],
            {"ENGAGEMENT_MAIL_FROM": "ceo@example.com,x@evil.com"},
            "ENGAGEMENT_MAIL_FROM 'ceo@example.com,x@evil.com'",
        ),
        (
            [],
            {
                "ENGAGEMENT_SMTP_HOST": "mail.example.com",
                "ENGAGEMENT_SMTP_SECURITY": "none",
                "ENGAGEMENT_SMTP_PASSWORD": "pw",
            },
            "ENGAGEMENT_SMTP_SECURITY=none would send the SMTP password in clear to mail.example.com",
        ),
    ],
)
def test_two_addresses_in_one_value_and_a_password_in_clear_are_refused(small_lake, monkeypatch, args, env, says):
    monkeypatch.setenv("ENGAGEMENT_MAIL_TO", "boss@example.com")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, _, err = call("send", "--lake", str(small_lake), "--start", "2023-05-19", "--dry-run", *args)
    assert code == 2 and says in err and err.count("\n") == 1, err


def test_a_list_of_recipients_is_split_address_by_address(small_lake, monkeypatch):
    from pipelines.settings import MailSettings, resolve

    monkeypatch.setenv("ENGAGEMENT_MAIL_TO", '"Doe, John" <j@x.com>, b@y.com')
    assert resolve(MailSettings).mail_to == ('"Doe, John" <j@x.com>', "b@y.com")
    # on this machine, or allowed outright, a password without encryption is the user's call
    loopback = {"smtp_host": "127.0.0.1", "smtp_security": "none", "smtp_password": "pw"}
    assert resolve(MailSettings, **loopback).smtp_password == "pw"
    outright = {**loopback, "smtp_host": "mail.example.com", "smtp_allow_plaintext": "on"}
    assert resolve(MailSettings, **outright).smtp_allow_plaintext is True


@pytest.mark.parametrize(
    "argv",
    [
        ["weekly-data", "--start", "2023-05-19", "--indent", "2"],
        ["ingest", "{export}"],
    ],
)
def test_a_closed_pipe_is_not_an_error(small_lake, export, argv):
    path = export([session("b", "u2", "2023-05-18T10:00:00.000Z", "2023-05-18T11:00:00.000Z")])
    argv = [a.replace("{export}", str(path)) for a in argv]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGEMENT_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines", *argv, "--lake", str(small_lake)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # the reader (`| head`) is gone before anything is written
    stderr = process.stderr.read().decode()
    assert process.wait() == 0, stderr
    assert stderr == ""


def test_users_add_takes_its_options_anywhere(lake):
    before = run_cli("users", "add", "--lake", str(lake), "rbAXPnMktTFbNpwtJ")
    after = run_cli("users", "add", "viewer2", "--lake", str(lake), "--permission", "view-engagement-dashboard")
    assert before.returncode == 0 and after.returncode == 0, before.stderr + after.stderr
    listed = run_cli("users", "list", "--lake", str(lake)).stdout
    assert "rbAXPnMktTFbNpwtJ" in listed and "viewer2" in listed


@pytest.mark.parametrize("user_id", ["a\nb", "a b", "", "tab\there", "é"])
def test_a_user_id_a_header_cannot_carry_is_refused(lake, user_id):
    code, _, err = call("users", "add", "--lake", str(lake), user_id)
    assert code == 2 and err.count("\n") == 1
    assert not (lake / "_users.json").exists()


@pytest.mark.parametrize("group,file_mode,folder_mode", [(None, 0o600, 0o700), ("on", 0o640, 0o750)])
def test_published_files_get_the_lakes_modes_whatever_the_umask(
    small_lake, tmp_path, monkeypatch, group, file_mode, folder_mode
):
    """The week's JSON, a page, an email naming direct-message rooms, the delivery ledger: personal
    data as much as the lake, so private like it (group-readable with ENGAGEMENT_LAKE_GROUP_READABLE=on)."""
    if group:
        monkeypatch.setenv("ENGAGEMENT_LAKE_GROUP_READABLE", group)
    old = os.umask(0o022)
    try:
        weekly = ("weekly-data", "--lake", str(small_lake), "--start", "2023-05-19", "--out", str(tmp_path / "w.json"))
        assert call(*weekly)[0] == 0
        report = ("report", "--lake", str(small_lake), "--start", "2023-05-19", "--out", str(tmp_path / "r.html"))
        assert call(*report)[0] == 0
        assert call("send", "--lake", str(small_lake), "--start", "2023-05-19")[0] == 0
        assert call("users", "add", "--lake", str(small_lake), "viewer")[0] == 0
        ingest_docs(small_lake, tmp_path / "w.json", tz="Pacific/Kiritimati")  # rewrites state, manifest, rejects
        assert os.umask(0o022) == 0o022  # the command's umask was its own: the caller's is as it was
    finally:
        os.umask(old)

    def mode(path):
        return stat.S_IMODE(path.stat().st_mode)

    published = [
        tmp_path / "w.json",
        tmp_path / "r.html",
        tmp_path / "outbox" / "2023-05-19.eml",
        tmp_path / "out" / "deliveries.jsonl",
    ]
    assert {str(p): mode(p) for p in published} == {str(p): file_mode for p in published}
    assert mode(tmp_path / "outbox") == folder_mode and mode(tmp_path / "out") == folder_mode
    lake_files = [small_lake / "_state.json", small_lake / "_manifest.jsonl", small_lake / "_users.json"]
    lake_files += list((small_lake / "rejects").glob("*.jsonl"))
    assert {str(p): mode(p) for p in lake_files if p.name != "_users.json"} == {
        str(p): file_mode for p in lake_files if p.name != "_users.json"
    }
    assert mode(small_lake / "_users.json") == 0o600  # secrets: its owner's, always
    assert mode(small_lake) == folder_mode


def test_force_does_not_double_the_manifest(lake, export):
    path = export([session("a", "u1", "2023-05-19T10:00:00.000Z", "2023-05-19T11:00:00.000Z")])
    for _ in range(3):
        assert call("ingest", "--lake", str(lake), "--force", str(path))[0] == 0
    assert len((lake / "_manifest.jsonl").read_text().splitlines()) == 1


def test_a_backfill_over_the_whole_calendar_is_one_line(small_lake):
    code, _, err = call("backfill", "--lake", str(small_lake), "--from", "0001-01-01", "--to", "9999-12-31")
    assert code == 2 and err.count("\n") == 1 and "the lake holds 2023-05-19 .. 2023-05-19" in err


@pytest.mark.parametrize(
    "name,argv",
    [
        ("_users.json", ["users", "list"]),
        ("_manifest.jsonl", ["ingest", "{export}"]),
    ],
)
def test_a_damaged_lake_file_is_one_line(small_lake, export, name, argv):
    (small_lake / name).write_text("{ damaged")
    path = export([session("b", "u2", "2023-05-18T10:00:00.000Z", "2023-05-18T11:00:00.000Z")])
    code, _, err = call(*[a.replace("{export}", str(path)) for a in argv], "--lake", str(small_lake))
    assert code == 2 and err.count("\n") == 1 and "cannot read" in err


def test_serve_on_a_port_it_cannot_have_is_one_line(small_lake):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for argv in (["--port", str(port)], ["--port", "99999"], ["--host", "999.1.1.1"]):
            code, _, err = call("serve", "--lake", str(small_lake), *argv)
            assert code == 2 and err.count("\n") == 1 and "engagement serve: error:" in err, argv


@pytest.mark.parametrize(
    "argv,where",
    [
        (["weekly-data", "--start", "2023-05-19", "--out", "{tmp}"], "{tmp}"),
        (["report", "--start", "2023-05-19", "--out", "/proc/nope/page.html"], "/proc/nope"),
        (["weekly-data", "--start", "2023-05-19", "--out", "{file}/under-a-file.json"], "{file}"),
    ],
)
def test_an_output_path_that_cannot_be_written_is_one_line(small_lake, tmp_path, argv, where):
    (tmp_path / "a-file").write_text("x")
    fill = {"{tmp}": str(tmp_path), "{file}": str(tmp_path / "a-file")}

    def filled(text: str) -> str:
        for key, value in fill.items():
            text = text.replace(key, value)
        return text

    code, _, err = call(*map(filled, argv), "--lake", str(small_lake))
    assert code == 2 and err.count("\n") == 1
    assert f"cannot use {filled(where)}" in err
