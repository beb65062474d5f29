"""A hostile client against a real `engagement serve`: bounded requests, sessions that end, a login
budget, cross-site posts refused, security headers (issue 24's probes, each a test)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, run_cli, start_server
from helpers import ingest_docs


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    lake = tmp_path_factory.mktemp("security") / "lake"
    ingest_docs(lake, ROOT / "data" / "sample" / "rocketchat_sessions.json")
    tokens = {u: run_cli("users", "add", u, "--lake", str(lake)).stdout.splitlines()[-1] for u in ("boss", "carol")}
    process, base = start_server(lake, {"ENGAGEMENT_HEADER_TIMEOUT": "2"})
    settle(process.pid)  # the site's warmer makes the index at the start: memory is measured after it
    yield {"lake": lake, "base": base, "tokens": tokens, "pid": process.pid}
    process.terminate()
    process.wait(timeout=30)


def login(served, user: str, token: str, **headers) -> httpx.Response:
    data = {"user_id": user, "token": token, "next": "/reports/"}
    return httpx.post(served["base"] + "/reports/login", data=data, headers=headers, follow_redirects=False)


def opens(served, cookie: str) -> bool:
    """Whether a session cookie opens a week (else: the login page)."""
    answer = httpx.get(served["base"] + "/reports/2023-05-19", cookies={"engagement_session": cookie})
    return answer.status_code == 200


def settle(pid: int) -> None:
    """Wait until the process has used no CPU for half a second (a bound on waiting: 60 s)."""
    import time

    def cpu() -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime

    deadline, last = time.monotonic() + 60, -1
    while time.monotonic() < deadline:
        now = cpu()
        if now == last:
            return
        last = now
        time.sleep(0.5)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_every_answer_carries_the_security_headers_and_no_server_name(served):
    for path in ("/reports/login", "/reports/2023-05-19", "/api/v1/engagement-dashboard/users/active-users"):
        answer = httpx.get(served["base"] + path)
        csp = answer.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
        assert answer.headers["x-frame-options"] == "DENY" and answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert "server" not in answer.headers


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's memory from /proc")
def test_a_200_mb_login_body_gets_413_and_the_server_stays_small(served):
    before = rss_kb(served["pid"])
    with socket.create_connection(("127.0.0.1", int(served["base"].rsplit(":", 1)[1]))) as client:
        client.sendall(
            b"POST /reports/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 200000000\r\n\r\n" + b"a" * 65536
        )
        assert client.recv(100).startswith(b"HTTP/1.1 413")
    chunked = httpx.post(
        served["base"] + "/reports/login", content=iter([b"a" * 4096] * 64), headers={"content-type": "text/plain"}
    )
    assert chunked.status_code == 413 and chunked.json() == {"success": False, "error": "the request body is too large"}
    assert rss_kb(served["pid"]) - before < 20_000  # kilobytes: nothing like the body was held


def test_a_client_that_dribbles_its_headers_is_closed(served):
    port = int(served["base"].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"GET /reports/login HTTP/1.1\r\n")
        deadline = time.monotonic() + 60  # a bound on waiting, not a performance limit
        closed = False
        while time.monotonic() < deadline and not closed:
            try:
                client.sendall(b"X-Slow: 1\r\n")
                client.settimeout(0.5)
                closed = client.recv(1) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
        assert closed, "the server kept a connection whose headers never ended"


def _raw(served, data: bytes) -> bytes:
    """What the server answers to `data` sent in one write, until it closes (or 10 s pass)."""
    with socket.create_connection(("127.0.0.1", int(served["base"].rsplit(":", 1)[1]))) as client:
        client.sendall(data)
        client.settimeout(10)
        answer = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := client.recv(65536):
                answer += chunk
        return answer


@pytest.mark.parametrize(
    "head,status,error",
    [
        (b"GET /reports/login?" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "too long"),
        (b"GET /reports/login HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", 431, "too large"),
        (b"GET /reports/login HTTP/1.1\nHost: x\n" + b"X-Many: a\n" * 2000 + b"\n", 431, "too large"),
    ],
)
def test_a_head_over_16_kb_in_one_write_gets_414_or_431(served, head, status, error):
    answer = _raw(served, head)
    first, _, rest = answer.partition(b"\r\n")
    assert first.split(b" ")[1] == str(status).encode(), first
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"Content-Security-Policy" in headers and b"Cache-Control: no-store" in headers
    assert json.loads(body)["success"] is False and error in json.loads(body)["error"]


def test_a_head_under_the_cap_is_served_and_a_pipelined_one_over_it_is_refused(served):
    fits = b"GET /reports/login HTTP/1.1\r\nHost: x\r\nX-Fits: " + b"a" * 15_000 + b"\r\n\r\n"
    over = b"GET /reports/login HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n"
    answer = _raw(served, fits + over)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.count(b"HTTP/1.1 ") == 2 and b"HTTP/1.1 431 " in answer


def test_a_cookie_replayed_after_logout_opens_nothing(served):
    answer = login(served, "boss", served["tokens"]["boss"])
    cookie = answer.cookies["engagement_session"]
    assert opens(served, cookie)
    httpx.post(served["base"] + "/reports/logout", cookies={"engagement_session": cookie})
    assert not opens(served, cookie)
    assert opens(served, login(served, "boss", served["tokens"]["boss"]).cookies["engagement_session"])


def test_re_keying_a_user_ends_its_sessions(served):
    cookie = login(served, "carol", served["tokens"]["carol"]).cookies["engagement_session"]
    assert opens(served, cookie)
    served["tokens"]["carol"] = run_cli("users", "add", "carol", "--lake", str(served["lake"])).stdout.splitlines()[-1]
    assert not opens(served, cookie)
    assert opens(served, login(served, "carol", served["tokens"]["carol"]).cookies["engagement_session"])


def test_a_cross_site_login_or_logout_is_refused(served):
    evil = login(served, "boss", served["tokens"]["boss"], origin="https://evil.example")
    assert evil.status_code == 403 and "engagement_session" not in evil.cookies
    evil_referer = login(served, "boss", served["tokens"]["boss"], referer="https://evil.example/form")
    assert evil_referer.status_code == 403
    own = login(served, "boss", served["tokens"]["boss"], origin=served["base"])
    assert own.status_code == 303 and "engagement_session" in own.cookies


def test_parallel_wrong_logins_meet_the_budget_and_spoofed_forwarding_is_ignored(served):
    def wrong(n: int) -> httpx.Response:
        # a different X-Forwarded-For each time: from loopback it is not trusted (no --forwarded-allow-ips)
        return login(served, "mallory", f"wrong-{n}", **{"x-forwarded-for": f"10.0.0.{n}"})

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(wrong, range(10)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [401] * 5 + [429] * 5, codes
    refused = next(a for a in answers if a.status_code == 429)
    assert int(refused.headers["retry-after"]) > 0 and "Too many failed logins" in refused.text
    # someone else's failures do not block a user who knows their token (nor slow it: nothing sleeps)
    assert login(served, "boss", served["tokens"]["boss"]).status_code == 303


def test_a_cross_site_logout_is_refused(served):
    cookie = login(served, "boss", served["tokens"]["boss"]).cookies["engagement_session"]
    answer = httpx.post(
        served["base"] + "/reports/logout",
        cookies={"engagement_session": cookie},
        headers={"origin": "https://evil.example"},
    )
    assert answer.status_code == 403 and opens(served, cookie)  # a forged logout ends nothing


def test_connections_beyond_the_cap_get_503(served):
    from conftest import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "serve", "--quiet", "--port", str(port), "--max-connections", "1"]
        + ["--lake", str(served["lake"])],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")},
    )
    try:
        assert process.stdout.readline().startswith("serving the lake")
        deadline = time.monotonic() + 60
        while True:  # until it answers
            try:
                httpx.get(f"http://127.0.0.1:{port}/reports/login", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", port)) as holding:
            holding.sendall(b"GET /reports/login HTTP/1.1\r\n")  # a connection that holds the one place
            time.sleep(0.2)
            assert httpx.get(f"http://127.0.0.1:{port}/reports/login", timeout=10).status_code == 503
    finally:
        process.terminate()
        process.wait(timeout=30)
