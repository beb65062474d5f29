"""`engagement verify`: the lake checked against a live server that speaks Rocket.Chat's API.

The server is a real `engagement serve` process on a lake built from the same sample export with one
day missing (17 May) and one day changed (15 May, three of its users' documents gone).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import ROOT, run_cli, start_server
from helpers import ingest_docs

from pipelines.metrics.activity import active_users

SAMPLE = ROOT / "data" / "sample" / "rocketchat_sessions.json"
RANGE = ("--from", "2023-05-12", "--to", "2023-05-19")


def _day(doc: dict) -> tuple:
    return (doc.get("year"), doc.get("month"), doc.get("day"))


@pytest.fixture(scope="module")
def lakes(tmp_path_factory):
    root = tmp_path_factory.mktemp("verify")
    ours, theirs = root / "ours", root / "theirs"
    ingest_docs(ours, SAMPLE)
    docs = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    counted = active_users(ours, dt.date(2023, 5, 15), dt.date(2023, 5, 15))["month"][0]["usersList"]
    gone = set(sorted(counted)[:3])  # three users counted on 15 May
    changed = [
        d for d in docs if _day(d) != (2023, 5, 17) and not (_day(d) == (2023, 5, 15) and d.get("userId") in gone)
    ]
    (root / "changed.json").write_text("".join(json.dumps(d) + "\n" for d in changed))
    ingest_docs(theirs, root / "changed.json")
    servers = []
    for lake in (ours, theirs):
        token = run_cli("users", "add", "admin", "--lake", str(lake)).stdout.splitlines()[-1]
        process, base = start_server(lake)
        servers.append((process, base, token))
    yield {"ours": ours, "same": servers[0], "changed": servers[1]}
    for process, _, _ in servers:
        process.terminate()
        process.wait(timeout=30)


def verify(lake, server, *extra: str):
    _, base, token = server
    return run_cli("verify", "--lake", str(lake), "--against", base, "--user-id", "admin", "--token", token, *extra)


def test_a_server_with_one_changed_and_one_missing_day_is_named_day_by_day(lakes):
    result = verify(lakes["ours"], lakes["changed"], *RANGE)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("2023-05-12 .. 2023-05-19 (8 days): 2 day(s) differ")
    assert [line.split(":")[0] for line in lines[1:]] == ["2023-05-15", "2023-05-17"]
    fifteenth, seventeenth = lines[1:]
    lake_15 = int(fifteenth.split("lake ")[1].split(",")[0])
    assert f"server {lake_15 - 3}" in fifteenth  # three users fewer on the server
    assert "server 0 (the server has no users this day" in seventeenth


def test_an_equal_server_agrees_and_exits_0(lakes):
    result = verify(lakes["ours"], lakes["same"], *RANGE)
    assert (result.returncode, result.stdout) == (
        0,
        f"2023-05-12 .. 2023-05-19 (8 days): the lake and {lakes['same'][1]} agree on every day's active users\n",
    )


def test_by_default_the_lakes_last_45_loaded_days_are_compared(lakes):
    result = verify(lakes["ours"], lakes["same"])
    assert result.returncode == 0 and result.stdout.startswith("2023-04-28 .. 2023-05-19 (22 days)")


def test_a_missing_day_in_the_lake_is_said_to_be_a_missing_export(lakes, tmp_path):
    result = verify(lakes["ours"], lakes["same"], "--from", "2023-04-27", "--to", "2023-04-28")
    assert result.returncode == 0  # neither holds 27 April: nothing differs
    _, base, _ = lakes["changed"]
    # the other way round: the changed lake lacks 17 May, which the sample's server has
    result = verify(lakes["ours"].parent / "theirs", lakes["same"], "--from", "2023-05-17", "--to", "2023-05-17")
    assert result.returncode == 1
    assert "no data in the lake for this day: an export is missing" in result.stdout


def test_a_wrong_token_or_address_is_one_line(lakes):
    _, base, _ = lakes["same"]
    wrong = run_cli("verify", "--lake", str(lakes["ours"]), "--against", base, "--user-id", "admin", "--token", "x")
    assert wrong.returncode == 2 and "refused the user id and token (401)" in wrong.stderr
    assert len(wrong.stderr.splitlines()) == 1
    nowhere = run_cli("verify", "--lake", str(lakes["ours"]), "--against", "ftp://x", "--user-id", "a", "--token", "t")
    assert nowhere.returncode == 2 and "is not a server address" in nowhere.stderr


@pytest.fixture
def hostile():
    """A real HTTP server on loopback (a thread) that answers badly: 300 MB of JSON, a body full of
    terminal escapes with status 500, or one byte a second."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            kind = self.path.split("/")[1]
            try:
                if kind == "huge":
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b'{"month": [')
                    item = b'{"day": 1, "month": 5, "year": 2023, "usersList": ["' + b"x" * 1000 + b'"], "users": 1},'
                    for _ in range(300_000):  # 300 MB
                        self.wfile.write(item)
                elif kind == "escapes":
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"\x1b[2J\x1b]0;owned\x07boom\nsecond line")
                else:
                    self.send_response(200)
                    self.end_headers()
                    for _ in range(60):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(1)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://admin:hunter2@127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_verify_stops_a_huge_answer_within_bounded_memory_and_prints_no_password(lakes, hostile):
    import subprocess
    import sys

    probe = (
        "import resource, subprocess, sys; "
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(r.returncode); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); print(r.stderr)"
    )
    command = [sys.executable, "-m", "pipelines", "verify", "--lake", str(lakes["ours"])]
    command += ["--against", hostile + "/huge", "--user-id", "admin", "--token", "t", *RANGE]
    done = subprocess.run(
        [sys.executable, "-c", probe, *command], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    code, peak_kb, stderr = done.stdout.split("\n", 2)
    assert code == "2" and "answered more than 64 MB: stopped" in stderr, stderr
    assert int(peak_kb) < 300 * 1024
    assert "hunter2" not in stderr and "admin:" not in stderr


def test_verify_prints_what_a_server_says_escaped_and_stops_a_slow_one(lakes, hostile):
    from pipelines.errors import UserError
    from pipelines.verify import server_users

    failed = run_cli(
        "verify",
        "--lake",
        str(lakes["ours"]),
        "--against",
        hostile + "/escapes",
        "--user-id",
        "a",
        "--token",
        "t",
        *RANGE,
    )
    assert failed.returncode == 2 and len(failed.stderr.splitlines()) == 1
    assert "\x1b" not in failed.stderr and "\\x1b[2J" in failed.stderr and "hunter2" not in failed.stderr
    with pytest.raises(UserError, match="took longer than 2 s to answer"):
        server_users(hostile + "/slow", "a", "t", dt.date(2023, 5, 1), dt.date(2023, 5, 2), deadline=2)


def test_verify_sends_no_token_over_plain_http_to_another_host(lakes):
    refused = run_cli(
        "verify",
        "--lake",
        str(lakes["ours"]),
        "--against",
        "http://u:secret@chat.example.com",
        "--user-id",
        "a",
        "--token",
        "t",
        *RANGE,
    )
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1
    assert "plain http" in refused.stderr and "--allow-http" in refused.stderr and "secret" not in refused.stderr
