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
    {"_id": "ab", "t": "d", "usernames": ["alice", "bob"], "msgs": 1},  # no name: no `name` key
    {"_id": "lc", "t": "l", "name": "visitor-1", "msgs": 1},
    # (room "gone" was deleted: its messages are not counted)
]
MESSAGES = [
    message("m1", "GENERAL", "2023-05-15T12:00:00.000Z"),
    message("m2", "GENERAL", "2023-05-15T13:00:00.000Z"),
    message("m3", "GENERAL", "2023-05-16T02:00:00.000Z"),  # the 16th in UTC, 23:00 on the 15th locally
    message("m4", "GENERAL", "2023-05-16T12:00:00.000Z", t="uj"),  # a system message: never counted
    message("m5", "r-dev", "2023-05-16T12:00:00.000Z"),
    message("m6", "ab", "2023-05-17T12:00:00.000Z"),
    message("m7", "lc", "2023-05-17T12:00:00.000Z"),  # livechat: the fill counts every room type
    message("m8", "gone", "2023-05-17T12:00:00.000Z"),  # its room is gone: not counted
    message("m9", "GENERAL", "2023-05-18T12:00:00.000Z"),
    message("m10", "GENERAL", "2023-05-18T13:00:00.000Z"),
    message("m11", "lc", "2023-05-19T12:00:00.000Z"),  # livechat only, inside the analytics' span
    message("m12", "GENERAL", "2023-05-20T12:00:00.000Z"),
]


def general_documents(dates: list[int], messages: int) -> list[dict]:
    """GENERAL's "messages" analytics documents, one per date (yyyyMMdd), each with `messages`."""
    room = {"_id": "GENERAL", "name": "general", "t": "c", "usernames": []}
    return [{"_id": f"a{d}", "type": "messages", "date": d, "room": room, "messages": messages} for d in dates]


ANALYTICS = general_documents([20230518, 20230520], 1)
# start and end: local midnight of the 15th and of the 20th (UTC-3): dates 15..20, n = 6.
# Worked out by hand. The analytics' span is 18..20 (its first and last documents): there they alone
# answer, 18 -> 1 (one of its two messages was deleted after Rocket.Chat counted it), 19 -> nothing
# (livechat only: never counted live, and no document), 20 -> 1. Before it the messages answer by
# Rocket.Chat's fill, by UTC day: 15 -> GENERAL 2 (m1, m2); 16 -> GENERAL 1 (m3) + r-dev 1;
# 17 -> ab 1 + lc 1 (m8's room is gone). By the lake's local day instead: 15 -> 3, 16 -> 1, 17 -> 2.
START, END = dt.datetime(2023, 5, 15, 3, tzinfo=dt.timezone.utc), dt.datetime(2023, 5, 20, 3, tzinfo=dt.timezone.utc)


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


def test_the_analytics_span_decides_and_the_fill_counts_utc_days_outside_it(filled):
    sent = messages_sent(filled, START, END)
    assert [(d["day"][:10], d["messages"]) for d in sent["days"]] == [
        ("2023-05-20", 1),
        ("2023-05-18", 1),
        ("2023-05-17", 2),
        ("2023-05-16", 2),
        ("2023-05-15", 2),
    ]
    assert sent["period"] == {"count": 8, "variation": 8}  # nothing before the 15th
    assert sent["yesterday"] == {"count": 0, "variation": 1}  # the 19th: livechat only, nothing counted
    assert messages_origin(filled, START, END)["origins"] == [
        {"t": "c", "messages": 5},
        {"t": "d", "messages": 1},
        {"t": "l", "messages": 1},  # the 17th's, by the fill; not the 19th's, inside the span
        {"t": "p", "messages": 1},
    ]
    assert top_five_popular_channels(filled, START, END)["channels"] == [
        {"t": "c", "messages": 5, "name": "general", "usernames": []},
        {"t": "d", "messages": 1, "usernames": ["alice", "bob"]},  # no name: no key, as Rocket.Chat's
        {"t": "l", "messages": 1, "name": "visitor-1", "usernames": []},
        {"t": "p", "messages": 1, "name": "Development", "usernames": []},
    ]
    listed = channels_list(filled, START, END)
    assert [(c["room"]["_id"], c["messages"], c["lastWeekMessages"]) for c in listed["channels"]] == [
        ("GENERAL", 5, 0),
        ("ab", 1, 0),
        ("r-dev", 1, 0),
    ]
    assert [c["room"].get("name", "(no key)") for c in listed["channels"]] == ["general", "(no key)", "dev"]
    assert listed["total"] == 3


def test_the_lakes_local_day_is_a_setting_away(filled, monkeypatch):
    monkeypatch.setenv("ENGAGEMENT_MESSAGES_FILL_DAY", "local")
    sent = messages_sent(filled, START, END)
    assert [d["messages"] for d in sent["days"]] == [1, 1, 2, 1, 3]  # 20, 18, 17, 16, 15
    span = ("--from", "2023-05-15", "--to", "2023-05-20")
    local = run_cli(
        "messages", "--lake", str(filled), *span, "--format", "csv", env={"ENGAGEMENT_MESSAGES_FILL_DAY": "local"}
    )
    assert local.stdout.splitlines()[1] == "2023-05-15,3,false,rocketchat_message"
    refused = run_cli("messages", "--lake", str(filled), *span, env={"ENGAGEMENT_MESSAGES_FILL_DAY": "noon"})
    assert refused.returncode == 2 and refused.stderr == (
        "engagement messages: error: ENGAGEMENT_MESSAGES_FILL_DAY must be utc or local, not 'noon'\n"
    )


def test_explain_and_the_messages_command_say_which_source_answered(filled):
    def explained(day: str) -> list[tuple]:
        answer = run_cli("explain", "--lake", str(filled), "--date", day, "--messages", "--format", "json")
        return [(r["room_id"], r["messages"], r["source"]) for r in json.loads(answer.stdout)]

    assert explained("2023-05-15") == [("GENERAL", 2, "rocketchat_message")]
    assert explained("2023-05-18") == [("GENERAL", 1, "rocketchat_analytics")]
    assert explained("2023-05-19") == []  # inside the span: no document, nothing counted
    week = ("messages", "--lake", str(filled), "--from", "2023-05-15", "--to", "2023-05-21", "--every", "week")
    rows = json.loads(run_cli(*week, "--format", "json").stdout)
    assert [(r["period_start"], r["messages"], r["source"]) for r in rows] == [
        ("2023-05-15", 8, "rocketchat_analytics+rocketchat_message")
    ]


# A lake with a year of messages and Rocket.Chat's analytics for its last two weeks, in a zone far
# east of UTC (+05:30). Each day D of 1 May 2022 .. 30 April 2023 has k(D) = D's day of the month
# mod 3, plus 1, messages, all at 20:00 UTC: 01:30 the next day locally. So by UTC day D counts
# k(D); by local day, D counts k(D - 1). The analytics: 7 messages a day, 17..30 April 2023.
YEAR_ZONE = "Asia/Kolkata"
YEAR = [dt.date(2022, 5, 1) + dt.timedelta(days=i) for i in range(365)]


def _k(day: dt.date) -> int:
    return day.day % 3 + 1


@pytest.fixture(scope="module")
def a_year(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("year")
    docs = [
        message(f"y{day:%Y%m%d}-{i}", "GENERAL", f"{day.isoformat()}T20:00:00.000Z")
        for day in YEAR
        for i in range(_k(day))
    ]
    analytics = general_documents([20230400 + day for day in range(17, 31)], 7)
    lake = folder / "lake"
    files = [
        write_ndjson(folder / "rocketchat_message.json", docs),
        write_ndjson(folder / "rocketchat_room.json", ROOMS[:1]),
        write_ndjson(folder / "rocketchat_analytics.json", analytics),
    ]
    ingest(files, lake, YEAR_ZONE)
    return lake


def test_a_year_of_messages_meets_two_weeks_of_analytics(a_year, monkeypatch):
    from pipelines.metrics.messages import by_period

    # 10..23 April (local midnights, +05:30): the fill by UTC day for 10..16, k = 2 3 1 2 3 1 2;
    # the analytics for 17..23
    start = dt.datetime(2023, 4, 9, 18, 30, tzinfo=dt.timezone.utc)
    end = dt.datetime(2023, 4, 22, 18, 30, tzinfo=dt.timezone.utc)
    days = [d["messages"] for d in messages_sent(a_year, start, end)["days"]]
    assert days == [7] * 7 + [2, 1, 3, 2, 1, 3, 2]  # 23 .. 10, latest first
    months = by_period(a_year, dt.date(2022, 5, 1), dt.date(2023, 5, 31), "month").to_pylist()
    # May 2022: ten days of k = 1 (3, 6 .. 30), eleven of 2 (1, 4 .. 31), ten of 3 (2, 5 .. 29): 62.
    # April 2023: 1..16 by the fill (5 x 1 + 6 x 2 + 5 x 3 = 32), 17..30 by the analytics (98): 130.
    by_month = {r["period_start"].isoformat(): (r["messages"], r["source"]) for r in months}
    assert by_month["2022-05-01"] == (62, "rocketchat_message")
    assert by_month["2023-04-01"] == (130, "rocketchat_analytics+rocketchat_message")
    assert "2023-05-01" not in by_month  # the last message is 30 April in UTC
    assert sum(n for n, _ in by_month.values()) == sum(_k(d) for d in YEAR if d < dt.date(2023, 4, 17)) + 98
    monkeypatch.setenv("ENGAGEMENT_MESSAGES_FILL_DAY", "local")
    local = by_period(a_year, dt.date(2022, 5, 1), dt.date(2023, 5, 31), "month").to_pylist()
    by_month = {r["period_start"].isoformat(): r["messages"] for r in local}
    # May 2022 by local day: the 1st has none (the first message is 01:30 on the 2nd), 2..31 k(1..30): 60;
    # 1 May 2023 has the last one, 30 April's at 01:30 (k = 1), after the analytics' span
    assert (by_month["2022-05-01"], by_month["2023-05-01"]) == (60, 1)


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
    daily = pq.read_table(next((one / "room_daily").glob("date=2023-05-15/*.parquet"))).to_pylist()
    assert daily == [  # the local 15th: m1 and m2 of the UTC 15th, m3 of the UTC 16th
        {"rid": "GENERAL", "utc_date": dt.date(2023, 5, 15), "messages": 2, "system": 0},
        {"rid": "GENERAL", "utc_date": dt.date(2023, 5, 16), "messages": 1, "system": 0},
    ]


def test_a_later_export_upserts_by_id_and_a_rerun_changes_nothing(exports, filled, tmp_path):
    state = (filled / "_state.json").read_bytes()
    run = ingest([exports["messages"]], filled, ZONE, force=True)
    assert (filled / "_state.json").read_bytes() == state and run.stored == len(MESSAGES)
    later = write_ndjson(
        tmp_path / "later" / "rocketchat_message-2.json",
        [MESSAGES[0], MESSAGES[0], message("m13", "GENERAL", "2023-05-15T20:00:00.000Z")],
    )
    ingest([later], filled, ZONE)
    sent = messages_sent(filled, START, END)
    assert [d["messages"] for d in sent["days"]] == [1, 1, 2, 2, 3]  # m1 not doubled, m13 new


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
        span = "start=2023-05-15T03:00:00.000Z&end=2023-05-20T03:00:00.000Z"
        prefix = f"{base}/api/v1/engagement-dashboard"
        got = httpx.get(f"{prefix}/messages/messages-sent?{span}", headers=auth, timeout=30).json()
        assert got == messages_sent(filled, START, END) and got["period"] == {"count": 8, "variation": 8}
        got = httpx.get(f"{prefix}/messages/top-five-popular-channels?{span}", headers=auth, timeout=30).json()
        assert got["channels"][1] == {"t": "d", "messages": 1, "usernames": ["alice", "bob"]}
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
    assert [d["messages"] for d in section["days"]] == [0, 0, 0, 0, 2, 2, 2, 1]  # 11..18 May
    assert section["filled"] and [r["name"] for r in section["top"]][:1] == ["general"]
    page = report.render_page(context)
    _, html, text = mail.render_email(context)
    assert 'id="messages-source"' in page and 'id="messages-source"' in html and "fill rule" in text
    assert all("each message on its UTC day" in body for body in (page, html, text))
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
        "select date, rid, utc_date, messages, system from room_daily where date = '2023-05-16' order by rid",
    )
    assert json.loads(rows.stdout) == [
        {"date": "2023-05-16", "rid": "GENERAL", "utc_date": "2023-05-16", "messages": 0, "system": 1},
        {"date": "2023-05-16", "rid": "r-dev", "utc_date": "2023-05-16", "messages": 1, "system": 0},
    ]
    count = run_cli("query", "--lake", str(filled), "--format", "csv", "select count(*) as n from chat_messages")
    assert count.stdout.splitlines() == ["n", str(len(MESSAGES))]


def test_status_counts_the_days_the_messages_cover(filled):
    shown = run_cli("status", "--lake", str(filled)).stdout
    assert "messages: 2 analytics documents, 4 rooms; rocketchat_message on 6 days (2023-05-15 .. 2023-05-20)" in shown


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
    # no analytics: the messages answer every day, the 18th's two included: m1, m2, m3, m9, m10, m12
    assert messages_origin(lake, START, END)["origins"][0] == {"t": "c", "messages": 6}


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
    room_daily equals a plain count per local day, room and UTC date, and a mongodump of them gives
    the same files."""
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
        expected: dict[tuple[str, str, dt.date], list[int]] = {}
        for d in latest.values():
            moment = dt.datetime.fromisoformat(d["ts"]["$date"].replace("Z", "+00:00"))
            key = (moment.astimezone(ZoneInfo(ZONE)).date().isoformat(), d["rid"], moment.date())
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
                got[(date, row["rid"], row["utc_date"])] = [row["messages"], row["system"]]
        assert got == expected
        files = [sorted(p.relative_to(lake).as_posix() for p in lake.rglob("*.parquet")) for lake in (one, two)]
        assert files[0] == files[1]

    check()
