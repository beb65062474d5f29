"""new-users: Rocket.Chat's New users card from exports of rocketchat_analytics and users, answers worked out by hand."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from conftest import run_cli, start_server, write_ndjson

from pipelines.ingest.run import ingest
from pipelines.metrics.new_users import new_users, period_days

NEW_USERS = "/api/v1/engagement-dashboard/users/new-users"
UTC = dt.timezone.utc


def analytics(_id: str, date, users, type: str = "users") -> dict:
    return {"_id": _id, "type": type, "date": date, "users": users}


# Worked out by hand for start 2023-05-12T00:00Z, end 2023-05-18T00:00Z in UTC: 6 whole days
# between them, so n = 7. This period, 12..18: 12 -> 2, 15 -> 1 + 2 (two documents, one date),
# 17 -> 1, 18 -> 4: count 10. The period before: 4..11 (start - 1 - 7 .. start - 1), the 7 latest
# dates with data: 11..5 at 1 each = 7 (4 -> 50 is the 8th and left out, as Mongo's $limit leaves
# it; 3 -> 100 lies outside): variation 10 - 7 = 3. Yesterday (17): 1, today (18): 4: variation 3.
ANALYTICS = [
    analytics("a03", 20230503, 100),
    analytics("a04", 20230504, 50),
    *(analytics(f"a{d:02d}", 20230500 + d, {"$numberInt": "1"}) for d in range(5, 12)),
    analytics("a12", 20230512, 2),
    analytics("a15", {"$numberInt": "20230515"}, 1),
    analytics("a15b", {"$numberLong": "20230515"}, {"$numberLong": "2"}),
    analytics("a17", 20230517, 1),
    analytics("a18", 20230518, 9),  # replaced below by a later version of the same _id
    analytics("m1", 20230515, 3, type="messages") | {"room": {"name": "general", "usernames": ["ana"]}},
]
ANALYTICS_LATER = [analytics("a18", 20230518, 4), analytics("bad", 20230230, 1), "{not json"]
WEEK = {
    "days": [
        {"day": "2023-05-18T00:00:00.000Z", "users": 4},
        {"day": "2023-05-17T00:00:00.000Z", "users": 1},
        {"day": "2023-05-15T00:00:00.000Z", "users": 3},
        {"day": "2023-05-12T00:00:00.000Z", "users": 2},
    ],
    "period": {"count": 10, "variation": 3},
    "yesterday": {"count": 1, "variation": 3},
    "success": True,
}

# A lake in Europe/Berlin with accounts only (no analytics): counted per Berlin day of createdAt.
SECRET = "ana@example.com"
ACCOUNTS = [
    # 22:30 UTC on the 17th is 00:30 on the 18th in Berlin
    {
        "_id": "u1",
        "createdAt": {"$date": "2023-05-17T22:30:00.000Z"},
        "roles": ["user"],
        "username": "ana",
        "name": "Ana Secret",
        "emails": [{"address": SECRET, "verified": True}],
        "services": {"password": {"bcrypt": "$2b$10$SECRETHASH"}},
    },
    {"_id": "u2", "createdAt": {"$date": "2023-05-17T10:00:00.000Z"}, "roles": ["anonymous"]},  # not counted
    {"_id": "u3", "createdAt": {"$date": "2023-05-17T21:59:00.000Z"}, "roles": ["user", "admin"]},  # 17th
    {"_id": "u4", "createdAt": {"$date": {"$numberLong": "1683720000000"}}, "roles": "user"},  # 10th, 14:00
    {"_id": "u5", "createdAt": {"$date": "2023-05-12T00:00:00.000Z"}},  # no roles: counted, the 12th
    {"_id": "u6", "username": "no-date", "emails": [{"address": "nodate@example.com"}]},  # no_createdAt
]
# start and end are Berlin midnights (22:00 UTC the day before): n = 7, this period 12..18 Berlin:
# u5 (12), u3 (17), u1 (18) = 3; before, 4..11: u4 (10) = 1; yesterday 17: 1, today 18: 1.
BERLIN_WEEK = {
    "days": [
        {"day": "2023-05-17T22:00:00.000Z", "users": 1},
        {"day": "2023-05-16T22:00:00.000Z", "users": 1},
        {"day": "2023-05-11T22:00:00.000Z", "users": 1},
    ],
    "period": {"count": 3, "variation": 2},
    "yesterday": {"count": 1, "variation": 0},
    "success": True,
}


@pytest.fixture(scope="module")
def lakes(tmp_path_factory):
    root = tmp_path_factory.mktemp("new-users")
    first = write_ndjson(root / "in" / "rocketchat_analytics.json", ANALYTICS)
    later = write_ndjson(root / "in" / "rocketchat_analytics-later.json", ANALYTICS_LATER)
    summary = ingest([first, later], root / "analytics-lake", "UTC")
    accounts = write_ndjson(root / "in" / "accounts-export.json", ACCOUNTS)  # recognised by its fields
    berlin = ingest([accounts], root / "users-lake", "Europe/Berlin")
    return {
        "root": root,
        "analytics": root / "analytics-lake",
        "users": root / "users-lake",
        "summary": summary,
        "berlin": berlin,
        "files": (first, later, accounts),
    }


def test_an_analytics_export_is_stored_or_rejected_document_by_document(lakes):
    summary = lakes["summary"]
    assert summary.read == len(ANALYTICS) + len(ANALYTICS_LATER) == summary.stored + sum(summary.rejected.values())
    # m1 is a "messages" document (the Messages tab's) without its room's _id and type
    assert dict(summary.rejected) == {"wrong_type:room": 1, "bad_date:date": 1, "bad_json": 1}
    assert summary.days_touched == []
    rejects = [json.loads(line) for f in (lakes["analytics"] / "rejects").glob("*.jsonl") for line in f.open()]
    assert sorted((r["line"], r["reason"], r.get("_id")) for r in rejects) == [
        (2, "bad_date:date", "bad"),
        (3, "bad_json", None),
        (len(ANALYTICS), "wrong_type:room", "m1"),
    ]
    assert all("text" not in r for r in rejects)


def test_the_week_through_a_real_server(lakes):
    lake = lakes["analytics"]
    token = run_cli("users", "add", "viewer", "--lake", str(lake)).stdout.splitlines()[-1]
    process, base = start_server(lake)
    try:
        auth = {"X-User-Id": "viewer", "X-Auth-Token": token}

        def get(query: str) -> httpx.Response:
            return httpx.get(f"{base}{NEW_USERS}?{query}", headers=auth, timeout=30)

        response = get("start=2023-05-12T00:00:00.000Z&end=2023-05-18T00:00:00.000Z")
        assert response.status_code == 200 and response.json() == WEEK
        # end late on the 18th: still 6 whole days after start, the same answer
        assert get("start=2023-05-12T00:00:00.000Z&end=2023-05-18T23:59:59.999Z").json() == WEEK
        # the widest range: every date in it, the period before is empty
        wide = get("start=0001-01-01T00:00:00.000Z&end=9999-12-31T23:59:59.999Z").json()
        assert [d["users"] for d in wide["days"]] == [4, 1, 3, 2, 1, 1, 1, 1, 1, 1, 1, 50, 100]
        assert wide["period"] == {"count": 167, "variation": 167}
        # end a day before start: n = 0, Mongo applies no $limit; this period is empty, the one
        # before is start - 1 alone (the 12th: 2)
        assert get("start=2023-05-13T00:00:00.000Z&end=2023-05-12T00:00:00.000Z").json() == {
            "days": [],
            "period": {"count": 0, "variation": -2},
            "yesterday": {"count": 0, "variation": 0},
            "success": True,
        }
        assert get("start=2023-05-12T00:00:00.000Z").json() == {
            "success": False,
            "error": "Match error: Missing key 'end'",
        }
        assert (
            httpx.get(f"{base}{NEW_USERS}?start=2023-05-12T00:00:00.000Z&end=2023-05-18T00:00:00.000Z").status_code
            == 401
        )
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_accounts_count_when_the_lake_has_no_analytics(lakes):
    start, end = dt.datetime(2023, 5, 11, 22, tzinfo=UTC), dt.datetime(2023, 5, 17, 22, tzinfo=UTC)
    assert new_users(lakes["users"], start, end) == BERLIN_WEEK
    assert dict(lakes["berlin"].rejected) == {"no_createdAt": 1}
    assert lakes["berlin"].notes == [f"{lakes['files'][2]}: an export of users (for new-users)"]


def test_no_email_name_or_password_hash_is_ever_stored(lakes):
    for path in lakes["users"].rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in (SECRET.encode(), b"nodate@example.com", b"Ana Secret", b"SECRETHASH", b"bcrypt"):
                assert secret not in data, (path, secret)


def test_a_rerun_changes_nothing_and_a_forced_one_gives_the_same_bytes(lakes, tmp_path):
    lake = lakes["analytics"]
    state = (lake / "_state.json").read_bytes()
    files = sorted(p.name for p in (lake / "registrations").iterdir())
    again = ingest(list(lakes["files"][:2]), lake, "UTC")
    assert len(again.skipped) == 2 and again.read == 0
    forced = ingest(list(lakes["files"][:2]), lake, "UTC", force=True)
    assert forced.stored == lakes["summary"].stored
    assert (lake / "_state.json").read_bytes() == state
    assert sorted(p.name for p in (lake / "registrations").iterdir()) == files


def test_an_earlier_version_arriving_later_replaces_the_stored_one(tmp_path):
    lake = tmp_path / "lake"
    ingest([write_ndjson(tmp_path / "rocketchat_analytics.json", [analytics("x", 20230518, 4)])], lake, "UTC")
    ingest([write_ndjson(tmp_path / "rocketchat_analytics-2.json", [analytics("x", 20230518, 6)])], lake, "UTC")
    body = new_users(lake, dt.datetime(2023, 5, 18, tzinfo=UTC), dt.datetime(2023, 5, 18, tzinfo=UTC))
    assert body["days"] == [{"day": "2023-05-18T00:00:00.000Z", "users": 6}]
    assert body["yesterday"] == {"count": 0, "variation": 6}


@pytest.mark.parametrize(
    "start,end,days",
    [
        ("2023-05-12T00:00:00", "2023-05-18T00:00:00", 7),
        ("2023-05-12T00:00:00", "2023-05-18T23:59:59", 7),
        ("2023-05-12T12:00:00", "2023-05-19T11:59:59", 7),
        ("2023-05-12T00:00:00", "2023-05-12T00:00:00", 1),
        ("2023-05-13T00:00:00", "2023-05-12T00:00:00", 0),
        ("2023-05-13T00:00:00", "2023-05-12T12:00:00", 1),  # -12 h truncates toward zero
        ("2023-05-20T00:00:00", "2023-05-12T00:00:00", -7),
    ],
)
def test_the_days_of_a_period_are_counted_as_moment_counts_them(start, end, days):
    assert period_days(dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end)) == days


def test_days_across_a_dst_change_count_wall_clock_days():
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    # 26 March 2023 has 23 hours in Berlin: midnight to midnight is still one day
    start = dt.datetime(2023, 3, 25, 23, tzinfo=UTC).astimezone(berlin)
    end = dt.datetime(2023, 3, 26, 22, tzinfo=UTC).astimezone(berlin)
    assert period_days(start, end) == 2
