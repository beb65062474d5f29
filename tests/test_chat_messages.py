"""rocketchat_message exports: ingest (JSON and BSON alike, rejects, upsert, no text kept) and the
Messages and Channels tabs answered from them by Rocket.Chat's fill rule, worked out by hand."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import bsonjs
import pyarrow.parquet as pq
import pytest
from conftest import run_cli, start_server, write_ndjson

from pipelines.ingest.run import ingest
from pipelines.metrics.channels import channels_list
from pipelines.metrics.messages import messages_origin, messages_sent, top_five_popular_channels

ZONE = "America/Sao_Paulo"  # UTC-3 all year: a message at 02:00 UTC is the evening before, locally
SECRET = "the launch code is 0000"


def message(_id: str, rid: str, ts: str, **more) -> dict:
    doc = {"_id": _id, "rid": rid, "msg": SECRET, "ts": {"$date": ts}, "u": {"_id": "U-" + _id, "username": "x"}}
    doc["md"] = [{"type": "PARAGRAPH", "value": [{"type": "PLAIN_TEXT", "value": SECRET}]}]
    doc["attachments"] = [{"title": SECRET, "description": SECRET}]
    doc["reactions"] = {":+1:": {"usernames": ["alice"]}}
    return doc | more


ROOMS = [
    {
        "_id": "GENERAL",
        "t": "c",
        "name": "general",
        "msgs": 4,
        "topic": SECRET,
        "ts": {"$date": "2020-01-01T00:00:00.000Z"},
    },
    # renamed: the fill names a room by its fname (Development), the Channels tab by its name (dev)
    {"_id": "r-dev", "t": "p", "name": "dev", "fname": "Development", "msgs": 1},
    {"_id": "ab", "t": "d", "usernames": ["alice", "bob"], "msgs": 1},
    {"_id": "lc", "t": "l", "name": "visitor-1", "msgs": 1},
    # (room "gone" was deleted: its messages are not counted)
]
# Local days (UTC-3) by hand: 15: GENERAL 3 (m3 is 16 May 02:00 UTC, 23:00 on the 15th locally);
# 16: r-dev 1 (m4 is a system message, `t`, not counted); 17: ab 1, lc 1 (m8's room is gone);
# 18: both messages of GENERAL are in the export, but one was deleted after Rocket.Chat counted it:
# the analytics document of the 18th (1) answers that day, not the messages.
MESSAGES = [
    message("m1", "GENERAL", "2023-05-15T12:00:00.000Z"),
    message("m2", "GENERAL", "2023-05-15T13:00:00.000Z"),
    message("m3", "GENERAL", "2023-05-16T02:00:00.000Z"),
    message("m4", "GENERAL", "2023-05-16T12:00:00.000Z", t="uj"),
    message("m5", "r-dev", "2023-05-16T12:00:00.000Z"),
    message("m6", "ab", "2023-05-17T12:00:00.000Z"),
    message("m7", "lc", "2023-05-17T12:00:00.000Z"),
    message("m8", "gone", "2023-05-17T12:00:00.000Z"),
    message("m9", "GENERAL", "2023-05-18T12:00:00.000Z"),
    message("m10", "GENERAL", "2023-05-18T13:00:00.000Z"),
]
ANALYTICS = [
    {
        "_id": "a18",
        "type": "messages",
        "date": 20230518,
        "room": {"_id": "GENERAL", "name": "general", "t": "c", "usernames": []},
        "messages": 1,
    }
]
# start and end: local midnight of the 15th and of the 18th
START, END = dt.datetime(2023, 5, 15, 3, tzinfo=dt.timezone.utc), dt.datetime(2023, 5, 18, 3, tzinfo=dt.timezone.utc)


@pytest.fixture
def exports(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "exports"
    return {
        "messages": write_ndjson(folder / "rocketchat_message.json", MESSAGES),
        "rooms": write_ndjson(folder / "rocketchat_room.json", ROOMS),
        "analytics": write_ndjson(folder / "rocketchat_analytics.json", ANALYTICS),
    }


@pytest.fixture
def filled(exports, tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    ingest(list(exports.values()), lake, ZONE)
    return lake


def test_the_tabs_answer_from_the_messages_by_the_fill_rule_where_analytics_have_no_day(filled):
    sent = messages_sent(filled, START, END)
    assert [d["messages"] for d in sent["days"]] == [1, 2, 1, 3]  # 18, 17, 16, 15
    assert sent["period"] == {"count": 7, "variation": 7}  # nothing before the 15th
    assert sent["yesterday"] == {"count": 2, "variation": 1 - 2}
    assert messages_origin(filled, START, END)["origins"] == [
        {"t": "c", "messages": 4},
        {"t": "d", "messages": 1},
        {"t": "l", "messages": 1},  # the fill counts every room type, as Rocket.Chat's does
        {"t": "p", "messages": 1},
    ]
    assert top_five_popular_channels(filled, START, END)["channels"] == [
        {"t": "c", "messages": 4, "name": "general", "usernames": []},
        {"t": "d", "messages": 1, "name": None, "usernames": ["alice", "bob"]},
        {"t": "l", "messages": 1, "name": "visitor-1", "usernames": []},
        {"t": "p", "messages": 1, "name": "Development", "usernames": []},
    ]
    listed = channels_list(filled, START, END)
    assert [
        (c["room"]["_id"], c["room"].get("name"), c["messages"], c["lastWeekMessages"]) for c in listed["channels"]
    ] == [
        ("GENERAL", "general", 4, 0),
        ("ab", None, 1, 0),
        ("r-dev", "dev", 1, 0),
    ]
    assert listed["total"] == 3


def test_explain_and_the_messages_command_say_which_source_answered(filled):
    day15 = run_cli("explain", "--lake", str(filled), "--date", "2023-05-15", "--messages", "--format", "json")
    assert [(r["room_id"], r["messages"], r["source"]) for r in json.loads(day15.stdout)] == [
        ("GENERAL", 3, "rocketchat_message")
    ]
    day18 = run_cli("explain", "--lake", str(filled), "--date", "2023-05-18", "--messages", "--format", "json")
    assert [(r["room_id"], r["messages"], r["source"]) for r in json.loads(day18.stdout)] == [
        ("GENERAL", 1, "rocketchat_analytics")
    ]
    week = run_cli("messages", "--lake", str(filled), "--from", "2023-05-15", "--to", "2023-05-21", "--every", "week")
    assert week.returncode == 0
    rows = json.loads(
        run_cli(
            "messages",
            "--lake",
            str(filled),
            "--from",
            "2023-05-15",
            "--to",
            "2023-05-21",
            "--every",
            "week",
            "--format",
            "json",
        ).stdout
    )
    assert [(r["period_start"], r["messages"], r["source"]) for r in rows] == [
        ("2023-05-15", 7, "rocketchat_analytics+rocketchat_message")
    ]


def test_no_message_text_is_stored_anywhere_in_the_lake(exports, tmp_path):
    damaged = write_ndjson(
        tmp_path / "more" / "rocketchat_message-damaged.json",
        [message("bad1", "GENERAL", "not a date"), json.dumps({"_id": "bad2", "msg": SECRET})],
    )
    lake = tmp_path / "lake"
    ingest([*exports.values(), damaged], lake, ZONE)
    seen = 0
    for path in lake.rglob("*"):
        if not path.is_file():
            continue
        seen += 1
        assert SECRET.encode() not in path.read_bytes(), path
        if path.suffix == ".parquet":  # compressed: read back every value
            assert SECRET not in json.dumps(pq.read_table(path).to_pylist(), default=str), path
    assert seen > 5
    stored = pq.read_table(next((lake / "chat_messages").rglob("*.parquet")))
    assert stored.column_names == ["_id", "rid", "ts", "t", "sender"]


def test_a_mongodump_gives_the_same_lake_as_the_export(exports, tmp_path):
    dump = tmp_path / "dump" / "rocketchat_message.bson"
    dump.parent.mkdir()
    dump.write_bytes(b"".join(bsonjs.loads(json.dumps(m)) for m in MESSAGES))
    one, two = tmp_path / "one", tmp_path / "two"
    ingest([exports["messages"]], one, ZONE)
    ingest([dump], two, ZONE)
    for table in ("chat_messages", "room_daily"):
        a = sorted(p.relative_to(one).as_posix() for p in (one / table).rglob("*.parquet"))
        b = sorted(p.relative_to(two).as_posix() for p in (two / table).rglob("*.parquet"))
        assert a == b and a  # named by content: the same bytes
    daily = pq.read_table(next((one / "room_daily").glob("date=2023-05-16/*.parquet"))).to_pylist()
    assert daily == [{"rid": "GENERAL", "messages": 0, "system": 1}, {"rid": "r-dev", "messages": 1, "system": 0}]


def test_a_later_export_upserts_by_id_and_a_rerun_changes_nothing(exports, filled, tmp_path):
    state = (filled / "_state.json").read_bytes()
    run = ingest([exports["messages"]], filled, ZONE, force=True)
    assert (filled / "_state.json").read_bytes() == state and run.stored == len(MESSAGES)
    later = write_ndjson(
        tmp_path / "later" / "rocketchat_message-2.json",
        [MESSAGES[0], MESSAGES[0], message("m11", "GENERAL", "2023-05-15T20:00:00.000Z")],
    )
    ingest([later], filled, ZONE)
    sent = messages_sent(filled, START, END)
    assert [d["messages"] for d in sent["days"]] == [1, 2, 1, 4]  # m1 not doubled, m11 new


def test_damaged_messages_are_rejected_with_a_reason_and_never_their_text(tmp_path):
    docs = [
        message("ok", "GENERAL", "2023-05-15T12:00:00.000Z"),
        json.dumps({"rid": "GENERAL", "ts": {"$date": "2023-05-15T12:00:00.000Z"}}),
        message("no-rid", "GENERAL", "2023-05-15T12:00:00.000Z") | {"rid": None},
        message("rid-number", "GENERAL", "2023-05-15T12:00:00.000Z") | {"rid": 7},
        message("no-ts", "GENERAL", "2023-05-15T12:00:00.000Z") | {"ts": None},
        message("bad-ts", "GENERAL", "yesterday"),
        message("u-text", "GENERAL", "2023-05-15T12:00:00.000Z") | {"u": "alice"},
        '{"_id": "cut", "msg": "' + SECRET,
    ]
    lake = tmp_path / "lake"
    run = ingest([write_ndjson(tmp_path / "rocketchat_message.json", docs)], lake, ZONE)
    assert (run.read, run.stored) == (8, 1)
    rejects = [json.loads(line) for line in Path(run.rejects_files[0]).read_text().splitlines()]
    assert [(r["line"], r["reason"], r.get("_id")) for r in rejects] == [
        (2, "no_id", None),
        (3, "no_rid", "no-rid"),
        (4, "wrong_type:rid", "rid-number"),
        (5, "no_ts", "no-ts"),
        (6, "bad_date:ts", "bad-ts"),
        (7, "wrong_type:u", "u-text"),
        (8, "bad_json", None),
    ]
    assert SECRET not in Path(run.rejects_files[0]).read_text()


def test_a_damaged_dump_keeps_every_whole_message_and_reports_the_rest(tmp_path):
    raw = [bsonjs.loads(json.dumps(m)) for m in MESSAGES[:3]]
    dump = tmp_path / "rocketchat_message.bson"
    dump.write_bytes(raw[0] + raw[1] + raw[2][:40])  # the last one cut short
    run = ingest([dump], tmp_path / "lake", ZONE)
    assert (run.read, run.stored, dict(run.rejected)) == (3, 2, {"truncated_bson": 1})


def test_messages_without_rooms_say_what_to_ingest(exports, tmp_path):
    lake = tmp_path / "lake"
    ingest([exports["messages"]], lake, ZONE)
    refused = run_cli("messages", "--lake", str(lake), "--from", "2023-05-15", "--to", "2023-05-18")
    assert refused.returncode == 2 and "rocketchat_room" in refused.stderr and "Traceback" not in refused.stderr


def test_the_tabs_through_a_real_server_answer_the_web_clients_requests(filled):
    token = run_cli("users", "add", "viewer", "--lake", str(filled)).stdout.splitlines()[-1]
    process, base = start_server(filled)
    try:
        import httpx

        auth = {"X-User-Id": "viewer", "X-Auth-Token": token}
        span = "start=2023-05-15T03:00:00.000Z&end=2023-05-18T03:00:00.000Z"
        prefix = f"{base}/api/v1/engagement-dashboard"
        got = httpx.get(f"{prefix}/messages/messages-sent?{span}", headers=auth, timeout=30).json()
        assert got["period"] == {"count": 7, "variation": 7}
        got = httpx.get(f"{prefix}/messages/origin?{span}", headers=auth, timeout=30).json()
        assert got == messages_origin(filled, START, END)
        got = httpx.get(f"{prefix}/channels/list?{span}&offset=0&count=25", headers=auth, timeout=30).json()
        assert [c["room"]["_id"] for c in got["channels"]] == ["GENERAL", "ab", "r-dev"]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_weeks_page_and_email_say_when_messages_were_counted_from_the_messages(filled, tmp_path):
    from pipelines.publish import mail, report

    context = report.week_context(filled, dt.date(2023, 5, 18), today=dt.date(2023, 6, 1))
    section = context["messages"]
    assert [d["messages"] for d in section["days"]] == [0, 0, 0, 0, 3, 1, 2, 1]  # 11..18 May, local days
    assert section["filled"] and [r["name"] for r in section["top"]][:1] == ["general"]
    page = report.render_page(context)
    _, html, text = mail.render_email(context)
    assert 'id="messages-source"' in page and 'id="messages-source"' in html and "fill rule" in text
    # only analytics documents: nothing to say
    analytics_only = tmp_path / "analytics-only"
    ingest([write_ndjson(tmp_path / "a" / "rocketchat_analytics.json", ANALYTICS)], analytics_only, ZONE)
    plain = report.week_context(analytics_only, dt.date(2023, 5, 18), today=dt.date(2023, 6, 1))
    assert plain["messages"]["filled"] is False and 'id="messages-source"' not in report.render_page(plain)


def test_query_reads_the_messages_tables_with_their_dates(filled):
    rows = run_cli(
        "query",
        "--lake",
        str(filled),
        "--format",
        "json",
        "select date, rid, messages, system from room_daily where date = '2023-05-16' order by rid",
    )
    assert json.loads(rows.stdout) == [
        {"date": "2023-05-16", "rid": "GENERAL", "messages": 0, "system": 1},
        {"date": "2023-05-16", "rid": "r-dev", "messages": 1, "system": 0},
    ]
    count = run_cli("query", "--lake", str(filled), "--format", "csv", "select count(*) as n from chat_messages")
    assert count.stdout.splitlines() == ["n", str(len(MESSAGES))]


def test_status_counts_the_days_the_messages_cover(filled):
    shown = run_cli("status", "--lake", str(filled)).stdout
    assert "messages: 1 analytics documents, 4 rooms; rocketchat_message on 4 days (2023-05-15 .. 2023-05-18)" in shown


def test_a_dump_folder_with_rooms_and_messages_is_read_and_its_metadata_left_alone(tmp_path):
    import gzip

    folder = tmp_path / "dump" / "rocketchat"
    folder.mkdir(parents=True)
    for name, docs in (("rocketchat_message", MESSAGES), ("rocketchat_room", ROOMS)):
        with gzip.open(folder / f"{name}.bson.gz", "wb") as out:
            out.write(b"".join(bsonjs.loads(json.dumps(d)) for d in docs))
        with gzip.open(folder / f"{name}.metadata.json.gz", "wb") as out:
            out.write(json.dumps({"indexes": [], "collectionName": name}).encode())
    (folder / "rocketchat_message_read_receipt.bson").write_bytes(bsonjs.loads('{"_id": "r1"}'))
    lake = tmp_path / "lake"
    run = ingest([tmp_path / "dump"], lake, ZONE)
    assert (run.files, run.read, run.stored) == (2, len(MESSAGES) + len(ROOMS), len(MESSAGES) + len(ROOMS))
    assert any("rocketchat_message_read_receipt.bson: a collection this tool does not read" in n for n in run.notes)
    # no analytics: the 18th counts both its messages, 3 + 2 in all
    assert messages_origin(lake, START, END)["origins"][0] == {"t": "c", "messages": 5}


_ROOMS = ("GENERAL", "r-dev", "ab")


def _generated():
    from hypothesis import strategies as st

    moment = st.integers(min_value=0, max_value=3 * 86_400_000 - 1).map(
        lambda ms: dt.datetime(2023, 5, 15, tzinfo=dt.timezone.utc) + dt.timedelta(milliseconds=ms)
    )
    one = st.tuples(st.integers(0, 30), st.sampled_from(_ROOMS), moment, st.booleans())
    return st.lists(one, min_size=1, max_size=40)


def _doc(n: int, rid: str, ts: dt.datetime, system: bool) -> dict:
    doc = message(f"m{n}", rid, ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z")
    return doc | {"t": "uj"} if system else doc


def test_room_daily_is_the_plain_count_of_the_latest_versions_whatever_the_messages(tmp_path_factory):
    """Generated messages (repeated _ids: the later line wins; system messages; days cut by the zone):
    room_daily equals a plain count, and a mongodump of them gives the same files."""
    from zoneinfo import ZoneInfo

    from hypothesis import HealthCheck, given, settings

    @settings(
        max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(_generated())
    def check(rows):
        folder = tmp_path_factory.mktemp("generated")
        # a message's ts is fixed: a repeated _id repeats its first ts (a later export's version)
        first_ts = {}
        docs = []
        for n, rid, ts, system in rows:
            ts = first_ts.setdefault(n, ts)
            docs.append(_doc(n, rid, ts, system))
        latest = {d["_id"]: d for d in docs}  # the later line wins
        expected: dict[tuple[str, str], list[int]] = {}
        for d in latest.values():
            moment = dt.datetime.fromisoformat(d["ts"]["$date"].replace("Z", "+00:00"))
            key = (moment.astimezone(ZoneInfo(ZONE)).date().isoformat(), d["rid"])
            counts = expected.setdefault(key, [0, 0])
            counts[1 if "t" in d else 0] += 1
        export = write_ndjson(folder / "rocketchat_message.json", docs)
        dump = folder / "dump" / "rocketchat_message.bson"
        dump.parent.mkdir()
        dump.write_bytes(b"".join(bsonjs.loads(json.dumps(d)) for d in docs))
        one, two = folder / "one", folder / "two"
        ingest([export], one, ZONE)
        ingest([dump], two, ZONE)
        got = {}
        for path in (one / "room_daily").rglob("*.parquet"):
            date = path.parent.name.removeprefix("date=")
            for row in pq.read_table(path).to_pylist():
                got[(date, row["rid"])] = [row["messages"], row["system"]]
        assert got == expected
        files = [sorted(p.relative_to(lake).as_posix() for p in lake.rglob("*.parquet")) for lake in (one, two)]
        assert files[0] == files[1]

    check()
