"""The HTTP API as strict and as safe as Rocket.Chat's: probed as a hostile client would, on a real server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import day, run_cli, start_server, write_ndjson

from pipelines.ingest.run import ingest
from pipelines.timeparse import is_js_iso_string

BASE = "/api/v1/engagement-dashboard/users"
WEEKLY = f"{BASE}/chat-busier/weekly-data"
HOURLY = f"{BASE}/chat-busier/hourly-data"
ACTIVE = f"{BASE}/active-users"
BY_TIME = f"{BASE}/users-by-time-of-the-day-in-a-week"
NEW = f"{BASE}/new-users"
NO_CACHE = {"cache-control": "no-store", "pragma": "no-cache"}


def bad(field: str) -> dict:
    return {"success": False, "error": f"Match error: Failed Match.Where validation in field {field}"}


def missing(field: str) -> dict:
    return {"success": False, "error": f"Match error: Missing key '{field}'"}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """One real server for the module: a small lake, a viewer, CORS allowed for one origin."""
    root = tmp_path_factory.mktemp("api")
    lake = root / "lake"
    docs = [day(f"s{d}-{u}", f"u{u}", f"2023-05-{d:02d}") for d in range(12, 20) for u in range(3)]
    registrations = [{"_id": f"a{d}", "type": "users", "date": 20230500 + d, "users": d % 4} for d in range(1, 20)]
    # the Messages and Channels tabs: rooms, and messages without analytics (Rocket.Chat's fill rule)
    rooms = [{"_id": r, "t": t, "name": r, "msgs": 1} for r, t in (("GENERAL", "c"), ("dev", "p"), ("lc", "l"))]
    chat = [
        {
            "_id": f"m{d}-{i}",
            "rid": rid,
            "msg": "hi",
            "ts": {"$date": f"2023-05-{d:02d}T1{i}:00:00.000Z"},
            "u": {"_id": "u0"},
        }
        for d in range(12, 20)
        for i, rid in enumerate(("GENERAL", "dev", "lc", "gone"))
    ]
    exports = [
        write_ndjson(root / "export.json", docs),
        write_ndjson(root / "rocketchat_analytics.json", registrations),
        write_ndjson(root / "rocketchat_room.json", rooms),
        write_ndjson(root / "rocketchat_message.json", chat),
    ]
    ingest(exports, lake, "UTC")
    token = run_cli("users", "add", "viewer", "--lake", str(lake)).stdout.splitlines()[-1]
    process, base = start_server(lake, {"ENGAGEMENT_CORS_ORIGINS": "https://chat.example.com, https://b.example"})
    yield {"base": base, "auth": {"X-User-Id": "viewer", "X-Auth-Token": token}, "lake": lake, "token": token}
    process.terminate()
    process.wait(timeout=30)


def get(api, path: str, query: str = "", method: str = "GET", headers: dict | None = None) -> httpx.Response:
    url = f"{api['base']}{path}{'?' + query if query else ''}"
    return httpx.request(method, url, headers=api["auth"] if headers is None else headers, timeout=30)


@pytest.mark.parametrize(
    "path,query",
    [
        (WEEKLY, "start=0001-01-01T00:00:00.000Z"),
        (WEEKLY, "start=0001-01-07T12:00:00.000Z"),
        (WEEKLY, "start=9999-12-31T23:59:59.999Z"),
        (HOURLY, "start=0001-01-01T00:00:00.000Z"),
        (HOURLY, "start=9999-12-31T23:59:59.999Z"),
        (BY_TIME, "start=0001-01-01T00:00:00.000Z&end=9999-12-31T23:59:59.999Z"),
        (ACTIVE, "start=0001-01-01T00:00:00.000Z&end=9999-12-31T23:59:59.999Z"),
        (ACTIVE, "start=9999-12-31T23:59:59.999Z&end=0001-01-01T00:00:00.000Z"),
        (NEW, "start=0001-01-01T00:00:00.000Z&end=9999-12-31T23:59:59.999Z"),
        (NEW, "start=9999-12-31T23:59:59.999Z&end=0001-01-01T00:00:00.000Z"),
        (NEW, "start=0001-01-01T00:00:00.000Z&end=0001-01-01T00:00:00.000Z"),
    ],
)
def test_every_date_of_the_calendar_answers_200(api, path, query):
    response = get(api, path, query)
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True


def test_the_widest_range_answers_from_the_days_the_lake_holds(api):
    body = get(api, ACTIVE, "start=0001-01-01T00:00:00.000Z&end=9999-12-31T23:59:59.999Z").json()
    assert [(d["day"], d["users"]) for d in body["month"]] == [(d, 3) for d in range(19, 11, -1)]


@pytest.mark.parametrize(
    "path,query,body",
    [
        (WEEKLY, "start=%EF%BC%92024-02-11T23:59:59.999Z", bad("start")),  # a full-width digit
        (WEEKLY, "start=202%D9%A2-02-11T23:59:59.999Z", bad("start")),  # an Arabic-Indic digit
        (HOURLY, "start=%EF%BC%92024-02-11T23:59:59.999Z", bad("start")),
        (BY_TIME, "start=2024-02-11T00:00:00.000Z&end=%EF%BC%92024-02-11T23:59:59.999Z", bad("end")),
        (ACTIVE, "start=%EF%BC%92024-02-11T23:59:59.999Z&end=2024-02-11T23:59:59.999Z", bad("start")),
        (NEW, "end=2024-02-11T23:59:59.999Z&start=2024-02-11T23:59:59.99Z", bad("start")),
        (NEW, "start=2024-02-11T23:59:59.999Z", missing("end")),
        (WEEKLY, "", missing("start")),
        (WEEKLY, "other=1", missing("start")),
        (ACTIVE, "start=2023-05-19T00:00:00.000Z", missing("end")),
        (ACTIVE, "", missing("start")),
        (ACTIVE, "end=x&start=y", bad("end")),  # the first bad key in the query's order
        (ACTIVE, "start=y&end=x", bad("start")),
        (ACTIVE, "end=x", bad("end")),  # a bad key is named before a missing one
        (WEEKLY, "start=2023-05-19T00:00:00.000Z&start=2023-05-19T00:00:00.000Z", bad("start")),
        (WEEKLY, "start[]=2023-05-19T00:00:00.000Z", bad("start")),
        (WEEKLY, "start=", bad("start")),
        (WEEKLY, "start=0000-01-01T00:00:00.000Z", bad("start")),
        (WEEKLY, "start=2023-02-29T00:00:00.000Z", bad("start")),
        (WEEKLY, "start=2024-02-29T24:00:00.000Z", bad("start")),
    ],
)
def test_dates_are_checked_as_rocket_chat_checks_them(api, path, query, body):
    response = get(api, path, query)
    assert (response.status_code, response.json()) == (400, body)


def test_the_date_check_is_exactly_to_iso_string():
    assert is_js_iso_string("2024-02-29T23:59:59.999Z")
    assert is_js_iso_string("2000-02-29T00:00:00.000Z") and not is_js_iso_string("1900-02-29T00:00:00.000Z")
    assert is_js_iso_string("0004-02-29T00:00:00.000Z") and not is_js_iso_string("0000-02-29T00:00:00.000Z")
    assert not is_js_iso_string("2023-04-31T00:00:00.000Z")
    assert not is_js_iso_string("２023-04-30T00:00:00.000Z")


def test_head_answers_like_get_without_a_body(api):
    got = get(api, WEEKLY, "start=2023-05-19T23:59:59.999Z")
    head = get(api, WEEKLY, "start=2023-05-19T23:59:59.999Z", method="HEAD")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(got.content))
    assert head.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "path,query,method,headers,status",
    [
        (WEEKLY, "start=2023-05-19T23:59:59.999Z", "GET", None, 200),
        (WEEKLY, "start=nope", "GET", None, 400),
        (WEEKLY, "start=2023-05-19T23:59:59.999Z", "GET", {}, 401),
        ("/api/v1/nope", "", "GET", None, 404),
        (WEEKLY + "/", "start=2023-05-19T23:59:59.999Z", "GET", None, 404),
        (WEEKLY, "", "POST", None, 405),
    ],
)
def test_every_answer_is_json_and_not_cached(api, path, query, method, headers, status):
    response = get(api, path, query, method=method, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert {k: response.headers[k] for k in NO_CACHE} == NO_CACHE
    body = response.json()
    if status >= 404:
        assert body["success"] is False and isinstance(body["error"], str)


def test_fastapis_docs_pages_are_not_served(api):
    assert get(api, "/docs", headers={}).status_code == 404
    assert get(api, "/redoc", headers={}).status_code == 404


def test_an_allowed_origin_gets_through_the_preflight(api):
    response = get(
        api,
        WEEKLY,
        method="OPTIONS",
        headers={
            "Origin": "https://chat.example.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-user-id, x-auth-token",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://chat.example.com"
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"x-user-id", "x-auth-token"} <= allowed
    real = get(api, WEEKLY, "start=2023-05-19T23:59:59.999Z", headers=api["auth"] | {"Origin": "https://b.example"})
    assert real.headers["access-control-allow-origin"] == "https://b.example"


def test_another_origin_is_refused_in_json(api):
    response = get(
        api,
        WEEKLY,
        method="OPTIONS",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "GET",
        },
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    assert response.json()["success"] is False


def test_cors_is_off_by_default(two_weeks):
    process, base = start_server(two_weeks)
    try:
        response = httpx.options(
            base + WEEKLY,
            headers={
                "Origin": "https://chat.example.com",
                "Access-Control-Request-Method": "GET",
            },
        )
        assert response.status_code == 405
        assert "access-control-allow-origin" not in response.headers
        assert response.json() == {"success": False, "error": "Method Not Allowed"}
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_openapi_document_tells_the_truth(api):
    doc = httpx.get(api["base"] + "/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert {(s["in"], s["name"]) for s in schemes.values()} == {("header", "X-User-Id"), ("header", "X-Auth-Token")}
    for path, dates in (
        (WEEKLY, ["start"]),
        (HOURLY, ["start"]),
        (ACTIVE, ["start", "end"]),
        (BY_TIME, ["start", "end"]),
        (NEW, ["start", "end"]),
    ):
        operation = doc["paths"][path]["get"]
        params = operation["parameters"]
        assert [p["name"] for p in params] == dates
        assert all(p["required"] and p["in"] == "query" and p["schema"]["type"] == "string" for p in params)
        assert set(operation["responses"]) == {"200", "400", "401", "403"}
        assert operation["security"]
    # each 200 body is its contract's schema (pipelines/metrics/contracts.py), generated from the model
    from pipelines.metrics import contracts

    bodies = {
        path: doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        for path in (WEEKLY, HOURLY, ACTIVE, BY_TIME, NEW)
    }
    assert [ref.rsplit("/", 1)[1] for ref in bodies.values()] == [
        "WeeklyData",
        "HourlyData",
        "ActiveUsers",
        "UsersByTime",
        "NewUsers",
    ]
    weekly = contracts.WeeklyData.model_json_schema(ref_template="#/components/schemas/{model}")
    assert doc["components"]["schemas"]["WeeklyData"] == {k: v for k, v in weekly.items() if k != "$defs"}


def test_schemathesis_finds_nothing_wrong(api, tmp_path):
    """Property-based requests from the OpenAPI document, every check, valid and invalid data."""
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        api["base"] + "/openapi.json",
        "-H",
        "X-User-Id: viewer",
        "-H",
        f"X-Auth-Token: {api['token']}",
        "--checks",
        "all",
        "--mode",
        "all",
        "-n",
        "60",
        "--seed",
        "20231128",
        "--no-color",
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "No issues found" in result.stdout


def test_an_unexpected_error_is_json_and_logged_with_its_traceback(tmp_path):
    lake = tmp_path / "lake"
    ingest([write_ndjson(tmp_path / "e.json", [day("s1", "u1", "2023-05-19")])], lake, "UTC")
    token = run_cli("users", "add", "viewer", "--lake", str(lake)).stdout.splitlines()[-1]
    process, base = start_server(lake)
    try:
        (lake / "_state.json").write_text("{ not json")  # the lake breaks under a running server
        response = httpx.get(
            base + WEEKLY,
            params={"start": "2023-05-19T23:59:59.999Z"},
            headers={"X-User-Id": "viewer", "X-Auth-Token": token},
        )
        assert response.status_code == 500
        assert response.json() == {"success": False, "error": "Internal server error"}
        assert {k: response.headers[k] for k in NO_CACHE} == NO_CACHE
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert "Traceback" in stderr


def test_the_messages_tabs_answer_from_the_messages_over_http(api):
    span = "start=2023-05-12T00:00:00.000Z&end=2023-05-19T23:59:59.999Z"
    origin = get(api, "/api/v1/engagement-dashboard/messages/origin", span).json()
    # 8 days, one message a day in each room that exists; the deleted room's are not counted
    assert origin == {
        "origins": [
            {"t": "c", "messages": 8},
            {"t": "l", "messages": 8},
            {"t": "p", "messages": 8},
            {"t": "d", "messages": 0},
        ],
        "success": True,
    }
    listed = get(api, "/api/v1/engagement-dashboard/channels/list", span + "&offset=0&count=25").json()
    assert [(c["room"]["_id"], c["messages"]) for c in listed["channels"]] == [("GENERAL", 8), ("dev", 8)]
