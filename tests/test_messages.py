"""The Messages tab (messages-sent, origin, top-five-popular-channels) from type "messages" analytics
documents, answers worked out by hand, through a real server."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from conftest import run_cli, start_server, write_ndjson

from pipelines.ingest.run import ingest
from pipelines.metrics.messages import messages_origin, messages_sent, top_five_popular_channels

BASE = "/api/v1/engagement-dashboard/messages"
UTC = dt.timezone.utc


def room(_id: str, name: str | None, t: str, usernames: list[str] | None = None) -> dict:
    """A document's room as saveMessageSent sets it: a room without a name has no `name` field
    (`room.fname || room.name` is undefined, and the driver stores no undefined field)."""
    return {"_id": _id, **({"name": name} if name else {}), "t": t, "usernames": usernames or []}


def messages(_id: str, date: int, where: dict, n) -> dict:
    return {"_id": _id, "type": "messages", "date": date, "room": where, "messages": n}


GENERAL, DEV, SECRET, DM = (
    room("GENERAL", "general", "c"),
    room("r-dev", "dev", "p"),
    room("r-secret", "secret", "p"),
    room("ab", None, "d", ["alice", "bob"]),
)
# Worked out by hand for start 2023-05-12T00:00Z .. end 2023-05-18T00:00Z (UTC): n = 7.
# This period 12..18: 12 -> 10, 15 -> 5 + 3 = 8, 17 -> 2, 18 -> 6 + 1 = 7: count 27. The period
# before, 4..11 (start - 1 - 7 .. start - 1), its 7 latest dates with data: only 3 have any, 11 -> 4,
# 5 -> 9, 4 -> 100: 113: variation 27 - 113 = -86.
# Yesterday (17): 2, today (18): 7: variation 5.
# Origin over 12..18: c = 10 + 5 + 6 = 21, p = 3 + 2 = 5, d = 1; none of livechat.
# Top five over 12..18: general 21, dev 3 + 2 = 5, the DM 1, secret 0 (a deleted message's -1 and +1)
DOCUMENTS = [
    messages("x04", 20230504, GENERAL, 100),
    messages("x05", 20230505, DEV, 9),
    messages("x11", 20230511, GENERAL, {"$numberInt": "4"}),
    messages("x12", 20230512, GENERAL, 10),
    messages("x15", 20230515, GENERAL, 5),
    messages("x15b", 20230515, DEV, {"$numberLong": "3"}),
    messages("x17", 20230517, DEV, 2),
    messages("x18", 20230518, GENERAL, 6),
    messages("x18b", 20230518, DM, 1),
    messages("x18c", 20230518, SECRET, 0),
    messages("x19", 20230519, GENERAL, 1000),  # after the period
    {"_id": "u1", "type": "users", "date": 20230512, "users": 3},  # new-users' own
]
SENT = {
    "days": [
        {"day": "2023-05-18T00:00:00.000Z", "messages": 7},
        {"day": "2023-05-17T00:00:00.000Z", "messages": 2},
        {"day": "2023-05-15T00:00:00.000Z", "messages": 8},
        {"day": "2023-05-12T00:00:00.000Z", "messages": 10},
    ],
    "period": {"count": 27, "variation": 27 - 113},
    "yesterday": {"count": 2, "variation": 5},
    "success": True,
}
ORIGIN = {
    "origins": [{"t": "c", "messages": 21}, {"t": "d", "messages": 1}, {"t": "p", "messages": 5}],
    "success": True,
}
TOP = {
    "channels": [
        {"t": "c", "messages": 21, "name": "general", "usernames": []},
        {"t": "p", "messages": 5, "name": "dev", "usernames": []},
        {"t": "d", "messages": 1, "usernames": ["alice", "bob"]},  # no name: no key
        {"t": "p", "messages": 0, "name": "secret", "usernames": []},
    ],
    "success": True,
}
START, END = dt.datetime(2023, 5, 12, tzinfo=UTC), dt.datetime(2023, 5, 18, tzinfo=UTC)


@pytest.fixture(scope="module")
def analytics_lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("messages")
    lake = root / "lake"
    ingest([write_ndjson(root / "rocketchat_analytics.json", DOCUMENTS)], lake, "UTC")
    return lake


def test_the_three_bodies_are_the_hand_worked_answers(analytics_lake):
    assert messages_sent(analytics_lake, START, END) == SENT
    assert messages_origin(analytics_lake, START, END) == ORIGIN
    assert top_five_popular_channels(analytics_lake, START, END) == TOP


def test_a_lake_without_messages_answers_zeros_and_every_dashboard_type(tmp_path, export):
    from conftest import session
    from helpers import ingest_docs

    ingest_docs(tmp_path / "lake", export([session("s", "u", "2023-05-12T10:00:00.000Z", "2023-05-12T11:00:00.000Z")]))
    assert messages_sent(tmp_path / "lake", START, END)["period"] == {"count": 0, "variation": 0}
    assert messages_origin(tmp_path / "lake", START, END)["origins"] == [
        {"t": "d", "messages": 0},
        {"t": "p", "messages": 0},
        {"t": "c", "messages": 0},
    ]
    assert top_five_popular_channels(tmp_path / "lake", START, END) == {"channels": [], "success": True}


def test_only_five_channels_most_messages_first(tmp_path):
    docs = [messages(f"m{i}", 20230515, room(f"r{i}", f"room{i}", "c"), i) for i in range(1, 9)]
    ingest([write_ndjson(tmp_path / "rocketchat_analytics.json", docs)], tmp_path / "lake", "UTC")
    channels = top_five_popular_channels(tmp_path / "lake", START, END)["channels"]
    assert [c["name"] for c in channels] == ["room8", "room7", "room6", "room5", "room4"]


def test_the_messages_tab_through_a_real_server(analytics_lake):
    token = run_cli("users", "add", "viewer", "--lake", str(analytics_lake)).stdout.splitlines()[-1]
    process, base = start_server(analytics_lake)
    try:
        auth = {"X-User-Id": "viewer", "X-Auth-Token": token}
        span = "start=2023-05-12T00:00:00.000Z&end=2023-05-18T00:00:00.000Z"
        for path, body in (("messages-sent", SENT), ("origin", ORIGIN), ("top-five-popular-channels", TOP)):
            answer = httpx.get(f"{base}{BASE}/{path}?{span}", headers=auth, timeout=30)
            assert (answer.status_code, answer.json()) == (200, body)
            assert httpx.get(f"{base}{BASE}/{path}?{span}", timeout=30).status_code == 401
            missing = httpx.get(f"{base}{BASE}/{path}?start=2023-05-12T00:00:00.000Z", headers=auth, timeout=30)
            assert missing.status_code == 400 and missing.json()["error"].startswith("Match error: Missing key 'end'")
        spec = httpx.get(base + "/openapi.json", timeout=30).json()
        assert {f"{BASE}/{p}" for p in ("messages-sent", "origin", "top-five-popular-channels")} <= set(spec["paths"])
    finally:
        process.terminate()
        process.wait(timeout=30)


# The Channels tab. Rooms as rocketchat_room holds them; r-gone has messages but no room any more.
ROOMS = [
    {
        "_id": "GENERAL",
        "name": "general",
        "t": "c",
        "ts": {"$date": "2020-01-01T00:00:00.000Z"},
        "_updatedAt": {"$date": "2023-05-18T09:30:00.000Z"},
        "msgs": 5000,
        "topic": "never stored",
    },
    {
        "_id": "r-dev",
        "fname": "Dev team",
        "t": "p",
        "ts": {"$date": "2021-02-03T04:05:06.789Z"},
        "_updatedAt": {"$date": "2023-05-17T00:00:00.000Z"},
        "msgs": 20,
    },
    {
        "_id": "ab",
        "t": "d",
        "usernames": ["alice", "bob"],
        "ts": {"$date": "2022-01-01T00:00:00.000Z"},
        "_updatedAt": {"$date": "2023-05-18T12:00:00.000Z"},
        "msgs": 1,
    },
    {"_id": "broken", "name": "no type"},
]
GONE = messages("x16", 20230516, room("r-gone", "gone", "c"), 50)
# This period 12..18 and the last 4..11 (as new-users counts them), per room:
# general: 10 + 5 + 6 = 21 this period, 4 + 100 = 104 the last; dev: 3 + 2 = 5 and 9; the DM: 1 and 0;
# r-gone (50) is dropped: its room is gone; r-secret has no room in the export either.
CHANNELS = {
    "channels": [
        {
            "room": {
                "_id": "GENERAL",
                "name": "general",
                "ts": "2020-01-01T00:00:00.000Z",
                "t": "c",
                "_updatedAt": "2023-05-18T09:30:00.000Z",
            },
            "messages": 21,
            "lastWeekMessages": 104,
            "diffFromLastWeek": -83,
        },
        {
            "room": {
                "_id": "r-dev",
                "name": "Dev team",
                "ts": "2021-02-03T04:05:06.789Z",
                "t": "p",
                "_updatedAt": "2023-05-17T00:00:00.000Z",
            },
            "messages": 5,
            "lastWeekMessages": 9,
            "diffFromLastWeek": -4,
        },
        {
            "room": {
                "_id": "ab",
                "ts": "2022-01-01T00:00:00.000Z",
                "t": "d",
                "_updatedAt": "2023-05-18T12:00:00.000Z",
                "usernames": ["alice", "bob"],
            },
            "messages": 1,
            "lastWeekMessages": 0,
            "diffFromLastWeek": 1,
        },
    ],
    "total": 3,
    "offset": 0,
    "count": 3,
    "success": True,
}


@pytest.fixture(scope="module")
def with_rooms(tmp_path_factory):
    root = tmp_path_factory.mktemp("channels")
    lake = root / "lake"
    ingest([write_ndjson(root / "rocketchat_analytics.json", [*DOCUMENTS, GONE])], lake, "UTC")
    summary = ingest([write_ndjson(root / "rocketchat_room.json", ROOMS)], lake, "UTC")
    return lake, summary


def test_the_channels_list_is_the_hand_worked_answer(with_rooms):
    from pipelines.metrics.channels import channels_list

    lake, summary = with_rooms
    assert dict(summary.rejected) == {"no_t": 1}
    assert channels_list(lake, START, END) == CHANNELS
    second = channels_list(lake, START, END, offset=1, count=1)
    assert (second["channels"], second["total"], second["offset"], second["count"]) == (
        CHANNELS["channels"][1:2],
        3,
        1,
        1,
    )
    assert (
        channels_list(lake, START, END, offset=10)["channels"] == []
        and channels_list(lake, START, END, offset=10)["total"] == 3
    )
    import pyarrow.parquet as pq

    (rooms,) = (lake / "registrations").glob("rooms-*.parquet")
    assert "topic" not in pq.read_schema(rooms).names and "msgs" not in pq.read_schema(rooms).names


def test_the_channels_tab_through_a_real_server(with_rooms):
    lake, _ = with_rooms
    token = run_cli("users", "add", "viewer", "--lake", str(lake)).stdout.splitlines()[-1]
    process, base = start_server(lake)
    try:
        auth = {"X-User-Id": "viewer", "X-Auth-Token": token}
        url = f"{base}/api/v1/engagement-dashboard/channels/list?start=2023-05-12T00:00:00.000Z&end=2023-05-18T00:00:00.000Z"
        assert httpx.get(url, headers=auth, timeout=30).json() == CHANNELS
        paged = httpx.get(url + "&offset=2&count=5", headers=auth, timeout=30).json()
        assert (paged["channels"], paged["offset"], paged["count"]) == (CHANNELS["channels"][2:], 2, 1)
        refused = httpx.get(url + "&hideRoomsWithNoActivity=true", headers=auth, timeout=30)
        assert refused.status_code == 400 and "hideRoomsWithNoActivity" in refused.json()["error"]
        assert httpx.get(url, timeout=30).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_messages_command_per_period_room_and_type(with_rooms, tmp_path):
    lake, _ = with_rooms
    days = run_cli("messages", "--lake", str(lake), "--from", "2023-05-12", "--to", "2023-05-18", "--format", "csv")
    assert days.stdout.splitlines() == [
        "period_start,messages,partial,source",
        "2023-05-12,10,false,rocketchat_analytics",
        "2023-05-15,8,false,rocketchat_analytics",
        "2023-05-16,50,false,rocketchat_analytics",
        "2023-05-17,2,false,rocketchat_analytics",
        "2023-05-18,7,false,rocketchat_analytics",
    ]
    weeks = run_cli(
        "messages",
        "--lake",
        str(lake),
        "--from",
        "2023-05-10",
        "--to",
        "2023-05-18",
        "--every",
        "week",
        "--by",
        "type",
        "--format",
        "json",
    )
    rows = json.loads(weeks.stdout)
    # the week of 8 May is cut by the range (from the 10th): partial; 15..21 too (to the 18th)
    assert [(r["period_start"], r["t"], r["messages"], r["partial"]) for r in rows] == [
        ("2023-05-08", "c", 14, True),
        ("2023-05-15", "c", 61, True),
        ("2023-05-15", "p", 5, True),
        ("2023-05-15", "d", 1, True),
    ]
    from pipelines.notebook import open_lake

    frame = open_lake(lake).messages("2023-05-18", "2023-05-18", by="room")
    assert list(frame["room_id"]) == ["GENERAL", "ab", "r-secret"] and list(frame["messages"]) == [6, 1, 0]
    empty = tmp_path / "empty"
    from conftest import session
    from conftest import write_ndjson as write
    from helpers import ingest_docs

    ingest_docs(
        empty, write(tmp_path / "s.json", [session("s", "u", "2023-05-12T10:00:00.000Z", "2023-05-12T11:00:00.000Z")])
    )
    refused = run_cli("messages", "--lake", str(empty), "--from", "2023-05-12", "--to", "2023-05-18")
    assert refused.returncode == 2 and "holds no messages: ingest an export of rocketchat_analytics" in refused.stderr


def test_the_weeks_page_and_email_gain_a_messages_section(with_rooms, two_weeks):
    from pipelines.publish import mail, report

    lake, _ = with_rooms
    context = report.week_context(lake, dt.date(2023, 5, 18), today=dt.date(2023, 6, 1))
    section = context["messages"]
    # the report's 8 days, 11..18 May, against the same weekdays a week before (4..11 May)
    assert [d["messages"] for d in section["days"]] == [4, 10, 0, 0, 8, 50, 2, 7]
    assert [d["week_before"] for d in section["days"]] == [100, 9, 0, 0, 0, 0, 0, 4]
    assert (section["total"], section["previous_total"]) == (81, 113)
    assert [(o["t"], o["messages"]) for o in section["origins"]] == [("c", 75), ("d", 1), ("p", 5)]
    assert [r["name"] for r in section["top"]] == ["gone", "general", "dev", "alice, bob", "secret"]
    page = report.render_page(context)
    assert (
        '<h2 id="messages">Messages</h2>' in page
        and '<tr data-date="2023-05-16"><td>Tue 16 May</td><td>50</td>' in page
    )
    _, html, text = mail.render_email(context)
    assert 'id="messages-total"' in html and "Messages sent: 81 (previous week 113, -28%)" in text
    # a lake without messages: no section at all (its pages as before)
    plain = report.week_context(two_weeks, dt.date(2023, 5, 19), today=dt.date(2023, 6, 1))
    assert plain["messages"] is None and 'id="messages"' not in report.render_page(plain)


def test_trend_gains_messages_when_the_lake_has_them(two_weeks, tmp_path):
    from pipelines.metrics.history import trend

    assert "messages" not in trend(two_weeks, dt.date(2023, 5, 12), dt.date(2023, 5, 18)).column_names
    ingest([write_ndjson(tmp_path / "rocketchat_analytics.json", DOCUMENTS)], two_weeks, "UTC")
    daily = trend(two_weeks, dt.date(2023, 5, 15), dt.date(2023, 5, 18)).to_pylist()
    assert [(r["date"].isoformat(), r["messages"]) for r in daily] == [
        ("2023-05-15", 8),
        ("2023-05-16", 0),
        ("2023-05-17", 2),
        ("2023-05-18", 7),
    ]
    weekly = trend(two_weeks, dt.date(2023, 5, 10), dt.date(2023, 5, 18), "week").to_pylist()
    # the week of 8 May counted from the 10th (the range's first day): 11 -> 4, 12 -> 10
    assert [(r["period_start"].isoformat(), r["messages"]) for r in weekly] == [("2023-05-08", 14), ("2023-05-15", 17)]


def test_explain_messages_names_each_rooms_count_and_its_source(with_rooms):
    lake, _ = with_rooms
    result = run_cli("explain", "--lake", str(lake), "--date", "2023-05-18", "--messages", "--format", "csv")
    assert result.stdout.splitlines() == [
        "room_id,room_name,t,messages,source",
        "GENERAL,general,c,6,rocketchat_analytics",
        "ab,,d,1,rocketchat_analytics",
        "r-secret,secret,p,0,rocketchat_analytics",
    ]
