"""The HTTP endpoint, as a client sees it: a real uvicorn process on a loopback port."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from conftest import run_cli, session, start_server, two_weeks_docs, write_ndjson

from pipelines.ingest.run import ingest

WEEKLY = "/api/v1/engagement-dashboard/users/chat-busier/weekly-data"
ACTIVE = "/api/v1/engagement-dashboard/users/active-users"
UNAUTHORIZED = {"status": "error", "message": "You must be logged in to do this."}
FORBIDDEN = {
    "success": False,
    "error": "User does not have the permissions required for this action [error-unauthorized]",
}


def _serve(lake: Path):
    """`engagement serve` on a lake, with a viewer and a user without the permission."""
    viewer = run_cli("users", "add", "viewer", "--lake", str(lake)).stdout.splitlines()[-1]
    other = run_cli("users", "add", "other", "--permission", "view-room", "--lake", str(lake)).stdout.splitlines()[-1]
    process, base = start_server(lake)
    yield {
        "base": base,
        "viewer": {"X-User-Id": "viewer", "X-Auth-Token": viewer},
        "other": {"X-User-Id": "other", "X-Auth-Token": other},
        "lake": lake,
    }
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One server for the module's read-only tests, on the two-week lake."""
    root = tmp_path_factory.mktemp("served")
    ingest([write_ndjson(root / "export.json", two_weeks_docs())], root / "lake", "UTC")
    yield from _serve(root / "lake")


@pytest.fixture
def served_alone(two_weeks):
    """A server of its own, for a test that changes the lake or its users."""
    yield from _serve(two_weeks)


def test_weekly_data_over_http_equals_the_command(served):
    response = httpx.get(
        served["base"] + WEEKLY, params={"start": "2023-05-19T23:59:59.999Z"}, headers=served["viewer"]
    )
    assert response.status_code == 200
    cli = run_cli("weekly-data", "--lake", str(served["lake"]), "--start", "2023-05-19T23:59:59.999Z")
    assert response.text.strip() == cli.stdout.strip()
    assert response.json()["month"][0] == {"users": 3, "day": 19, "month": 5, "year": 2023}


def test_active_users_lists_who(served):
    response = httpx.get(
        served["base"] + ACTIVE,
        headers=served["viewer"],
        params={"start": "2023-05-17T00:00:00.000Z", "end": "2023-05-18T23:59:59.999Z"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "month": [
            {"day": 18, "month": 5, "year": 2023, "usersList": ["u0", "u1", "u2"], "users": 3},
            {"day": 17, "month": 5, "year": 2023, "usersList": ["u0", "u1", "u2", "u3", "u4"], "users": 5},
        ],
        "success": True,
    }


@pytest.mark.parametrize(
    "headers,status,body",
    [
        ({}, 401, UNAUTHORIZED),
        ({"X-User-Id": "viewer"}, 401, UNAUTHORIZED),
        ({"X-User-Id": "viewer", "X-Auth-Token": "wrong"}, 401, UNAUTHORIZED),
        ({"X-User-Id": "nobody", "X-Auth-Token": "wrong"}, 401, UNAUTHORIZED),
        ("other", 403, FORBIDDEN),
    ],
)
def test_auth_errors_are_rocket_chats(served, headers, status, body):
    headers = served[headers] if isinstance(headers, str) else headers
    response = httpx.get(served["base"] + WEEKLY, params={"start": "2023-05-19T00:00:00.000Z"}, headers=headers)
    assert (response.status_code, response.json()) == (status, body)


@pytest.mark.parametrize(
    "start",
    ["2023-05-19", "2023-05-19T00:00:00Z", "2023-02-30T00:00:00.000Z", "2023-05-19T00:00:00.000+02:00", "yesterday"],
)
def test_dates_not_in_to_iso_string_form_are_400(served, start):
    params = {} if start is None else {"start": start}
    response = httpx.get(served["base"] + WEEKLY, params=params, headers=served["viewer"])
    assert response.status_code == 400
    assert response.json() == {"success": False, "error": "Match error: Failed Match.Where validation in field start"}


def test_a_revoked_user_is_refused(served_alone):
    served = served_alone
    assert run_cli("users", "revoke", "viewer", "--lake", str(served["lake"])).returncode == 0
    response = httpx.get(
        served["base"] + WEEKLY, params={"start": "2023-05-19T00:00:00.000Z"}, headers=served["viewer"]
    )
    assert response.status_code == 401


def test_the_token_is_printed_once_and_only_a_hash_is_kept(served):
    stored = (served["lake"] / "_users.json").read_text()
    assert served["viewer"]["X-Auth-Token"] not in stored
    listing = run_cli("users", "list", "--lake", str(served["lake"])).stdout
    assert listing.splitlines() == ["other\tview-room", "viewer\tview-engagement-dashboard"]


HOURLY = "/api/v1/engagement-dashboard/users/chat-busier/hourly-data"
BY_TIME = "/api/v1/engagement-dashboard/users/users-by-time-of-the-day-in-a-week"


def test_openapi_describes_the_endpoints(served):
    paths = httpx.get(served["base"] + "/openapi.json").json()["paths"]
    assert {WEEKLY, ACTIVE, HOURLY, BY_TIME} <= set(paths)


def test_the_sibling_endpoints_answer(served):
    hourly = httpx.get(served["base"] + HOURLY, params={"start": "2023-05-19T23:00:00.000Z"}, headers=served["viewer"])
    assert hourly.status_code == 200
    assert [h["hour"] for h in hourly.json()["hours"]] == list(range(22, -1, -2))
    assert hourly.json()["hours"][-6]["users"] == 3  # 10:00 UTC on the 19th: three users
    by_time = httpx.get(
        served["base"] + BY_TIME,
        headers=served["viewer"],
        params={"start": "2023-05-19T00:00:00.000Z", "end": "2023-05-19T23:59:59.999Z"},
    )
    # three users log in at 10:00 and never close: hours 10 .. 23 of the 19th, newest first
    assert by_time.json()["week"] == [
        {"users": 3, "hour": hour, "day": 19, "month": 5, "year": 2023} for hour in range(23, 9, -1)
    ]
    bad = httpx.get(served["base"] + BY_TIME, params={"start": "2023-05-19T00:00:00.000Z"}, headers=served["viewer"])
    assert bad.status_code == 400 and bad.json()["error"] == "Match error: Missing key 'end'"


def test_200_concurrent_requests_while_an_ingest_runs(served_alone, export):
    served = served_alone
    url = served["base"] + WEEKLY
    params = {"start": "2023-05-19T23:59:59.999Z"}
    before = httpx.get(url, params=params, headers=served["viewer"]).json()
    extra = export(
        [
            session(f"n{d}", "newcomer", f"2023-05-{d:02d}T10:00:00.000Z", f"2023-05-{d:02d}T11:00:00.000Z")
            for d in range(12, 20)
        ]
    )
    bodies, errors = [], []

    def call(client):
        try:
            response = client.get(url, params=params, headers=served["viewer"])
            bodies.append((response.status_code, response.json()))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    writer = threading.Thread(target=ingest, args=([extra], served["lake"], "UTC"))
    with httpx.Client(timeout=30) as client:
        threads = [threading.Thread(target=call, args=(client,)) for _ in range(200)]
        writer.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        writer.join()
    after = httpx.get(url, params=params, headers=served["viewer"]).json()
    assert not errors
    assert all(status == 200 for status, _ in bodies) and len(bodies) == 200
    assert {str(body) for _, body in bodies} <= {str(before), str(after)}
    assert after != before  # the newcomer counts now


def test_serve_says_where_it_listens_and_logs_each_request(two_weeks):
    """Its first line names the address; then a line per request (uvicorn's access log), none with --quiet."""
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT, free_port

    said = {}
    for quiet in (False, True):
        port = free_port()
        argv = [sys.executable, "-m", "pipelines", "serve", "--port", str(port), "--lake", str(two_weeks)]
        process = subprocess.Popen(
            argv + (["--quiet"] if quiet else []), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            first = process.stdout.readline()
            for _ in range(100):
                try:
                    httpx.get(f"http://127.0.0.1:{port}{WEEKLY}", params={"start": "2023-05-19"}, timeout=2)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
        finally:
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
        said[quiet] = (port, first, out, err)
    for quiet, (port, first, out, err) in said.items():
        where = f"http://127.0.0.1:{port}/"
        assert first == f"serving the lake {two_weeks} at {where} (the API under /api/v1/, the reports at /reports/)\n"
        assert "Traceback" not in err
        assert (f'"GET {WEEKLY}?start=2023-05-19 HTTP/1.1" 401' in out) is not quiet
