"""`engagement forget`: a person erased from every file of the lake, worked out by hand on each table
and on rejects; every endpoint body the same before and after (but for the pseudonyms); a re-ingest
brings nobody back; a kill at any point leaves the lake before or after, and a rerun converges."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_cli, session, user_daily, write_ndjson

from pipelines.ingest.run import ingest
from pipelines.lake.forgetting import PSEUDONYM_PREFIX
from pipelines.lake.state import read_state
from pipelines.metrics import activity, channels, messages, new_users, weekly

UTC = dt.timezone.utc
GONE, STAYS = "kAz8wQx2ForgetMe1", "Lr4pStaysHere0002"  # user ids: the one forgotten, one who stays
NAME, OTHER = "bobby.tables", "alice"  # their usernames


def _ts(day: int, hour: int) -> dict:
    return {"$date": f"2023-05-{day:02d}T{hour:02d}:00:00.000Z"}


def _exports(folder: Path) -> list[Path]:
    """Sessions (and a rollup) of both, messages they sent, rooms with a direct message between them,
    an analytics document of it, their accounts; and a damaged line naming the forgotten one."""
    sessions = [session(f"s{d}", GONE, f"2023-05-{d}T10:00:00.000Z", f"2023-05-{d}T11:30:00.000Z") for d in (15, 16)]
    sessions += [session(f"t{d}", STAYS, f"2023-05-{d}T09:00:00.000Z", f"2023-05-{d}T10:00:00.000Z") for d in (16, 17)]
    sessions.append(user_daily(GONE, 2023, 5, 17))
    damaged = json.dumps({"_id": "bad1", "type": "session", "userId": GONE, "loginAt": {"$date": "yesterday"}})
    rooms = [
        {"_id": "GENERAL", "t": "c", "name": "general"},
        {"_id": "dm", "t": "d", "usernames": [OTHER, NAME]},
    ]
    sent = [
        {"_id": "m1", "rid": "GENERAL", "ts": _ts(15, 12), "msg": "hi", "u": {"_id": GONE, "username": NAME}},
        {"_id": "m2", "rid": "dm", "ts": _ts(16, 12), "msg": "yo", "u": {"_id": GONE, "username": NAME}},
        {"_id": "m3", "rid": "dm", "ts": _ts(16, 13), "msg": "ok", "u": {"_id": STAYS, "username": OTHER}},
    ]
    analytics = [
        {
            "_id": "a17",
            "type": "messages",
            "date": 20230517,
            "room": {"_id": "dm", "t": "d", "usernames": [OTHER, NAME]},
            "messages": 2,
        }
    ]
    accounts = [
        {"_id": GONE, "username": NAME, "createdAt": _ts(14, 8), "roles": ["user"]},
        {"_id": STAYS, "username": OTHER, "createdAt": _ts(16, 8), "roles": ["user"]},
    ]
    return [
        write_ndjson(folder / "rocketchat_sessions.json", [*sessions, damaged]),
        write_ndjson(folder / "rocketchat_room.json", rooms),
        write_ndjson(folder / "rocketchat_message.json", sent),
        write_ndjson(folder / "rocketchat_analytics.json", analytics),
        write_ndjson(folder / "users.json", accounts),
    ]


def bodies(root: Path) -> dict[str, dict]:
    """Every Users, Messages and Channels endpoint body over several ranges."""
    out: dict[str, dict] = {}
    for first, last in [(14, 18), (15, 16), (17, 17)]:
        start, end = dt.datetime(2023, 5, first, tzinfo=UTC), dt.datetime(2023, 5, last, 23, 59, tzinfo=UTC)
        key = f"{first}-{last}"
        out[f"weekly {key}"] = weekly.weekly_data(root, end.date())
        out[f"active {key}"] = activity.active_users(root, start.date(), end.date())
        out[f"hourly {key}"] = activity.hourly_data(root, end)
        out[f"by-time {key}"] = activity.users_by_time(root, start, end)
        out[f"new {key}"] = new_users.new_users(root, start, end)
        out[f"sent {key}"] = messages.messages_sent(root, start, end)
        out[f"origin {key}"] = messages.messages_origin(root, start, end)
        out[f"top {key}"] = messages.top_five_popular_channels(root, start, end)
        out[f"channels {key}"] = channels.channels_list(root, start, end)
    return out


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def holding(folder: Path, *values: str) -> list[str]:
    """Files under `folder` that hold one of `values`: raw bytes, gzip opened, Parquet values read back."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        texts = [data.decode("utf-8", "replace")]
        if path.suffix == ".parquet":
            texts += _strings(pq.ParquetFile(path).read().to_pylist())
        if any(v in text for v in values for text in texts):
            found.append(str(path.relative_to(folder)))
    return found


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    ingest(_exports(tmp_path / "exports"), root, "UTC")
    return root


def _pseudonyms(root: Path) -> tuple[str, str]:
    """The forgotten id's and username's pseudonyms, as the lake now holds them."""
    state = read_state(root)  # the files it names (a killed write may leave superseded ones beside)
    ids = set(pq.read_table(root / state.files["user_daily"]["2023-05-15"])["userId"].to_pylist())
    rooms = pq.read_table(root / state.registrations["rooms"]).to_pylist()
    names = {n for r in rooms for n in (r["usernames"] or [])} - {OTHER}
    [pid], [pname] = ids, names
    return pid, pname


def _renamed(body: dict, pid: str, pname: str) -> dict:
    return json.loads(json.dumps(body).replace(f'"{GONE}"', f'"{pid}"').replace(f'"{NAME}"', f'"{pname}"'))


def test_forget_replaces_the_person_in_every_table_and_no_body_changes(lake, tmp_path):
    before = bodies(lake)
    # by hand: the forgotten person is active on 15, 16 (sessions) and 17 (Rocket.Chat's rollup)
    month = before["weekly 14-18"]["month"]
    assert [(d["day"], d["users"]) for d in month] == [(17, 2), (16, 2), (15, 1)]
    assert any(NAME in c["usernames"] for c in before["top 14-18"]["channels"])
    assert holding(lake, GONE) and holding(lake, NAME)

    done = run_cli("forget", GONE, "--username", NAME, "--lake", str(lake), "--out", str(lake.parent / "out"))
    assert done.returncode == 0, done.stderr
    assert GONE not in done.stdout + done.stderr and NAME not in done.stdout + done.stderr
    assert holding(lake, GONE, NAME) == []

    pid, pname = _pseudonyms(lake)
    assert pid.startswith(PSEUDONYM_PREFIX) and pname.startswith(PSEUDONYM_PREFIX) and pid != pname
    after = bodies(lake)
    assert after == {name: _renamed(body, pid, pname) for name, body in before.items()}
    # each table, by hand: the pseudonym where the person was, the other user untouched
    senders = pq.read_table(sorted(lake.glob("chat_messages/date=*/*.parquet"))[1])
    assert sorted(senders["sender"].to_pylist()) == sorted([pid, STAYS])
    accounts = pq.read_table(next(lake.glob("registrations/users-*.parquet")))
    assert sorted(accounts["_id"].to_pylist()) == sorted([pid, STAYS])
    room_docs = pq.read_table(next(lake.glob("registrations/messages-*.parquet")))
    assert room_docs["usernames"].to_pylist() == [[OTHER, pname]]
    [rejects] = (lake / "rejects").glob("*.jsonl")
    [reject] = [json.loads(line) for line in rejects.read_text().splitlines() if "bad1" in line]
    assert pid in reject["text"] and reject["reason"] == "bad_date:loginAt"

    # forgetting again changes nothing: the same bytes everywhere
    files = {p: p.read_bytes() for p in lake.rglob("*") if p.is_file() and p.name != ".lock"}
    assert (
        run_cli("forget", GONE, "--username", NAME, "--lake", str(lake), "--out", str(lake.parent / "out")).returncode
        == 0
    )
    assert {p: p.read_bytes() for p in lake.rglob("*") if p.is_file() and p.name != ".lock"} == files


def test_an_old_export_brings_nobody_back(lake, tmp_path):
    assert (
        run_cli("forget", GONE, "--username", NAME, "--lake", str(lake), "--out", str(lake.parent / "out")).returncode
        == 0
    )
    pid, pname = _pseudonyms(lake)
    forgotten = bodies(lake)
    again = _exports(tmp_path / "again")
    late = session("s18", GONE, "2023-05-18T09:00:00.000Z", "2023-05-18T10:00:00.000Z")
    damaged = '{"_id": "bad2", "userId": "' + GONE + '", "note": "' + NAME + '", '  # cut short
    write_ndjson(tmp_path / "again" / "late.json", [late, damaged])
    done = run_cli("ingest", *map(str, again), str(tmp_path / "again" / "late.json"), "--force", "--lake", str(lake))
    assert done.returncode == 0, done.stderr
    assert holding(lake, GONE, NAME) == []
    now = bodies(lake)
    # the old exports changed nothing; the new session of the 18th counts the same person, once
    assert (now["weekly 14-18"]["month"][0]["day"], now["weekly 14-18"]["month"][0]["users"]) == (18, 1)
    assert {k: v for k, v in now.items() if "18" not in k} == {k: v for k, v in forgotten.items() if "18" not in k}
    assert pq.read_table(next(lake.glob("user_daily/date=2023-05-18/*.parquet")))["userId"].to_pylist() == [pid]


def test_status_counts_the_forgotten_never_who(lake, tmp_path):
    assert (
        run_cli("forget", GONE, "--username", NAME, "--lake", str(lake), "--out", str(lake.parent / "out")).returncode
        == 0
    )
    shown = run_cli("status", "--lake", str(lake), "--out", str(tmp_path / "out"))
    assert "forgotten: 1 user id(s), 1 username(s)" in shown.stdout
    assert GONE not in shown.stdout and NAME not in shown.stdout


@pytest.mark.parametrize(
    "point", ["forget partitions placed", "partition placed", "forget rejects written", "state written"]
)
def test_a_kill_during_forget_leaves_before_or_after_and_the_rerun_converges(lake, point):
    before = bodies(lake)
    killed = run_cli(
        "forget", GONE, "--username", NAME, "--lake", str(lake), env={"ENGAGEMENT_CRASH_AT": point}, process=True
    )
    assert killed.returncode == -9, killed.stderr
    assert bodies(lake) in (before, _maybe_renamed(lake, before))
    assert (
        run_cli("forget", GONE, "--username", NAME, "--lake", str(lake), "--out", str(lake.parent / "out")).returncode
        == 0
    )
    assert holding(lake, GONE, NAME) == []
    pid, pname = _pseudonyms(lake)
    assert bodies(lake) == {name: _renamed(body, pid, pname) for name, body in before.items()}


def _maybe_renamed(root: Path, before: dict) -> dict:
    try:
        return {name: _renamed(body, *_pseudonyms(root)) for name, body in before.items()}
    except (ValueError, StopIteration):
        return before


def test_forget_mistakes_are_one_line(lake, tmp_path):
    nothing = run_cli("forget", "--lake", str(lake), "--out", str(lake.parent / "out"))
    assert nothing.returncode == 2 and nothing.stderr.count("\n") == 1 and "name at least one user id" in nothing.stderr
    missing = run_cli(
        "forget",
        GONE,
        "--from-file",
        str(tmp_path / "nope.txt"),
        "--lake",
        str(lake),
        "--out",
        str(lake.parent / "out"),
    )
    assert missing.returncode == 2 and "cannot read --from-file" in missing.stderr
    no_lake = run_cli("forget", GONE, "--lake", str(tmp_path / "none"))
    assert no_lake.returncode == 2 and "no lake at" in no_lake.stderr


def test_from_file_reads_ids_and_usernames(lake, tmp_path):
    listing = tmp_path / "people.txt"
    listing.write_text(f"# to forget\n{GONE}\n\n@{NAME}\n", encoding="utf-8")
    done = run_cli("forget", "--from-file", str(listing), "--lake", str(lake), "--out", str(lake.parent / "out"))
    assert done.returncode == 0, done.stderr
    assert "1 user id(s), 1 username(s)" in done.stdout
    assert holding(lake, GONE, NAME) == []


def test_replace_values_keeps_nulls_lists_and_the_rest():
    from pipelines.lake.forgetting import replace_values

    strings = pa.array(["a", None, "b", "a"])
    assert replace_values(strings, {"a": "x"}).to_pylist() == ["x", None, "b", "x"]
    assert replace_values(strings, {"z": "x"}) is strings
    lists = pa.array([["a", "b"], None, [], ["b", None]])
    assert replace_values(lists, {"b": "y"}).to_pylist() == [["a", "y"], None, [], ["y", None]]


def _eml_texts(path: Path) -> list[str]:
    import email
    from email import policy

    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    return [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]


def test_published_pages_and_emails_are_written_again_without_them(lake, tmp_path):
    from pipelines.publish import outputs

    out, outbox = tmp_path / "out", tmp_path / "outbox"
    end = dt.date(2023, 5, 17)
    outputs.write_week(lake, out, end)
    outputs.write_report(lake, out, end)
    outputs.write_index(out, lake)
    env = {"ENGAGEMENT_OUTBOX": str(outbox), "ENGAGEMENT_MAIL_TO": "boss@example.com"}
    sent = run_cli("send", "--start", "2023-05-17T23:59:59.999Z", "--lake", str(lake), "--out", str(out), env=env)
    assert sent.returncode == 0, sent.stderr
    [eml] = outbox.glob("*.eml")
    assert any(NAME in text for text in _eml_texts(eml))  # the direct-message room, by its users' names
    assert holding(out, NAME)
    week = (out / "weekly-data" / "2023-05-17.json").read_bytes()

    done = run_cli("forget", GONE, "--username", NAME, "--lake", str(lake), "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert holding(out, GONE, NAME) == [] and holding(outbox, GONE, NAME) == []
    assert not any(NAME in text or GONE in text for text in _eml_texts(eml))
    _, pname = _pseudonyms(lake)
    assert any(pname in text for text in _eml_texts(eml))
    assert (out / "weekly-data" / "2023-05-17.json").read_bytes() == week  # the same numbers
    # the rewritten email is still the published one: its run event names its new bytes, and who changed them
    said = run_cli("provenance", str(eml), "--out", str(out), "--format", "json", env=env)
    assert said.returncode == 0, said.stderr
    assert json.loads(said.stdout)["run"]["facets"]["engagement_amended"]["by"] == "engagement forget"
    status = run_cli("status", "--json", "--lake", str(lake), "--out", str(out), env=env)
    assert json.loads(status.stdout)["stale_outputs"] == []
